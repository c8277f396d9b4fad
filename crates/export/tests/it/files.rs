//! `write` and `inspect` on a real filesystem.

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;

use certplan_core::{ExportRecord, FilesSeen};
use certplan_export::{Expected, Pems, WriteError, check, inspect, write};
use chrono::Utc;
use sha2::{Digest, Sha256};

use crate::support::{Material, not_after, other_key};

fn pems() -> Pems {
    let m = Material::new();
    let expect = Expected { domain: "www.example.com", not_after: Some(not_after()) };
    check(&m.chain(), &m.key, &expect).expect("accepted")
}

fn mode(path: &Path) -> u32 {
    fs::metadata(path).expect("exists").permissions().mode() & 0o7777
}

/// Returns the directory's entries, sorted.
fn entries(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .expect("readable")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

const FOUR: [&str; 4] = ["cert.pem", "chain.pem", "fullchain.pem", "privkey.pem"];

fn record(dir: &Path, pems: &Pems, files: BTreeMap<String, String>) -> ExportRecord {
    ExportRecord {
        path: dir.to_owned(),
        certificate_id: "abc123".into(),
        fingerprint: pems.fingerprint().to_owned(),
        files,
        written_at: Utc::now(),
        hook: None,
        replaced: None,
    }
}

#[test]
fn write_creates_a_private_directory_with_the_four_files() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("etc/nginx/certs/www");
    let pems = pems();
    let written = write(&dir, &pems).expect("written");
    assert!(written.warnings.is_empty(), "{:?}", written.warnings);
    let digests = written.digests;

    assert_eq!(mode(&dir), 0o700);
    assert_eq!(mode(&tmp.path().join("etc")), 0o700, "parents are created private too");
    assert_eq!(entries(&dir), FOUR);
    let read = |name: &str| fs::read_to_string(dir.join(name)).expect("readable");
    assert_eq!(read("cert.pem"), pems.cert());
    assert_eq!(read("chain.pem"), pems.chain());
    assert_eq!(read("fullchain.pem"), pems.fullchain());
    assert_eq!(read("privkey.pem"), pems.key().expose());
    assert_eq!(mode(&dir.join("privkey.pem")), 0o600);
    for name in ["cert.pem", "chain.pem", "fullchain.pem"] {
        assert_eq!(mode(&dir.join(name)), 0o644, "{name}");
        assert_eq!(digests[name], hex::encode(Sha256::digest(read(name))), "{name}");
    }
    assert_eq!(digests.len(), 3, "no digest of the key: {digests:?}");
}

#[test]
fn rewriting_keeps_modes_and_leaves_no_temporary_file() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path();
    let first = write(dir, &pems()).expect("written");
    fs::set_permissions(dir.join("cert.pem"), fs::Permissions::from_mode(0o640)).expect("chmod");
    fs::set_permissions(dir.join("privkey.pem"), fs::Permissions::from_mode(0o640)).expect("chmod");
    // What an interrupted earlier run would have left.
    fs::write(dir.join(".cert.pem.certplan-tmp.1.0"), "stale").expect("written");

    let next = pems();
    let second = write(dir, &next).expect("rewritten");
    assert_ne!(first.digests, second.digests);
    assert_eq!(mode(&dir.join("cert.pem")), 0o640);
    assert_eq!(mode(&dir.join("privkey.pem")), 0o640);
    // A key its group can read is written all the same, and said so.
    assert_eq!(second.warnings.len(), 1, "{:?}", second.warnings);
    assert!(second.warnings[0].contains("(mode 0640) can be read by group"));
    assert_eq!(mode(&dir.join("chain.pem")), 0o644);
    assert_eq!(entries(dir), FOUR);

    let again = write(dir, &next).expect("rewritten again");
    assert_eq!(again.digests, second.digests);
    assert_eq!(entries(dir), FOUR);
    assert_eq!(fs::read_to_string(dir.join("cert.pem")).expect("read"), next.cert());
}

#[test]
fn an_existing_files_owner_is_kept() {
    if !rustix::process::geteuid().is_root() {
        // Only root may give a file away; as another user the owner is ours anyway.
        return;
    }
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path();
    write(dir, &pems()).expect("written");
    std::os::unix::fs::chown(dir.join("privkey.pem"), Some(4321), Some(4322)).expect("chown");
    write(dir, &pems()).expect("rewritten");
    let meta = fs::metadata(dir.join("privkey.pem")).expect("exists");
    assert_eq!((meta.uid(), meta.gid()), (4321, 4322));
    assert_eq!(fs::metadata(dir.join("cert.pem")).expect("exists").uid(), 0);
}

/// certbot's layout: `live/` holds links into `archive/`. The target is replaced, the link
/// stays a link.
#[test]
fn a_symlinked_file_has_its_target_replaced() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let live = tmp.path().join("live");
    let archive = tmp.path().join("archive");
    fs::create_dir_all(&live).expect("mkdir");
    fs::create_dir_all(&archive).expect("mkdir");
    fs::write(archive.join("cert1.pem"), "old").expect("written");
    std::os::unix::fs::symlink("../archive/cert1.pem", live.join("cert.pem")).expect("symlink");

    let pems = pems();
    let written = write(&live, &pems).expect("written");
    assert!(written.warnings.is_empty(), "only the key's link is said: {:?}", written.warnings);
    let link = fs::symlink_metadata(live.join("cert.pem")).expect("exists");
    assert!(link.file_type().is_symlink());
    assert_eq!(fs::read_to_string(archive.join("cert1.pem")).expect("read"), pems.cert());
    assert_eq!(entries(&archive), ["cert1.pem"], "no temporary file left beside the target");

    fs::remove_file(archive.join("cert1.pem")).expect("removed");
    let err = write(&live, &pems).expect_err("a dangling link is refused");
    assert!(matches!(err, WriteError::Symlink { .. }), "{err}");
    assert_eq!(entries(&live), ["cert.pem", "chain.pem", "fullchain.pem", "privkey.pem"]);
}

#[test]
fn a_failure_part_way_leaves_no_temporary_file() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path();
    // A directory where chain.pem should be: cert.pem is renamed into place, chain.pem fails.
    fs::create_dir(dir.join("chain.pem")).expect("mkdir");
    let err = write(dir, &pems()).expect_err("cannot replace a directory");
    assert!(
        matches!(&err, WriteError::Rename { path, .. } if path.ends_with("chain.pem")),
        "{err}"
    );
    assert!(err.to_string().starts_with("cannot replace "), "{err}");
    assert_eq!(entries(dir), ["cert.pem", "chain.pem"]);
}

#[test]
fn inspect_tells_intact_missing_and_changed_files_apart() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path();
    let pems = pems();
    let rec = record(dir, &pems, write(dir, &pems).expect("written").digests);
    assert_eq!(inspect(dir, &rec), FilesSeen::Intact);

    fs::remove_file(dir.join("chain.pem")).expect("removed");
    fs::remove_file(dir.join("privkey.pem")).expect("removed");
    assert_eq!(
        inspect(dir, &rec),
        FilesSeen::Missing(vec!["chain.pem".into(), "privkey.pem".into()])
    );

    write(dir, &pems).expect("rewritten");
    fs::write(dir.join("fullchain.pem"), pems.cert()).expect("edited");
    assert_eq!(inspect(dir, &rec), FilesSeen::Changed(vec!["fullchain.pem".into()]));
}

#[test]
fn inspect_notices_a_key_that_no_longer_belongs_and_unreadable_files() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path();
    let pems = pems();
    let rec = record(dir, &pems, write(dir, &pems).expect("written").digests);

    fs::write(dir.join("privkey.pem"), other_key().expose()).expect("replaced");
    assert_eq!(inspect(dir, &rec), FilesSeen::Changed(vec!["privkey.pem".into()]));
    fs::write(dir.join("privkey.pem"), b"\xff\xfe not even text").expect("replaced");
    assert_eq!(inspect(dir, &rec), FilesSeen::Changed(vec!["privkey.pem".into()]));

    // Reading a directory fails whoever runs the test, root included.
    write(dir, &pems).expect("rewritten");
    fs::remove_file(dir.join("cert.pem")).expect("removed");
    fs::create_dir(dir.join("cert.pem")).expect("mkdir");
    assert_eq!(inspect(dir, &rec), FilesSeen::Changed(vec!["cert.pem".into()]));

    assert_eq!(
        inspect(&dir.join("nowhere"), &rec),
        FilesSeen::Missing(FOUR.iter().map(|n| (*n).to_owned()).collect())
    );
}

#[test]
fn a_key_anyone_can_read_is_refused_and_a_symlinked_key_said() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path();
    write(dir, &pems()).expect("written");
    let key = dir.join("privkey.pem");
    let before = fs::read(&key).expect("key");
    fs::set_permissions(&key, fs::Permissions::from_mode(0o644)).expect("chmod");
    let err = write(dir, &pems()).expect_err("a world-readable key file is refused");
    let message = err.to_string();
    assert!(message.contains(&key.display().to_string()), "{message}");
    assert!(message.contains("mode 0644") && message.contains("chmod 600"), "{message}");
    assert_eq!(fs::read(&key).expect("key"), before, "nothing written into it");
    assert_eq!(entries(dir), FOUR, "and no temporary file left");

    // A key behind a symlink is written to its target, and said.
    let elsewhere = tmp.path().join("keys");
    fs::create_dir_all(&elsewhere).expect("mkdir");
    fs::remove_file(&key).expect("rm");
    fs::write(elsewhere.join("www.key"), "old").expect("written");
    fs::set_permissions(elsewhere.join("www.key"), fs::Permissions::from_mode(0o600))
        .expect("chmod");
    std::os::unix::fs::symlink(elsewhere.join("www.key"), &key).expect("symlink");
    let written = write(dir, &pems()).expect("written");
    assert_eq!(written.warnings.len(), 1, "{:?}", written.warnings);
    assert!(written.warnings[0].contains("is a symlink: the private key is written to"));
    assert!(written.warnings[0].contains("www.key"));
}
