//! The management API of pebble-challtestsrv, the DNS server that Pebble (Let's Encrypt's test
//! CA) asks in tests, as far as the sandbox's DNSPod uses it: `POST /clear-txt {"host"}` drops
//! every TXT value of a name, `POST /set-txt {"host", "value"}` adds one to those it has (a
//! name keeps several: an apex and its wildcard are validated with two values at once). Names
//! go fully qualified, with their trailing dot: the server keys them as given, and DNS asks
//! with the dot.

use std::time::Duration;

use serde_json::json;

/// A client for one pebble-challtestsrv's management API. Cheap to clone.
#[derive(Debug, Clone)]
pub(crate) struct Challtestsrv {
    http: reqwest::Client,
    base_url: String,
}

/// Why the TXT records of a name could not be published. Each names the URL it called.
#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    // The cause is part of the message rather than a separate source: the message is what the
    // sandbox logs and answers with.
    #[error("cannot reach pebble-challtestsrv at {url}: {cause}")]
    Unreachable { url: String, cause: reqwest::Error },
    #[error("pebble-challtestsrv at {url} refused ({status}): {message}")]
    Refused { url: String, status: reqwest::StatusCode, message: String },
}

impl Challtestsrv {
    /// Creates a client for the management API at `url`, such as `http://127.0.0.1:8055`. A
    /// malformed URL is reported by the first call, as unreachable.
    pub(crate) fn new(url: &str) -> Self {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(10))
            .build()
            // Building fails only when the TLS backend cannot initialise, which is a broken
            // build rather than a condition to handle.
            .expect("the HTTP client builds");
        Challtestsrv { http, base_url: url.trim_end_matches('/').to_owned() }
    }

    /// Makes `values` the TXT values of `fqdn` (none removes the name): clears it, then adds
    /// each value.
    pub(crate) async fn set_txt(&self, fqdn: &str, values: &[String]) -> Result<(), PublishError> {
        self.post("/clear-txt", &json!({ "host": fqdn })).await?;
        for value in values {
            self.post("/set-txt", &json!({ "host": fqdn, "value": value })).await?;
        }
        Ok(())
    }

    async fn post(&self, path: &str, body: &serde_json::Value) -> Result<(), PublishError> {
        let url = format!("{}{path}", self.base_url);
        let unreachable = |cause| PublishError::Unreachable { url: url.clone(), cause };
        let response = self.http.post(&url).json(body).send().await.map_err(unreachable)?;
        let status = response.status();
        if status.is_success() {
            return Ok(());
        }
        let message = response.text().await.map_err(unreachable)?.trim().to_owned();
        Err(PublishError::Refused { url, status, message })
    }
}
