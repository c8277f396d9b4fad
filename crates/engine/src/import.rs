//! Recording a certificate in state — one applied for (adopted from its intent) or one that
//! already existed (imported: `certplan import`, `import --from-terraform`, an `import` block
//! before its change) — built in one place, complete at the moment it is recorded.

use std::collections::BTreeSet;

use certplan_core::{
    Address, CertStatus, CertificateArgs, Observed, Plan, RemoteCertificate, ResourceChange,
};
use certplan_provider::Client;
use certplan_state::{Deposed, Intent, IntentKind, ResourceState, State, StateError, StateStore};
use chrono::{DateTime, Utc};

use crate::apply::Failure;
use crate::ledger::{Ledger, Step};
use crate::{ChangeError, Event, ImportError};

/// What the configuration declares for a certificate besides its arguments, recorded with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Declared {
    pub args: CertificateArgs,
    pub prevent_destroy: bool,
    /// The arguments that come from sensitive variables.
    pub sensitive: BTreeSet<String>,
}

/// Records the existing certificate `id` as `address`, without a new application: the
/// declared arguments, with what the cloud reports of validation method, alias and project.
/// Saves the state; returns the certificate as the cloud reports it.
pub async fn import(
    client: &Client,
    state: &mut State,
    store: &mut dyn StateStore,
    address: &Address,
    id: &str,
    declared: &Declared,
) -> Result<RemoteCertificate, ImportError> {
    let remote = client
        .certificate(id)
        .await
        .map_err(|error| ImportError::Read { id: id.to_owned(), error })?;
    if remote.domain != declared.args.domain {
        return Err(ImportError::OtherDomain {
            id: id.to_owned(),
            actual: remote.domain,
            address: address.clone(),
            declared: declared.args.domain.clone(),
        });
    }
    record_import(state, address, declared, &remote, id);
    store.save(state)?;
    Ok(remote)
}

/// One certificate to import: the id named, and the certificate recorded for it — that one,
/// or the newest that renewed it outside certplan — as the cloud reported it.
#[derive(Debug, Clone)]
pub struct Adoption {
    pub address: Address,
    pub declared: Declared,
    pub named: String,
    pub remote: RemoteCertificate,
}

/// Records each certificate to import as its address, in one save: what `import` does for one,
/// for many (`import --from-terraform`).
pub fn import_all(
    state: &mut State,
    store: &mut dyn StateStore,
    adoptions: &[Adoption],
) -> Result<(), StateError> {
    for a in adoptions {
        record_import(state, &a.address, &a.declared, &a.remote, &a.named);
    }
    store.save(state)
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
    named: &str,
) {
    if state.resources.contains_key(address) {
        return;
    }
    let declared = Declared { args: remote.args_as_imported(&declared.args), ..declared.clone() };
    let applied_at = remote.inserted_at.unwrap_or_else(Utc::now);
    // A renewal made outside takes the place of the certificate named, as a refresh would
    // record it: what serves that one moves to it (`deploy` blocks).
    let followed = (remote.id != named).then(|| named.to_owned());
    let lineage = Lineage {
        imported: Some(named.to_owned()),
        renewed_from: followed.iter().cloned().collect(),
        succeeds: followed,
    };
    record(state, address, &remote.id, &declared, lineage, applied_at, Some(remote), 0);
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
    id: &str,
    remote: Option<&RemoteCertificate>,
) {
    let mut lineage = Lineage::default();
    if matches!(intent.action, IntentKind::Renew | IntentKind::Replace) {
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
    // A replaced certificate is kept to be deleted, in the same step that records its
    // replacement: until its delete is recorded, it is never recorded nowhere.
    if intent.action == IntentKind::Replace
        && let Some(old) = &intent.old_certificate_id
        && !state.deposed.iter().any(|d| &d.certificate_id == old)
    {
        state.deposed.push(Deposed {
            address: intent.address.clone(),
            certificate_id: old.clone(),
            since: intent.started_at,
            last_error: "replaced; the run replacing it deletes it, or a later apply does"
                .to_owned(),
        });
    }
    if let Some(other) = state.resources.get(&intent.address).map(|r| r.certificate_id.clone())
        && other != id
        && Some(&other) != intent.supersedes.as_ref()
        && Some(&other) != intent.old_certificate_id.as_ref()
        && !state.deposed.iter().any(|d| d.certificate_id == other)
    {
        state.deposed.push(Deposed {
            address: intent.address.clone(),
            certificate_id: other,
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
    state.intents.retain(|i| i != intent);
    // The certificate a resource has is never one to delete (two racing runs each keep the
    // other's as deposed).
    state.deposed.retain(|d| d.certificate_id != id);
}

/// Which certificates a new one follows.
#[derive(Debug, Default)]
struct Lineage {
    /// The certificates it renews, the most recent first.
    renewed_from: Vec<String>,
    /// The certificate whose place it takes (renewal or replacement).
    succeeds: Option<String>,
    /// The certificate it is, when imported; otherwise the resource keeps the one it had.
    imported: Option<String>,
}

/// Builds the record of a certificate: the one place a [`ResourceState`] is made. The files
/// exported for the address stay recorded: they still hold the earlier certificate, and are
/// rewritten because of it.
#[allow(clippy::too_many_arguments)]
fn record(
    state: &mut State,
    address: &Address,
    id: &str,
    declared: &Declared,
    lineage: Lineage,
    applied_at: DateTime<Utc>,
    remote: Option<&RemoteCertificate>,
    validation_failures: u32,
) {
    let mut record = ResourceState {
        certificate_id: id.to_owned(),
        args: declared.args.clone(),
        status: CertStatus::Pending,
        not_before: None,
        not_after: None,
        renewed_from: lineage.renewed_from,
        prevent_destroy: declared.prevent_destroy,
        applied_at,
        validation: Vec::new(),
        sensitive: declared.sensitive.clone(),
        validation_failures,
        succeeds: lineage.succeeds,
        deployments: Vec::new(),
        exports: state.resources.get(address).map(|r| r.exports.clone()).unwrap_or_default(),
        imported: lineage
            .imported
            .or_else(|| state.resources.get(address).and_then(|r| r.imported.clone())),
    };
    if let Some(remote) = remote {
        record.observe(remote);
    }
    state.resources.insert(address.clone(), record);
}

/// Reads what the plan's imports are to record — one `DescribeCertificates` per 1000 ids, as
/// the plan read them — so that an apply of many `import` blocks does not make a call for each.
/// What is not read here (the call failed; the certificate is gone) is read again when its
/// import comes, and fails then.
pub(crate) async fn read_ahead(plan: &Plan, client: &Client) -> Observed {
    let ids: Vec<String> = plan
        .changes
        .iter()
        .filter(|c| c.importing.is_some())
        .filter_map(|c| c.before.as_ref().map(|b| b.id.clone()))
        .collect();
    crate::certificates(client, &ids).await.unwrap_or_default()
}

/// Records the certificate an `import` block names (`id`) as the change's resource, before the
/// change itself, which the plan made against it: `id`, or the newest certificate that renewed
/// it outside certplan, as the plan chose (`before`).
pub(crate) async fn import_first(
    change: &ResourceChange,
    id: &str,
    ledger: &Ledger<'_>,
    client: &Client,
    read_ahead: &Observed,
    on_event: &(dyn Fn(Event<'_>) + Sync),
) -> Result<(), Failure> {
    let address = &change.address;
    let (Some(args), Some(prior)) = (&change.after, &change.before) else {
        return Err(ChangeError::IncompletePlan { what: "certificate to import" }.into());
    };
    let holder = |ledger: &Ledger<'_>| ledger.read(|s| s.resources.get(address).cloned());
    match holder(ledger) {
        // Recorded already (a merge, or a saved plan applied twice): the change goes on.
        Some(r) if r.holds(id) && r.certificate_id == prior.id => return Ok(()),
        Some(r) => {
            let other = r.certificate_id;
            return Err(ChangeError::ImportTaken { id: id.to_owned(), other }.into());
        }
        None => {}
    }
    // Read as the plan read it (DescribeCertificates), so that what is recorded is what the
    // plan compared with the configuration: read ahead with the others, or now.
    let remote = match read_ahead.get(&prior.id) {
        Some(remote) => remote.clone(),
        None => {
            let read = client.certificates_by_id(std::slice::from_ref(&prior.id)).await;
            let found =
                read.map_err(|error| ChangeError::ImportRead { id: id.to_owned(), error })?;
            let Some(remote) = found.into_iter().find(|r| r.id == prior.id) else {
                let recorded = prior.id.clone();
                return Err(ChangeError::ImportGone { id: id.to_owned(), recorded }.into());
            };
            remote
        }
    };
    let declared = Declared {
        args: args.clone(),
        prevent_destroy: change.prevent_destroy,
        sensitive: change.sensitive.clone(),
    };
    let (declared, remote) = (Box::new(declared), Box::new(remote));
    let named = id.to_owned();
    ledger.record(Step::Import { address: address.clone(), declared, remote, named }).await?;
    // Another run (without the lock) may have recorded the address meanwhile: then the import
    // did not happen, and neither may the change planned on top of it.
    match holder(ledger) {
        Some(r) if r.certificate_id == prior.id => {}
        other => {
            let other = other.map_or_else(|| "no certificate".to_owned(), |r| r.certificate_id);
            return Err(ChangeError::ImportTaken { id: id.to_owned(), other }.into());
        }
    }
    on_event(Event::Imported { address, id: &prior.id });
    Ok(())
}
