//! The state lock: an OS lock on `<state>.lock` that every writer holds for its whole run, and
//! the [`LockInfo`] written into that file so that a refused writer can say who holds it.
//!
//! The OS lock, not the file's existence, is what excludes: a holder that dies releases it
//! with its process, and the info it leaves behind is replaced by the next holder's. A lock is
//! known by its id ([`LockInfo::lock_id`]: the holder's process id here, its PostgreSQL
//! session for the pg backend), which messages show and `force-unlock` must be given. This
//! module locks; it never reads or writes the state itself.

use std::fs::File;
use std::io::Write;
use std::path::Path;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::StateError;

/// Who holds a state lock, written beside the state while it is held.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockInfo {
    pub operation: String,
    pub who: String,
    pub host: String,
    pub pid: u32,
    pub since: DateTime<Utc>,
    /// The PostgreSQL session holding the lock, for the pg backend: what `force-unlock` ends.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backend_pid: Option<i32>,
}

/// `alice@ci-7 (pid 42, certplan apply, PostgreSQL session 9) since … (lock id 9)`: who holds
/// the lock, and the id `force-unlock` takes.
impl std::fmt::Display for LockInfo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.pid == 0 {
            // Only its session is known (pid 0 is no process): it has not said who it is.
            let session = self
                .backend_pid
                .map(|pid| format!(" (PostgreSQL session {pid})"))
                .unwrap_or_default();
            return write!(
                f,
                "a run that has not said who it is{session} (lock id {})",
                self.lock_id()
            );
        }
        let session =
            self.backend_pid.map(|pid| format!(", PostgreSQL session {pid}")).unwrap_or_default();
        write!(
            f,
            "{}@{} (pid {}, certplan {}{session}) since {} (lock id {})",
            self.who,
            self.host,
            self.pid,
            self.operation,
            self.since.format("%Y-%m-%d %H:%M:%S UTC"),
            self.lock_id()
        )
    }
}

impl LockInfo {
    /// The lock's id, as `force-unlock` takes it and messages show it: the holder's
    /// PostgreSQL session (backend pid) for the pg backend — what `force-unlock` ends — else
    /// its process id. A lock taken again after the holder went has another id, so that
    /// `force-unlock` never ends a run other than the one it was told of.
    pub fn lock_id(&self) -> String {
        match self.backend_pid {
            Some(session) => session.to_string(),
            None => self.pid.to_string(),
        }
    }

    /// Describes this process running `operation`.
    pub fn current(operation: &str) -> Self {
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
            .ok()
            .or_else(|| std::env::var("HOSTNAME").ok())
            .map(|h| h.trim().to_owned())
            .filter(|h| !h.is_empty())
            .unwrap_or_else(|| "unknown-host".to_owned());
        let who = std::env::var("USER")
            .or_else(|_| std::env::var("USERNAME"))
            .unwrap_or_else(|_| "unknown".to_owned());
        LockInfo {
            operation: operation.to_owned(),
            who,
            host,
            pid: std::process::id(),
            since: Utc::now(),
            backend_pid: None,
        }
    }
}

/// A held state lock; released when dropped.
#[must_use = "the lock is released when this is dropped"]
pub struct StateLock {
    pub(crate) _guard: Box<dyn std::any::Any + Send>,
}

impl StateLock {
    /// Wraps what holds a lock (a store's own guard), released when it is dropped.
    pub fn new(guard: Box<dyn std::any::Any + Send>) -> Self {
        StateLock { _guard: guard }
    }
}

impl std::fmt::Debug for StateLock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("StateLock")
    }
}

/// Holds the OS lock on the lock file; clears the holder's info and unlocks on drop.
struct FileLock {
    file: File,
}

impl Drop for FileLock {
    fn drop(&mut self) {
        let _ = self.file.set_len(0);
        let _ = self.file.unlock();
    }
}

/// Locks the state at `state` through its lock file `lock_path` for `operation`, retrying
/// until `timeout` has passed, and writes who holds it into the lock file.
pub(crate) fn acquire(
    state: &Path,
    lock_path: &Path,
    operation: &str,
    timeout: Duration,
) -> Result<StateLock, StateError> {
    let lock_err = |source| StateError::Lock { path: lock_path.to_owned(), cause: source };
    if let Some(dir) = state.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(lock_err)?;
    }
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(lock_path)
        .map_err(lock_err)?;
    let deadline = Instant::now() + timeout;
    loop {
        match file.try_lock() {
            Ok(()) => break,
            Err(std::fs::TryLockError::WouldBlock) if Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(100));
            }
            Err(std::fs::TryLockError::WouldBlock) => {
                return Err(StateError::Locked {
                    store: state.display().to_string(),
                    holder: holder(lock_path).map(Box::new),
                });
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(lock_err(e)),
        }
    }
    let info =
        serde_json::to_vec_pretty(&LockInfo::current(operation)).expect("lock info serialises");
    // A holder killed before it could clear its info leaves it behind: replace it whole.
    file.set_len(0)
        .and_then(|()| (&file).write_all(&info))
        .and_then(|()| file.sync_all())
        .map_err(lock_err)?;
    Ok(StateLock { _guard: Box::new(FileLock { file }) })
}

/// Returns whether another process holds the lock at `lock_path` now, and who, as its file
/// says — without taking it, creating the file or changing anything.
pub(crate) fn probe(lock_path: &Path) -> Option<Option<LockInfo>> {
    let file = std::fs::OpenOptions::new().read(true).write(true).open(lock_path).ok()?;
    match file.try_lock() {
        Ok(()) => None,
        Err(std::fs::TryLockError::WouldBlock) => Some(holder(lock_path)),
        Err(std::fs::TryLockError::Error(_)) => None,
    }
}

/// Clears the info a dead holder left in the lock file at `lock_path`, returning it; or, when a
/// live process holds the lock, returns who as `Err` and changes nothing. The file is emptied
/// under the lock, never removed: a holder that took it meanwhile keeps a lock on the file
/// that later writers also open.
pub(crate) fn clear(
    lock_path: &Path,
) -> std::io::Result<Result<Option<LockInfo>, Option<LockInfo>>> {
    let file = match std::fs::OpenOptions::new().read(true).write(true).open(lock_path) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Ok(None)),
        Err(e) => return Err(e),
    };
    match file.try_lock() {
        Ok(()) => {
            let left = holder(lock_path);
            let _unlock = FileLock { file };
            Ok(Ok(left))
        }
        Err(std::fs::TryLockError::WouldBlock) => Ok(Err(holder(lock_path))),
        Err(std::fs::TryLockError::Error(e)) => Err(e),
    }
}

/// Returns who holds the lock, as the lock file at `lock_path` says.
pub(crate) fn holder(lock_path: &Path) -> Option<LockInfo> {
    let text = std::fs::read_to_string(lock_path).ok()?;
    serde_json::from_str(&text).ok()
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use crate::{DEFAULT_STATE_FILE, LocalStore, StateStore};

    #[test]
    fn a_held_lock_names_its_holder_and_is_released_on_drop() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = LocalStore::new(dir.path().join(DEFAULT_STATE_FILE));
        let held = store.lock("apply", Duration::ZERO).expect("free");
        let holder = store.lock_holder().expect("info written");
        assert_eq!((holder.operation.as_str(), holder.pid), ("apply", std::process::id()));

        let started = Instant::now();
        let err = store.lock("apply", Duration::from_millis(300)).expect_err("held");
        assert!(started.elapsed() >= Duration::from_millis(300), "waited");
        let message = err.to_string();
        assert!(
            message.contains("is locked by") && message.contains("certplan apply"),
            "{message}"
        );
        let id = format!("(lock id {})", std::process::id());
        assert!(message.contains(&id), "{message}");
        drop(held);
        assert_eq!(store.lock_holder(), None, "info cleared");
        let _again = store.lock("plan", Duration::ZERO).expect("released");
    }
}
