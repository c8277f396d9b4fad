//! The ACME CA (RFC 8555): an account found again (or made) from its key, orders placed and
//! found again by URL, their challenges, finalization with a CSR, the certificate chain — through
//! instant-acme over our own HTTP client (rustls, timeouts, a cap on answers, and the
//! `Retry-After` of a refusal kept for the caller).
//!
//! It also makes the certificate's key: derived from the account key and the order's URL, so
//! that an order resumed after a crash — by this machine or another runner holding the same
//! account key — is finalized and uploaded with the key it was finalized with, and the key is
//! never written anywhere.

use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use certplan_core::{KeyType, Sensitive};
use hmac::{Hmac, Mac};
use instant_acme::{
    Account, AuthorizationStatus, BodyWrapper, BytesResponse, ChallengeType, HttpClient,
    Identifier, NewOrder, OrderStatus,
};
use p256::pkcs8::EncodePrivateKey;
use sha2::Sha256;

/// How long one request to the CA may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// The largest answer read from the CA: a certificate chain is a few kilobytes.
const MAX_ANSWER: usize = 1 << 20;

/// What went wrong talking to the CA.
#[derive(Debug, thiserror::Error)]
pub enum AcmeError {
    /// The CA refused: its problem document.
    #[error("the CA refused: {detail} ({kind})")]
    Refused {
        kind: String,
        detail: String,
        /// The HTTP status of the refusal.
        status: Option<u16>,
        /// For a rate limit: when the CA says to try again.
        retry_after: Option<SystemTime>,
    },
    #[error("talking to the CA failed: {0}")]
    Transport(String),
    #[error("the account key is not usable: {0}")]
    AccountKey(String),
    #[error("{0}")]
    Other(String),
}

impl AcmeError {
    /// Returns true for the CA's rate limit (`urn:ietf:params:acme:error:rateLimited`).
    pub fn is_rate_limited(&self) -> bool {
        matches!(self, AcmeError::Refused { kind, .. } if kind.ends_with(":rateLimited"))
    }

    /// Returns true when what was asked for does not exist (an order the CA has forgotten).
    pub fn is_not_found(&self) -> bool {
        matches!(self, AcmeError::Refused { status: Some(404), .. })
    }
}

/// The HTTP client instant-acme talks through: reqwest (rustls), with a timeout, a cap on
/// answers, and the last refusal's `Retry-After` kept.
struct Http {
    client: reqwest::Client,
    retry_after: Arc<Mutex<Option<SystemTime>>>,
}

impl HttpClient for Http {
    fn request(
        &self,
        req: http::Request<BodyWrapper<bytes::Bytes>>,
    ) -> Pin<Box<dyn Future<Output = Result<BytesResponse, instant_acme::Error>> + Send>> {
        let client = self.client.clone();
        let retry_after = self.retry_after.clone();
        Box::pin(async move {
            let other = |e: String| instant_acme::Error::Other(e.into());
            let (parts, body) = req.into_parts();
            let body = http_body_util::BodyExt::collect(body)
                .await
                .map_err(|e| other(e.to_string()))?
                .to_bytes();
            let response = client
                .request(parts.method, parts.uri.to_string())
                .headers(parts.headers)
                .body(body)
                .send()
                .await
                .map_err(|e| other(chain(&e)))?;
            let status = response.status();
            let headers = response.headers().clone();
            if !status.is_success()
                && let Some(at) = headers
                    .get(http::header::RETRY_AFTER)
                    .and_then(|v| v.to_str().ok())
                    .and_then(parse_retry_after)
                && let Ok(mut slot) = retry_after.lock()
            {
                *slot = Some(at);
            }
            let body = read_capped(response).await.map_err(other)?;
            let mut builder = http::Response::builder().status(status);
            if let Some(h) = builder.headers_mut() {
                *h = headers;
            }
            let (parts, ()) = builder.body(()).map_err(|e| other(e.to_string()))?.into_parts();
            Ok(BytesResponse { parts, body: Box::new(body) })
        })
    }
}

/// An error with its causes: `error sending request: connection refused`.
fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let said = cause.to_string();
        if !text.contains(&said) {
            text = format!("{text}: {said}");
        }
        source = cause.source();
    }
    text
}

/// Reads an answer, refusing one larger than [`MAX_ANSWER`].
async fn read_capped(mut response: reqwest::Response) -> Result<bytes::Bytes, String> {
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(|e| e.to_string())? {
        if body.len() + chunk.len() > MAX_ANSWER {
            return Err(format!("the CA's answer is larger than {MAX_ANSWER} bytes"));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.into())
}

/// `Retry-After`: seconds, or an HTTP date.
fn parse_retry_after(value: &str) -> Option<SystemTime> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(SystemTime::now() + Duration::from_secs(seconds));
    }
    chrono::DateTime::parse_from_rfc2822(value).ok().map(SystemTime::from)
}

/// An account at a CA, ready to order.
pub struct AcmeClient {
    account: Account,
    retry_after: Arc<Mutex<Option<SystemTime>>>,
    /// The account key (PKCS#8 DER), from which each order's certificate key is derived.
    key_der: Vec<u8>,
}

impl std::fmt::Debug for AcmeClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AcmeClient").field("account", &self.account.id()).finish_non_exhaustive()
    }
}

impl AcmeClient {
    /// Finds the account of `account_key` at the CA whose directory is `directory`, or makes
    /// it (agreeing to the CA's terms). `roots` are extra PEM roots to trust (a test CA's).
    pub async fn connect(
        directory: &str,
        account_key: &Sensitive,
        roots: Option<&[u8]>,
    ) -> Result<Self, AcmeError> {
        let key_der = account_key_der(account_key.expose())?;
        let mut builder = reqwest::Client::builder()
            .timeout(REQUEST_TIMEOUT)
            .user_agent(concat!("certplan/", env!("CARGO_PKG_VERSION")));
        if let Some(pem) = roots {
            let certs = reqwest::Certificate::from_pem_bundle(pem)
                .map_err(|e| AcmeError::Other(format!("the CA roots are not PEM: {e}")))?;
            for cert in certs {
                builder = builder.add_root_certificate(cert);
            }
        }
        let client =
            builder.build().map_err(|e| AcmeError::Other(format!("no HTTP client: {e}")))?;
        let retry_after = Arc::new(Mutex::new(None));
        let http = Http { client, retry_after: retry_after.clone() };
        let key = instant_acme::Key::from_pkcs8_der(key_der.clone().into())
            .map_err(|e| AcmeError::AccountKey(e.to_string()))?;
        let der = rustls_pki_types::PrivateKeyDer::Pkcs8(key_der.clone().into());
        let (account, _) = Account::builder_with_http(Box::new(http))
            .create_from_key((key, der), directory.to_owned())
            .await
            .map_err(|e| classify(e, &retry_after))?;
        Ok(AcmeClient { account, retry_after, key_der })
    }

    /// Places an order for `names`; returns its URL and state.
    pub async fn new_order(
        &self,
        names: &[&str],
        profile: Option<&str>,
    ) -> Result<OrderView, AcmeError> {
        let identifiers: Vec<Identifier> =
            names.iter().map(|n| Identifier::Dns((*n).to_owned())).collect();
        let mut new = NewOrder::new(&identifiers);
        if let Some(profile) = profile {
            new = new.profile(profile);
        }
        let mut order = self.account.new_order(&new).await.map_err(|e| self.classify(e))?;
        Ok(OrderView::of(&mut order))
    }

    /// Reads the order at `url` again.
    pub async fn order(&self, url: &str) -> Result<OrderView, AcmeError> {
        let mut order = self.account.order(url.to_owned()).await.map_err(|e| self.classify(e))?;
        Ok(OrderView::of(&mut order))
    }

    /// Lists what must be published for the order's authorizations still pending.
    pub async fn challenges(
        &self,
        url: &str,
        kind: &str,
    ) -> Result<Vec<ChallengeToAnswer>, AcmeError> {
        let wanted = match kind {
            "dns-01" => ChallengeType::Dns01,
            _ => ChallengeType::Http01,
        };
        let mut order = self.account.order(url.to_owned()).await.map_err(|e| self.classify(e))?;
        let mut todo = Vec::new();
        let mut authorizations = order.authorizations();
        while let Some(authz) = authorizations.next().await {
            let mut authz = authz.map_err(|e| self.classify(e))?;
            if authz.status != AuthorizationStatus::Pending {
                continue;
            }
            let identifier = authz.identifier().to_string();
            let Some(challenge) = authz.challenge(wanted.clone()) else {
                return Err(AcmeError::Other(format!(
                    "the CA offers no {kind} challenge for {identifier}"
                )));
            };
            let key_authorization = challenge.key_authorization();
            todo.push(ChallengeToAnswer {
                name: identifier,
                url: challenge.url.clone(),
                token: challenge.token.clone(),
                key_authorization: key_authorization.as_str().to_owned(),
                dns_value: key_authorization.dns_value(),
            });
        }
        Ok(todo)
    }

    /// Tells the CA that the challenges at `urls` (of the order at `order_url`) are ready to
    /// be checked.
    pub async fn ready(&self, order_url: &str, urls: &[String]) -> Result<(), AcmeError> {
        let mut order =
            self.account.order(order_url.to_owned()).await.map_err(|e| self.classify(e))?;
        let mut authorizations = order.authorizations();
        while let Some(authz) = authorizations.next().await {
            let mut authz = authz.map_err(|e| self.classify(e))?;
            let kind =
                authz.challenges.iter().find(|c| urls.contains(&c.url)).map(|c| c.r#type.clone());
            if let Some(mut challenge) = kind.and_then(|kind| authz.challenge(kind)) {
                challenge.set_ready().await.map_err(|e| self.classify(e))?;
            }
        }
        Ok(())
    }

    /// Finalizes the order at `url` with a CSR for `names` and the order's key.
    pub async fn finalize(
        &self,
        url: &str,
        names: &[&str],
        key_type: KeyType,
    ) -> Result<(), AcmeError> {
        let key = self.certificate_key(url, key_type)?;
        let csr = certificate_request(names, &key)?;
        let mut order = self.account.order(url.to_owned()).await.map_err(|e| self.classify(e))?;
        order.finalize_csr(&csr).await.map_err(|e| self.classify(e))
    }

    /// Downloads the certificate chain (PEM) of a valid order.
    pub async fn certificate(&self, url: &str) -> Result<Option<String>, AcmeError> {
        let mut order = self.account.order(url.to_owned()).await.map_err(|e| self.classify(e))?;
        order.certificate().await.map_err(|e| self.classify(e))
    }

    /// The private key (PKCS#8 PEM) of the certificate the order at `url` is for.
    pub fn certificate_key_pem(
        &self,
        url: &str,
        key_type: KeyType,
    ) -> Result<Sensitive, AcmeError> {
        Ok(Sensitive::new(self.certificate_key(url, key_type)?.serialize_pem()))
    }

    /// Derives the order's key: HMAC-SHA256 of the account key over the order's URL, in
    /// counter mode, read as the curve's scalar (the next block when it is not a valid one).
    fn certificate_key(&self, url: &str, key_type: KeyType) -> Result<rcgen::KeyPair, AcmeError> {
        let block = |counter: u32| -> Result<[u8; 32], AcmeError> {
            let mut mac = Hmac::<Sha256>::new_from_slice(&self.key_der)
                .map_err(|e| AcmeError::Other(e.to_string()))?;
            mac.update(b"certplan certificate key v1\0");
            mac.update(key_type.as_str().as_bytes());
            mac.update(b"\0");
            mac.update(url.as_bytes());
            mac.update(&counter.to_be_bytes());
            Ok(mac.finalize().into_bytes().into())
        };
        for attempt in 0..16u32 {
            let pkcs8 = match key_type {
                KeyType::P256 => {
                    let scalar = block(attempt * 2)?;
                    p256::SecretKey::from_slice(&scalar).ok().map(|k| k.to_pkcs8_der())
                }
                KeyType::P384 => {
                    let mut scalar = block(attempt * 2)?.to_vec();
                    scalar.extend_from_slice(&block(attempt * 2 + 1)?[..16]);
                    p384::SecretKey::from_slice(&scalar).ok().map(|k| k.to_pkcs8_der())
                }
            };
            let Some(Ok(der)) = pkcs8 else { continue };
            let der = rustls_pki_types::PrivatePkcs8KeyDer::from(der.as_bytes().to_vec());
            let alg = match key_type {
                KeyType::P256 => &rcgen::PKCS_ECDSA_P256_SHA256,
                KeyType::P384 => &rcgen::PKCS_ECDSA_P384_SHA384,
            };
            return rcgen::KeyPair::from_pkcs8_der_and_sign_algo(&der, alg)
                .map_err(|e| AcmeError::Other(format!("no certificate key: {e}")));
        }
        Err(AcmeError::Other("no valid certificate key could be derived".to_owned()))
    }

    fn classify(&self, e: instant_acme::Error) -> AcmeError {
        classify(e, &self.retry_after)
    }
}

/// Turns instant-acme's error into ours, with the refusal's `Retry-After`.
fn classify(e: instant_acme::Error, retry_after: &Mutex<Option<SystemTime>>) -> AcmeError {
    match e {
        instant_acme::Error::Api(problem) => AcmeError::Refused {
            kind: problem.r#type.unwrap_or_default(),
            detail: problem.detail.unwrap_or_default(),
            status: problem.status,
            retry_after: retry_after.lock().ok().and_then(|mut slot| slot.take()),
        },
        instant_acme::Error::Other(e) => AcmeError::Transport(e.to_string()),
        other => AcmeError::Other(other.to_string()),
    }
}

/// An order as the CA reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderView {
    pub url: String,
    pub status: OrderState,
    /// Why the order is invalid, when it is.
    pub error: Option<String>,
}

/// An order's status (RFC 8555 §7.1.6).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrderState {
    Pending,
    Ready,
    Processing,
    Valid,
    Invalid,
}

impl OrderView {
    fn of(order: &mut instant_acme::Order) -> Self {
        let url = order.url().to_owned();
        let state = order.state();
        let status = match state.status {
            OrderStatus::Pending => OrderState::Pending,
            OrderStatus::Ready => OrderState::Ready,
            OrderStatus::Processing => OrderState::Processing,
            OrderStatus::Valid => OrderState::Valid,
            OrderStatus::Invalid => OrderState::Invalid,
        };
        let error = state.error.as_ref().map(|p| p.to_string());
        OrderView { url, status, error }
    }
}

/// One challenge to answer: what to publish for `name`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChallengeToAnswer {
    /// The name authorized (`*.example.com` for a wildcard).
    pub name: String,
    pub url: String,
    /// HTTP-01: the file's name under `/.well-known/acme-challenge/`.
    pub token: String,
    /// HTTP-01: the file's content.
    pub key_authorization: String,
    /// DNS-01: the TXT record's value.
    pub dns_value: String,
}

/// Reads an account key: a PKCS#8 (`PRIVATE KEY`) or SEC1 (`EC PRIVATE KEY`) P-256 key in PEM;
/// returns its PKCS#8 DER.
fn account_key_der(pem: &str) -> Result<Vec<u8>, AcmeError> {
    use p256::pkcs8::{DecodePrivateKey, EncodePrivateKey};
    let key = p256::SecretKey::from_pkcs8_pem(pem)
        .or_else(|_| p256::SecretKey::from_sec1_pem(pem))
        .map_err(|_| {
            AcmeError::AccountKey(
                "expected an ECDSA P-256 key in PEM (BEGIN PRIVATE KEY or BEGIN EC PRIVATE KEY)"
                    .to_owned(),
            )
        })?;
    let der = key.to_pkcs8_der().map_err(|e| AcmeError::AccountKey(e.to_string()))?;
    Ok(der.as_bytes().to_vec())
}

/// Makes a new account key: ECDSA P-256, PKCS#8 PEM.
pub fn new_account_key() -> Result<Sensitive, AcmeError> {
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)
        .map_err(|e| AcmeError::Other(format!("no account key: {e}")))?;
    Ok(Sensitive::new(key.serialize_pem()))
}

/// The CSR (DER) for `names` with `key`: every name a SAN, the first also the subject's common
/// name when it fits in one (64 characters): a CA takes the CN as a name to validate, so it is
/// one of the order's names or nothing.
fn certificate_request(names: &[&str], key: &rcgen::KeyPair) -> Result<Vec<u8>, AcmeError> {
    let sans: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
    let mut params = rcgen::CertificateParams::new(sans)
        .map_err(|e| AcmeError::Other(format!("no CSR: {e}")))?;
    // rcgen's default subject ("rcgen self signed cert") is no name of the order.
    params.distinguished_name = rcgen::DistinguishedName::new();
    if let Some(first) = names.first().filter(|n| n.len() <= 64) {
        params.distinguished_name.push(rcgen::DnType::CommonName, *first);
    }
    let csr =
        params.serialize_request(key).map_err(|e| AcmeError::Other(format!("no CSR: {e}")))?;
    Ok(csr.der().to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;
    use x509_parser::prelude::{FromDer, X509CertificationRequest};

    #[test]
    fn the_csr_names_only_the_orders_names() {
        let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).expect("key");
        let der = certificate_request(&["example.com", "*.example.com"], &key).expect("CSR");
        let (_, csr) = X509CertificationRequest::from_der(&der).expect("a CSR");
        let subject = csr.certification_request_info.subject.to_string();
        assert_eq!(subject, "CN=example.com");
        let long = format!("{}.example.com", "a".repeat(60));
        let der = certificate_request(&[&long], &key).expect("CSR");
        let (_, csr) = X509CertificationRequest::from_der(&der).expect("a CSR");
        assert_eq!(csr.certification_request_info.subject.to_string(), "", "no CN over 64");
    }

    #[test]
    fn a_retry_after_is_seconds_or_a_date() {
        let soon = parse_retry_after("120").expect("seconds");
        assert!(soon > SystemTime::now() + Duration::from_secs(100));
        let dated = parse_retry_after("Wed, 21 Oct 2026 07:28:00 GMT").expect("a date");
        let expected: SystemTime =
            chrono::DateTime::parse_from_rfc3339("2026-10-21T07:28:00Z").expect("time").into();
        assert_eq!(dated, expected);
        assert_eq!(parse_retry_after("soon"), None);
    }
}
