//! Request authentication as the real service does it: the `X-TC-Version` it serves, the ±5
//! minute timestamp window, the SecretId — which names the account the request is for — the
//! credential scope, and the TC3-HMAC-SHA256 signature with that account's key over exactly
//! the headers the request says it signed (their values as sent, or lower-cased as the
//! specification's example does). It decides only whether a request is genuine, and whose;
//! what the request asks for is the actions' business.

use axum::http::HeaderMap;
use certplan_provider::Service;
use certplan_provider::tc3::{self, Payload, SigningInput};

use super::{Failure, fail, missing_parameter, sts};
use crate::{Account, Sandbox};

/// The services the sandbox serves, each at the version the real one does. A request's
/// service is the one its signature's credential scope names (the real services are told
/// apart by host; the sandbox serves them all at one address).
pub(super) const SERVICES: &[Service] = &[Service::SSL, Service::DNSPOD, sts::SERVICE];
/// How far a request's timestamp may be from the server's clock.
const TIMESTAMP_WINDOW_SECS: i64 = 300;

fn header<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// A genuine request: the service it is signed for, its action, and the account whose
/// SecretId signed it.
pub(super) struct Signed<'s> {
    pub(super) service: Service,
    pub(super) action: String,
    pub(super) account: Account<'s>,
}

/// Checks service, version, timestamp, SecretId and signature.
pub(super) fn authenticate<'s>(
    sandbox: &'s Sandbox,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Signed<'s>, Failure> {
    let action = header(headers, "x-tc-action").ok_or_else(|| missing_parameter("Action"))?;
    let version = header(headers, "x-tc-version").ok_or_else(|| missing_parameter("Version"))?;
    let timestamp: i64 = header(headers, "x-tc-timestamp")
        .ok_or_else(|| missing_parameter("Timestamp"))?
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
    let service = SERVICES.iter().find(|s| s.name == authorization.service).ok_or_else(|| {
        let served: Vec<&str> = SERVICES.iter().map(|s| s.name).collect();
        fail(
            "AuthFailure.SignatureFailure",
            format!(
                "The credential scope names service `{}`, which the sandbox does not serve ({}).",
                authorization.service,
                served.join(", ")
            ),
        )
    })?;
    if version != service.version {
        return Err(fail(
            "NoSuchVersion",
            format!(
                "The requested version `{version}` does not exist for service `{}`.",
                service.name
            ),
        ));
    }
    let account = sandbox.account(authorization.secret_id).ok_or_else(|| {
        fail(
            "AuthFailure.SecretIdNotFound",
            "The SecretId is not found, please ensure that your SecretId is correct.",
        )
    })?;
    if authorization.date != tc3::utc_date(timestamp) {
        return Err(fail(
            "AuthFailure.SignatureFailure",
            "The credential scope does not match the request (the UTC date of the timestamp).",
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
    let signature = |headers: &[(&str, &str)]| {
        tc3::sign(&SigningInput {
            secret_id: authorization.secret_id,
            secret_key: &account.options().secret_key,
            service: service.name,
            method: "POST",
            uri: "/",
            query: "",
            headers,
            payload,
            timestamp,
        })
        .signature
    };
    let matches = |expected: String| {
        constant_time_eq(expected.as_bytes(), authorization.signature.as_bytes())
    };
    // The TC3 specification's own example signs `x-tc-action:describeinstances`: clients that
    // follow it lower-case the header values they sign, while the SDKs sign them as sent. The
    // real service accepts both, so a request may match either canonical form.
    let lowered: Vec<String> = signed.iter().map(|(_, value)| value.to_ascii_lowercase()).collect();
    let lowered: Vec<(&str, &str)> =
        signed.iter().zip(&lowered).map(|((name, _), value)| (*name, value.as_str())).collect();
    if !matches(signature(&signed)) && !matches(signature(&lowered)) {
        return Err(fail(
            "AuthFailure.SignatureFailure",
            "The provided credentials could not be validated. Please check your signature is correct.",
        ));
    }
    Ok(Signed { service: *service, action: action.to_owned(), account })
}

/// Compares without stopping at the first difference, so the time taken does not tell a
/// forger how much of a guessed signature was right.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
