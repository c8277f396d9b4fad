//! A faithful local emulator of the Tencent Cloud SSL API (`ssl.tencentcloudapi.com`), close
//! enough that the official SDKs work against it unchanged: TC3-HMAC-SHA256 verification that
//! honours the request's `SignedHeaders`, the ±5 minute timestamp window, the exact response
//! envelope and error codes, and the certificate lifecycle.
//!
//! It serves certplan's tests, its no-account demo and its benchmarks. The production code path
//! uses it only when the user asks for it (`--sandbox`).
//!
//! Besides the API at `POST /`, a control API for tests lives under `/_sandbox/`:
//! `POST /_sandbox/age {"Days": N}` makes every certificate N days older.

mod api;
mod store;

use std::future::Future;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};

use chrono::{DateTime, Utc};

pub use store::{StoreError, StoredCertificate};

use crate::store::Store;

/// The credentials a sandbox accepts when none are given.
pub const DEFAULT_SECRET_ID: &str = "AKIDcertplanSandbox0000000000000000";
pub const DEFAULT_SECRET_KEY: &str = "certplan-sandbox-secret-key";

/// How a sandbox is set up.
#[derive(Debug, Clone)]
pub struct SandboxOptions {
    pub secret_id: String,
    pub secret_key: String,
    /// Where certificates persist across restarts; in memory only when `None`.
    pub data: Option<PathBuf>,
}

impl Default for SandboxOptions {
    fn default() -> Self {
        SandboxOptions {
            secret_id: DEFAULT_SECRET_ID.to_owned(),
            secret_key: DEFAULT_SECRET_KEY.to_owned(),
            data: None,
        }
    }
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
}

impl Sandbox {
    /// Creates a sandbox, loading its certificates from `options.data` when that file exists.
    pub fn new(options: SandboxOptions) -> Result<Self, StoreError> {
        let store = match &options.data {
            Some(path) => Store::load(path)?,
            None => Store::default(),
        };
        Ok(Sandbox { inner: Arc::new(Inner { options, store: Mutex::new(store) }) })
    }

    pub fn options(&self) -> &SandboxOptions {
        &self.inner.options
    }

    /// Returns the sandbox's current time.
    pub fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }

    /// Returns every certificate, oldest application first.
    pub fn certificates(&self) -> Vec<StoredCertificate> {
        self.store().certificates()
    }

    /// Makes every certificate `days` older, as if it had been applied for that long ago.
    pub fn age(&self, days: i64) -> Result<usize, StoreError> {
        let mut store = self.store();
        let count = store.age(chrono::Duration::days(days));
        self.persist(&store)?;
        Ok(count)
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

    fn store(&self) -> MutexGuard<'_, Store> {
        // A panic while holding the lock leaves plain data behind; keep serving it.
        self.inner.store.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn persist(&self, store: &Store) -> Result<(), StoreError> {
        match &self.inner.options.data {
            Some(path) => store.save(path),
            None => Ok(()),
        }
    }
}
