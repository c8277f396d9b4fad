//! Why a state store could not do what it was asked, each error naming the file.
//!
//! The messages are what the user reads: each says what happened and, where there is one, what
//! to do next. Nothing here touches the file system.

use std::path::{Path, PathBuf};

use crate::{LockInfo, Problem};

/// Why the state could not be loaded, saved or locked.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("cannot use state file {}: {problem}", path.display())]
    Unreadable { path: PathBuf, problem: Problem },
    // The cause is part of the message rather than a separate source, so that a report of the
    // whole chain does not say it twice.
    #[error("cannot read state file {}: {cause}", path.display())]
    Read { path: PathBuf, cause: std::io::Error },
    #[error("cannot write state file {}: {cause}", path.display())]
    Write { path: PathBuf, cause: std::io::Error },
    #[error(
        "state file {} was changed by another writer (expected {expected}, found {found}); nothing was saved over it. \
         Run the command again to work from the current state",
        path.display()
    )]
    Conflict { path: PathBuf, expected: String, found: String },
    #[error("{}", locked_message(path, holder))]
    Locked { path: PathBuf, holder: Option<LockInfo> },
    #[error("cannot lock state file {}: {cause}", path.display())]
    Lock { path: PathBuf, cause: std::io::Error },
}

fn locked_message(path: &Path, holder: &Option<LockInfo>) -> String {
    let who = match holder {
        Some(h) => format!(
            "by {}@{} (pid {}, certplan {}) since {}",
            h.who,
            h.host,
            h.pid,
            h.operation,
            h.since.format("%Y-%m-%d %H:%M:%S UTC")
        ),
        None => "by another process".to_owned(),
    };
    format!(
        "state {} is locked {who}. Wait for it to finish, or pass --lock-timeout=DURATION to wait; \
         --lock=false skips locking (dangerous)",
        path.display()
    )
}
