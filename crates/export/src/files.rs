//! The four files of an export on disk: replacing them so that a server never reads a
//! half-written one ([`write`]), and telling what happened to them since ([`inspect`]).
//!
//! Each file is written to a temporary file beside it (created new, synced), and only once all
//! four are ready are they renamed into place, one after the other, and the directory synced.
//! A failure before the renames leaves the old files untouched and no temporary file behind.
//!
//! Symlinks are followed as a user would expect: a symlinked directory is written through, and
//! a file that is a symlink (certbot's `live/` links into `archive/`) has its *target* replaced,
//! the link left as it is.

use std::collections::BTreeMap;
use std::fs::{self, DirBuilder, File, OpenOptions};
use std::io::{self, Write as _};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use certplan_core::{EXPORT_FILES, ExportRecord, FilesSeen, Sensitive};
use x509_parser::prelude::{FromDer, X509Certificate};

const PRIVKEY: &str = "privkey.pem";
/// Marks our temporary files, so that one a crash left behind is recognised and removed.
const TEMP_MARK: &str = ".certplan-tmp.";

/// Why an export's files could not be written. Each names the path it failed on.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WriteError {
    #[error("cannot create directory {}: {source}", path.display())]
    CreateDir { path: PathBuf, source: io::Error },
    #[error("cannot follow symlink {}: {source}", path.display())]
    Symlink { path: PathBuf, source: io::Error },
    #[error("cannot write {}: {source}", path.display())]
    Write { path: PathBuf, source: io::Error },
    /// A file owned by someone else is replaced only if its owner can be kept: a key the
    /// server can no longer read is worse than one not renewed.
    #[error("cannot give {} its owner back (uid {uid}, gid {gid}): {source}", path.display())]
    Owner { path: PathBuf, uid: u32, gid: u32, source: io::Error },
    #[error("cannot replace {}: {source}", path.display())]
    Rename { path: PathBuf, source: io::Error },
    #[error("cannot sync directory {}: {source}", path.display())]
    SyncDir { path: PathBuf, source: io::Error },
    /// An existing `privkey.pem` that anyone on the machine can read: the key is not written
    /// into it (writing keeps a file's mode).
    #[error(
        "refusing to write the private key into {} (mode {mode:04o}): anyone on this machine can read it; `chmod 600` it and apply again (640, for a group the server is in, works too and is warned about)",
        path.display()
    )]
    KeyReadable { path: PathBuf, mode: u32 },
}

/// What an export wrote: the digests of the public files, for the record, and what a person
/// should know about where the key went (a symlink followed, a group or another user that
/// can read it).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Written {
    /// SHA-256 (hex) of `cert.pem`, `chain.pem` and `fullchain.pem`, by name.
    pub digests: BTreeMap<String, String>,
    pub warnings: Vec<String>,
}

/// Writes `cert.pem`, `chain.pem`, `fullchain.pem` and `privkey.pem` into the directory
/// `path` (created 0700 with its parents when missing), replacing each atomically. A new
/// `privkey.pem` is 0600, the other new files 0644; a file that exists keeps its mode and
/// owner — except an existing `privkey.pem` anyone can read, which is refused
/// ([`WriteError::KeyReadable`]). Returns the SHA-256 (hex) of the three public files by
/// name, for the record, and warnings about where the key went.
pub fn write(path: &Path, pems: &crate::Pems) -> Result<Written, WriteError> {
    DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(path)
        .map_err(|source| WriteError::CreateDir { path: path.to_owned(), source })?;
    let warnings = check_key_file(&path.join(PRIVKEY))?;

    let contents = [pems.cert(), pems.chain(), pems.fullchain(), pems.key().expose()];
    let mut staged = Staged(Vec::with_capacity(EXPORT_FILES.len()));
    for (name, text) in EXPORT_FILES.into_iter().zip(contents) {
        let target = resolve(path.join(name))?;
        let temp = stage(&target, text.as_bytes(), if name == PRIVKEY { 0o600 } else { 0o644 })?;
        staged.0.push((temp, target));
    }

    let mut dirs: Vec<PathBuf> = Vec::new();
    while !staged.0.is_empty() {
        let (temp, target) = staged.0.remove(0);
        if let Err(source) = fs::rename(&temp, &target) {
            // The files already renamed stay new: the caller records nothing on an error, so
            // the next inspect finds them changed against the old record and all four are
            // written again.
            let _ = fs::remove_file(&temp);
            return Err(WriteError::Rename { path: target, source });
        }
        let dir = parent(&target).to_owned();
        if !dirs.contains(&dir) {
            dirs.push(dir);
        }
    }
    // The renames are durable only once the directory entries are.
    for dir in dirs {
        File::open(&dir)
            .and_then(|d| d.sync_all())
            .map_err(|source| WriteError::SyncDir { path: dir, source })?;
    }

    let digests = EXPORT_FILES
        .into_iter()
        .zip(contents)
        .filter(|(name, _)| *name != PRIVKEY)
        .map(|(name, text)| (name.to_owned(), crate::sha256_hex(text.as_bytes())))
        .collect();
    Ok(Written { digests, warnings })
}

/// Looks at where the private key is about to go: refuses a file anyone can read, and warns
/// of a symlink (the key goes to its target), a group that can read it, or another owner.
fn check_key_file(file: &Path) -> Result<Vec<String>, WriteError> {
    let mut warnings = Vec::new();
    let target = resolve(file.to_owned())?;
    if target != file {
        warnings.push(format!(
            "{} is a symlink: the private key is written to {}",
            file.display(),
            target.display()
        ));
    }
    let Ok(meta) = fs::metadata(&target) else { return Ok(warnings) };
    let mode = meta.mode() & 0o7777;
    if mode & 0o004 != 0 {
        return Err(WriteError::KeyReadable { path: target, mode });
    }
    if mode & 0o040 != 0 {
        warnings.push(format!(
            "{} (mode {mode:04o}) can be read by group {}: the private key is written into it as it is",
            target.display(),
            meta.gid()
        ));
    }
    let me = rustix::process::geteuid().as_raw();
    if meta.uid() != me {
        warnings.push(format!(
            "{} is owned by uid {}, not by this user (uid {me}): it keeps its owner, who can read the private key",
            target.display(),
            meta.uid()
        ));
    }
    Ok(warnings)
}

/// Temporary files written but not yet renamed into place: removed when dropped, so that a
/// failure part-way leaves nothing behind.
struct Staged(Vec<(PathBuf, PathBuf)>);

impl Drop for Staged {
    fn drop(&mut self) {
        for (temp, _) in &self.0 {
            let _ = fs::remove_file(temp);
        }
    }
}

/// Returns where `file` really is: itself, or the file its symlink points to.
fn resolve(file: PathBuf) -> Result<PathBuf, WriteError> {
    match fs::symlink_metadata(&file) {
        Ok(meta) if meta.file_type().is_symlink() => {
            // A dangling link is refused rather than guessed at: its target directory may not
            // be one certplan should create.
            fs::canonicalize(&file).map_err(|source| WriteError::Symlink { path: file, source })
        }
        _ => Ok(file),
    }
}

fn parent(file: &Path) -> &Path {
    match file.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    }
}

/// Writes `bytes` to a new temporary file beside `target`, with the mode and owner `target`
/// has (or `new_mode` when it does not exist), synced; returns the temporary file's path.
fn stage(target: &Path, bytes: &[u8], new_mode: u32) -> Result<PathBuf, WriteError> {
    let write_err = |source: io::Error| WriteError::Write { path: target.to_owned(), source };
    let existing = match fs::metadata(target) {
        Ok(meta) => Some(meta),
        Err(e) if e.kind() == io::ErrorKind::NotFound => None,
        Err(e) => return Err(write_err(e)),
    };
    let name = target.file_name().unwrap_or_default().to_string_lossy().into_owned();
    remove_stale_temps(parent(target), &name);

    let (temp, file) = create_temp(target, &name).map_err(write_err)?;
    let mode = existing.as_ref().map_or(new_mode, |meta| meta.mode() & 0o7777);
    if let Err(e) = fill(file, target, bytes, existing.as_ref(), mode) {
        let _ = fs::remove_file(&temp);
        return Err(e);
    }
    Ok(temp)
}

/// Writes `bytes` into the temporary `file`, gives it the owner of the file it replaces (when
/// there is one) and `mode`, and syncs it.
fn fill(
    mut file: File,
    target: &Path,
    bytes: &[u8],
    existing: Option<&fs::Metadata>,
    mode: u32,
) -> Result<(), WriteError> {
    let write_err = |source: io::Error| WriteError::Write { path: target.to_owned(), source };
    file.write_all(bytes).map_err(write_err)?;
    if let Some(meta) = existing {
        keep_owner(&file, target, meta)?;
    }
    // Set explicitly rather than left to the umask: a server expects 0644 (or the mode the
    // file had), and the key must be 0600 whatever the umask says.
    file.set_permissions(fs::Permissions::from_mode(mode)).map_err(write_err)?;
    file.sync_all().map_err(write_err)
}

/// Creates the temporary file, 0600 from the start so the key is never readable by others
/// even for a moment.
fn create_temp(target: &Path, name: &str) -> io::Result<(PathBuf, File)> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    loop {
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let temp = parent(target).join(format!(".{name}{TEMP_MARK}{}.{n}", std::process::id()));
        match OpenOptions::new().write(true).create_new(true).mode(0o600).open(&temp) {
            Ok(file) => return Ok((temp, file)),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists && n < 1000 => continue,
            Err(e) => return Err(e),
        }
    }
}

/// Gives the temporary file the owner of the file it replaces. A user who is not root may
/// not be able to hand over the group; that is ignored as long as the owner stays the same.
fn keep_owner(file: &File, target: &Path, old: &fs::Metadata) -> Result<(), WriteError> {
    let new =
        file.metadata().map_err(|source| WriteError::Write { path: target.to_owned(), source })?;
    if (new.uid(), new.gid()) == (old.uid(), old.gid()) {
        return Ok(());
    }
    match std::os::unix::fs::fchown(file, Some(old.uid()), Some(old.gid())) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::PermissionDenied && new.uid() == old.uid() => Ok(()),
        Err(source) => Err(WriteError::Owner {
            path: target.to_owned(),
            uid: old.uid(),
            gid: old.gid(),
            source,
        }),
    }
}

/// Removes temporary files of `name` that an interrupted earlier write left in `dir`.
/// Exports are written under the state lock, so none of them is in use.
fn remove_stale_temps(dir: &Path, name: &str) {
    let prefix = format!(".{name}{TEMP_MARK}");
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        if entry.file_name().to_string_lossy().starts_with(&prefix) {
            let _ = fs::remove_file(entry.path());
        }
    }
}

/// Tells what is on disk at `path` compared with `recorded`: the files missing, else the files
/// that changed — a public file whose digest differs, a key that no longer parses or no longer
/// belongs to `cert.pem`. A file that cannot be read counts as changed. Reads four small files
/// and nothing else: it runs for every export before every plan.
pub fn inspect(path: &Path, recorded: &ExportRecord) -> FilesSeen {
    let mut missing = Vec::new();
    let mut changed = Vec::new();
    let mut cert = None;
    let mut key = None;
    for name in EXPORT_FILES {
        let bytes = match fs::read(path.join(name)) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                missing.push(name.to_owned());
                continue;
            }
            Err(_) => {
                changed.push(name.to_owned());
                continue;
            }
        };
        if name == PRIVKEY {
            key = Some(bytes);
            continue;
        }
        if recorded.files.get(name) != Some(&crate::sha256_hex(&bytes)) {
            changed.push(name.to_owned());
        }
        if name == "cert.pem" {
            cert = Some(bytes);
        }
    }
    if let Some(key) = key
        && !key_belongs(cert.as_deref(), key)
    {
        changed.push(PRIVKEY.to_owned());
    }

    if !missing.is_empty() {
        FilesSeen::Missing(missing)
    } else if !changed.is_empty() {
        FilesSeen::Changed(changed)
    } else {
        FilesSeen::Intact
    }
}

/// Tells whether `key` is a usable key for the certificate in `cert` — or cannot be judged,
/// when `cert.pem` itself is gone or unreadable (and reported as such).
fn key_belongs(cert: Option<&[u8]>, key: Vec<u8>) -> bool {
    let Some(leaf) = cert.and_then(|c| pem::parse(c).ok()) else {
        return true;
    };
    let Ok((_, leaf)) = X509Certificate::from_der(leaf.contents()) else {
        return true;
    };
    let Ok(key) = String::from_utf8(key) else {
        return false;
    };
    crate::key::read_matching(&Sensitive::new(key), leaf.public_key()).is_ok()
}
