//! Adopting certificates that already exist, without a new application: `certplan import`,
//! `import --from-terraform`, and an `import` block before its change (a method on the run).
//! What is recorded is built by the `step` module, as for a certificate applied for.

use std::collections::BTreeMap;

use certplan_core::{
    Address, CertificateId, Observed, Plan, ProviderRef, RemoteCertificate, ResourceChange,
};
use certplan_provider::{Accounts, Client};
use certplan_state::{State, StateError, StateStore};

use crate::error::{ChangeError, ImportError};
use crate::event::Event;
use crate::run::{Failure, Run};
use crate::step::{Declared, Step, record_import};

/// Records the existing certificate `id` as `address`, without a new application: the
/// declared arguments, with what the cloud reports of validation method, alias and project.
/// Saves the state; returns the certificate as the cloud reports it.
pub async fn import(
    client: &Client,
    state: &mut State,
    store: &mut dyn StateStore,
    address: &Address,
    id: &CertificateId,
    declared: &Declared,
) -> Result<RemoteCertificate, ImportError> {
    let remote =
        client.certificate(id).await.map_err(|error| ImportError::Read { id: id.into(), error })?;
    if remote.domain != declared.args.domain {
        return Err(ImportError::OtherDomain {
            id: id.into(),
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
    pub named: CertificateId,
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

/// Reads what the plan's imports are to record — one `DescribeCertificates` per 1000 ids, as
/// the plan read them — so that an apply of many `import` blocks does not make a call for each.
/// What is not read here (the call failed; the certificate is gone) is read again when its
/// import comes, and fails then.
pub(crate) async fn read_ahead(plan: &Plan, accounts: &Accounts) -> Observed {
    let mut ids: BTreeMap<&ProviderRef, Vec<CertificateId>> = BTreeMap::new();
    for c in plan.changes.iter().filter(|c| c.importing.is_some()) {
        if let (Some(before), Some(after)) = (&c.before, &c.after) {
            ids.entry(&after.provider).or_default().push(before.id.clone());
        }
    }
    let mut observed = Observed::new();
    for (provider, ids) in ids {
        if let Ok(account) = accounts.get(provider) {
            let read = crate::read::certificates(&account.ssl, &ids).await;
            observed.extend(read.unwrap_or_default());
        }
    }
    observed
}

impl Run<'_, '_> {
    /// Records the certificate an `import` block names (`id`) as the change's resource, before the
    /// change itself, which the plan made against it: `id`, or the newest certificate that renewed
    /// it outside certplan, as the plan chose (`before`).
    pub(crate) async fn import_first(
        &self,
        change: &ResourceChange,
        id: &str,
    ) -> Result<(), Failure> {
        let Run { ledger, on_event, .. } = *self;
        let address = &change.address;
        let (Some(args), Some(prior)) = (&change.after, &change.before) else {
            return Err(ChangeError::IncompletePlan { what: "certificate to import" }.into());
        };
        let client = &self.account(&args.provider)?.ssl;
        let holder = || ledger.read(|s| s.resources.get(address).cloned());
        match holder() {
            // Recorded already (a merge, or a saved plan applied twice): the change goes on.
            Some(r) if r.holds(id) && r.certificate_id == prior.id => return Ok(()),
            Some(r) => {
                let other = r.certificate_id;
                return Err(ChangeError::ImportTaken { id: id.into(), other }.into());
            }
            None => {}
        }
        // Read as the plan read it (DescribeCertificates), so that what is recorded is what the
        // plan compared with the configuration: read ahead with the others, or now.
        let remote = match self.read_ahead.get(&prior.id) {
            Some(remote) => remote.clone(),
            None => {
                let read = client.certificates_by_id(std::slice::from_ref(&prior.id)).await;
                let found =
                    read.map_err(|error| ChangeError::ImportRead { id: id.into(), error })?;
                let Some(remote) = found.into_iter().find(|r| r.id == prior.id) else {
                    let recorded = prior.id.clone();
                    return Err(ChangeError::ImportGone { id: id.into(), recorded }.into());
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
        let named = CertificateId::from(id);
        ledger.record(Step::Import { address: address.clone(), declared, remote, named }).await?;
        // Another run (without the lock) may have recorded the address meanwhile: then the import
        // did not happen, and neither may the change planned on top of it.
        match holder() {
            Some(r) if r.certificate_id == prior.id => {}
            other => {
                let other = other.map_or_else(|| "no certificate".into(), |r| r.certificate_id);
                return Err(ChangeError::ImportTaken { id: id.into(), other }.into());
            }
        }
        on_event(Event::Imported { address, id: &prior.id });
        Ok(())
    }
}
