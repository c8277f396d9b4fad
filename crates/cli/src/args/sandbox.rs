//! The `certplan sandbox` command line: serving the emulator with its faults, and controlling
//! a running one as the console would.

use std::path::PathBuf;

use certplan_sandbox::{DnsZone, Faults, SandboxAccount};
use clap::{Args, Subcommand};

// Parsed once per process: the size of its largest variant costs nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
pub enum SandboxCommand {
    /// Serve the sandbox API until interrupted
    Serve {
        /// The address to listen on; port 0 picks a free port
        #[arg(long, default_value = "127.0.0.1:0")]
        listen: String,
        /// Persist certificates to FILE across restarts (in memory when absent)
        #[arg(long, value_name = "FILE")]
        data: Option<PathBuf>,
        /// The SecretId the sandbox accepts [default: $TENCENTCLOUD_SECRET_ID, else the
        /// sandbox's own]
        #[arg(long)]
        secret_id: Option<String>,
        /// The SecretKey the sandbox accepts [default: $TENCENTCLOUD_SECRET_KEY, else the
        /// sandbox's own]
        #[arg(long)]
        secret_key: Option<String>,
        /// An account the sandbox serves, kept apart from the others by its SecretId; repeat
        /// for several (the first holds the --dns-zone zones) [default: one account, of
        /// --secret-id and --secret-key]
        #[arg(
            long = "account",
            value_name = "SECRET_ID:SECRET_KEY",
            value_parser = parse_account,
            conflicts_with_all = ["secret_id", "secret_key"]
        )]
        accounts: Vec<SandboxAccount>,
        /// How long automatic DNS validation (DNS_AUTO) takes before a certificate issues
        #[arg(long, value_name = "DURATION", default_value = "0s", value_parser = humantime::parse_duration)]
        issue_delay: std::time::Duration,
        #[command(flatten)]
        faults: FaultArgs,
        /// How long a deployment task takes per cloud resource it moves
        #[arg(long, value_name = "DURATION", default_value = "1s", value_parser = humantime::parse_duration)]
        deploy_step: std::time::Duration,
        /// Requests per second each action accepts, as the real service (10); 0 for no limit
        #[arg(long, value_name = "N", default_value_t = 10)]
        rate_limit: u32,
        /// Free certificates one main domain may hold, as the real service's quota; 0 for no limit
        #[arg(long, value_name = "N", default_value_t = 0)]
        quota_per_domain: u32,
        /// Free certificates each account may apply for in a calendar year, as the real
        /// service's yearly quota (FailedOperation.ExceedsFreeLimit); 0 for no limit
        #[arg(long, value_name = "N", default_value_t = 0)]
        free_per_year: u32,
        /// A DNS zone (DNSPod domain) the (first) account holds, such as example.com; repeat for
        /// more
        #[arg(long = "dns-zone", value_name = "ZONE")]
        dns_zones: Vec<DnsZone>,
        /// Publish TXT records as they change to the pebble-challtestsrv whose management API
        /// is at URL (http://127.0.0.1:8055), for an ACME CA that resolves names with it
        #[arg(long, value_name = "URL")]
        challtestsrv: Option<String>,
    },
    /// Make every sandbox certificate N days older (to exercise renewal)
    Age {
        /// How many days older
        #[arg(long)]
        days: i64,
        #[command(flatten)]
        target: SandboxTarget,
    },
    /// Bind a cloud resource to a certificate, as deploying it in the console would
    Bind {
        /// The certificate: its id, or the address of the resource that holds it
        #[arg(value_name = "ID_OR_ADDRESS")]
        id: String,
        /// The resource type: clb, cdn, waf, live, ddos, teo, apigateway, vod, tke, tcb, tse,
        /// cos, mqtt, scf, tdmq, gaap
        resource_type: String,
        /// The instance, as DeployCertificateInstance names it: `lb-1|lbl-2` or
        /// `lb-1|lbl-2|www.example.com` (clb), `www.example.com` (cdn)…
        instance: String,
        /// The region, for the region-scoped types (clb, tke, apigateway, waf, tcb, tse, cos,
        /// mqtt, scf, tdmq)
        #[arg(long)]
        region: Option<String>,
        #[command(flatten)]
        target: SandboxTarget,
    },
    /// List the cloud resources bound to certificates (of one, when given)
    Bindings {
        /// Only this certificate's
        id: Option<String>,
        #[command(flatten)]
        target: SandboxTarget,
    },
    /// Complete domain validation of a pending certificate (as the CA would)
    Validate(ConsoleArgs),
    /// Revoke an issued certificate (as in the console)
    Revoke(ConsoleArgs),
    /// Cancel a pending order (as in the console)
    Cancel(ConsoleArgs),
    /// Delete a certificate (as in the console, which ignores the API's one-hour rule)
    Delete(ConsoleArgs),
    /// Reissue an issued certificate (as in the console): a new one, linked to it
    Reissue(ConsoleArgs),
}

/// Reads an account as `--account` names it: `SECRET_ID:SECRET_KEY` (a key may hold colons; a
/// SecretId does not).
fn parse_account(text: &str) -> Result<SandboxAccount, String> {
    match text.split_once(':') {
        Some((id, key)) if !id.is_empty() && !key.is_empty() => Ok(SandboxAccount::new(id, key)),
        _ => Err("expected SECRET_ID:SECRET_KEY, such as AKIDexample:example-key".to_owned()),
    }
}

/// Failures the sandbox injects (for testing clients).
#[derive(Debug, Args)]
pub struct FaultArgs {
    /// Add this much latency to every API request
    #[arg(long, value_name = "DURATION", default_value = "0s", value_parser = humantime::parse_duration)]
    pub latency: std::time::Duration,
    /// Fail this share of requests (0 to 1) with one of --error-codes
    #[arg(long, value_name = "RATE", default_value_t = 0.0)]
    pub error_rate: f64,
    /// Codes to fail with: API codes such as InternalError, or HTTP502 / HTTP503
    #[arg(
        long,
        value_name = "CODES",
        value_delimiter = ',',
        default_value = "InternalError,RequestLimitExceeded,FailedOperation.NetworkError,HTTP502,HTTP503"
    )]
    pub error_codes: Vec<String>,
    /// Reset this share of connections (0 to 1) before handling the request
    #[arg(long, value_name = "RATE", default_value_t = 0.0)]
    pub reset_rate: f64,
    /// Drop the response of this share of successful ApplyCertificate calls (0 to 1): the
    /// certificate exists, the client sees a reset connection
    #[arg(long, value_name = "RATE", default_value_t = 0.0)]
    pub drop_rate: f64,
    /// Answer this share of successful ApplyCertificate calls (0 to 1) with one of
    /// --error-codes: the certificate exists, the client is told it failed
    #[arg(long, value_name = "RATE", default_value_t = 0.0)]
    pub error_after_apply_rate: f64,
    /// Answer this share of successful ApplyCertificate calls (0 to 1) with an empty
    /// CertificateId
    #[arg(long, value_name = "RATE", default_value_t = 0.0)]
    pub empty_id_rate: f64,
    /// Answer this share of DescribeCertificates calls (0 to 1) without Certificates and
    /// TotalCount
    #[arg(long, value_name = "RATE", default_value_t = 0.0)]
    pub malformed_list_rate: f64,
    /// Pad every successful answer with this many bytes
    #[arg(long, value_name = "BYTES", default_value_t = 0)]
    pub padding_bytes: u64,
    /// Accept this share of requests (0 to 1) and never answer them
    #[arg(long, value_name = "RATE", default_value_t = 0.0)]
    pub hang_rate: f64,
    /// Fail this share of the cloud resources a deployment task moves (0 to 1)
    #[arg(long, value_name = "RATE", default_value_t = 0.0)]
    pub deploy_failure_rate: f64,
    /// End this share of the queries of where certificates are bound (0 to 1) failed
    #[arg(long, value_name = "RATE", default_value_t = 0.0)]
    pub bind_query_failure_rate: f64,
}

impl FaultArgs {
    pub fn faults(self) -> Faults {
        Faults {
            latency_ms: u64::try_from(self.latency.as_millis()).unwrap_or(u64::MAX),
            error_rate: self.error_rate,
            error_codes: self.error_codes,
            reset_rate: self.reset_rate,
            drop_rate: self.drop_rate,
            error_after_apply_rate: self.error_after_apply_rate,
            empty_id_rate: self.empty_id_rate,
            malformed_list_rate: self.malformed_list_rate,
            padding_bytes: self.padding_bytes,
            hang_rate: self.hang_rate,
            deploy_failure_rate: self.deploy_failure_rate,
            bind_query_failure_rate: self.bind_query_failure_rate,
        }
    }
}

#[derive(Debug, Args)]
pub struct SandboxTarget {
    /// A running sandbox's URL; without it, the embedded sandbox of the configuration
    /// directory is used
    #[arg(long, value_name = "URL")]
    pub endpoint: Option<String>,
}

#[derive(Debug, Args)]
pub struct ConsoleArgs {
    /// The certificate: its id, or the address of the resource that holds it (as the state
    /// records it: the embedded sandbox's, or certplan.state.json with --endpoint)
    #[arg(value_name = "ID_OR_ADDRESS", required_unless_present = "all")]
    pub certificate: Option<String>,
    /// Every certificate the state records as waiting for validation (validate only)
    #[arg(long, conflicts_with = "certificate")]
    pub all: bool,
    #[command(flatten)]
    pub target: SandboxTarget,
}
