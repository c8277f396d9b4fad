//! certplan's record of what it applied: the [`State`] model, its versioned JSON file format and
//! the [`StateStore`] that loads and saves it.
//!
//! State is precious: a save is atomic (temp file in the same directory, fsync, rename, fsync the
//! directory), the previous version is kept as a backup, and a file that cannot be read as
//! certplan state is an error that names it — it is never overwritten. No secret is ever part of
//! the state. This crate knows neither HCL nor HTTP.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

use certplan_core::{Address, CertStatus, CertificateArgs, RemoteCertificate, ValidationRecord};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// The state file format this build writes, and the newest it reads.
pub const FORMAT_VERSION: u32 = 1;

/// The default state file name, in the configuration directory.
pub const DEFAULT_STATE_FILE: &str = "certplan.state.json";

/// Everything certplan has applied, as of `serial`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct State {
    pub format_version: u32,
    /// Fixed when the state is first created; tells two unrelated states apart.
    pub lineage: String,
    /// Incremented on every save.
    pub serial: u64,
    /// The certplan version that wrote this state.
    pub certplan_version: String,
    pub resources: BTreeMap<Address, ResourceState>,
    /// Certificates a replacement superseded but could not delete yet; every apply retries.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub deposed: Vec<Deposed>,
    /// Applications for certificates made (or about to be made) whose result is not recorded
    /// yet. A run that finds one reconciles it with the cloud before doing anything else.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub intents: Vec<Intent>,
    /// The configuration's outputs as of the last apply.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub outputs: BTreeMap<String, StoredOutput>,
}

/// An output's value as of the last apply.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredOutput {
    pub value: serde_json::Value,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub sensitive: bool,
}

/// A journal entry written before `ApplyCertificate` and removed with its result, so that a
/// response lost to a crash or a dropped connection is found again instead of applied for twice.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Intent {
    pub address: Address,
    /// What the call was for: `create`, `renew` or `replace`.
    pub action: String,
    /// The arguments applied for (the password only as a digest).
    pub args: CertificateArgs,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub prevent_destroy: bool,
    /// The certificate being renewed or replaced.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub old_certificate_id: Option<String>,
    /// When the call was about to be made; a certificate it created was inserted after this.
    pub started_at: DateTime<Utc>,
}

/// An old certificate left behind by a replacement, still to be deleted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Deposed {
    pub address: Address,
    pub certificate_id: String,
    pub since: DateTime<Utc>,
    /// Why the last delete failed.
    pub last_error: String,
}

/// One applied certificate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResourceState {
    pub certificate_id: String,
    /// The arguments the certificate was applied for with (the password only as a digest).
    pub args: CertificateArgs,
    pub status: CertStatus,
    pub not_before: Option<DateTime<Utc>>,
    pub not_after: Option<DateTime<Utc>>,
    /// The certificates this one replaced by renewal, the most recent first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub renewed_from: Vec<String>,
    /// The resource's `lifecycle { prevent_destroy }` when last applied: it still protects the
    /// certificate after its block is removed from the configuration.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub prevent_destroy: bool,
    pub applied_at: DateTime<Utc>,
    /// While the certificate waits for domain validation: the DNS record or file to publish.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub validation: Vec<ValidationRecord>,
    /// The arguments that came from sensitive variables when last applied: a plan to delete the
    /// certificate, made once its block is gone, still hides them.
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub sensitive: BTreeSet<String>,
}

impl ResourceState {
    /// Records what the cloud reports of the certificate: status, dates, and while it waits
    /// for validation, what to publish.
    pub fn observe(&mut self, remote: &RemoteCertificate) {
        self.status = remote.status;
        self.not_before = remote.not_before.or(self.not_before);
        self.not_after = remote.not_after.or(self.not_after);
        // Only the detail call reports what validation needs; a listing leaves it unsaid.
        if !remote.status.is_pending() {
            self.validation.clear();
        } else if !remote.validation.is_empty() {
            self.validation = remote.validation.clone();
        }
    }
}

impl State {
    /// Creates an empty state with a new lineage.
    pub fn new() -> Self {
        State {
            format_version: FORMAT_VERSION,
            lineage: uuid::Uuid::new_v4().to_string(),
            serial: 0,
            certplan_version: env!("CARGO_PKG_VERSION").to_owned(),
            resources: BTreeMap::new(),
            deposed: Vec::new(),
            intents: Vec::new(),
            outputs: BTreeMap::new(),
        }
    }

    /// Reads a state document, refusing what is not certplan state or is from a newer format.
    pub fn from_json(bytes: &[u8]) -> Result<Self, Problem> {
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Err(Problem::Empty);
        }
        let value: serde_json::Value = serde_json::from_slice(bytes).map_err(|e| {
            if e.is_eof() {
                Problem::Truncated(e.to_string())
            } else {
                Problem::NotJson(e.to_string())
            }
        })?;
        let version = value.get("format_version").and_then(serde_json::Value::as_u64);
        let lineage = value.get("lineage").and_then(serde_json::Value::as_str);
        let (Some(version), Some(_)) = (version, lineage) else {
            return Err(Problem::Foreign);
        };
        if version > u64::from(FORMAT_VERSION) {
            return Err(Problem::NewerFormat(version));
        }
        serde_json::from_value(value).map_err(|e| Problem::Invalid(e.to_string()))
    }

    /// Writes the state document: pretty, with a trailing newline, keys in a stable order.
    pub fn to_json(&self) -> Vec<u8> {
        let mut bytes = serde_json::to_vec_pretty(self).expect("state always serialises");
        bytes.push(b'\n');
        bytes
    }
}

impl Default for State {
    fn default() -> Self {
        State::new()
    }
}

/// What is wrong with a state document.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Problem {
    #[error("the file is empty")]
    Empty,
    #[error("the file is truncated ({0})")]
    Truncated(String),
    #[error("the file is not JSON ({0})")]
    NotJson(String),
    #[error("the file is not a certplan state file (it has no format_version and lineage)")]
    Foreign,
    #[error(
        "the file has state format version {0}, newer than this certplan reads ({FORMAT_VERSION}); upgrade certplan"
    )]
    NewerFormat(u64),
    #[error("the file is not valid certplan state: {0}")]
    Invalid(String),
}

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

/// Who holds a state lock, written beside the state while it is held.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockInfo {
    pub operation: String,
    pub who: String,
    pub host: String,
    pub pid: u32,
    pub since: DateTime<Utc>,
}

impl LockInfo {
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
        }
    }
}

/// A held state lock; released when dropped.
#[must_use = "the lock is released when this is dropped"]
pub struct StateLock {
    _guard: Box<dyn std::any::Any + Send>,
}

impl std::fmt::Debug for StateLock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("StateLock")
    }
}

/// Where state is kept. The local file is the default; remote backends implement the same
/// trait, so neither the planner nor the apply engine knows where state lives.
pub trait StateStore {
    /// Names the store for messages, e.g. the file path.
    fn describe(&self) -> String;

    /// Takes the exclusive lock every writer holds for its whole run, waiting up to `timeout`.
    fn lock(&self, operation: &str, timeout: std::time::Duration) -> Result<StateLock, StateError>;

    /// Loads the state; `None` when none has been saved yet. Remembers its lineage and serial,
    /// so that a save can tell whether another writer has been at it since.
    fn load(&mut self) -> Result<Option<State>, StateError>;

    /// Saves `state` as the next serial (incrementing `state.serial`), unless the stored state
    /// is no longer the one loaded or last saved.
    fn save(&mut self, state: &mut State) -> Result<(), StateError>;
}

/// State in a local JSON file, with the version from before the running command beside it as
/// `<file>.backup` and its lock as `<file>.lock`.
#[derive(Debug, Clone)]
pub struct LocalStore {
    path: PathBuf,
    /// Lineage and serial of what was last loaded or saved: `Some(None)` when there was no file.
    seen: Option<Option<(String, u64)>>,
    /// The file's identity when this store last read or wrote it: while it is unchanged, the
    /// state on disk is the one seen and need not be parsed again to check for other writers.
    seen_file: Option<FileIdentity>,
    /// Whether this store has written the backup yet: once per command, like Terraform, so that
    /// an apply saving after every change does not write everything twice.
    backed_up: bool,
}

impl LocalStore {
    pub fn new(path: impl Into<PathBuf>) -> Self {
        LocalStore { path: path.into(), seen: None, seen_file: None, backed_up: false }
    }

    pub fn lock_path(&self) -> PathBuf {
        sibling(&self.path, ".lock")
    }

    /// Returns who holds the lock, as its lock file says.
    pub fn lock_holder(&self) -> Option<LockInfo> {
        let text = std::fs::read_to_string(self.lock_path()).ok()?;
        serde_json::from_str(&text).ok()
    }

    /// Reads the stored state's lineage and serial; `None` when there is no state file. A file
    /// still as this store last saw it is not read again.
    fn stored_version(&self) -> Result<Option<(String, u64)>, StateError> {
        if let (Some(seen), Some(file)) = (&self.seen, &self.seen_file)
            && FileIdentity::of(&self.path).as_ref() == Some(file)
        {
            return Ok(seen.clone());
        }
        match std::fs::read(&self.path) {
            Ok(bytes) => State::from_json(&bytes)
                .map(|s| Some((s.lineage, s.serial)))
                .map_err(|problem| StateError::Unreadable { path: self.path.clone(), problem }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(source) => Err(StateError::Read { path: self.path.clone(), cause: source }),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn backup_path(&self) -> PathBuf {
        sibling(&self.path, ".backup")
    }
}

/// Returns `path` with `suffix` appended to its file name.
fn sibling(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(suffix);
    path.with_file_name(name)
}

/// What identifies a version of a file without reading it: a save renames a new file into
/// place, so another writer's save changes the inode, and any write changes size or mtime.
#[derive(Debug, Clone, PartialEq, Eq)]
struct FileIdentity {
    inode: u64,
    len: u64,
    modified: Option<std::time::SystemTime>,
}

impl FileIdentity {
    fn of(path: &Path) -> Option<Self> {
        let meta = std::fs::metadata(path).ok()?;
        #[cfg(unix)]
        let inode = std::os::unix::fs::MetadataExt::ino(&meta);
        #[cfg(not(unix))]
        let inode = 0;
        Some(FileIdentity { inode, len: meta.len(), modified: meta.modified().ok() })
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

fn describe_version(version: &Option<(String, u64)>) -> String {
    match version {
        Some((lineage, serial)) => format!("lineage {lineage} serial {serial}"),
        None => "no state file".to_owned(),
    }
}

impl StateStore for LocalStore {
    fn describe(&self) -> String {
        self.path.display().to_string()
    }

    fn lock(&self, operation: &str, timeout: std::time::Duration) -> Result<StateLock, StateError> {
        let lock_err = |source| StateError::Lock { path: self.lock_path(), cause: source };
        if let Some(dir) = self.path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(lock_err)?;
        }
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(self.lock_path())
            .map_err(lock_err)?;
        let deadline = std::time::Instant::now() + timeout;
        loop {
            match file.try_lock() {
                Ok(()) => break,
                Err(std::fs::TryLockError::WouldBlock) if std::time::Instant::now() < deadline => {
                    std::thread::sleep(std::time::Duration::from_millis(100));
                }
                Err(std::fs::TryLockError::WouldBlock) => {
                    return Err(StateError::Locked {
                        path: self.path.clone(),
                        holder: self.lock_holder(),
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

    fn load(&mut self) -> Result<Option<State>, StateError> {
        let bytes = match std::fs::read(&self.path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                self.seen = Some(None);
                return Ok(None);
            }
            Err(source) => return Err(StateError::Read { path: self.path.clone(), cause: source }),
        };
        let identity = FileIdentity::of(&self.path);
        let state = State::from_json(&bytes)
            .map_err(|problem| StateError::Unreadable { path: self.path.clone(), problem })?;
        self.seen = Some(Some((state.lineage.clone(), state.serial)));
        self.seen_file = identity;
        Ok(Some(state))
    }

    fn save(&mut self, state: &mut State) -> Result<(), StateError> {
        // Never replace a file we could not have read: that could be someone else's data.
        let stored = self.stored_version()?;
        if let Some(seen) = &self.seen
            && *seen != stored
        {
            return Err(StateError::Conflict {
                path: self.path.clone(),
                expected: describe_version(seen),
                found: describe_version(&stored),
            });
        }
        state.serial += 1;
        state.certplan_version = env!("CARGO_PKG_VERSION").to_owned();
        let bytes = state.to_json();
        let write_err = |source| StateError::Write { path: self.path.clone(), cause: source };
        if !self.backed_up {
            match std::fs::read(&self.path) {
                Ok(previous) => {
                    write_atomically(&self.backup_path(), &previous).map_err(write_err)?
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(source) => {
                    return Err(StateError::Read { path: self.path.clone(), cause: source });
                }
            }
            self.backed_up = true;
        }
        write_atomically(&self.path, &bytes).map_err(write_err)?;
        self.seen = Some(Some((state.lineage.clone(), state.serial)));
        self.seen_file = FileIdentity::of(&self.path);
        Ok(())
    }
}

/// Replaces `path` with `bytes` so that a crash at any point leaves either the old or the new
/// content: write a temp file in the same directory (mode 0600), fsync it, rename it over
/// `path`, fsync the directory so the rename itself is durable.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    write_atomically_with(path, bytes, None, |_| Ok(()))
}

/// [`write_atomically`] with the new file given `permissions` (those of the file it replaces,
/// say) rather than 0600.
pub fn write_atomically_with_permissions(
    path: &Path,
    bytes: &[u8],
    permissions: std::fs::Permissions,
) -> std::io::Result<()> {
    write_atomically_with(path, bytes, Some(permissions), |_| Ok(()))
}

/// [`write_atomically`], calling `checkpoint` with the number of bytes written so far after
/// each chunk; an error from it stops the write there, as a crash would (tests use this).
fn write_atomically_with(
    path: &Path,
    bytes: &[u8],
    permissions: Option<std::fs::Permissions>,
    mut checkpoint: impl FnMut(usize) -> std::io::Result<()>,
) -> std::io::Result<()> {
    const CHUNK: usize = 4096;
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    std::fs::create_dir_all(dir)?;
    // tempfile creates the file with mode 0600 on Unix, so the state is private from the start.
    let tmp = tempfile::Builder::new().prefix(".certplan-").suffix(".tmp").tempfile_in(dir)?;
    let mut written = 0;
    for chunk in bytes.chunks(CHUNK) {
        tmp.as_file().write_all(chunk)?;
        written += chunk.len();
        checkpoint(written)?;
    }
    if let Some(permissions) = permissions {
        tmp.as_file().set_permissions(permissions)?;
    }
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    sync_dir(dir)
}

#[cfg(unix)]
fn sync_dir(dir: &Path) -> std::io::Result<()> {
    File::open(dir)?.sync_all()
}

#[cfg(not(unix))]
fn sync_dir(_dir: &Path) -> std::io::Result<()> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use certplan_core::DvAuthMethod;

    fn sample() -> State {
        let mut state = State::new();
        state.resources.insert(
            Address::certificate("www"),
            ResourceState {
                certificate_id: "a9TsmZkL".into(),
                args: CertificateArgs::new("www.example.com", DvAuthMethod::DnsAuto),
                status: CertStatus::Issued,
                not_before: Some("2026-11-26T00:00:00Z".parse().expect("time")),
                not_after: Some("2027-02-24T00:00:00Z".parse().expect("time")),
                renewed_from: vec!["oldId001".into()],
                prevent_destroy: false,
                applied_at: "2026-11-26T00:00:01Z".parse().expect("time"),
                validation: Vec::new(),
                sensitive: BTreeSet::new(),
            },
        );
        state
    }

    #[test]
    fn saves_and_loads_back_incrementing_the_serial() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut store = LocalStore::new(dir.path().join(DEFAULT_STATE_FILE));
        assert_eq!(store.load().expect("absent is fine"), None);
        let mut state = sample();
        store.save(&mut state).expect("saved");
        assert_eq!(state.serial, 1);
        assert_eq!(store.load().expect("loads"), Some(state.clone()));
        store.save(&mut state).expect("saved again");
        assert_eq!(store.load().expect("loads").map(|s| s.serial), Some(2));
        // The backup is the state from before this store's (this command's) first save.
        assert!(!store.backup_path().exists(), "there was no state before");
        let mut next_command = LocalStore::new(store.path());
        let mut state = next_command.load().expect("loads").expect("present");
        next_command.save(&mut state).expect("saved");
        next_command.save(&mut state).expect("saved");
        let backup = std::fs::read(store.backup_path()).expect("backup kept");
        assert_eq!(State::from_json(&backup).map(|s| s.serial), Ok(2));
    }

    #[cfg(unix)]
    #[test]
    fn state_file_is_private() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("tempdir");
        let mut store = LocalStore::new(dir.path().join(DEFAULT_STATE_FILE));
        store.save(&mut sample()).expect("saved");
        let mode = std::fs::metadata(store.path()).expect("exists").permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    #[test]
    fn unreadable_files_are_named_and_never_overwritten() {
        let newer = String::from_utf8(sample().to_json())
            .expect("utf8")
            .replace("\"format_version\": 1", "\"format_version\": 9");
        let cases: [(&str, &[u8]); 5] = [
            ("is empty", b""),
            ("truncated", &sample().to_json()[..40]),
            ("not JSON", b"<<<garbage>>>"),
            ("not a certplan state file", br#"{"version": 4, "terraform_version": "1.9.0"}"#),
            ("newer than this certplan reads", newer.as_bytes()),
        ];
        for (expected, bytes) in cases {
            let dir = tempfile::tempdir().expect("tempdir");
            let path = dir.path().join(DEFAULT_STATE_FILE);
            std::fs::write(&path, bytes).expect("write");
            let mut store = LocalStore::new(&path);
            let err = store.load().expect_err("unreadable").to_string();
            assert!(
                err.contains(expected) && err.contains(DEFAULT_STATE_FILE),
                "{expected}: {err}"
            );
            assert!(store.save(&mut sample()).is_err(), "{expected}: refused to overwrite");
            assert_eq!(std::fs::read(&path).expect("still there"), bytes, "{expected}: untouched");
            assert!(!store.backup_path().exists());
        }
    }

    #[test]
    fn a_second_writer_is_refused_and_nothing_is_saved_over_it() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join(DEFAULT_STATE_FILE);
        let mut first = LocalStore::new(&path);
        let mut state = first.load().expect("absent").unwrap_or_default();
        first.save(&mut state).expect("saved");

        let mut second = LocalStore::new(&path);
        let mut theirs = second.load().expect("loads").expect("present");
        second.save(&mut theirs).expect("the other writer saves serial 2");
        let on_disk = std::fs::read(&path).expect("read");

        let err = first.save(&mut state).expect_err("stale writer");
        assert!(matches!(err, StateError::Conflict { .. }), "{err}");
        assert!(err.to_string().contains("changed by another writer"), "{err}");
        assert_eq!(std::fs::read(&path).expect("read"), on_disk, "untouched");
    }

    #[test]
    fn a_held_lock_names_its_holder_and_is_released_on_drop() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = LocalStore::new(dir.path().join(DEFAULT_STATE_FILE));
        let held = store.lock("apply", std::time::Duration::ZERO).expect("free");
        let holder = store.lock_holder().expect("info written");
        assert_eq!((holder.operation.as_str(), holder.pid), ("apply", std::process::id()));

        let started = std::time::Instant::now();
        let err = store.lock("apply", std::time::Duration::from_millis(300)).expect_err("held");
        assert!(started.elapsed() >= std::time::Duration::from_millis(300), "waited");
        let message = err.to_string();
        assert!(
            message.contains("is locked by") && message.contains("certplan apply"),
            "{message}"
        );
        drop(held);
        assert_eq!(store.lock_holder(), None, "info cleared");
        let _again = store.lock("plan", std::time::Duration::ZERO).expect("released");
    }

    #[test]
    fn backup_survives_a_refused_save() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join(DEFAULT_STATE_FILE);
        let mut state = sample();
        LocalStore::new(&path).save(&mut state).expect("first command");
        let mut store = LocalStore::new(&path);
        let mut state = store.load().expect("loads").expect("present");
        store.save(&mut state).expect("second command, with a backup");
        let backup = std::fs::read(store.backup_path()).expect("backup");
        std::fs::write(store.path(), b"{ truncated").expect("corrupt");
        assert!(store.save(&mut state).is_err());
        assert_eq!(std::fs::read(store.backup_path()).expect("backup"), backup, "backup intact");
        assert_eq!(std::fs::read(store.path()).expect("state"), b"{ truncated");
    }

    proptest::proptest! {
        /// A crash at any byte of any save leaves the previous or the new state on disk,
        /// never a mix: the real writer is interrupted at a random offset.
        #[test]
        fn a_crash_at_any_byte_leaves_old_or_new_state(
            saves in proptest::collection::vec((1usize..40, proptest::option::of(0usize..40_000)), 1..6)
        ) {
            let dir = tempfile::tempdir().expect("tempdir");
            let path = dir.path().join(DEFAULT_STATE_FILE);
            let mut current: Option<Vec<u8>> = None;
            for (resources, crash_at) in saves {
                let mut state = State::new();
                for i in 0..resources {
                    let mut r = sample().resources.into_values().next().expect("one");
                    r.certificate_id = format!("id{i:06}");
                    state.resources.insert(Address::certificate(format!("r{i}")), r);
                }
                let bytes = state.to_json();
                let result = write_atomically_with(&path, &bytes, None, |written| match crash_at {
                    Some(at) if written >= at => Err(std::io::Error::other("crash")),
                    _ => Ok(()),
                });
                if result.is_ok() {
                    current = Some(bytes);
                }
                let on_disk = std::fs::read(&path).ok();
                proptest::prop_assert_eq!(&on_disk, &current);
                if let Some(bytes) = &on_disk {
                    proptest::prop_assert!(State::from_json(bytes).is_ok());
                }
            }
        }
    }

    #[test]
    fn state_holds_no_password() {
        let mut state = sample();
        if let Some(r) = state.resources.values_mut().next() {
            r.args.csr_key_password_digest = Some("sha256:abc".into());
        }
        let text = String::from_utf8(state.to_json()).expect("utf8");
        assert!(text.contains("csr_key_password_digest"));
        assert!(!text.contains("\"csr_key_password\""));
    }
}
