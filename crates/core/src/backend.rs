//! Where state is kept: the [`Backend`], by the names Terraform's `backend` blocks use. One
//! enum from the `certplan` block (what it declares) to the store the CLI opens (with what the
//! flags and the environment add, resolved in one place); a new backend is a new variant.

use std::path::PathBuf;

use crate::Sensitive;

/// The state file's name when nothing names another.
pub const DEFAULT_STATE_FILE: &str = "certplan.state.json";

/// Where state is kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Backend {
    /// `backend "local" { path = "..." }`, the default: a file, relative to the configuration
    /// directory (for a workspace other than `default`, `certplan.state.d/NAME.json` beside it).
    Local { path: PathBuf },
    /// `backend "pg" { conn_str = "..."  schema_name = "..." }`, Terraform's names. What the
    /// block leaves out may come from the environment (`PG_CONN_STR`, `PG_SCHEMA_NAME`); the
    /// connection string may hold a password, so it is never shown.
    Pg { conn_str: Option<Sensitive>, schema_name: Option<String> },
}

impl Default for Backend {
    fn default() -> Self {
        Backend::Local { path: PathBuf::from(DEFAULT_STATE_FILE) }
    }
}
