//! Which values come from `sensitive = true` variables: the variables themselves, the locals
//! computed from them, and through those the resource arguments and outputs that use them.
//! Plans show such arguments as `(sensitive value)`; an output that would show one must be
//! declared `sensitive = true`, and instance keys (`for_each`) must not come from one — as in
//! Terraform. Diagnostics never quote a sensitive value.

use std::collections::BTreeSet;

use hcl::Value;
use hcl_edit::expr::Expression;

use crate::expr::references;
use crate::{Diagnostic, Source};

/// The sensitive variables and locals of a configuration, and their values' text.
#[derive(Debug, Default)]
pub(crate) struct Sensitivity {
    variables: BTreeSet<String>,
    locals: BTreeSet<String>,
    /// The text of every sensitive value — strings and numbers, whole or inside collections —
    /// long enough to hide without garbling the messages around it; the longest first, so that
    /// a secret inside another is not hidden in pieces.
    secrets: Vec<String>,
}

impl Sensitivity {
    /// `variables` are the sensitive variables' names, `values` their values (as given and as
    /// converted).
    pub(crate) fn new<'v>(
        variables: BTreeSet<String>,
        values: impl IntoIterator<Item = &'v Value>,
    ) -> Self {
        let mut sensitivity = Sensitivity { variables, ..Sensitivity::default() };
        for value in values {
            sensitivity.keep_secret(value);
        }
        sensitivity
    }

    /// Marks the locals whose expressions use a sensitive value, directly or through other
    /// locals; `values` are the locals' values.
    pub(crate) fn add_locals(
        &mut self,
        locals: &[(&str, &Expression)],
        values: &hcl::Map<String, Value>,
    ) {
        loop {
            let tainted: Vec<String> = locals
                .iter()
                .filter(|(name, expr)| !self.locals.contains(*name) && self.taints(expr))
                .map(|(name, _)| (*name).to_owned())
                .collect();
            if tainted.is_empty() {
                return;
            }
            for name in &tainted {
                if let Some(value) = values.get(name) {
                    self.keep_secret(value);
                }
            }
            self.locals.extend(tainted);
        }
    }

    /// Returns true when `expr` uses a sensitive variable or local.
    pub(crate) fn taints(&self, expr: &Expression) -> bool {
        if self.variables.is_empty() {
            return false;
        }
        references(expr, "var").iter().any(|v| self.variables.contains(v))
            || references(expr, "local").iter().any(|l| self.locals.contains(l))
    }

    /// Replaces every sensitive value in the diagnostics' messages, labels and help with
    /// `(sensitive value)`.
    pub(crate) fn redact(&self, diagnostics: &mut [Diagnostic]) {
        if self.secrets.is_empty() {
            return;
        }
        let hide = |text: &mut String| {
            for secret in &self.secrets {
                if text.contains(secret.as_str()) {
                    *text = text.replace(secret.as_str(), "(sensitive value)");
                }
            }
        };
        for d in diagnostics {
            hide(&mut d.message);
            d.primary.iter_mut().chain(&mut d.secondary).for_each(|(_, label)| hide(label));
            d.help.iter_mut().for_each(hide);
        }
    }

    /// Masks what a source excerpt under a diagnostic could show of a sensitive value: every
    /// known value, anywhere, and — in the variables files among `sources`, which may not even
    /// parse — whatever is assigned to a sensitive variable.
    pub(crate) fn mask_sources(&self, sources: &mut [Source], variables_files: &[usize]) {
        for (index, source) in sources.iter_mut().enumerate() {
            let mut ranges: Vec<std::ops::Range<usize>> = Vec::new();
            for secret in &self.secrets {
                ranges.extend(
                    source.text.match_indices(secret.as_str()).map(|(at, s)| at..at + s.len()),
                );
            }
            if variables_files.contains(&index) {
                ranges.extend(self.sensitive_assignments(&source.text));
            }
            for range in ranges {
                source.mask(range);
            }
        }
    }

    /// The values of `name = value` lines that assign a sensitive variable, to the end of the
    /// line (a value that spans lines is cut at the first, whose excerpt is what is shown).
    fn sensitive_assignments(&self, text: &str) -> Vec<std::ops::Range<usize>> {
        let mut ranges = Vec::new();
        let mut start = 0;
        for line in text.split_inclusive('\n') {
            let trimmed = line.trim_start();
            let name_end = trimmed
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '-'))
                .unwrap_or(trimmed.len());
            let name = &trimmed[..name_end];
            let rest = trimmed[name_end..].trim_start();
            if self.variables.contains(name)
                && let Some(value) = rest.strip_prefix('=')
            {
                let value_start = start + line.len() - value.len();
                let value_end = start + line.trim_end_matches(['\n', '\r']).len();
                if value_start < value_end {
                    ranges.push(value_start..value_end);
                }
            }
            start += line.len();
        }
        ranges
    }

    fn keep_secret(&mut self, value: &Value) {
        match value {
            Value::String(s) if s.chars().count() >= MIN_SECRET_CHARS => {
                self.secrets.push(s.clone());
            }
            Value::Number(n) if n.to_string().len() >= MIN_SECRET_CHARS => {
                self.secrets.push(n.to_string());
            }
            Value::Array(items) => items.iter().for_each(|v| self.keep_secret(v)),
            Value::Object(map) => map.values().for_each(|v| self.keep_secret(v)),
            _ => {}
        }
        self.secrets.sort_by(|a, b| b.len().cmp(&a.len()).then_with(|| a.cmp(b)));
        self.secrets.dedup();
    }
}

/// Shorter values are not hidden: replacing a two-letter value everywhere would garble the
/// messages.
const MIN_SECRET_CHARS: usize = 4;
