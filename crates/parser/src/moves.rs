//! `moved { from = ADDR  to = ADDR }` and `removed { from = ADDR }` blocks: how the
//! configuration says a resource in state was renamed, or is no longer to be managed.
//!
//! Addresses are read as written, never evaluated. This module checks that each names a
//! certplan resource and that the blocks agree with each other and with the resources declared.
//! It never looks at the state a move or a removal will apply to.

use std::collections::BTreeMap;

use certplan_core::Address;
use hcl_edit::structure::Block;

use crate::reader::{insert_once, resource_address};
use crate::{Diagnostic, Moved, Reader, Removed, Span, blocks, eval};

/// Reads a `moved` block onto `moved`, reporting a second move of the same address.
pub(crate) fn read_moved(
    reader: &mut Reader<'_>,
    file: usize,
    block: &Block,
    moved: &mut Vec<Moved>,
) {
    if let Some(m) = moved_block(reader, file, block) {
        if let Some(first) = moved.iter().find(|other| other.from == m.from) {
            let here = reader.header_span(file, block);
            reader.push(
                Diagnostic::error(format!("{} is moved twice", m.from))
                    .at(here, "moved again here")
                    .help(format!("the first move is at {}; keep one", first.location)),
            );
        } else {
            moved.push(m);
        }
    }
}

/// Reads a `removed` block into `removed`, reporting a second block for the same address.
pub(crate) fn read_removed(
    reader: &mut Reader<'_>,
    file: usize,
    block: &Block,
    removed: &mut BTreeMap<Address, (Removed, Span)>,
) {
    if let Some((address, block_removed, here)) = removed_block(reader, file, block) {
        let message = format!("two removed blocks for {address}");
        insert_once(reader, removed, address, block_removed, here, message, "keep one of them");
    }
}

/// Reports every removed resource that is still declared (`declared` maps each resource to
/// its block): it cannot be both kept and let go.
pub(crate) fn check_removed_are_not_declared(
    reader: &mut Reader<'_>,
    removed: &BTreeMap<Address, (Removed, Span)>,
    declared: &BTreeMap<Address, Span>,
) {
    for (address, (_, here)) in removed {
        if let Some(declared) = declared.get(&address.resource()) {
            reader.push(
                Diagnostic::error(format!("{address} is both declared and removed"))
                    .at(here.clone(), "removed here")
                    .also(declared.clone(), "still declared here")
                    .help("delete the resource block to stop managing it, or delete the removed block to keep it"),
            );
        }
    }
}

/// Reads `moved { from = ADDR  to = ADDR }`.
fn moved_block(reader: &mut Reader<'_>, file: usize, block: &Block) -> Option<Moved> {
    let here = reader.header_span(file, block);
    let mut args =
        eval::Arguments::read_with_references(reader, file, &block.body, &[], &["from", "to"], &[]);
    let mut address = |reader: &mut Reader<'_>, name: &str| {
        let Some((text, span)) = args.reference(name) else {
            reader.push(
                Diagnostic::error(format!("a moved block needs \"{name}\""))
                    .at(here.clone(), "incomplete move")
                    .help("write `from = tencentcloud_ssl_free_certificate.OLD` and `to = tencentcloud_ssl_free_certificate.NEW`"),
            );
            return None;
        };
        resource_address(reader, name, &text, span)
    };
    let (from, to) = (address(reader, "from"), address(reader, "to"));
    let (from, to) = (from?, to?);
    // As in Terraform: a resource to a resource (with all its instances), an instance to an
    // instance, a single resource into `for_each`/`count` (`c` to `c["c"]`) and back.
    if from == to {
        reader.push(
            Diagnostic::error(format!("cannot move {from} to itself"))
                .at(here, "this move")
                .help("name the address it had before in `from`"),
        );
        return None;
    }
    Some(Moved { from, to, location: reader.location(&here) })
}

/// Reads `removed { from = ADDR  lifecycle { destroy = false } }`.
fn removed_block(
    reader: &mut Reader<'_>,
    file: usize,
    block: &Block,
) -> Option<(Address, Removed, Span)> {
    let here = reader.header_span(file, block);
    let mut args = eval::Arguments::read_with_references(
        reader,
        file,
        &block.body,
        &[],
        &["from"],
        &["lifecycle"],
    );
    let Some((text, span)) = args.reference("from") else {
        reader.push(
            Diagnostic::error("a removed block needs \"from\"")
                .at(here, "what is removed?")
                .help("add `from = tencentcloud_ssl_free_certificate.NAME`"),
        );
        return None;
    };
    let address = resource_address(reader, "from", &text, span)?;
    let mut destroy = false;
    for inner in blocks(&block.body, "lifecycle") {
        let mut lifecycle = eval::Arguments::read(reader, file, &inner.body, &["destroy"], &[]);
        if let Some((d, _)) = lifecycle.boolean(reader, "destroy") {
            destroy = d;
        }
    }
    let location = reader.location(&here);
    Some((address, Removed { destroy, location }, here))
}
