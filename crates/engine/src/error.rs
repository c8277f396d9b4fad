//! What can go wrong carrying out a plan: the failure of one change (the others go on) and the
//! failure of the apply itself (state could not be saved: nothing more may be done unrecorded).

use std::sync::Arc;
use std::time::Duration;

use certplan_core::{Address, CertStatus, CertificateId, ValidationRecord};
use certplan_provider::Error as ProviderError;
use certplan_state::StateError;

/// Why one change failed. Other changes are not affected.
#[derive(Debug, thiserror::Error)]
pub enum ChangeError {
    #[error(transparent)]
    Provider(#[from] ProviderError),
    #[error(
        "{error}; whether a certificate was created is unknown ({lookup}); the next run checks before doing anything else"
    )]
    Unknown { error: ProviderError, lookup: ProviderError },
    #[error(
        "{error}; no certificate it may have created is visible yet, so it is not applied for again in this run: the next run looks again before anything else"
    )]
    NotVisibleYet { error: ProviderError },
    #[error(
        "certificate {id} was applied for and recorded, but reading its status failed: {error}"
    )]
    StatusUnread { id: CertificateId, error: ProviderError },
    #[error("ModifyCertificateProject reported certificate {id} as failed (FailCertificates)")]
    ProjectNotChanged { id: CertificateId },
    #[error(
        "certificate {id} was not issued within {}; it stays recorded and the next plan shows its status{}",
        humantime::format_duration(*limit),
        to_publish(records)
    )]
    NotIssued { id: CertificateId, limit: Duration, records: Vec<ValidationRecord> },
    #[error("certificate {id} is {status} instead of issued")]
    Unissuable { id: CertificateId, status: CertStatus },
    #[error("certificate {id} no longer exists in the cloud")]
    Vanished { id: CertificateId },
    /// The last poll failed when every wait had run out (shared by every certificate waited for).
    #[error("could not check issuance: {0}")]
    Poll(Arc<ProviderError>),
    #[error("the plan has no {what} for this change; make a new plan")]
    IncompletePlan { what: &'static str },
    #[error(transparent)]
    Obtain(#[from] ObtainError),
    #[error("cannot import certificate {id}: {error}")]
    ImportRead { id: CertificateId, error: ProviderError },
    #[error(
        "cannot import certificate {id}: {recorded}, the certificate the plan was to record for it, no longer exists in the cloud; make a new plan"
    )]
    ImportGone { id: CertificateId, recorded: CertificateId },
    #[error(
        "cannot import certificate {id}: the resource holds {other} now, not what the plan expected (another run recorded it meanwhile); make a new plan"
    )]
    ImportTaken { id: CertificateId, other: CertificateId },
}

/// Why a certificate could not be obtained from an ACME CA. Unless [`settles`](Self::settles)
/// its intent, the order stays journaled and the next run resumes it.
#[derive(Debug, thiserror::Error)]
pub enum ObtainError {
    #[error("the plan's change is not for an ACME certificate; make a new plan")]
    NotAcme,
    #[error(
        "no account key for acme_registration.{registration}: give account_key_pem, or let certplan keep the key in its file"
    )]
    NoAccountKey { registration: String },
    #[error("{0}")]
    Ca(#[from] certplan_provider::acme::AcmeError),
    #[error(
        "the CA answered with the order {url}, which {other} placed for the same names: finish or remove that one first"
    )]
    OrderShared { url: String, other: certplan_core::Address },
    #[error("the order {url} is invalid: {why}")]
    OrderInvalid { url: String, why: String },
    #[error(
        "the order {url} was not finished within {}; the next apply resumes it",
        humantime::format_duration(*limit)
    )]
    OrderUnfinished { url: String, limit: Duration },
    #[error(
        "no zone of Tencent Cloud DNS holds {name}: add the domain to Tencent Cloud DNS, or use dns_challenge {{ provider = \"exec\" }}"
    )]
    NoZone { name: String },
    #[error("Tencent Cloud DNS: {what}: {error}")]
    Dns { what: String, error: String },
    #[error(
        "{name} was not visible on the zone's name servers within {}; check the DNS (recursive_nameservers), then apply again",
        humantime::format_duration(*limit)
    )]
    NotPropagated { name: String, limit: Duration },
    #[error("{} {verb} failed: {error}", program.display())]
    Exec { program: std::path::PathBuf, verb: String, error: String },
    #[error("cannot write the challenge file {}: {error}", path.display())]
    Webroot { path: std::path::PathBuf, error: String },
    #[error(
        "the certificate of order {url} was issued, but uploading it failed: {error}; the next apply uploads it (the upload is never made twice)"
    )]
    Upload { url: String, error: ProviderError },
    #[error(
        "the CA refuses orders for its rate limits until {}; certplan orders again then",
        until.format("%Y-%m-%d %H:%M UTC")
    )]
    RateLimited { until: chrono::DateTime<chrono::Utc> },
    #[error("interrupted while the order was in progress; the next apply resumes it")]
    Interrupted,
    #[error(transparent)]
    State(#[from] StateError),
}

/// How long to hold back a resource whose order the CA refused for its rate limits without
/// saying until when.
const RATE_LIMIT_HOLD: chrono::Duration = chrono::Duration::hours(1);

impl ObtainError {
    /// For the CA's rate limit: until when it refuses (its `Retry-After`, else an hour).
    pub fn rate_limited_until(&self) -> Option<chrono::DateTime<chrono::Utc>> {
        match self {
            ObtainError::Ca(e) if e.is_rate_limited() => {
                let retry_after = match e {
                    certplan_provider::acme::AcmeError::Refused { retry_after, .. } => *retry_after,
                    _ => None,
                };
                Some(retry_after.map_or_else(
                    || chrono::Utc::now() + RATE_LIMIT_HOLD,
                    chrono::DateTime::<chrono::Utc>::from,
                ))
            }
            ObtainError::RateLimited { until } => Some(*until),
            _ => None,
        }
    }

    /// Returns true when nothing is left to resume: no order was placed (or none whose URL
    /// was kept), or the CA declared it invalid.
    pub fn settles(&self, ordered: bool) -> bool {
        match self {
            ObtainError::OrderInvalid { .. } => true,
            ObtainError::Ca(e) if e.is_not_found() => true,
            ObtainError::State(_) => false,
            _ => !ordered,
        }
    }
}

/// Why delivery work failed. Other work goes on, and the next apply tries again.
#[derive(Debug, thiserror::Error)]
pub enum DeliveryError {
    #[error("the deployment to certificate {id} could not be asked for: {error}")]
    Deploy { id: CertificateId, error: ProviderError },
    #[error(
        "the deployment to certificate {id} could not be read: {error}; the next apply follows it"
    )]
    Lookup { id: CertificateId, error: ProviderError },
    #[error(
        "the deployment to certificate {id} failed for {}: {}; the next apply retries only these",
        plural(failed.len(), "cloud resource"),
        failed.join("; ")
    )]
    Resources { id: CertificateId, failed: Vec<String> },
    #[error("export to {}", path.display())]
    Export {
        path: std::path::PathBuf,
        #[source]
        cause: ExportError,
    },
    #[error(
        "its DNS validation record could not be published: {error}; the next apply tries again"
    )]
    Validation { error: String },
    #[error("the on_change hook of {} {error}; the files are in place, and the next apply runs it again", path.display())]
    Hook { path: std::path::PathBuf, error: String },
    /// The account of the certificate is not reachable in this run.
    #[error(transparent)]
    Account(ProviderError),
}

/// Why the files of an export were not written.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// Two resources writing one directory would overwrite each other's files on every apply
    /// (a relative and an absolute path, or a symlink, that the configuration's own check
    /// cannot see are the same place).
    #[error("{other} exports to the same directory")]
    SharedDirectory { other: Address },
    #[error("cannot read the certificate {id}")]
    Download {
        id: CertificateId,
        #[source]
        error: ProviderError,
    },
    #[error("the cloud holds no private key for {id} (its CSR was not generated by Tencent Cloud)")]
    NoPrivateKey { id: CertificateId },
    #[error("the certificate {id} as downloaded is not usable")]
    Unusable {
        id: CertificateId,
        #[source]
        error: certplan_export::CheckError,
    },
    #[error(transparent)]
    Write(#[from] certplan_export::WriteError),
    #[error("writing the files did not finish")]
    Aborted(#[source] tokio::task::JoinError),
}

fn plural(n: usize, what: &str) -> String {
    if n == 1 { format!("1 {what}") } else { format!("{n} {what}s") }
}

/// Says what to publish for validation, after a message.
fn to_publish(records: &[ValidationRecord]) -> String {
    let list: Vec<String> = records.iter().map(ToString::to_string).collect();
    if list.is_empty() {
        String::new()
    } else {
        format!("; to validate the domain, publish: {}", list.join("; "))
    }
}

/// Why an apply stopped: what it did could not be recorded. No change started after that.
#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    #[error("could not save state: {error}{}", unrecorded_note(unrecorded))]
    State {
        error: StateError,
        /// Certificates created by this run whose record could not be saved.
        unrecorded: Vec<(Address, CertificateId)>,
    },
}

impl From<StateError> for ApplyError {
    fn from(error: StateError) -> Self {
        ApplyError::State { error, unrecorded: Vec::new() }
    }
}

/// Names the certificates a run created and could not record, and how they are found again.
fn unrecorded_note(unrecorded: &[(Address, CertificateId)]) -> String {
    if unrecorded.is_empty() {
        return String::new();
    }
    let list: Vec<String> =
        unrecorded.iter().map(|(address, id)| format!("{address}: certificate {id}")).collect();
    format!(
        ". These certificates were created and are not recorded: {}. Their applications were \
         journaled in the last state saved, so a run from that state finds them; or record one \
         with `certplan import ADDRESS ID`",
        list.join(", ")
    )
}

/// Why the intents of an interrupted run could not all be settled.
#[derive(Debug, thiserror::Error)]
pub enum ReconcileError {
    #[error(transparent)]
    Lookup(#[from] ProviderError),
    #[error(transparent)]
    State(#[from] StateError),
}

/// Why a certificate could not be imported.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("cannot read certificate {id} from the cloud: {error}")]
    Read { id: CertificateId, error: ProviderError },
    #[error("certificate {id} is for {actual}, but {address} declares domain = \"{declared}\"")]
    OtherDomain { id: CertificateId, actual: String, address: Address, declared: String },
    #[error(transparent)]
    State(#[from] StateError),
}
