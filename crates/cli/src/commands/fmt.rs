//! `certplan fmt`: rewrites configuration and variables files in the canonical style.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context as _;
use certplan_parser::{CONFIG_EXTENSION, Source, format_source, render_diagnostics};

use crate::settings::Output;
use crate::stdout::{out, outln};

/// What `certplan fmt` was asked to do.
pub struct FmtOptions {
    /// Files and directories; `-` is standard input (formatted to standard output).
    pub paths: Vec<PathBuf>,
    /// List the files that are not formatted and change nothing.
    pub check: bool,
    /// Show each change as a unified diff.
    pub diff: bool,
    /// Also format the directories inside the given ones.
    pub recursive: bool,
}

/// The exit status of `fmt --check` when a file is not formatted (Terraform's).
pub const UNFORMATTED: u8 = 3;

/// Formats every file `options` names. Files that cannot be read or parsed are reported and
/// left alone; the others are still formatted.
pub fn fmt(options: &FmtOptions, output: Output) -> anyhow::Result<ExitCode> {
    let mut files = Vec::new();
    let mut failed = false;
    let mut unformatted = false;
    for path in &options.paths {
        if path.as_os_str() == "-" {
            match format_stdin(options, output)? {
                Some(changed) => unformatted |= changed,
                None => failed = true,
            }
            continue;
        }
        match files_in(path, options.recursive) {
            Ok(found) => files.extend(found),
            Err(e) => {
                eprintln!("error: cannot read {}: {e}", path.display());
                failed = true;
            }
        }
    }
    for path in files {
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) => {
                eprintln!("error: cannot read {}: {e}", path.display());
                failed = true;
                continue;
            }
        };
        let source = Source::new(&path, text);
        let formatted = match format_source(&source) {
            Ok(formatted) => formatted,
            Err(e) => {
                eprint!("{}", render_diagnostics(&e.sources, &e.diagnostics, output.stderr_color));
                failed = true;
                continue;
            }
        };
        if formatted == source.text {
            continue;
        }
        unformatted = true;
        outln!("{}", path.display());
        if options.diff {
            out!("{}", diff(&path, &source.text, &formatted, output.stdout_color));
        }
        if !options.check
            && let Err(e) = replace(&path, &formatted)
        {
            eprintln!("error: cannot write {}: {e}", path.display());
            failed = true;
        }
    }
    Ok(if failed {
        ExitCode::from(1)
    } else if options.check && unformatted {
        ExitCode::from(UNFORMATTED)
    } else {
        ExitCode::SUCCESS
    })
}

/// Replaces the file at `path` (the file a link points to, not the link) atomically, keeping
/// its permissions.
fn replace(path: &Path, text: &str) -> std::io::Result<()> {
    let target = std::fs::canonicalize(path)?;
    let permissions = std::fs::metadata(&target)?.permissions();
    certplan_state::write_atomically_with_permissions(&target, text.as_bytes(), permissions)
}

/// Formats standard input to standard output (with `--check`, only says whether it is
/// formatted). Returns whether formatting changed it, or None when it is not valid HCL.
fn format_stdin(options: &FmtOptions, output: Output) -> anyhow::Result<Option<bool>> {
    let mut text = String::new();
    std::io::stdin().read_to_string(&mut text).context("cannot read standard input")?;
    let formatted = match format_source(&Source::new("<stdin>", text.as_str())) {
        Ok(formatted) => formatted,
        Err(e) => {
            eprint!("{}", render_diagnostics(&e.sources, &e.diagnostics, output.stderr_color));
            return Ok(None);
        }
    };
    if options.diff {
        out!("{}", diff(Path::new("<stdin>"), &text, &formatted, output.stdout_color));
    } else if !options.check {
        out!("{formatted}");
    }
    Ok(Some(formatted != text))
}

/// The files `fmt` formats: `path` itself if it is a file; in a directory, its configuration
/// (`*.hcl`) and variables (`*.tfvars`) files, in name order, then those of its
/// subdirectories when `recursive` (hidden ones, such as `.certplan`, skipped).
fn files_in(path: &Path, recursive: bool) -> std::io::Result<Vec<PathBuf>> {
    if !std::fs::metadata(path)?.is_dir() {
        return Ok(vec![path.to_owned()]);
    }
    // Names in the current directory are shown without "./".
    let name = |e: std::fs::DirEntry| {
        if path == Path::new(".") { PathBuf::from(e.file_name()) } else { e.path() }
    };
    let mut entries: Vec<PathBuf> =
        std::fs::read_dir(path)?.map(|e| e.map(name)).collect::<Result<_, _>>()?;
    entries.sort();
    let mut files = Vec::new();
    let mut dirs = Vec::new();
    for entry in entries {
        let hidden = entry.file_name().is_some_and(|n| n.to_string_lossy().starts_with('.'));
        if entry.is_dir() {
            if recursive && !hidden {
                dirs.push(entry);
            }
        } else if !hidden
            && entry.extension().is_some_and(|e| e == CONFIG_EXTENSION || e == "tfvars")
        {
            files.push(entry);
        }
    }
    for dir in dirs {
        files.extend(files_in(&dir, true)?);
    }
    Ok(files)
}

/// A unified diff of a file's formatting, coloured on terminals.
fn diff(path: &Path, before: &str, after: &str, color: bool) -> String {
    let name = path.display().to_string();
    let text = similar::TextDiff::from_lines(before, after)
        .unified_diff()
        .header(&name, &name)
        .to_string();
    if !color {
        return text;
    }
    text.lines()
        .map(|line| match line.as_bytes().first() {
            Some(b'+') if !line.starts_with("+++") => format!("\x1b[32m{line}\x1b[0m\n"),
            Some(b'-') if !line.starts_with("---") => format!("\x1b[31m{line}\x1b[0m\n"),
            Some(b'@') => format!("\x1b[36m{line}\x1b[0m\n"),
            _ => format!("{line}\n"),
        })
        .collect()
}
