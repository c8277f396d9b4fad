//! The Tencent Cloud accounts a sandbox serves, kept apart as the real service keeps them: by
//! the SecretId a request is signed with. [`SandboxAccount`] is an account as the options
//! declare it (its credentials, its account id, its DNS zones); [`Account`] is the sandbox as
//! one account sees it — what an API request, or a control call for that account, acts on.
//! This module decides only which account's data is locked; what is done with it is the
//! actions' business.

use std::ops::{Deref, DerefMut};

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};

use crate::dns::DnsZone;
use crate::store::{AccountData, Store};
use crate::{
    DEFAULT_SECRET_ID, DEFAULT_SECRET_KEY, Sandbox, SeedCertificate, SeedError, StoreError,
    StoreGuard, StoredCertificate,
};

/// An account a sandbox serves: the credentials its requests are signed with, its account id
/// and the DNS zones it holds from the start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SandboxAccount {
    pub secret_id: String,
    pub secret_key: String,
    /// The account's id (its UIN): 10 digits, `GetCallerIdentity`'s `AccountId`.
    pub uin: String,
    /// The DNS zones (DNSPod domains) the account holds from the start; the control API adds
    /// more.
    pub dns_zones: Vec<DnsZone>,
}

impl SandboxAccount {
    /// Returns an account with these credentials, no zones, and an id derived from the
    /// SecretId, the same on every run.
    pub fn new(secret_id: impl Into<String>, secret_key: impl Into<String>) -> Self {
        let secret_id = secret_id.into();
        let uin = uin_of(&secret_id);
        SandboxAccount { secret_id, secret_key: secret_key.into(), uin, dns_zones: Vec::new() }
    }

    /// Returns the account a sandbox gives `name` (a provider alias, say): SecretId
    /// `AKIDcertplanSandbox{name}` with a key derived from the name, the same on every run, so
    /// that whoever knows the name can sign for it. Sandbox credentials, not secrets.
    pub fn named(name: &str) -> Self {
        SandboxAccount::new(
            format!("AKIDcertplanSandbox{name}"),
            format!("{DEFAULT_SECRET_KEY}-{name}"),
        )
    }
}

/// The sandbox's own account: [`DEFAULT_SECRET_ID`] and [`DEFAULT_SECRET_KEY`].
impl Default for SandboxAccount {
    fn default() -> Self {
        SandboxAccount::new(DEFAULT_SECRET_ID, DEFAULT_SECRET_KEY)
    }
}

/// Derives an account id from a SecretId: `1` and 9 digits of its SHA-256, as real account ids
/// are 10 digits that start with 1.
fn uin_of(secret_id: &str) -> String {
    let digest = Sha256::digest(secret_id.as_bytes());
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    format!("1{:09}", u64::from_be_bytes(first) % 1_000_000_000)
}

/// A sandbox as one of its accounts sees it. Cheap to copy.
#[derive(Debug, Clone, Copy)]
pub struct Account<'s> {
    sandbox: &'s Sandbox,
    options: &'s SandboxAccount,
}

/// The store locked (see [`StoreGuard`]), seen as one account's data; the whole store — the
/// CA, the ids of every account — stays reachable for what must be unique across accounts.
pub(crate) struct AccountGuard<'a> {
    store: StoreGuard<'a>,
    secret_id: &'a str,
}

impl Deref for AccountGuard<'_> {
    type Target = AccountData;
    fn deref(&self) -> &AccountData {
        self.store.account(self.secret_id).expect("the guard made the account's data")
    }
}

impl DerefMut for AccountGuard<'_> {
    fn deref_mut(&mut self) -> &mut AccountData {
        self.store.account_mut(self.secret_id)
    }
}

impl AccountGuard<'_> {
    /// Returns the whole store.
    pub(crate) fn store_mut(&mut self) -> &mut Store {
        &mut self.store
    }

    /// Returns a new certificate id that no certificate of any account has.
    pub(crate) fn unused_id(&self) -> String {
        self.store.unused_id()
    }
}

impl<'s> Account<'s> {
    pub(crate) fn new(sandbox: &'s Sandbox, options: &'s SandboxAccount) -> Self {
        Account { sandbox, options }
    }

    /// Returns the account as the options declare it.
    pub fn options(&self) -> &'s SandboxAccount {
        self.options
    }

    pub(crate) fn sandbox(&self) -> &'s Sandbox {
        self.sandbox
    }

    /// Adds issued certificates for `domains` directly, without the API (benchmarks seed
    /// thousands this way); returns their ids.
    pub fn seed_issued(&self, domains: &[String]) -> Result<Vec<String>, StoreError> {
        let (mut store, now) = self.advanced()?;
        let ids = store.store_mut().seed_issued(&self.options.secret_id, domains, now);
        self.persist(&store)?;
        Ok(ids)
    }

    /// Adds one issued certificate of the kind and end date `seed` asks directly, without the
    /// API and its quotas (see [`SeedKind`](crate::SeedKind)); returns its id.
    pub fn seed_certificate(&self, seed: &SeedCertificate) -> Result<String, SeedError> {
        let (mut store, now) = self.advanced()?;
        let id = store.store_mut().unused_seed_id();
        store.insert(crate::seed::certificate(&id, seed, now)?);
        self.persist(&store)?;
        Ok(id)
    }

    /// Returns the account's certificates, oldest application first.
    pub fn certificates(&self) -> Result<Vec<StoredCertificate>, StoreError> {
        Ok(self.advanced()?.0.certificates())
    }

    /// Locks the store as the account's data, with the lifecycle and deploy tasks moved
    /// forward to now (see [`Sandbox::advanced`]).
    pub(crate) fn advanced(&self) -> Result<(AccountGuard<'s>, DateTime<Utc>), StoreError> {
        let (store, now) = self.sandbox.advanced()?;
        Ok((self.guard(store), now))
    }

    /// Locks the store as the account's data, as it stands.
    pub(crate) fn store(&self) -> AccountGuard<'s> {
        self.guard(self.sandbox.store())
    }

    fn guard(&self, mut store: StoreGuard<'s>) -> AccountGuard<'s> {
        // An account holds nothing until it first does; from here on its data exists, for the
        // guard to deref to.
        store.account_mut(&self.options.secret_id);
        AccountGuard { store, secret_id: &self.options.secret_id }
    }

    /// Saves the whole store the guard holds.
    pub(crate) fn persist(&self, guard: &AccountGuard<'_>) -> Result<(), StoreError> {
        self.sandbox.persist(&guard.store)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn account_ids_are_ten_digits_from_the_secret_id_and_named_accounts_are_stable() {
        let account = SandboxAccount::new("AKIDone", "key");
        assert_eq!(account.uin.len(), 10);
        assert!(account.uin.starts_with('1') && account.uin.bytes().all(|b| b.is_ascii_digit()));
        assert_eq!(account.uin, SandboxAccount::new("AKIDone", "another key").uin);
        assert_ne!(account.uin, SandboxAccount::new("AKIDtwo", "key").uin);

        let prod = SandboxAccount::named("prod");
        assert_eq!(prod.secret_id, "AKIDcertplanSandboxprod");
        assert_eq!(prod, SandboxAccount::named("prod"), "the same on every call");
        assert_ne!(prod.secret_key, SandboxAccount::named("staging").secret_key);
        // The same on every run and release: people, scripts and states keep account ids.
        let default = SandboxAccount::default();
        assert_eq!(
            (default.secret_id.as_str(), default.uin.as_str()),
            (DEFAULT_SECRET_ID, "1597340547")
        );
    }
}
