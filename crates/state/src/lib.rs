//! certplan's record of what it applied: the [`State`] model, its versioned JSON file format and
//! the [`StateStore`] that loads and saves it.
//!
//! State is precious: a save is atomic (temp file in the same directory, fsync, rename, fsync the
//! directory), the previous version is kept as a backup, and a file that cannot be read as
//! certplan state is an error that names it — it is never overwritten. No secret is ever part of
//! the state. This crate knows neither HCL nor HTTP.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

use certplan_core::{Address, CertStatus, CertificateArgs};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// The state file format this build writes, and the newest it reads.
pub const FORMAT_VERSION: u32 = 1;

/// The default state file name, in the configuration directory.
pub const DEFAULT_STATE_FILE: &str = "certplan.state.json";

/// Everything certplan has applied, as of `serial`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
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
    #[error("cannot read state file {}: {source}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot write state file {}: {source}", path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// Where state is kept. The local file is the default; remote backends implement the same
/// trait, so neither the planner nor the apply engine knows where state lives.
pub trait StateStore {
    /// Names the store for messages, e.g. the file path.
    fn describe(&self) -> String;

    /// Loads the state; `None` when none has been saved yet.
    fn load(&self) -> Result<Option<State>, StateError>;

    /// Saves `state` as the next serial (incrementing `state.serial`).
    fn save(&mut self, state: &mut State) -> Result<(), StateError>;
}

/// State in a local JSON file, with its previous version beside it as `<file>.backup`.
#[derive(Debug, Clone)]
pub struct LocalStore {
    path: PathBuf,
}

impl LocalStore {
    pub fn new(path: impl Into<PathBuf>) -> Self {
        LocalStore { path: path.into() }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn backup_path(&self) -> PathBuf {
        let mut name = self.path.file_name().unwrap_or_default().to_os_string();
        name.push(".backup");
        self.path.with_file_name(name)
    }
}

impl StateStore for LocalStore {
    fn describe(&self) -> String {
        self.path.display().to_string()
    }

    fn load(&self) -> Result<Option<State>, StateError> {
        let bytes = match std::fs::read(&self.path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(source) => return Err(StateError::Read { path: self.path.clone(), source }),
        };
        State::from_json(&bytes)
            .map(Some)
            .map_err(|problem| StateError::Unreadable { path: self.path.clone(), problem })
    }

    fn save(&mut self, state: &mut State) -> Result<(), StateError> {
        // Never replace a file we could not have read: that could be someone else's data.
        if let Err(e @ (StateError::Unreadable { .. } | StateError::Read { .. })) = self.load() {
            return Err(e);
        }
        state.serial += 1;
        state.certplan_version = env!("CARGO_PKG_VERSION").to_owned();
        let bytes = state.to_json();
        let write_err = |source| StateError::Write { path: self.path.clone(), source };
        match std::fs::read(&self.path) {
            Ok(previous) => write_atomically(&self.backup_path(), &previous).map_err(write_err)?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(source) => return Err(StateError::Read { path: self.path.clone(), source }),
        }
        write_atomically(&self.path, &bytes).map_err(write_err)
    }
}

/// Replaces `path` with `bytes` so that a crash at any point leaves either the old or the new
/// content: write a temp file in the same directory (mode 0600), fsync it, rename it over
/// `path`, fsync the directory so the rename itself is durable.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    std::fs::create_dir_all(dir)?;
    // tempfile creates the file with mode 0600 on Unix, so the state is private from the start.
    let mut tmp = tempfile::Builder::new().prefix(".certplan-").suffix(".tmp").tempfile_in(dir)?;
    tmp.write_all(bytes)?;
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
        let backup = std::fs::read(store.backup_path()).expect("backup kept");
        assert_eq!(State::from_json(&backup).map(|s| s.serial), Ok(1));
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
