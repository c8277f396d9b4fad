//! The Tencent Cloud SSL API client: TC3-HMAC-SHA256 signing, typed requests and responses
//! (wire types kept apart from domain types), and typed errors that keep the cloud's `Code`,
//! `Message` and `RequestId`. An answer quoted in an error or a log never carries a private key.
//!
//! It does what it is asked and decides nothing: which certificates to apply for is the planner's
//! business, when to call is the apply engine's.

mod client;
mod credentials;
mod delivery;
mod endpoint;
mod error;
mod pacing;
pub mod tc3;
pub mod wire;

pub use client::{Client, ClientOptions, DESCRIBE_PAGE_LIMIT};
pub use credentials::{Credentials, CredentialsError, SecretKey};
pub use delivery::{CertificatePems, DeployProgress, DeployRecord, DeployRequested};
pub use endpoint::{DEFAULT_ENDPOINT, Endpoint, EndpointError};
pub use error::{ApiError, Error};
pub use pacing::{Pacer, backoff};

/// The service name in the credential scope.
pub const SERVICE: &str = "ssl";
/// The API version every request names in `X-TC-Version`.
pub const API_VERSION: &str = "2019-12-05";
