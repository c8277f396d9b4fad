//! certplan's record of what it applied: the [`State`] model, its versioned JSON file format and
//! the [`StateStore`] that loads and saves it — in a local file ([`LocalStore`]) or, through
//! the `certplan-state-pg` crate, in PostgreSQL — per workspace. It also reads Terraform's
//! state ([`read_terraform_state`]), for certificates moving in from Terraform.
//!
//! State is precious: a save is atomic (temp file in the same directory, fsync, rename, fsync the
//! directory, the previous version kept as a backup; or one database transaction), a save
//! never replaces what another writer saved since, and a file that cannot be read as certplan
//! state is an error that names it — it is never overwritten. No secret is ever part of the
//! state, nor of a message about it. This crate knows neither HCL nor HTTP.

mod atomic;
mod error;
mod format;
mod local;
mod lock;
mod model;
mod store;
mod terraform;
mod workspace;

pub use atomic::{write_atomically, write_atomically_with_permissions};
pub use error::StateError;
pub use format::{FORMAT_VERSION, Problem};
pub use local::{DEFAULT_STATE_FILE, LocalStore, WORKSPACES_DIR};
pub use lock::{LockInfo, StateLock};
pub use model::{Cloud, Clouds, Deposed, Intent, IntentKind, ResourceState, State, StoredOutput};
pub use store::{StateStore, diverged, push_refusal_of, same_records};
pub use terraform::{
    TerraformAddress, TerraformAddressError, TerraformCertificate, TerraformState,
    TerraformStateError, read_terraform_state,
};
pub use workspace::{DEFAULT_WORKSPACE, valid_workspace_name};
