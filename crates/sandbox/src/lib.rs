//! A faithful local emulator of the Tencent Cloud SSL API (`ssl.tencentcloudapi.com`), of the
//! DNSPod records it needs (`dnspod.tencentcloudapi.com`) and of STS's `GetCallerIdentity`
//! (`sts.tencentcloudapi.com`), close enough that the official SDKs work against it unchanged:
//! TC3-HMAC-SHA256 verification that honours the request's `SignedHeaders`, the ±5 minute
//! timestamp window, the exact response envelope and error codes, and the certificate
//! lifecycle. Requests are routed by the service their signature's credential scope names, at
//! that service's version.
//!
//! Accounts: a sandbox serves one Tencent Cloud account or several ([`SandboxAccount`], the
//! first the sandbox's own by default), kept apart as the real service keeps them, by the
//! SecretId a request is signed with. Each has its own certificates, DNS zones and records,
//! bound resources and deploy tasks, per-main-domain quota and rate limit (per action per
//! account); an id of another account's certificate is as unknown to it as an id never given
//! out. Certificate ids are unique across accounts; DNS names resolve for every account (a
//! CNAME record in one account's zone validates another's order, as public DNS would). An
//! account the data file holds and the options no longer list is not served, but kept: its
//! certificates age with the others and the console still finds them by id. [`Account`] is
//! the sandbox as one account sees it.
//!
//! It serves certplan's tests, its no-account demo and its benchmarks. The production code path
//! uses it only when the user asks for it (`--sandbox`).
//!
//! Besides the API at `POST /`, a control API for tests and demos lives under `/_sandbox/`: it
//! ages certificates, does what a person would do in the console (or the CA would do), sets the
//! [`Faults`] to inject, seeds issued certificates (free, paid or uploaded: [`SeedKind`]),
//! binds cloud resources to certificates, lists the deploy tasks created and reports
//! [`Stats`], for the first account or the one a call names. [`control`] describes it, and [`ControlClient`] calls it from another process.
//!
//! Uploads: `UploadCertificate` brings in a certificate from elsewhere (an ACME CA) with its
//! key, issued from the start, with the names and dates of its PEM; it is then an id like any
//! other. DNS: the DNSPod zones an account holds ([`DnsZone`], declared by option or the control
//! API) take records through the API, and with a pebble-challtestsrv to publish to, the TXT
//! records are published there as they change ([`dns`]).
//!
//! Delivery: cloud resources bound to certificates (made with the control API or
//! `DeployCertificateInstance`) move to a new certificate through deploy tasks that progress
//! one resource per `deploy_step` ([`deploy`]); a certificate still bound cannot be deleted.
//!
//! Lifecycle: `DNS_AUTO` orders issue `issue_delay` after applying (status 4 until then); `DNS`
//! and `FILE` orders stay pending (status 0) until validated, and fail (status 2) 7 days after
//! applying; issued certificates read as expired (status 3) after `CertEndTime`. A `DNS` order
//! is validated as the real CA validates it, once the CNAME record its `DvAuthDetail` names is
//! enabled in public DNS (checked whenever the lifecycle moves, and on `CompleteCertificate`),
//! and any pending order by the control API. An issued certificate's
//! key is of the kind its order named — RSA 2048 (the API's default) or ECDSA P-256 (`ECC`) —
//! minted, with the certificate itself, the first time its PEM is asked for (detail or
//! `DownloadCertificate`) and the same on every call after.

mod account;
mod api;
mod archive;
pub mod control;
pub mod deploy;
pub mod dns;
mod seed;
mod store;
mod traffic;
mod x509;

use std::future::Future;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};

use chrono::{DateTime, Utc};

pub use account::{Account, SandboxAccount};
pub use control::{ControlClient, ControlError};
pub use deploy::{BindError, Binding, DeployDetail, DeployTask, TaskKind};
pub use dns::{DnsZone, PublishError, ZoneError};
pub use seed::{SeedCertificate, SeedError, SeedKind};
pub use store::{StoreError, StoredCertificate, Upload};
pub use traffic::{AccountStats, Stats};

use crate::store::Store;
use crate::traffic::Traffic;

/// The credentials of the sandbox's own account, the one it serves when no other is given.
pub const DEFAULT_SECRET_ID: &str = "AKIDcertplanSandbox0000000000000000";
pub const DEFAULT_SECRET_KEY: &str = "certplan-sandbox-secret-key";

/// How a sandbox is set up.
#[derive(Debug, Clone)]
pub struct SandboxOptions {
    /// The accounts served, told apart by SecretId; the first is the one the control API and
    /// this crate's methods act on when none is named. The sandbox's own account by default.
    pub accounts: Vec<SandboxAccount>,
    /// Where certificates persist across restarts; in memory only when `None`.
    pub data: Option<PathBuf>,
    /// How long automatic DNS validation (`DNS_AUTO`) takes before a certificate issues.
    pub issue_delay: std::time::Duration,
    /// Failures to inject; none by default.
    pub faults: Faults,
    /// Requests per second each account may make of each action, as the real service
    /// enforces (10/s is documented; `GetCallerIdentity`, documented at 20/s, takes twice
    /// this); 0 accepts any rate.
    pub rate_limit: u32,
    /// Free certificates one main domain (`example.com` for `www.example.com`) may hold, as the
    /// real service limits them (`FailedOperation.MainDomainCertificateCountLimit`); 0 for no
    /// limit, the default, so that benchmarks can apply for thousands.
    pub quota_per_domain: u32,
    /// Free certificates each account may apply for per calendar year (Beijing time, by the
    /// sandbox's clock, which `age` moves), as the real service is widely reported to limit them
    /// (`FailedOperation.ExceedsFreeLimit`; 50 is the figure reported); 0 for no limit, the
    /// default. Counted over the free certificates the account holds — any status, deleted
    /// ones no longer.
    pub free_per_year: u32,
    /// How long a deploy task takes per cloud resource: each waits its turn, deploys for this
    /// long, then succeeds or fails. About a second by default, so that a demo looks like the
    /// real thing; tests set a few milliseconds.
    pub deploy_step: std::time::Duration,
    /// DNS zones (DNSPod domains) the first account holds from the start, besides its own
    /// [`SandboxAccount::dns_zones`]: a domain belongs to one account.
    pub dns_zones: Vec<DnsZone>,
    /// The management URL of a pebble-challtestsrv (`http://127.0.0.1:8055`) to publish TXT
    /// records to as they change, for an ACME CA that resolves names with it; none by default.
    pub challtestsrv: Option<String>,
}

/// Failures the sandbox injects, to test what a client does when the network and the service
/// misbehave. Rates are probabilities per request, from 0 to 1.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Faults {
    /// Added to every API request before it is handled.
    pub latency_ms: u64,
    /// How often a request fails with one of `error_codes` instead of being handled.
    pub error_rate: f64,
    /// API error codes (`InternalError`, `RequestLimitExceeded`, ...) or `HTTP502`/`HTTP503`.
    pub error_codes: Vec<String>,
    /// How often the connection is reset before the request is handled.
    pub reset_rate: f64,
    /// How often an `ApplyCertificate` that succeeded has its response dropped: the
    /// certificate exists, the client sees a reset connection.
    pub drop_rate: f64,
    /// How often an `ApplyCertificate` that succeeded answers with one of `error_codes`
    /// instead: the certificate exists, the client is told it failed.
    pub error_after_apply_rate: f64,
    /// How often an `ApplyCertificate` that succeeded answers with an empty `CertificateId`.
    pub empty_id_rate: f64,
    /// How often `DescribeCertificates` answers without `Certificates` and `TotalCount`.
    pub malformed_list_rate: f64,
    /// Pads every successful answer with this many bytes (a huge body).
    pub padding_bytes: u64,
    /// How often a request is accepted and never answered.
    pub hang_rate: f64,
    /// How often deploying a certificate to one cloud resource fails (the resource keeps its
    /// certificate and the task's detail reports why).
    pub deploy_failure_rate: f64,
    /// How often a query of where a certificate is bound (`CreateCertificateBindResourceSyncTask`)
    /// ends failed (`Status` 2, with an `Error`), as the service's own may.
    pub bind_query_failure_rate: f64,
}

impl Faults {
    /// Checks that every rate is a probability.
    pub fn validate(&self) -> Result<(), String> {
        for (name, rate) in [
            ("error rate", self.error_rate),
            ("reset rate", self.reset_rate),
            ("drop rate", self.drop_rate),
            ("error-after-apply rate", self.error_after_apply_rate),
            ("empty id rate", self.empty_id_rate),
            ("malformed list rate", self.malformed_list_rate),
            ("hang rate", self.hang_rate),
            ("deploy failure rate", self.deploy_failure_rate),
            ("bind query failure rate", self.bind_query_failure_rate),
        ] {
            if !(0.0..=1.0).contains(&rate) {
                return Err(format!("the {name} must be between 0 and 1, not {rate}"));
            }
        }
        if (self.error_rate > 0.0 || self.error_after_apply_rate > 0.0)
            && self.error_codes.is_empty()
        {
            return Err("an error rate needs error codes to answer with".to_owned());
        }
        Ok(())
    }
}

impl Default for SandboxOptions {
    fn default() -> Self {
        SandboxOptions {
            accounts: vec![SandboxAccount::default()],
            data: None,
            issue_delay: std::time::Duration::ZERO,
            faults: Faults::default(),
            rate_limit: 10,
            quota_per_domain: 0,
            free_per_year: 0,
            deploy_step: std::time::Duration::from_secs(1),
            dns_zones: Vec::new(),
            challtestsrv: None,
        }
    }
}

impl SandboxOptions {
    /// Returns the first account: the one served when no other is named.
    ///
    /// # Panics
    ///
    /// When `accounts` is empty, which [`Sandbox::new`] refuses.
    pub fn first_account(&self) -> &SandboxAccount {
        self.accounts.first().expect("a sandbox serves at least one account")
    }

    /// Checks that there is an account and that no SecretId is given twice.
    fn check_accounts(&self) -> Result<(), SandboxError> {
        if self.accounts.is_empty() {
            return Err(SandboxError::NoAccount);
        }
        for (n, account) in self.accounts.iter().enumerate() {
            if self.accounts[..n].iter().any(|a| a.secret_id == account.secret_id) {
                return Err(SandboxError::DuplicateAccount(account.secret_id.clone()));
            }
        }
        Ok(())
    }
}

/// Why a sandbox cannot start.
#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    #[error("a sandbox serves at least one account; none was given")]
    NoAccount,
    #[error("account {0} is given twice: each account needs a SecretId of its own")]
    DuplicateAccount(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What a person can do to a certificate in the console (or the CA on its own).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConsoleOp {
    /// Domain validation succeeded: a pending certificate issues now.
    Validate,
    /// An issued certificate is revoked.
    Revoke,
    /// A pending order is cancelled.
    Cancel,
    /// The certificate is deleted (the console ignores the API's one-hour rule).
    Delete,
    /// An issued certificate is reissued: a new certificate for the same domain, linked to the
    /// original by `ReplacedBy` / `ReplacedFor`.
    Reissue,
}

impl ConsoleOp {
    pub const ALL: [ConsoleOp; 5] = [
        ConsoleOp::Validate,
        ConsoleOp::Revoke,
        ConsoleOp::Cancel,
        ConsoleOp::Delete,
        ConsoleOp::Reissue,
    ];

    /// Returns the operation's name, as in the control API's path `/_sandbox/{name}`.
    pub fn name(self) -> &'static str {
        match self {
            ConsoleOp::Validate => "validate",
            ConsoleOp::Revoke => "revoke",
            ConsoleOp::Cancel => "cancel",
            ConsoleOp::Delete => "delete",
            ConsoleOp::Reissue => "reissue",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|op| op.name() == name)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConsoleError {
    #[error("certificate {0} does not exist")]
    NotFound(String),
    #[error("certificate {id} has status {status}; {op:?} does not apply")]
    WrongStatus { id: String, op: ConsoleOp, status: i64 },
    #[error("certificate {id} still serves {resources} cloud resource(s); it cannot be deleted")]
    Bound { id: String, resources: usize },
    #[error("certificate {id} was uploaded; {op:?} applies only to certificates the CA issued")]
    Uploaded { id: String, op: ConsoleOp },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A running sandbox's shared state. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Sandbox {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    options: SandboxOptions,
    store: Mutex<Store>,
    /// The data file as this sandbox last read or wrote it: another process (`certplan
    /// sandbox validate` in another shell, beside a running `apply --sandbox`) that writes it
    /// is noticed, and what it wrote read, before the next request.
    seen: Mutex<Option<FileStamp>>,
    faults: Mutex<Faults>,
    traffic: Mutex<Traffic>,
    /// Where TXT records are published, if anywhere.
    challtestsrv: Option<dns::Challtestsrv>,
    /// Held while a name's TXT records are published, so that publications take turns.
    publishing: tokio::sync::Mutex<()>,
}

/// The store, locked in this process, and its data file locked against the others (`certplan
/// sandbox validate` beside a running `apply --sandbox`): between reading the file again and
/// saving it, no other process writes it.
struct StoreGuard<'a> {
    store: MutexGuard<'a, Store>,
    _file_lock: Option<std::fs::File>,
}

impl std::ops::Deref for StoreGuard<'_> {
    type Target = Store;
    fn deref(&self) -> &Store {
        &self.store
    }
}

impl std::ops::DerefMut for StoreGuard<'_> {
    fn deref_mut(&mut self) -> &mut Store {
        &mut self.store
    }
}

/// Takes an exclusive lock on `DATA.lock` beside the data file, released when the returned
/// file is closed; `None` when it cannot be opened (a read-only directory: served unlocked).
fn lock_data_file(data: &std::path::Path) -> Option<std::fs::File> {
    let mut name = data.as_os_str().to_owned();
    name.push(".lock");
    if let Some(dir) = data.parent().filter(|d| !d.as_os_str().is_empty()) {
        let _ = std::fs::create_dir_all(dir);
    }
    let file =
        std::fs::OpenOptions::new().create(true).truncate(false).write(true).open(name).ok()?;
    rustix::fs::flock(&file, rustix::fs::FlockOperation::LockExclusive).ok()?;
    Some(file)
}

/// What tells one version of the data file from another: every save replaces the file (a new
/// inode), and its size and modification time come with it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct FileStamp {
    inode: u64,
    len: u64,
    modified: Option<std::time::SystemTime>,
}

impl FileStamp {
    fn of(path: &std::path::Path) -> Option<Self> {
        use std::os::unix::fs::MetadataExt as _;
        let meta = std::fs::metadata(path).ok()?;
        Some(FileStamp { inode: meta.ino(), len: meta.len(), modified: meta.modified().ok() })
    }
}

impl Sandbox {
    /// Creates a sandbox, loading its certificates from `options.data` when that file exists,
    /// and adding the DNS zones the options declare to their accounts. Refuses options with no
    /// account, or with a SecretId given twice.
    pub fn new(options: SandboxOptions) -> Result<Self, SandboxError> {
        options.check_accounts()?;
        let store = match &options.data {
            Some(path) => Store::load(path, &options.first_account().secret_id)?,
            None => Store::default(),
        };
        let seen = Mutex::new(options.data.as_deref().and_then(FileStamp::of));
        let faults = Mutex::new(options.faults.clone());
        let store = Mutex::new(store);
        let challtestsrv = options.challtestsrv.as_deref().map(dns::Challtestsrv::new);
        let inner = Inner {
            options,
            store,
            seen,
            faults,
            traffic: Mutex::default(),
            challtestsrv,
            publishing: tokio::sync::Mutex::default(),
        };
        let sandbox = Sandbox { inner: Arc::new(inner) };
        sandbox.first_account().add_dns_zones(&sandbox.inner.options.dns_zones)?;
        for account in &sandbox.inner.options.accounts {
            Account::new(&sandbox, account).add_dns_zones(&account.dns_zones)?;
        }
        Ok(sandbox)
    }

    pub fn options(&self) -> &SandboxOptions {
        &self.inner.options
    }

    /// Returns the sandbox as the account whose SecretId is `secret_id` sees it, if it serves
    /// that account.
    pub fn account(&self, secret_id: &str) -> Option<Account<'_>> {
        let options = self.inner.options.accounts.iter().find(|a| a.secret_id == secret_id)?;
        Some(Account::new(self, options))
    }

    /// Returns the sandbox as its first account sees it.
    pub fn first_account(&self) -> Account<'_> {
        Account::new(self, self.inner.options.first_account())
    }

    /// Returns the failures being injected.
    pub fn faults(&self) -> Faults {
        self.inner.faults.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Changes the failures to inject.
    pub fn set_faults(&self, faults: Faults) -> Result<(), String> {
        faults.validate()?;
        *self.inner.faults.lock().unwrap_or_else(|p| p.into_inner()) = faults;
        Ok(())
    }

    /// Returns what the sandbox has served so far, in all and by account.
    pub fn stats(&self) -> Stats {
        self.inner.traffic.lock().unwrap_or_else(|p| p.into_inner()).stats().clone()
    }

    /// Counts a request of account `secret_id` for `action` and decides whether the rate limit
    /// admits it.
    pub(crate) fn admit(&self, secret_id: &str, action: &str) -> bool {
        let limit = self.rate_limit_of(action);
        let mut traffic = self.inner.traffic.lock().unwrap_or_else(|p| p.into_inner());
        traffic.admit(secret_id, action, limit, std::time::Instant::now())
    }

    /// Returns how many requests per second an account may make of `action`: `rate_limit`, or
    /// twice that for `GetCallerIdentity`, documented at 20/s against the SSL actions' 10/s.
    pub(crate) fn rate_limit_of(&self, action: &str) -> u32 {
        let limit = self.inner.options.rate_limit;
        match action {
            "GetCallerIdentity" => limit.saturating_mul(2),
            _ => limit,
        }
    }

    /// Adds issued certificates for `domains` to the first account directly, without the API
    /// (benchmarks seed thousands this way); returns their ids.
    pub fn seed_issued(&self, domains: &[String]) -> Result<Vec<String>, StoreError> {
        self.first_account().seed_issued(domains)
    }

    /// Adds one issued certificate of the kind and end date `seed` asks to the first account
    /// directly, without the API (see [`Account::seed_certificate`]); returns its id.
    pub fn seed_certificate(&self, seed: &SeedCertificate) -> Result<String, SeedError> {
        self.first_account().seed_certificate(seed)
    }

    /// Returns the sandbox's current time.
    pub fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }

    /// Returns the first account's certificates, oldest application first.
    pub fn certificates(&self) -> Result<Vec<StoredCertificate>, StoreError> {
        self.first_account().certificates()
    }

    /// Makes every certificate of every account `days` older, as if it had been applied for
    /// that long ago; returns how many there are.
    pub fn age(&self, days: i64) -> Result<usize, StoreError> {
        let mut store = self.store();
        let count = store.age(chrono::Duration::days(days));
        self.persist(&store)?;
        drop(store);
        drop(self.advanced()?);
        Ok(count)
    }

    /// Does to a certificate, in whichever account holds it, what a person (or the CA) would do
    /// outside the API. Returns the new certificate's id for a reissue.
    pub fn console(&self, op: ConsoleOp, id: &str) -> Result<Option<String>, ConsoleError> {
        let not_found = || ConsoleError::NotFound(id.to_owned());
        let (mut store, now) = self.advanced()?;
        let holder = store.holder_of(id).ok_or_else(not_found)?.to_owned();
        let account = store.account_mut(&holder);
        let cert = account.get_mut(id).ok_or_else(not_found)?;
        let wrong = |cert: &StoredCertificate| ConsoleError::WrongStatus {
            id: id.to_owned(),
            op,
            status: cert.status_at(now),
        };
        match op {
            // The sandbox's CA did not issue an upload: it can neither revoke nor reissue it.
            ConsoleOp::Revoke | ConsoleOp::Reissue if cert.upload.is_some() => {
                return Err(ConsoleError::Uploaded { id: id.to_owned(), op });
            }
            ConsoleOp::Validate if cert.is_pending() => cert.issue(now),
            ConsoleOp::Revoke if cert.status_at(now) == store::status::ISSUED => {
                cert.status = store::status::REVOKED;
            }
            ConsoleOp::Cancel if cert.is_pending() => cert.status = store::status::CANCELLED,
            ConsoleOp::Delete => {
                // The console refuses as the API does (`FailedOperation.DeleteResourceFailed`).
                let resources =
                    account.deploy.bindings().filter(|b| b.certificate_id == id).count();
                if resources > 0 {
                    return Err(ConsoleError::Bound { id: id.to_owned(), resources });
                }
                account.remove(id);
            }
            ConsoleOp::Reissue if cert.status_at(now) == store::status::ISSUED => {
                let mut reissue = cert.clone();
                let new_id = store.unused_id();
                let account = store.account_mut(&holder);
                reissue.id = new_id.clone();
                reissue.key_pem = None;
                reissue.cert_pem = None;
                reissue.csr_pem = None;
                reissue.renewed_by = None;
                reissue.origin_certificate_id = None;
                reissue.replaced_for = None;
                reissue.replaced_by = Some(id.to_owned());
                reissue.issue(now);
                if let Some(original) = account.get_mut(id) {
                    original.replaced_for = Some(new_id.clone());
                }
                account.insert(reissue);
                self.persist(&store)?;
                return Ok(Some(new_id));
            }
            _ => return Err(wrong(cert)),
        }
        self.persist(&store)?;
        Ok(None)
    }

    /// Builds the HTTP service: the API at `POST /` and the control API under `/_sandbox/`.
    pub fn router(&self) -> axum::Router {
        api::router(self.clone())
    }

    /// Serves on `listener` until `shutdown` completes.
    pub async fn serve(
        self,
        listener: tokio::net::TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        axum::serve(listener, self.router()).with_graceful_shutdown(shutdown).await
    }

    /// Locks the store with the lifecycle and the deploy tasks of every account moved forward
    /// to now (persisting any change).
    fn advanced(&self) -> Result<(StoreGuard<'_>, DateTime<Utc>), StoreError> {
        let now = self.now();
        let mut store = self.store();
        if self.advance(&mut store, now) {
            self.persist(&store)?;
        }
        Ok((store, now))
    }

    /// Moves the lifecycle and the deploy tasks of every account forward to `now`; returns
    /// whether anything changed.
    fn advance(&self, store: &mut Store, now: DateTime<Utc>) -> bool {
        let mut changed = store.advance(now, self.issue_delay());
        let (moment, step) = (deploy::Moment::at(now), self.inner.options.deploy_step);
        let failure_rate = self.faults().deploy_failure_rate;
        for account in store.accounts_mut() {
            changed |= account.deploy.advance(moment, step, failure_rate);
        }
        changed
    }

    fn issue_delay(&self) -> chrono::Duration {
        chrono::Duration::from_std(self.inner.options.issue_delay).unwrap_or(chrono::Duration::MAX)
    }

    /// Locks the store — and, with a data file, the file against other processes until the
    /// guard is dropped — first reading the file again if another process wrote it.
    fn store(&self) -> StoreGuard<'_> {
        // A panic while holding the lock leaves plain data behind; keep serving it.
        let mut store = self.inner.store.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let file_lock = self.inner.options.data.as_deref().and_then(lock_data_file);
        if let Some(path) = &self.inner.options.data {
            let mut seen = self.inner.seen.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            let now = FileStamp::of(path);
            // A file that cannot be read (edited by hand, say) leaves what was read before
            // served, and is tried again at the next request.
            if now.is_some()
                && now != *seen
                && let Ok(loaded) = Store::load(path, &self.inner.options.first_account().secret_id)
            {
                *store = loaded;
                *seen = now;
            }
        }
        StoreGuard { store, _file_lock: file_lock }
    }

    fn persist(&self, store: &Store) -> Result<(), StoreError> {
        let Some(path) = &self.inner.options.data else { return Ok(()) };
        store.save(path)?;
        *self.inner.seen.lock().unwrap_or_else(|poisoned| poisoned.into_inner()) =
            FileStamp::of(path);
        Ok(())
    }
}
