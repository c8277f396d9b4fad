//! The planner: `plan(config, state, observed, now) -> Plan`.
//!
//! For every resource address it compares what is declared, what was recorded and (when the
//! cloud was refreshed) what the cloud reports, and chooses exactly one action with a reason a
//! person can read. It is pure: no IO, no clock (time comes in as `now`), ordered maps only —
//! the same inputs always give the same plan, byte for byte. A plan leaves the apply engine
//! nothing to decide.

mod render;

use std::collections::BTreeMap;

use certplan_core::{Address, AttributeValue, CertStatus, CertificateArgs, RemoteCertificate};
use certplan_parser::{Config, RenewBefore};
use certplan_state::{ResourceState, State};
use chrono::{DateTime, Utc};

pub use render::render;

/// What the cloud reports, by certificate id. A certificate id recorded in state but absent
/// here no longer exists in the cloud.
pub type Observed = BTreeMap<String, RemoteCertificate>;

/// What the apply will do to one resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Action {
    NoOp,
    /// Apply for a new certificate.
    Create,
    /// Apply for a renewal: `ApplyCertificate` with `OldCertificateId`.
    Renew,
    /// Apply for a new certificate, then delete the old one.
    Replace,
    /// Delete the certificate.
    Delete,
}

/// Why the planner chose the action.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reason {
    /// Declared but never applied for.
    NotInState,
    /// The recorded certificate no longer exists in the cloud.
    Gone { id: String },
    /// The cloud reports the certificate unusable (revoked, cancelled, failed).
    Unusable { id: String, status: CertStatus },
    /// Arguments that can only be changed by a new application differ.
    ArgumentsChanged { forcing: Vec<&'static str> },
    /// The certificate has expired; the API renews only before expiry.
    Expired { not_after: DateTime<Utc> },
    /// Issued and within `renew_before` of its expiry.
    Expiring { not_after: DateTime<Utc>, days_left: i64, renew_before: RenewBefore },
    /// Recorded but no longer declared.
    NotInConfig { gone: bool },
    /// The CA is still validating the domain.
    Pending { status: CertStatus },
    /// Issued and not yet due; renews from `renews_at`.
    UpToDate { not_after: DateTime<Utc>, renews_at: DateTime<Utc> },
    /// The cloud reports a status certplan cannot act on.
    Waiting { status: CertStatus },
}

/// The certificate a resource has now, as recorded (and refreshed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prior {
    pub id: String,
    pub args: CertificateArgs,
    pub status: CertStatus,
    pub not_after: Option<DateTime<Utc>>,
    /// False when a refresh found the certificate gone from the cloud.
    pub exists: bool,
}

/// One resource's planned change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceChange {
    pub address: Address,
    pub action: Action,
    pub reason: Reason,
    pub before: Option<Prior>,
    pub after: Option<CertificateArgs>,
}

/// Every resource's change, in address order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    pub created_at: DateTime<Utc>,
    /// Whether the cloud was read; without it the plan trusts the state.
    pub refreshed: bool,
    pub changes: Vec<ResourceChange>,
}

/// Counts of a plan's changes, as the summary line shows them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Summary {
    pub add: usize,
    pub renew: usize,
    pub change: usize,
    pub destroy: usize,
}

impl Plan {
    pub fn has_changes(&self) -> bool {
        self.changes.iter().any(|c| c.action != Action::NoOp)
    }

    pub fn summary(&self) -> Summary {
        let mut s = Summary::default();
        for c in &self.changes {
            match c.action {
                Action::NoOp => {}
                Action::Create => s.add += 1,
                Action::Renew => s.renew += 1,
                Action::Replace => {
                    s.add += 1;
                    // The old certificate is deleted only if it still exists.
                    if c.before.as_ref().is_some_and(|b| b.exists) {
                        s.destroy += 1;
                    }
                }
                Action::Delete => s.destroy += 1,
            }
        }
        s
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    #[error(
        "{address} has lifecycle {{ prevent_destroy = true }} but the plan would delete it ({why})"
    )]
    PreventDestroy { address: Address, why: String },
}

/// Plans every resource of `config` and `state`. `observed` is what a refresh read from the
/// cloud, or `None` to plan from state alone.
pub fn plan(
    config: &Config,
    state: &State,
    observed: Option<&Observed>,
    now: DateTime<Utc>,
) -> Result<Plan, PlanError> {
    let mut changes = Vec::new();
    let addresses: std::collections::BTreeSet<&Address> =
        config.resources.keys().chain(state.resources.keys()).collect();
    for address in addresses {
        let desired = config.resources.get(address);
        let recorded = state.resources.get(address);
        let prior = recorded.map(|r| prior(r, observed));
        let (action, reason) = match (desired, &prior) {
            (Some(_), None) => (Action::Create, Reason::NotInState),
            (None, Some(p)) => {
                if recorded.is_some_and(|r| r.prevent_destroy) && p.exists {
                    return Err(PlanError::PreventDestroy {
                        address: address.clone(),
                        why: "it is no longer in the configuration; remove prevent_destroy first, then remove the resource".into(),
                    });
                }
                (Action::Delete, Reason::NotInConfig { gone: !p.exists })
            }
            (Some(d), Some(p)) => decide(&d.args, d.lifecycle.renew_before, p, now),
            (None, None) => unreachable!("every address comes from the config or the state"),
        };
        changes.push(ResourceChange {
            address: address.clone(),
            action,
            reason,
            before: prior,
            after: desired.map(|d| d.args.clone()),
        });
    }
    Ok(Plan { created_at: now, refreshed: observed.is_some(), changes })
}

fn prior(recorded: &ResourceState, observed: Option<&Observed>) -> Prior {
    let mut prior = Prior {
        id: recorded.certificate_id.clone(),
        args: recorded.args.clone(),
        status: recorded.status,
        not_after: recorded.not_after,
        exists: true,
    };
    if let Some(observed) = observed {
        match observed.get(&recorded.certificate_id) {
            Some(remote) => {
                prior.status = remote.status;
                prior.not_after = remote.not_after.or(prior.not_after);
            }
            None => prior.exists = false,
        }
    }
    prior
}

/// Chooses the action for a resource that is both declared and recorded.
fn decide(
    desired: &CertificateArgs,
    renew_before: RenewBefore,
    prior: &Prior,
    now: DateTime<Utc>,
) -> (Action, Reason) {
    use CertStatus::*;
    if !prior.exists {
        return (Action::Create, Reason::Gone { id: prior.id.clone() });
    }
    if matches!(prior.status, Failed | Cancelling | Cancelled | Revoking | Revoked) {
        return (Action::Replace, Reason::Unusable { id: prior.id.clone(), status: prior.status });
    }
    let forcing = changed_arguments(&prior.args, desired);
    if !forcing.is_empty() {
        return (Action::Replace, Reason::ArgumentsChanged { forcing });
    }
    if prior.status.is_pending() {
        return (Action::NoOp, Reason::Pending { status: prior.status });
    }
    match (prior.status, prior.not_after) {
        (Expired, Some(end)) => (Action::Replace, Reason::Expired { not_after: end }),
        (Issued, Some(end)) if now >= end => (Action::Replace, Reason::Expired { not_after: end }),
        (Issued, Some(end)) if now >= end - renew_before.duration() => {
            let days_left = (end - now).num_days();
            (Action::Renew, Reason::Expiring { not_after: end, days_left, renew_before })
        }
        (Issued, Some(end)) => (
            Action::NoOp,
            Reason::UpToDate { not_after: end, renews_at: end - renew_before.duration() },
        ),
        (status, _) => (Action::NoOp, Reason::Waiting { status }),
    }
}

/// Lists the arguments that differ, in the provider's order. Every argument of a free
/// certificate is part of its application, so each one forces a new application.
fn changed_arguments(before: &CertificateArgs, after: &CertificateArgs) -> Vec<&'static str> {
    let (before, after) = (before.attributes(), after.attributes());
    let get = |attrs: &[(&'static str, AttributeValue)], name: &str| {
        attrs.iter().find(|(n, _)| *n == name).map(|(_, v)| v.clone())
    };
    let mut changed = Vec::new();
    for (name, _) in before.iter().chain(&after) {
        if !changed.contains(name) && get(&before, name) != get(&after, name) {
            changed.push(*name);
        }
    }
    changed
}
