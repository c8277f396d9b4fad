//! What can go wrong calling the API, keeping what support will ask for.

use std::fmt;

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

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Api(#[from] ApiError),
    // The cause is part of the message rather than a separate source, so that a report of the
    // whole chain does not say it twice.
    #[error("{action}: could not reach {endpoint}: {cause}")]
    Transport { action: &'static str, endpoint: String, cause: reqwest::Error },
    #[error("{action}: {endpoint} answered HTTP {status}: {excerpt}")]
    HttpStatus { action: &'static str, endpoint: String, status: u16, excerpt: String },
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
}
