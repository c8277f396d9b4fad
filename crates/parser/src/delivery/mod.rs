//! A resource's `deploy` and `export` blocks: where each new certificate goes once issued.
//! `deploy` names the Tencent Cloud resources that take the new certificate over from the one
//! it replaces (the resource types of `UpdateCertificateInstance`, with regions for the
//! region-scoped ones); `export` names a directory of this machine that the PEM files are
//! written to, and a command to run when they change.
//!
//! This module reads and checks what is declared, into [`certplan_core::Delivery`], per
//! resource instance — one module per target, `deploy` and `export` (whose [`ExportPaths`]
//! finds two instances exporting to one directory across the configuration). It deploys
//! nothing, writes no file and runs no command.

mod deploy;
mod export;

pub(crate) use export::ExportPaths;

use std::collections::BTreeMap;
use std::path::PathBuf;

use certplan_core::{Delivery, EXPORT_FILES};
use hcl_edit::Span as _;
use hcl_edit::expr::{Expression, ObjectKey};
use hcl_edit::structure::Block;

use crate::{Diagnostic, Reader, Span, blocks};

/// Reads the `deploy` and `export` blocks of one resource instance, with `count`/`each`
/// already in the context. Returns the delivery, and where each export's `path` is written
/// (in the order of `exports`).
pub(crate) fn read(reader: &mut Reader<'_>, file: usize, block: &Block) -> (Delivery, Vec<Span>) {
    let mut delivery = Delivery::default();
    for inner in blocks(&block.body, "deploy") {
        if let Some(target) = deploy::read(reader, file, inner) {
            // Every block goes into one deployment: the API runs one deployment task per
            // certificate at a time, so a task per block would wait for, or be refused
            // because of, the one before it.
            match &mut delivery.deploy {
                Some(deploy) => deploy.merge(target),
                None => delivery.deploy = Some(target),
            }
        }
    }
    let mut export_spans: Vec<Span> = Vec::new();
    let mut seen: BTreeMap<PathBuf, Span> = BTreeMap::new();
    for inner in blocks(&block.body, "export") {
        let Some((export, here)) = export::read(reader, file, inner) else { continue };
        let place = export::same_place(&export.path);
        if let Some(first) = seen.get(&place) {
            reader.push(Diagnostic::duplicate(
                format!("two export blocks write to \"{}\"", export.path.display()),
                here,
                first.clone(),
                &format!(
                    "each export writes {} into a directory of its own: remove one block, or give it another path",
                    EXPORT_FILES.join(", ")
                ),
            ));
            continue;
        }
        seen.insert(place, here.clone());
        delivery.exports.push(export);
        export_spans.push(here);
    }
    (delivery, export_spans)
}

/// Reports a list element given twice: at both when the list is written out, else at the list.
pub(super) fn listed_twice(message: String, again: Span, first: Span) -> Diagnostic {
    if again == first {
        return Diagnostic::error(message)
            .at(again, "in this list")
            .help("remove the duplicate; toset(...) removes those of a computed list");
    }
    Diagnostic::duplicate(message, again, first, "remove one of them")
}

pub(super) fn value_of<'b>(block: &'b Block, name: &str) -> Option<&'b Expression> {
    block.body.get_attribute(name).map(|attr| &attr.value)
}

/// Spans each of the `n` elements of a list: each element when the list is written out as
/// `[a, b]`, else the whole value (the elements of a computed list have no place of their own).
pub(super) fn element_spans(
    reader: &Reader<'_>,
    file: usize,
    expr: Option<&Expression>,
    whole: &Span,
    n: usize,
) -> Vec<Span> {
    match expr {
        Some(Expression::Array(items)) if items.len() == n => {
            items.iter().map(|item| reader.span(file, item.span())).collect()
        }
        _ => vec![whole.clone(); n],
    }
}

/// Spans the key of each entry of a map written out as `{ key = value }`, with its value's
/// expression; empty for a computed map.
pub(super) fn entries_of<'b>(
    reader: &Reader<'_>,
    file: usize,
    expr: Option<&'b Expression>,
) -> BTreeMap<String, (Span, Option<&'b Expression>)> {
    let Some(Expression::Object(object)) = expr else { return BTreeMap::new() };
    object
        .iter()
        .filter_map(|(key, value)| {
            let name = match key {
                ObjectKey::Ident(ident) => ident.as_str(),
                ObjectKey::Expression(Expression::String(s)) => s.as_str(),
                ObjectKey::Expression(_) => return None,
            };
            Some((name.to_owned(), (reader.span(file, key.span()), Some(value.expr()))))
        })
        .collect()
}
