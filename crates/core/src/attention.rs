//! What needs a person: a site heading for an expired certificate that certplan cannot save by
//! itself. The planner finds these; plan and apply end with them, and exit with
//! [`EXIT_ATTENTION`] so that a scheduled run goes red.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::{Address, CertificateId, DvAuthMethod};

/// The exit status of a `plan --detailed-exitcode` or an `apply` that succeeded and left
/// something that needs a person (Terraform's 0, 1 and 2 keep their meanings).
pub const EXIT_ATTENTION: u8 = 3;

/// One certificate that needs a person.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attention {
    pub address: Address,
    /// The certificate concerned: the one that serves, or the one being validated.
    pub certificate: CertificateId,
    pub concern: Concern,
    /// When HTTPS breaks: the expiry of the certificate serving now, if known (in the past when
    /// it is broken already).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub breaks_at: Option<DateTime<Utc>>,
}

/// Why a certificate needs a person.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Concern {
    /// Domain validation failed this many times in a row; certplan does not apply again until
    /// asked (`--replace`), because the cause is outside it.
    ValidationFailed { failures: u32 },
    /// Validation by a DNS record or a file that a person publishes is still not done.
    AwaitingValidation {
        method: DvAuthMethod,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        deadline: Option<DateTime<Utc>>,
    },
    /// The certificate a renewal replaces serves cloud resources the `deploy` block does not
    /// declare: they keep the old certificate until it expires.
    LeftBehind { resources: Vec<BoundResource> },
    /// The resource moved to another account; the certificate it had there still serves these
    /// cloud resources of the old account (`provider`'s), which no deployment can reach from
    /// the new one: they keep it until it expires.
    LeftInOtherAccount { resources: Vec<BoundResource>, provider: crate::ProviderRef },
    /// The certificate serving has expired: HTTPS is broken until a new one serves.
    Expired,
    /// The certificate serving expires before its renewal can be done: `renew_before` is shorter
    /// than validation may take, or the renewal in flight is not validated in time.
    ExpiresBeforeRenewal { validation_days: i64 },
    /// The service could not say where the certificate being replaced is bound, so what its
    /// renewal leaves behind is not known.
    BindingsUnknown { error: String },
    /// The certificate was due the moment it was issued (see `Reason::DueAtIssuance`).
    DueAtIssuance { applied_at: DateTime<Utc> },
    /// Replaced twice in a row for the same reason (see `Reason::ReplacedAgain`).
    ReplacedAgain { because: String },
    /// The ACME CA refuses to order the certificate until `until` (its rate limits), and the
    /// site has no certificate, or one that expires before a new one can be ordered.
    RateLimited { until: DateTime<Utc> },
    /// Applying for this free certificate would pass its account's yearly quota of free
    /// certificates: `used` applied for this year, `planned` in this plan, of `limit`.
    FreeQuotaExceeded { used: u64, planned: u64, limit: u64 },
}

/// Cloud resources of one type (and region) a certificate is bound to, as the service's
/// bind-resource query counts them.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct BoundResource {
    /// The API's resource type in lower case: `clb`, `cdn`, `waf`…
    pub resource_type: String,
    /// For the region-scoped types.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// How many resources of the type (in the region) it serves.
    pub count: u64,
}

impl std::fmt::Display for BoundResource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.count, self.resource_type)?;
        match &self.region {
            Some(region) => write!(f, " in {region}"),
            None => Ok(()),
        }
    }
}
