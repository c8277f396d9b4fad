//! The apply engine: carries out a [`Plan`](certplan_core::Plan) through the provider, and
//! nothing else.
//!
//! It reads the cloud for what state records ([`refresh`]), settles what an interrupted run
//! left in the intent journal ([`reconcile`]), executes a plan's changes concurrently under the
//! client's pacer ([`apply`]), waits for issuance where asked, delivers new certificates, and
//! adopts existing ones ([`import`]) — saving state after every step, so that a failure or a
//! crash loses nothing already done. It decides nothing: the plan says what to do, and
//! everything the apply needs from the configuration travels in the plan or in [`Inputs`] (the
//! secrets a plan file must not hold). It never reads the configuration, prints, or exits.
//!
//! Its modules depend only downward, layer by layer (`tests/it/layers.rs` checks it):
//!
//! 1. vocabulary: `error`, `options` (with the injected [`Timing`]); then `event`, `report`;
//! 2. `step` — pure state changes (a `Step` applied to a `State`: record, adopt, depose): no
//!    async, no client;
//! 3. `ledger` — saves steps, merges on a conflict; `read` — reads the cloud; `queue` — which
//!    deliveries may start;
//! 4. `run` — one apply's context (plan, inputs, ledger, client, cancellation, events, timing)
//!    with its `Done`/`Failure`;
//! 5. the operations, as methods on the run or on their own: `change` (apply for, renew,
//!    update, replace, delete), `wait`, `import`, `reconcile`, `deliver` (a module per target);
//! 6. `apply` — the whole apply, putting them together.

mod acme;
mod apply;
mod change;
mod deliver;
mod error;
mod event;
mod import;
mod ledger;
mod options;
mod queue;
mod read;
mod reconcile;
mod report;
mod run;
mod step;
mod wait;

pub use apply::{apply, record_plan_basis, waits_for_earlier_applications};
pub use certplan_export::{HookStream, run_hook};
pub use deliver::{export_hook, inspect_exports};
pub use error::{ApplyError, ChangeError, DeliveryError, ExportError, ImportError, ReconcileError};
pub use event::Event;
pub use import::{Adoption, import, import_all};
pub use options::{AcmeInputs, ApplyOptions, Inputs, Timing};
pub use read::{Bound, bindings, certificates, read_certificates, refresh};
pub use reconcile::{Settled, reconcile};
pub use report::{Delivered, Report};
pub use step::{Declared, record_observed};
pub use tokio_util::sync::CancellationToken;
