//! The sandbox over real HTTP on loopback: the provider's client against it, and hand-built
//! requests for what a correct client never sends (wrong keys, stale timestamps, tampering).

use certplan_core::{CertStatus, CertificateArgs, DvAuthMethod, ValidationRecord};
use certplan_provider::tc3::{self, Payload, SigningInput};
use certplan_provider::wire::{ApplyCertificateRequest, DescribeCertificatesRequest};
use certplan_provider::{Client, Credentials, Endpoint, Service};
use certplan_sandbox::{
    ConsoleOp, ControlClient, ControlError, Faults, SandboxAccount, SandboxOptions,
};
use certplan_test_support::LocalSandbox;
use serde_json::{Value, json};

mod accounts;
mod delivery;
mod dnspod;
mod inventory;
mod upload;

const ID: &str = "AKIDtest";
const KEY: &str = "test-secret-key";

type Running = LocalSandbox;

async fn start(data: Option<std::path::PathBuf>) -> Running {
    start_with(SandboxOptions {
        accounts: vec![SandboxAccount::new(ID, KEY)],
        data,
        ..Default::default()
    })
    .await
}

async fn start_with(options: SandboxOptions) -> Running {
    LocalSandbox::start(options).await
}

fn client(url: &str, key: &str) -> Client {
    Client::new(Endpoint::parse(url).expect("loopback url"), Credentials::new(ID, key))
}

fn apply_request(domain: &str) -> ApplyCertificateRequest {
    ApplyCertificateRequest::new(&CertificateArgs::new(domain, DvAuthMethod::DnsAuto), None, None)
}

fn apply_with(domain: &str, method: DvAuthMethod) -> ApplyCertificateRequest {
    ApplyCertificateRequest::new(&CertificateArgs::new(domain, method), None, None)
}

/// Sends a hand-signed request; returns the HTTP response's content type and JSON body.
async fn raw(
    url: &str,
    action: &str,
    signed_body: &str,
    sent_body: &str,
    key: &str,
    timestamp: i64,
) -> (String, Value) {
    raw_signing_action_as(url, action, action, signed_body, sent_body, key, timestamp).await
}

/// Sends a hand-signed request whose signature covers `x-tc-action` with the value
/// `signed_action`, which need not be the `action` sent.
async fn raw_signing_action_as(
    url: &str,
    action: &str,
    signed_action: &str,
    signed_body: &str,
    sent_body: &str,
    key: &str,
    timestamp: i64,
) -> (String, Value) {
    let host = url.trim_start_matches("http://");
    let sig = tc3::sign(&SigningInput {
        secret_id: ID,
        secret_key: key,
        service: "ssl",
        method: "POST",
        uri: "/",
        query: "",
        headers: &[
            ("content-type", "application/json"),
            ("host", host),
            ("x-tc-action", signed_action),
        ],
        payload: Payload::Signed(signed_body.as_bytes()),
        timestamp,
    });
    let resp = reqwest::Client::new()
        .post(url)
        .header("content-type", "application/json")
        .header("x-tc-action", action)
        .header("x-tc-version", "2019-12-05")
        .header("x-tc-timestamp", timestamp.to_string())
        .header("authorization", sig.authorization)
        .body(sent_body.to_owned())
        .send()
        .await
        .expect("sandbox answers");
    assert_eq!(resp.status(), 200, "API errors come with HTTP 200");
    let content_type = resp.headers()["content-type"].to_str().expect("ascii").to_owned();
    (content_type, resp.json().await.expect("JSON body"))
}

fn error_code(body: &Value) -> Option<&str> {
    body["Response"]["Error"]["Code"].as_str()
}

/// Calls `action` of `service` with `body`, signed as the SDKs sign, with the common parameter
/// `Region` (the `X-TC-Region` header) when given; returns `Response`.
async fn call_service(
    url: &str,
    service: Service,
    region: Option<&str>,
    action: &str,
    body: &Value,
) -> Value {
    call_signed(url, &SandboxAccount::new(ID, KEY), service, region, action, body).await
}

/// Calls `action` of `service` with `body` as `account` (signed with its credentials); returns
/// `Response`.
async fn call_as(
    url: &str,
    account: &SandboxAccount,
    service: Service,
    action: &str,
    body: &Value,
) -> Value {
    call_signed(url, account, service, None, action, body).await
}

async fn call_signed(
    url: &str,
    account: &SandboxAccount,
    service: Service,
    region: Option<&str>,
    action: &str,
    body: &Value,
) -> Value {
    let body = body.to_string();
    let timestamp = chrono::Utc::now().timestamp();
    let host = url.trim_start_matches("http://");
    let sig = tc3::sign(&SigningInput {
        secret_id: &account.secret_id,
        secret_key: &account.secret_key,
        service: service.name,
        method: "POST",
        uri: "/",
        query: "",
        headers: &[("content-type", "application/json"), ("host", host), ("x-tc-action", action)],
        payload: Payload::Signed(body.as_bytes()),
        timestamp,
    });
    let mut request = reqwest::Client::new()
        .post(url)
        .header("content-type", "application/json")
        .header("x-tc-action", action)
        .header("x-tc-version", service.version)
        .header("x-tc-timestamp", timestamp.to_string())
        .header("authorization", sig.authorization);
    if let Some(region) = region {
        request = request.header("x-tc-region", region);
    }
    let answer: Value =
        request.body(body).send().await.expect("sandbox answers").json().await.expect("JSON");
    answer["Response"].clone()
}

/// Returns the error code of an answer's `Response`.
fn code(response: &Value) -> Option<&str> {
    response["Error"]["Code"].as_str()
}

const BODY: &str = r#"{"DvAuthMethod":"DNS_AUTO","DomainName":"www.example.com"}"#;

#[tokio::test]
async fn accepts_a_correctly_signed_request_signing_extra_headers() {
    let s = start(None).await;
    let now = chrono::Utc::now().timestamp();
    let (content_type, body) = raw(&s.url, "ApplyCertificate", BODY, BODY, KEY, now).await;
    assert_eq!(content_type, "application/json");
    assert_eq!(error_code(&body), None, "{body}");
    assert_eq!(body["Response"]["CertificateId"].as_str().map(str::len), Some(8));
    assert!(body["Response"]["RequestId"].as_str().is_some_and(|r| !r.is_empty()));
}

#[tokio::test]
async fn rejects_wrong_key_stale_timestamp_tampered_body_and_unknown_id() {
    let s = start(None).await;
    let now = chrono::Utc::now().timestamp();
    let wrong_key = raw(&s.url, "ApplyCertificate", BODY, BODY, "not-the-key", now).await.1;
    assert_eq!(error_code(&wrong_key), Some("AuthFailure.SignatureFailure"));
    let stale = raw(&s.url, "ApplyCertificate", BODY, BODY, KEY, now - 301).await.1;
    assert_eq!(error_code(&stale), Some("AuthFailure.SignatureExpire"));
    let future = raw(&s.url, "ApplyCertificate", BODY, BODY, KEY, now + 400).await.1;
    assert_eq!(error_code(&future), Some("AuthFailure.SignatureExpire"));
    let tampered = BODY.replace("www.", "evil.");
    let tampered = raw(&s.url, "ApplyCertificate", BODY, &tampered, KEY, now).await.1;
    assert_eq!(error_code(&tampered), Some("AuthFailure.SignatureFailure"));
    assert!(s.sandbox.certificates().expect("listed").is_empty(), "nothing was applied for");

    let stranger =
        Client::new(Endpoint::parse(&s.url).expect("url"), Credentials::new("AKIDstranger", KEY));
    let err = stranger
        .apply_certificate(&apply_request("www.example.com"))
        .await
        .expect_err("unknown id");
    assert_eq!(err.code(), Some("AuthFailure.SecretIdNotFound"));
}

#[tokio::test]
async fn reports_invalid_actions_and_parameters_with_the_documented_codes() {
    let s = start(None).await;
    let now = chrono::Utc::now().timestamp();
    let cases = [
        ("DescribeInstances", "{}", "InvalidAction"),
        ("ApplyCertificate", r#"{"DomainName":"www.example.com"}"#, "MissingParameter"),
        (
            "ApplyCertificate",
            r#"{"DvAuthMethod":"EMAIL","DomainName":"www.example.com"}"#,
            "InvalidParameterValue",
        ),
        (
            "ApplyCertificate",
            r#"{"DvAuthMethod":"DNS","DomainName":"www.example.com","CsrEncryptAlgo":"ECC","CsrKeyParameter":"2048"}"#,
            "InvalidParameterValue",
        ),
        (
            "ApplyCertificate",
            r#"{"DvAuthMethod":"DNS","DomainName":"www.example.com","Bogus":1}"#,
            "UnknownParameter",
        ),
        (
            "ApplyCertificate",
            r#"{"DvAuthMethod":"DNS","DomainName":"www.example.com","ProjectId":"x"}"#,
            "InvalidParameter",
        ),
        (
            "ApplyCertificate",
            r#"{"DvAuthMethod":"DNS","DomainName":"not a domain"}"#,
            "InvalidParameter.DomainInvalid",
        ),
        (
            "DescribeCertificateDetail",
            r#"{"CertificateId":"missing1"}"#,
            "FailedOperation.CertificateNotFound",
        ),
    ];
    for (action, body, code) in cases {
        let (_, answer) = raw(&s.url, action, body, body, KEY, now).await;
        assert_eq!(error_code(&answer), Some(code), "{action} {body}: {answer}");
        assert!(answer["Response"]["RequestId"].is_string());
    }
}

#[tokio::test]
async fn issues_certificates_and_links_renewals_only_near_expiry() {
    let s = start(None).await;
    let c = client(&s.url, KEY);
    let first = c.apply_certificate(&apply_request("www.example.com")).await.expect("applied");
    let detail = c.certificate(&first).await.expect("described");
    assert_eq!(detail.status, certplan_core::CertStatus::Issued);
    let (begin, end) = (detail.not_before.expect("begin"), detail.not_after.expect("end"));
    assert_eq!(end - begin, chrono::Duration::days(90));

    let renew = ApplyCertificateRequest::new(
        &CertificateArgs::new("www.example.com", DvAuthMethod::DnsAuto),
        None,
        Some(&first),
    );
    let too_early = c.apply_certificate(&renew).await.expect_err("90 days left");
    assert_eq!(too_early.code(), Some("FailedOperation.InvalidParam"));

    s.sandbox.age(70).expect("aged");
    let second = c.apply_certificate(&renew).await.expect("renewed within 30 days");
    let linked = c.describe_certificate_detail(&second).await.expect("described");
    assert_eq!(
        linked.certificate_extra.and_then(|e| e.origin_certificate_id).as_deref(),
        Some(first.as_str())
    );
    // The renewed certificate names its renewal, in the detail and in the list (as a string).
    let renewed = c.certificate(&first).await.expect("described");
    assert_eq!(renewed.renewed_by.as_deref(), Some(second.as_str()));
    let listed = c.certificates_by_id(std::slice::from_ref(&first)).await.expect("listed");
    assert_eq!(listed[0].renewed_by.as_deref(), Some(second.as_str()));
    let raw = c
        .describe_certificates(&DescribeCertificatesRequest {
            cert_ids: Some(vec![first.clone()]),
            ..Default::default()
        })
        .await
        .expect("listed");
    let has = raw.certificates.expect("listed")[0].has_renew_order.clone();
    assert_eq!(has, Some(Value::String(second.clone())), "HasRenewOrder is the renewal's id");
    let twice = c.apply_certificate(&renew).await.expect_err("renewed already");
    assert_eq!(twice.code(), Some("FailedOperation.InvalidParam"));
    assert!(twice.to_string().contains("already been renewed"), "{twice}");

    s.sandbox.age(21).expect("aged past expiry");
    let expired = c.certificate(&first).await.expect("described");
    assert_eq!(expired.status, certplan_core::CertStatus::Expired);
}

#[tokio::test]
async fn lists_by_ids_and_deletes() {
    let s = start(None).await;
    let c = client(&s.url, KEY);
    let mut ids = Vec::new();
    for d in ["a.example.com", "b.example.com", "c.example.com"] {
        ids.push(c.apply_certificate(&apply_request(d)).await.expect("applied"));
    }
    let listed =
        c.describe_certificates(&DescribeCertificatesRequest::default()).await.expect("listed");
    assert_eq!(listed.total_count, Some(3));
    let newest = listed.certificates.expect("page")[0].certificate_id.clone();
    assert_eq!(newest, ids[2], "newest application first");

    let some = c.certificates_by_id(&[ids[0].clone(), "gone0000".into()]).await.expect("by id");
    assert_eq!(some.len(), 1);
    assert_eq!(some[0].domain, "a.example.com");

    let too_soon = c.delete_certificate(&ids[1]).await.expect_err("within the hour");
    assert_eq!(too_soon.code(), Some("FailedOperation.CannotBeDeletedWithinHour"));
    s.sandbox.age(1).expect("aged a day");
    assert!(c.delete_certificate(&ids[1]).await.expect("deleted"));
    let again = c.delete_certificate(&ids[1]).await.expect_err("already gone");
    assert_eq!(again.code(), Some("FailedOperation.CertificateNotFound"));
    assert_eq!(s.sandbox.certificates().expect("listed").len(), 2);
}

#[tokio::test]
async fn persists_certificates_across_restarts() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("sandbox.json");
    let id = {
        let s = start(Some(data.clone())).await;
        client(&s.url, KEY)
            .apply_certificate(&apply_request("www.example.com"))
            .await
            .expect("applied")
    };
    let s = start(Some(data)).await;
    let found = client(&s.url, KEY).describe_certificate_detail(&id).await.expect("still there");
    assert_eq!(found.domain.as_deref(), Some("www.example.com"));
}

#[tokio::test]
async fn control_api_ages_certificates() {
    let s = start(None).await;
    let id = client(&s.url, KEY)
        .apply_certificate(&apply_request("www.example.com"))
        .await
        .expect("applied");
    let before = s.sandbox.certificates().expect("listed")[0].not_after;
    let answer: Value = reqwest::Client::new()
        .post(format!("{}/_sandbox/age", s.url))
        .json(&json!({ "Days": 70 }))
        .send()
        .await
        .expect("answered")
        .json()
        .await
        .expect("json");
    assert_eq!(answer["Aged"], 1);
    let after = s.sandbox.certificates().expect("listed")[0].not_after;
    assert_eq!(before.zip(after).map(|(b, a)| b - a), Some(chrono::Duration::days(70)), "{id}");
}

#[tokio::test]
async fn manual_validation_stays_pending_with_records_until_validated() {
    let s = start(None).await;
    let c = client(&s.url, KEY);
    let dns = c
        .apply_certificate(&apply_with("www.example.com", DvAuthMethod::Dns))
        .await
        .expect("applied");
    let file = c
        .apply_certificate(&apply_with("files.example.com", DvAuthMethod::File))
        .await
        .expect("applied");

    let pending = c.certificate(&dns).await.expect("described");
    assert_eq!(pending.status, CertStatus::Pending);
    assert_eq!(pending.not_after, None);
    match pending.validation.as_slice() {
        [ValidationRecord::Dns { name, record_type, value }] => {
            assert!(name.starts_with('_') && name.ends_with(".www.example.com"), "{name}");
            assert_eq!(record_type, "CNAME");
            assert!(value.ends_with(".trust-provider.com"), "{value}");
        }
        other => panic!("expected one DNS record, got {other:?}"),
    }
    let file_records = c.certificate(&file).await.expect("described").validation;
    assert!(
        matches!(file_records.as_slice(), [ValidationRecord::File { url, .. }]
            if url == "http://files.example.com/.well-known/pki-validation/fileauth.txt"),
        "{file_records:?}"
    );
    let listed = c.certificates_by_id(std::slice::from_ref(&dns)).await.expect("listed");
    let deadline = listed[0].validation_deadline.expect("deadline while pending");
    assert_eq!(deadline - listed[0].inserted_at.expect("inserted"), chrono::Duration::days(7));

    s.sandbox.console(ConsoleOp::Validate, &dns).expect("validated");
    let issued = c.certificate(&dns).await.expect("described");
    assert_eq!(issued.status, CertStatus::Issued);
    assert!(issued.validation.is_empty(), "records are null once issued");

    s.sandbox.age(8).expect("aged past the deadline");
    let failed = c.certificate(&file).await.expect("described");
    assert_eq!(failed.status, CertStatus::Failed, "not validated within 7 days");
}

#[tokio::test]
async fn automatic_validation_issues_after_the_configured_delay() {
    let s = start_with(SandboxOptions {
        accounts: vec![SandboxAccount::new(ID, KEY)],
        issue_delay: std::time::Duration::from_millis(1500),
        ..Default::default()
    })
    .await;
    let c = client(&s.url, KEY);
    let id = c.apply_certificate(&apply_request("www.example.com")).await.expect("applied");
    let first = c.certificate(&id).await.expect("described");
    assert_eq!(first.status, CertStatus::DnsRecordAdded);
    tokio::time::sleep(std::time::Duration::from_millis(1600)).await;
    let later = c.certificate(&id).await.expect("described");
    assert_eq!(later.status, CertStatus::Issued);
}

#[tokio::test]
async fn issued_certificates_carry_a_real_chain_matching_their_dates() {
    let s = start(None).await;
    let c = client(&s.url, KEY);
    let id = c.apply_certificate(&apply_request("www.example.com")).await.expect("applied");
    let detail = c.describe_certificate_detail(&id).await.expect("described");
    let remote = detail.to_remote().expect("converts");
    let raw: Value = {
        let now = chrono::Utc::now().timestamp();
        let body = format!(r#"{{"CertificateId":"{id}"}}"#);
        raw(&s.url, "DescribeCertificateDetail", &body, &body, KEY, now).await.1
    };
    let chain = raw["Response"]["CertificatePublicKey"].as_str().expect("a PEM chain");
    let key = raw["Response"]["CertificatePrivateKey"].as_str().expect("a PEM key");
    assert!(key.starts_with("-----BEGIN PRIVATE KEY-----"), "{key}");
    let pems: Vec<_> = x509_parser::pem::Pem::iter_from_buffer(chain.as_bytes())
        .collect::<Result<_, _>>()
        .expect("PEM");
    assert_eq!(pems.len(), 2, "leaf and CA");
    let leaf = pems[0].parse_x509().expect("X.509");
    assert_eq!(
        leaf.validity().not_after.timestamp(),
        remote.not_after.expect("end").timestamp(),
        "notAfter equals CertEndTime"
    );
    assert_eq!(
        leaf.validity().not_before.timestamp(),
        remote.not_before.expect("begin").timestamp()
    );
    let ca = pems[1].parse_x509().expect("X.509");
    assert_eq!(leaf.issuer(), ca.subject());
    assert!(leaf.verify_signature(Some(ca.public_key())).is_ok(), "signed by the sandbox CA");
    let sans = leaf.subject_alternative_name().expect("ext").expect("SAN");
    assert!(format!("{:?}", sans.value).contains("www.example.com"));
}

#[tokio::test]
async fn aliases_and_projects_change_in_place() {
    let s = start(None).await;
    let c = client(&s.url, KEY);
    let id = c.apply_certificate(&apply_request("www.example.com")).await.expect("applied");
    c.modify_certificate_alias(&id, "renamed").await.expect("alias set");
    let failed =
        c.modify_certificate_project(&[id.clone(), "nosuch01".into()], 42).await.expect("moved");
    assert_eq!(failed, ["nosuch01"]);
    let remote = c.certificate(&id).await.expect("described");
    assert_eq!(remote.alias.as_deref(), Some("renamed"));
    assert_eq!(remote.project_id, Some(42));
    assert_eq!(s.sandbox.certificates().expect("listed").len(), 1, "no new application");
}

#[tokio::test]
async fn console_revokes_cancels_and_deletes() {
    let s = start(None).await;
    let c = client(&s.url, KEY);
    let issued = c.apply_certificate(&apply_request("a.example.com")).await.expect("applied");
    let pending = c
        .apply_certificate(&apply_with("b.example.com", DvAuthMethod::Dns))
        .await
        .expect("applied");
    assert!(s.sandbox.console(ConsoleOp::Revoke, &pending).is_err(), "only issued ones revoke");
    s.sandbox.console(ConsoleOp::Revoke, &issued).expect("revoked");
    s.sandbox.console(ConsoleOp::Cancel, &pending).expect("cancelled");
    let statuses: Vec<CertStatus> = c
        .certificates_by_id(&[issued.clone(), pending.clone()])
        .await
        .expect("listed")
        .into_iter()
        .map(|r| r.status)
        .collect();
    assert_eq!(statuses, [CertStatus::Cancelled, CertStatus::Revoked], "newest first");

    let answer = reqwest::Client::new()
        .post(format!("{}/_sandbox/delete", s.url))
        .json(&json!({ "CertificateId": issued }))
        .send()
        .await
        .expect("answered");
    assert_eq!(answer.status(), 200, "the console ignores the one-hour rule");
    assert_eq!(s.sandbox.certificates().expect("listed").len(), 1);
}

#[tokio::test]
async fn a_main_domain_holds_at_most_its_quota_of_free_certificates() {
    let s = start_with(SandboxOptions {
        accounts: vec![SandboxAccount::new(ID, KEY)],
        quota_per_domain: 2,
        ..Default::default()
    })
    .await;
    let c = client(&s.url, KEY);
    c.apply_certificate(&apply_request("www.example.com")).await.expect("first");
    c.apply_certificate(&apply_request("api.example.com")).await.expect("second");
    let refused = c.apply_certificate(&apply_request("mail.example.com")).await.expect_err("third");
    assert_eq!(refused.code(), Some("FailedOperation.MainDomainCertificateCountLimit"));
    assert!(refused.to_string().contains("example.com has reached its limit of 2"), "{refused}");
    c.apply_certificate(&apply_request("www.example.org"))
        .await
        .expect("another main domain has a quota of its own");
    assert_eq!(s.sandbox.certificates().expect("certificates").len(), 3);
}

#[tokio::test]
async fn control_client_seeds_issued_certificates_and_ages_them() {
    let s = start(None).await;
    // A trailing slash, as a user may type the URL.
    let control = ControlClient::new(&format!("{}/", s.url));
    let c = client(&s.url, KEY);

    let domains = ["a.example.com", "b.example.org"];
    let ids = control.seed(&domains).await.expect("seeded");
    assert_eq!(ids.len(), 2);
    let seeded = c.certificates_by_id(&ids).await.expect("listed");
    for (id, domain) in ids.iter().zip(domains) {
        let cert = seeded.iter().find(|r| &r.id == id).expect("a seeded certificate is listed");
        assert_eq!((cert.domain.as_str(), cert.status), (domain, CertStatus::Issued));
    }

    let before = c.certificate(&ids[0]).await.expect("described");
    assert_eq!(control.age(10).await.expect("aged"), 2);
    let after = c.certificate(&ids[0]).await.expect("described");
    let ten_days_earlier = |t: Option<chrono::DateTime<chrono::Utc>>| {
        Some(t.expect("an issued certificate has its dates") - chrono::Duration::days(10))
    };
    assert_eq!(after.inserted_at, ten_days_earlier(before.inserted_at));
    assert_eq!(after.not_before, ten_days_earlier(before.not_before));
    assert_eq!(after.not_after, ten_days_earlier(before.not_after));
}

#[tokio::test]
async fn control_client_stats_count_api_requests_by_action() {
    let s = start(None).await;
    let control = ControlClient::new(&s.url);
    let c = client(&s.url, KEY);
    assert_eq!(control.stats().await.expect("stats"), certplan_sandbox::Stats::default());

    let id = c.apply_certificate(&apply_request("www.example.com")).await.expect("applied");
    for _ in 0..3 {
        c.describe_certificate_detail(&id).await.expect("described");
    }
    control.seed(&["seeded.example.com"]).await.expect("seeded");
    let stats = control.stats().await.expect("stats");
    let counted: Vec<(&str, u64)> =
        stats.requests.iter().map(|(action, n)| (action.as_str(), *n)).collect();
    assert_eq!(
        counted,
        [("ApplyCertificate", 1), ("DescribeCertificateDetail", 3)],
        "control calls are not API requests"
    );
    assert_eq!(stats.rate_limited, 0);
}

#[tokio::test]
async fn control_client_faults_fail_requests_until_cleared() {
    let s = start(None).await;
    let control = ControlClient::new(&s.url);
    let list = || async {
        let now = chrono::Utc::now().timestamp();
        raw(&s.url, "DescribeCertificates", "{}", "{}", KEY, now).await.1
    };

    let failing =
        Faults { error_rate: 1.0, error_codes: vec!["InternalError".into()], ..Faults::default() };
    assert_eq!(control.set_faults(&failing).await.expect("set"), failing);
    assert_eq!(s.sandbox.faults(), failing);
    let answer = list().await;
    assert_eq!(error_code(&answer), Some("InternalError"), "{answer}");

    let refused = control
        .set_faults(&Faults { reset_rate: 1.5, ..Faults::default() })
        .await
        .expect_err("not a probability");
    match &refused {
        ControlError::Refused { url, status, message } => {
            assert_eq!(url, &format!("{}/_sandbox/faults", s.url));
            assert_eq!(status.as_u16(), 400);
            assert_eq!(message, "the reset rate must be between 0 and 1, not 1.5");
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
    assert_eq!(s.sandbox.faults(), failing, "a refused change changes nothing");

    control.clear_faults().await.expect("cleared");
    assert_eq!(s.sandbox.faults(), Faults::default());
    let answer = list().await;
    assert_eq!(error_code(&answer), None, "{answer}");
    assert_eq!(answer["Response"]["TotalCount"], 0);
}

/// Returns a certificate's status as the API reports it.
async fn status_of(c: &Client, id: &str) -> CertStatus {
    c.certificate(id).await.expect("described").status
}

#[tokio::test]
async fn control_client_console_operations_change_status_or_are_refused() {
    let s = start(None).await;
    let control = ControlClient::new(&s.url);
    let c = client(&s.url, KEY);
    let order = c
        .apply_certificate(&apply_with("a.example.com", DvAuthMethod::Dns))
        .await
        .expect("applied");
    let abandoned = c
        .apply_certificate(&apply_with("b.example.com", DvAuthMethod::Dns))
        .await
        .expect("applied");
    assert_eq!(status_of(&c, &order).await, CertStatus::Pending);

    control.console(ConsoleOp::Validate, &order).await.expect("validated");
    assert_eq!(status_of(&c, &order).await, CertStatus::Issued);
    control.console(ConsoleOp::Revoke, &order).await.expect("revoked");
    assert_eq!(status_of(&c, &order).await, CertStatus::Revoked);
    control.console(ConsoleOp::Cancel, &abandoned).await.expect("cancelled");
    assert_eq!(status_of(&c, &abandoned).await, CertStatus::Cancelled);

    let again = control.console(ConsoleOp::Revoke, &order).await.expect_err("already revoked");
    assert!(matches!(&again, ControlError::Refused { status, .. } if status.as_u16() == 409));
    let shown = again.to_string();
    assert!(shown.contains(&format!("{}/_sandbox/revoke", s.url)), "{shown}");
    assert!(shown.contains(&format!("certificate {order} has status 10")), "{shown}");

    control.console(ConsoleOp::Delete, &abandoned).await.expect("deleted within the hour");
    let left: Vec<_> =
        s.sandbox.certificates().expect("listed").into_iter().map(|c| c.id).collect();
    assert_eq!(left, [order]);
    let gone = control.console(ConsoleOp::Delete, &abandoned).await.expect_err("already gone");
    assert!(gone.to_string().contains("does not exist"), "{gone}");
}

#[tokio::test]
async fn control_client_names_the_url_it_cannot_reach() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind loopback");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    drop(listener);
    let err = ControlClient::new(&url).age(1).await.expect_err("nothing listens");
    assert!(matches!(err, ControlError::Unreachable { .. }), "{err:?}");
    assert_eq!(err.to_string(), format!("cannot reach the sandbox at {url}/_sandbox/age"));
}

#[tokio::test]
async fn accepts_signatures_over_a_lower_cased_action_as_the_specification_example_signs() {
    let s = start(None).await;
    let now = chrono::Utc::now().timestamp();
    let lowered =
        raw_signing_action_as(&s.url, "ApplyCertificate", "applycertificate", BODY, BODY, KEY, now)
            .await
            .1;
    assert_eq!(error_code(&lowered), None, "{lowered}");
    assert_eq!(lowered["Response"]["CertificateId"].as_str().map(str::len), Some(8));

    // Only the value as sent and its lower case are canonical: any other spelling is a
    // different request, and so is a tampered body under a lower-cased signature.
    let shouted =
        raw_signing_action_as(&s.url, "ApplyCertificate", "APPLYCERTIFICATE", BODY, BODY, KEY, now)
            .await
            .1;
    assert_eq!(error_code(&shouted), Some("AuthFailure.SignatureFailure"), "{shouted}");
    let tampered = BODY.replace("www.", "evil.");
    let tampered = raw_signing_action_as(
        &s.url,
        "ApplyCertificate",
        "applycertificate",
        BODY,
        &tampered,
        KEY,
        now,
    )
    .await
    .1;
    assert_eq!(error_code(&tampered), Some("AuthFailure.SignatureFailure"), "{tampered}");
    assert_eq!(s.sandbox.certificates().expect("listed").len(), 1);
}

#[tokio::test]
async fn refuses_wildcard_domains_because_free_certificates_are_single_domain() {
    let s = start(None).await;
    let c = client(&s.url, KEY);
    for method in [DvAuthMethod::DnsAuto, DvAuthMethod::Dns, DvAuthMethod::File] {
        let refused =
            c.apply_certificate(&apply_with("*.example.com", method)).await.expect_err("wildcard");
        assert_eq!(refused.code(), Some("InvalidParameter.DomainInvalid"), "{method:?}");
        let shown = refused.to_string();
        assert!(shown.contains("free certificates are single-domain"), "{shown}");
        assert!(shown.contains("wildcard certificates are a paid product"), "{shown}");
    }
    assert!(s.sandbox.certificates().expect("listed").is_empty(), "nothing was ordered");
}

/// Lists certificates with a hand-written `DescribeCertificates` body; returns the ids in the
/// order listed, or the error code.
async fn list_ids(url: &str, body: &str) -> Result<Vec<String>, String> {
    let now = chrono::Utc::now().timestamp();
    let answer = raw(url, "DescribeCertificates", body, body, KEY, now).await.1;
    if let Some(code) = error_code(&answer) {
        let message = answer["Response"]["Error"]["Message"].as_str().unwrap_or_default();
        return Err(format!("{code}: {message}"));
    }
    let listed = answer["Response"]["Certificates"].as_array().expect("a list");
    assert_eq!(answer["Response"]["TotalCount"].as_u64(), Some(listed.len() as u64), "one page");
    Ok(listed.iter().map(|c| c["CertificateId"].as_str().expect("id").to_owned()).collect())
}

#[tokio::test]
async fn describe_certificates_applies_every_documented_filter() {
    let s = start_with(SandboxOptions {
        accounts: vec![SandboxAccount::new(ID, KEY)],
        rate_limit: 0,
        ..Default::default()
    })
    .await;
    let c = client(&s.url, KEY);
    // `expiring`: issued 71 days ago, 19 days left; `revoked`: issued a day ago, then revoked;
    // `fresh`: issued now, in project 7; `pending`: awaiting DNS validation. Days apart, so
    // that sorting by expiry never depends on which second a certificate was issued in.
    let expiring = c.apply_certificate(&apply_request("old.example.com")).await.expect("applied");
    s.sandbox.age(70).expect("aged");
    let revoked = c.apply_certificate(&apply_request("gone.example.com")).await.expect("applied");
    s.sandbox.console(ConsoleOp::Revoke, &revoked).expect("revoked");
    s.sandbox.age(1).expect("aged");
    let fresh = c.apply_certificate(&apply_request("new.example.com")).await.expect("applied");
    c.modify_certificate_project(std::slice::from_ref(&fresh), 7).await.expect("moved");
    let pending = c
        .apply_certificate(&apply_with("wait.example.com", DvAuthMethod::Dns))
        .await
        .expect("applied");
    let all = vec![pending.clone(), fresh.clone(), revoked.clone(), expiring.clone()];
    let none: Vec<String> = Vec::new();

    let cases: Vec<(&str, Vec<String>)> = vec![
        ("{}", all.clone()),
        (r#"{"ProjectId":7}"#, vec![fresh.clone()]),
        (r#"{"ProjectId":0}"#, vec![pending.clone(), revoked.clone(), expiring.clone()]),
        (r#"{"CertificateType":"SVR"}"#, all.clone()),
        (r#"{"CertificateType":"CA"}"#, none.clone()),
        (r#"{"Renew":1}"#, vec![expiring.clone()]),
        (r#"{"Renew":0}"#, all.clone()),
        (r#"{"FilterExpiring":1}"#, vec![expiring.clone()]),
        (r#"{"IsPendingIssue":1}"#, vec![pending.clone()]),
        (r#"{"Upload":1}"#, none.clone()),
        (r#"{"Upload":0}"#, all.clone()),
        (r#"{"FilterSource":"upload"}"#, none.clone()),
        (r#"{"FilterSource":"buy"}"#, all.clone()),
        (r#"{"IsSM":1}"#, none.clone()),
        (r#"{"Tags":[{"TagKey":"team","TagValue":"web"}]}"#, none.clone()),
        (r#"{"Tags":[]}"#, all.clone()),
        (r#"{"Deployable":1}"#, vec![fresh.clone(), expiring.clone()]),
        (r#"{"Deployable":0}"#, vec![pending.clone(), revoked.clone()]),
        (r#"{"CertificateStatus":[1]}"#, vec![fresh.clone(), expiring.clone()]),
        (r#"{"CertificateStatus":[0,10]}"#, vec![pending.clone(), revoked.clone()]),
        (r#"{"CertificateStatus":[]}"#, all.clone()),
        // Without an end, a pending certificate sorts first ascending and last descending.
        (
            r#"{"ExpirationSort":"ASC"}"#,
            vec![pending.clone(), expiring.clone(), revoked.clone(), fresh.clone()],
        ),
        (
            r#"{"ExpirationSort":"DESC"}"#,
            vec![fresh.clone(), revoked.clone(), expiring.clone(), pending.clone()],
        ),
        (r#"{"Deployable":1,"ProjectId":0,"Renew":1}"#, vec![expiring.clone()]),
        (r#"{"Deployable":1,"ProjectId":7,"Renew":1}"#, none.clone()),
    ];
    for (body, expected) in cases {
        assert_eq!(list_ids(&s.url, body).await, Ok(expected), "{body}");
    }
}

#[tokio::test]
async fn describe_certificates_refuses_by_name_what_it_cannot_filter() {
    let s = start_with(SandboxOptions {
        accounts: vec![SandboxAccount::new(ID, KEY)],
        rate_limit: 0,
        ..Default::default()
    })
    .await;
    let cases = [
        (r#"{"Hostable":1}"#, "InvalidParameter", "Hostable"),
        (r#"{"Hostable":0}"#, "InvalidParameter", "Hostable"),
        (r#"{"CertificateType":"CLIENT"}"#, "InvalidParameterValue", "CertificateType"),
        (r#"{"FilterSource":"gift"}"#, "InvalidParameterValue", "FilterSource"),
        (r#"{"ExpirationSort":"up"}"#, "InvalidParameterValue", "ExpirationSort"),
        (r#"{"Renew":2}"#, "InvalidParameterValue", "Renew"),
        (r#"{"Deployable":3}"#, "InvalidParameterValue", "Deployable"),
        (r#"{"IsPendingIssue":"1"}"#, "InvalidParameter", "IsPendingIssue"),
        (r#"{"Tags":[{"TagKey":"team"}]}"#, "InvalidParameter", "Tags"),
        (r#"{"Bogus":1}"#, "UnknownParameter", "Bogus"),
    ];
    for (body, code, named) in cases {
        let refused = list_ids(&s.url, body).await.expect_err(body);
        assert!(refused.starts_with(&format!("{code}: ")), "{body}: {refused}");
        assert!(refused.contains(named), "{body}: {refused}");
    }
}

#[tokio::test]
async fn describe_certificates_treats_a_limit_over_1000_as_1000() {
    let s = start(None).await;
    let domains: Vec<String> = (0..1001).map(|n| format!("host{n}.example.com")).collect();
    s.sandbox.seed_issued(&domains).expect("seeded");
    let now = chrono::Utc::now().timestamp();
    for limit in [1000, 1001, 1_000_000] {
        let body = format!(r#"{{"Limit":{limit}}}"#);
        let answer = raw(&s.url, "DescribeCertificates", &body, &body, KEY, now).await.1;
        assert_eq!(error_code(&answer), None, "{answer}");
        assert_eq!(answer["Response"]["TotalCount"], 1001);
        let page = answer["Response"]["Certificates"].as_array().expect("a page");
        assert_eq!(page.len(), 1000, "Limit {limit}");
    }
}

/// Downloads a certificate; returns the ZIP's files by name, or the error code.
async fn download(
    url: &str,
    id: &str,
) -> Result<std::collections::BTreeMap<String, String>, String> {
    use base64::Engine;
    use std::io::Read;
    let now = chrono::Utc::now().timestamp();
    let body = json!({ "CertificateId": id }).to_string();
    let answer = raw(url, "DownloadCertificate", &body, &body, KEY, now).await.1;
    if let Some(code) = error_code(&answer) {
        return Err(code.to_owned());
    }
    assert_eq!(answer["Response"]["ContentType"], "application/zip");
    let content = answer["Response"]["Content"].as_str().expect("Content");
    let bytes = base64::engine::general_purpose::STANDARD.decode(content).expect("base64");
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(bytes)).expect("a ZIP");
    let mut files = std::collections::BTreeMap::new();
    for n in 0..archive.len() {
        let mut file = archive.by_index(n).expect("entry");
        let mut text = String::new();
        file.read_to_string(&mut text).expect("text");
        files.insert(file.name().expect("a file name").into_owned(), text);
    }
    Ok(files)
}

fn pems(text: &str) -> Vec<x509_parser::pem::Pem> {
    x509_parser::pem::Pem::iter_from_buffer(text.as_bytes()).collect::<Result<_, _>>().expect("PEM")
}

#[tokio::test]
async fn downloads_a_zip_per_server_whose_key_matches_the_certificate_and_its_dates() {
    let s = start(None).await;
    let c = client(&s.url, KEY);
    let id = c.apply_certificate(&apply_request("www.example.com")).await.expect("applied");
    let files = download(&s.url, &id).await.expect("downloaded");
    let names: Vec<&str> = files.keys().map(String::as_str).collect();
    assert_eq!(
        names,
        [
            "Apache/root_bundle.crt",
            "Apache/www.example.com.crt",
            "Apache/www.example.com.key",
            "Nginx/www.example.com.csr",
            "Nginx/www.example.com.key",
            "Nginx/www.example.com_bundle.crt",
            "Nginx/www.example.com_bundle.pem",
        ]
    );
    let remote = c.certificate(&id).await.expect("described");
    let bundle = pems(&files["Nginx/www.example.com_bundle.crt"]);
    assert_eq!(bundle.len(), 2, "leaf and chain");
    assert_eq!(
        files["Nginx/www.example.com_bundle.pem"],
        files["Nginx/www.example.com_bundle.crt"]
    );
    let leaf = bundle[0].parse_x509().expect("X.509");
    assert_eq!(
        leaf.validity().not_before.timestamp(),
        remote.not_before.expect("begin").timestamp()
    );
    assert_eq!(leaf.validity().not_after.timestamp(), remote.not_after.expect("end").timestamp());
    let ca = bundle[1].parse_x509().expect("X.509");
    assert!(leaf.verify_signature(Some(ca.public_key())).is_ok(), "signed by the chain");

    // Apache's files split the bundle: the certificate alone, then its chain.
    let apache_leaf = pems(&files["Apache/www.example.com.crt"]);
    assert_eq!(apache_leaf.len(), 1);
    assert_eq!(apache_leaf[0].contents, bundle[0].contents);
    assert_eq!(pems(&files["Apache/root_bundle.crt"])[0].contents, bundle[1].contents);

    let key_pem = &files["Nginx/www.example.com.key"];
    assert_eq!(&files["Apache/www.example.com.key"], key_pem);
    let key = rcgen::KeyPair::from_pem(key_pem).expect("a private key");
    use rcgen::PublicKeyData;
    assert_eq!(key.der_bytes(), &leaf.public_key().subject_public_key.data[..], "key fits leaf");
    let csr = pems(&files["Nginx/www.example.com.csr"]);
    assert_eq!(csr[0].label, "CERTIFICATE REQUEST");

    // The detail hands out the same key.
    let now = chrono::Utc::now().timestamp();
    let body = json!({ "CertificateId": id }).to_string();
    let detail = raw(&s.url, "DescribeCertificateDetail", &body, &body, KEY, now).await.1;
    assert_eq!(detail["Response"]["CertificatePrivateKey"].as_str(), Some(key_pem.as_str()));
}

#[tokio::test]
async fn download_is_refused_until_the_certificate_is_issued() {
    let s = start(None).await;
    let c = client(&s.url, KEY);
    let pending = c
        .apply_certificate(&apply_with("www.example.com", DvAuthMethod::Dns))
        .await
        .expect("applied");
    assert_eq!(
        download(&s.url, &pending).await.err().as_deref(),
        Some("FailedOperation.CertificateStatusNotAllowDownload")
    );
    let listed = list_ids(&s.url, "{}").await.expect("listed");
    assert_eq!(listed, std::slice::from_ref(&pending));
    s.sandbox.console(ConsoleOp::Validate, &pending).expect("validated");
    assert!(download(&s.url, &pending).await.is_ok(), "issued now");
    assert_eq!(
        download(&s.url, "nosuch01").await.err().as_deref(),
        Some("FailedOperation.CertificateNotFound")
    );
}

#[tokio::test]
async fn rsa_orders_get_rsa_2048_keys_and_ecc_orders_p256_keys() {
    use x509_parser::public_key::PublicKey;
    let s = start(None).await;
    let now = chrono::Utc::now().timestamp();
    let orders = [
        ("default.example.com", r#""#, "RSA 2048"),
        ("rsa.example.com", r#","CsrEncryptAlgo":"RSA","CsrKeyParameter":"2048""#, "RSA 2048"),
        ("ecc.example.com", r#","CsrEncryptAlgo":"ECC","CsrKeyParameter":"prime256v1""#, "ECC 256"),
    ];
    for (domain, algo, encrypt) in orders {
        let body = format!(r#"{{"DvAuthMethod":"DNS_AUTO","DomainName":"{domain}"{algo}}}"#);
        let applied = raw(&s.url, "ApplyCertificate", &body, &body, KEY, now).await.1;
        let id = applied["Response"]["CertificateId"].as_str().expect("applied").to_owned();
        let detail_body = json!({ "CertificateId": id }).to_string();
        let detail =
            raw(&s.url, "DescribeCertificateDetail", &detail_body, &detail_body, KEY, now).await.1;
        assert_eq!(detail["Response"]["EncryptAlgorithm"], encrypt, "{domain}");

        let files = download(&s.url, &id).await.expect("downloaded");
        let bundle = pems(&files[&format!("Nginx/{domain}_bundle.crt")]);
        let leaf = bundle[0].parse_x509().expect("X.509");
        let parsed = leaf.public_key().parsed().expect("a public key");
        match (encrypt, parsed) {
            ("RSA 2048", PublicKey::RSA(rsa)) => assert_eq!(rsa.key_size(), 2048, "{domain}"),
            ("ECC 256", PublicKey::EC(ec)) => {
                assert_eq!(ec.key_size(), 256, "{domain}");
                assert_eq!(
                    leaf.public_key().algorithm.parameters.as_ref().and_then(|p| p.as_oid().ok()),
                    Some(x509_parser::oid_registry::OID_EC_P256),
                    "{domain}: prime256v1"
                );
            }
            (_, other) => panic!("{domain}: expected {encrypt}, got {other:?}"),
        }
    }
}

#[tokio::test]
async fn routes_by_the_service_the_signature_names_at_that_services_version() {
    let s = start(None).await;
    let list = DescribeCertificatesRequest::default();
    s.client_for(Service::SSL)
        .describe_certificates(&list)
        .await
        .expect("the SSL service answers at its version");
    let old_version = Service { version: "2018-03-17", ..Service::SSL };
    let err = s.client_for(old_version).describe_certificates(&list).await.expect_err("refused");
    assert_eq!(err.code(), Some("NoSuchVersion"), "{err}");
    assert!(err.to_string().contains("`2018-03-17` does not exist for service `ssl`"), "{err}");
    // DNSPod is served at its own version, with its own actions.
    let dnspod = s.client_for(Service::DNSPOD);
    assert!(dnspod.dns_zones().await.expect("DNSPod answers").is_empty());
    let err = dnspod.describe_certificates(&list).await.expect_err("not a DNSPod action");
    assert_eq!(err.code(), Some("InvalidAction"), "{err}");
    let cvm = Service { name: "cvm", version: "2017-03-12", endpoint: "https://cvm.example" };
    let err = s.client_for(cvm).describe_certificates(&list).await.expect_err("not served");
    assert_eq!(err.code(), Some("AuthFailure.SignatureFailure"), "{err}");
    assert!(
        err.to_string()
            .contains("service `cvm`, which the sandbox does not serve (ssl, dnspod, sts)"),
        "{err}"
    );
}
