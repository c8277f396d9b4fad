//! Which values come from `sensitive = true` variables: the variables themselves, the locals
//! computed from them, and through those the resource arguments and outputs that use them.
//! Plans show such arguments as `(sensitive value)`; an output that would show one must be
//! declared `sensitive = true`, and instance keys (`for_each`) must not come from one — as in
//! Terraform.

use std::collections::BTreeSet;

use hcl_edit::expr::Expression;

use crate::expr::references;

/// The sensitive variables and locals of a configuration.
#[derive(Debug, Default)]
pub(crate) struct Sensitivity {
    variables: BTreeSet<String>,
    locals: BTreeSet<String>,
}

impl Sensitivity {
    pub(crate) fn new(variables: BTreeSet<String>) -> Self {
        Sensitivity { variables, locals: BTreeSet::new() }
    }

    /// Marks the locals whose expressions use a sensitive value, directly or through other
    /// locals.
    pub(crate) fn add_locals(&mut self, locals: &[(&str, &Expression)]) {
        loop {
            let tainted: Vec<String> = locals
                .iter()
                .filter(|(name, expr)| !self.locals.contains(*name) && self.taints(expr))
                .map(|(name, _)| (*name).to_owned())
                .collect();
            if tainted.is_empty() {
                return;
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
}
