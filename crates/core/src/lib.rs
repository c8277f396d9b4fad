//! The vocabulary every certplan crate shares: resource addresses, the arguments of a certificate
//! (what is applied for), certificate statuses, the certificate as the cloud reports it, and the
//! [`Plan`] the planner makes and the engine carries out.
//!
//! Only plain data lives here. Parsing HCL, talking HTTP and deciding what to do belong to the
//! parser, provider and planner crates.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

mod acme;
mod attention;
mod backend;
mod delivery;
mod id;
mod plan;
mod provider;
mod renew_before;

pub use acme::{
    ACME_RESOURCE_TYPE, AcmeArgs, Challenge, DnsProvider, KeyType, LETS_ENCRYPT,
    LETS_ENCRYPT_STAGING, challenge_record,
};
pub use attention::{Attention, BoundResource, Concern, EXIT_ATTENTION};
pub use backend::{Backend, DEFAULT_STATE_FILE};
pub use delivery::{
    DEFAULT_HOOK_TIMEOUT, Delivery, DeployStatus, DeployTarget, DeployedResource, Deployment,
    EXPORT_FILES, ExportReason, ExportRecord, ExportSpec, ExportsSeen, FilesSeen, FirstDeployment,
    HookOutcome, Instances, ResourceType,
};
pub use id::CertificateId;
pub use plan::{
    Action, DeliveryChange, DeliveryWork, Drift, DriftKind, FreeQuota, Observed, Plan, Prior,
    Reason, ResourceChange, Summary, successor,
};
pub use provider::{PROVIDER_NAME, ProviderRef, ProviderRefError};
pub use renew_before::RenewBefore;

/// Beijing time (GMT+8, no daylight saving): the service's dates, and the calendar its quotas
/// count years in.
pub fn beijing() -> chrono::FixedOffset {
    chrono::FixedOffset::east_opt(8 * 3600).expect("+08:00 is a valid offset")
}

/// `now` plus `within`, saturating at the latest time there is: a window however long never
/// overflows.
pub fn later_by(now: DateTime<Utc>, within: std::time::Duration) -> DateTime<Utc> {
    (chrono::Duration::from_std(within).ok())
        .and_then(|d| now.checked_add_signed(d))
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}

/// The only resource type certplan manages, named as the Terraform provider names it.
pub const RESOURCE_TYPE: &str = "tencentcloud_ssl_free_certificate";

/// Identifies one resource instance: `tencentcloud_ssl_free_certificate.www`, or with
/// `for_each` / `count`, `tencentcloud_ssl_free_certificate.site["www"]` / `...site[0]`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Address {
    pub resource_type: String,
    pub name: String,
    pub key: Option<InstanceKey>,
}

/// Which instance of a `count` (a number) or `for_each` (a string) resource.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum InstanceKey {
    Index(u64),
    Key(String),
}

impl Address {
    /// Builds the address of a `tencentcloud_ssl_free_certificate` named `name`.
    pub fn certificate(name: impl Into<String>) -> Self {
        Address { resource_type: RESOURCE_TYPE.to_owned(), name: name.into(), key: None }
    }

    /// Returns this resource's address for the instance `key`.
    pub fn instance(&self, key: InstanceKey) -> Self {
        Address { key: Some(key), ..self.clone() }
    }

    /// Returns the address of the resource this instance belongs to (without the key).
    pub fn resource(&self) -> Self {
        Address { key: None, ..self.clone() }
    }

    /// Returns true when `self` names `other` itself, or (without a key) the resource `other`
    /// is an instance of — as `--target` matches addresses.
    pub fn covers(&self, other: &Address) -> bool {
        self == other
            || (self.key.is_none()
                && self.resource_type == other.resource_type
                && self.name == other.name)
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.resource_type, self.name)?;
        match &self.key {
            None => Ok(()),
            Some(InstanceKey::Index(i)) => write!(f, "[{i}]"),
            Some(InstanceKey::Key(k)) => write!(f, "[{k:?}]"),
        }
    }
}

#[derive(Debug, thiserror::Error)]
#[error(
    "invalid resource address {0:?}: expected TYPE.NAME, TYPE.NAME[0] or TYPE.NAME[\"key\"], e.g. tencentcloud_ssl_free_certificate.www"
)]
pub struct AddressError(String);

impl FromStr for Address {
    type Err = AddressError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = || AddressError(s.to_owned());
        let valid = |part: &str| {
            !part.is_empty()
                && part.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        };
        let (base, key) = match s.split_once('[') {
            Some((base, rest)) => {
                let inner = rest.strip_suffix(']').ok_or_else(err)?;
                let key = if let Some(quoted) =
                    inner.strip_prefix('"').and_then(|q| q.strip_suffix('"'))
                {
                    if quoted.contains('"') || quoted.contains('\\') {
                        return Err(err());
                    }
                    InstanceKey::Key(quoted.to_owned())
                } else {
                    InstanceKey::Index(inner.parse().map_err(|_| err())?)
                };
                (base, Some(key))
            }
            None => (s, None),
        };
        match base.split_once('.') {
            Some((ty, name)) if valid(ty) && valid(name) => {
                Ok(Address { resource_type: ty.to_owned(), name: name.to_owned(), key })
            }
            _ => Err(err()),
        }
    }
}

impl Serialize for Address {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Address {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// How the CA validates control of the domain (`DvAuthMethod`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum DvAuthMethod {
    /// A DNS record added automatically by Tencent Cloud DNS (the domain must be hosted there).
    #[serde(rename = "DNS_AUTO")]
    DnsAuto,
    /// A DNS record the user adds.
    #[serde(rename = "DNS")]
    Dns,
    /// A file served under `/.well-known/pki-validation/`.
    #[serde(rename = "FILE")]
    File,
}

impl DvAuthMethod {
    pub const ALL: [DvAuthMethod; 3] =
        [DvAuthMethod::DnsAuto, DvAuthMethod::Dns, DvAuthMethod::File];

    /// Returns the API's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            DvAuthMethod::DnsAuto => "DNS_AUTO",
            DvAuthMethod::Dns => "DNS",
            DvAuthMethod::File => "FILE",
        }
    }

    /// Parses the API's spelling.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|m| m.as_str() == s)
    }
}

/// The key algorithm of the CSR Tencent Cloud generates (`CsrEncryptAlgo`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum CsrEncryptAlgo {
    #[serde(rename = "RSA")]
    Rsa,
    #[serde(rename = "ECC")]
    Ecc,
}

impl CsrEncryptAlgo {
    pub const ALL: [CsrEncryptAlgo; 2] = [CsrEncryptAlgo::Rsa, CsrEncryptAlgo::Ecc];

    /// Returns the API's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            CsrEncryptAlgo::Rsa => "RSA",
            CsrEncryptAlgo::Ecc => "ECC",
        }
    }

    /// Parses the API's spelling.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|m| m.as_str() == s)
    }

    /// Returns the only `CsrKeyParameter` the API accepts with this algorithm.
    pub fn key_parameter(self) -> &'static str {
        match self {
            CsrEncryptAlgo::Rsa => "2048",
            CsrEncryptAlgo::Ecc => "prime256v1",
        }
    }
}

/// An argument of a `tencentcloud_ssl_free_certificate` resource: the Terraform provider's
/// names, each an `ApplyCertificate` field (or, for `alias` and `project_id`, what a modify
/// call changes). The one list of them; the parser, the Terraform state reader, the planner's
/// diff and the engine's updates all read it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Argument {
    Domain,
    DvAuthMethod,
    PackageType,
    ContactEmail,
    ContactPhone,
    ValidityPeriod,
    CsrEncryptAlgo,
    CsrKeyParameter,
    CsrKeyPassword,
    Alias,
    ProjectId,
    OldCertificateId,
    DeleteDnsAutoRecord,
    // An `acme_certificate`'s (its common name is `Domain`).
    ServerUrl,
    SubjectAlternativeNames,
    KeyType,
    /// The `provider` meta-argument: which account holds the certificate.
    Provider,
}

impl Argument {
    /// Every argument, in the provider's order (the order plans show them in).
    pub const ALL: [Argument; 17] = [
        Argument::Domain,
        Argument::DvAuthMethod,
        Argument::PackageType,
        Argument::ContactEmail,
        Argument::ContactPhone,
        Argument::ValidityPeriod,
        Argument::CsrEncryptAlgo,
        Argument::CsrKeyParameter,
        Argument::CsrKeyPassword,
        Argument::Alias,
        Argument::ProjectId,
        Argument::OldCertificateId,
        Argument::DeleteDnsAutoRecord,
        Argument::ServerUrl,
        Argument::SubjectAlternativeNames,
        Argument::KeyType,
        Argument::Provider,
    ];

    /// Returns the argument's name, as configurations write it.
    pub fn name(self) -> &'static str {
        match self {
            Argument::Domain => "domain",
            Argument::DvAuthMethod => "dv_auth_method",
            Argument::PackageType => "package_type",
            Argument::ContactEmail => "contact_email",
            Argument::ContactPhone => "contact_phone",
            Argument::ValidityPeriod => "validity_period",
            Argument::CsrEncryptAlgo => "csr_encrypt_algo",
            Argument::CsrKeyParameter => "csr_key_parameter",
            Argument::CsrKeyPassword => "csr_key_password",
            Argument::Alias => "alias",
            Argument::ProjectId => "project_id",
            Argument::OldCertificateId => "old_certificate_id",
            Argument::DeleteDnsAutoRecord => "delete_dns_auto_record",
            Argument::ServerUrl => "server_url",
            Argument::SubjectAlternativeNames => "subject_alternative_names",
            Argument::KeyType => "key_type",
            Argument::Provider => "provider",
        }
    }

    /// Returns true for the arguments only an `acme_certificate` has.
    pub fn acme_only(self) -> bool {
        matches!(self, Argument::ServerUrl | Argument::SubjectAlternativeNames | Argument::KeyType)
    }

    /// Returns true for the meta-arguments, which a configuration writes as references
    /// (`provider = tencentcloud.prod`), not values, and the API never sees.
    pub fn meta(self) -> bool {
        matches!(self, Argument::Provider)
    }

    /// Returns true for the arguments a certificate changes in place (`ModifyCertificateAlias`,
    /// `ModifyCertificateProject`); any other changes only with a new application.
    pub fn changes_in_place(self) -> bool {
        matches!(self, Argument::Alias | Argument::ProjectId)
    }
}

impl fmt::Display for Argument {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The arguments a certificate is applied for with: one field per `ApplyCertificate` parameter,
/// named as the Terraform provider names them.
///
/// Holds no secret: the CSR key password is kept only as a digest, so that a change of password
/// is still seen as a change. The password itself travels from the config to the API call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CertificateArgs {
    /// The domain; an ACME certificate's common name.
    pub domain: String,
    /// How a free certificate's domain is validated; `None` for an ACME certificate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dv_auth_method: Option<DvAuthMethod>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub package_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contact_email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contact_phone: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub validity_period: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub csr_encrypt_algo: Option<CsrEncryptAlgo>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub csr_key_parameter: Option<String>,
    /// `sha256:<hex>` of the CSR key password, never the password.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub csr_key_password_digest: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alias: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub project_id: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub old_certificate_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delete_dns_auto_record: Option<bool>,
    /// For a certificate ordered from an ACME CA (an `acme_certificate`), what it declares.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acme: Option<AcmeArgs>,
    /// For a free certificate validated by a DNS record (`dv_auth_method = "DNS"`): who
    /// publishes the record, so that no person must (`dns_challenge`). Changes nothing of the
    /// certificate: not an argument compared.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub publish_validation: Option<DnsProvider>,
    /// Which provider configuration, and so which account, holds the certificate: moving a
    /// resource to another is a new certificate there.
    #[serde(default, skip_serializing_if = "ProviderRef::is_default")]
    pub provider: ProviderRef,
}

impl CertificateArgs {
    /// The arguments as the API takes them: what a left-out argument means written out
    /// (package 83, 3 months, an RSA 2048 key), so that writing a default out, or leaving it
    /// out, changes nothing.
    pub fn with_defaults(&self) -> CertificateArgs {
        let mut args = self.clone();
        if args.acme.is_some() {
            return args;
        }
        args.package_type.get_or_insert_with(|| "83".to_owned());
        args.validity_period.get_or_insert_with(|| "3".to_owned());
        let algo = *args.csr_encrypt_algo.get_or_insert(CsrEncryptAlgo::Rsa);
        args.csr_key_parameter.get_or_insert_with(|| algo.key_parameter().to_owned());
        args
    }

    /// Creates arguments with only the two required ones set.
    pub fn new(domain: impl Into<String>, dv_auth_method: DvAuthMethod) -> Self {
        CertificateArgs {
            domain: domain.into(),
            dv_auth_method: Some(dv_auth_method),
            package_type: None,
            contact_email: None,
            contact_phone: None,
            validity_period: None,
            csr_encrypt_algo: None,
            csr_key_parameter: None,
            csr_key_password_digest: None,
            alias: None,
            project_id: None,
            old_certificate_id: None,
            delete_dns_auto_record: None,
            acme: None,
            publish_validation: None,
            provider: ProviderRef::DEFAULT,
        }
    }

    /// Creates the arguments of a certificate ordered from an ACME CA for `common_name`.
    pub fn acme(common_name: impl Into<String>, acme: AcmeArgs) -> Self {
        CertificateArgs {
            dv_auth_method: None,
            acme: Some(acme),
            ..CertificateArgs::new(common_name, DvAuthMethod::Dns)
        }
    }

    /// Returns true when dv_auth_method is `method` (never for an ACME certificate).
    pub fn validated_by(&self, method: DvAuthMethod) -> bool {
        self.dv_auth_method == Some(method)
    }

    /// Lists every argument as `(name, rendered value)`, in the Terraform provider's order.
    /// Unset arguments are left out; the password digest is shown as a sensitive value.
    pub fn attributes(&self) -> Vec<(&'static str, AttributeValue)> {
        let acme = self.acme.is_some();
        Argument::ALL
            .into_iter()
            .filter_map(|argument| {
                let name = match argument {
                    Argument::Domain if acme => "common_name",
                    other => other.name(),
                };
                Some((name, self.value(argument)?))
            })
            .collect()
    }

    /// Returns the value of `argument`, rendered; `None` when it is unset. The password is
    /// its digest, shown as a sensitive value.
    pub fn value(&self, argument: Argument) -> Option<AttributeValue> {
        use AttributeValue::{Bool, Number, Sensitive, Text};
        let text = |v: &Option<String>| v.clone().map(Text);
        match argument {
            Argument::Domain => Some(Text(self.domain.clone())),
            Argument::DvAuthMethod => self.dv_auth_method.map(|m| Text(m.as_str().to_owned())),
            Argument::PackageType => text(&self.package_type),
            Argument::ContactEmail => text(&self.contact_email),
            Argument::ContactPhone => text(&self.contact_phone),
            Argument::ValidityPeriod => text(&self.validity_period),
            Argument::CsrEncryptAlgo => self.csr_encrypt_algo.map(|a| Text(a.as_str().to_owned())),
            Argument::CsrKeyParameter => text(&self.csr_key_parameter),
            Argument::CsrKeyPassword => self.csr_key_password_digest.clone().map(Sensitive),
            Argument::Alias => text(&self.alias),
            Argument::ProjectId => self.project_id.map(Number),
            Argument::OldCertificateId => text(&self.old_certificate_id),
            Argument::DeleteDnsAutoRecord => self.delete_dns_auto_record.map(Bool),
            Argument::ServerUrl => self.acme.as_ref().map(|a| Text(a.server_url.clone())),
            // A set, as the acme provider declares it: the order written does not matter.
            Argument::SubjectAlternativeNames => self.acme.as_ref().map(|a| {
                let mut names = a.subject_alternative_names.clone();
                names.sort();
                names.dedup();
                Text(names.join(", "))
            }),
            Argument::KeyType => self.acme.as_ref().map(|a| Text(a.key_type.as_str().to_owned())),
            Argument::Provider => {
                (!self.provider.is_default()).then(|| Text(self.provider.to_string()))
            }
        }
    }

    /// [`attributes`](Self::attributes), with the arguments named in `sensitive` (those that
    /// come from sensitive variables) shown as sensitive values.
    pub fn attributes_hiding(
        &self,
        sensitive: &std::collections::BTreeSet<String>,
    ) -> Vec<(&'static str, AttributeValue)> {
        self.attributes()
            .into_iter()
            .map(|(name, value)| match value {
                AttributeValue::Text(_) | AttributeValue::Number(_) | AttributeValue::Bool(_)
                    if sensitive.contains(name) =>
                {
                    (name, AttributeValue::Sensitive(value.to_string()))
                }
                value => (name, value),
            })
            .collect()
    }
}

/// A secret value (a SecretKey, a token, a password): shown nowhere, `Debug` included.
#[derive(Clone, PartialEq, Eq)]
pub struct Sensitive(String);

impl Sensitive {
    pub fn new(value: impl Into<String>) -> Self {
        Sensitive(value.into())
    }

    /// Returns the secret, for the one place that must use it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Sensitive {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("(sensitive)")
    }
}

/// One argument's value, as a plan shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AttributeValue {
    Text(String),
    Number(u64),
    Bool(bool),
    /// A secret: compared by its digest, always shown as `(sensitive value)`.
    Sensitive(String),
}

impl fmt::Display for AttributeValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AttributeValue::Text(s) => write!(f, "{s:?}"),
            AttributeValue::Number(n) => write!(f, "{n}"),
            AttributeValue::Bool(b) => write!(f, "{b}"),
            AttributeValue::Sensitive(_) => f.write_str("(sensitive value)"),
        }
    }
}

/// A certificate's `Status` as the API reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(from = "i64", into = "i64")]
pub enum CertStatus {
    /// 0: reviewing / pending domain validation.
    Pending,
    /// 1: issued.
    Issued,
    /// 2: review failed (including validation not done in time).
    Failed,
    /// 3: expired.
    Expired,
    /// 4: DNS record added automatically, validation in progress.
    DnsRecordAdded,
    /// 6: order being cancelled.
    Cancelling,
    /// 7: cancelled.
    Cancelled,
    /// 9: being revoked.
    Revoking,
    /// 10: revoked.
    Revoked,
    /// Any other status code (enterprise material, migration, refund, ...).
    Other(i64),
}

impl CertStatus {
    /// Returns true while the CA is still working on the order (the certificate may yet issue).
    pub fn is_pending(self) -> bool {
        matches!(self, CertStatus::Pending | CertStatus::DnsRecordAdded)
    }

    /// Returns the API's name of the status.
    pub fn name(self) -> &'static str {
        match self {
            CertStatus::Pending => "pending validation",
            CertStatus::Issued => "issued",
            CertStatus::Failed => "validation failed",
            CertStatus::Expired => "expired",
            CertStatus::DnsRecordAdded => "DNS record added",
            CertStatus::Cancelling => "cancelling",
            CertStatus::Cancelled => "cancelled",
            CertStatus::Revoking => "revoking",
            CertStatus::Revoked => "revoked",
            CertStatus::Other(_) => "other",
        }
    }
}

impl From<i64> for CertStatus {
    fn from(code: i64) -> Self {
        match code {
            0 => CertStatus::Pending,
            1 => CertStatus::Issued,
            2 => CertStatus::Failed,
            3 => CertStatus::Expired,
            4 => CertStatus::DnsRecordAdded,
            6 => CertStatus::Cancelling,
            7 => CertStatus::Cancelled,
            9 => CertStatus::Revoking,
            10 => CertStatus::Revoked,
            other => CertStatus::Other(other),
        }
    }
}

impl From<CertStatus> for i64 {
    fn from(status: CertStatus) -> i64 {
        match status {
            CertStatus::Pending => 0,
            CertStatus::Issued => 1,
            CertStatus::Failed => 2,
            CertStatus::Expired => 3,
            CertStatus::DnsRecordAdded => 4,
            CertStatus::Cancelling => 6,
            CertStatus::Cancelled => 7,
            CertStatus::Revoking => 9,
            CertStatus::Revoked => 10,
            CertStatus::Other(code) => code,
        }
    }
}

impl fmt::Display for CertStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CertStatus::Other(code) => write!(f, "status {code}"),
            known => f.write_str(known.name()),
        }
    }
}

/// The API's id of the default project. A certificate in it has no project, as a configuration
/// says by leaving `project_id` out.
pub const DEFAULT_PROJECT: u64 = 0;

/// Returns the project a `ProjectId` of the API or the configuration names: `None` for the
/// default project, so that "no project" has one spelling everywhere.
pub fn project_id(raw: u64) -> Option<u64> {
    (raw != DEFAULT_PROJECT).then_some(raw)
}

/// A certificate as the cloud reports it now, with times converted to UTC.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RemoteCertificate {
    pub id: CertificateId,
    pub domain: String,
    pub alias: Option<String>,
    pub status: CertStatus,
    /// How the domain is validated, as the detail call reports it (`VerifyType`).
    #[serde(default)]
    pub dv_auth_method: Option<DvAuthMethod>,
    /// The key's algorithm (`EncryptAlgorithm`, e.g. `RSA 2048`).
    #[serde(default)]
    pub key_algorithm: Option<CsrEncryptAlgo>,
    pub project_id: Option<u64>,
    pub not_before: Option<DateTime<Utc>>,
    pub not_after: Option<DateTime<Utc>>,
    pub inserted_at: Option<DateTime<Utc>>,
    /// When domain validation must be done by, for a pending certificate.
    pub validation_deadline: Option<DateTime<Utc>>,
    /// What the user must publish for validation; only from the detail call, while pending.
    pub validation: Vec<ValidationRecord>,
    /// The certificate that renews this one (`CertificateExtra.RenewOrder`, `HasRenewOrder`),
    /// by whoever applied for it: certplan, the console, an SDK.
    #[serde(default)]
    pub renewed_by: Option<CertificateId>,
    /// The certificate that reissued this one (`CertificateExtra.ReplacedFor`), in the console.
    #[serde(default)]
    pub reissued_by: Option<CertificateId>,
    /// Where it came from (`PackageType`, `From`), when the service says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<CertificateSource>,
    /// Whether its expiry notifications are switched off (`IsIgnore`), when the service says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notifications_off: Option<bool>,
}

/// Where a certificate in the account came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CertificateSource {
    /// Tencent Cloud's free product (`PackageType` 83): counted against the yearly quota.
    Free,
    /// Bought from a CA through Tencent Cloud.
    Paid,
    /// Uploaded (`From` = `upload`): from an ACME CA, or anywhere else.
    Uploaded,
}

impl CertificateSource {
    /// The package that is the free product.
    pub const FREE_PACKAGE: &str = "83";

    /// Reads the source from the API's `PackageType` and `From`; `None` when neither says.
    pub fn of(package_type: Option<&str>, from: Option<&str>) -> Option<Self> {
        match (package_type.filter(|p| !p.is_empty()), from.filter(|f| !f.is_empty())) {
            (_, Some("upload")) => Some(CertificateSource::Uploaded),
            (Some(Self::FREE_PACKAGE), _) => Some(CertificateSource::Free),
            (Some(_), _) => Some(CertificateSource::Paid),
            (None, _) => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            CertificateSource::Free => "free",
            CertificateSource::Paid => "paid",
            CertificateSource::Uploaded => "uploaded",
        }
    }
}

impl RemoteCertificate {
    /// The arguments an existing certificate is recorded with when it is imported as a resource
    /// declared with `declared`: what the cloud reports (domain, validation method, key,
    /// alias, project) over what it does not (contacts, package, validity, CSR password), so
    /// that a plan shows how the certificate differs from the configuration.
    pub fn args_as_imported(&self, declared: &CertificateArgs) -> CertificateArgs {
        let mut args = declared.clone();
        args.domain = self.domain.clone();
        args.alias = self.alias.clone();
        args.project_id = self.project_id;
        // An ACME certificate's names and key are what its upload holds: as declared.
        if declared.acme.is_some() {
            return args;
        }
        if let Some(method) = self.dv_auth_method {
            args.dv_auth_method = Some(method);
        }
        // The key, as the configuration would say it: RSA 2048 is the API's default, which a
        // configuration may leave out; anything else is written out.
        match (self.key_algorithm, declared.csr_encrypt_algo) {
            (Some(CsrEncryptAlgo::Rsa), None) => args.csr_key_parameter = None,
            (Some(algo), _) => {
                args.csr_encrypt_algo = Some(algo);
                args.csr_key_parameter = Some(algo.key_parameter().to_owned());
            }
            (None, _) => {}
        }
        args
    }
}

/// Something the CA checks to validate control of a domain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ValidationRecord {
    /// A DNS record: `name` is the full record name, `record_type` TXT or CNAME.
    Dns { name: String, record_type: String, value: String },
    /// A file the CA fetches over HTTP(S).
    File { url: String, content: String },
}

impl fmt::Display for ValidationRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ValidationRecord::Dns { name, record_type, value } => {
                write!(f, "DNS record {name} {record_type} {value}")
            }
            ValidationRecord::File { url, content } => write!(f, "file {url} containing {content}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn address_round_trips() {
        let a: Address = "tencentcloud_ssl_free_certificate.www".parse().expect("valid");
        assert_eq!(a, Address::certificate("www"));
        assert_eq!(a.to_string(), "tencentcloud_ssl_free_certificate.www");
        for text in [
            "tencentcloud_ssl_free_certificate.site[0]",
            "tencentcloud_ssl_free_certificate.site[\"www.example.com\"]",
        ] {
            let parsed: Address = text.parse().expect(text);
            assert_eq!(parsed.to_string(), text);
            assert!(parsed.resource().covers(&parsed) && !parsed.covers(&parsed.resource()));
        }
        for bad in ["nodot", "a.", "a.b[", "a.b[x]", "a.b[\"x]", "a.b[-1]"] {
            assert!(bad.parse::<Address>().is_err(), "{bad}");
        }
        let site = Address::certificate("site");
        assert!(site.instance(InstanceKey::Index(2)) < site.instance(InstanceKey::Index(10)));
    }

    #[test]
    fn status_codes_round_trip() {
        for code in 0..16 {
            assert_eq!(i64::from(CertStatus::from(code)), code);
        }
    }
}
