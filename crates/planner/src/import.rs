//! `import` blocks in a plan: which are still to be done, and what the certificate each names
//! is, as the plan compares it with the configuration. A block whose certificate is recorded
//! at its address already is done, and plans nothing.

use std::borrow::Cow;
use std::collections::BTreeMap;

use certplan_core::{
    Address, CertificateArgs, CertificateId, DriftKind, Observed, Prior, RemoteCertificate,
};
use certplan_parser::{Config, Import};
use certplan_state::{ResourceState, State};

use crate::PlanError;

/// The import blocks of a configuration, by address.
pub(crate) struct Imports<'c> {
    by_address: BTreeMap<&'c Address, &'c Import>,
    /// The certificates imports chose so far, and where: two blocks naming one certificate, or
    /// one and its renewal, would record it twice.
    chosen: BTreeMap<CertificateId, Address>,
}

impl<'c> Imports<'c> {
    pub(crate) fn new(config: &'c Config) -> Self {
        Imports {
            by_address: config.imports.iter().map(|i| (&i.to, i)).collect(),
            chosen: Default::default(),
        }
    }

    /// Returns the import still to be done at `address`, declared for `domain`: what the cloud
    /// holds (`found`, read for the plan whether or not it refreshes) of the certificate it
    /// names, or of the newest that renewed it outside certplan. `None` when there is none or
    /// it is done. An import the state or the cloud contradicts is an error: the address holds
    /// another certificate, another record holds this one, certplan is deleting it, the cloud
    /// does not have it, or it is for another domain.
    pub(crate) fn pending<'o>(
        &mut self,
        address: &Address,
        domain: &str,
        state: &State,
        found: &'o Observed,
    ) -> Result<Option<Pending<'c, 'o>>, PlanError> {
        let Some(import) = self.by_address.get(address).copied() else {
            return Ok(None);
        };
        let id = &import.id;
        let error = |problem| {
            let location = &import.location;
            PlanError::Import(format!(
                "cannot import certificate {id} into {address} (the import block at {location}): {problem}"
            ))
        };
        match state.resources.get(address) {
            // Done: the certificate is here, or one that renewed or replaced it.
            Some(r) if r.holds(id) => return Ok(None),
            Some(r) => {
                return Err(error(format!(
                    "{address} already holds certificate {}; `certplan state rm '{address}'` first to replace it, or remove the import block",
                    r.certificate_id
                )));
            }
            None => {}
        }
        if let Some(d) = state.deposed.iter().find(|d| d.certificate_id == id) {
            return Err(error(format!(
                "it is a certificate {} replaced, which certplan is to delete; remove the import block",
                d.address
            )));
        }
        if let Some((other, _)) = state.resources.iter().find(|(_, r)| r.holds(id)) {
            return Err(error(format!(
                "{other} holds it already; to give it this address, use a moved block (from = {other}) instead of the import block"
            )));
        }
        let Some(named) = found.get(id) else {
            return Err(error(
                "no such certificate in this account: check the id in the console or with tccli (`tccli ssl DescribeCertificates`)".to_owned(),
            ));
        };
        let (renewed, remote) = match certplan_core::successor(found, id) {
            Some((kind, newest)) => (Some(kind), newest),
            None => (None, named),
        };
        if remote.id != *id {
            let renewal = &remote.id;
            if let Some((other, _)) = state.resources.iter().find(|(_, r)| r.holds(renewal)) {
                return Err(error(format!(
                    "it was renewed as {renewal}, which {other} holds; remove the import block"
                )));
            }
            if state.deposed.iter().any(|d| d.certificate_id == renewal) {
                return Err(error(format!(
                    "it was renewed as {renewal}, which certplan is to delete; remove the import block"
                )));
            }
        }
        if remote.domain != domain {
            return Err(error(format!(
                "certificate {} is for {}, but {address} declares domain = \"{domain}\"; check the id",
                remote.id, remote.domain
            )));
        }
        if let Some(first) = self.chosen.insert(remote.id.clone(), address.clone()) {
            return Err(error(format!(
                "the import block of {first} records certificate {} too (one renewed the other); keep one of the blocks",
                remote.id
            )));
        }
        Ok(Some(Pending { import, remote, renewed }))
    }
}

/// An import still to be done.
#[derive(Debug, Clone)]
pub(crate) struct Pending<'c, 'o> {
    pub(crate) import: &'c Import,
    /// The certificate to record: the one named, or the newest that renewed it.
    pub(crate) remote: &'o RemoteCertificate,
    /// How the one named was followed to `remote`, when it was.
    pub(crate) renewed: Option<DriftKind>,
}

/// The declared arguments as the plan compares them with `recorded`: the CSR key password of
/// an imported certificate is unknown (the cloud does not report it), so declaring it after
/// the import is no change.
pub(crate) fn compared<'a>(
    declared: &'a CertificateArgs,
    recorded: Option<&ResourceState>,
) -> Cow<'a, CertificateArgs> {
    let unknown =
        recorded.is_some_and(|r| r.imported.is_some() && r.args.csr_key_password_digest.is_none());
    if unknown && declared.csr_key_password_digest.is_some() {
        Cow::Owned(CertificateArgs { csr_key_password_digest: None, ..declared.clone() })
    } else {
        Cow::Borrowed(declared)
    }
}

/// The certificate an import records, as the plan compares it with `declared`: what the cloud
/// reports of it over what it does not.
pub(crate) fn prior(remote: &RemoteCertificate, declared: &CertificateArgs) -> Prior {
    Prior {
        id: remote.id.clone(),
        args: remote.args_as_imported(declared),
        status: remote.status,
        not_after: remote.not_after,
        exists: true,
    }
}
