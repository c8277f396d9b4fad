//! The control API under `/_sandbox/`: what tests, demos and `certplan sandbox ...` do to a
//! running sandbox from outside the cloud API. This module owns the protocol — each endpoint's
//! path and JSON bodies, defined once here for both the server's handlers (`api::control`) and
//! [`ControlClient`] — so the two cannot drift apart. The endpoints are not part of the
//! Tencent Cloud API and take no credentials: a sandbox trusts whoever can reach it.
//!
//! Accounts: the sandbox keeps its accounts apart by SecretId, and so does this API. An
//! endpoint that acts on a certificate (`{op}`, `bind`, `bindings/{id}`) finds its account by
//! the id, which is unique across accounts (an account the data file holds and the sandbox no
//! longer serves included). Those that act on an account (`seed`, `seed-certificate`,
//! `dns-zones`, `bindings`, `fail-deploys`, `deploy-tasks`) act on the first, or on the one
//! whose SecretId the
//! `X-Sandbox-Account` header names — `curl -H 'X-Sandbox-Account: AKID…'
//! http://127.0.0.1:8443/_sandbox/deploy-tasks`; [`ControlClient::for_account`] sends it — and
//! answer 404 for an account the sandbox does not serve. `age` ages every account's
//! certificates, `faults` apply to every request, and `stats` counts every request, in all and
//! by account; they ignore the header.
//!
//! | Endpoint                | Body                    | Answer                       |
//! |-------------------------|-------------------------|------------------------------|
//! | `POST /_sandbox/age`    | `{"Days": N}`           | `{"Aged": count, "Days": N}` |
//! | `POST /_sandbox/{op}`   | `{"CertificateId": ID}` | `{"CertificateId": ID}`      |
//! | `POST /_sandbox/faults` | [`Faults`]              | `{"Faults": {..}}`           |
//! | `POST /_sandbox/seed`   | `{"Domains": [..]}`     | `{"CertificateIds": [..]}`   |
//! | `POST /_sandbox/seed-certificate` | [`SeedCertificate`] | `{"CertificateId": ID}` |
//! | `GET /_sandbox/stats`   |                         | [`Stats`]                    |
//! | `POST /_sandbox/bind`   | `{"CertificateId": ID, "ResourceType": T, "Region": R or null, "Instance": I}` | [`Binding`] |
//! | `GET /_sandbox/bindings` |                        | `{"Bindings": [..]}`         |
//! | `GET /_sandbox/bindings/{id}` |                   | `{"Bindings": [..]}` of certificate `id` |
//! | `POST /_sandbox/fail-deploys` | `{"BindingId": N, "Count": N}` | [`Binding`]      |
//! | `GET /_sandbox/deploy-tasks` |                    | `{"DeployTasks": [..]}` ([`DeployTask`]) |
//! | `POST /_sandbox/dns-zones` | `{"Zones": [..]}`  | `{"Zones": [..]}`, every zone held |
//!
//! `{op}` is a console operation's [name](crate::ConsoleOp::name): `validate`, `revoke`,
//! `cancel`, `delete` or `reissue`. `bind` names the resource as `DeployCertificateInstance`'s
//! `InstanceIdList` does (see [`crate::deploy`]'s binding formats); `fail-deploys` makes the
//! next `Count` deploy attempts on a binding fail. A refusal is an HTTP error status with a
//! plain-text reason: 400 for a body the endpoint cannot read, faults that are not
//! probabilities or an instance not in its type's format, 409 for a console operation or a
//! binding on a certificate (or binding) that does not exist or is in the wrong state —
//! deleting a certificate that still serves cloud resources, revoking or reissuing an uploaded
//! one included — 404 for an account it does not serve, 500 when the sandbox cannot save its
//! certificates. `dns-zones` adds DNSPod domains to the account (400 for a name that is not a
//! zone). `seed-certificate` adds one issued certificate of a kind (`free`, `paid`, `upload`)
//! ending `ExpiresInDays` from now (400 for one that would have to begin in the future).
//!
//! [`Faults`]: crate::Faults
//! [`Stats`]: crate::Stats
//! [`Binding`]: crate::Binding
//! [`DeployTask`]: crate::DeployTask
//! [`SeedCertificate`]: crate::SeedCertificate

mod client;

use serde::{Deserialize, Serialize};

pub use client::{ControlClient, ControlError};

use crate::{Binding, DeployTask, Faults};

/// The header that names, by SecretId, the account an account's endpoint acts on.
pub(crate) const ACCOUNT_HEADER: &str = "x-sandbox-account";

/// The control API's paths, as the router matches them.
pub(crate) mod path {
    use crate::ConsoleOp;

    pub(crate) const AGE: &str = "/_sandbox/age";
    pub(crate) const FAULTS: &str = "/_sandbox/faults";
    pub(crate) const STATS: &str = "/_sandbox/stats";
    pub(crate) const SEED: &str = "/_sandbox/seed";
    pub(crate) const SEED_CERTIFICATE: &str = "/_sandbox/seed-certificate";
    pub(crate) const BIND: &str = "/_sandbox/bind";
    pub(crate) const BINDINGS: &str = "/_sandbox/bindings";
    /// The bindings of one certificate: [`BINDINGS`] followed by `/` and its id.
    pub(crate) const BINDINGS_OF: &str = "/_sandbox/bindings/{certificate_id}";
    pub(crate) const FAIL_DEPLOYS: &str = "/_sandbox/fail-deploys";
    pub(crate) const DEPLOY_TASKS: &str = "/_sandbox/deploy-tasks";
    pub(crate) const DNS_ZONES: &str = "/_sandbox/dns-zones";
    /// Every console operation, at `/_sandbox/` followed by [`ConsoleOp::name`].
    pub(crate) const CONSOLE: &str = "/_sandbox/{op}";

    /// Returns the path of one console operation.
    pub(crate) fn console(op: ConsoleOp) -> String {
        format!("/_sandbox/{}", op.name())
    }
}

/// `POST /_sandbox/age`: makes every certificate of every account `days` older.
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
    /// In the answer to a reissue: the new certificate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub new_certificate_id: Option<String>,
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

/// The answer to `POST /_sandbox/seed-certificate`: the id of the certificate seeded.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct SeedCertificateResponse {
    pub certificate_id: String,
}

/// `POST /_sandbox/bind`: a cloud resource to bind to a certificate.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct BindRequest {
    pub certificate_id: String,
    pub resource_type: String,
    #[serde(default)]
    pub region: Option<String>,
    pub instance: String,
}

/// The answer to `GET /_sandbox/bindings[/{id}]`.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct BindingsResponse {
    pub bindings: Vec<Binding>,
}

/// `POST /_sandbox/fail-deploys`: how many of a binding's next deploy attempts fail.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct FailDeploysRequest {
    pub binding_id: u64,
    pub count: u32,
}

/// `POST /_sandbox/dns-zones`: the zones to add; in the answer, every zone held.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct DnsZones {
    pub zones: Vec<String>,
}

/// The answer to `GET /_sandbox/deploy-tasks`.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct DeployTasksResponse {
    pub deploy_tasks: Vec<DeployTask>,
}
