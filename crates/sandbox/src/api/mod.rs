//! The HTTP service: the router, the API's entry point at `POST /` (fault injection, then
//! authentication, the rate limit of the signing account, dispatch to an action of the service
//! the request is signed for, and publishing the TXT records a DNSPod action changed) and the
//! response envelope every action answers in. What an action does lives in [`apply`],
//! [`upload`], [`certificates`], [`list`], for delivery in [`deploy`], [`records`] and
//! [`bindings`], for DNSPod in [`dnspod`] and for STS in [`sts`]; the control API under
//! `/_sandbox/` in [`control`]. Every action acts on the [`Account`] that signed the request:
//! a certificate, task or zone of another account is answered as one that does not exist, as
//! the real service answers it. Nothing here may answer an API error with anything but HTTP 200
//! and `Response.Error`: SDKs read the error from the body, not the status.

mod apply;
mod auth;
mod bindings;
mod certificates;
mod control;
mod deploy;
mod dnspod;
mod list;
mod params;
mod records;
mod sts;
mod upload;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use certplan_provider::Service;
use rand::Rng;
use serde_json::{Map, Value, json};

use crate::control::path;
use crate::{Account, Sandbox};
use params::Params;

pub(crate) fn router(sandbox: Sandbox) -> Router {
    Router::new()
        .route("/", post(handle_api))
        .route(path::AGE, post(control::handle_age))
        .route(path::FAULTS, post(control::handle_faults))
        .route(path::STATS, get(control::handle_stats))
        .route(path::SEED, post(control::handle_seed))
        .route(path::SEED_CERTIFICATE, post(control::handle_seed_certificate))
        .route(path::CONSOLE, post(control::handle_console))
        .route(path::BIND, post(control::handle_bind))
        .route(path::BINDINGS, get(control::handle_bindings))
        .route(path::BINDINGS_OF, get(control::handle_bindings_of))
        .route(path::FAIL_DEPLOYS, post(control::handle_fail_deploys))
        .route(path::DEPLOY_TASKS, get(control::handle_deploy_tasks))
        .route(path::DNS_ZONES, post(control::handle_dns_zones))
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

fn missing_parameter(name: &str) -> Failure {
    fail("MissingParameter", format!("The request is missing a required parameter `{name}`."))
}

fn not_found(id: &str) -> Failure {
    fail("FailedOperation.CertificateNotFound", format!("Certificate `{id}` does not exist."))
}

fn internal(e: impl std::fmt::Display) -> Failure {
    fail("InternalError", e.to_string())
}

fn invalid_action(action: &str) -> Failure {
    fail("InvalidAction", format!("The action `{action}` is invalid or not found."))
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
    let roll = |rate: f64| rand::rng().random_bool(rate);
    let pick_code = || {
        (!faults.error_codes.is_empty()).then(|| {
            faults.error_codes[rand::rng().random_range(0..faults.error_codes.len())].clone()
        })
    };
    if roll(faults.hang_rate) {
        // Accepted, and never answered: the client must give up on its own.
        return std::future::pending().await;
    }
    if roll(faults.reset_rate) {
        return broken_response();
    }
    if roll(faults.error_rate)
        && let Some(code) = pick_code()
    {
        return injected_error(&code);
    }
    let mut action_name = String::new();
    let outcome = auth::authenticate(&sandbox, &headers, &body).and_then(|signed| {
        let auth::Signed { service, action, account } = signed;
        if !sandbox.admit(&account.options().secret_id, &action) {
            let limit = sandbox.rate_limit_of(&action);
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
        action_name = action.clone();
        let region = headers
            .get("x-tc-region")
            .and_then(|v| v.to_str().ok())
            .filter(|r| !r.is_empty())
            .map(str::to_owned);
        let params = Params::new(params, region);
        match service {
            Service::SSL => ssl(&account, &action, params).map(|answer| (answer, None)),
            Service::DNSPOD => dnspod::dnspod(&account, &action, params),
            sts::SERVICE => sts::sts(&account, &action, params).map(|answer| (answer, None)),
            other => Err(fail(
                "InvalidAction",
                format!("The sandbox serves no actions of service `{}`.", other.name),
            )),
        }
    });
    let (mut answer, txt_changed) = match outcome {
        Ok(done) => done,
        Err(failure) => return envelope(Err(failure)),
    };
    if let Some(name) = txt_changed
        && let Err(e) = sandbox.publish_txt(&name).await
    {
        // The records changed; a test whose CA resolves with pebble-challtestsrv must not go on
        // as if that server had them.
        tracing::error!("cannot publish the TXT records of {name}: {e}");
        let message = format!(
            "The change was made, but the TXT records of {name} could not be published: {e}"
        );
        return envelope(Err(internal(message)));
    }
    match action_name.as_str() {
        // The certificate exists now; what follows is what the client is told.
        "ApplyCertificate" => {
            if roll(faults.drop_rate) {
                return broken_response();
            }
            if roll(faults.error_after_apply_rate)
                && let Some(code) = pick_code()
            {
                return injected_error(&code);
            }
            if roll(faults.empty_id_rate) {
                answer["CertificateId"] = Value::String(String::new());
            }
        }
        "DescribeCertificates" if roll(faults.malformed_list_rate) => answer = json!({}),
        _ => {}
    }
    if faults.padding_bytes > 0 {
        let padding = usize::try_from(faults.padding_bytes).unwrap_or(usize::MAX);
        answer["Padding"] = Value::String("x".repeat(padding));
    }
    envelope(Ok(answer))
}

/// The answer to an injected failure: an HTTP error page, or an API error envelope.
fn injected_error(code: &str) -> Response {
    match code {
        "HTTP502" => (StatusCode::BAD_GATEWAY, "502 Bad Gateway").into_response(),
        "HTTP503" => (StatusCode::SERVICE_UNAVAILABLE, "503 Service Unavailable").into_response(),
        code => error_envelope(code, "Injected fault: the service is busy, try again later."),
    }
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

/// Runs an action of the SSL service.
fn ssl(account: &Account<'_>, action: &str, params: Params) -> Outcome {
    match action {
        "ApplyCertificate" => apply::apply_certificate(account, params),
        "DescribeCertificateDetail" => certificates::describe_certificate_detail(account, params),
        "DescribeCertificates" => list::describe_certificates(account, params),
        "DownloadCertificate" => certificates::download_certificate(account, params),
        "CompleteCertificate" => certificates::complete_certificate(account, params),
        "DeleteCertificate" => certificates::delete_certificate(account, params),
        "ModifyCertificateAlias" => certificates::modify_certificate_alias(account, params),
        "ModifyCertificateProject" => certificates::modify_certificate_project(account, params),
        "ModifyCertificatesExpiringNotificationSwitch" => {
            certificates::modify_certificates_expiring_notification_switch(account, params)
        }
        "UpdateCertificateInstance" => deploy::update_certificate_instance(account, params),
        "DeployCertificateInstance" => deploy::deploy_certificate_instance(account, params),
        "UpdateCertificateRecordRetry" => deploy::update_certificate_record_retry(account, params),
        "UpdateCertificateRecordRollback" => {
            deploy::update_certificate_record_rollback(account, params)
        }
        "DescribeHostUpdateRecord" => records::describe_host_update_record(account, params),
        "CreateCertificateBindResourceSyncTask" => {
            bindings::create_certificate_bind_resource_sync_task(account, params)
        }
        "DescribeCertificateBindResourceTaskResult" => {
            bindings::describe_certificate_bind_resource_task_result(account, params)
        }
        "DescribeHostUpdateRecordDetail" => {
            records::describe_host_update_record_detail(account, params)
        }
        "DescribeHostDeployRecordDetail" => {
            records::describe_host_deploy_record_detail(account, params)
        }
        "UploadCertificate" => upload::upload_certificate(account, params),
        other => Err(invalid_action(other)),
    }
}
