//! [`LocalStore`]: state in a local JSON file, with `<file>.backup` and `<file>.lock` beside it.
//!
//! It owns the rules of saving over a file: never over one it could not read, never over one
//! another writer has changed since it was loaded, and the previous version kept as a backup
//! once per command. The bytes are written by `atomic`, the lock taken by `lock`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::{LockInfo, State, StateError, StateLock, StateStore, lock, write_atomically};

/// The default state file name, in the configuration directory.
pub use certplan_core::DEFAULT_STATE_FILE;

/// The directory beside the default state file that keeps the other workspaces' states.
pub const WORKSPACES_DIR: &str = "certplan.state.d";

/// State in a local JSON file, with the version from before the running command beside it as
/// `<file>.backup` and its lock as `<file>.lock`.
#[derive(Debug, Clone)]
pub struct LocalStore {
    path: PathBuf,
    /// What this store last loaded or saved; `None` before either.
    seen: Option<Seen>,
    /// Whether this store has written the backup yet: once per command, like Terraform, so that
    /// an apply saving after every change does not write everything twice.
    backed_up: bool,
}

/// A version of the state file as this store last read or wrote it.
#[derive(Debug, Clone)]
struct Seen {
    /// SHA-256 of the bytes; `None` when there was no file. Another writer that saved anything
    /// else since — even the same serial — is told apart by it.
    digest: Option<[u8; 32]>,
    /// Lineage and serial, for messages.
    version: Option<(String, u64)>,
    /// The file's identity: while it is unchanged, the file is the one seen and need not be
    /// read again to check for other writers.
    file: Option<FileIdentity>,
}

impl Seen {
    fn of(path: &Path, bytes: Option<&[u8]>, version: Option<(String, u64)>) -> Self {
        Seen { digest: bytes.map(digest), version, file: FileIdentity::of(path) }
    }
}

fn digest(bytes: &[u8]) -> [u8; 32] {
    use sha2::Digest as _;
    sha2::Sha256::digest(bytes).into()
}

impl LocalStore {
    /// A store for the state at `path`. A symbolic link is followed: the state is locked,
    /// replaced and backed up where the link points, so that directories linking one state
    /// share its lock and the link stays a link.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        LocalStore { path: resolve_links(path.into()), seen: None, backed_up: false }
    }

    pub fn lock_path(&self) -> PathBuf {
        sibling(&self.path, ".lock")
    }

    /// A store for `workspace`'s state, as Terraform keeps workspaces: `default` at `path`
    /// (the state file, or a directory to keep `certplan.state.json` in), any other beside it
    /// as `certplan.state.d/NAME.json` (the directory made on first lock or save). The name
    /// must be one [`crate::valid_workspace_name`] accepts.
    pub fn for_workspace(path: impl Into<PathBuf>, workspace: &str) -> Self {
        debug_assert!(crate::valid_workspace_name(workspace).is_ok(), "{workspace:?}");
        let path = path.into();
        let file = if path.is_dir() { path.join(DEFAULT_STATE_FILE) } else { path };
        if workspace == crate::DEFAULT_WORKSPACE {
            return LocalStore::new(file);
        }
        let dir = match file.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.join(WORKSPACES_DIR),
            _ => PathBuf::from(WORKSPACES_DIR),
        };
        LocalStore::new(dir.join(format!("{workspace}.json")))
    }

    /// Returns who holds the lock, as its lock file says.
    pub fn lock_holder(&self) -> Option<LockInfo> {
        lock::holder(&self.lock_path())
    }

    /// Refuses to save when the file is no longer what this store last loaded or saved:
    /// another writer's state, or a file that cannot be read as state, is never saved over.
    fn check_unchanged(&self) -> Result<(), StateError> {
        if let Some(seen) = &self.seen
            && seen.file.is_some()
            && FileIdentity::of(&self.path) == seen.file
        {
            return Ok(());
        }
        let bytes = match std::fs::read(&self.path) {
            Ok(bytes) => Some(bytes),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(source) => return Err(StateError::Read { path: self.path.clone(), cause: source }),
        };
        let Some(seen) = &self.seen else {
            // Never loaded: whatever is there is saved over only if it is certplan state.
            return match bytes.as_deref().map(State::from_json) {
                Some(Err(problem)) => {
                    Err(StateError::Unreadable { path: self.path.clone(), problem })
                }
                _ => Ok(()),
            };
        };
        if bytes.as_deref().map(digest) == seen.digest {
            return Ok(());
        }
        let found = match bytes.as_deref().map(State::from_json) {
            None => None,
            Some(Ok(state)) => Some((state.lineage, state.serial)),
            Some(Err(problem)) => {
                return Err(StateError::Unreadable { path: self.path.clone(), problem });
            }
        };
        let mut found_text = describe_version(&found);
        if found == seen.version {
            found_text.push_str(" with other content");
        }
        Err(StateError::Conflict {
            store: self.describe(),
            expected: describe_version(&seen.version),
            found: found_text,
        })
    }

    /// Removes the temporary files a write killed midway left beside the state (the caller
    /// holds the lock, so none of them is being written).
    fn remove_leftover_temporaries(&self) {
        let Some(name) = self.path.file_name().map(|n| n.to_string_lossy().into_owned()) else {
            return;
        };
        let dir = match self.path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        let prefix = format!(".{name}.");
        let Ok(entries) = std::fs::read_dir(dir) else { return };
        for entry in entries.flatten() {
            let file = entry.file_name().to_string_lossy().into_owned();
            if file.starts_with(&prefix) && file.ends_with(crate::atomic::TEMPORARY_SUFFIX) {
                let _ = std::fs::remove_file(entry.path());
            }
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn backup_path(&self) -> PathBuf {
        sibling(&self.path, ".backup")
    }
}

/// Follows symbolic links from `path` to the file they name (which may not exist yet).
fn resolve_links(mut path: PathBuf) -> PathBuf {
    // As the kernel does, give up on a chain this long: it is a loop.
    for _ in 0..40 {
        let Ok(target) = std::fs::read_link(&path) else { break };
        path = match path.parent() {
            Some(dir) if target.is_relative() => dir.join(target),
            _ => target,
        };
    }
    path
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
        let lock = lock::acquire(&self.path, &self.lock_path(), operation, timeout)?;
        self.remove_leftover_temporaries();
        Ok(lock)
    }

    fn live_holder(&self) -> Option<Option<LockInfo>> {
        lock::probe(&self.lock_path())
    }

    /// Clears the lock info a dead holder left (whatever its id: the OS lock went with its
    /// process, and the note blocks no one). A live holder is never touched: refused as
    /// another lock than `lock_id` (its process id), or as still running.
    fn force_unlock(&self, lock_id: &str) -> Result<Option<LockInfo>, StateError> {
        match lock::clear(&self.lock_path()) {
            Ok(Ok(left)) => Ok(left),
            Ok(Err(Some(holder))) if holder.lock_id() != lock_id.trim() => {
                Err(StateError::LockIdMismatch {
                    store: self.describe(),
                    lock_id: lock_id.to_owned(),
                    holder: Some(Box::new(holder)),
                })
            }
            Ok(Err(holder)) => Err(StateError::HeldByLiveProcess {
                store: self.describe(),
                holder: holder.map(Box::new),
            }),
            Err(cause) => Err(StateError::Lock { path: self.lock_path(), cause }),
        }
    }

    fn load(&mut self) -> Result<Option<State>, StateError> {
        let bytes = match std::fs::read(&self.path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                self.seen = Some(Seen::of(&self.path, None, None));
                return Ok(None);
            }
            Err(source) => return Err(StateError::Read { path: self.path.clone(), cause: source }),
        };
        let state = State::from_json(&bytes)
            .map_err(|problem| StateError::Unreadable { path: self.path.clone(), problem })?;
        let version = Some((state.lineage.clone(), state.serial));
        self.seen = Some(Seen::of(&self.path, Some(&bytes), version));
        Ok(Some(state))
    }

    fn save(&mut self, state: &mut State) -> Result<(), StateError> {
        // Never replace a file we could not have read: that could be someone else's data.
        self.check_unchanged()?;
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
        let version = Some((state.lineage.clone(), state.serial));
        self.seen = Some(Seen::of(&self.path, Some(&bytes), version));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::FORMAT_VERSION;
    use crate::model::sample;

    #[test]
    fn workspaces_other_than_default_are_kept_in_the_workspaces_directory() {
        let dir = tempfile::tempdir().expect("tempdir");
        let default_file = dir.path().join(DEFAULT_STATE_FILE);
        assert_eq!(LocalStore::for_workspace(&default_file, "default").path(), default_file);
        assert_eq!(LocalStore::for_workspace(dir.path(), "default").path(), default_file);
        let prod = dir.path().join(WORKSPACES_DIR).join("prod.json");
        assert_eq!(LocalStore::for_workspace(&default_file, "prod").path(), prod);
        assert_eq!(LocalStore::for_workspace(dir.path(), "prod").path(), prod);
        assert_eq!(
            LocalStore::for_workspace(DEFAULT_STATE_FILE, "prod").path(),
            Path::new(WORKSPACES_DIR).join("prod.json")
        );

        let mut store = LocalStore::for_workspace(&default_file, "prod");
        assert_eq!(store.load().expect("nothing yet"), None);
        store.save(&mut sample()).expect("saved, the directory made");
        assert!(prod.exists() && !default_file.exists(), "the default workspace untouched");
    }

    #[test]
    fn force_unlock_clears_a_dead_holders_note_but_never_a_live_lock() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = LocalStore::new(dir.path().join(DEFAULT_STATE_FILE));
        let id = std::process::id().to_string();
        assert_eq!(store.force_unlock(&id).expect("no lock file"), None);
        let held = store.lock("apply", Duration::ZERO).expect("free");
        let err = store.force_unlock(&id).expect_err("held by a live process");
        assert!(matches!(err, StateError::HeldByLiveProcess { .. }), "{err}");
        assert!(err.to_string().contains("still running"), "{err}");
        assert!(err.to_string().contains(&format!("(lock id {id})")), "{err}");
        assert_eq!(store.lock_holder().map(|h| h.operation), Some("apply".into()), "untouched");
        // A holder killed outright leaves its note; its OS lock went with it.
        let note = std::fs::read(store.lock_path()).expect("note");
        drop(held);
        std::fs::write(store.lock_path(), &note).expect("a dead holder's note");
        let left = store.force_unlock(&id).expect("cleared").expect("the note");
        assert_eq!(left.operation, "apply");
        assert_eq!(store.lock_holder(), None);
    }

    #[test]
    fn force_unlock_refuses_a_lock_held_by_another_than_the_one_named() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = LocalStore::new(dir.path().join(DEFAULT_STATE_FILE));
        let _held = store.lock("apply", Duration::ZERO).expect("free");
        let note = std::fs::read(store.lock_path()).expect("note");
        let err = store.force_unlock("1").expect_err("another holder");
        assert!(matches!(err, StateError::LockIdMismatch { .. }), "{err}");
        let message = err.to_string();
        let now_held =
            format!("(lock id {}), not 1: run force-unlock again only if", std::process::id());
        assert!(
            message.contains("the lock is now held by") && message.contains(&now_held),
            "{message}"
        );
        assert_eq!(std::fs::read(store.lock_path()).expect("note"), note, "untouched");
    }

    #[test]
    fn push_refuses_a_different_state_of_the_same_lineage_and_serial_but_repeats_quietly() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut store = LocalStore::new(dir.path().join(DEFAULT_STATE_FILE));
        let mut base = sample();
        base.serial = 4;
        store.push(&base, false).expect("into no state");
        // Two teammates' copies of serial 4, each changed apart.
        let (mut mine, mut theirs) = (base.clone(), base.clone());
        mine.resources.clear();
        theirs.outputs.clear();
        assert_ne!(mine, theirs);
        store.push(&mine, true).expect("forced: the first of them, as serial 5");
        mine.serial = 5;
        theirs.serial = 5;
        let on_disk = std::fs::read(store.path()).expect("read");
        let err = store.push(&theirs, false).expect_err("same lineage and serial, other content");
        assert!(matches!(err, StateError::PushRefused { .. }), "{err}");
        assert!(
            err.to_string()
                .contains("holds a different state with the same lineage and serial (serial 5"),
            "{err}"
        );
        assert_eq!(std::fs::read(store.path()).expect("read"), on_disk, "untouched");
        // The very same state again: allowed, and nothing written.
        let mut same = store.load().expect("loads").expect("present");
        same.certplan_version = "0.0.1".into();
        store.push(&same, false).expect("identical");
        assert_eq!(std::fs::read(store.path()).expect("read"), on_disk, "nothing rewritten");
        store.push(&theirs, true).expect("forced");
        let stored = store.load().expect("loads").expect("present");
        assert_eq!(stored.serial, 6, "newer than both");
        assert!(crate::store::same_records(&stored, &theirs));
    }

    #[test]
    fn push_replaces_the_file_only_when_nothing_would_be_lost() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut store = LocalStore::new(dir.path().join(DEFAULT_STATE_FILE));
        let mut pushed = sample();
        pushed.serial = 4;
        store.push(&pushed, false).expect("into no state");
        assert_eq!(store.load().expect("loads"), Some(pushed.clone()), "as it is");
        let err = store.push(&State::new(), false).expect_err("another lineage");
        assert!(matches!(err, StateError::PushRefused { .. }), "{err}");
        let mut older = pushed.clone();
        older.serial = 3;
        assert!(store.push(&older, false).is_err(), "an older serial");
        store.push(&older, true).expect("forced");
        assert_eq!(store.load().expect("loads").map(|s| s.serial), Some(5), "newer than both");
    }

    #[test]
    fn another_writer_at_the_same_serial_is_still_a_conflict() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join(DEFAULT_STATE_FILE);
        LocalStore::new(&path).save(&mut sample()).expect("serial 1");
        let mut first = LocalStore::new(&path);
        let mut mine = first.load().expect("loads").expect("present");
        let mut theirs = mine.clone();
        first.save(&mut mine).expect("serial 2");
        // Another writer that raced this one (checked before this save, renamed after it) left
        // its own serial 2 in place.
        theirs.serial += 1;
        theirs.resources.clear();
        std::fs::write(&path, theirs.to_json()).expect("the other writer's serial 2");
        let on_disk = std::fs::read(&path).expect("read");
        let err = first.save(&mut mine).expect_err("same serial, other content");
        assert!(matches!(err, StateError::Conflict { .. }), "{err}");
        assert!(err.to_string().contains("with other content"), "{err}");
        assert_eq!(std::fs::read(&path).expect("read"), on_disk, "untouched");
    }

    #[cfg(unix)]
    #[test]
    fn a_linked_state_file_is_locked_and_replaced_where_the_link_points() {
        let dir = tempfile::tempdir().expect("tempdir");
        let shared = dir.path().join("shared");
        std::fs::create_dir(&shared).expect("dir");
        let target = shared.join("prod.json");
        let link = dir.path().join(DEFAULT_STATE_FILE);
        std::os::unix::fs::symlink("shared/prod.json", &link).expect("link");
        let mut store = LocalStore::new(&link);
        assert_eq!(store.path(), target, "the store works on the target");
        let _lock = store.lock("apply", Duration::ZERO).expect("locked");
        assert!(shared.join("prod.json.lock").exists(), "the lock is beside the target");
        store.save(&mut sample()).expect("saved");
        assert!(std::fs::symlink_metadata(&link).expect("link").file_type().is_symlink());
        let through_link = LocalStore::new(&link).load().expect("loads").expect("present");
        assert_eq!(through_link.serial, 1);
        let other = LocalStore::new(&target);
        assert!(other.lock("apply", Duration::ZERO).is_err(), "one lock for both names");
    }

    #[test]
    fn taking_the_lock_removes_what_a_killed_write_left_and_nothing_else() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = LocalStore::new(dir.path().join(DEFAULT_STATE_FILE));
        let leftover = dir.path().join(".certplan.state.json.XyZ123.certplan.tmp");
        let backup_leftover = dir.path().join(".certplan.state.json.backup.AbC987.certplan.tmp");
        let unrelated = dir.path().join(".other.json.Q1w2E3.certplan.tmp");
        for file in [&leftover, &backup_leftover, &unrelated] {
            std::fs::write(file, b"{ half").expect("write");
        }
        let _lock = store.lock("apply", Duration::ZERO).expect("locked");
        assert!(!leftover.exists() && !backup_leftover.exists());
        assert!(unrelated.exists(), "another state's file is left alone");
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
            .replace(&format!("\"format_version\": {FORMAT_VERSION}"), "\"format_version\": 9");
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
