//! The sandbox's certificates — ordered from its CA or uploaded — their lifecycle, the cloud
//! resources bound to them and the deploy tasks ([`crate::deploy`]), the DNS zones and records
//! ([`crate::dns`]), and persistence of it all to a JSON file. Fields added since the first
//! release default when absent, so that older files still load.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use crate::deploy::DeployState;
use crate::dns::DnsState;

/// A free certificate's validity.
pub(crate) const VALIDITY_DAYS: i64 = 90;
/// Domain validation must be done within this many days of applying, or the order fails.
pub(crate) const VALIDATION_DAYS: i64 = 7;

/// The API's status codes the sandbox uses.
pub(crate) mod status {
    pub const PENDING: i64 = 0;
    pub const ISSUED: i64 = 1;
    pub const FAILED: i64 = 2;
    pub const EXPIRED: i64 = 3;
    pub const DNS_RECORD_ADDED: i64 = 4;
    pub const CANCELLED: i64 = 7;
    pub const REVOKED: i64 = 10;
}

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
    /// For a reissued certificate: the original (`CertificateExtra.ReplacedBy`).
    #[serde(default)]
    pub replaced_by: Option<String>,
    /// For an original: its reissue (`CertificateExtra.ReplacedFor`).
    #[serde(default)]
    pub replaced_for: Option<String>,
    /// The random token behind this order's validation records.
    pub validation_token: String,
    /// The certificate's private key (PKCS#8 PEM) once it has been asked for: of the kind its
    /// order named (`CsrEncryptAlgo`). Minted on first use, not at issuance, because an RSA key
    /// takes a while to generate and most seeded certificates are never downloaded.
    pub key_pem: Option<String>,
    /// The certificate itself (PEM), signed once, the first time its PEM is asked for after
    /// issuance: the real service hands out the same certificate every time, so the leaf's
    /// bytes and fingerprint must not change between calls.
    #[serde(default)]
    pub cert_pem: Option<String>,
    /// The signing request for `key_pem` (PEM) that `DownloadCertificate`'s archive holds,
    /// kept for the same reason.
    #[serde(default)]
    pub csr_pem: Option<String>,
    /// For a certificate uploaded (`UploadCertificate`) rather than ordered: what the upload
    /// brought. Its `cert_pem` and `key_pem` are then the ones uploaded, never minted.
    #[serde(default)]
    pub upload: Option<Upload>,
}

/// What an uploaded certificate holds that an ordered one does not, read from its PEM.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Upload {
    /// `SVR` (a server certificate, uploaded with its key) or `CA`.
    pub certificate_type: String,
    /// Every name the certificate holds (`SubjectAltName`); the domain alone when it lists none.
    pub names: Vec<String>,
    /// The SHA-1 fingerprint of the certificate, hex (`CertFingerprint`): an upload that must
    /// not be repeated (`Repeatable` false) is matched by it.
    pub fingerprint: String,
    /// The certificate's key as `EncryptAlgorithm` names it: `RSA 2048`, `ECC 256`.
    pub encrypt_algorithm: String,
    /// The chain uploaded after the certificate (PEM), empty when there was none.
    pub chain_pem: String,
}

impl StoredCertificate {
    /// Returns the names the certificate is for: an upload's `SubjectAltName`, or the domain
    /// an order named.
    pub fn names(&self) -> Vec<&str> {
        match &self.upload {
            Some(upload) => upload.names.iter().map(String::as_str).collect(),
            None => vec![self.domain.as_str()],
        }
    }

    /// Returns the status as the API reports it at `now`.
    pub fn status_at(&self, now: DateTime<Utc>) -> i64 {
        match self.not_after {
            Some(end) if self.status == status::ISSUED && end <= now => status::EXPIRED,
            _ => self.status,
        }
    }

    pub(crate) fn is_pending(&self) -> bool {
        matches!(self.status, status::PENDING | status::DNS_RECORD_ADDED)
    }

    /// Tells whether the certificate has PEM material at `now`: issued, expired ones included.
    /// `DescribeCertificateDetail` returns it and `DownloadCertificate` serves it only then.
    pub(crate) fn is_downloadable(&self, now: DateTime<Utc>) -> bool {
        matches!(self.status_at(now), status::ISSUED | status::EXPIRED)
    }

    /// When domain validation must be done by.
    pub fn validation_deadline(&self) -> DateTime<Utc> {
        self.inserted_at + Duration::days(VALIDATION_DAYS)
    }

    /// Returns the name domain validation is for (`DvAuthDomain`): the domain, without a
    /// wildcard's `*.`.
    pub(crate) fn validation_domain(&self) -> &str {
        self.domain.trim_start_matches("*.")
    }

    /// Returns the CNAME record that validates the order by DNS, as `DvAuthDetail` names it.
    pub(crate) fn cname_validation(&self) -> CnameValidation<'_> {
        let token = &self.validation_token;
        CnameValidation {
            key: format!("_{token}"),
            domain: self.validation_domain(),
            value: format!("{}.{}.sectigo.trust-provider.com", &token[..16], &token[16..]),
        }
    }

    /// Returns when the CA saw this `DNS` order validated: when its CNAME record appeared,
    /// enabled, in one of the account's zones (or when the order was made, for a record there
    /// before it). `None` for a certificate not pending DNS validation, or no such record.
    fn validated_by_dns(&self, dns: &DnsState) -> Option<DateTime<Utc>> {
        if self.status != status::PENDING || self.dv_auth_method != "DNS" {
            return None;
        }
        let record = self.cname_validation();
        let name = format!("{}.{}", record.key, record.domain);
        dns.cname_made(&name, &record.value).map(|made| made.max(self.inserted_at))
    }

    /// Issues the certificate at `at`: 90 days of validity (its key is minted on first use).
    pub(crate) fn issue(&mut self, at: DateTime<Utc>) {
        // Seconds only: the API's times have no fraction, so what is stored is what is reported.
        let at = DateTime::from_timestamp(at.timestamp(), 0).unwrap_or(at);
        self.status = status::ISSUED;
        self.not_before = Some(at);
        self.not_after = Some(at + Duration::days(VALIDITY_DAYS));
    }
}

/// The CNAME record that validates an order by DNS: `{key}.{domain}`, pointing at `value`.
#[derive(Debug)]
pub(crate) struct CnameValidation<'a> {
    /// The record's first label (`DvAuthKey`, `DvAuthSubDomain`): `_` and the order's token.
    pub(crate) key: String,
    /// The name it is under (`DvAuthDomain`).
    pub(crate) domain: &'a str,
    /// What it points at (`DvAuthValue`).
    pub(crate) value: String,
}

/// Returns a random certificate id: 8 letters and digits, as the API's are (`a9TsmZkL`).
fn new_certificate_id() -> String {
    use rand::Rng;
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    let mut rng = rand::rng();
    (0..8).map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char).collect()
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot read sandbox data {}: {cause}", path.display())]
    Read { path: PathBuf, cause: std::io::Error },
    #[error("sandbox data {} is not valid: {cause}", path.display())]
    Parse { path: PathBuf, cause: serde_json::Error },
    #[error("cannot write sandbox data {}: {cause}", path.display())]
    Write { path: PathBuf, cause: std::io::Error },
}

#[derive(Debug, Default, Serialize, Deserialize)]
pub(crate) struct Store {
    next_sequence: u64,
    certificates: BTreeMap<String, StoredCertificate>,
    /// The sandbox CA's key (PEM), created with the first certificate it signs.
    #[serde(default)]
    pub(crate) ca_key_pem: Option<String>,
    /// The sandbox CA's certificate (PEM), signed once with its key.
    #[serde(default)]
    pub(crate) ca_cert_pem: Option<String>,
    /// The cloud resources bound to certificates and the deploy tasks.
    #[serde(default)]
    pub(crate) deploy: DeployState,
    /// The DNS zones (DNSPod domains) and their records.
    #[serde(default)]
    pub(crate) dns: DnsState,
}

impl Store {
    /// Loads the store from `path`; an absent file is an empty store.
    pub(crate) fn load(path: &Path) -> Result<Self, StoreError> {
        match std::fs::read(path) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map_err(|cause| StoreError::Parse { path: path.to_owned(), cause }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Store::default()),
            Err(cause) => Err(StoreError::Read { path: path.to_owned(), cause }),
        }
    }

    /// Writes the store to `path` atomically (temp file, fsync, rename).
    pub(crate) fn save(&self, path: &Path) -> Result<(), StoreError> {
        let err = |cause| StoreError::Write { path: path.to_owned(), cause };
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

    /// Returns a new certificate id, 8 characters as the API's are, that no certificate has.
    pub(crate) fn unused_id(&self) -> String {
        loop {
            let id = new_certificate_id();
            if !self.contains(&id) {
                return id;
            }
        }
    }

    pub(crate) fn insert(&mut self, mut cert: StoredCertificate) {
        self.next_sequence += 1;
        cert.sequence = self.next_sequence;
        self.certificates.insert(cert.id.clone(), cert);
    }

    pub(crate) fn remove(&mut self, id: &str) -> Option<StoredCertificate> {
        self.certificates.remove(id)
    }

    /// Returns a certificate for which `matches` is true, if any.
    pub(crate) fn find(
        &self,
        matches: impl Fn(&StoredCertificate) -> bool,
    ) -> Option<&StoredCertificate> {
        self.certificates.values().find(|c| matches(c))
    }

    /// Counts the certificates for which `matches` is true.
    pub(crate) fn count(&self, matches: impl Fn(&StoredCertificate) -> bool) -> usize {
        self.certificates.values().filter(|c| matches(c)).count()
    }

    /// Returns every certificate, oldest application first.
    pub(crate) fn certificates(&self) -> Vec<StoredCertificate> {
        let mut all: Vec<_> = self.certificates.values().cloned().collect();
        all.sort_by_key(|c| c.sequence);
        all
    }

    /// Moves the lifecycle forward to `now`: automatic DNS validation completes `issue_delay`
    /// after applying, a `DNS` order issues once its CNAME record is in one of the account's
    /// zones, and orders not validated within 7 days fail. Returns whether anything changed.
    pub(crate) fn advance(&mut self, now: DateTime<Utc>, issue_delay: Duration) -> bool {
        let mut changed = false;
        for cert in self.certificates.values_mut() {
            let deadline = cert.validation_deadline();
            if cert.status == status::DNS_RECORD_ADDED && now >= cert.inserted_at + issue_delay {
                cert.issue(cert.inserted_at + issue_delay);
                changed = true;
            } else if let Some(validated) =
                cert.validated_by_dns(&self.dns).filter(|at| *at <= deadline)
            {
                // Issued when the record appeared, not when the store is next asked: the CA
                // would have seen it then, however long nobody asked.
                cert.issue(validated);
                changed = true;
            } else if cert.is_pending() && now > deadline {
                cert.status = status::FAILED;
                changed = true;
            }
        }
        changed
    }

    /// Inserts an issued certificate per domain; returns their ids.
    pub(crate) fn seed_issued(&mut self, domains: &[String], now: DateTime<Utc>) -> Vec<String> {
        let mut ids = Vec::with_capacity(domains.len());
        for (n, domain) in domains.iter().enumerate() {
            let id = format!("seed{:04x}", self.next_sequence as usize + n);
            let mut cert = StoredCertificate {
                id: id.clone(),
                sequence: 0,
                domain: domain.clone(),
                alias: String::new(),
                project_id: 0,
                dv_auth_method: "DNS_AUTO".to_owned(),
                csr_encrypt_algo: "RSA".to_owned(),
                csr_key_parameter: "2048".to_owned(),
                contact_email: None,
                status: status::PENDING,
                inserted_at: now,
                not_before: None,
                not_after: None,
                origin_certificate_id: None,
                renewed_by: None,
                replaced_by: None,
                replaced_for: None,
                validation_token: "00".repeat(16),
                key_pem: None,
                cert_pem: None,
                csr_pem: None,
                upload: None,
            };
            cert.issue(now);
            self.insert(cert);
            ids.push(id);
        }
        ids
    }

    /// Moves every certificate's times `by` into the past; returns how many there are. An
    /// uploaded certificate's validity is its own, stated in a PEM the sandbox did not sign and
    /// cannot sign again: only its upload moves (a test uploads one with the dates it needs).
    pub(crate) fn age(&mut self, by: Duration) -> usize {
        for cert in self.certificates.values_mut() {
            cert.inserted_at -= by;
            if cert.upload.is_some() {
                continue;
            }
            cert.not_before = cert.not_before.map(|t| t - by);
            cert.not_after = cert.not_after.map(|t| t - by);
            // The leaf states its validity: signed again on next use, with the new dates.
            cert.cert_pem = None;
        }
        self.certificates.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_written_before_delivery_and_stored_pems_still_load() {
        let old = r#"{"next_sequence": 1, "ca_key_pem": null, "certificates": {"a1b2c3d4": {
            "id": "a1b2c3d4", "sequence": 1, "domain": "www.example.com", "alias": "",
            "project_id": 0, "dv_auth_method": "DNS_AUTO", "csr_encrypt_algo": "RSA",
            "csr_key_parameter": "2048", "contact_email": null, "status": 1,
            "inserted_at": "2026-01-01T00:00:00Z", "not_before": "2026-01-01T00:00:00Z",
            "not_after": "2026-04-01T00:00:00Z", "origin_certificate_id": null,
            "renewed_by": null, "validation_token": "00", "key_pem": "KEY"}}}"#;
        let store: Store = serde_json::from_str(old).expect("an older file loads");
        let cert = store.get("a1b2c3d4").expect("its certificate");
        assert_eq!((cert.key_pem.as_deref(), cert.cert_pem.as_deref()), (Some("KEY"), None));
        assert_eq!(store.deploy.bindings().count(), 0);
    }
}
