//! Export blocks: an issued certificate's PEM files for a server on this machine, and the
//! reload hook that tells the server to pick them up —
//! `export { path = "/etc/nginx/certs/www"  on_change = "systemctl reload nginx" }`.
//!
//! Four operations, each a plain function the engine calls; none prints, exits or decides
//! *whether* to export (the planner does, from [`inspect`]'s answer):
//!
//! - [`check`]: the PEM material the API returned is whole and consistent — the chain parses and
//!   links up, the key belongs to the leaf, the leaf is the certificate that was asked for.
//! - [`write`]: the four files replaced atomically, with the modes and owners a server expects.
//! - [`inspect`]: what is on disk now, compared with what state recorded.
//! - [`run_hook`]: the `on_change` command, bounded in time and output, without certplan's
//!   secrets in its environment ([`SECRET_ENV`]).
//!
//! Key material exists only in `privkey.pem` and in memory, wrapped in [`Sensitive`]; no error,
//! record or hook variable carries any of it, not even an excerpt. Nor does a hook see the
//! cloud credentials or the state backend's password: the caller passes [`SECRET_ENV`] as
//! [`Hook::env_remove`].
//!
//! [`Sensitive`]: certplan_core::Sensitive

mod check;
mod files;
mod hook;
mod key;

pub use check::{CheckError, Expected, Pems, check};
pub use files::{WriteError, Written, inspect, write};
pub use hook::{
    Hook, HookEnv, HookError, HookStatus, HookStream, MAX_HOOK_LINE, MAX_HOOK_OUTPUT, OUTPUT_GRACE,
    SECRET_ENV, hook_env, run_hook,
};

use sha2::{Digest, Sha256};

/// Returns the lowercase hex SHA-256 of `bytes`, the digest records and fingerprints use.
fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}
