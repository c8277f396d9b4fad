//! The API surface: request authentication, parameter checking, the actions, and the envelope.

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use certplan_provider::tc3::{self, Payload, SigningInput};
use certplan_provider::wire::api_time;
use chrono::{DateTime, Duration, Utc};
use rand::Rng;
use serde_json::{Map, Value, json};

use crate::store::{StoredCertificate, status};
use crate::{ConsoleError, ConsoleOp, Sandbox};

const API_VERSION: &str = "2019-12-05";
/// How far a request's timestamp may be from the server's clock.
const TIMESTAMP_WINDOW_SECS: i64 = 300;
/// `OldCertificateId` is accepted only this close to the old certificate's expiry.
const RENEWAL_WINDOW_DAYS: i64 = 30;
const MAX_DOMAIN_LEN: usize = 64;
const MAX_PAGE_LIMIT: u64 = 1000;

pub(crate) fn router(sandbox: Sandbox) -> Router {
    Router::new()
        .route("/", post(handle_api))
        .route("/_sandbox/age", post(handle_age))
        .route("/_sandbox/faults", post(handle_faults))
        .route("/_sandbox/stats", axum::routing::get(handle_stats))
        .route("/_sandbox/seed", post(handle_seed))
        .route("/_sandbox/{op}", post(handle_console))
        .with_state(sandbox)
}

/// An error as the API reports it: HTTP 200 with `Response.Error`.
#[derive(Debug)]
struct Failure {
    code: &'static str,
    message: String,
}

fn fail(code: &'static str, message: impl Into<String>) -> Failure {
    Failure { code, message: message.into() }
}

type Outcome = Result<Value, Failure>;

/// Wraps an outcome in the envelope, with exactly `Content-Type: application/json` (the Python
/// SDK recognises an error body only then).
fn envelope(outcome: Outcome) -> Response {
    match outcome {
        Ok(Value::Object(mut fields)) => {
            fields.insert("RequestId".into(), Value::String(uuid::Uuid::new_v4().to_string()));
            json_response(json!({ "Response": fields }))
        }
        Ok(other) => error_envelope(
            "InternalError",
            &format!("the sandbox built a non-object response: {other}"),
        ),
        Err(f) => error_envelope(f.code, &f.message),
    }
}

/// An API error: HTTP 200 with `Response.Error` and a `RequestId`.
fn error_envelope(code: &str, message: &str) -> Response {
    let request_id = uuid::Uuid::new_v4().to_string();
    json_response(json!({
        "Response": { "Error": { "Code": code, "Message": message }, "RequestId": request_id }
    }))
}

fn json_response(body: Value) -> Response {
    let mut response = body.to_string().into_response();
    response.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

async fn handle_api(State(sandbox): State<Sandbox>, headers: HeaderMap, body: Bytes) -> Response {
    let faults = sandbox.faults();
    if faults.latency_ms > 0 {
        tokio::time::sleep(std::time::Duration::from_millis(faults.latency_ms)).await;
    }
    let (reset, error, drop) = {
        let mut rng = rand::rng();
        let error = (rng.random_bool(faults.error_rate) && !faults.error_codes.is_empty())
            .then(|| faults.error_codes[rng.random_range(0..faults.error_codes.len())].clone());
        (rng.random_bool(faults.reset_rate), error, rng.random_bool(faults.drop_rate))
    };
    if reset {
        return broken_response();
    }
    match error.as_deref() {
        Some("HTTP502") => return (StatusCode::BAD_GATEWAY, "502 Bad Gateway").into_response(),
        Some("HTTP503") => {
            return (StatusCode::SERVICE_UNAVAILABLE, "503 Service Unavailable").into_response();
        }
        Some(code) => {
            return error_envelope(code, "Injected fault: the service is busy, try again later.");
        }
        None => {}
    }
    let mut mutated = false;
    let outcome = authenticate(&sandbox, &headers, &body).and_then(|action| {
        if !sandbox.admit(&action) {
            let limit = sandbox.options().rate_limit;
            return Err(fail(
                "RequestLimitExceeded",
                format!(
                    "Your current request times exceeds the frequency limit `{limit}` for a second. Please reduce the frequency of calls."
                ),
            ));
        }
        let params = match serde_json::from_slice::<Value>(&body) {
            Ok(Value::Object(map)) => map,
            _ if body.is_empty() => Map::new(),
            _ => return Err(fail("InvalidParameter", "the request body is not a JSON object")),
        };
        mutated = action == "ApplyCertificate";
        dispatch(&sandbox, &action, Params::new(params))
    });
    if mutated && outcome.is_ok() && drop {
        return broken_response();
    }
    envelope(outcome)
}

/// A response whose body fails at once: the client sees its connection reset.
fn broken_response() -> Response {
    let failing = futures_util::stream::once(async {
        Err::<Bytes, std::io::Error>(std::io::Error::new(
            std::io::ErrorKind::ConnectionReset,
            "connection reset (injected fault)",
        ))
    });
    let mut response = axum::body::Body::from_stream(failing).into_response();
    response.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

fn header<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// Checks version, timestamp and signature; returns the action.
fn authenticate(sandbox: &Sandbox, headers: &HeaderMap, body: &[u8]) -> Result<String, Failure> {
    let action = header(headers, "x-tc-action").ok_or_else(|| {
        fail("MissingParameter", "The request is missing a required parameter `Action`.")
    })?;
    match header(headers, "x-tc-version") {
        None => {
            return Err(fail(
                "MissingParameter",
                "The request is missing a required parameter `Version`.",
            ));
        }
        Some(API_VERSION) => {}
        Some(other) => {
            return Err(fail(
                "NoSuchVersion",
                format!("The requested version `{other}` does not exist for service `ssl`."),
            ));
        }
    }
    let timestamp: i64 = header(headers, "x-tc-timestamp")
        .ok_or_else(|| {
            fail("MissingParameter", "The request is missing a required parameter `Timestamp`.")
        })?
        .parse()
        .map_err(|_| {
            fail("InvalidParameter", "`Timestamp` must be an integer number of seconds.")
        })?;
    let authorization =
        header(headers, "authorization").and_then(tc3::parse_authorization).ok_or_else(|| {
            fail(
                "AuthFailure.SignatureFailure",
                "The Authorization header is missing or malformed.",
            )
        })?;

    let now = sandbox.now().timestamp();
    if (now - timestamp).abs() > TIMESTAMP_WINDOW_SECS {
        return Err(fail(
            "AuthFailure.SignatureExpire",
            format!(
                "Signature expired. Timestamp {timestamp} differs from server time {now} by more than 5 minutes."
            ),
        ));
    }
    let options = sandbox.options();
    if authorization.secret_id != options.secret_id {
        return Err(fail(
            "AuthFailure.SecretIdNotFound",
            "The SecretId is not found, please ensure that your SecretId is correct.",
        ));
    }
    if authorization.service != "ssl" || authorization.date != tc3::utc_date(timestamp) {
        return Err(fail(
            "AuthFailure.SignatureFailure",
            "The credential scope does not match the request (service `ssl`, the UTC date of the timestamp).",
        ));
    }

    let mut signed = Vec::with_capacity(authorization.signed_headers.len());
    for name in &authorization.signed_headers {
        let value = header(headers, name).ok_or_else(|| {
            fail(
                "AuthFailure.SignatureFailure",
                format!("Signed header `{name}` is not in the request."),
            )
        })?;
        signed.push((*name, value));
    }
    let payload = match header(headers, "x-tc-content-sha256") {
        Some(tc3::UNSIGNED_PAYLOAD) => Payload::Unsigned,
        _ => Payload::Signed(body),
    };
    let expected = tc3::sign(&SigningInput {
        secret_id: authorization.secret_id,
        secret_key: &options.secret_key,
        service: "ssl",
        method: "POST",
        uri: "/",
        query: "",
        headers: &signed,
        payload,
        timestamp,
    });
    if !constant_time_eq(expected.signature.as_bytes(), authorization.signature.as_bytes()) {
        return Err(fail(
            "AuthFailure.SignatureFailure",
            "The provided credentials could not be validated. Please check your signature is correct.",
        ));
    }
    Ok(action.to_owned())
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn dispatch(sandbox: &Sandbox, action: &str, params: Params) -> Outcome {
    match action {
        "ApplyCertificate" => apply_certificate(sandbox, params),
        "DescribeCertificateDetail" => describe_certificate_detail(sandbox, params),
        "DescribeCertificates" => describe_certificates(sandbox, params),
        "DeleteCertificate" => delete_certificate(sandbox, params),
        "ModifyCertificateAlias" => modify_certificate_alias(sandbox, params),
        "ModifyCertificateProject" => modify_certificate_project(sandbox, params),
        other => {
            Err(fail("InvalidAction", format!("The action `{other}` is invalid or not found.")))
        }
    }
}

/// A request's parameters, taken one by one with their types checked; parameters left over
/// are unknown to the action.
struct Params {
    map: Map<String, Value>,
}

impl Params {
    fn new(map: Map<String, Value>) -> Self {
        Params { map }
    }

    fn take(&mut self, name: &str) -> Option<Value> {
        self.map.remove(name).filter(|v| !v.is_null())
    }

    fn string(&mut self, name: &str) -> Result<Option<String>, Failure> {
        match self.take(name) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(_) => {
                Err(fail("InvalidParameter", format!("The parameter `{name}` must be a string.")))
            }
        }
    }

    fn required_string(&mut self, name: &str) -> Result<String, Failure> {
        self.string(name)?.ok_or_else(|| {
            fail(
                "MissingParameter",
                format!("The request is missing a required parameter `{name}`."),
            )
        })
    }

    fn integer(&mut self, name: &str) -> Result<Option<u64>, Failure> {
        match self.take(name) {
            None => Ok(None),
            Some(v) => v.as_u64().map(Some).ok_or_else(|| {
                fail(
                    "InvalidParameter",
                    format!("The parameter `{name}` must be a non-negative integer."),
                )
            }),
        }
    }

    fn boolean(&mut self, name: &str) -> Result<Option<bool>, Failure> {
        match self.take(name) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(b)),
            Some(_) => {
                Err(fail("InvalidParameter", format!("The parameter `{name}` must be a boolean.")))
            }
        }
    }

    fn list<T>(
        &mut self,
        name: &str,
        item: impl Fn(&Value) -> Option<T>,
    ) -> Result<Option<Vec<T>>, Failure> {
        match self.take(name) {
            None => Ok(None),
            Some(Value::Array(items)) => {
                items.iter().map(&item).collect::<Option<Vec<T>>>().map(Some).ok_or_else(|| {
                    fail(
                        "InvalidParameter",
                        format!("The parameter `{name}` has an element of the wrong type."),
                    )
                })
            }
            Some(_) => {
                Err(fail("InvalidParameter", format!("The parameter `{name}` must be an array.")))
            }
        }
    }

    /// Accepts and ignores documented parameters the sandbox does not model.
    fn ignore(&mut self, names: &[&str]) {
        for name in names {
            self.map.remove(*name);
        }
    }

    /// Refuses parameters the action does not have.
    fn finish(self) -> Result<(), Failure> {
        match self.map.keys().next() {
            None => Ok(()),
            Some(name) => {
                Err(fail("UnknownParameter", format!("The parameter `{name}` is not recognized.")))
            }
        }
    }
}

fn apply_certificate(sandbox: &Sandbox, mut p: Params) -> Outcome {
    let dv_auth_method = p.required_string("DvAuthMethod")?;
    let domain = p.required_string("DomainName")?;
    let project_id = p.integer("ProjectId")?.unwrap_or(0);
    let package_type = p.string("PackageType")?;
    let contact_email = p.string("ContactEmail")?;
    let _contact_phone = p.string("ContactPhone")?;
    let validity_period = p.string("ValidityPeriod")?;
    let csr_encrypt_algo = p.string("CsrEncryptAlgo")?.unwrap_or_else(|| "RSA".into());
    let csr_key_parameter = p.string("CsrKeyParameter")?;
    let _csr_key_password = p.string("CsrKeyPassword")?;
    let alias = p.string("Alias")?.unwrap_or_default();
    let old_certificate_id = p.string("OldCertificateId")?;
    let _delete_dns_auto_record = p.boolean("DeleteDnsAutoRecord")?;
    p.ignore(&["PackageId", "DnsNames"]);
    p.finish()?;

    if !["DNS_AUTO", "DNS", "FILE"].contains(&dv_auth_method.as_str()) {
        return Err(fail(
            "InvalidParameterValue",
            format!("DvAuthMethod `{dv_auth_method}` is not one of DNS_AUTO, DNS, FILE."),
        ));
    }
    check_domain(&domain, &dv_auth_method)?;
    if package_type.as_deref().is_some_and(|t| t != "83") {
        return Err(fail(
            "InvalidParameterValue",
            "PackageType must be \"83\" (TrustAsia C1 DV Free).",
        ));
    }
    if validity_period.as_deref().is_some_and(|v| v != "3") {
        return Err(fail(
            "InvalidParameterValue",
            "ValidityPeriod must be \"3\" (months) for a free certificate.",
        ));
    }
    let expected_parameter = match csr_encrypt_algo.as_str() {
        "RSA" => "2048",
        "ECC" => "prime256v1",
        other => {
            return Err(fail(
                "InvalidParameterValue",
                format!("CsrEncryptAlgo `{other}` is not one of RSA, ECC."),
            ));
        }
    };
    let csr_key_parameter = match csr_key_parameter {
        Some(given) if given != expected_parameter => {
            return Err(fail(
                "InvalidParameterValue",
                format!(
                    "CsrKeyParameter `{given}` does not go with CsrEncryptAlgo {csr_encrypt_algo}: use `{expected_parameter}`."
                ),
            ));
        }
        None if csr_encrypt_algo == "ECC" => {
            return Err(fail(
                "InvalidParameterValue",
                "CsrKeyParameter is required with CsrEncryptAlgo ECC.",
            ));
        }
        _ => expected_parameter.to_owned(),
    };

    let (mut store, now) = sandbox.advanced().map_err(internal)?;
    let quota = sandbox.options().quota_per_domain;
    if quota > 0 {
        let main = main_domain(&domain);
        let held = store.count(|c| main_domain(&c.domain) == main);
        if held >= usize::try_from(quota).unwrap_or(usize::MAX) {
            return Err(fail(
                "FailedOperation.MainDomainCertificateCountLimit",
                format!(
                    "The main domain {main} has reached its limit of {quota} free certificates."
                ),
            ));
        }
    }
    if let Some(old_id) = &old_certificate_id {
        let old = store.get(old_id).ok_or_else(|| {
            fail(
                "FailedOperation.CertificateNotFound",
                format!("Certificate `{old_id}` does not exist."),
            )
        })?;
        check_renewable(old, &domain, now)?;
    }

    let id = loop {
        let id = new_certificate_id();
        if !store.contains(&id) {
            break id;
        }
    };
    let status =
        if dv_auth_method == "DNS_AUTO" { status::DNS_RECORD_ADDED } else { status::PENDING };
    store.insert(StoredCertificate {
        id: id.clone(),
        sequence: 0,
        domain,
        alias,
        project_id,
        dv_auth_method,
        csr_encrypt_algo,
        csr_key_parameter,
        contact_email,
        status,
        inserted_at: DateTime::from_timestamp(now.timestamp(), 0).unwrap_or(now),
        not_before: None,
        not_after: None,
        origin_certificate_id: old_certificate_id.clone(),
        renewed_by: None,
        validation_token: hex::encode(rand::random::<[u8; 16]>()),
        key_pem: None,
    });
    // Automatic validation with no delay issues at once.
    store.advance(now, sandbox.issue_delay());
    if let Some(old) = old_certificate_id.and_then(|old| store.get_mut(&old)) {
        old.renewed_by = Some(id.clone());
    }
    sandbox.persist(&store).map_err(internal)?;
    Ok(json!({ "CertificateId": id }))
}

/// The main (registered) domain of a certificate's domain: its last two labels. (The real
/// service knows public suffixes such as `co.uk`; the sandbox does not.)
fn main_domain(domain: &str) -> &str {
    let bare = domain.strip_prefix("*.").unwrap_or(domain);
    match bare.rmatch_indices('.').nth(1) {
        Some((dot, _)) => &bare[dot + 1..],
        None => bare,
    }
}

/// Applies the API's domain rules: at most 64 characters, valid labels, and no wildcard with
/// file validation (the CA cannot fetch a file from `*.`).
fn check_domain(domain: &str, dv_auth_method: &str) -> Result<(), Failure> {
    if domain.len() > MAX_DOMAIN_LEN {
        return Err(fail(
            "InvalidParameterValue.CertificateDomainMaxLengthInvalid",
            format!("The domain name is longer than {MAX_DOMAIN_LEN} characters."),
        ));
    }
    let (wildcard, bare) = match domain.strip_prefix("*.") {
        Some(rest) => (true, rest),
        None => (false, domain),
    };
    let label_ok = |l: &str| {
        !l.is_empty()
            && l.len() <= 63
            && !l.starts_with('-')
            && !l.ends_with('-')
            && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
    };
    let labels: Vec<&str> = bare.split('.').collect();
    if labels.len() < 2 || !labels.iter().all(|l| label_ok(l)) {
        return Err(fail(
            "InvalidParameter.DomainInvalid",
            format!("The domain name `{domain}` is invalid."),
        ));
    }
    if wildcard && dv_auth_method == "FILE" {
        return Err(fail(
            "InvalidParameterValue",
            "A wildcard domain cannot be validated with FILE.",
        ));
    }
    Ok(())
}

/// A renewal is accepted only for an issued certificate of the same domain that expires within
/// 30 days and has not expired yet.
fn check_renewable(
    old: &StoredCertificate,
    domain: &str,
    now: DateTime<Utc>,
) -> Result<(), Failure> {
    if old.domain != domain {
        return Err(fail(
            "FailedOperation.InvalidParam",
            format!("OldCertificateId `{}` is for `{}`, not `{domain}`.", old.id, old.domain),
        ));
    }
    let Some(end) = old.not_after.filter(|_| old.status_at(now) == 1) else {
        return Err(fail(
            "FailedOperation.InvalidCertificateStatusCode",
            format!(
                "Certificate `{}` is not issued (or has expired) and cannot be renewed.",
                old.id
            ),
        ));
    };
    if end - now > Duration::days(RENEWAL_WINDOW_DAYS) {
        return Err(fail(
            "FailedOperation.InvalidParam",
            format!(
                "Certificate `{}` can be renewed only within {RENEWAL_WINDOW_DAYS} days of its expiry.",
                old.id
            ),
        ));
    }
    Ok(())
}

fn not_found(id: &str) -> Failure {
    fail("FailedOperation.CertificateNotFound", format!("Certificate `{id}` does not exist."))
}

fn internal(e: impl std::fmt::Display) -> Failure {
    fail("InternalError", e.to_string())
}

fn new_certificate_id() -> String {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    let mut rng = rand::rng();
    (0..8).map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char).collect()
}

fn describe_certificate_detail(sandbox: &Sandbox, mut p: Params) -> Outcome {
    let id = p.required_string("CertificateId")?;
    p.finish()?;
    let (mut store, now) = sandbox.advanced().map_err(internal)?;
    if store.ca_key_pem.is_none() {
        store.ca_key_pem = crate::x509::new_key_pem();
        sandbox.persist(&store).map_err(internal)?;
    }
    let cert = store.get(&id).ok_or_else(|| not_found(&id))?;
    let mut detail = certificate_json(cert, now);
    detail["DvAuthDetail"] = validation_json(cert);
    if let (Some(ca_key), Some(key)) = (&store.ca_key_pem, &cert.key_pem)
        && matches!(cert.status_at(now), status::ISSUED | status::EXPIRED)
    {
        let chain = crate::x509::chain_pem(cert, ca_key).map_err(internal)?;
        detail["CertificatePublicKey"] = Value::from(chain);
        detail["CertificatePrivateKey"] = Value::from(key.as_str());
    }
    Ok(detail)
}

/// The validation records of a pending order, as `DvAuthDetail` (null once decided).
fn validation_json(cert: &StoredCertificate) -> Value {
    if !cert.is_pending() {
        return Value::Null;
    }
    let bare = cert.domain.trim_start_matches("*.");
    let token = &cert.validation_token;
    let record = if cert.dv_auth_method == "FILE" {
        json!({
            "DvAuthKey": "fileauth.txt",
            "DvAuthValue": format!("{token}{}", &token[..8]),
            "DvAuthDomain": bare,
            "DvAuthPath": "/.well-known/pki-validation/",
            "DvAuthSubDomain": Value::Null,
            "DvAuthVerifyType": "FILE"
        })
    } else {
        json!({
            "DvAuthKey": format!("_{token}"),
            "DvAuthValue": format!("{}.{}.sectigo.trust-provider.com", &token[..16], &token[16..]),
            "DvAuthDomain": bare,
            "DvAuthPath": Value::Null,
            "DvAuthSubDomain": format!("_{token}"),
            "DvAuthVerifyType": "CNAME"
        })
    };
    json!({
        "DvAuthKey": record["DvAuthKey"],
        "DvAuthValue": record["DvAuthValue"],
        "DvAuthDomain": record["DvAuthDomain"],
        "DvAuthPath": record["DvAuthPath"],
        "DvAuthKeySubDomain": record["DvAuthSubDomain"],
        "DvAuths": [record]
    })
}

fn describe_certificates(sandbox: &Sandbox, mut p: Params) -> Outcome {
    let offset = p.integer("Offset")?.unwrap_or(0);
    let limit = p.integer("Limit")?.unwrap_or(10);
    let search_key = p.string("SearchKey")?;
    let cert_ids = p.list("CertIds", |v| v.as_str().map(str::to_owned))?;
    let statuses = p.list("CertificateStatus", Value::as_i64)?;
    let expiration_sort = p.string("ExpirationSort")?;
    p.ignore(&[
        "CertificateType",
        "ProjectId",
        "Deployable",
        "Upload",
        "Renew",
        "FilterSource",
        "IsSM",
        "FilterExpiring",
        "Hostable",
        "Tags",
        "IsPendingIssue",
    ]);
    p.finish()?;
    if limit > MAX_PAGE_LIMIT {
        return Err(fail(
            "InvalidParameterValue",
            format!("Limit must not exceed {MAX_PAGE_LIMIT}."),
        ));
    }

    let (store, now) = sandbox.advanced().map_err(internal)?;
    let mut matching: Vec<&StoredCertificate> = Vec::new();
    let all = store.certificates();
    for cert in &all {
        let by_id = cert_ids.as_ref().is_none_or(|ids| ids.contains(&cert.id));
        let by_key = search_key.as_deref().is_none_or(|key| {
            cert.id.contains(key) || cert.alias.contains(key) || cert.domain.contains(key)
        });
        let by_status = statuses.as_ref().is_none_or(|s| s.contains(&cert.status_at(now)));
        if by_id && by_key && by_status {
            matching.push(cert);
        }
    }
    match expiration_sort.as_deref() {
        Some("ASC") => matching.sort_by_key(|c| c.not_after),
        Some("DESC") => matching.sort_by_key(|c| std::cmp::Reverse(c.not_after)),
        // Newest application first, as the real service lists.
        _ => matching.reverse(),
    }
    let total = matching.len();
    let page: Vec<Value> = matching
        .into_iter()
        .skip(usize::try_from(offset).unwrap_or(usize::MAX))
        .take(usize::try_from(limit).unwrap_or(usize::MAX))
        .map(|c| certificate_json(c, now))
        .collect();
    Ok(json!({ "TotalCount": total, "Certificates": page }))
}

fn delete_certificate(sandbox: &Sandbox, mut p: Params) -> Outcome {
    let id = p.required_string("CertificateId")?;
    let _check_resource = p.boolean("IsCheckResource")?;
    p.finish()?;
    let (mut store, now) = sandbox.advanced().map_err(internal)?;
    let cert = store.get(&id).ok_or_else(|| not_found(&id))?;
    if now - cert.inserted_at < Duration::hours(1) {
        return Err(fail(
            "FailedOperation.CannotBeDeletedWithinHour",
            "Free certificates cannot be deleted within 1 hour after the application.",
        ));
    }
    store.remove(&id);
    sandbox.persist(&store).map_err(internal)?;
    Ok(json!({ "DeleteResult": true, "TaskId": Value::Null }))
}

fn modify_certificate_alias(sandbox: &Sandbox, mut p: Params) -> Outcome {
    let id = p.required_string("CertificateId")?;
    let alias = p.string("Alias")?.unwrap_or_default();
    p.finish()?;
    let (mut store, _) = sandbox.advanced().map_err(internal)?;
    store.get_mut(&id).ok_or_else(|| not_found(&id))?.alias = alias;
    sandbox.persist(&store).map_err(internal)?;
    Ok(json!({ "CertificateId": id }))
}

fn modify_certificate_project(sandbox: &Sandbox, mut p: Params) -> Outcome {
    let missing = |name: &str| {
        fail("MissingParameter", format!("The request is missing a required parameter `{name}`."))
    };
    let ids = p
        .list("CertificateIdList", |v| v.as_str().map(str::to_owned))?
        .ok_or_else(|| missing("CertificateIdList"))?;
    let project_id = p.integer("ProjectId")?.ok_or_else(|| missing("ProjectId"))?;
    p.finish()?;
    if ids.is_empty() || ids.len() > 100 {
        return Err(fail(
            "InvalidParameterValue",
            "CertificateIdList must hold 1 to 100 certificate ids.",
        ));
    }
    let (mut store, _) = sandbox.advanced().map_err(internal)?;
    let (mut succeeded, mut failed) = (Vec::new(), Vec::new());
    for id in ids {
        match store.get_mut(&id) {
            Some(cert) => {
                cert.project_id = project_id;
                succeeded.push(id);
            }
            None => failed.push(id),
        }
    }
    sandbox.persist(&store).map_err(internal)?;
    Ok(json!({ "SuccessCertificates": succeeded, "FailCertificates": failed }))
}

/// Renders a certificate as `DescribeCertificateDetail` and `DescribeCertificates` do.
fn certificate_json(cert: &StoredCertificate, now: DateTime<Utc>) -> Value {
    let status = cert.status_at(now);
    let (status_name, status_msg) = match status {
        status::PENDING => ("Reviewing", Value::from("PENDING-DCV")),
        status::ISSUED => ("Issued", Value::Null),
        status::FAILED => ("Review failed", Value::Null),
        status::EXPIRED => ("Expired", Value::Null),
        status::DNS_RECORD_ADDED => ("DNS record added", Value::from("PENDING-DCV")),
        status::CANCELLED => ("Cancelled", Value::Null),
        status::REVOKED => ("Revoked", Value::Null),
        _ => ("Other", Value::Null),
    };
    let time = |t: Option<DateTime<Utc>>| t.map(api_time::format).map_or(Value::Null, Value::from);
    let deadline =
        if cert.is_pending() { time(Some(cert.validation_deadline())) } else { Value::Null };
    let expiring = cert
        .not_after
        .is_some_and(|end| status == 1 && end - now <= Duration::days(RENEWAL_WINDOW_DAYS));
    let encrypt = if cert.csr_encrypt_algo == "ECC" { "ECC 256" } else { "RSA 2048" };
    json!({
        "CertificateId": cert.id,
        "OwnerUin": "100000000001",
        "ProjectId": cert.project_id.to_string(),
        "From": "trustasia",
        "PackageType": "83",
        "ProductZhName": "TrustAsia C1 DV Free",
        "CertificateType": "SVR",
        "Domain": cert.domain,
        "Alias": cert.alias,
        "Status": status,
        "StatusName": status_name,
        "StatusMsg": status_msg,
        "VerifyType": cert.dv_auth_method,
        "EncryptAlgorithm": encrypt,
        "CertBeginTime": time(cert.not_before),
        "CertEndTime": time(cert.not_after),
        "InsertTime": time(Some(cert.inserted_at)),
        "DVAuthDeadline": deadline,
        "ValidityPeriod": "3",
        "SubjectAltName": [cert.domain],
        "IsDv": true,
        "IsWildcard": cert.domain.starts_with("*."),
        "IsExpiring": expiring,
        "HasRenewOrder": cert.renewed_by.is_some(),
        "RenewAble": expiring && cert.renewed_by.is_none(),
        "Deployable": status == 1,
        "AllowDownload": status == 1,
        "CertificateExtra": {
            "DomainNumber": "1",
            "OriginCertificateId": cert.origin_certificate_id,
            "ReplacedBy": Value::Null,
            "ReplacedFor": Value::Null,
            "RenewOrder": cert.renewed_by,
            "SMCert": 0,
            "CompanyType": 0
        },
        "DvAuthDetail": Value::Null,
        "CertificatePublicKey": Value::Null,
        "CertificatePrivateKey": Value::Null,
    })
}

/// `POST /_sandbox/{validate,revoke,cancel,delete} {"CertificateId": ID}`.
async fn handle_console(
    State(sandbox): State<Sandbox>,
    Path(op): Path<String>,
    body: Bytes,
) -> Response {
    let Some(op) = ConsoleOp::parse(&op) else {
        return (StatusCode::NOT_FOUND, format!("no console operation {op:?}")).into_response();
    };
    let id = serde_json::from_slice::<Value>(&body)
        .ok()
        .and_then(|v| v.get("CertificateId").and_then(Value::as_str).map(str::to_owned));
    let Some(id) = id else {
        return (StatusCode::BAD_REQUEST, "expected {\"CertificateId\": \"...\"}").into_response();
    };
    match sandbox.console(op, &id) {
        Ok(()) => axum::Json(json!({ "CertificateId": id })).into_response(),
        Err(e @ (ConsoleError::NotFound(_) | ConsoleError::WrongStatus { .. })) => {
            (StatusCode::CONFLICT, e.to_string()).into_response()
        }
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}

/// `POST /_sandbox/faults {"LatencyMs": .., "ErrorRate": .., "ErrorCodes": [..], ...}`.
async fn handle_faults(State(sandbox): State<Sandbox>, body: Bytes) -> Response {
    let faults = match serde_json::from_slice::<crate::Faults>(&body) {
        Ok(f) => f,
        Err(e) => {
            return (StatusCode::BAD_REQUEST, format!("expected Faults JSON: {e}")).into_response();
        }
    };
    match sandbox.set_faults(faults) {
        Ok(()) => axum::Json(json!({ "Faults": sandbox.faults() })).into_response(),
        Err(e) => (StatusCode::BAD_REQUEST, e).into_response(),
    }
}

/// `POST /_sandbox/seed {"Domains": [..]}`: adds an issued certificate per domain, without the
/// API and its rate limit; answers their ids.
async fn handle_seed(State(sandbox): State<Sandbox>, body: Bytes) -> Response {
    let domains: Option<Vec<String>> = serde_json::from_slice::<Value>(&body).ok().and_then(|v| {
        v.get("Domains")?.as_array()?.iter().map(|d| d.as_str().map(str::to_owned)).collect()
    });
    let Some(domains) = domains else {
        return (StatusCode::BAD_REQUEST, "expected {\"Domains\": [\"...\"]}").into_response();
    };
    match sandbox.seed_issued(&domains) {
        Ok(ids) => axum::Json(json!({ "CertificateIds": ids })).into_response(),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}

/// `GET /_sandbox/stats`: request counts by action and rate-limit refusals.
async fn handle_stats(State(sandbox): State<Sandbox>) -> Response {
    axum::Json(sandbox.stats()).into_response()
}

/// `POST /_sandbox/age {"Days": N}`: makes every certificate N days older.
async fn handle_age(State(sandbox): State<Sandbox>, body: Bytes) -> Response {
    let days = serde_json::from_slice::<Value>(&body)
        .ok()
        .and_then(|v| v.get("Days").and_then(Value::as_i64));
    let Some(days) = days else {
        return (StatusCode::BAD_REQUEST, "expected {\"Days\": <integer>}").into_response();
    };
    match sandbox.age(days) {
        Ok(count) => axum::Json(json!({ "Aged": count, "Days": days })).into_response(),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::VALIDITY_DAYS;

    fn cert(status: i64, end_in_days: i64, now: DateTime<Utc>) -> StoredCertificate {
        StoredCertificate {
            id: "old00001".into(),
            sequence: 1,
            domain: "www.example.com".into(),
            alias: String::new(),
            project_id: 0,
            dv_auth_method: "DNS_AUTO".into(),
            csr_encrypt_algo: "RSA".into(),
            csr_key_parameter: "2048".into(),
            contact_email: None,
            status,
            inserted_at: now,
            not_before: Some(now - Duration::days(VALIDITY_DAYS - end_in_days)),
            not_after: Some(now + Duration::days(end_in_days)),
            origin_certificate_id: None,
            renewed_by: None,
            validation_token: "00".repeat(16),
            key_pem: None,
        }
    }

    #[test]
    fn renewal_only_within_thirty_days_and_before_expiry() {
        let now = Utc::now();
        assert!(check_renewable(&cert(1, 29, now), "www.example.com", now).is_ok());
        assert!(check_renewable(&cert(1, 30, now), "www.example.com", now).is_ok());
        assert_eq!(
            check_renewable(&cert(1, 31, now), "www.example.com", now).map_err(|f| f.code).err(),
            Some("FailedOperation.InvalidParam")
        );
        assert_eq!(
            check_renewable(&cert(1, -1, now), "www.example.com", now).map_err(|f| f.code).err(),
            Some("FailedOperation.InvalidCertificateStatusCode")
        );
        assert!(check_renewable(&cert(1, 10, now), "api.example.com", now).is_err());
    }

    #[test]
    fn domain_rules() {
        assert!(check_domain("www.example.com", "DNS").is_ok());
        assert!(check_domain("*.example.com", "DNS").is_ok());
        assert_eq!(
            check_domain("*.example.com", "FILE").map_err(|f| f.code).err(),
            Some("InvalidParameterValue")
        );
        assert_eq!(
            check_domain("localhost", "DNS").map_err(|f| f.code).err(),
            Some("InvalidParameter.DomainInvalid")
        );
        assert_eq!(
            check_domain("-a.example.com", "DNS").map_err(|f| f.code).err(),
            Some("InvalidParameter.DomainInvalid")
        );
        let long = format!("{}.example.com", "a".repeat(60));
        assert_eq!(
            check_domain(&long, "DNS").map_err(|f| f.code).err(),
            Some("InvalidParameterValue.CertificateDomainMaxLengthInvalid")
        );
    }
}
