//! The sandbox's certificates and their persistence to a JSON file.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

/// A certificate the sandbox holds, with times in UTC.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredCertificate {
    pub id: String,
    /// Application order; newer applications have larger numbers.
    pub sequence: u64,
    pub domain: String,
    pub alias: String,
    pub project_id: u64,
    pub dv_auth_method: String,
    pub csr_encrypt_algo: String,
    pub csr_key_parameter: String,
    pub contact_email: Option<String>,
    /// The status as recorded; an issued certificate past `not_after` reads as expired (3).
    pub status: i64,
    pub inserted_at: DateTime<Utc>,
    pub not_before: Option<DateTime<Utc>>,
    pub not_after: Option<DateTime<Utc>>,
    /// The certificate this one renewed (`OldCertificateId` of its application).
    pub origin_certificate_id: Option<String>,
    /// The certificate that renewed this one.
    pub renewed_by: Option<String>,
}

impl StoredCertificate {
    /// Returns the status as the API reports it at `now`.
    pub fn status_at(&self, now: DateTime<Utc>) -> i64 {
        match self.not_after {
            Some(end) if self.status == 1 && end <= now => 3,
            _ => self.status,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot read sandbox data {}: {source}", path.display())]
    Read { path: PathBuf, source: std::io::Error },
    #[error("sandbox data {} is not valid: {source}", path.display())]
    Parse { path: PathBuf, source: serde_json::Error },
    #[error("cannot write sandbox data {}: {source}", path.display())]
    Write { path: PathBuf, source: std::io::Error },
}

#[derive(Debug, Default, Serialize, Deserialize)]
pub(crate) struct Store {
    next_sequence: u64,
    certificates: BTreeMap<String, StoredCertificate>,
}

impl Store {
    /// Loads the store from `path`; an absent file is an empty store.
    pub(crate) fn load(path: &Path) -> Result<Self, StoreError> {
        match std::fs::read(path) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map_err(|source| StoreError::Parse { path: path.to_owned(), source }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Store::default()),
            Err(source) => Err(StoreError::Read { path: path.to_owned(), source }),
        }
    }

    /// Writes the store to `path` atomically (temp file, fsync, rename).
    pub(crate) fn save(&self, path: &Path) -> Result<(), StoreError> {
        let err = |source| StoreError::Write { path: path.to_owned(), source };
        let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir).map_err(err)?;
        let bytes = serde_json::to_vec_pretty(self).expect("the store always serialises");
        let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(err)?;
        tmp.write_all(&bytes).and_then(|()| tmp.as_file().sync_all()).map_err(err)?;
        tmp.persist(path).map(drop).map_err(|e| err(e.error))
    }

    pub(crate) fn get(&self, id: &str) -> Option<&StoredCertificate> {
        self.certificates.get(id)
    }

    pub(crate) fn get_mut(&mut self, id: &str) -> Option<&mut StoredCertificate> {
        self.certificates.get_mut(id)
    }

    pub(crate) fn contains(&self, id: &str) -> bool {
        self.certificates.contains_key(id)
    }

    pub(crate) fn insert(&mut self, mut cert: StoredCertificate) {
        self.next_sequence += 1;
        cert.sequence = self.next_sequence;
        self.certificates.insert(cert.id.clone(), cert);
    }

    pub(crate) fn remove(&mut self, id: &str) -> Option<StoredCertificate> {
        self.certificates.remove(id)
    }

    /// Returns every certificate, oldest application first.
    pub(crate) fn certificates(&self) -> Vec<StoredCertificate> {
        let mut all: Vec<_> = self.certificates.values().cloned().collect();
        all.sort_by_key(|c| c.sequence);
        all
    }

    /// Moves every certificate's times `by` into the past; returns how many there are.
    pub(crate) fn age(&mut self, by: Duration) -> usize {
        for cert in self.certificates.values_mut() {
            cert.inserted_at -= by;
            cert.not_before = cert.not_before.map(|t| t - by);
            cert.not_after = cert.not_after.map(|t| t - by);
        }
        self.certificates.len()
    }
}
