//! Why a state store could not do what it was asked, each error naming the store: the file, or
//! the database backend as [`crate::StateStore::describe`] names it.
//!
//! The messages are what the user reads: each says what happened and, where there is one, what
//! to do next. No message ever holds a password. Nothing here touches a file or a database.

use std::path::PathBuf;

use crate::{LockInfo, Problem};

/// Why the state could not be loaded, saved or locked. (A lock's holder is boxed to keep
/// every `Result` of this crate small.)
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
    /// Another writer saved since this store loaded or saved: the caller may load and retry.
    #[error(
        "state {store} was changed by another writer (expected {expected}, found {found}); nothing was saved over it. \
         Run the command again to work from the current state"
    )]
    Conflict { store: String, expected: String, found: String },
    #[error("{}", locked_message(store, holder))]
    Locked { store: String, holder: Option<Box<LockInfo>> },
    #[error("cannot lock state file {}: {cause}", path.display())]
    Lock { path: PathBuf, cause: std::io::Error },
    /// A database backend failed: `cause` says what happened, `hint` what to do about it.
    #[error("{}", backend_message(store, cause, hint))]
    Backend { store: String, cause: String, hint: String },
    /// `force-unlock` was given the id of another lock than the one held now: the holder it
    /// meant is gone, and another run took the lock since. Nothing was changed.
    #[error(
        "state {store} was not unlocked: the lock is now held {}, not {lock_id}: \
         run force-unlock again only if that one is stuck",
        holder_phrase(holder)
    )]
    LockIdMismatch { store: String, lock_id: String, holder: Option<Box<LockInfo>> },
    /// `force-unlock` found the lock held by a process that is still running.
    #[error(
        "state {store} is locked {}, which is still running: force-unlock only clears a lock whose holder died. \
         Let it finish or stop it (its lock is released when it exits), then try again",
        holder_phrase(holder)
    )]
    HeldByLiveProcess { store: String, holder: Option<Box<LockInfo>> },
    /// `state push` would replace a state it must not, without `--force`.
    #[error(
        "{store} holds {why}: nothing was pushed. Pull it first (`certplan state pull`), or push with --force to replace it"
    )]
    PushRefused { store: String, why: String },
}

/// Names the holder of a lock and its id, e.g. `by alice@ci-7 (pid 42, certplan apply) since …
/// (lock id 42)`: the id is what `force-unlock` takes.
fn holder_phrase(holder: &Option<Box<LockInfo>>) -> String {
    match holder {
        Some(h) => format!("by {h}"),
        None => "by another process".to_owned(),
    }
}

fn locked_message(store: &str, holder: &Option<Box<LockInfo>>) -> String {
    format!(
        "state {store} is locked {}. Wait for it to finish, or pass --lock-timeout=DURATION to wait; \
         --lock=false skips locking (dangerous)",
        holder_phrase(holder)
    )
}

fn backend_message(store: &str, cause: &str, hint: &str) -> String {
    if hint.is_empty() { format!("{store}: {cause}") } else { format!("{store}: {cause}. {hint}") }
}
