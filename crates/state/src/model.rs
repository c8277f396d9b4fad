//! The state model: what certplan records of each applied certificate, of the applications
//! still in flight, of the certificates a replacement left to delete, and of the outputs.
//!
//! Data, and the few rules of changing it (a new state's lineage, what an observation of the
//! cloud updates); how the model is written to a file is `format`'s business, where it is kept
//! `store`'s. No secret belongs here — a CSR key password is kept only as its digest.

use std::collections::{BTreeMap, BTreeSet};

use certplan_core::{
    Action, Address, CertStatus, CertificateArgs, CertificateId, Deployment, ExportRecord,
    ProviderRef, RemoteCertificate, ValidationRecord,
};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::FORMAT_VERSION;

/// Everything certplan has applied, as of `serial`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct State {
    pub format_version: u32,
    /// Fixed when the state is first created; tells two unrelated states apart.
    pub lineage: String,
    /// Incremented on every save.
    pub serial: u64,
    /// The certplan version that wrote this state.
    pub certplan_version: String,
    pub resources: BTreeMap<Address, ResourceState>,
    /// Certificates a replacement superseded but could not delete yet; every apply retries.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub deposed: Vec<Deposed>,
    /// Applications for certificates made (or about to be made) whose result is not recorded
    /// yet. A run that finds one reconciles it with the cloud before doing anything else.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub intents: Vec<Intent>,
    /// The configuration's outputs as of the last apply.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub outputs: BTreeMap<String, StoredOutput>,
    /// The cloud and account each provider configuration's certificates live in: a state is
    /// never used against another. Written `cloud` (one object, the default provider's) before
    /// there were several; absent in states written before certplan recorded it.
    #[serde(default, alias = "cloud", skip_serializing_if = "Clouds::is_empty")]
    pub clouds: Clouds,
}

/// Which cloud, and which account in it, one provider configuration's certificates live in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cloud {
    /// The API endpoint, or for the embedded sandbox, where its data is kept.
    pub endpoint: String,
    /// Whether it is a sandbox certplan runs itself (`--sandbox`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub sandbox: bool,
    /// The account (its root UIN, as `GetCallerIdentity` names it) the credentials reached,
    /// once a run has asked; keys may be rotated, the account stays.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
    /// The account's yearly limit of free certificates, as the service said it when it
    /// refused one (`FailedOperation.ExceedsFreeLimit`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub free_limit: Option<u64>,
}

impl Cloud {
    /// Returns true when `other` may be the same cloud and account: the same endpoint, and no
    /// two different accounts known.
    pub fn matches(&self, other: &Cloud) -> bool {
        let accounts_agree = match (&self.account, &other.account) {
            (Some(a), Some(b)) => a == b,
            _ => true,
        };
        self.endpoint == other.endpoint && self.sandbox == other.sandbox && accounts_agree
    }
}

impl std::fmt::Display for Cloud {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.sandbox {
            write!(f, "the embedded sandbox ({})", self.endpoint)?;
        } else {
            f.write_str(&self.endpoint)?;
        }
        match &self.account {
            Some(account) => write!(f, ", account {account}"),
            None => Ok(()),
        }
    }
}

/// The cloud of each provider configuration (see [`Cloud`]).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct Clouds(BTreeMap<ProviderRef, Cloud>);

impl Clouds {
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn get(&self, provider: &ProviderRef) -> Option<&Cloud> {
        self.0.get(provider)
    }

    pub fn get_mut(&mut self, provider: &ProviderRef) -> Option<&mut Cloud> {
        self.0.get_mut(provider)
    }

    /// Records `cloud` as `provider`'s.
    pub fn insert(&mut self, provider: ProviderRef, cloud: Cloud) {
        self.0.insert(provider, cloud);
    }

    pub fn iter(&self) -> impl Iterator<Item = (&ProviderRef, &Cloud)> {
        self.0.iter()
    }
}

impl<'de> Deserialize<'de> for Clouds {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        /// One cloud is what states and saved plans recorded before there were several: the
        /// default provider's.
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Written {
            One(Cloud),
            Each(BTreeMap<ProviderRef, Cloud>),
        }
        Ok(match Written::deserialize(d)? {
            Written::One(cloud) => Clouds([(ProviderRef::DEFAULT, cloud)].into()),
            Written::Each(clouds) => Clouds(clouds),
        })
    }
}

/// An output's value as of the last apply.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredOutput {
    pub value: serde_json::Value,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub sensitive: bool,
}

/// A journal entry written before `ApplyCertificate` and removed with its result, so that a
/// response lost to a crash or a dropped connection is found again instead of applied for twice.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Intent {
    pub address: Address,
    /// What the call was for.
    pub action: IntentKind,
    /// The arguments applied for (the password only as a digest).
    pub args: CertificateArgs,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub prevent_destroy: bool,
    /// The arguments that come from sensitive variables, recorded with the certificate.
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub sensitive: BTreeSet<String>,
    /// How many applications in a row for this resource ended with validation failing, this
    /// one's predecessors counted (see [`ResourceState::validation_failures`]).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub validation_failures: u32,
    /// The certificate being renewed or replaced.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub old_certificate_id: Option<CertificateId>,
    /// The provider whose account holds `old_certificate_id`, when it is not `args`' (a
    /// resource moved to another account): where the old one is deleted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub old_provider: Option<ProviderRef>,
    /// The certificate recorded for the address when the application was made (a renewed,
    /// replaced, revoked or deleted one): the only one its result may take the place of. Any
    /// other found there was recorded by another run meanwhile, and is kept, not dropped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub supersedes: Option<CertificateId>,
    /// When the call was about to be made; a certificate it created was inserted after this.
    pub started_at: DateTime<Utc>,
    /// Why the certificate it replaces had to be replaced, when the cloud lost it or made it
    /// unusable (`gone`, `revoked`, `cancelled`…): recorded with the new certificate, so that
    /// a second replacement for the same reason before it was ever issued is seen as a loop.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replaces_because: Option<String>,
    /// For a certificate ordered from an ACME CA: the order's URL, journaled as soon as the CA
    /// answers, so that an interrupted run's order is resumed (finalized once, uploaded once),
    /// never placed again. Without it, no order was made, or none that was finalized.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order: Option<String>,
    /// For an ACME order the CA refused for its rate limits: when it says to try again. The
    /// intent stays journaled until then, and the resource is not ordered for before it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after: Option<DateTime<Utc>>,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// What a journaled application is for; written as the plan's action of the same name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum IntentKind {
    Create,
    Renew,
    Replace,
}

impl IntentKind {
    /// Returns the kind of application `action` makes; `None` for actions that make none.
    pub fn of(action: Action) -> Option<IntentKind> {
        match action {
            Action::Create => Some(IntentKind::Create),
            Action::Renew => Some(IntentKind::Renew),
            Action::Replace => Some(IntentKind::Replace),
            Action::NoOp | Action::Update | Action::Delete | Action::Forget => None,
        }
    }
}

/// An old certificate left behind by a replacement, still to be deleted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Deposed {
    pub address: Address,
    pub certificate_id: CertificateId,
    /// The provider configuration whose account holds it.
    #[serde(default, skip_serializing_if = "ProviderRef::is_default")]
    pub provider: ProviderRef,
    pub since: DateTime<Utc>,
    /// Why the last delete failed.
    pub last_error: String,
}

/// One applied certificate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResourceState {
    pub certificate_id: CertificateId,
    /// The arguments the certificate was applied for with (the password only as a digest).
    pub args: CertificateArgs,
    pub status: CertStatus,
    pub not_before: Option<DateTime<Utc>>,
    pub not_after: Option<DateTime<Utc>>,
    /// The certificates this one replaced by renewal, the most recent first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub renewed_from: Vec<CertificateId>,
    /// The resource's `lifecycle { prevent_destroy }` when last applied: it still protects the
    /// certificate after its block is removed from the configuration.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub prevent_destroy: bool,
    pub applied_at: DateTime<Utc>,
    /// While the certificate waits for domain validation: the DNS record or file to publish.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub validation: Vec<ValidationRecord>,
    /// The arguments that came from sensitive variables when last applied: a plan to delete the
    /// certificate, made once its block is gone, still hides them.
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub sensitive: BTreeSet<String>,
    /// How many certificates in a row were applied for this resource and failed validation
    /// before this one: after two, certplan applies again only when asked (`--replace`),
    /// because the cause is outside certplan. Cleared once a certificate is issued.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub validation_failures: u32,
    /// The certificate this one took the place of (by renewal, reissue or replacement): the
    /// cloud resources serving that one are this one's to take over (`deploy` blocks).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub succeeds: Option<CertificateId>,
    /// The deployment tasks that move `succeeds`'s cloud resources to this certificate, with
    /// their outcome per cloud resource.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub deployments: Vec<Deployment>,
    /// The first deployments of the resource's certificates to named instances (`deploy {
    /// instances }`): kept from one certificate to the next, whose renewals move those
    /// instances along with the rest.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub first_deployments: Vec<certplan_core::FirstDeployment>,
    /// The PEM files written for this resource (of this certificate or, until rewritten, of
    /// an earlier one): where, which certificate, digests of the public files — never a key.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exports: Vec<ExportRecord>,
    /// The certificate an import recorded at this address. It stays through renewals and
    /// replacements, so that an `import` block left in the configuration is known to be done.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub imported: Option<CertificateId>,
    /// The expiry the cloud reported when certplan first saw the certificate issued. Compared
    /// with `applied_at`, it tells a certificate that was due the moment it was issued (the
    /// service's dates, or this machine's clock, are off): applying again would give the same.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issued_expiry: Option<DateTime<Utc>>,
    /// Why the certificate it replaced had to be replaced (see `Intent::replaces_because`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replaced_because: Option<String>,
}

impl ResourceState {
    /// The record of certificate `id`, applied for with `args` at `applied_at` and not seen
    /// issued yet: nothing delivered, renewed or validated.
    pub fn new(
        certificate_id: CertificateId,
        args: CertificateArgs,
        applied_at: DateTime<Utc>,
    ) -> Self {
        ResourceState {
            certificate_id,
            args,
            status: CertStatus::Pending,
            not_before: None,
            not_after: None,
            renewed_from: Vec::new(),
            prevent_destroy: false,
            applied_at,
            validation: Vec::new(),
            sensitive: BTreeSet::new(),
            validation_failures: 0,
            succeeds: None,
            deployments: Vec::new(),
            first_deployments: Vec::new(),
            exports: Vec::new(),
            imported: None,
            issued_expiry: None,
            replaced_because: None,
        }
    }

    /// Returns this record as renewed by the certificate `id` (made outside certplan): the
    /// same arguments and settings, the chain extended; status and dates come from observing it.
    pub fn renewed_as(&self, id: &str) -> Self {
        let mut renewed = self.clone();
        renewed.succeeds = self.serving();
        let old = std::mem::replace(&mut renewed.certificate_id, CertificateId::from(id));
        renewed.renewed_from.insert(0, old);
        renewed.deployments.clear();
        renewed.validation.clear();
        renewed
    }

    /// Whether this record holds the certificate `id`: it is this one, the one imported here,
    /// or one this one renewed or took the place of.
    pub fn holds(&self, id: &str) -> bool {
        self.certificate_id == id
            || self.imported.as_deref() == Some(id)
            || self.succeeds.as_deref() == Some(id)
            || self.renewed_from.iter().any(|old| old == id)
    }

    /// Returns the certificate whose cloud resources a successor of this one takes over: this
    /// one — or, when it was never issued (nothing can be bound to a certificate that never
    /// was), the one it was itself to take over from, which still serves.
    pub fn serving(&self) -> Option<CertificateId> {
        let never_issued = matches!(
            self.status,
            CertStatus::Pending
                | CertStatus::DnsRecordAdded
                | CertStatus::Failed
                | CertStatus::Cancelling
                | CertStatus::Cancelled
        );
        if never_issued { self.succeeds.clone() } else { Some(self.certificate_id.clone()) }
    }

    /// Records what the cloud reports of the certificate: status, dates, and while it waits
    /// for validation, what to publish.
    pub fn observe(&mut self, remote: &RemoteCertificate) {
        // Seen issued for the first time (it may be reported expired at once).
        let issued = |s: CertStatus| matches!(s, CertStatus::Issued | CertStatus::Expired);
        if !issued(self.status) && issued(remote.status) {
            self.issued_expiry = remote.not_after;
        }
        self.status = remote.status;
        if remote.status == CertStatus::Issued {
            self.validation_failures = 0;
        }
        self.not_before = remote.not_before.or(self.not_before);
        self.not_after = remote.not_after.or(self.not_after);
        // Only the detail call reports what validation needs; a listing leaves it unsaid.
        if !remote.status.is_pending() {
            self.validation.clear();
        } else if !remote.validation.is_empty() {
            self.validation = remote.validation.clone();
        }
    }
}

impl State {
    /// Creates an empty state with a new lineage.
    pub fn new() -> Self {
        State {
            format_version: FORMAT_VERSION,
            lineage: uuid::Uuid::new_v4().to_string(),
            serial: 0,
            certplan_version: env!("CARGO_PKG_VERSION").to_owned(),
            resources: BTreeMap::new(),
            deposed: Vec::new(),
            intents: Vec::new(),
            outputs: BTreeMap::new(),
            clouds: Clouds::default(),
        }
    }

    /// Returns the provider whose account holds certificate `id` of `address`: a deposed one's
    /// as recorded, else the resource's (its predecessors are where it is).
    pub fn provider_of(&self, address: &Address, id: &str) -> ProviderRef {
        match self.deposed.iter().find(|d| d.certificate_id == id) {
            Some(d) => d.provider.clone(),
            None => {
                self.resources.get(address).map(|r| r.args.provider.clone()).unwrap_or_default()
            }
        }
    }

    /// Renames the record of `from` (and the deposed certificates of that address) to `to`,
    /// unless `to` is recorded already. Returns whether it renamed anything.
    pub fn rename(&mut self, from: &Address, to: &Address) -> bool {
        if self.resources.contains_key(to) {
            return false;
        }
        let Some(record) = self.resources.remove(from) else { return false };
        self.resources.insert(to.clone(), record);
        for d in self.deposed.iter_mut().filter(|d| &d.address == from) {
            d.address = to.clone();
        }
        // An application or order in flight goes with the resource it is for.
        for i in self.intents.iter_mut().filter(|i| &i.address == from) {
            i.address = to.clone();
        }
        true
    }
}

impl Default for State {
    fn default() -> Self {
        State::new()
    }
}

/// Returns a state with one issued certificate, `www`, for tests.
#[cfg(test)]
pub(crate) fn sample() -> State {
    use certplan_core::DvAuthMethod;
    let mut state = State::new();
    state.resources.insert(
        Address::certificate("www"),
        ResourceState {
            status: CertStatus::Issued,
            not_before: Some("2026-11-26T00:00:00Z".parse().expect("time")),
            not_after: Some("2027-02-24T00:00:00Z".parse().expect("time")),
            renewed_from: vec!["oldId001".into()],
            ..ResourceState::new(
                "a9TsmZkL".into(),
                CertificateArgs::new("www.example.com", DvAuthMethod::DnsAuto),
                "2026-11-26T00:00:01Z".parse().expect("time"),
            )
        },
    );
    state
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_intent_is_journaled_under_its_action_name() {
        use Action::*;
        for action in [Create, Renew, Replace] {
            let kind = IntentKind::of(action).expect("applies for a certificate");
            let written = serde_json::to_value(kind).expect("serialises");
            assert_eq!(written, action.name(), "{kind:?}");
            assert_eq!(serde_json::from_value::<IntentKind>(written).ok(), Some(kind));
        }
        for action in [NoOp, Update, Delete, Forget] {
            assert_eq!(IntentKind::of(action), None, "{action:?}");
        }
    }

    #[test]
    fn rename_moves_a_record_and_its_deposed_certificates_but_never_over_another() {
        let mut state = sample();
        let (www, web) = (Address::certificate("www"), Address::certificate("web"));
        state.deposed.push(Deposed {
            address: www.clone(),
            certificate_id: "old".into(),
            provider: Default::default(),
            since: "2026-11-26T00:00:00Z".parse().expect("time"),
            last_error: String::new(),
        });
        assert!(state.rename(&www, &web));
        assert!(state.resources.contains_key(&web) && !state.resources.contains_key(&www));
        assert_eq!(state.deposed[0].address, web);
        let before = state.clone();
        assert!(!state.rename(&www, &web), "nothing left at www");
        state.resources.insert(www.clone(), state.resources[&web].clone());
        let mut other = state.clone();
        assert!(!other.rename(&www, &web), "web is taken");
        assert_eq!(other, state);
        assert_ne!(before, state);
    }
}
