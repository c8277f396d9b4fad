//! The HTTP client: one signed `POST /` per action, the response envelope decoded into either
//! the typed response or an [`ApiError`].

use std::time::Duration;

use certplan_core::{CertificateId, RemoteCertificate};
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, HOST, HeaderMap, HeaderValue};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::{excerpt, redact_private_keys};
use crate::pacing::{Pacers, backoff};
use crate::tc3::{self, Payload, SigningInput};
use crate::wire::{
    ApplyCertificateRequest, ApplyCertificateResponse, Certificate, CertificateIdRequest,
    DeleteCertificateRequest, DeleteCertificateResponse, DescribeCertificatesRequest,
    DescribeCertificatesResponse, ModifyCertificateAliasRequest, ModifyCertificateProjectRequest,
    ModifyCertificateProjectResponse,
};
use crate::{ApiError, Credentials, Endpoint, Error, Service};

/// The most certificates one `DescribeCertificates` call returns (its `Limit` maximum).
pub const DESCRIBE_PAGE_LIMIT: usize = 1000;

/// The SDKs send exactly this, with no charset; it is part of the signature.
const JSON: &str = "application/json";

/// How a client paces, bounds and retries its calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientOptions {
    /// The most calls per second for each action (the API documents 10/s).
    pub requests_per_second: u32,
    /// How many times a read-only call is tried before its error is returned.
    pub max_attempts: u32,
    /// How long one request may take, connection included. The API answers in well under a
    /// second; a service that has not answered in this long is not going to.
    pub request_timeout: Duration,
    /// How long connecting may take.
    pub connect_timeout: Duration,
    /// The largest answer read. A `DescribeCertificates` page of 1000 certificates is about
    /// 2 MiB; a larger body is not an answer of this API.
    pub max_response_bytes: usize,
    /// The first pause before a read that failed transiently is sent again; each retry doubles
    /// it (with jitter) up to `retry_backoff_cap`.
    pub retry_backoff: Duration,
    pub retry_backoff_cap: Duration,
    /// How long an action pauses when the service says it is called too fast.
    pub rate_limit_pause: Duration,
}

impl Default for ClientOptions {
    fn default() -> Self {
        ClientOptions {
            requests_per_second: 10,
            max_attempts: 5,
            request_timeout: Duration::from_secs(20),
            connect_timeout: Duration::from_secs(5),
            max_response_bytes: 32 * 1024 * 1024,
            retry_backoff: Duration::from_millis(200),
            retry_backoff_cap: Duration::from_secs(5),
            rate_limit_pause: Duration::from_secs(1),
        }
    }
}

/// A client for one service (the SSL API unless built [`Client::for_service`]) at one endpoint
/// with one set of credentials. Clones share their rate limiters, so every clone together
/// stays within the limit.
#[derive(Debug, Clone)]
pub struct Client {
    http: reqwest::Client,
    service: Service,
    endpoint: Endpoint,
    credentials: Credentials,
    options: ClientOptions,
    pacers: std::sync::Arc<Pacers>,
    /// The `Region` common parameter (`X-TC-Region`), for the actions on region-scoped cloud
    /// resources that need it.
    region: Option<String>,
}

impl Client {
    pub fn new(endpoint: Endpoint, credentials: Credentials) -> Self {
        Self::with_options(endpoint, credentials, ClientOptions::default())
    }

    pub fn with_options(
        endpoint: Endpoint,
        credentials: Credentials,
        options: ClientOptions,
    ) -> Self {
        Self::for_service(Service::SSL, endpoint, credentials, options)
    }

    /// Builds a client for `service`: the same signing, pacing, retries and error
    /// classification, with the service's name in the signature and its version in every request.
    pub fn for_service(
        service: Service,
        endpoint: Endpoint,
        credentials: Credentials,
        options: ClientOptions,
    ) -> Self {
        let http = reqwest::Client::builder()
            .connect_timeout(options.connect_timeout)
            .timeout(options.request_timeout)
            .user_agent(concat!("certplan/", env!("CARGO_PKG_VERSION")))
            .build()
            // Building fails only when the TLS backend cannot initialise, which is a broken
            // build rather than a condition to handle.
            .expect("the HTTP client builds");
        let pacers = std::sync::Arc::new(Pacers::new(options.requests_per_second));
        Client { http, service, endpoint, credentials, options, pacers, region: None }
    }

    /// Builds a client of another `service` with this one's credentials and options: at the
    /// host named for that service (`dnspod.tencentcloudapi.com` beside
    /// `ssl.tencentcloudapi.com`, `dnspod.intl…` beside `ssl.intl…`), or — for an endpoint not
    /// named after its service, such as a sandbox serving every service — at the same one.
    pub fn sibling(&self, service: Service) -> Client {
        let mut url = self.endpoint.url().clone();
        let host = url.host_str().unwrap_or_default().to_owned();
        let endpoint = match host.strip_prefix(&format!("{}.", self.service.name)) {
            Some(rest) if url.set_host(Some(&format!("{}.{rest}", service.name))).is_ok() => {
                Endpoint::parse(url.as_str()).unwrap_or_else(|_| self.endpoint.clone())
            }
            _ => self.endpoint.clone(),
        };
        Client::for_service(service, endpoint, self.credentials.clone(), self.options)
    }

    /// This client, sending its requests with the `Region` common parameter `region`; the
    /// account's pacing is shared with this one.
    pub fn in_region(&self, region: &str) -> Client {
        Client { region: Some(region.to_owned()), ..self.clone() }
    }

    pub fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }

    /// Returns how long one request may take before the client gives up on it: a request
    /// sent longer ago than this has been answered, or never will be.
    pub fn request_timeout(&self) -> Duration {
        self.options.request_timeout
    }

    /// Applies for a free certificate (or renews `OldCertificateId`); returns its id.
    pub async fn apply_certificate(&self, req: &ApplyCertificateRequest) -> Result<String, Error> {
        let resp: ApplyCertificateResponse = self.call("ApplyCertificate", req).await?;
        if resp.certificate_id.trim().is_empty() {
            // The service may have created a certificate it did not name: the caller must treat
            // this as an answer that proves nothing.
            return Err(
                self.malformed("ApplyCertificate", "the answer has no CertificateId".to_owned())
            );
        }
        Ok(resp.certificate_id)
    }

    /// Applies for a free certificate with `args`, renewing `old_certificate_id` when given;
    /// returns its id. The password travels apart because `args` holds only its digest.
    pub async fn apply_for_certificate(
        &self,
        args: &certplan_core::CertificateArgs,
        csr_key_password: Option<&str>,
        old_certificate_id: Option<&str>,
    ) -> Result<CertificateId, Error> {
        let req = ApplyCertificateRequest::new(args, csr_key_password, old_certificate_id);
        self.apply_certificate(&req).await.map(CertificateId::from)
    }

    /// Describes one certificate in full.
    pub async fn describe_certificate_detail(&self, id: &str) -> Result<Certificate, Error> {
        let req = CertificateIdRequest { certificate_id: id.to_owned() };
        let detail: Certificate = self.call("DescribeCertificateDetail", &req).await?;
        if detail.certificate_id != id {
            return Err(self.malformed(
                "DescribeCertificateDetail",
                format!(
                    "asked for certificate {id}, the answer describes {:?}",
                    detail.certificate_id
                ),
            ));
        }
        Ok(detail)
    }

    /// Describes one certificate, as certplan's domain type.
    pub async fn certificate(&self, id: &str) -> Result<RemoteCertificate, Error> {
        let detail = self.describe_certificate_detail(id).await?;
        detail.to_remote().map_err(|e| self.malformed("DescribeCertificateDetail", e))
    }

    /// Lists certificates: one page of `DescribeCertificates`.
    pub async fn describe_certificates(
        &self,
        req: &DescribeCertificatesRequest,
    ) -> Result<DescribeCertificatesResponse, Error> {
        self.call("DescribeCertificates", req).await
    }

    /// One page of `DescribeCertificates`, checked against the API's model: an answer without
    /// `TotalCount`, or without `Certificates` while it counts some, is an error — never read as
    /// "there are none", which would make every recorded certificate look deleted.
    async fn page(
        &self,
        req: &DescribeCertificatesRequest,
    ) -> Result<(Vec<RemoteCertificate>, u64), Error> {
        const ACTION: &str = "DescribeCertificates";
        let (page, request_id): (DescribeCertificatesResponse, _) =
            self.call_answered(ACTION, req).await?;
        let malformed = |detail: String| self.malformed_answer(ACTION, &request_id, detail);
        let Some(total) = page.total_count else {
            return Err(malformed("the answer has no TotalCount".to_owned()));
        };
        let certificates = match page.certificates {
            Some(certificates) => certificates,
            None if total == 0 => Vec::new(),
            None => {
                return Err(malformed(format!(
                    "the answer counts {total} certificates but lists none"
                )));
            }
        };
        let remote = certificates
            .iter()
            .map(Certificate::to_remote)
            .collect::<Result<Vec<_>, _>>()
            .map_err(malformed)?;
        Ok((remote, total))
    }

    pub(crate) fn malformed(&self, action: &'static str, detail: String) -> Error {
        Error::decode(action, &self.endpoint.to_string(), &detail)
    }

    /// [`malformed`](Self::malformed), naming the answer's `RequestId`.
    pub(crate) fn malformed_answer(
        &self,
        action: &'static str,
        request_id: &str,
        detail: String,
    ) -> Error {
        self.malformed(action, format!("{detail} (RequestId: {request_id})"))
    }

    /// Fetches the certificates with the given ids, `DESCRIBE_PAGE_LIMIT` per call. Ids the
    /// cloud does not know are absent from the result; an answer that lists an id not asked
    /// for, or counts other than it lists, is an error.
    pub async fn certificates_by_id(
        &self,
        ids: &[impl AsRef<str>],
    ) -> Result<Vec<RemoteCertificate>, Error> {
        let mut found = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(DESCRIBE_PAGE_LIMIT) {
            let req = DescribeCertificatesRequest {
                limit: Some(chunk.len() as u64),
                cert_ids: Some(chunk.iter().map(|id| id.as_ref().to_owned()).collect()),
                ..Default::default()
            };
            let (page, total) = self.page(&req).await?;
            if page.len() as u64 != total {
                let detail =
                    format!("TotalCount is {total} but {} certificates are listed", page.len());
                return Err(self.malformed("DescribeCertificates", detail));
            }
            let asked: std::collections::HashSet<&str> = chunk.iter().map(AsRef::as_ref).collect();
            if let Some(stray) = page.iter().find(|c| !asked.contains(c.id.as_str())) {
                let detail = format!("it lists certificate {}, which was not asked for", stray.id);
                return Err(self.malformed("DescribeCertificates", detail));
            }
            found.extend(page);
        }
        Ok(found)
    }

    /// Lists every certificate whose id, alias or domain contains `key`, page by page.
    pub async fn certificates_by_search(&self, key: &str) -> Result<Vec<RemoteCertificate>, Error> {
        self.listing(Some(key)).await
    }

    /// Lists every certificate in the account, whoever made it: the console, another tool, a
    /// colleague. One call per 1000.
    pub async fn all_certificates(&self) -> Result<Vec<RemoteCertificate>, Error> {
        self.listing(None).await
    }

    /// Every page of `DescribeCertificates` (of what `search_key` matches, when given).
    async fn listing(&self, search_key: Option<&str>) -> Result<Vec<RemoteCertificate>, Error> {
        let mut found: Vec<RemoteCertificate> = Vec::new();
        loop {
            let req = DescribeCertificatesRequest {
                offset: Some(found.len() as u64),
                limit: Some(DESCRIBE_PAGE_LIMIT as u64),
                search_key: search_key.map(str::to_owned),
                ..Default::default()
            };
            let (page, total) = self.page(&req).await?;
            let empty = page.is_empty();
            found.extend(page);
            if found.len() as u64 >= total {
                return Ok(found);
            }
            if empty {
                let detail = format!(
                    "TotalCount is {total} but the pages list only {} certificates",
                    found.len()
                );
                return Err(self.malformed("DescribeCertificates", detail));
            }
        }
    }

    /// Deletes a certificate; returns the API's `DeleteResult`.
    pub async fn delete_certificate(&self, id: &str) -> Result<bool, Error> {
        let req =
            DeleteCertificateRequest { certificate_id: id.to_owned(), is_check_resource: None };
        let resp: DeleteCertificateResponse = self.call("DeleteCertificate", &req).await?;
        Ok(resp.delete_result.unwrap_or(false))
    }

    /// Sets a certificate's alias.
    pub async fn modify_certificate_alias(&self, id: &str, alias: &str) -> Result<(), Error> {
        let req = ModifyCertificateAliasRequest {
            certificate_id: id.to_owned(),
            alias: alias.to_owned(),
        };
        let _: serde_json::Value = self.call("ModifyCertificateAlias", &req).await?;
        Ok(())
    }

    /// Switches the expiry notifications (the account's mails and messages) of certificates
    /// off (`off`) or on again: a replaced certificate whose resources have moved should not
    /// warn of an expiry that no longer matters.
    pub async fn set_expiry_notifications(
        &self,
        ids: &[impl AsRef<str>],
        off: bool,
    ) -> Result<(), Error> {
        #[derive(serde::Serialize)]
        #[serde(rename_all = "PascalCase")]
        struct Request {
            certificate_ids: Vec<String>,
            switch_status: u8,
        }
        // At most 50 a call.
        for chunk in ids.chunks(50) {
            let certificate_ids = chunk.iter().map(|id| id.as_ref().to_owned()).collect();
            let req = Request { certificate_ids, switch_status: u8::from(off) };
            let _: serde_json::Value =
                self.call("ModifyCertificatesExpiringNotificationSwitch", &req).await?;
        }
        Ok(())
    }

    /// Moves certificates to a project; returns the ids the API reports as failed.
    pub async fn modify_certificate_project(
        &self,
        ids: &[impl AsRef<str>],
        project_id: u64,
    ) -> Result<Vec<String>, Error> {
        let certificate_id_list = ids.iter().map(|id| id.as_ref().to_owned()).collect();
        let req = ModifyCertificateProjectRequest { certificate_id_list, project_id };
        let resp: ModifyCertificateProjectResponse =
            self.call("ModifyCertificateProject", &req).await?;
        Ok(resp.fail_certificates.unwrap_or_default())
    }

    /// Makes one call, paced per action. Calls that may be sent twice (`may_send_again`:
    /// reads, and the few writes that are idempotent) are retried on transient failures with
    /// exponential backoff and jitter; any other call that changes something is never re-sent
    /// here: an answer lost after the service acted would make the second call a second
    /// certificate, a second deploy task moving the same resources again, or a second DNS
    /// record. The apply engine retries applications and deploy tasks only through its journal,
    /// after looking for what the lost call did, and a failed delete or modify is planned again
    /// by the next apply.
    pub(crate) async fn call<Req: Serialize, Resp: DeserializeOwned>(
        &self,
        action: &'static str,
        req: &Req,
    ) -> Result<Resp, Error> {
        self.call_answered(action, req).await.map(|(response, _)| response)
    }

    /// [`call`](Self::call), with the answer's `RequestId`: for a caller that checks the
    /// answer and must name it in an error (support asks for it).
    pub(crate) async fn call_answered<Req: Serialize, Resp: DeserializeOwned>(
        &self,
        action: &'static str,
        req: &Req,
    ) -> Result<(Resp, String), Error> {
        let idempotent = may_send_again(action);
        let pacer = self.pacers.get(action);
        let mut attempt = 0;
        loop {
            pacer.acquire().await;
            let result = self.call_once(action, req).await;
            match &result {
                Err(e) if e.is_rate_limited() => pacer.slow_down(self.options.rate_limit_pause),
                Err(_) => {}
                Ok(_) => return result,
            }
            attempt += 1;
            match result {
                Err(e) if idempotent && e.is_transient() && attempt < self.options.max_attempts => {
                    let (base, cap) = (self.options.retry_backoff, self.options.retry_backoff_cap);
                    let pause = backoff(attempt - 1, base, cap);
                    // A person waiting on a slow or failing service sees why, not silence.
                    tracing::info!(
                        "{e}; trying again in {:.1} s (attempt {} of {})",
                        pause.as_secs_f64(),
                        attempt + 1,
                        self.options.max_attempts
                    );
                    tokio::time::sleep(pause).await;
                }
                other => return other,
            }
        }
    }

    /// Sends one request and logs it (action, duration, RequestId, outcome; never the body).
    async fn call_once<Req: Serialize, Resp: DeserializeOwned>(
        &self,
        action: &'static str,
        req: &Req,
    ) -> Result<(Resp, String), Error> {
        let started = std::time::Instant::now();
        let result = self.send(action, req).await;
        let ms = started.elapsed().as_millis() as u64;
        match &result {
            Ok((_, request_id)) => {
                tracing::debug!(action, duration_ms = ms, request_id = %request_id, "API call succeeded");
            }
            Err(Error::Api(e)) => tracing::debug!(
                action,
                duration_ms = ms,
                request_id = %e.request_id,
                code = %e.code,
                "API call failed"
            ),
            Err(e) => tracing::debug!(action, duration_ms = ms, error = %e, "API call failed"),
        }
        result
    }

    async fn send<Req: Serialize, Resp: DeserializeOwned>(
        &self,
        action: &'static str,
        req: &Req,
    ) -> Result<(Resp, String), Error> {
        let body = serde_json::to_vec(req).expect("request types always serialise");
        let headers = self.signed_headers(action, &body, chrono::Utc::now().timestamp());
        let endpoint = self.endpoint.to_string();
        let failed = |cause: reqwest::Error| {
            if cause.is_timeout() {
                let after = if cause.is_connect() {
                    self.options.connect_timeout
                } else {
                    self.options.request_timeout
                };
                Error::TimedOut { action, endpoint: endpoint.clone(), after }
            } else {
                Error::Transport { action, endpoint: endpoint.clone(), cause }
            }
        };
        let mut response = self
            .http
            .post(self.endpoint.url().clone())
            .headers(headers)
            .body(body)
            .send()
            .await
            .map_err(failed)?;
        let status = response.status();
        let limit = self.options.max_response_bytes;
        let too_large = || Error::TooLarge { action, endpoint: endpoint.clone(), limit };
        if response.content_length().is_some_and(|length| length > limit as u64) {
            return Err(too_large());
        }
        let mut bytes = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(failed)? {
            if bytes.len() + chunk.len() > limit {
                return Err(too_large());
            }
            bytes.extend_from_slice(&chunk);
        }
        if !status.is_success() {
            return Err(Error::HttpStatus {
                action,
                endpoint,
                status: status.as_u16(),
                excerpt: excerpt(&bytes),
            });
        }
        decode_envelope(action, &endpoint, &bytes)
    }

    fn signed_headers(&self, action: &str, body: &[u8], timestamp: i64) -> HeaderMap {
        let host = self.endpoint.host_header();
        let signature = tc3::sign(&SigningInput {
            secret_id: &self.credentials.secret_id,
            secret_key: self.credentials.secret_key.expose(),
            service: self.service.name,
            method: "POST",
            uri: "/",
            query: "",
            headers: &[("content-type", JSON), ("host", &host)],
            payload: Payload::Signed(body),
            timestamp,
        });
        let mut headers = HeaderMap::new();
        let mut put = |name: &'static str, value: &str| {
            // Every value here is ASCII we built ourselves or a validated URL's host.
            if let Ok(v) = HeaderValue::from_str(value) {
                headers.insert(name, v);
            }
        };
        put(HOST.as_str(), &host);
        put(CONTENT_TYPE.as_str(), JSON);
        put(AUTHORIZATION.as_str(), &signature.authorization);
        put("x-tc-action", action);
        put("x-tc-version", self.service.version);
        put("x-tc-timestamp", &timestamp.to_string());
        put("x-tc-language", "en-US");
        if let Some(region) = &self.region {
            put("x-tc-region", region);
        }
        put("x-tc-requestclient", concat!("certplan/", env!("CARGO_PKG_VERSION")));
        if let Some(token) = &self.credentials.token {
            let mut value =
                HeaderValue::from_str(token.expose()).unwrap_or(HeaderValue::from_static(""));
            value.set_sensitive(true);
            headers.insert("x-tc-token", value);
        }
        if let Some(auth) = headers.get_mut(AUTHORIZATION) {
            auth.set_sensitive(true);
        }
        headers
    }
}

/// Returns whether `action` may be sent again after a transient failure: it only reads, or
/// doing it twice does no more than doing it once. Every other action changes something each
/// time: `ApplyCertificate`, `UpdateCertificateInstance`, `UpdateCertificateRecordRetry`,
/// DNSPod's `CreateRecord`, the SSL service's deletes and modifies.
fn may_send_again(action: &str) -> bool {
    action.starts_with("Describe")
        || action == "GetCallerIdentity"
        // Setting a switch twice sets it.
        || action == "ModifyCertificatesExpiringNotificationSwitch"
        // A bind-resource query changes nothing in the account: asked twice, it queries twice.
        || action == "CreateCertificateBindResourceSyncTask"
        // Always sent with `Repeatable` false: a second upload of the certificate answers the
        // first one's id (`RepeatCertId`) and makes nothing.
        || action == "UploadCertificate"
        // DNSPod: a record deleted twice is gone; the second answer (the record does not
        // exist) is read as done.
        || action == "DeleteRecord"
}

/// Decodes `{"Response": {...}}` into the response and its RequestId; the `Error` member makes
/// it an [`ApiError`].
fn decode_envelope<Resp: DeserializeOwned>(
    action: &'static str,
    endpoint: &str,
    bytes: &[u8],
) -> Result<(Resp, String), Error> {
    let decode = |detail: String| Error::decode(action, endpoint, &detail);
    let mut envelope: serde_json::Value = serde_json::from_slice(bytes)
        .map_err(|e| decode(format!("not JSON ({e}): {}", excerpt(bytes))))?;
    let response = envelope
        .get_mut("Response")
        .map(serde_json::Value::take)
        .ok_or_else(|| decode(format!("no \"Response\" member: {}", excerpt(bytes))))?;
    let request_id = response.get("RequestId").and_then(|v| v.as_str()).unwrap_or("").to_owned();
    if let Some(error) = response.get("Error") {
        let field = |name: &str| error.get(name).and_then(|v| v.as_str()).unwrap_or("");
        return Err(Error::Api(ApiError {
            action,
            code: field("Code").to_owned(),
            // A message may echo what it refused; it is shown and logged.
            message: redact_private_keys(field("Message")).into_owned(),
            request_id,
        }));
    }
    match serde_json::from_value(response) {
        Ok(decoded) => Ok((decoded, request_id)),
        Err(e) => Err(decode(format!("{e} (RequestId: {request_id})"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_envelope_keeps_code_message_and_request_id() {
        let body = br#"{"Response":{"Error":{"Code":"FailedOperation.ExceedsFreeLimit","Message":"quota"},"RequestId":"r-1"}}"#;
        let err = decode_envelope::<ApplyCertificateResponse>("ApplyCertificate", "e", body)
            .expect_err("an error envelope");
        assert_eq!(err.code(), Some("FailedOperation.ExceedsFreeLimit"));
        assert_eq!(
            err.to_string(),
            "ApplyCertificate failed: FailedOperation.ExceedsFreeLimit: quota (RequestId: r-1)"
        );
    }

    #[test]
    fn an_error_message_never_carries_a_private_key() {
        let body = br#"{"Response":{"Error":{"Code":"InvalidParameter","Message":"bad key -----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBg\n-----END PRIVATE KEY-----"},"RequestId":"r-3"}}"#;
        let err = decode_envelope::<serde_json::Value>("UpdateCertificateInstance", "e", body)
            .expect_err("an error envelope");
        assert_eq!(
            err.to_string(),
            "UpdateCertificateInstance failed: InvalidParameter: bad key (private key redacted) (RequestId: r-3)"
        );
    }

    #[test]
    fn only_reads_and_idempotent_writes_are_ever_sent_twice() {
        for again in [
            "DescribeCertificateDetail",
            "DescribeHostUpdateRecord",
            "DescribeHostUpdateRecordDetail",
            "UploadCertificate",
            "DescribeDomainList",
            "DescribeRecordList",
            "DeleteRecord",
        ] {
            assert!(may_send_again(again), "{again}");
        }
        for once in [
            "ApplyCertificate",
            "UpdateCertificateInstance",
            "UpdateCertificateRecordRetry",
            "DeleteCertificate",
            "ModifyCertificateAlias",
            "CreateRecord",
            "CreateTXTRecord",
        ] {
            assert!(!may_send_again(once), "{once}");
        }
    }

    #[test]
    fn success_envelope_decodes_and_garbage_is_a_decode_error() {
        let (ok, request_id): (ApplyCertificateResponse, String) = decode_envelope(
            "ApplyCertificate",
            "e",
            br#"{"Response":{"CertificateId":"a9TsmZkL","RequestId":"r-2"}}"#,
        )
        .expect("success");
        assert_eq!(ok.certificate_id, "a9TsmZkL");
        assert_eq!(request_id, "r-2");
        let bad = decode_envelope::<ApplyCertificateResponse>("ApplyCertificate", "e", b"<html>");
        assert!(matches!(bad, Err(Error::Decode { .. })));
    }

    #[test]
    fn sends_the_headers_the_service_expects() {
        let client = Client::new(
            Endpoint::parse("http://127.0.0.1:9").expect("loopback"),
            Credentials::new("AKIDEXAMPLE", "SECRETEXAMPLE"),
        );
        let headers = client.signed_headers("ApplyCertificate", b"{}", 1_700_000_000);
        let get = |n: &str| headers.get(n).and_then(|v| v.to_str().ok()).unwrap_or("");
        assert_eq!(get("host"), "127.0.0.1:9");
        assert_eq!(get("content-type"), "application/json");
        assert_eq!(get("x-tc-action"), "ApplyCertificate");
        assert_eq!(get("x-tc-version"), "2019-12-05");
        assert_eq!(get("x-tc-timestamp"), "1700000000");
        assert!(get("authorization").starts_with(
            "TC3-HMAC-SHA256 Credential=AKIDEXAMPLE/2023-11-14/ssl/tc3_request, SignedHeaders=content-type;host, Signature="
        ));
        assert!(headers.get("x-tc-token").is_none());
    }

    #[test]
    fn a_client_for_another_service_signs_and_sends_for_that_service() {
        let client = Client::for_service(
            Service::DNSPOD,
            Endpoint::parse("http://127.0.0.1:9").expect("loopback"),
            Credentials::new("AKIDEXAMPLE", "SECRETEXAMPLE"),
            ClientOptions::default(),
        );
        let headers = client.signed_headers("DescribeRecordList", b"{}", 1_700_000_000);
        let get = |n: &str| headers.get(n).and_then(|v| v.to_str().ok()).unwrap_or("");
        assert_eq!(get("x-tc-version"), "2021-03-23");
        assert!(
            get("authorization").contains("Credential=AKIDEXAMPLE/2023-11-14/dnspod/tc3_request,"),
            "{}",
            get("authorization")
        );
    }
}
