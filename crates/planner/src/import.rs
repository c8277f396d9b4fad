//! `import` blocks in a plan: which are still to be done, and what the certificate each names
//! is, as the plan compares it with the configuration. A block whose certificate is recorded
//! at its address already is done, and plans nothing.

use std::collections::BTreeMap;

use certplan_core::{Address, CertificateArgs, Observed, Prior, RemoteCertificate};
use certplan_parser::{Config, Import};
use certplan_state::State;

use crate::PlanError;

/// The import blocks of a configuration, by address.
pub(crate) struct Imports<'c> {
    by_address: BTreeMap<&'c Address, &'c Import>,
}

impl<'c> Imports<'c> {
    pub(crate) fn new(config: &'c Config) -> Self {
        Imports { by_address: config.imports.iter().map(|i| (&i.to, i)).collect() }
    }

    /// Returns the import still to be done at `address` — its certificate as the cloud holds
    /// it (`found`, read for the plan whether or not it refreshes) — or `None` when there is
    /// none or it is done. An import the state contradicts is an error: the address holds
    /// another certificate, or another address holds this one.
    pub(crate) fn pending<'o>(
        &self,
        address: &Address,
        state: &State,
        found: &'o Observed,
    ) -> Result<Option<(&'c Import, &'o RemoteCertificate)>, PlanError> {
        let Some(import) = self.by_address.get(address).copied() else {
            return Ok(None);
        };
        let error = |problem| {
            let (id, location) = (&import.id, &import.location);
            PlanError::Import(format!(
                "cannot import certificate {id} into {address} (the import block at {location}): {problem}"
            ))
        };
        match state.resources.get(address) {
            // Done: the certificate is here, or one that renewed or replaced it.
            Some(r) if r.holds_import(&import.id) => return Ok(None),
            Some(r) => {
                return Err(error(format!(
                    "{address} already holds certificate {}; `certplan state rm '{address}'` first to replace it, or remove the import block",
                    r.certificate_id
                )));
            }
            None => {}
        }
        if let Some((other, _)) =
            state.resources.iter().find(|(_, r)| r.certificate_id == import.id)
        {
            return Err(error(format!(
                "it is recorded as {other} already; to give it this address, use a moved block (from = {other}) instead of the import block"
            )));
        }
        match found.get(&import.id) {
            Some(remote) => Ok(Some((import, remote))),
            None => Err(error(
                "no such certificate in this account: check the id in the console or with tccli (`tccli ssl DescribeCertificates`)".to_owned(),
            )),
        }
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
