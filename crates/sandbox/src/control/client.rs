//! [`ControlClient`]: the control API over HTTP, for a sandbox running in another process (the
//! CLI's `certplan sandbox ... --endpoint URL`, end-to-end tests). In-process callers use
//! [`Sandbox`](crate::Sandbox)'s methods directly. It never retries: a control call that changes
//! the sandbox may have been done even when its answer was lost, and a retried `age` ages twice.

use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::{
    ACCOUNT_HEADER, AgeRequest, AgeResponse, BindRequest, BindingsResponse, ConsoleTarget,
    DeployTasksResponse, DnsZones, FailDeploysRequest, FaultsResponse, SeedCertificateResponse,
    SeedRequest, SeedResponse, path,
};
use crate::{Binding, ConsoleOp, DeployTask, Faults, SeedCertificate, Stats};

/// A client for the control API of the sandbox at one URL, acting on its first account or, made
/// with [`ControlClient::for_account`], on another. Cheap to clone.
#[derive(Debug, Clone)]
pub struct ControlClient {
    http: reqwest::Client,
    base_url: String,
    /// The SecretId of the account to act on; the first when `None`.
    account: Option<String>,
}

/// Why a control call failed. Each names the URL it called.
#[derive(Debug, thiserror::Error)]
pub enum ControlError {
    /// No answer: nothing listens at the URL, the connection broke, or the sandbox took too long.
    #[error("cannot reach the sandbox at {url}")]
    Unreachable {
        url: String,
        #[source]
        source: reqwest::Error,
    },
    /// The sandbox answered with an error status; `message` is its reason.
    #[error("the sandbox at {url} refused ({status}): {message}")]
    Refused { url: String, status: reqwest::StatusCode, message: String },
    /// The answer is not what the control API sends: likely not a sandbox at that URL.
    #[error("unexpected answer from {url}")]
    Unexpected {
        url: String,
        #[source]
        source: serde_json::Error,
    },
}

impl ControlClient {
    /// Creates a client for the sandbox at `url`, such as `http://127.0.0.1:8080` (a trailing
    /// `/` is fine). A malformed URL is reported by the first call, as unreachable.
    pub fn new(url: &str) -> Self {
        let http = reqwest::Client::builder()
            // A sandbox that stops answering fails the call instead of hanging a test or command.
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(60))
            .build()
            // Building fails only when the TLS backend cannot initialise, which is a broken
            // build rather than a condition to handle.
            .expect("the HTTP client builds");
        ControlClient { http, base_url: url.trim_end_matches('/').to_owned(), account: None }
    }

    /// Returns this client acting on the account whose SecretId is `secret_id`: what it seeds,
    /// the zones it adds, the bindings it lists (all of them) or makes fail and the deploy
    /// tasks it lists are that account's. Operations on a certificate id find the certificate's
    /// account by the id; `age`, faults and stats concern every account.
    pub fn for_account(&self, secret_id: &str) -> Self {
        ControlClient { account: Some(secret_id.to_owned()), ..self.clone() }
    }

    /// Returns the sandbox's URL, without a trailing `/`.
    pub fn url(&self) -> &str {
        &self.base_url
    }

    /// Makes every certificate of every account `days` older, as if applied for that long ago;
    /// returns how many certificates there are (all of them are aged).
    pub async fn age(&self, days: i64) -> Result<usize, ControlError> {
        let answer: AgeResponse = self.post(path::AGE, &AgeRequest { days }).await?;
        Ok(answer.aged)
    }

    /// Does to certificate `id`, in whichever account holds it, what a person in the console
    /// (or the CA) would do. The sandbox refuses (409) an id it does not hold and an operation the certificate's status does not
    /// allow, such as revoking a pending order. Returns the new certificate of a reissue.
    pub async fn console(&self, op: ConsoleOp, id: &str) -> Result<Option<String>, ControlError> {
        let target = ConsoleTarget { certificate_id: id.to_owned(), new_certificate_id: None };
        let answer: ConsoleTarget = self.post(&path::console(op), &target).await?;
        Ok(answer.new_certificate_id)
    }

    /// Replaces the failures the sandbox injects into API requests; returns those now in force.
    /// The sandbox refuses (400) rates outside 0..=1 and an error rate without error codes.
    pub async fn set_faults(&self, faults: &Faults) -> Result<Faults, ControlError> {
        let answer: FaultsResponse = self.post(path::FAULTS, faults).await?;
        Ok(answer.faults)
    }

    /// Stops injecting failures.
    pub async fn clear_faults(&self) -> Result<(), ControlError> {
        self.set_faults(&Faults::default()).await.map(drop)
    }

    /// Returns what the sandbox's API has served so far, in all and by account.
    pub async fn stats(&self) -> Result<Stats, ControlError> {
        self.get(path::STATS).await
    }

    /// Binds a cloud resource to certificate `certificate_id`, in whichever account holds it,
    /// as deploying it in the console would: the resource of `resource_type` (`clb`, `cdn`…) in `region` (required for the
    /// region-scoped types, ignored for the others) named `instance` as
    /// `DeployCertificateInstance`'s `InstanceIdList` names it — `lb-1|lbl-2` or
    /// `lb-1|lbl-2|www.example.com` for a CLB listener, `www.example.com` for a CDN domain.
    /// A resource bound already is repointed. The sandbox refuses (400) an instance not in its
    /// type's format and (409) a certificate that does not exist or is not issued.
    pub async fn bind(
        &self,
        certificate_id: &str,
        resource_type: &str,
        region: Option<&str>,
        instance: &str,
    ) -> Result<Binding, ControlError> {
        let request = BindRequest {
            certificate_id: certificate_id.to_owned(),
            resource_type: resource_type.to_owned(),
            region: region.map(str::to_owned),
            instance: instance.to_owned(),
        };
        self.post(path::BIND, &request).await
    }

    /// Returns the bindings of certificate `certificate_id` (in whichever account holds it), or
    /// all the account's, in the order they were made: where each certificate is deployed now.
    pub async fn bindings(
        &self,
        certificate_id: Option<&str>,
    ) -> Result<Vec<Binding>, ControlError> {
        let path = match certificate_id {
            Some(id) => format!("{}/{id}", path::BINDINGS),
            None => path::BINDINGS.to_owned(),
        };
        let answer: BindingsResponse = self.get(&path).await?;
        Ok(answer.bindings)
    }

    /// Makes the next `count` deploy attempts on the account's binding `binding_id` fail (0
    /// stops it); returns the binding. The sandbox refuses (409) a binding that does not exist.
    pub async fn fail_next_deploys(
        &self,
        binding_id: u64,
        count: u32,
    ) -> Result<Binding, ControlError> {
        self.post(path::FAIL_DEPLOYS, &FailDeploysRequest { binding_id, count }).await
    }

    /// Returns every deploy task the account's API requests have created, oldest first, with
    /// its resources' progress: how a test asserts that exactly one task was created.
    pub async fn deploy_tasks(&self) -> Result<Vec<DeployTask>, ControlError> {
        let answer: DeployTasksResponse = self.get(path::DEPLOY_TASKS).await?;
        Ok(answer.deploy_tasks)
    }

    /// Adds an issued certificate for each domain to the account, bypassing the API and its rate
    /// limit; returns their ids in the order of `domains`.
    pub async fn seed(&self, domains: &[impl AsRef<str>]) -> Result<Vec<String>, ControlError> {
        let domains = domains.iter().map(|d| d.as_ref().to_owned()).collect();
        let answer: SeedResponse = self.post(path::SEED, &SeedRequest { domains }).await?;
        Ok(answer.certificate_ids)
    }

    /// Adds one issued certificate of the kind and end date `seed` asks to the account,
    /// bypassing the API, its quotas and its rate limit; returns its id. The sandbox refuses
    /// (400) one that would have to begin in the future (`ExpiresInDays` beyond its kind's
    /// validity).
    pub async fn seed_certificate(&self, seed: &SeedCertificate) -> Result<String, ControlError> {
        let answer: SeedCertificateResponse = self.post(path::SEED_CERTIFICATE, seed).await?;
        Ok(answer.certificate_id)
    }

    /// Adds DNS zones (DNSPod domains, such as `example.com`) to the account; returns every zone
    /// it holds. The sandbox refuses (400) a name that is not a zone.
    pub async fn add_dns_zones(
        &self,
        zones: &[impl AsRef<str>],
    ) -> Result<Vec<String>, ControlError> {
        let zones = zones.iter().map(|z| z.as_ref().to_owned()).collect();
        let answer: DnsZones = self.post(path::DNS_ZONES, &DnsZones { zones }).await?;
        Ok(answer.zones)
    }

    fn url_of(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }

    async fn get<A: DeserializeOwned>(&self, path: &str) -> Result<A, ControlError> {
        let url = self.url_of(path);
        let response = self.for_the_account(self.http.get(&url)).send().await;
        answer(url, response).await
    }

    async fn post<A: DeserializeOwned>(
        &self,
        path: &str,
        body: &impl Serialize,
    ) -> Result<A, ControlError> {
        let url = self.url_of(path);
        let response = self.for_the_account(self.http.post(&url)).json(body).send().await;
        answer(url, response).await
    }

    /// Names the account to act on, when the client has one.
    fn for_the_account(&self, request: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        match &self.account {
            Some(secret_id) => request.header(ACCOUNT_HEADER, secret_id),
            None => request,
        }
    }
}

/// Reads a control answer: the JSON of `A` on success, the sandbox's reason otherwise.
async fn answer<A: DeserializeOwned>(
    url: String,
    response: Result<reqwest::Response, reqwest::Error>,
) -> Result<A, ControlError> {
    let response = match response {
        Ok(r) => r,
        Err(source) => return Err(ControlError::Unreachable { url, source }),
    };
    let status = response.status();
    let body = match response.bytes().await {
        Ok(b) => b,
        Err(source) => return Err(ControlError::Unreachable { url, source }),
    };
    if !status.is_success() {
        let message = String::from_utf8_lossy(&body).trim().to_owned();
        return Err(ControlError::Refused { url, status, message });
    }
    serde_json::from_slice(&body).map_err(|source| ControlError::Unexpected { url, source })
}
