//! [`Accounts`]: a run's clients, one per provider configuration — one per account, each with
//! its own credentials, pacer and retries — and which account a client's credentials reach
//! (STS `GetCallerIdentity`).

use std::collections::BTreeMap;

use certplan_core::ProviderRef;
use serde::{Deserialize, Serialize};

use crate::{Client, Error, Service};

/// One account's clients, with the same credentials: its SSL API, and its DNS records
/// (DNSPod), each paced on its own as the service limits each.
#[derive(Debug, Clone)]
pub struct Account {
    pub ssl: Client,
    pub dns: Client,
}

impl Account {
    /// The account `ssl`'s credentials reach, with a DNSPod client beside it.
    pub fn new(ssl: Client) -> Self {
        let dns = ssl.sibling(Service::DNSPOD);
        Account { ssl, dns }
    }
}

/// The accounts a run works in, by the provider configuration that names each.
#[derive(Debug, Clone, Default)]
pub struct Accounts {
    accounts: BTreeMap<ProviderRef, Account>,
}

impl Accounts {
    pub fn new(accounts: impl IntoIterator<Item = (ProviderRef, Account)>) -> Self {
        Accounts { accounts: accounts.into_iter().collect() }
    }

    /// The default provider's account alone, reached with `ssl`.
    pub fn single(ssl: Client) -> Self {
        Accounts::new([(ProviderRef::DEFAULT, Account::new(ssl))])
    }

    /// Returns the account `provider` names.
    pub fn get(&self, provider: &ProviderRef) -> Result<&Account, Error> {
        self.accounts.get(provider).ok_or_else(|| Error::NoProvider { provider: provider.clone() })
    }

    pub fn iter(&self) -> impl Iterator<Item = (&ProviderRef, &Account)> {
        self.accounts.iter()
    }
}

#[derive(Debug, Serialize)]
struct GetCallerIdentityRequest {}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct GetCallerIdentityResponse {
    #[serde(default)]
    account_id: Option<String>,
}

impl Client {
    /// Returns the account the credentials belong to: its root UIN (`AccountId`), whoever the
    /// caller is (the root account, a sub-user, a role). Asked of STS with this client's
    /// credentials and pacing.
    pub async fn account_id(&self) -> Result<String, Error> {
        const ACTION: &str = "GetCallerIdentity";
        // STS is global, but requires the common `Region` parameter: any region answers.
        const REGION: &str = "ap-guangzhou";
        let sts = self.sibling(Service::STS).in_region(REGION);
        let (resp, request_id): (GetCallerIdentityResponse, _) =
            sts.call_answered(ACTION, &GetCallerIdentityRequest {}).await?;
        resp.account_id.filter(|id| !id.trim().is_empty()).ok_or_else(|| {
            sts.malformed_answer(ACTION, &request_id, "the answer has no AccountId".to_owned())
        })
    }
}
