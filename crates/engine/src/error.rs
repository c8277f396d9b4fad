//! What can go wrong carrying out a plan: the failure of one change (the others go on) and the
//! failure of the apply itself (state could not be saved: nothing more may be done unrecorded).

use std::sync::Arc;
use std::time::Duration;

use certplan_core::{Address, CertStatus, ValidationRecord};
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
    StatusUnread { id: String, error: ProviderError },
    #[error("ModifyCertificateProject reported certificate {id} as failed (FailCertificates)")]
    ProjectNotChanged { id: String },
    #[error(
        "certificate {id} was not issued within {}; it stays recorded and the next plan shows its status{}",
        humantime::format_duration(*limit),
        to_publish(records)
    )]
    NotIssued { id: String, limit: Duration, records: Vec<ValidationRecord> },
    #[error("certificate {id} is {status} instead of issued")]
    Unissuable { id: String, status: CertStatus },
    #[error("certificate {id} no longer exists in the cloud")]
    Vanished { id: String },
    /// The last poll failed when every wait had run out (shared by every certificate waited for).
    #[error("could not check issuance: {0}")]
    Poll(Arc<ProviderError>),
    #[error("the plan has no {what} for this change; make a new plan")]
    IncompletePlan { what: &'static str },
    #[error("cannot import certificate {id}: {error}")]
    ImportRead { id: String, error: ProviderError },
    #[error(
        "cannot import certificate {id}: {recorded}, the certificate the plan was to record for it, no longer exists in the cloud; make a new plan"
    )]
    ImportGone { id: String, recorded: String },
    #[error(
        "cannot import certificate {id}: the resource holds {other} now, not what the plan expected (another run recorded it meanwhile); make a new plan"
    )]
    ImportTaken { id: String, other: String },
}

/// Why delivery work failed. Other work goes on, and the next apply tries again.
#[derive(Debug, thiserror::Error)]
pub enum DeliveryError {
    #[error("the deployment to certificate {id} could not be asked for: {error}")]
    Deploy { id: String, error: ProviderError },
    #[error(
        "the deployment to certificate {id} could not be read: {error}; the next apply follows it"
    )]
    Lookup { id: String, error: ProviderError },
    #[error(
        "the deployment to certificate {id} failed for {}: {}; the next apply retries only these",
        plural(failed.len(), "cloud resource"),
        failed.join("; ")
    )]
    Resources { id: String, failed: Vec<String> },
    #[error("export to {}: {error}", path.display())]
    Export { path: std::path::PathBuf, error: String },
    #[error("the on_change hook of {} {error}; the files are in place, and the next apply runs it again", path.display())]
    Hook { path: std::path::PathBuf, error: String },
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
        unrecorded: Vec<(Address, String)>,
    },
}

impl From<StateError> for ApplyError {
    fn from(error: StateError) -> Self {
        ApplyError::State { error, unrecorded: Vec::new() }
    }
}

/// Names the certificates a run created and could not record, and how they are found again.
fn unrecorded_note(unrecorded: &[(Address, String)]) -> String {
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
    Read { id: String, error: ProviderError },
    #[error("certificate {id} is for {actual}, but {address} declares domain = \"{declared}\"")]
    OtherDomain { id: String, actual: String, address: Address, declared: String },
    #[error(transparent)]
    State(#[from] StateError),
}
