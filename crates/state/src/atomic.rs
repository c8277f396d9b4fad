//! Replacing a file so that a crash at any point leaves the old content or the new, never a
//! mix: temp file in the same directory, fsync, rename, fsync the directory.
//!
//! Used for the state and its backup, and for the other files certplan replaces (a saved plan,
//! `certplan fmt`'s output). It knows nothing of what the bytes mean.

use std::fs::File;
use std::io::Write;
use std::path::Path;

/// What the temporary file of a write ends with (it starts with `.<file name>.`).
pub(crate) const TEMPORARY_SUFFIX: &str = ".certplan.tmp";

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
    // Named after the file it replaces, so that the store can tell its own leftovers apart.
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let tmp = tempfile::Builder::new()
        .prefix(&format!(".{name}."))
        .suffix(TEMPORARY_SUFFIX)
        .tempfile_in(dir)?;
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
    use certplan_core::Address;

    use super::*;
    use crate::model::sample;
    use crate::{DEFAULT_STATE_FILE, State};

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
                    r.certificate_id = format!("id{i:06}").into();
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
}
