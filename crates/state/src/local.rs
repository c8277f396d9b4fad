//! [`LocalStore`]: state in a local JSON file, with `<file>.backup` and `<file>.lock` beside it.
//!
//! It owns the rules of saving over a file: never over one it could not read, never over one
//! another writer has changed since it was loaded, and the previous version kept as a backup
//! once per command. The bytes are written by `atomic`, the lock taken by `lock`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::{LockInfo, State, StateError, StateLock, StateStore, lock, write_atomically};

/// The default state file name, in the configuration directory.
pub const DEFAULT_STATE_FILE: &str = "certplan.state.json";

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
        lock::holder(&self.lock_path())
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

/// Names a stored version in a conflict message.
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

    fn lock(&self, operation: &str, timeout: Duration) -> Result<StateLock, StateError> {
        lock::acquire(&self.path, &self.lock_path(), operation, timeout)
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::sample;

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
}
