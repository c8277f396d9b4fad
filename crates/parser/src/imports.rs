//! `import { to = ADDR  id = "..." }` blocks (Terraform 1.5's declarative import): an existing
//! certificate to record as a declared resource instance, without applying for a new one.
//!
//! `to` is read as written, never evaluated; `id` is an expression (it may come from a
//! variable). This module checks that the blocks agree with each other and that each `to` is
//! declared. Whether the certificate exists, or the address already holds another, is for the
//! plan to say: this crate knows neither the state nor the cloud.

use std::collections::BTreeMap;

use certplan_core::Address;
use hcl_edit::Span as _;
use hcl_edit::structure::Block;

use crate::reader::resource_address;
use crate::{Diagnostic, Import, Reader, ResourceConfig, Span, eval, provider};

/// Reads an `import` block onto `imports`, with where it is.
pub(crate) fn read(
    reader: &mut Reader<'_>,
    file: usize,
    block: &Block,
    imports: &mut Vec<(Import, Span)>,
) {
    let here = reader.header_span(file, block);
    if let Some(label) = block.labels.first() {
        reader.push(
            Diagnostic::error("an import block has no label")
                .at(reader.span(file, label.span()), "remove this label")
                .help("write `import { to = tencentcloud_ssl_free_certificate.NAME  id = \"CERTIFICATE_ID\" }`"),
        );
        return;
    }
    let mut args = eval::Arguments::read_with_references(
        reader,
        file,
        &block.body,
        &["id"],
        &["to", "provider"],
        &[],
    );
    let provider = args.is_written("provider").then(|| provider::read_reference(reader, &mut args));
    let to = match args.reference("to") {
        None => {
            reader.push(
                Diagnostic::error("an import block needs \"to\"")
                    .at(here.clone(), "where does the certificate go?")
                    .help("add `to = tencentcloud_ssl_free_certificate.NAME`, the resource that is to manage it"),
            );
            None
        }
        Some((text, span)) => {
            resource_address(reader, "to", &text, span.clone()).map(|a| (a, span))
        }
    };
    let id = match args.string(reader, "id") {
        Some((id, span)) if id.trim().is_empty() => {
            reader.push(
                Diagnostic::error("the import id is empty")
                    .at(span, "no certificate id")
                    .help("the id is the certificate's, as the console or `certplan sandbox`/tccli list it, e.g. \"a9TsmZkL\""),
            );
            None
        }
        Some((id, _)) => Some(id),
        None if !args.is_written("id") => {
            reader.push(
                Diagnostic::error("an import block needs \"id\"")
                    .at(here.clone(), "which certificate?")
                    .help(
                        "add `id = \"CERTIFICATE_ID\"`, the id of the certificate in Tencent Cloud",
                    ),
            );
            None
        }
        // Not a string: reported by the reader.
        None => None,
    };
    if let (Some((to, to_span)), Some(id)) = (to, id) {
        let location = reader.location(&here);
        imports.push((Import { to, id: id.into(), provider, location }, to_span));
    }
}

/// Checks the import blocks against each other and the declared resources: each `to` names
/// one declared instance, no address is imported into twice, and no certificate is imported
/// to two addresses.
pub(crate) fn check(
    reader: &mut Reader<'_>,
    imports: &[(Import, Span)],
    resources: &BTreeMap<Address, ResourceConfig>,
) {
    let mut by_address: BTreeMap<&Address, &Span> = BTreeMap::new();
    let mut by_id: BTreeMap<&str, (&Address, &Span)> = BTreeMap::new();
    for (import, span) in imports {
        let to = &import.to;
        if !resources.contains_key(to) {
            let first_instance = resources.keys().find(|a| a.resource() == *to && *a != to);
            let (message, help) = match first_instance {
                Some(first) => (
                    format!("{to} has several instances (count or for_each)"),
                    format!("an import names one instance, e.g. to = {first}"),
                ),
                None => (
                    format!("{to} is not declared"),
                    "declare its resource block first: the import records the certificate as that resource; `certplan import --from-terraform STATE --generate-config FILE` writes blocks from a Terraform state".to_owned(),
                ),
            };
            reader.push(
                Diagnostic::error(message).at(span.clone(), "not a declared instance").help(help),
            );
            continue;
        }
        let declared = &resources[to].args.provider;
        if let Some(named) = import.provider.as_ref().filter(|p| *p != declared) {
            reader.push(
                Diagnostic::error(format!("the import names provider {named}, but {to} uses {declared}"))
                    .at(span.clone(), "imported with another account's provider")
                    .help(format!("a certificate is imported by the provider of the account that holds it: write provider = {named} in the resource block, or remove it from the import block")),
            );
            continue;
        }
        if let Some(first) = by_address.insert(to, span) {
            reader.push(Diagnostic::duplicate(
                format!("two import blocks for {to}"),
                span.clone(),
                first.clone(),
                "an address holds one certificate: keep one of the blocks",
            ));
            continue;
        }
        if let Some((other, first)) = by_id.insert(&import.id, (to, span)) {
            reader.push(
                Diagnostic::error(format!(
                    "certificate {} is imported to both {other} and {to}",
                    import.id
                ))
                .at(span.clone(), "imported again here")
                .also((*first).clone(), "first imported here")
                .help("one resource manages a certificate: keep one of the blocks"),
            );
        }
    }
}
