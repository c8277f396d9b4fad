//! What can go wrong calling the API, keeping what support will ask for — and what each failure
//! proves about whether the service acted.

use std::fmt;
use std::time::Duration;

/// An error the API answered with: HTTP 200 and an `Error` in the envelope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub action: &'static str,
    pub code: String,
    pub message: String,
    pub request_id: String,
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} failed: {}: {} (RequestId: {})",
            self.action, self.code, self.message, self.request_id
        )
    }
}

impl std::error::Error for ApiError {}

/// Codes (and the families under them) whose meaning is that the request was refused before the
/// service did anything: credentials, parameters, permissions, quotas. The reference lists them
/// in "Error codes that matter".
const REFUSED_BEFORE_ACTING: [&str; 18] = [
    "AuthFailure",
    "InvalidAction",
    "InvalidParameter",
    "InvalidParameterValue",
    "MissingParameter",
    "UnknownParameter",
    "NoSuchVersion",
    "UnsupportedOperation",
    "UnauthorizedOperation",
    "FailedOperation.ExceedsFreeLimit",
    "FailedOperation.MainDomainCertificateCountLimit",
    "FailedOperation.InvalidParam",
    "FailedOperation.AuthError",
    "FailedOperation.NoProjectPermission",
    "FailedOperation.NoRealNameAuth",
    "FailedOperation.RenewNotIssued",
    "FailedOperation.InvalidCertificateStatusCode",
    "FailedOperation.CertificateNotFound",
];

impl ApiError {
    /// Returns true when the code proves the service refused the request before acting on it.
    /// Every other code — internal errors, a busy CA, "resource in use", rate limits, and codes
    /// this version does not know — may have been answered after the service acted.
    pub fn refused_before_acting(&self) -> bool {
        REFUSED_BEFORE_ACTING.iter().any(|family| is_in_family(&self.code, family))
    }
}

/// Returns whether `code` is `family` itself or one of its sub-codes (`family.Something`).
pub(crate) fn is_in_family(code: &str, family: &str) -> bool {
    code.strip_prefix(family).is_some_and(|rest| rest.is_empty() || rest.starts_with('.'))
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Api(#[from] ApiError),
    // The cause is part of the message rather than a separate source, so that a report of the
    // whole chain does not say it twice.
    #[error("{action}: could not reach {endpoint}: {cause}")]
    Transport { action: &'static str, endpoint: String, cause: reqwest::Error },
    #[error("{action}: {endpoint} did not answer: timed out after {} s", after.as_secs())]
    TimedOut { action: &'static str, endpoint: String, after: Duration },
    #[error("{action}: {endpoint} answered HTTP {status}: {excerpt}")]
    HttpStatus { action: &'static str, endpoint: String, status: u16, excerpt: String },
    #[error(
        "{action}: the answer from {endpoint} is larger than {} MiB, which no real answer reaches; it was not read",
        limit / (1024 * 1024)
    )]
    TooLarge { action: &'static str, endpoint: String, limit: usize },
    #[error("{action}: unexpected response from {endpoint}: {detail}")]
    Decode { action: &'static str, endpoint: String, detail: String },
}

impl Error {
    /// Returns the cloud's error code, when the API answered with one.
    pub fn code(&self) -> Option<&str> {
        match self {
            Error::Api(api) => Some(&api.code),
            _ => None,
        }
    }

    /// Returns true when this failure of a call proves the service did nothing: an answer that
    /// refused the request. No answer, a broken answer, or an error the service may give after
    /// acting proves nothing, and a non-idempotent call must be looked up before it is re-sent.
    pub fn proves_nothing_done(&self) -> bool {
        match self {
            Error::Api(api) => api.refused_before_acting(),
            // No connection was made: the request was never sent.
            Error::Transport { cause, .. } if cause.is_connect() => true,
            Error::Transport { .. }
            | Error::TimedOut { .. }
            | Error::HttpStatus { .. }
            | Error::TooLarge { .. }
            | Error::Decode { .. } => false,
        }
    }
}

/// Up to 200 characters of a body, for a message: control characters (a terminal's escape
/// sequences among them) are shown escaped, never sent to the terminal.
pub(crate) fn excerpt(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let mut cut: String = text
        .chars()
        .take(200)
        .flat_map(|c| {
            let escaped: Vec<char> =
                if c.is_control() { c.escape_default().collect() } else { vec![c] };
            escaped
        })
        .collect();
    if text.chars().count() > 200 {
        cut.push('…');
    }
    cut
}

#[cfg(test)]
mod tests {
    use super::*;

    fn api(code: &str) -> Error {
        Error::Api(ApiError {
            action: "ApplyCertificate",
            code: code.to_owned(),
            message: String::new(),
            request_id: String::new(),
        })
    }

    #[test]
    fn only_refusals_prove_nothing_was_done() {
        for refused in [
            "AuthFailure.SignatureFailure",
            "AuthFailure.SecretIdNotFound",
            "InvalidParameter",
            "InvalidParameter.DomainInvalid",
            "InvalidParameterValue.CertificateDomainMaxLengthInvalid",
            "MissingParameter",
            "UnknownParameter",
            "UnauthorizedOperation",
            "FailedOperation.MainDomainCertificateCountLimit",
            "FailedOperation.ExceedsFreeLimit",
            "FailedOperation.NoRealNameAuth",
        ] {
            assert!(api(refused).proves_nothing_done(), "{refused}");
        }
        for maybe_acted in [
            "InternalError",
            "InternalError.DbError",
            "FailedOperation.NetworkError",
            "ResourceUnavailable",
            "ResourceInUse",
            "RequestLimitExceeded",
            "RequestLimitExceeded.UinLimitExceeded",
            "LimitExceeded.RateLimitExceeded",
            "FailedOperation",
            "FailedOperation.SomethingNew",
            "AuthFailureish",
            "",
        ] {
            assert!(!api(maybe_acted).proves_nothing_done(), "{maybe_acted:?}");
        }
        let no_answer = Error::TimedOut {
            action: "ApplyCertificate",
            endpoint: String::new(),
            after: Duration::from_secs(20),
        };
        assert!(!no_answer.proves_nothing_done());
    }

    #[test]
    fn excerpts_never_carry_control_characters() {
        let shown = excerpt(b"<html>\x1b[31mred\x07\r\n</html>");
        assert!(!shown.chars().any(char::is_control), "{shown:?}");
        assert!(shown.contains("\\u{1b}[31mred"), "{shown}");
        assert!(excerpt(&[b'x'; 500]).ends_with('…'));
    }
}
