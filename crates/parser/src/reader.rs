//! [`Reader`]: what every block reader works with — the sources, the diagnostics collected so
//! far and the context expressions are evaluated in — and the small helpers they share.
//!
//! It reads no block itself and decides nothing about one: each block's module does that.

use std::collections::BTreeMap;

use hcl_edit::Span as _;
use hcl_edit::structure::{Block, Body};

use crate::{ConfigError, Diagnostic, Source, Span, sensitive};

/// Collects diagnostics while walking the files.
pub(crate) struct Reader<'a> {
    pub(crate) sources: &'a [Source],
    pub(crate) diagnostics: Vec<Diagnostic>,
    /// What expressions are evaluated with: the built-in functions, `var` and `local`.
    pub(crate) ctx: hcl::eval::Context<'static>,
    /// Locals that could not be evaluated (already reported): expressions referring to them
    /// are not reported again.
    pub(crate) failed_locals: std::collections::BTreeSet<String>,
    /// Variables declared without a value (already reported): expressions referring to them
    /// are not reported again.
    pub(crate) unset_variables: std::collections::BTreeSet<String>,
    /// Which variables and locals are sensitive.
    pub(crate) sensitivity: sensitive::Sensitivity,
    /// The `provider = tencentcloud.ALIAS` references read, checked once every block is.
    pub(crate) provider_references: Vec<(certplan_core::ProviderRef, Span)>,
}

impl<'a> Reader<'a> {
    /// Starts reading `sources`, with nothing reported and nothing yet to evaluate with.
    pub(crate) fn new(sources: &'a [Source]) -> Self {
        Reader {
            sources,
            diagnostics: Vec::new(),
            ctx: hcl::eval::Context::new(),
            failed_locals: Default::default(),
            unset_variables: Default::default(),
            sensitivity: Default::default(),
            provider_references: Vec::new(),
        }
    }

    pub(crate) fn push(&mut self, d: Diagnostic) {
        self.diagnostics.push(d);
    }

    pub(crate) fn span(&self, file: usize, range: Option<std::ops::Range<usize>>) -> Span {
        Span { file, range: range.unwrap_or(0..0) }
    }

    /// Spans a block's header: its type and labels, up to the opening brace.
    pub(crate) fn header_span(&self, file: usize, block: &Block) -> Span {
        let start = block.ident.span().map_or(0, |r| r.start);
        let end = block
            .labels
            .last()
            .and_then(|l| l.span())
            .or_else(|| block.ident.span())
            .map_or(start, |r| r.end);
        Span { file, range: start..end }
    }

    pub(crate) fn location(&self, span: &Span) -> String {
        ConfigError::location(self.sources, span)
    }
}

/// Records `value` under `key` with where it was declared, unless the key is taken: then the
/// duplicate is reported, pointing at both places.
pub(crate) fn insert_once<K: Ord, V>(
    reader: &mut Reader<'_>,
    map: &mut BTreeMap<K, (V, Span)>,
    key: K,
    value: V,
    here: Span,
    message: String,
    help: &str,
) {
    match map.get(&key) {
        Some((_, first)) => {
            let first = first.clone();
            reader.push(Diagnostic::duplicate(message, here, first, help));
        }
        None => {
            map.insert(key, (value, here));
        }
    }
}

/// Reads the reference `text` written for `argument` (`from = tencentcloud_ssl_free_certificate.www`)
/// as a certplan resource address; anything else is reported at `span`.
pub(crate) fn resource_address(
    reader: &mut Reader<'_>,
    argument: &str,
    text: &str,
    span: Span,
) -> Option<certplan_core::Address> {
    use certplan_core::RESOURCE_TYPE;
    match text.trim_matches('"').parse::<certplan_core::Address>() {
        Ok(a) if a.resource_type == RESOURCE_TYPE => Some(a),
        _ => {
            reader.push(
                Diagnostic::error(format!("\"{argument}\" must name a {RESOURCE_TYPE} resource"))
                    .at(span, "not a certplan resource address")
                    .help(format!("e.g. {argument} = {RESOURCE_TYPE}.www")),
            );
            None
        }
    }
}

/// Lists the nested blocks of `body` named `name`.
pub(crate) fn blocks<'b>(body: &'b Body, name: &'b str) -> impl Iterator<Item = &'b Block> + 'b {
    body.blocks().filter(move |b| b.ident.as_str() == name)
}
