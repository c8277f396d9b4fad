//! The control API under `/_sandbox/`: what tests, demos and `certplan sandbox ...` do to a
//! running sandbox from outside the cloud API. This module owns the protocol — each endpoint's
//! path and JSON bodies, defined once here for both the server's handlers (`api::control`) and
//! [`ControlClient`] — so the two cannot drift apart. The endpoints are not part of the
//! Tencent Cloud API and take no credentials: a sandbox trusts whoever can reach it.
//!
//! | Endpoint                | Body                    | Answer                       |
//! |-------------------------|-------------------------|------------------------------|
//! | `POST /_sandbox/age`    | `{"Days": N}`           | `{"Aged": count, "Days": N}` |
//! | `POST /_sandbox/{op}`   | `{"CertificateId": ID}` | `{"CertificateId": ID}`      |
//! | `POST /_sandbox/faults` | [`Faults`]              | `{"Faults": {..}}`           |
//! | `POST /_sandbox/seed`   | `{"Domains": [..]}`     | `{"CertificateIds": [..]}`   |
//! | `GET /_sandbox/stats`   |                         | [`Stats`]                    |
//!
//! `{op}` is a console operation's [name](crate::ConsoleOp::name): `validate`, `revoke`,
//! `cancel`, `delete` or `reissue`. A refusal is an HTTP error status with a plain-text reason: 400 for a
//! body the endpoint cannot read or faults that are not probabilities, 409 for a console
//! operation on a certificate that does not exist or is in the wrong status, 500 when the
//! sandbox cannot save its certificates.
//!
//! [`Faults`]: crate::Faults
//! [`Stats`]: crate::Stats

mod client;

use serde::{Deserialize, Serialize};

pub use client::{ControlClient, ControlError};

use crate::Faults;

/// The control API's paths, as the router matches them.
pub(crate) mod path {
    use crate::ConsoleOp;

    pub(crate) const AGE: &str = "/_sandbox/age";
    pub(crate) const FAULTS: &str = "/_sandbox/faults";
    pub(crate) const STATS: &str = "/_sandbox/stats";
    pub(crate) const SEED: &str = "/_sandbox/seed";
    /// Every console operation, at `/_sandbox/` followed by [`ConsoleOp::name`].
    pub(crate) const CONSOLE: &str = "/_sandbox/{op}";

    /// Returns the path of one console operation.
    pub(crate) fn console(op: ConsoleOp) -> String {
        format!("/_sandbox/{}", op.name())
    }
}

/// `POST /_sandbox/age`: makes every certificate `days` older.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct AgeRequest {
    pub days: i64,
}

/// How many certificates were made older, and by how many days.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct AgeResponse {
    pub aged: usize,
    pub days: i64,
}

/// `POST /_sandbox/{op}`: the certificate a console operation is done to, named again in the
/// answer.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct ConsoleTarget {
    pub certificate_id: String,
}

/// The answer to `POST /_sandbox/faults`: the faults now injected.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct FaultsResponse {
    pub faults: Faults,
}

/// `POST /_sandbox/seed`: one issued certificate to add per domain.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct SeedRequest {
    pub domains: Vec<String>,
}

/// The ids of the seeded certificates, in the order of their domains.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct SeedResponse {
    pub certificate_ids: Vec<String>,
}
