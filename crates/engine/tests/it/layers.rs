//! The engine's modules depend only downward, as the crate's documentation lays them out: each
//! module names (through `crate::`) only modules of a lower layer, so no two modules can import
//! each other in a circle. A new module must be given its layer here.

use std::collections::BTreeMap;
use std::path::Path;

/// The layers, lowest first.
const LAYERS: &[&[&str]] = &[
    // Vocabulary.
    &["error", "options"],
    &["event", "report"],
    // Pure state changes: no async, no client.
    &["step"],
    // Saving steps; reading the cloud; the delivery queue.
    &["ledger", "read", "queue"],
    // Obtaining a certificate from an ACME CA (it journals its order).
    &["acme"],
    // One apply's context.
    &["run"],
    // The operations.
    &["change", "wait", "import", "reconcile", "deliver"],
    // The whole apply.
    &["apply"],
];

fn layer(module: &str) -> Option<usize> {
    LAYERS.iter().position(|layer| layer.contains(&module))
}

/// Returns the modules a source file names through `crate::`, comments left out.
fn named_modules(source: &str) -> Vec<String> {
    let code: String = source
        .lines()
        .map(|line| line.split("//").next().unwrap_or(""))
        .collect::<Vec<_>>()
        .join("\n");
    let mut named = Vec::new();
    let mut rest = code.as_str();
    while let Some(at) = rest.find("crate::") {
        rest = &rest[at + "crate::".len()..];
        let paths: Vec<&str> = match rest.strip_prefix('{') {
            // `crate::{a::X, b}`: the first segment of each path in the group.
            Some(group) => group.split('}').next().unwrap_or("").split(',').collect(),
            None => vec![rest],
        };
        for path in paths {
            let name: String =
                path.trim().chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
            if !name.is_empty() {
                named.push(name);
            }
        }
    }
    named
}

/// Every source file of the engine but the crate root, by the top-level module it belongs to.
fn sources() -> BTreeMap<String, Vec<(String, String)>> {
    fn walk(dir: &Path, top: Option<&str>, out: &mut BTreeMap<String, Vec<(String, String)>>) {
        for entry in std::fs::read_dir(dir).expect("src is readable") {
            let path = entry.expect("entry").path();
            let stem = path.file_stem().and_then(|s| s.to_str()).expect("utf-8 name").to_owned();
            let module = top.map_or_else(|| stem.clone(), str::to_owned);
            if path.is_dir() {
                walk(&path, Some(&module), out);
            } else if path.extension().is_some_and(|e| e == "rs")
                && !(top.is_none() && stem == "lib")
            {
                let text = std::fs::read_to_string(&path).expect("source is readable");
                out.entry(module).or_default().push((path.display().to_string(), text));
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(&Path::new(env!("CARGO_MANIFEST_DIR")).join("src"), None, &mut out);
    out
}

#[test]
fn modules_depend_only_on_lower_layers() {
    let sources = sources();
    let mut wrong = Vec::new();
    for (module, files) in &sources {
        let Some(own) = layer(module) else {
            wrong
                .push(format!("module `{module}` has no layer: give it one in tests/it/layers.rs"));
            continue;
        };
        for (file, text) in files {
            for named in named_modules(text) {
                match layer(&named) {
                    Some(theirs) if theirs < own => {}
                    Some(_) => wrong.push(format!(
                        "{file}: `{module}` (layer {own}) uses `crate::{named}`, which is not below it"
                    )),
                    None => wrong.push(format!(
                        "{file}: `crate::{named}` is not a module: name the module that defines it"
                    )),
                }
            }
        }
    }
    for layer in LAYERS {
        for module in *layer {
            assert!(sources.contains_key(*module), "layers.rs names `{module}`, which is gone");
        }
    }
    assert!(
        wrong.is_empty(),
        "the engine's modules must depend only downward:\n{}",
        wrong.join("\n")
    );
}

#[test]
fn the_check_sees_every_form_of_a_crate_path() {
    let source = "use crate::ledger::Ledger;\nuse crate::{run::Run, step};\n// crate::apply\nlet x = crate::read::certificates(c);";
    assert_eq!(named_modules(source), ["ledger", "run", "step", "read"]);
}
