//! The server side of the control API under `/_sandbox/` (its paths, bodies and account header
//! are defined in [`crate::control`]): each handler reads its body, calls one [`Sandbox`] (or
//! [`Account`]) method and answers with JSON, or refuses with an HTTP error status and a
//! plain-text reason. Unlike the cloud API, these endpoints take no credentials and never have
//! faults injected.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::control::{
    ACCOUNT_HEADER, AgeRequest, AgeResponse, BindRequest, BindingsResponse, ConsoleTarget,
    DeployTasksResponse, DnsZones, FailDeploysRequest, FaultsResponse, SeedCertificateResponse,
    SeedRequest, SeedResponse,
};
use crate::{
    Account, BindError, ConsoleError, ConsoleOp, DnsZone, Faults, Sandbox, SeedCertificate,
    SeedError,
};

/// Reads a JSON object body as `T`, ignoring fields `T` does not have.
fn object<T: DeserializeOwned>(body: &[u8]) -> Option<T> {
    // Through a `Value` because serde would also build a struct from a JSON array of its
    // fields, and these bodies have always had to be objects.
    match serde_json::from_slice::<Value>(body) {
        Ok(object @ Value::Object(_)) => serde_json::from_value(object).ok(),
        _ => None,
    }
}

/// Answers with what `act` does to the account a call names in its [`ACCOUNT_HEADER`] (the
/// first, when it names none); refuses (404) an account the sandbox does not serve.
fn on_named_account(
    sandbox: &Sandbox,
    headers: &HeaderMap,
    act: impl FnOnce(Account<'_>) -> Response,
) -> Response {
    let Some(named) = headers.get(ACCOUNT_HEADER) else { return act(sandbox.first_account()) };
    let Ok(secret_id) = named.to_str() else {
        let reason = format!("the {ACCOUNT_HEADER} header is not text");
        return (StatusCode::BAD_REQUEST, reason).into_response();
    };
    match sandbox.account(secret_id) {
        Some(account) => act(account),
        None => {
            let reason = format!("the sandbox serves no account with SecretId {secret_id}");
            (StatusCode::NOT_FOUND, reason).into_response()
        }
    }
}

/// `POST /_sandbox/{validate,revoke,cancel,delete} {"CertificateId": ID}`.
pub(super) async fn handle_console(
    State(sandbox): State<Sandbox>,
    Path(op): Path<String>,
    body: Bytes,
) -> Response {
    let Some(op) = ConsoleOp::parse(&op) else {
        return (StatusCode::NOT_FOUND, format!("no console operation {op:?}")).into_response();
    };
    let Some(ConsoleTarget { certificate_id: id, .. }) = object(&body) else {
        return (StatusCode::BAD_REQUEST, "expected {\"CertificateId\": \"...\"}").into_response();
    };
    match sandbox.console(op, &id) {
        Ok(new_certificate_id) => {
            Json(ConsoleTarget { certificate_id: id, new_certificate_id }).into_response()
        }
        Err(
            e @ (ConsoleError::NotFound(_)
            | ConsoleError::WrongStatus { .. }
            | ConsoleError::Bound { .. }
            | ConsoleError::Uploaded { .. }),
        ) => (StatusCode::CONFLICT, e.to_string()).into_response(),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}

/// `POST /_sandbox/faults {"LatencyMs": .., "ErrorRate": .., "ErrorCodes": [..], ...}`.
pub(super) async fn handle_faults(State(sandbox): State<Sandbox>, body: Bytes) -> Response {
    let faults = match serde_json::from_slice::<Faults>(&body) {
        Ok(f) => f,
        Err(e) => {
            return (StatusCode::BAD_REQUEST, format!("expected Faults JSON: {e}")).into_response();
        }
    };
    match sandbox.set_faults(faults) {
        Ok(()) => Json(FaultsResponse { faults: sandbox.faults() }).into_response(),
        Err(e) => (StatusCode::BAD_REQUEST, e).into_response(),
    }
}

/// `POST /_sandbox/seed {"Domains": [..]}`: adds an issued certificate per domain to the
/// account, without the API and its rate limit; answers their ids.
pub(super) async fn handle_seed(
    State(sandbox): State<Sandbox>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Some(SeedRequest { domains }) = object(&body) else {
        return (StatusCode::BAD_REQUEST, "expected {\"Domains\": [\"...\"]}").into_response();
    };
    on_named_account(&sandbox, &headers, |account| match account.seed_issued(&domains) {
        Ok(certificate_ids) => Json(SeedResponse { certificate_ids }).into_response(),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    })
}

/// `POST /_sandbox/seed-certificate {"Domain", "Kind", "ExpiresInDays"}`: adds one issued
/// certificate of that kind to the account, without the API; answers its id.
pub(super) async fn handle_seed_certificate(
    State(sandbox): State<Sandbox>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Some(seed) = object::<SeedCertificate>(&body) else {
        return (
            StatusCode::BAD_REQUEST,
            "expected {\"Domain\": \"...\", \"Kind\": \"free\" | \"paid\" | \"upload\", \"ExpiresInDays\": <integer>}",
        )
            .into_response();
    };
    on_named_account(&sandbox, &headers, |account| match account.seed_certificate(&seed) {
        Ok(certificate_id) => Json(SeedCertificateResponse { certificate_id }).into_response(),
        Err(e @ SeedError::TooLong { .. }) => {
            (StatusCode::BAD_REQUEST, e.to_string()).into_response()
        }
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    })
}

/// `POST /_sandbox/dns-zones {"Zones": [..]}`: adds DNS zones to the account; answers every
/// zone it holds.
pub(super) async fn handle_dns_zones(
    State(sandbox): State<Sandbox>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Some(DnsZones { zones }) = object(&body) else {
        return (StatusCode::BAD_REQUEST, "expected {\"Zones\": [\"...\"]}").into_response();
    };
    let zones = match zones.iter().map(|z| z.parse()).collect::<Result<Vec<DnsZone>, _>>() {
        Ok(zones) => zones,
        Err(e) => return (StatusCode::BAD_REQUEST, e.to_string()).into_response(),
    };
    on_named_account(&sandbox, &headers, |account| match account.add_dns_zones(&zones) {
        Ok(zones) => Json(DnsZones { zones }).into_response(),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    })
}

/// `GET /_sandbox/stats`: request counts by action and rate-limit refusals, in all and by
/// account.
pub(super) async fn handle_stats(State(sandbox): State<Sandbox>) -> Response {
    Json(sandbox.stats()).into_response()
}

/// `POST /_sandbox/age {"Days": N}`: makes every certificate of every account N days older.
pub(super) async fn handle_age(State(sandbox): State<Sandbox>, body: Bytes) -> Response {
    let Some(AgeRequest { days }) = object(&body) else {
        return (StatusCode::BAD_REQUEST, "expected {\"Days\": <integer>}").into_response();
    };
    match sandbox.age(days) {
        Ok(aged) => Json(AgeResponse { aged, days }).into_response(),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}

/// `POST /_sandbox/bind {"CertificateId", "ResourceType", "Region", "Instance"}`: binds a cloud
/// resource to a certificate, in the account that holds it; answers the binding.
pub(super) async fn handle_bind(State(sandbox): State<Sandbox>, body: Bytes) -> Response {
    let Some(BindRequest { certificate_id, resource_type, region, instance }) = object(&body)
    else {
        return (
            StatusCode::BAD_REQUEST,
            "expected {\"CertificateId\": \"...\", \"ResourceType\": \"...\", \"Region\": \"...\" or null, \"Instance\": \"...\"}",
        )
            .into_response();
    };
    let bound = sandbox.bind(&certificate_id, &resource_type, region.as_deref(), &instance);
    binding_answer(bound)
}

/// `POST /_sandbox/fail-deploys {"BindingId": N, "Count": N}`: makes the next deploy attempts
/// on the account's binding fail; answers the binding.
pub(super) async fn handle_fail_deploys(
    State(sandbox): State<Sandbox>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Some(FailDeploysRequest { binding_id, count }) = object(&body) else {
        return (
            StatusCode::BAD_REQUEST,
            "expected {\"BindingId\": <integer>, \"Count\": <integer>}",
        )
            .into_response();
    };
    on_named_account(&sandbox, &headers, |account| {
        binding_answer(account.fail_next_deploys(binding_id, count))
    })
}

fn binding_answer(outcome: Result<crate::Binding, BindError>) -> Response {
    match outcome {
        Ok(binding) => Json(binding).into_response(),
        Err(e @ BindError::Target(_)) => (StatusCode::BAD_REQUEST, e.to_string()).into_response(),
        Err(e @ BindError::Store(_)) => {
            (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response()
        }
        Err(e) => (StatusCode::CONFLICT, e.to_string()).into_response(),
    }
}

/// `GET /_sandbox/bindings`: every binding of the account.
pub(super) async fn handle_bindings(
    State(sandbox): State<Sandbox>,
    headers: HeaderMap,
) -> Response {
    on_named_account(&sandbox, &headers, |account| bindings_answer(account.bindings(None)))
}

/// `GET /_sandbox/bindings/{certificate_id}`: the bindings of one certificate, in the account
/// that holds it.
pub(super) async fn handle_bindings_of(
    State(sandbox): State<Sandbox>,
    Path(certificate_id): Path<String>,
) -> Response {
    bindings_answer(sandbox.bindings(Some(&certificate_id)))
}

fn bindings_answer(outcome: Result<Vec<crate::Binding>, crate::StoreError>) -> Response {
    match outcome {
        Ok(bindings) => Json(BindingsResponse { bindings }).into_response(),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}

/// `GET /_sandbox/deploy-tasks`: every deploy task the account's requests created, oldest
/// first.
pub(super) async fn handle_deploy_tasks(
    State(sandbox): State<Sandbox>,
    headers: HeaderMap,
) -> Response {
    on_named_account(&sandbox, &headers, |account| match account.deploy_tasks() {
        Ok(deploy_tasks) => Json(DeployTasksResponse { deploy_tasks }).into_response(),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    })
}
