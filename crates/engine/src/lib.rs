//! The apply engine: carries out a [`Plan`] through the provider, and nothing else.
//!
//! It reads the cloud for what state records ([`refresh`]), settles what an interrupted run
//! left in the intent journal ([`reconcile`]), executes a plan's changes concurrently under the
//! client's pacer ([`apply`]), waits for issuance where asked, and adopts existing certificates
//! ([`import`]) — saving state after every step, so that a failure or a crash loses nothing
//! already done. It decides nothing: the plan says what to do, and everything the apply needs
//! from the configuration travels in the plan or in [`Inputs`] (the secrets a plan file must
//! not hold). It never reads the configuration, prints, or exits.

mod apply;
mod deliver;
mod error;
mod import;
mod ledger;
mod queue;
mod reconcile;
mod refresh;
mod wait;

use std::collections::BTreeMap;
use std::time::Duration;

use certplan_core::{Action, Address, CertStatus, RemoteCertificate, Sensitive, Summary};

pub use apply::{apply, record_plan_basis};
pub use certplan_export::HookStream;
pub use deliver::{Delivered, inspect_exports};
pub use error::{ApplyError, ChangeError, DeliveryError, ImportError, ReconcileError};
pub use import::{Adoption, Declared, import, import_all};
pub use reconcile::{Settled, reconcile};
pub use refresh::{certificates, read_certificates, record_observed, refresh};

/// What an apply needs besides the plan: values a plan file must not hold.
#[derive(Debug, Default)]
pub struct Inputs {
    /// The declared `csr_key_password` of each resource that has one (the plan holds only its
    /// digest).
    pub csr_key_passwords: BTreeMap<Address, Sensitive>,
}

/// How to carry out a plan.
#[derive(Debug, Clone, Copy)]
pub struct ApplyOptions {
    /// How many changes run at once (the client's pacer is the real bound).
    pub parallelism: usize,
    /// How long to wait for new certificates to be issued, overriding each change's
    /// configured `wait_for_issuance`.
    pub wait: Option<Duration>,
}

impl Default for ApplyOptions {
    fn default() -> Self {
        ApplyOptions { parallelism: 10, wait: None }
    }
}

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
    /// A change has been running for another 10 seconds.
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
    Exported {
        address: &'a Address,
        path: &'a std::path::Path,
        id: &'a str,
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

/// What an apply did.
#[derive(Debug, Default)]
pub struct Report {
    /// The changes made, counted as the plan's summary counts them.
    pub done: Summary,
    pub failed: Vec<(Address, ChangeError)>,
    /// Certificates applied for in this apply and not issued when it ended, with what they
    /// wait for.
    pub pending: Vec<(Address, RemoteCertificate)>,
    /// Changes not started because the run was interrupted.
    pub not_started: Vec<Address>,
    /// Whether an interrupt stopped the apply early: changes not started, or waits for
    /// issuance cut short (their certificates are in `pending`).
    pub interrupted: bool,
    /// The plan's delivery work: done, failed, left for later.
    pub delivery: deliver::Delivered,
}
