//! The Tencent Cloud API client, built for a [`Service`] (the SSL API, DNSPod's records in
//! [`dnspod`], and STS to learn which account credentials reach), and the [`Accounts`] of a
//! run — one client per provider configuration, each with its own credentials and pacer: one
//! TC3-HMAC-SHA256 signing, pacing, retry and error classification for every
//! service, typed requests and responses (wire types kept apart from domain types), and typed
//! errors that keep the cloud's `Code`, `Message` and `RequestId`, classified here
//! (`is_not_found`, `proves_nothing_done`…) rather than compared by callers. An answer quoted
//! in an error or a log never carries a private key, nor does a request uploading one.
//!
//! Beside Tencent Cloud, the other services certificates need: an ACME CA ([`acme`]) and DNS
//! lookups of published challenge records ([`dns`]).
//!
//! It does what it is asked and decides nothing: which certificates to apply for is the planner's
//! business, when to call is the apply engine's.

mod accounts;
pub mod acme;
mod bindings;
mod client;
mod credentials;
mod delivery;
pub mod dns;
pub mod dnspod;
mod endpoint;
mod error;
mod pacing;
pub mod tc3;
mod upload;
pub mod webhook;
pub mod wire;

pub use accounts::{Account, Accounts};
pub use bindings::{BIND_QUERY_LIMIT, BindQuery};
pub use client::{Client, ClientOptions, DESCRIBE_PAGE_LIMIT};
pub use credentials::{Credentials, CredentialsError, SecretKey};
pub use delivery::{CertificatePems, DeployProgress, DeployRecord, DeployRequested};
pub use endpoint::{DEFAULT_ENDPOINT, Endpoint, EndpointError};
pub use error::{ApiError, Error};
pub use pacing::{Pacer, backoff};
pub use upload::Uploaded;

/// A Tencent Cloud API service a [`Client`] is built for: the name its signatures' credential
/// scope carries, the version every request names in `X-TC-Version`, and where it is served.
/// The signing, pacing, retries and error classification are the same for every service.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Service {
    pub name: &'static str,
    pub version: &'static str,
    /// The public endpoint, `https://` and the service's host.
    pub endpoint: &'static str,
}

impl Service {
    /// SSL Certificates: free certificates, uploads, deployments.
    pub const SSL: Service =
        Service { name: "ssl", version: "2019-12-05", endpoint: "https://ssl.tencentcloudapi.com" };
    /// DNSPod: DNS records (DNS-01 challenges, publishing validation records).
    pub const DNSPOD: Service = Service {
        name: "dnspod",
        version: "2021-03-23",
        endpoint: "https://dnspod.tencentcloudapi.com",
    };
    /// Security Token Service: which account credentials belong to (`GetCallerIdentity`).
    pub const STS: Service =
        Service { name: "sts", version: "2018-08-13", endpoint: "https://sts.tencentcloudapi.com" };
}
