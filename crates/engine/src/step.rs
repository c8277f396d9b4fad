//! Every change to state an apply makes, as data: a [`Step`] applied to a [`State`]. Pure — no
//! async, no client, no store — so that a step can be applied again to a state that already has
//! it, or to another writer's (a merge), with the same result. Saving steps is the ledger's job.

use std::collections::BTreeSet;

use certplan_core::{
    Address, CertificateArgs, CertificateId, Deployment, ExportRecord, Observed, RemoteCertificate,
};
use certplan_state::{Deposed, Intent, IntentKind, ResourceState, State};
use chrono::{DateTime, Utc};

/// What the configuration declares for a certificate besides its arguments, recorded with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Declared {
    pub args: CertificateArgs,
    pub prevent_destroy: bool,
    /// The arguments that come from sensitive variables.
    pub sensitive: BTreeSet<String>,
}

/// One change to state.
#[derive(Debug, Clone)]
pub(crate) enum Step {
    /// An application is about to be sent (the intent journal).
    Journal(Intent),
    /// The journaled ACME `intent` placed the order at `url`: journaled with it, so that the
    /// order is resumed, never placed again.
    Ordered { intent: Intent, url: String },
    /// The CA refused the journaled ACME `intent`'s order for its rate limits, until `until`:
    /// the intent stays journaled until then, holding the resource back.
    Held { intent: Intent, until: DateTime<Utc> },
    /// An application is known to have created nothing.
    Settle(Intent),
    /// The existing certificate `remote` is recorded as `address` (an `import` block naming
    /// it, or one it renewed: `named`).
    Import {
        address: Address,
        declared: Box<Declared>,
        remote: Box<RemoteCertificate>,
        named: CertificateId,
    },
    /// The certificate `id` is the result of `intent`.
    Adopt { intent: Intent, id: CertificateId, remote: Option<Box<RemoteCertificate>> },
    /// A resource's certificate that cannot be deleted yet: no longer the resource's, kept as
    /// deposed — in one step, so that it is never both, nor neither.
    Defer(Deposed),
    /// A deposed certificate is deleted (or gone).
    Deleted { id: CertificateId },
    /// Deleting a deposed certificate failed again.
    DeleteFailed { id: CertificateId, error: String },
    /// The resource's certificate `id` (any, when `None`) is deleted, or no longer managed.
    Remove { address: Address, id: Option<CertificateId> },
    /// The alias of the resource's certificate `id`.
    SetAlias { address: Address, id: CertificateId, alias: Option<String> },
    /// The project of the resource's certificate `id`.
    SetProject { address: Address, id: CertificateId, project_id: Option<u64> },
    /// The cloud reports this of the resource's certificate.
    Observe { address: Address, remote: Box<RemoteCertificate> },
    /// A deployment to the resource's certificate `deployment.to`: about to be asked for, its
    /// task id, or its progress — each replaces the last of the same `from` and target.
    Deploy { address: Address, deployment: Box<Deployment> },
    /// A first deployment of the resource's certificate to named instances, as asked for or
    /// followed: replaces the record of the same certificate and instances.
    FirstDeploy { address: Address, deployment: Box<certplan_core::FirstDeployment> },
    /// Files exported for the resource's certificate `export.certificate_id` (and its hook's
    /// outcome): replaces the record of the same path.
    Export { address: Address, export: Box<ExportRecord> },
}

impl Step {
    /// Returns the resource whose record the step changes; `None` for steps that change only
    /// the intent journal or the deposed certificates.
    pub(crate) fn address(&self) -> Option<&Address> {
        match self {
            Step::Adopt { intent, .. } => Some(&intent.address),
            Step::Defer(deposed) => Some(&deposed.address),
            Step::Remove { address, .. }
            | Step::Import { address, .. }
            | Step::SetAlias { address, .. }
            | Step::SetProject { address, .. }
            | Step::Observe { address, .. }
            | Step::Deploy { address, .. }
            | Step::FirstDeploy { address, .. }
            | Step::Export { address, .. } => Some(address),
            Step::Journal(_)
            | Step::Ordered { .. }
            | Step::Held { .. }
            | Step::Settle(_)
            | Step::Deleted { .. }
            | Step::DeleteFailed { .. } => None,
        }
    }

    /// Applies the step to `state`. Every step can be applied again to a state that already
    /// has it, or to another writer's: that is what a merge does.
    pub(crate) fn apply(&self, state: &mut State) {
        match self {
            Step::Journal(intent) => {
                if !state.intents.contains(intent) {
                    state.intents.push(intent.clone());
                }
            }
            Step::Ordered { intent, url } => {
                if let Some(journaled) = state.intents.iter_mut().find(|i| *i == intent) {
                    journaled.order = Some(url.clone());
                }
            }
            Step::Held { intent, until } => {
                if let Some(journaled) = state.intents.iter_mut().find(|i| *i == intent) {
                    journaled.retry_after = Some(*until);
                }
            }
            Step::Settle(intent) => state.intents.retain(|i| i != intent),
            Step::Import { address, declared, remote, named } => {
                record_import(state, address, declared, remote, named)
            }
            Step::Adopt { intent, id, remote } => adopt(state, intent, id, remote.as_deref()),
            Step::Defer(deposed) => {
                let id = Some(deposed.certificate_id.clone());
                Step::Remove { address: deposed.address.clone(), id }.apply(state);
                depose(state, deposed);
            }
            Step::Deleted { id } => state.deposed.retain(|d| d.certificate_id != id),
            Step::DeleteFailed { id, error } => {
                if let Some(d) = state.deposed.iter_mut().find(|d| d.certificate_id == id) {
                    d.last_error = error.clone();
                }
            }
            // A step about a resource's certificate applies to that certificate only: replayed
            // over another writer's state, it never touches the certificate that writer
            // recorded there since.
            Step::Remove { address, id } => {
                let recorded = state.resources.get(address).map(|r| &r.certificate_id);
                if id.is_none() || recorded == id.as_ref() {
                    state.resources.remove(address);
                }
            }
            Step::SetAlias { address, id, alias } => {
                if let Some(r) = state.resources.get_mut(address).filter(|r| r.certificate_id == id)
                {
                    r.args.alias = alias.clone();
                }
            }
            Step::SetProject { address, id, project_id } => {
                if let Some(r) = state.resources.get_mut(address).filter(|r| r.certificate_id == id)
                {
                    r.args.project_id = *project_id;
                }
            }
            Step::Observe { address, remote } => {
                if let Some(r) = state.resources.get_mut(address)
                    && r.certificate_id == remote.id
                {
                    r.observe(remote);
                }
            }
            Step::Deploy { address, deployment } => {
                if let Some(r) = state.resources.get_mut(address)
                    && r.certificate_id == deployment.to
                {
                    r.deployments
                        .retain(|d| (&d.from, &d.target) != (&deployment.from, &deployment.target));
                    r.deployments.push((**deployment).clone());
                }
            }
            Step::FirstDeploy { address, deployment } => {
                if let Some(r) = state.resources.get_mut(address) {
                    let same = |d: &certplan_core::FirstDeployment| {
                        (&d.to, &d.instances) == (&deployment.to, &deployment.instances)
                    };
                    r.first_deployments.retain(|d| !same(d));
                    r.first_deployments.push((**deployment).clone());
                }
            }
            Step::Export { address, export } => {
                if let Some(r) = state.resources.get_mut(address)
                    && r.certificate_id == export.certificate_id
                {
                    r.exports.retain(|e| e.path != export.path);
                    r.exports.push((**export).clone());
                    r.exports.sort_by(|a, b| a.path.cmp(&b.path));
                }
            }
        }
    }
}

/// Records `deposed`, unless it is recorded already.
fn depose(state: &mut State, deposed: &Deposed) {
    if !state.deposed.iter().any(|d| d.certificate_id == deposed.certificate_id) {
        state.deposed.push(deposed.clone());
    }
}

/// Records the existing certificate `remote` as `address`, declared with `declared`: the
/// arguments as the cloud reports them where it does (domain, validation method, key, alias,
/// project), as declared elsewhere. `named` is the certificate the import named: `remote`, or
/// one `remote` renewed. An address that holds a certificate already (this one, or another
/// recorded since the import was planned) is left as it is.
pub(crate) fn record_import(
    state: &mut State,
    address: &Address,
    declared: &Declared,
    remote: &RemoteCertificate,
    named: &CertificateId,
) {
    if state.resources.contains_key(address) {
        return;
    }
    let declared = Declared { args: remote.args_as_imported(&declared.args), ..declared.clone() };
    let applied_at = remote.inserted_at.unwrap_or_else(Utc::now);
    // A renewal made outside takes the place of the certificate named, as a refresh would
    // record it: what serves that one moves to it (`deploy` blocks).
    let followed = (remote.id != named).then(|| named.clone());
    let lineage = Lineage {
        imported: Some(named.clone()),
        renewed_from: followed.iter().cloned().collect(),
        succeeds: followed,
    };
    record(state, address, &remote.id, &declared, lineage, applied_at, Some(remote), 0);
    // certplan did not apply for it: when it was issued is not this record's to judge (a
    // certificate uploaded near its expiry is not one "due at issuance").
    if let Some(r) = state.resources.get_mut(address) {
        r.issued_expiry = None;
    }
    // The certificate a resource has is never one to delete.
    state.deposed.retain(|d| d.certificate_id != remote.id);
}

/// Records the certificate `id` as the result of `intent` (with what the cloud reports of it,
/// when known), and retires the intent. A certificate found at the address that the intent
/// did not supersede was recorded by another run meanwhile (two runs without the lock, or a
/// later run settling this one's journal): it is kept as deposed — recorded, and deleted by a
/// later apply — never dropped.
pub(crate) fn adopt(
    state: &mut State,
    intent: &Intent,
    id: &CertificateId,
    remote: Option<&RemoteCertificate>,
) {
    let mut lineage = Lineage::default();
    // Into another account, it takes over nothing: the old one's cloud resources and
    // instances are that account's.
    let moves_account = (state.resources.get(&intent.address))
        .is_some_and(|r| r.args.provider != intent.args.provider);
    if matches!(intent.action, IntentKind::Renew | IntentKind::Replace) && !moves_account {
        // The new certificate takes over what serves the resource: the one it replaces, or
        // what that one was to take over when it was never issued.
        let replaced = state
            .resources
            .get(&intent.address)
            .filter(|r| Some(&r.certificate_id) == intent.old_certificate_id.as_ref());
        lineage.succeeds = match replaced {
            Some(r) => r.serving(),
            None => intent.old_certificate_id.clone(),
        };
    }
    let renewed_from = &mut lineage.renewed_from;
    if intent.action == IntentKind::Renew
        && let Some(old) = &intent.old_certificate_id
    {
        renewed_from.push(old.clone());
        if let Some(previous) = state.resources.get(&intent.address) {
            renewed_from.extend(previous.renewed_from.iter().cloned());
        }
    }
    // Recorded already (a merge applies this step again): only the journal entry is left.
    if state.resources.get(&intent.address).is_some_and(|r| r.certificate_id == id) {
        state.intents.retain(|i| i != intent);
        state.deposed.retain(|d| d.certificate_id != id);
        return;
    }
    // An ACME order an interrupted run placed, finished after the resource was given a newer
    // certificate (applied for after the order): it is kept to be deleted, not recorded over
    // the newer one, which was ordered for what is declared now.
    if intent.order.is_some()
        && let Some(r) = state.resources.get(&intent.address)
        && r.certificate_id != id
        && Some(&r.certificate_id) != intent.supersedes.as_ref()
        && r.applied_at > intent.started_at
    {
        if !state.deposed.iter().any(|d| d.certificate_id == id) {
            state.deposed.push(Deposed {
                address: intent.address.clone(),
                certificate_id: id.clone(),
                provider: intent.args.provider.clone(),
                since: Utc::now(),
                last_error: "ordered by an interrupted run for what was declared then; the resource has a newer certificate".to_owned(),
            });
        }
        state.intents.retain(|i| i != intent);
        return;
    }
    // A replaced certificate is kept to be deleted, in the same step that records its
    // replacement: until its delete is recorded, it is never recorded nowhere.
    if intent.action == IntentKind::Replace
        && let Some(old) = &intent.old_certificate_id
        && !state.deposed.iter().any(|d| d.certificate_id == old)
    {
        // In the account that holds it: another one's when the resource moved there.
        state.deposed.push(Deposed {
            address: intent.address.clone(),
            certificate_id: old.clone(),
            provider: intent.old_provider.clone().unwrap_or_else(|| intent.args.provider.clone()),
            since: intent.started_at,
            last_error: "replaced; the run replacing it deletes it, or a later apply does"
                .to_owned(),
        });
    }
    if let Some((other, provider)) = (state.resources.get(&intent.address))
        .map(|r| (r.certificate_id.clone(), r.args.provider.clone()))
        && other != id
        && Some(&other) != intent.supersedes.as_ref()
        && Some(&other) != intent.old_certificate_id.as_ref()
        && !state.deposed.iter().any(|d| d.certificate_id == other)
    {
        state.deposed.push(Deposed {
            address: intent.address.clone(),
            certificate_id: other,
            provider,
            since: Utc::now(),
            last_error: "another certplan run applied for this resource at the same time; one certificate is kept"
                .to_owned(),
        });
    }
    let declared = Declared {
        args: intent.args.clone(),
        prevent_destroy: intent.prevent_destroy,
        sensitive: intent.sensitive.clone(),
    };
    let failures = intent.validation_failures;
    record(state, &intent.address, id, &declared, lineage, intent.started_at, remote, failures);
    if let Some(r) = state.resources.get_mut(&intent.address) {
        r.replaced_because = intent.replaces_because.clone();
        if moves_account {
            r.first_deployments.clear();
        }
    }
    state.intents.retain(|i| i != intent);
    // The certificate a resource has is never one to delete (two racing runs each keep the
    // other's as deposed).
    state.deposed.retain(|d| d.certificate_id != id);
}

/// Which certificates a new one follows.
#[derive(Debug, Default)]
struct Lineage {
    /// The certificates it renews, the most recent first.
    renewed_from: Vec<CertificateId>,
    /// The certificate whose place it takes (renewal or replacement).
    succeeds: Option<CertificateId>,
    /// The certificate it is, when imported; otherwise the resource keeps the one it had.
    imported: Option<CertificateId>,
}

/// Builds the record of a certificate: the one place a [`ResourceState`] is made. The files
/// exported for the address stay recorded: they still hold the earlier certificate, and are
/// rewritten because of it.
#[allow(clippy::too_many_arguments)]
fn record(
    state: &mut State,
    address: &Address,
    id: &CertificateId,
    declared: &Declared,
    lineage: Lineage,
    applied_at: DateTime<Utc>,
    remote: Option<&RemoteCertificate>,
    validation_failures: u32,
) {
    let earlier = state.resources.get(address);
    let mut record = ResourceState {
        renewed_from: lineage.renewed_from,
        prevent_destroy: declared.prevent_destroy,
        sensitive: declared.sensitive.clone(),
        validation_failures,
        succeeds: lineage.succeeds,
        exports: earlier.map(|r| r.exports.clone()).unwrap_or_default(),
        first_deployments: earlier.map(|r| r.first_deployments.clone()).unwrap_or_default(),
        imported: lineage.imported.or_else(|| earlier.and_then(|r| r.imported.clone())),
        ..ResourceState::new(id.clone(), declared.args.clone(), applied_at)
    };
    if let Some(remote) = remote {
        record.observe(remote);
    }
    state.resources.insert(address.clone(), record);
}

/// Returns every certificate id state knows: recorded, renewed from, or deposed.
pub(crate) fn known_ids(state: &State) -> BTreeSet<CertificateId> {
    state
        .resources
        .values()
        .flat_map(|r| std::iter::once(&r.certificate_id).chain(&r.renewed_from))
        .chain(state.deposed.iter().map(|d| &d.certificate_id))
        .cloned()
        .collect()
}

/// Brings the recorded status and dates of every certificate up to what the cloud reported;
/// returns whether anything changed.
pub fn record_observed(state: &mut State, observed: &Observed) -> bool {
    let mut changed = false;
    for r in state.resources.values_mut() {
        if let Some(remote) = observed.get(&r.certificate_id) {
            let before = (r.status, r.not_before, r.not_after, r.validation.clone());
            r.observe(remote);
            changed |= before != (r.status, r.not_before, r.not_after, r.validation.clone());
        }
    }
    changed
}

#[cfg(test)]
mod tests {
    use certplan_core::{Address, CertificateArgs, DvAuthMethod};
    use certplan_state::{Intent, IntentKind, State};

    use super::Step;

    #[test]
    fn an_interrupted_order_finished_after_a_newer_certificate_is_deposed_not_recorded() {
        let address = Address::certificate("www");
        let started = chrono::Utc::now() - chrono::Duration::hours(2);
        let old = Intent {
            address: address.clone(),
            action: IntentKind::Create,
            args: CertificateArgs::new("www.example.com", DvAuthMethod::DnsAuto),
            prevent_destroy: false,
            sensitive: Default::default(),
            validation_failures: 0,
            old_certificate_id: None,
            old_provider: None,
            supersedes: None,
            started_at: started,
            replaces_because: None,
            order: Some("https://ca.example/order/1".to_owned()),
            retry_after: None,
        };
        // The order for what was declared then; a newer one, for what is declared now, is
        // recorded first.
        let newer = Intent {
            started_at: started + chrono::Duration::hours(1),
            order: Some("https://ca.example/order/2".to_owned()),
            ..old.clone()
        };
        let mut state = State::new();
        for step in [Step::Journal(old.clone()), Step::Journal(newer.clone())] {
            step.apply(&mut state);
        }
        Step::Adopt { intent: newer, id: "new00001".into(), remote: None }.apply(&mut state);
        Step::Adopt { intent: old, id: "old00001".into(), remote: None }.apply(&mut state);
        assert_eq!(state.resources[&address].certificate_id, "new00001");
        let deposed: Vec<&str> = state.deposed.iter().map(|d| d.certificate_id.as_str()).collect();
        assert_eq!(deposed, ["old00001"], "kept to be deleted, recorded nowhere else");
        assert!(state.intents.is_empty());
    }
}
