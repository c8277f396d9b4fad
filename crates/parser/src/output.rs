//! `output "NAME" { value = EXPR  description = ".."  sensitive = bool }` blocks, read into
//! [`OutputConfig`]s.
//!
//! The value refers to what apply produces, so it is kept unevaluated here and evaluated by
//! [`Config::evaluate_outputs`](crate::Config::evaluate_outputs) after apply. What is checked
//! now: the block's shape, a name declared once, and that a value derived from a sensitive
//! variable is marked sensitive.

use std::collections::BTreeMap;

use hcl_edit::Span as _;
use hcl_edit::structure::Block;

use crate::reader::insert_once;
use crate::{Diagnostic, OutputConfig, Reader, Span, eval};

/// Reads an `output` block into `outputs`, reporting a name declared twice.
pub(crate) fn read(
    reader: &mut Reader<'_>,
    file: usize,
    block: &Block,
    outputs: &mut BTreeMap<String, (OutputConfig, Span)>,
) {
    let here = reader.header_span(file, block);
    if let Some((name, output)) = read_block(reader, file, block) {
        let message = format!("output \"{name}\" is declared twice");
        insert_once(reader, outputs, name, output, here, message, "rename one of them");
    }
}

/// Reads `output "NAME" { value = EXPR  description = ".."  sensitive = bool }`.
fn read_block(
    reader: &mut Reader<'_>,
    file: usize,
    block: &Block,
) -> Option<(String, OutputConfig)> {
    let here = reader.header_span(file, block);
    let [label] = block.labels.as_slice() else {
        reader.push(
            Diagnostic::error("an output block takes one label, its name")
                .at(here, "expected `output \"NAME\"`"),
        );
        return None;
    };
    // The value refers to what was applied, known only after apply: it is kept unevaluated.
    let mut args = eval::Arguments::read_with_references(
        reader,
        file,
        &block.body,
        &["description", "sensitive"],
        &["value"],
        &[],
    );
    let description = args.string(reader, "description").map(|(d, _)| d);
    let sensitive = args.boolean(reader, "sensitive").is_some_and(|(s, _)| s);
    let Some(value) = block.body.get_attribute("value") else {
        reader.push(
            Diagnostic::error(format!("output \"{}\" needs a value", label.as_str()))
                .at(here, "no value")
                .help("add `value = ...`, e.g. tencentcloud_ssl_free_certificate.www.id"),
        );
        return None;
    };
    if reader.sensitivity.taints(&value.value) && !sensitive {
        reader.push(
            Diagnostic::error(format!("output \"{}\" refers to sensitive values", label.as_str()))
                .at(reader.span(file, value.value.span()), "derived from a sensitive variable")
                .help("add `sensitive = true` to the output: it is then shown only when asked for by name"),
        );
        return None;
    }
    let output = OutputConfig {
        value: value.value.clone(),
        description,
        sensitive,
        location: reader.location(&here),
    };
    Some((label.as_str().to_owned(), output))
}
