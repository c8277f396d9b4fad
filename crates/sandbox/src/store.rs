//! The sandbox's certificates — ordered from its CA or uploaded — their lifecycle, the cloud
//! resources bound to them and the deploy tasks ([`crate::deploy`]), the DNS zones and records
//! ([`crate::dns`]), each account's apart ([`AccountData`], by SecretId), and persistence of it
//! all to a JSON file. Certificate ids are unique across the accounts, as the real service's
//! are. Fields added since the first release default when absent, and a file of format 1 (one
//! account, no `format_version`) loads as the first account's, so that older files still load.
//! An account the file holds and the sandbox no longer serves is kept — never dropped — and
//! lives on with the others: time passes for it too, and its ids stay taken.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use crate::deploy::DeployState;
use crate::dns::{DnsState, PublicDns};

/// The data file's format: 2 keeps each account's data apart; 1, every file written before
/// there were accounts, held one account's data at the top level.
const FORMAT_VERSION: u32 = 2;

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
    /// A paid certificate (TrustAsia TLS RSA CA, `PackageType` 2) rather than a free one: only
    /// seeded ([`crate::SeedKind::Paid`]), as the API orders free certificates only.
    #[serde(default)]
    pub paid: bool,
    /// Its expiry notifications are switched off (`IsIgnore`,
    /// `ModifyCertificatesExpiringNotificationSwitch`).
    #[serde(default)]
    pub ignore_expiry: bool,
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

    /// Tells whether the certificate is a free one applied for (`PackageType` 83): neither
    /// uploaded nor paid. Only these count against the free quotas.
    pub fn is_free(&self) -> bool {
        self.upload.is_none() && !self.paid
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
    /// enabled, in public DNS (or when the order was made, for a record there before it).
    /// `None` for a certificate not pending DNS validation, or no such record.
    fn validated_by_dns(&self, dns: &PublicDns<'_>) -> Option<DateTime<Utc>> {
        if self.status != status::PENDING || self.dv_auth_method != "DNS" {
            return None;
        }
        let record = self.cname_validation();
        let name = format!("{}.{}", record.key, record.domain);
        dns.cname_made(&name, &record.value).map(|made| made.max(self.inserted_at))
    }

    /// Returns a certificate `id` for `domain` issued at `now`, as if ordered with `DNS_AUTO`.
    pub(crate) fn seeded(id: &str, domain: &str, now: DateTime<Utc>) -> Self {
        let mut cert = StoredCertificate {
            id: id.to_owned(),
            sequence: 0,
            domain: domain.to_owned(),
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
            paid: false,
            ignore_expiry: false,
        };
        cert.issue(now);
        cert
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
    #[error(
        "sandbox data {} has format {version}, newer than this certplan reads ({FORMAT_VERSION})",
        path.display()
    )]
    NewerFormat { path: PathBuf, version: u32 },
}

/// Everything the sandbox holds: each account's data and the CA that signs for all of them.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct Store {
    format_version: u32,
    /// The sandbox CA's key (PEM), created with the first certificate it signs.
    #[serde(default)]
    pub(crate) ca_key_pem: Option<String>,
    /// The sandbox CA's certificate (PEM), signed once with its key.
    #[serde(default)]
    pub(crate) ca_cert_pem: Option<String>,
    /// By SecretId, every account that has held anything, served now or not.
    #[serde(default)]
    accounts: BTreeMap<String, AccountData>,
}

impl Default for Store {
    fn default() -> Self {
        Store {
            format_version: FORMAT_VERSION,
            ca_key_pem: None,
            ca_cert_pem: None,
            accounts: BTreeMap::new(),
        }
    }
}

/// A data file of format 1: one account's data, and the CA, at the top level.
#[derive(Deserialize)]
struct StoreV1 {
    #[serde(flatten)]
    account: AccountData,
    #[serde(default)]
    ca_key_pem: Option<String>,
    #[serde(default)]
    ca_cert_pem: Option<String>,
}

/// What tells the formats apart: format 1 has no `format_version`.
#[derive(Deserialize)]
struct Format {
    #[serde(default)]
    format_version: Option<u32>,
}

/// What one account holds: its certificates, the cloud resources bound to them with the
/// deploy tasks, and its DNS zones.
#[derive(Debug, Default, Serialize, Deserialize)]
pub(crate) struct AccountData {
    next_sequence: u64,
    certificates: BTreeMap<String, StoredCertificate>,
    /// The cloud resources bound to certificates and the deploy tasks.
    #[serde(default)]
    pub(crate) deploy: DeployState,
    /// The DNS zones (DNSPod domains) and their records.
    #[serde(default)]
    pub(crate) dns: DnsState,
}

impl Store {
    /// Loads the store from `path`; an absent file is an empty store. A file of format 1 holds
    /// one account's data, which becomes `first_account`'s.
    pub(crate) fn load(path: &Path, first_account: &str) -> Result<Self, StoreError> {
        let bytes = match std::fs::read(path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Store::default()),
            Err(cause) => return Err(StoreError::Read { path: path.to_owned(), cause }),
        };
        let parse_error = |cause| StoreError::Parse { path: path.to_owned(), cause };
        let format: Format = serde_json::from_slice(&bytes).map_err(parse_error)?;
        match format.format_version {
            None => {
                let v1: StoreV1 = serde_json::from_slice(&bytes).map_err(parse_error)?;
                let accounts = BTreeMap::from([(first_account.to_owned(), v1.account)]);
                let (ca_key_pem, ca_cert_pem) = (v1.ca_key_pem, v1.ca_cert_pem);
                Ok(Store { format_version: FORMAT_VERSION, ca_key_pem, ca_cert_pem, accounts })
            }
            Some(version) if version > FORMAT_VERSION => {
                Err(StoreError::NewerFormat { path: path.to_owned(), version })
            }
            Some(_) => serde_json::from_slice(&bytes).map_err(parse_error),
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

    /// Returns the data of the account whose SecretId is `secret_id`, if it holds any.
    pub(crate) fn account(&self, secret_id: &str) -> Option<&AccountData> {
        self.accounts.get(secret_id)
    }

    /// Returns the data of the account whose SecretId is `secret_id`, empty at first.
    pub(crate) fn account_mut(&mut self, secret_id: &str) -> &mut AccountData {
        self.accounts.entry(secret_id.to_owned()).or_default()
    }

    /// Returns the SecretId of the account that holds certificate `id`, if any does.
    pub(crate) fn holder_of(&self, id: &str) -> Option<&str> {
        self.accounts.iter().find(|(_, data)| data.contains(id)).map(|(holder, _)| holder.as_str())
    }

    /// Returns a new certificate id, 8 characters as the API's are, that no certificate of any
    /// account has.
    pub(crate) fn unused_id(&self) -> String {
        loop {
            let id = new_certificate_id();
            if self.holder_of(&id).is_none() {
                return id;
            }
        }
    }

    /// Returns every account's data.
    pub(crate) fn accounts_mut(&mut self) -> impl Iterator<Item = &mut AccountData> {
        self.accounts.values_mut()
    }

    /// Returns DNS as the world resolves it, from every account's zones.
    pub(crate) fn public_dns(&self) -> PublicDns<'_> {
        PublicDns::of(self.accounts.values().map(|data| &data.dns))
    }

    /// Moves the lifecycle of every certificate forward to `now`: automatic DNS validation
    /// completes `issue_delay` after applying, a `DNS` order issues once its CNAME record is in
    /// public DNS — any account's zones: the CA resolves names, not accounts — and orders not
    /// validated within 7 days fail. Returns whether anything changed.
    pub(crate) fn advance(&mut self, now: DateTime<Utc>, issue_delay: Duration) -> bool {
        let validated: BTreeMap<String, DateTime<Utc>> = {
            let dns = self.public_dns();
            self.accounts
                .values()
                .flat_map(|data| data.certificates.values())
                .filter_map(|cert| Some((cert.id.clone(), cert.validated_by_dns(&dns)?)))
                .collect()
        };
        let mut changed = false;
        for data in self.accounts.values_mut() {
            changed |= data.advance(now, issue_delay, &validated);
        }
        changed
    }

    /// Moves every certificate of every account `by` into the past (see [`AccountData::age`]);
    /// returns how many there are.
    pub(crate) fn age(&mut self, by: Duration) -> usize {
        self.accounts.values_mut().map(|data| data.age(by)).sum()
    }

    /// Inserts an issued certificate per domain into `account`; returns their ids.
    pub(crate) fn seed_issued(
        &mut self,
        account: &str,
        domains: &[String],
        now: DateTime<Utc>,
    ) -> Vec<String> {
        let mut ids = Vec::with_capacity(domains.len());
        for domain in domains {
            let id = self.unused_seed_id();
            self.account_mut(account).insert(StoredCertificate::seeded(&id, domain, now));
            ids.push(id);
        }
        ids
    }

    /// Returns an id for a seeded certificate that tells it was seeded (`seed0001`) and that no
    /// certificate of any account has.
    pub(crate) fn unused_seed_id(&self) -> String {
        let held: usize = self.accounts.values().map(|data| data.certificates.len()).sum();
        (held..)
            .map(|n| format!("seed{n:04x}"))
            .find(|id| self.holder_of(id).is_none())
            .expect("an unused number")
    }
}

impl AccountData {
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

    /// Moves the lifecycle forward to `now` (see [`Store::advance`]); `validated` holds when
    /// the CA saw each `DNS` order's record, by certificate id. Returns whether anything
    /// changed.
    fn advance(
        &mut self,
        now: DateTime<Utc>,
        issue_delay: Duration,
        validated: &BTreeMap<String, DateTime<Utc>>,
    ) -> bool {
        let mut changed = false;
        for cert in self.certificates.values_mut() {
            let deadline = cert.validation_deadline();
            if cert.status == status::DNS_RECORD_ADDED && now >= cert.inserted_at + issue_delay {
                cert.issue(cert.inserted_at + issue_delay);
                changed = true;
            } else if let Some(validated) =
                validated.get(&cert.id).copied().filter(|at| *at <= deadline)
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

    /// Moves every certificate's times `by` into the past; returns how many there are. An
    /// uploaded certificate's validity is its own, stated in a PEM the sandbox did not sign and
    /// cannot sign again: only its upload moves (a test uploads one with the dates it needs).
    fn age(&mut self, by: Duration) -> usize {
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

    fn load(text: &str) -> Result<Store, StoreError> {
        let dir = tempfile::tempdir().expect("a directory");
        let path = dir.path().join("sandbox.json");
        std::fs::write(&path, text).expect("written");
        Store::load(&path, "AKIDfirst")
    }

    #[test]
    fn files_of_one_account_written_before_delivery_load_as_the_first_accounts() {
        let old = r#"{"next_sequence": 1, "ca_key_pem": "CA KEY", "certificates": {"a1b2c3d4": {
            "id": "a1b2c3d4", "sequence": 1, "domain": "www.example.com", "alias": "",
            "project_id": 0, "dv_auth_method": "DNS_AUTO", "csr_encrypt_algo": "RSA",
            "csr_key_parameter": "2048", "contact_email": null, "status": 1,
            "inserted_at": "2026-01-01T00:00:00Z", "not_before": "2026-01-01T00:00:00Z",
            "not_after": "2026-04-01T00:00:00Z", "origin_certificate_id": null,
            "renewed_by": null, "validation_token": "00", "key_pem": "KEY"}}}"#;
        let store = load(old).expect("an older file loads");
        let first = store.account("AKIDfirst").expect("the first account's data");
        let cert = first.get("a1b2c3d4").expect("its certificate");
        assert_eq!((cert.key_pem.as_deref(), cert.cert_pem.as_deref()), (Some("KEY"), None));
        assert_eq!(first.deploy.bindings().count(), 0);
        assert_eq!(store.ca_key_pem.as_deref(), Some("CA KEY"), "the CA signs for everyone");
        assert_eq!(store.holder_of("a1b2c3d4"), Some("AKIDfirst"));
    }

    #[test]
    fn every_account_is_saved_and_a_newer_format_is_not_read() {
        let mut store = Store::default();
        store.seed_issued("AKIDfirst", &["a.example.com".into()], Utc::now());
        store.seed_issued("AKIDother", &["b.example.com".into()], Utc::now());
        let dir = tempfile::tempdir().expect("a directory");
        let path = dir.path().join("sandbox.json");
        store.save(&path).expect("saved");
        let saved: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&path).expect("read")).expect("JSON");
        assert_eq!(saved["format_version"], FORMAT_VERSION);

        let again = Store::load(&path, "AKIDelse").expect("loaded");
        let held = |account: &str| again.account(account).map(|data| data.certificates().len());
        assert_eq!(
            (held("AKIDfirst"), held("AKIDother"), held("AKIDelse")),
            (Some(1), Some(1), None)
        );

        let newer = load(r#"{"format_version": 3, "accounts": {}}"#).expect_err("newer");
        assert!(matches!(newer, StoreError::NewerFormat { version: 3, .. }), "{newer}");
    }

    #[test]
    fn seeded_ids_are_unique_across_accounts() {
        let mut store = Store::default();
        let domains = vec!["a.example.com".to_owned(), "b.example.com".to_owned()];
        let mut ids = store.seed_issued("AKIDfirst", &domains, Utc::now());
        ids.extend(store.seed_issued("AKIDother", &domains, Utc::now()));
        assert!(ids.iter().all(|id| id.starts_with("seed")), "{ids:?}");
        let distinct: std::collections::BTreeSet<_> = ids.iter().collect();
        assert_eq!(distinct.len(), 4, "{ids:?}");
    }
}
