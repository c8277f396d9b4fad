//! The documentation is what the binary does: every `certplan` command that README.md and
//! docs/*.md show is given to the real binary's command-line parser (so a flag renamed or
//! dropped breaks this test, not a reader's script), and every `console` block is run, command
//! by command, against the embedded sandbox in a copy of examples/quickstart, and what each
//! prints is checked against the lines shown under it (`...` stands for what differs from run
//! to run: ids, dates, timings).

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::harness::{BIN, TIME_SCALE, run};

/// A fenced block of a page: its language and its lines.
struct Block {
    page: PathBuf,
    language: String,
    lines: Vec<String>,
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// README.md and every page of docs/.
fn pages() -> Vec<PathBuf> {
    let mut pages = vec![root().join("README.md")];
    let mut docs: Vec<PathBuf> = std::fs::read_dir(root().join("docs"))
        .expect("docs/")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
        .collect();
    docs.sort();
    pages.extend(docs);
    pages
}

fn blocks(page: &Path) -> Vec<Block> {
    let text = std::fs::read_to_string(page).expect("page");
    let mut blocks = Vec::new();
    let mut open: Option<Block> = None;
    for line in text.lines() {
        let fence = line.trim_start().strip_prefix("```");
        match (fence, open.take()) {
            (Some(_), Some(block)) => blocks.push(block),
            (Some(language), None) => {
                let language = language.trim().to_owned();
                open = Some(Block { page: page.to_owned(), language, lines: Vec::new() });
            }
            (None, Some(mut block)) => {
                block.lines.push(line.trim_start().to_owned());
                open = Some(block);
            }
            (None, None) => {}
        }
    }
    blocks
}

/// The arguments of a `certplan ...` line as a shell would pass them: quotes removed, a
/// trailing `# comment` and whatever follows a shell operator (`||`, `|`, `>`, `;`) dropped.
fn arguments(line: &str) -> Vec<String> {
    let line = line.split("  #").next().unwrap_or(line);
    let mut args = Vec::new();
    let mut word = String::new();
    let (mut quote, mut started) = (None::<char>, false);
    for c in line.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), c) => word.push(c),
            (None, '\'' | '"') => {
                quote = Some(c);
                started = true;
            }
            (None, ' ' | '\t') => {
                if started || !word.is_empty() {
                    args.push(std::mem::take(&mut word));
                }
                started = false;
            }
            (None, '|' | '>' | ';' | '&') => break,
            (None, c) => word.push(c),
        }
    }
    if started || !word.is_empty() {
        args.push(word);
    }
    // `certplan` itself.
    args.remove(0);
    args
}

/// The `certplan ...` commands of a block, with the lines shown under each in a console
/// block.
fn commands(block: &Block) -> Vec<(String, Vec<String>)> {
    let mut commands: Vec<(String, Vec<String>)> = Vec::new();
    for line in &block.lines {
        let command = line.strip_prefix("$ ").unwrap_or(line);
        if command.starts_with("certplan ") {
            commands.push((command.to_owned(), Vec::new()));
        } else if let Some((_, shown)) = commands.last_mut()
            && block.language == "console"
            && !line.starts_with("$ ")
        {
            shown.push(line.clone());
        }
    }
    commands
}

#[test]
fn every_command_the_docs_show_is_one_the_binary_takes() {
    let mut checked = 0;
    for page in pages() {
        for block in blocks(&page).iter().filter(|b| !matches!(b.language.as_str(), "hcl" | "json"))
        {
            for (line, _) in commands(block) {
                let mut args = arguments(&line);
                // A synopsis (`certplan [--chdir DIR] <COMMAND>`) shows a form, not a command.
                if args.iter().any(|a| a.starts_with('[') || a.starts_with('<')) {
                    continue;
                }
                args.push("--help".to_owned());
                let out = run({
                    let mut cmd = Command::new(BIN);
                    cmd.args(&args).current_dir(std::env::temp_dir());
                    cmd
                });
                assert_eq!(
                    out.code,
                    0,
                    "{}: `{line}` is not a command certplan takes:\n{}",
                    block.page.display(),
                    out.stderr
                );
                checked += 1;
            }
        }
    }
    assert!(checked > 40, "the pages show commands: only {checked} found");
}

#[test]
fn every_console_block_prints_what_the_docs_show() {
    let mut ran = 0;
    for page in pages() {
        let consoles: Vec<Block> =
            blocks(&page).into_iter().filter(|b| b.language == "console").collect();
        if consoles.is_empty() {
            continue;
        }
        // One project per page, its blocks run in order: they tell one story.
        let dir = tempfile::tempdir().expect("tempdir");
        let quickstart = root().join("examples/quickstart/main.hcl");
        std::fs::copy(quickstart, dir.path().join("main.hcl")).expect("copy example");
        for block in &consoles {
            for (line, shown) in commands(block) {
                let mut cmd = Command::new(BIN);
                cmd.arg("--chdir")
                    .arg(dir.path())
                    .args(arguments(&line))
                    .env("CERTPLAN_TIME_SCALE", TIME_SCALE)
                    .env_remove("CERTPLAN_ENDPOINT")
                    .env_remove("TENCENTCLOUD_SECRET_ID")
                    .env_remove("TENCENTCLOUD_SECRET_KEY");
                let out = run(cmd);
                let printed: Vec<&str> =
                    out.stdout.lines().chain(out.stderr.lines()).map(str::trim_end).collect();
                assert_eq!(out.code, 0, "{}: `{line}`:\n{}", page.display(), out.stderr);
                for expected in shown.iter().filter(|l| !l.trim().is_empty()) {
                    assert!(
                        printed.iter().any(|p| matches(expected.trim(), p.trim())),
                        "{}: `{line}` did not print\n  {expected}\nit printed:\n{}\n{}",
                        page.display(),
                        out.stdout,
                        out.stderr
                    );
                }
                ran += 1;
            }
        }
    }
    assert!(ran >= 7, "the sandbox page's walkthrough runs: {ran} commands ran");
}

/// Whether `line` is what `shown` shows, `...` standing for any text.
fn matches(shown: &str, line: &str) -> bool {
    let parts: Vec<&str> = shown.split("...").collect();
    let mut rest = line;
    for (i, part) in parts.iter().enumerate() {
        let found = if i == 0 { rest.strip_prefix(part).map(|r| (0, r)) } else { None };
        let found = found.or_else(|| rest.find(part).map(|at| (at, &rest[at + part.len()..])));
        match found {
            Some((at, after)) if i > 0 || at == 0 => rest = after,
            _ => return false,
        }
    }
    parts.last().is_some_and(|last| last.is_empty()) || rest.is_empty()
}

#[test]
fn the_wildcard_matches_what_differs_and_nothing_else() {
    assert!(matches("deployed ... to 1 of 1 resource", "deployed Ab12Cd34 to 1 of 1 resource"));
    assert!(matches("...  clb lb-1|lbl-1", "Ab12Cd34  clb lb-1|lbl-1"));
    assert!(matches("Renewal complete after ...", "Renewal complete after 0.1s [id=x]"));
    assert!(!matches("No changes.", "No changes. Your certificates match"));
    assert!(!matches("deployed ... to 2", "deployed x to 1"));
    assert_eq!(
        arguments("certplan plan -detailed-exitcode || [ $? -eq 2 ]"),
        ["plan", "-detailed-exitcode"]
    );
    assert_eq!(
        arguments("certplan sandbox bind www clb 'lb-1|lbl-1' --region x   # as in the console"),
        ["sandbox", "bind", "www", "clb", "lb-1|lbl-1", "--region", "x"]
    );
}
