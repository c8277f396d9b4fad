//! The plan: what the planner decided and the engine carries out. Plain data shared by the two —
//! the planner builds it without IO, the engine executes it without reading the configuration,
//! so everything the apply needs (and nothing secret) travels here.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::{
    Address, Argument, Attention, AttributeValue, CertStatus, CertificateArgs, CertificateId,
    Delivery, DeployTarget, DeployedResource, ExportReason, Instances, RemoteCertificate,
    RenewBefore, ValidationRecord,
};

/// What the cloud reports, by certificate id. A certificate id recorded in state but absent
/// here no longer exists in the cloud.
pub type Observed = BTreeMap<CertificateId, RemoteCertificate>;

/// What the apply will do to one resource. Written by its [`name`](Action::name).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Action {
    NoOp,
    /// Apply for a new certificate.
    Create,
    /// Apply for a renewal: `ApplyCertificate` with `OldCertificateId`.
    Renew,
    /// Change alias and/or project of the existing certificate.
    Update,
    /// Apply for a new certificate, then delete the old one.
    Replace,
    /// Delete the certificate.
    Delete,
    /// Stop managing the certificate, leaving it in the cloud.
    Forget,
}

impl Action {
    /// Returns the action's one name, used by plan JSON, `apply --json` events and the intent
    /// journal alike.
    pub fn name(self) -> &'static str {
        match self {
            Action::NoOp => "no-op",
            Action::Create => "create",
            Action::Renew => "renew",
            Action::Update => "update",
            Action::Replace => "replace",
            Action::Delete => "delete",
            Action::Forget => "forget",
        }
    }

    /// Returns the action as Terraform's plan JSON lists it in `change.actions`.
    pub fn terraform_actions(self) -> &'static [&'static str] {
        match self {
            // certplan creates the new certificate before deleting the old one.
            Action::Replace => &["create", "delete"],
            Action::NoOp => &["no-op"],
            Action::Create => &["create"],
            Action::Renew => &["renew"],
            Action::Update => &["update"],
            Action::Delete => &["delete"],
            Action::Forget => &["forget"],
        }
    }
}

/// Why the planner chose the action.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Reason {
    /// Declared but never applied for.
    NotInState,
    /// The recorded certificate no longer exists in the cloud.
    Gone { id: CertificateId },
    /// The cloud reports the certificate revoked, cancelled or failed.
    Unusable { id: CertificateId, status: CertStatus },
    /// Domain validation was not completed in time.
    ValidationTimedOut { id: CertificateId, deadline: DateTime<Utc> },
    /// Validation failed for this many certificates in a row: the cause is outside certplan,
    /// which applies again only when asked (`--replace`).
    ValidationFailedRepeatedly { id: CertificateId, failures: u32 },
    /// The user asked for a new certificate (`--replace`).
    ReplaceRequested,
    /// Arguments that can only change with a new application differ.
    ArgumentsChanged { forcing: Vec<Argument> },
    /// Arguments that can change in place differ.
    AttributesChanged { changed: Vec<Argument> },
    /// The certificate has expired; the API renews only before expiry.
    Expired { not_after: DateTime<Utc> },
    /// Issued and within `renew_before` of its expiry.
    Expiring { not_after: DateTime<Utc>, days_left: i64, renew_before: RenewBefore },
    /// Recorded but no longer declared.
    NotInConfig { gone: bool },
    /// A `removed` block says to stop managing it.
    Removed { location: String },
    /// An old certificate a replacement could not delete.
    Deposed { id: CertificateId, since: DateTime<Utc>, last_error: String, gone: bool },
    /// The CA is still validating the domain.
    Pending {
        status: CertStatus,
        records: Vec<ValidationRecord>,
        deadline: Option<DateTime<Utc>>,
        automatic: bool,
    },
    /// Issued and not yet due; renews from `renews_at`.
    UpToDate { not_after: DateTime<Utc>, renews_at: DateTime<Utc> },
    /// The cloud reports a status certplan cannot act on.
    Waiting { status: CertStatus },
    /// The certificate was due (expired, or within `renew_before`) the moment it was issued:
    /// the service's dates, or this machine's clock, are off, and applying again would give
    /// the same — every run, spending the free quota. certplan applies again only when asked
    /// (`--replace`).
    DueAtIssuance { id: CertificateId, applied_at: DateTime<Utc>, not_after: DateTime<Utc> },
    /// The ACME CA refused to order it for its rate limits, until `until`: no order is
    /// placed before then.
    RateLimited { until: DateTime<Utc> },
    /// The certificate was applied for because the one before it was lost or made unusable
    /// (`because`), and it is too, before it was ever issued: applying again on every run
    /// would spend the quota. certplan applies again only when asked (`--replace`).
    ReplacedAgain { id: CertificateId, because: String },
}

/// The certificate a resource has now, as recorded and (when refreshed) as the cloud reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Prior {
    pub id: CertificateId,
    /// The recorded arguments, with alias and project as the cloud reports them.
    pub args: CertificateArgs,
    pub status: CertStatus,
    pub not_after: Option<DateTime<Utc>>,
    /// False when a refresh found the certificate gone from the cloud.
    pub exists: bool,
}

/// One resource's planned change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResourceChange {
    pub address: Address,
    pub action: Action,
    pub reason: Reason,
    pub before: Option<Prior>,
    pub after: Option<CertificateArgs>,
    /// For the deletion of a deposed certificate: its id.
    pub deposed: Option<CertificateId>,
    /// The arguments whose values come from sensitive variables: shown, before and after, as
    /// `(sensitive value)`, and recorded with the certificate so that a later plan hides them.
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub sensitive: BTreeSet<String>,
    /// The declared `lifecycle { prevent_destroy }` (the recorded one once the block is gone):
    /// recorded with the certificate, so that it protects it from then on.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub prevent_destroy: bool,
    /// How long apply waits for a new certificate to be issued, as configured (the resource's
    /// `wait_for_issuance`, else the provider's); `None` means it does not wait.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wait_for_issuance: Option<Duration>,
    /// The declared `deploy` and `export` blocks, which the apply's delivery work follows.
    #[serde(default, skip_serializing_if = "Delivery::is_empty")]
    pub delivery: Delivery,
    /// The id of an existing certificate an `import` block records as this resource first;
    /// `before` is then what the cloud holds of it, and `action` what follows the import.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub importing: Option<CertificateId>,
}

impl ResourceChange {
    /// The recorded arguments as the plan shows them.
    pub fn before_attributes(&self) -> Vec<(&'static str, AttributeValue)> {
        self.before.as_ref().map(|b| b.args.attributes_hiding(&self.sensitive)).unwrap_or_default()
    }

    /// The declared arguments as the plan shows them.
    pub fn after_attributes(&self) -> Vec<(&'static str, AttributeValue)> {
        self.after.as_ref().map(|a| a.attributes_hiding(&self.sensitive)).unwrap_or_default()
    }
}

/// Something that changed in the cloud outside certplan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Drift {
    pub address: Address,
    pub id: CertificateId,
    pub kind: DriftKind,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum DriftKind {
    Deleted,
    /// Renewed outside certplan: the newest certificate of the renewal chain, issued or still
    /// validating, takes the recorded one's place (the apply records it).
    Renewed {
        to: CertificateId,
    },
    /// Reissued outside certplan (in the console): the reissue takes the recorded one's place.
    Reissued {
        to: CertificateId,
    },
    Status {
        from: CertStatus,
        to: CertStatus,
    },
    Alias {
        from: Option<String>,
        to: Option<String>,
    },
    Project {
        from: Option<u64>,
        to: Option<u64>,
    },
}

/// Delivery work: getting a resource's certificate to where it serves.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveryChange {
    pub address: Address,
    pub work: DeliveryWork,
    /// The work waits for a certificate that is not issued yet (one this apply applies for,
    /// or one still validating): the apply does it if that certificate is issued before it
    /// ends, and a later apply otherwise.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub once_issued: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum DeliveryWork {
    /// Move the cloud resources of `from` to the resource's certificate `to` — or, when `None`,
    /// to the certificate this apply applies for.
    Deploy { from: CertificateId, to: Option<CertificateId>, target: DeployTarget },
    /// Follow a deployment that was asked for and not seen to the end; without a task id (the
    /// answer was lost), find the task first.
    Resume { from: CertificateId, to: CertificateId, target: DeployTarget, record_id: Option<u64> },
    /// Retry the cloud resources a deployment failed to move, and only those.
    Retry {
        from: CertificateId,
        to: CertificateId,
        target: DeployTarget,
        record_id: u64,
        failed: Vec<DeployedResource>,
    },
    /// Put the resource's certificate (`to`; `None`: the one this apply obtains) on named
    /// instances where none serves yet, or follow such a deployment asked for before.
    DeployInstances { to: Option<CertificateId>, instances: Instances },
    /// Publish the DNS validation records of the resource's certificate, still validating,
    /// through the declared `dns_challenge` (again, if an earlier run's did not get there).
    PublishValidation { records: Vec<ValidationRecord> },
    /// Write the certificate's PEM files (then run the export's hook).
    Export { path: std::path::PathBuf, reason: ExportReason },
    /// Run the export's `on_change` hook, which failed or did not run for the files in place.
    Hook { path: std::path::PathBuf, error: Option<String> },
}

impl DeliveryWork {
    /// Returns the work's one name, as plan JSON and `apply --json` events write it.
    pub fn name(&self) -> &'static str {
        match self {
            DeliveryWork::Deploy { .. } => "deploy",
            DeliveryWork::DeployInstances { .. } => "deploy-instances",
            DeliveryWork::PublishValidation { .. } => "publish-validation",
            DeliveryWork::Resume { .. } => "resume-deploy",
            DeliveryWork::Retry { .. } => "retry-deploy",
            DeliveryWork::Export { .. } => "export",
            DeliveryWork::Hook { .. } => "run-hook",
        }
    }
}

/// Every resource's change, in address order (deposed deletions after their resource).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Plan {
    pub created_at: DateTime<Utc>,
    /// Renames of recorded resources by `moved` blocks: the plan is made as if they were done,
    /// and the apply records them first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub moved: Vec<(Address, Address)>,
    /// Whether the cloud was read; without it the plan trusts the state.
    pub refreshed: bool,
    pub drift: Vec<Drift>,
    pub changes: Vec<ResourceChange>,
    /// Delivery work, in address order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub delivery: Vec<DeliveryChange>,
    /// What needs a person, in address order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attention: Vec<Attention>,
    /// The free quota of each account the plan applies for free certificates in.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub quota: Vec<FreeQuota>,
}

/// One account's yearly quota of free certificates, as a plan uses it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FreeQuota {
    /// The provider whose account it is.
    pub provider: crate::ProviderRef,
    /// Free certificates the account applied for this calendar year (Beijing time), as
    /// `DescribeCertificates` lists them.
    pub used: u64,
    /// Free certificates this plan applies for there.
    pub planned: u64,
    pub limit: u64,
    /// Where the limit comes from: `default` (the widely reported 50), `configured`
    /// (`free_certificates_per_year`), or `service` (learnt from its refusal).
    pub limit_from: String,
}

impl FreeQuota {
    /// Whether the plan would pass the limit.
    pub fn exceeded(&self) -> bool {
        self.used + self.planned > self.limit
    }
}

/// Returns the newest certificate that succeeds `id` — by renewal or by reissue, made outside
/// certplan — issued or still validating, with how the first step was made.
pub fn successor<'o>(
    observed: &'o Observed,
    id: &str,
) -> Option<(DriftKind, &'o RemoteCertificate)> {
    let mut newest: Option<&RemoteCertificate> = None;
    let mut reissued = false;
    let mut current = observed.get(id)?;
    // Bounded: a chain that loops back is the cloud's mistake, not a reason to hang.
    for _ in 0..observed.len() {
        let step = current
            .renewed_by
            .as_deref()
            .map(|n| (n, false))
            .or_else(|| current.reissued_by.as_deref().map(|n| (n, true)));
        let Some((next, by_reissue)) = step.and_then(|(n, r)| observed.get(n).map(|c| (c, r)))
        else {
            break;
        };
        if !(next.status == CertStatus::Issued || next.status.is_pending()) {
            break;
        }
        if newest.is_none() {
            reissued = by_reissue;
        }
        newest = Some(next);
        current = next;
    }
    let newest = newest?;
    let to = newest.id.clone();
    let kind = if reissued { DriftKind::Reissued { to } } else { DriftKind::Renewed { to } };
    Some((kind, newest))
}

/// Counts of changes, as the summary lines of a plan and of an apply show them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Summary {
    pub add: usize,
    pub renew: usize,
    pub change: usize,
    pub destroy: usize,
    pub forget: usize,
    /// Certificates waiting for domain validation: nothing for apply to do, but something
    /// outside certplan (a DNS record, a file, the CA) must still happen.
    pub waiting: usize,
    /// Delivery work: deployments, exports, hooks.
    pub deliver: usize,
    /// Existing certificates to record (`import` blocks).
    pub import: usize,
}

impl Summary {
    /// Counts one change; `deletes_old` says whether a replacement deletes (or deleted) the
    /// certificate it replaces — it does not when that one is already gone.
    pub fn count(&mut self, action: Action, deletes_old: bool) {
        match action {
            Action::NoOp => {}
            Action::Create => self.add += 1,
            Action::Renew => self.renew += 1,
            Action::Update => self.change += 1,
            Action::Replace => {
                self.add += 1;
                self.destroy += usize::from(deletes_old);
            }
            Action::Delete => self.destroy += 1,
            Action::Forget => self.forget += 1,
        }
    }
}

impl Plan {
    pub fn has_changes(&self) -> bool {
        !self.moved.is_empty()
            || self.changes.iter().any(|c| c.action != Action::NoOp || c.importing.is_some())
            || self.delivery.iter().any(|d| !d.once_issued)
    }

    /// Returns the change of the resource at `address` (not of a certificate it deposed):
    /// found by its place, as changes are in address order, so that a plan of 100 000
    /// resources looks each up in a few steps.
    pub fn change_of(&self, address: &Address) -> Option<&ResourceChange> {
        let first = self.changes.partition_point(|c| &c.address < address);
        self.changes[first..]
            .iter()
            .take_while(|c| &c.address == address)
            .find(|c| c.deposed.is_none())
    }

    pub fn summary(&self) -> Summary {
        let mut s = Summary::default();
        for c in &self.changes {
            s.count(c.action, c.before.as_ref().is_some_and(|b| b.exists));
            s.waiting += usize::from(matches!(c.reason, Reason::Pending { .. }));
            s.import += usize::from(c.importing.is_some());
        }
        s.deliver = self.delivery.iter().filter(|d| !d.once_issued).count();
        s
    }

    /// Returns true when something is still to happen: a change to make, or a certificate
    /// waiting for validation (what `plan --detailed-exitcode` reports with 2).
    pub fn has_work_left(&self) -> bool {
        self.has_changes()
            || !self.delivery.is_empty()
            || self.changes.iter().any(|c| {
                matches!(
                    c.reason,
                    Reason::Pending { .. } | Reason::ValidationFailedRepeatedly { .. }
                )
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_action_is_written_by_its_one_name() {
        use Action::*;
        for action in [NoOp, Create, Renew, Update, Replace, Delete, Forget] {
            let written = serde_json::to_value(action).expect("serialises");
            assert_eq!(written, action.name());
            assert_eq!(serde_json::from_value::<Action>(written).ok(), Some(action));
        }
    }
}
