//! The harness every module shares: a `certplan sandbox serve` process, a project directory that
//! applies to it, a finished run of the binary, and builders for the configurations the tests
//! apply. It asserts only what must hold for every run (no secret, no colour); the tests assert
//! the rest.

use std::future::Future;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};

use certplan_provider::wire::DescribeCertificatesRequest;
use certplan_provider::{Client, Credentials, Endpoint};
use certplan_sandbox::{Binding, ControlClient, DeployTask, Faults, Stats};
use serde_json::Value;

pub(crate) const BIN: &str = env!("CARGO_BIN_EXE_certplan");
pub(crate) const SECRET_ID: &str = "AKIDe2eTest";
pub(crate) const SECRET_KEY: &str = "e2e-secret-key-never-printed";
/// The second account of a sandbox with two ([`Project::with_accounts`]): the one the
/// configuration's `provider "tencentcloud" { alias = "prod" }` reaches.
pub(crate) const PROD_SECRET_ID: &str = "AKIDe2eProd";
pub(crate) const PROD_SECRET_KEY: &str = "e2e-prod-secret-key-never-printed";
/// A third account, which no provider of [`PROD_PROVIDER`] reaches unless told to.
pub(crate) const OTHER_SECRET_ID: &str = "AKIDe2eOther";
pub(crate) const OTHER_SECRET_KEY: &str = "e2e-other-secret-key-never-printed";

/// The `prod` provider of a project with two accounts: its credentials from variables
/// (`CERTPLAN_VAR_prod_id`, `CERTPLAN_VAR_prod_key`), its requests timing out after 2 s.
pub(crate) const PROD_PROVIDER: &str = r#"variable "prod_id" {
  type = string
}

variable "prod_key" {
  type      = string
  sensitive = true
}

provider "tencentcloud" {
  alias           = "prod"
  secret_id       = var.prod_id
  secret_key      = var.prod_key
  request_timeout = "2s"
}

"#;
/// What every run of the binary scales its waits by (`CERTPLAN_TIME_SCALE`): polls and
/// backoffs of milliseconds where the real service needs seconds. Request timeouts, `--wait`
/// and hook timeouts are real time.
pub(crate) const TIME_SCALE: &str = "0.01";

/// A `certplan sandbox serve` process, killed on drop.
pub(crate) struct SandboxProcess {
    child: Child,
    pub(crate) url: String,
}

impl SandboxProcess {
    pub(crate) fn start(data: &Path, extra: &[&str]) -> Self {
        Self::start_accounts(data, &[(SECRET_ID, SECRET_KEY)], extra)
    }

    /// Starts a sandbox that keeps `accounts` (SecretId and SecretKey) apart.
    pub(crate) fn start_accounts(data: &Path, accounts: &[(&str, &str)], extra: &[&str]) -> Self {
        let accounts =
            accounts.iter().flat_map(|(id, key)| ["--account".into(), format!("{id}:{key}")]);
        let mut child = Command::new(BIN)
            .args(["sandbox", "serve", "--listen", "127.0.0.1:0", "--data"])
            .arg(data)
            .args(accounts)
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("sandbox starts");
        let mut stdout = BufReader::new(child.stdout.take().expect("piped stdout"));
        let mut first = String::new();
        stdout.read_line(&mut first).expect("sandbox prints its URL");
        // Keep reading so the sandbox never writes into a closed pipe.
        std::thread::spawn(move || std::io::copy(&mut stdout, &mut std::io::sink()));
        let url = first
            .trim()
            .strip_prefix("certplan sandbox listening on ")
            .unwrap_or_else(|| panic!("unexpected first line {first:?}"))
            .to_owned();
        SandboxProcess { child, url }
    }

    /// Returns a client for the sandbox's control API. A new one for each call: its pooled
    /// connections belong to the runtime that opened them, and each call has a runtime of its own.
    fn control(&self) -> ControlClient {
        ControlClient::new(&self.url)
    }

    /// Stops injecting failures, so the test itself can inspect the sandbox.
    pub(crate) fn clear_faults(&self) {
        block_on(self.control().clear_faults()).expect("faults cleared");
    }

    /// Injects `faults` from now on.
    pub(crate) fn set_faults(&self, faults: &Faults) {
        block_on(self.control().set_faults(faults)).expect("faults set");
    }

    /// Returns what the sandbox's API has served so far.
    pub(crate) fn stats(&self) -> Stats {
        block_on(self.control().stats()).expect("stats")
    }

    /// How many requests for `action` the sandbox has served.
    pub(crate) fn requests(&self, action: &str) -> u64 {
        self.stats().requests.get(action).copied().unwrap_or(0)
    }

    /// Adds an issued certificate for each domain behind the API's back; returns their ids in
    /// the order of `domains`.
    pub(crate) fn seed(&self, domains: &[impl AsRef<str>]) -> Vec<String> {
        block_on(self.control().seed(domains)).expect("seeded")
    }

    /// Adds a certificate of `kind` (`free`, `paid` or `upload`) for `domain`, expiring in
    /// `days`, behind the API's back; returns its id.
    pub(crate) fn seed_certificate(&self, domain: &str, kind: &str, days: i64) -> String {
        let kind = match kind {
            "free" => certplan_sandbox::SeedKind::Free,
            "paid" => certplan_sandbox::SeedKind::Paid,
            _ => certplan_sandbox::SeedKind::Upload,
        };
        let seed = certplan_sandbox::SeedCertificate {
            domain: domain.to_owned(),
            kind,
            expires_in_days: days,
        };
        block_on(self.control().seed_certificate(&seed)).expect("seeded")
    }

    /// Renews `old` (of `domain`) as the console or an SDK would, outside certplan: a signed
    /// `ApplyCertificate` with `OldCertificateId`. Returns the renewal's id.
    pub(crate) fn renew_outside(&self, old: &str, domain: &str) -> String {
        let client = self.client();
        let args =
            certplan_core::CertificateArgs::new(domain, certplan_core::DvAuthMethod::DnsAuto);
        block_on(client.apply_for_certificate(&args, None, Some(old)))
            .expect("renewed outside")
            .to_string()
    }

    /// Lists every certificate the sandbox holds, over its API.
    pub(crate) fn certificates(&self) -> Vec<Value> {
        self.certificates_in(SECRET_ID, SECRET_KEY)
    }

    /// Lists every certificate the account of `secret_id` holds, over its API.
    pub(crate) fn certificates_in(&self, secret_id: &str, secret_key: &str) -> Vec<Value> {
        let client = Client::new(
            Endpoint::parse(&self.url).expect("url"),
            Credentials::new(secret_id, secret_key),
        );
        block_on(async {
            let mut all = Vec::new();
            let page = client
                .describe_certificates(&DescribeCertificatesRequest {
                    limit: Some(1000),
                    ..Default::default()
                })
                .await
                .expect("listed");
            // The sandbox's list items carry alias, project and the renewal link too.
            for c in page.certificates.unwrap_or_default() {
                let remote = c.to_remote().expect("converts");
                all.push(serde_json::json!({
                    "id": c.certificate_id,
                    "domain": c.domain,
                    "status": c.status,
                    "alias": remote.alias,
                    "project": remote.project_id,
                    "origin": c.certificate_extra.and_then(|e| e.origin_certificate_id),
                }));
            }
            all
        })
    }

    /// Sets the alias of certificate `id` over the API, as the console or Terraform would.
    pub(crate) fn set_alias(&self, id: &str, alias: &str) {
        block_on(self.client().modify_certificate_alias(id, alias)).expect("alias set");
    }

    /// A client of the sandbox's API, with its credentials.
    fn client(&self) -> Client {
        Client::new(
            Endpoint::parse(&self.url).expect("url"),
            Credentials::new(SECRET_ID, SECRET_KEY),
        )
    }

    /// Binds a cloud resource to certificate `id`, as deploying it in the console would.
    pub(crate) fn bind(&self, id: &str, resource_type: &str, region: Option<&str>, instance: &str) {
        block_on(self.control().bind(id, resource_type, region, instance)).expect("bound");
    }

    /// Every cloud resource bound to a certificate: `(certificate id, type, instance)`.
    pub(crate) fn bindings(&self) -> Vec<Binding> {
        block_on(self.control().bindings(None)).expect("bindings")
    }

    /// Makes the next `count` deploy attempts on the binding of `instance` fail.
    pub(crate) fn fail_next_deploys(&self, instance: &str, count: u32) {
        let binding = self.bindings().into_iter().find(|b| b.instance == instance);
        let id = binding.unwrap_or_else(|| panic!("{instance} is bound")).id;
        block_on(self.control().fail_next_deploys(id, count)).expect("failure injected");
    }

    /// Every deploy task the API created (in the first account).
    pub(crate) fn deploy_tasks(&self) -> Vec<DeployTask> {
        block_on(self.control().deploy_tasks()).expect("deploy tasks")
    }

    /// Every deploy task the API created in the account of `secret_id`.
    pub(crate) fn deploy_tasks_in(&self, secret_id: &str) -> Vec<DeployTask> {
        block_on(self.control().for_account(secret_id).deploy_tasks()).expect("deploy tasks")
    }

    /// Adds issued certificates behind the API's back in the account of `secret_id`.
    pub(crate) fn seed_in(&self, secret_id: &str, domains: &[&str]) -> Vec<String> {
        block_on(self.control().for_account(secret_id).seed(domains)).expect("seeded")
    }

    /// Does to a certificate what a person would do in the console, through the CLI.
    pub(crate) fn console(&self, op: &str, id: &str) {
        let done = run_plain(&["sandbox", op, id, "--endpoint", &self.url]);
        assert_eq!(done.code, 0, "{}", done.stderr);
    }
}

impl Drop for SandboxProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs `future` to completion on a current-thread runtime of its own: the tests are synchronous.
pub(crate) fn block_on<F: Future>(future: F) -> F::Output {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("rt");
    rt.block_on(future)
}

/// A configuration directory with a sandbox to apply to.
pub(crate) struct Project {
    dir: tempfile::TempDir,
    pub(crate) sandbox: SandboxProcess,
    /// Variables every command of the project runs with (besides the sandbox's).
    pub(crate) env: Vec<(String, String)>,
}

impl Project {
    pub(crate) fn new(config: &str) -> Self {
        Self::with_sandbox(config, &[])
    }

    /// A project whose sandbox runs with extra `sandbox serve` flags.
    pub(crate) fn with_sandbox(config: &str, flags: &[&str]) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("main.hcl"), config).expect("write config");
        let sandbox = SandboxProcess::start(&dir.path().join("sandbox-data.json"), flags);
        Project { dir, sandbox, env: Vec::new() }
    }

    /// A project whose sandbox keeps three accounts apart — the default provider's, `prod`'s
    /// ([`PROD_PROVIDER`], its credentials given) and another — with extra `sandbox serve`
    /// flags.
    pub(crate) fn with_accounts(config: &str, flags: &[&str]) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("main.hcl"), config).expect("write config");
        let accounts = [
            (SECRET_ID, SECRET_KEY),
            (PROD_SECRET_ID, PROD_SECRET_KEY),
            (OTHER_SECRET_ID, OTHER_SECRET_KEY),
        ];
        let data = dir.path().join("sandbox-data.json");
        let sandbox = SandboxProcess::start_accounts(&data, &accounts, flags);
        let env =
            [("CERTPLAN_VAR_prod_id", PROD_SECRET_ID), ("CERTPLAN_VAR_prod_key", PROD_SECRET_KEY)];
        let env = env.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        Project { dir, sandbox, env }
    }

    pub(crate) fn path(&self) -> &Path {
        self.dir.path()
    }

    pub(crate) fn write_config(&self, config: &str) {
        std::fs::write(self.path().join("main.hcl"), config).expect("write config");
    }

    /// Builds a certplan command in the project with the sandbox's endpoint and credentials.
    pub(crate) fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(BIN);
        cmd.arg("--chdir")
            .arg(self.path())
            .args(args)
            .env("CERTPLAN_ENDPOINT", &self.sandbox.url)
            .env("TENCENTCLOUD_SECRET_ID", SECRET_ID)
            .env("TENCENTCLOUD_SECRET_KEY", SECRET_KEY)
            .env("NO_COLOR", "1")
            .env("CERTPLAN_TIME_SCALE", TIME_SCALE)
            .env_remove("CERTPLAN_LOG")
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null());
        cmd
    }

    /// Runs certplan in the project to completion.
    pub(crate) fn run(&self, args: &[&str]) -> Run {
        run(self.command(args))
    }

    pub(crate) fn state(&self) -> Value {
        let text = std::fs::read_to_string(self.path().join("certplan.state.json")).expect("state");
        serde_json::from_str(&text).expect("state is JSON")
    }

    pub(crate) fn state_ids(&self) -> Vec<String> {
        let state = self.state();
        let resources = state["resources"].as_object().expect("resources");
        resources.values().map(|r| r["certificate_id"].as_str().expect("id").to_owned()).collect()
    }

    /// Ages every certificate in the sandbox by `days`, through the CLI.
    pub(crate) fn age(&self, days: i64) {
        let aged = run_plain(&[
            "sandbox",
            "age",
            "--days",
            &days.to_string(),
            "--endpoint",
            &self.sandbox.url,
        ]);
        assert_eq!(aged.code, 0, "{}", aged.stderr);
    }
}

/// A finished run of certplan.
pub(crate) struct Run {
    pub(crate) code: i32,
    pub(crate) stdout: String,
    pub(crate) stderr: String,
}

/// Runs `cmd` to completion without a terminal; asserts it printed no secret and no colour.
pub(crate) fn run(mut cmd: Command) -> Run {
    let Output { status, stdout, stderr } =
        cmd.env("NO_COLOR", "1").stdin(Stdio::null()).output().expect("certplan runs");
    let run = Run {
        code: status.code().unwrap_or(-1),
        stdout: String::from_utf8(stdout).expect("utf8 stdout"),
        stderr: String::from_utf8(stderr).expect("utf8 stderr"),
    };
    for key in [SECRET_KEY, PROD_SECRET_KEY, OTHER_SECRET_KEY] {
        assert!(
            !run.stdout.contains(key) && !run.stderr.contains(key),
            "a SecretKey must never be printed"
        );
    }
    assert!(
        !run.stdout.contains('\u{1b}') && !run.stderr.contains('\u{1b}'),
        "no colour or progress bar outside a terminal"
    );
    run
}

/// Runs certplan outside any project, without credentials in its environment.
pub(crate) fn run_plain(args: &[&str]) -> Run {
    let mut cmd = Command::new(BIN);
    cmd.args(args).env_remove("TENCENTCLOUD_SECRET_ID").env_remove("TENCENTCLOUD_SECRET_KEY");
    run(cmd)
}

/// Starts `cmd` and kills it (SIGKILL) once `landed()` says it is where the kill must land,
/// asserting that it is still running then: a kill after the run ended would prove nothing.
pub(crate) fn kill_when(mut cmd: Command, landed: impl Fn() -> bool) {
    let mut child =
        cmd.stdout(Stdio::null()).stderr(Stdio::null()).spawn().expect("certplan starts");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while !landed() {
        assert!(child.try_wait().expect("polled").is_none(), "the kill lands mid-run");
        assert!(std::time::Instant::now() < deadline, "the run made no progress");
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    assert!(child.try_wait().expect("polled").is_none(), "the kill lands mid-run");
    child.kill().expect("SIGKILL");
    child.wait().expect("reaped");
}

/// Returns the id of the one certificate in the project's state.
pub(crate) fn only_id(p: &Project) -> String {
    let ids = p.state_ids();
    assert_eq!(ids.len(), 1, "{ids:?}");
    ids[0].clone()
}

/// A provider block whose requests time out after 2 s (the API answers in well under a
/// second; the sandbox's injected latency stays far below it). A run killed mid-application
/// leaves the next run to wait, in real time, until that application could no longer be
/// answered: its request's timeout. Tests that kill runs declare this so they wait 2 s, not 20.
pub(crate) const SHORT_REQUEST_TIMEOUT: &str =
    "provider \"tencentcloud\" {\n  request_timeout = \"2s\"\n}\n\n";

/// Declares a certificate validated by automatic DNS.
pub(crate) fn certificate(name: &str, domain: &str) -> String {
    format!(
        "resource \"tencentcloud_ssl_free_certificate\" \"{name}\" {{\n  domain         = \"{domain}\"\n  dv_auth_method = \"DNS_AUTO\"\n}}\n\n"
    )
}

/// Declares a certificate validated by automatic DNS in the `prod` account ([`PROD_PROVIDER`]).
pub(crate) fn prod_certificate(name: &str, domain: &str) -> String {
    format!(
        "resource \"tencentcloud_ssl_free_certificate\" \"{name}\" {{\n  provider       = tencentcloud.prod\n  domain         = \"{domain}\"\n  dv_auth_method = \"DNS_AUTO\"\n}}\n\n"
    )
}

/// Declares `www`, `api` and `shop`.
pub(crate) fn three_certificates() -> String {
    [
        certificate("www", "www.example.com"),
        certificate("api", "api.example.com"),
        certificate("shop", "shop.example.com"),
    ]
    .concat()
}

/// Declares a certificate with `body` (indented argument lines) after its domain.
pub(crate) fn resource(name: &str, domain: &str, body: &str) -> String {
    format!(
        "resource \"tencentcloud_ssl_free_certificate\" \"{name}\" {{\n  domain = \"{domain}\"\n{body}}}\n\n"
    )
}

/// Declares `n` certificates, `c00` to `c{n-1}`.
pub(crate) fn many_certificates(n: usize) -> String {
    (0..n).map(|i| certificate(&format!("c{i:02}"), &format!("c{i:02}.example.com"))).collect()
}

/// Declares one `site` resource with an instance per key, through `for_each`.
pub(crate) fn sites(keys: &[&str]) -> String {
    let list = keys.iter().map(|k| format!("\"{k}\"")).collect::<Vec<_>>().join(", ");
    format!(
        "resource \"tencentcloud_ssl_free_certificate\" \"site\" {{\n  for_each       = toset([{list}])\n  domain         = \"${{each.key}}.example.com\"\n  dv_auth_method = \"DNS_AUTO\"\n}}\n"
    )
}

/// Runs apply until a plan reports no changes; returns how many applies it took.
pub(crate) fn converge(p: &Project, most: usize) -> usize {
    for run in 1..=most {
        let apply = p.run(&["apply", "--auto-approve"]);
        assert!(!apply.stderr.contains("panicked"), "{}", apply.stderr);
        if p.run(&["plan", "--detailed-exitcode"]).code == 0 {
            return run;
        }
    }
    panic!("apply did not converge in {most} runs");
}

/// Asserts the sandbox holds exactly one certificate per resource, and that state records
/// exactly those.
pub(crate) fn assert_exactly_once(p: &Project, n: usize) {
    p.sandbox.clear_faults();
    let certs = p.sandbox.certificates();
    let mut domains: Vec<&str> = certs.iter().filter_map(|c| c["domain"].as_str()).collect();
    domains.sort_unstable();
    domains.dedup();
    assert_eq!((certs.len(), domains.len()), (n, n), "one certificate per resource: {certs:?}");
    let mut in_cloud: Vec<String> =
        certs.iter().filter_map(|c| c["id"].as_str().map(str::to_owned)).collect();
    let mut in_state = p.state_ids();
    in_cloud.sort();
    in_state.sort();
    assert_eq!(in_state, in_cloud, "state matches the cloud");
    assert!(p.state().get("intents").is_none(), "no unfinished intents");
}
