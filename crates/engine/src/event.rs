//! What the engine tells its caller as it goes: one [`Event`] per thing done, for the caller to
//! show (the engine itself never prints).

use std::time::Duration;

use certplan_core::{Action, Address, CertStatus};
use certplan_export::HookStream;

use crate::error::ChangeError;

/// Something the engine did, for the caller to show.
#[derive(Debug)]
pub enum Event<'a> {
    /// The response to an application was lost; the certificate it created was found.
    Recovered {
        address: &'a Address,
        id: &'a str,
        error: &'a certplan_provider::Error,
    },
    Started {
        address: &'a Address,
        action: Action,
    },
    /// An existing certificate is recorded as the resource (an `import` block).
    Imported {
        address: &'a Address,
        id: &'a str,
    },
    /// A change is still running, another progress interval ([`crate::options::Timing`]) on.
    StillApplying {
        address: &'a Address,
        action: Action,
        elapsed: f64,
    },
    Completed {
        address: &'a Address,
        action: Action,
        id: Option<&'a str>,
        elapsed: f64,
    },
    Failed {
        address: &'a Address,
        action: Action,
        error: &'a ChangeError,
    },
    /// A replacement's old certificate could not be deleted; it is kept as deposed.
    Deposed {
        address: &'a Address,
        id: &'a str,
        error: &'a certplan_provider::Error,
    },
    /// A certificate to delete cannot be deleted before `possible` (its first hour); it is kept
    /// as deposed, and the change ends there.
    DeleteDeferred {
        address: &'a Address,
        id: &'a str,
        error: &'a certplan_provider::Error,
        possible: chrono::DateTime<chrono::Utc>,
    },
    /// Waiting for a new certificate's issuance starts; `records` are what to publish for
    /// validation (none when the CA adds them itself, with `DNS_AUTO`).
    Waiting {
        address: &'a Address,
        id: &'a str,
        limit: Duration,
        records: &'a [certplan_core::ValidationRecord],
    },
    StillWaiting {
        address: &'a Address,
        id: &'a str,
        elapsed: f64,
        status: CertStatus,
    },
    Issued {
        address: &'a Address,
        id: &'a str,
        elapsed: f64,
    },
    /// A deployment task's progress: `done` of its `total` cloud resources are no longer
    /// pending or deploying.
    Deploying {
        address: &'a Address,
        record_id: u64,
        total: usize,
        done: usize,
    },
    /// A deployment task ended (each resource's outcome in `deployment.resources`; none when
    /// the old certificate served nothing of the declared types).
    Deployed {
        address: &'a Address,
        deployment: &'a certplan_core::Deployment,
    },
    /// The expiry notifications of `id`, replaced and no longer serving what the deployment
    /// moved, were switched off — or could not be (`error`: a warning, nothing failed).
    NotificationsOff {
        address: &'a Address,
        id: &'a str,
        error: Option<&'a certplan_provider::Error>,
    },
    /// A first deployment to named instances ended (each instance's outcome in
    /// `deployment.resources`; none when an earlier request had put the certificate there).
    DeployedInstances {
        address: &'a Address,
        deployment: &'a certplan_core::FirstDeployment,
    },
    Exported {
        address: &'a Address,
        path: &'a std::path::Path,
        id: &'a str,
        /// What a person should know about where the key went (a symlink, a group or
        /// another user that can read it).
        warnings: &'a [String],
    },
    /// A line the `on_change` hook wrote.
    HookOutput {
        address: &'a Address,
        stream: HookStream,
        line: &'a str,
    },
    HookRan {
        address: &'a Address,
        path: &'a std::path::Path,
        error: Option<&'a str>,
    },
}
