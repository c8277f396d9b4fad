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
/// in "Error codes that matter"; the upload and DNSPod ones come from the SDK's error codes.
const REFUSED_BEFORE_ACTING: [&str; 28] = [
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
    // A deploy task refused for what it names: a resource type the service does not move, an
    // instance id it cannot parse, or no instance to move at all.
    "FailedOperation.CertificateHostResourceTypeInvalid",
    "FailedOperation.CertificateDeployInstanceFormatError",
    "FailedOperation.CertificateDeployInstanceEmpty",
    // An upload refused for its PEM material: unreadable, a key that is not the
    // certificate's, a chain that does not chain.
    "FailedOperation.CertificateParseError",
    "FailedOperation.CertificateMismatch",
    "FailedOperation.CertificateMatchError",
    "FailedOperation.CertificateInvalid",
    "FailedOperation.CertificateChainError",
    // DNSPod: no permission on the zone, and a TTL below the zone's plan
    // (`InvalidParameter.DomainRecordExist`, a record held already, is an `InvalidParameter`).
    "OperationDenied",
    "LimitExceeded.RecordTtlLimit",
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
    /// Build it with [`Error::decode`], which redacts key material from the detail.
    #[error("{action}: unexpected response from {endpoint}: {detail}")]
    Decode { action: &'static str, endpoint: String, detail: String },
    /// The certificate exists but the API gives no PEM for it: it is not issued (yet).
    #[error(
        "certificate {certificate_id} has no PEM yet: DescribeCertificateDetail gives CertificatePublicKey only once it is issued"
    )]
    NoPem { certificate_id: String },
    /// The certificate is in the account of a provider configuration this run has no client
    /// for: the configuration no longer declares it.
    #[error(
        "no provider \"tencentcloud\" block declares {provider}, whose account holds the certificate: declare it again, with that account's credentials (certplan needs them to read, renew or delete what it holds there)"
    )]
    NoProvider { provider: certplan_core::ProviderRef },
}

impl Error {
    /// Builds an [`Error::Decode`]. The detail may quote the answer (a serde message quotes the
    /// value it could not read): a private key in it is redacted before it can reach a message
    /// or a log.
    pub(crate) fn decode(action: &'static str, endpoint: &str, detail: &str) -> Self {
        Error::Decode {
            action,
            endpoint: endpoint.to_owned(),
            detail: redact_private_keys(detail).into_owned(),
        }
    }

    /// Returns the cloud's error code, when the API answered with one.
    pub fn code(&self) -> Option<&str> {
        match self {
            Error::Api(api) => Some(&api.code),
            _ => None,
        }
    }

    /// Returns true when `DeployCertificateInstance` was refused because the instances have
    /// the certificate already (or, the same code, do not accept it: only a caller that knows
    /// it asked for the deployment before may read it as done).
    pub fn is_deployed_already(&self) -> bool {
        self.code() == Some("FailedOperation.CertificateNotDeployInstance")
    }

    /// Returns the account's yearly limit of free certificates when the service refused an
    /// application for it (`FailedOperation.ExceedsFreeLimit`): the number its message gives,
    /// or `Some(None)` when it gives none.
    pub fn free_limit_reached(&self) -> Option<Option<u64>> {
        let Error::Api(api) = self else { return None };
        (api.code == "FailedOperation.ExceedsFreeLimit").then(|| last_number(&api.message))
    }

    /// Says what to do about a refusal for the free quota, for a person to read: `None` for
    /// any other error.
    pub fn quota_advice(&self) -> Option<String> {
        let Error::Api(api) = self else { return None };
        let acme = "or order it from an ACME CA instead (an acme_certificate, uploaded to the account and delivered the same way)";
        match api.code.as_str() {
            "FailedOperation.ExceedsFreeLimit" => Some(format!(
                "the account has used its yearly quota of free certificates{}: wait for the new year, delete the free certificates it no longer uses (`certplan certificates` lists them), {acme}",
                last_number(&api.message).map_or(String::new(), |n| format!(" ({n})"))
            )),
            "FailedOperation.MainDomainCertificateCountLimit" => Some(format!(
                "the main domain holds as many free certificates as it may ({}): delete or revoke the ones of that domain no longer used (`certplan certificates`), {acme}",
                api.message.trim_end_matches('.')
            )),
            _ => None,
        }
    }

    /// Returns true when the service says the certificate named does not exist.
    pub fn is_not_found(&self) -> bool {
        self.code() == Some("FailedOperation.CertificateNotFound")
    }

    /// Returns true when the service refused to delete a certificate only because it is less
    /// than an hour old (free certificates cannot be deleted in their first hour).
    pub fn is_too_young_to_delete(&self) -> bool {
        matches!(
            self.code(),
            Some(
                "FailedOperation.CannotBeDeletedWithinHour"
                    | "FailedOperation.DeleteFailedTimeNotUp"
            )
        )
    }

    /// Returns true when this failure of a call proves the service did nothing: an answer that
    /// refused the request. No answer, a broken answer, or an error the service may give after
    /// acting proves nothing, and a non-idempotent call must be looked up before it is re-sent.
    pub fn proves_nothing_done(&self) -> bool {
        match self {
            Error::Api(api) => api.refused_before_acting(),
            // An answer to a read, which changes nothing; or no request at all.
            Error::NoPem { .. } | Error::NoProvider { .. } => true,
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

/// The last whole number in `text` that can be a yearly limit of certificates (1 to 10 000,
/// not a year or a date): a limit a message of the service names.
fn last_number(text: &str) -> Option<u64> {
    let mut numbers = text.split(|c: char| !c.is_ascii_digit()).filter_map(|n| n.parse().ok());
    numbers.rfind(|n: &u64| (1..=10_000).contains(n) && !(1990..=2100).contains(n))
}

/// Up to 200 characters of a body, for a message: private keys are redacted, and control
/// characters (a terminal's escape sequences among them) are shown escaped, never sent to the
/// terminal.
pub(crate) fn excerpt(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    // Before the cut, so that what follows a long key still shows.
    let text = redact_private_keys(&text);
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

/// What a private key is replaced with wherever an answer is quoted.
pub(crate) const KEY_REDACTED: &str = "(private key redacted)";

/// Replaces every PEM private key block (`-----BEGIN … PRIVATE KEY-----` to its `-----END …-----`
/// line) with [`KEY_REDACTED`]. A block cut short, with no END line, is redacted to the end of
/// the text. The markers are found whatever separates the lines, so a key still JSON-escaped
/// (`\n` between its lines) is found too. `DescribeCertificateDetail` answers with the key
/// certplan exports: a quoted answer must never carry it into a terminal, a CI log or a report.
pub(crate) fn redact_private_keys(text: &str) -> std::borrow::Cow<'_, str> {
    const BEGIN: &str = "-----BEGIN ";
    const END: &str = "-----END ";
    const DASHES: &str = "-----";
    if !text.contains(BEGIN) {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut redacted = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find(BEGIN) {
        let after = &rest[start + BEGIN.len()..];
        // `PRIVATE KEY`, `RSA PRIVATE KEY`, `EC PRIVATE KEY`, `ENCRYPTED PRIVATE KEY`…; a
        // label with no closing dashes runs to the end of the text.
        let label = after.find(DASHES).map_or(after, |i| &after[..i]);
        if !label.contains("PRIVATE KEY") {
            redacted.push_str(&rest[..start + BEGIN.len()]);
            rest = after;
            continue;
        }
        redacted.push_str(&rest[..start]);
        redacted.push_str(KEY_REDACTED);
        rest = after
            .find(END)
            .map(|e| &after[e + END.len()..])
            .and_then(|end_line| end_line.find(DASHES).map(|d| &end_line[d + DASHES.len()..]))
            .unwrap_or("");
    }
    redacted.push_str(rest);
    std::borrow::Cow::Owned(redacted)
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
            "FailedOperation.CertificateNotFound",
            "FailedOperation.CertificateHostResourceTypeInvalid",
            "FailedOperation.CertificateDeployInstanceFormatError",
            "FailedOperation.CertificateDeployInstanceEmpty",
            "FailedOperation.CertificateParseError",
            "FailedOperation.CertificateMismatch",
            "InvalidParameter.DomainRecordExist",
            "InvalidParameterValue.DomainNotExists",
            "OperationDenied.NoPermissionToOperateDomain",
            "LimitExceeded.RecordTtlLimit",
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

    const KEY_BODY: &str = "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7";

    #[test]
    fn private_keys_are_redacted_and_certificates_kept() {
        let body = format!(
            "chain -----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n\
             key -----BEGIN RSA PRIVATE KEY-----\n{KEY_BODY}\n-----END RSA PRIVATE KEY-----\nafter"
        );
        let shown = redact_private_keys(&body);
        assert!(!shown.contains(KEY_BODY), "{shown}");
        assert_eq!(
            shown,
            "chain -----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n\
             key (private key redacted)\nafter"
        );
        assert!(matches!(redact_private_keys("no key here"), std::borrow::Cow::Borrowed(_)));
    }

    #[test]
    fn json_escaped_and_several_keys_are_redacted() {
        let body = format!(
            r#"{{"CertificatePrivateKey":"-----BEGIN PRIVATE KEY-----\n{KEY_BODY}\n-----END PRIVATE KEY-----\n","Other":"-----BEGIN EC PRIVATE KEY-----\\n{KEY_BODY}\\n-----END EC PRIVATE KEY-----","Status":1}}"#
        );
        let shown = redact_private_keys(&body);
        assert!(!shown.contains(KEY_BODY), "{shown}");
        assert_eq!(
            shown,
            r#"{"CertificatePrivateKey":"(private key redacted)\n","Other":"(private key redacted)","Status":1}"#
        );
    }

    #[test]
    fn a_key_cut_short_is_redacted_to_the_end() {
        for cut in [
            format!("x -----BEGIN ENCRYPTED PRIVATE KEY-----\\n{KEY_BODY}"),
            format!("x -----BEGIN PRIVATE KEY-----\n{KEY_BODY}\n-----END PRIV"),
            format!("x -----BEGIN PRIVATE KEY-----\n{KEY_BODY}\n-----END PRIVATE KEY"),
            "x -----BEGIN PRIVATE KEY".to_owned(),
        ] {
            assert_eq!(redact_private_keys(&cut), "x (private key redacted)", "{cut}");
        }
    }

    #[test]
    fn excerpts_and_decode_errors_never_quote_a_key() {
        // A key longer than an excerpt: redacted first, what follows it still fits.
        let body = format!(
            "{}\"CertificatePrivateKey\": \"-----BEGIN PRIVATE KEY-----\\n{KEY_BODY}{}\\n-----END PRIVATE KEY-----\\n\", \"Status\": 1",
            "x".repeat(100),
            "A".repeat(500)
        );
        let shown = excerpt(body.as_bytes());
        assert!(!shown.contains(&KEY_BODY[..20]), "{shown}");
        assert!(shown.ends_with("(private key redacted)\\n\", \"Status\": 1"), "{shown}");
        let err = Error::decode(
            "DescribeCertificateDetail",
            "https://ssl.tencentcloudapi.com",
            &format!(
                "invalid type: string \"-----BEGIN PRIVATE KEY-----\n{KEY_BODY}\", expected u64"
            ),
        );
        let message = err.to_string();
        assert!(!message.contains(KEY_BODY), "{message}");
        assert!(message.contains("invalid type: string \"(private key redacted)"), "{message}");
    }
}
