//! `certplan fmt`: the examples are formatted and stay so, and formatting never changes what a
//! configuration means, whatever its spacing, line breaks and comments.

use certplan_parser::{Source, format_source, parse_sources};
use proptest::prelude::*;

fn format(name: &str, text: &str) -> String {
    format_source(&Source::new(name, text)).unwrap_or_else(|e| panic!("{}", e.render(false)))
}

#[test]
fn every_example_file_is_formatted_and_formatting_is_idempotent() {
    let examples = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples");
    let mut checked = 0;
    for dir in std::fs::read_dir(&examples).expect("examples/") {
        let dir = dir.expect("entry").path();
        let Ok(files) = std::fs::read_dir(&dir) else { continue };
        for file in files {
            let path = file.expect("entry").path();
            if !path.extension().is_some_and(|e| e == "hcl" || e == "tfvars") {
                continue;
            }
            let text = std::fs::read_to_string(&path).expect("read example");
            let formatted = format(&path.to_string_lossy(), &text);
            assert_eq!(formatted, text, "{} is not formatted", path.display());
            assert_eq!(format("again", &formatted), formatted, "{}", path.display());
            for comment in text.lines().filter(|l| l.trim_start().starts_with('#')) {
                assert!(formatted.contains(comment.trim()), "{}: {comment}", path.display());
            }
            checked += 1;
        }
    }
    assert!(checked >= 4, "every example's files: {checked}");
}

/// Where the generated text may have whitespace: an optional space, a required one, or (inside
/// brackets) a line break, possibly with a comment.
const SPACE: char = '\u{1}';
const BREAK: char = '\u{2}';
const GAP: char = '\u{3}';

fn number() -> impl Strategy<Value = String> {
    let leaf = prop_oneof![
        Just("1".to_owned()),
        Just("2.5".to_owned()),
        Just("10".to_owned()),
        Just("1e2".to_owned()),
        Just(format!("-{SPACE}3")),
    ];
    leaf.prop_recursive(3, 8, 2, |inner| {
        (inner.clone(), prop_oneof![Just("+"), Just("-"), Just("*")], inner)
            .prop_map(|(a, op, b)| format!("({SPACE}{a}{SPACE}{op}{SPACE}{b}{SPACE})"))
    })
}

fn list(items: Vec<String>) -> String {
    format!("[{BREAK}{}{BREAK}]", items.join(&format!(",{BREAK}")))
}

fn object(items: Vec<(String, String)>) -> String {
    let items: Vec<String> =
        items.into_iter().map(|(k, v)| format!("{k}{SPACE}={SPACE}{v}")).collect();
    format!("{{{BREAK}{}{BREAK}}}", items.join(&format!(",{BREAK}")))
}

/// Expressions that evaluate (mostly: a failure must fail the same way after formatting).
fn expression() -> impl Strategy<Value = String> {
    let leaf = prop_oneof![
        number(),
        Just(r#""plain""#.to_owned()),
        Just(r#""a  ${ 1 + 2 }  b""#.to_owned()),
        Just(r#""%{ if true }yes%{ endif }""#.to_owned()),
        Just("true".to_owned()),
        Just("null".to_owned()),
    ];
    leaf.prop_recursive(4, 40, 4, |inner| {
        let key = prop_oneof![Just("k1"), Just("k2"), Just("\"k 3\""), Just("k-4")];
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(list),
            prop::collection::vec((key, inner.clone()), 0..3).prop_map(|items| {
                let mut seen = std::collections::BTreeSet::new();
                object(
                    items
                        .into_iter()
                        .filter(|(k, _)| seen.insert(*k))
                        .map(|(k, v)| (k.to_owned(), v))
                        .collect(),
                )
            }),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!(
                "true{SPACE}?{SPACE}({a}){SPACE}:{SPACE}({b})"
            )),
            (inner.clone(), inner.clone())
                .prop_map(|(a, b)| format!("try({BREAK}{a},{BREAK}{b}{BREAK})")),
            inner.clone().prop_map(|a| format!("can({a})")),
            prop::collection::vec(inner.clone(), 1..3)
                .prop_map(|items| format!("length({})", list(items))),
            prop::collection::vec(number(), 1..3).prop_map(|items| format!(
                "[{SPACE}for{GAP}x{GAP}in{GAP}{}{SPACE}:{SPACE}x{SPACE}*{SPACE}2{SPACE}if{GAP}x{SPACE}>{SPACE}1{SPACE}]",
                list(items)
            )),
            inner.clone().prop_map(|v| format!(
                "{{{SPACE}for{GAP}k,{SPACE}v{GAP}in{GAP}{{a{SPACE}={SPACE}{v}}}{SPACE}:{SPACE}k{SPACE}=>{SPACE}v{SPACE}}}"
            )),
            inner.prop_map(|a| format!("[{a}][0]")),
        ]
    })
}

/// A configuration: locals holding the expressions, an output for each, comments and blank
/// lines around them.
fn configuration() -> impl Strategy<Value = String> {
    prop::collection::vec(expression(), 1..5).prop_map(|exprs| {
        let mut text = format!("# header{BREAK}\nlocals{GAP}{{\n");
        for (i, e) in exprs.iter().enumerate() {
            text += &format!("{SPACE}l{i}{SPACE}={SPACE}{e}{SPACE}# trailing {i}\n");
            if i % 2 == 1 {
                text += "\n";
            }
        }
        text += "}\n";
        for i in 0..exprs.len() {
            text += &format!(
                "output{GAP}\"o{i}\"{SPACE}{{\n{SPACE}value{SPACE}={SPACE}local.l{i}\n}}\n"
            );
        }
        text
    })
}

/// Fills the whitespace slots of generated text from `choices`; returns the text and the
/// comments it holds.
fn fill(template: &str, choices: &[u8]) -> (String, Vec<String>) {
    let mut out = String::new();
    let mut comments = Vec::new();
    let mut slot = 0;
    for c in template.chars() {
        let choice = usize::from(choices[slot % choices.len()]);
        match c {
            SPACE => out.push_str(["", " ", "  ", "\t"][choice % 4]),
            GAP => out.push_str([" ", "  ", "\t", "   "][choice % 4]),
            BREAK => match choice % 6 {
                0 => {}
                1 => out.push(' '),
                2 => out.push('\n'),
                3 => out.push_str("\n      "),
                _ => {
                    let comment = format!("# note {slot}");
                    out.push_str(&format!(" {comment}\n"));
                    comments.push(comment);
                }
            },
            c => {
                out.push(c);
                continue;
            }
        }
        slot += 1;
    }
    (out, comments)
}

/// Each output's value, or why it has none.
type Outputs = std::collections::BTreeMap<String, Result<hcl::Value, String>>;

/// What a configuration means: its outputs' values, or its errors' messages.
fn meaning(text: &str) -> Result<Outputs, Vec<String>> {
    match parse_sources(vec![Source::new("main.hcl", text)]) {
        Ok(config) => {
            Ok(config.evaluate_outputs(hcl::Value::Object(hcl::Map::new())).into_iter().collect())
        }
        Err(e) => Err(e.diagnostics.into_iter().map(|d| d.message).collect()),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn formatting_never_changes_what_a_configuration_means(
        template in configuration(),
        choices in prop::collection::vec(any::<u8>(), 1..64),
    ) {
        let (text, comments) = fill(&template, &choices);
        prop_assume!(hcl_edit::parser::parse_body(&text).is_ok());
        let formatted = format("main.hcl", &text);
        prop_assert_eq!(meaning(&formatted), meaning(&text), "{}\n--- formatted ---\n{}", text, formatted);
        prop_assert_eq!(format("main.hcl", &formatted), formatted.clone(), "idempotent");
        for comment in comments {
            prop_assert!(formatted.contains(&comment), "{} lost:\n{}", comment, formatted);
        }
    }
}
