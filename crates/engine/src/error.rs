//! What can go wrong carrying out a plan: the failure of one change (the others go on) and the
//! failure of the apply itself (state could not be saved: nothing more may be done unrecorded).

use std::sync::Arc;
use std::time::Duration;

use certplan_core::{Address, CertStatus};
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
        "certificate {id} was applied for and recorded, but reading its status failed: {error}"
    )]
    StatusUnread { id: String, error: ProviderError },
    #[error("ModifyCertificateProject reported certificate {id} as failed (FailCertificates)")]
    ProjectNotChanged { id: String },
    #[error(
        "certificate {id} was not issued within {}; it stays recorded and the next plan shows its status",
        humantime::format_duration(*limit)
    )]
    NotIssued { id: String, limit: Duration },
    #[error("certificate {id} is {status} instead of issued")]
    Unissuable { id: String, status: CertStatus },
    #[error("certificate {id} no longer exists in the cloud")]
    Vanished { id: String },
    /// The last poll failed when every wait had run out (shared by every certificate waited for).
    #[error("could not check issuance: {0}")]
    Poll(Arc<ProviderError>),
    #[error("the plan has no {what} for this change; make a new plan")]
    IncompletePlan { what: &'static str },
}

/// Why an apply stopped: what it did could not be recorded.
#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    #[error("could not save state: {0}")]
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
