//! End to end: the real `certplan` binary against the real sandbox (`certplan sandbox serve`)
//! over loopback HTTP, with real config and state files in a temp directory.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

use certplan_provider::wire::DescribeCertificatesRequest;
use certplan_provider::{Client, Credentials, Endpoint};
use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_certplan");
const SECRET_ID: &str = "AKIDe2eTest";
const SECRET_KEY: &str = "e2e-secret-key-never-printed";

/// A `certplan sandbox serve` process, killed on drop.
struct SandboxProcess {
    child: Child,
    url: String,
}

impl SandboxProcess {
    fn start(data: &Path, extra: &[&str]) -> Self {
        let mut child = Command::new(BIN)
            .args(["sandbox", "serve", "--listen", "127.0.0.1:0", "--data"])
            .arg(data)
            .args(["--secret-id", SECRET_ID, "--secret-key", SECRET_KEY])
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

    /// Stops injecting failures, so the test itself can inspect the sandbox.
    fn clear_faults(&self) {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("rt");
        let status = rt
            .block_on(
                reqwest::Client::new()
                    .post(format!("{}/_sandbox/faults", self.url))
                    .json(&serde_json::json!({}))
                    .send(),
            )
            .expect("faults cleared")
            .status();
        assert_eq!(status, 200);
    }

    /// How many requests for `action` the sandbox has served.
    fn requests(&self, action: &str) -> u64 {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("rt");
        let stats: Value = rt
            .block_on(async {
                reqwest::get(format!("{}/_sandbox/stats", self.url)).await?.json().await
            })
            .expect("stats");
        stats["Requests"][action].as_u64().unwrap_or(0)
    }

    /// Lists every certificate the sandbox holds, over its API.
    fn certificates(&self) -> Vec<Value> {
        let client = Client::new(
            Endpoint::parse(&self.url).expect("url"),
            Credentials::new(SECRET_ID, SECRET_KEY),
        );
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("rt");
        rt.block_on(async {
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
                let remote = c.to_remote();
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

    /// Does to a certificate what a person would do in the console, through the CLI.
    fn console(&self, op: &str, id: &str) {
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

/// A configuration directory with a sandbox to apply to.
struct Project {
    dir: tempfile::TempDir,
    sandbox: SandboxProcess,
}

impl Project {
    fn new(config: &str) -> Self {
        Self::with_sandbox(config, &[])
    }

    /// A project whose sandbox runs with extra `sandbox serve` flags.
    fn with_sandbox(config: &str, flags: &[&str]) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("main.hcl"), config).expect("write config");
        let sandbox = SandboxProcess::start(&dir.path().join("sandbox-data.json"), flags);
        Project { dir, sandbox }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn write_config(&self, config: &str) {
        std::fs::write(self.path().join("main.hcl"), config).expect("write config");
    }

    /// Builds a certplan command in the project with the sandbox's endpoint and credentials.
    fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(BIN);
        cmd.arg("--chdir")
            .arg(self.path())
            .args(args)
            .env("CERTPLAN_ENDPOINT", &self.sandbox.url)
            .env("TENCENTCLOUD_SECRET_ID", SECRET_ID)
            .env("TENCENTCLOUD_SECRET_KEY", SECRET_KEY)
            .env("NO_COLOR", "1")
            .env_remove("CERTPLAN_LOG")
            .stdin(Stdio::null());
        cmd
    }

    /// Runs certplan in the project to completion.
    fn run(&self, args: &[&str]) -> Run {
        run(self.command(args))
    }

    fn state(&self) -> Value {
        let text = std::fs::read_to_string(self.path().join("certplan.state.json")).expect("state");
        serde_json::from_str(&text).expect("state is JSON")
    }

    fn state_ids(&self) -> Vec<String> {
        let state = self.state();
        let resources = state["resources"].as_object().expect("resources");
        resources.values().map(|r| r["certificate_id"].as_str().expect("id").to_owned()).collect()
    }

    fn age(&self, days: i64) {
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

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

fn run(mut cmd: Command) -> Run {
    let Output { status, stdout, stderr } =
        cmd.env("NO_COLOR", "1").stdin(Stdio::null()).output().expect("certplan runs");
    let run = Run {
        code: status.code().unwrap_or(-1),
        stdout: String::from_utf8(stdout).expect("utf8 stdout"),
        stderr: String::from_utf8(stderr).expect("utf8 stderr"),
    };
    assert!(
        !run.stdout.contains(SECRET_KEY) && !run.stderr.contains(SECRET_KEY),
        "the SecretKey must never be printed"
    );
    assert!(
        !run.stdout.contains('\u{1b}') && !run.stderr.contains('\u{1b}'),
        "no colour or progress bar outside a terminal"
    );
    run
}

fn run_plain(args: &[&str]) -> Run {
    let mut cmd = Command::new(BIN);
    cmd.args(args).env_remove("TENCENTCLOUD_SECRET_ID").env_remove("TENCENTCLOUD_SECRET_KEY");
    run(cmd)
}

fn certificate(name: &str, domain: &str) -> String {
    format!(
        "resource \"tencentcloud_ssl_free_certificate\" \"{name}\" {{\n  domain         = \"{domain}\"\n  dv_auth_method = \"DNS_AUTO\"\n}}\n\n"
    )
}

fn three_certificates() -> String {
    [
        certificate("www", "www.example.com"),
        certificate("api", "api.example.com"),
        certificate("shop", "shop.example.com"),
    ]
    .concat()
}

#[test]
fn applies_then_renews_three_certificates_linked_to_the_old_ones() {
    let p = Project::new(&three_certificates());

    let apply = p.run(&["apply", "--auto-approve"]);
    assert_eq!(apply.code, 0, "{}\n{}", apply.stdout, apply.stderr);
    assert!(
        apply
            .stdout
            .contains("Apply complete! Resources: 3 added, 0 renewed, 0 changed, 0 destroyed.")
    );
    let first_ids = p.state_ids();
    assert_eq!(first_ids.len(), 3);
    assert_eq!(p.sandbox.certificates().len(), 3);

    let plan = p.run(&["plan", "--detailed-exitcode"]);
    assert_eq!(plan.code, 0, "{}\n{}", plan.stdout, plan.stderr);
    assert!(plan.stdout.contains("No changes."), "{}", plan.stdout);
    assert!(plan.stdout.contains("renews from"), "{}", plan.stdout);

    p.age(70);
    let plan = p.run(&["plan", "--detailed-exitcode"]);
    assert_eq!(plan.code, 2, "{}\n{}", plan.stdout, plan.stderr);
    // 20 days left less the seconds since the apply; the exact arithmetic is the planner's tests'.
    assert_eq!(
        plan.stdout.matches("will be renewed (expires in 19 days").count(),
        3,
        "{}",
        plan.stdout
    );
    assert_eq!(plan.stdout.matches("renew_before = 30d)").count(), 3, "{}", plan.stdout);
    assert!(plan.stdout.contains("Plan: 0 to add, 3 to renew, 0 to change, 0 to destroy."));

    let apply = p.run(&["apply", "--auto-approve"]);
    assert_eq!(apply.code, 0, "{}\n{}", apply.stdout, apply.stderr);
    assert!(
        apply.stdout.contains("Resources: 0 added, 3 renewed, 0 changed, 0 destroyed."),
        "{}",
        apply.stdout
    );

    let certs = p.sandbox.certificates();
    assert_eq!(certs.len(), 6, "three originals and three renewals: {certs:?}");
    let new_ids = p.state_ids();
    for id in &new_ids {
        assert!(!first_ids.contains(id), "state holds the renewed certificates");
        let cert = certs.iter().find(|c| c["id"] == id.as_str()).expect("in the sandbox");
        let origin = cert["origin"].as_str().expect("renewal is linked");
        assert!(first_ids.iter().any(|f| f == origin), "{cert}");
    }
    let state = p.state();
    for r in state["resources"].as_object().expect("resources").values() {
        assert_eq!(r["renewed_from"].as_array().map(Vec::len), Some(1), "{r}");
    }

    let plan = p.run(&["plan", "--detailed-exitcode"]);
    assert_eq!(plan.code, 0, "{}\n{}", plan.stdout, plan.stderr);
}

#[test]
fn removed_resources_are_deleted_and_expired_ones_replaced() {
    let p = Project::new(&three_certificates());
    assert_eq!(p.run(&["apply", "--auto-approve"]).code, 0);
    let before = p.state();
    let shop_id = before["resources"]["tencentcloud_ssl_free_certificate.shop"]["certificate_id"]
        .as_str()
        .expect("shop")
        .to_owned();

    p.write_config(
        &[certificate("www", "www.example.com"), certificate("api", "api.example.com")].concat(),
    );
    p.age(95);
    let plan = p.run(&["plan", "--detailed-exitcode"]);
    assert_eq!(plan.code, 2, "{}", plan.stderr);
    assert!(
        plan.stdout.contains(
            "tencentcloud_ssl_free_certificate.shop will be destroyed (not in configuration)"
        ),
        "{}",
        plan.stdout
    );
    assert_eq!(plan.stdout.matches("must be replaced (expired on").count(), 2, "{}", plan.stdout);
    assert!(
        plan.stdout.contains("Plan: 2 to add, 0 to renew, 0 to change, 3 to destroy."),
        "{}",
        plan.stdout
    );

    let apply = p.run(&["apply", "--auto-approve"]);
    assert_eq!(apply.code, 0, "{}\n{}", apply.stdout, apply.stderr);
    let certs = p.sandbox.certificates();
    assert_eq!(certs.len(), 2, "expired ones and the removed one deleted: {certs:?}");
    assert!(
        certs.iter().all(|c| c["status"] == 1 && c["origin"].is_null()),
        "new applications, not renewals: {certs:?}"
    );
    assert!(!certs.iter().any(|c| c["id"] == shop_id.as_str()));
    assert_eq!(p.state()["resources"].as_object().map(|r| r.len()), Some(2));
    assert_eq!(p.run(&["plan", "--detailed-exitcode"]).code, 0);
}

#[test]
fn a_certificate_deleted_outside_is_applied_for_again() {
    let p = Project::new(&certificate("www", "www.example.com"));
    assert_eq!(p.run(&["apply", "--auto-approve"]).code, 0);
    let id = p.state_ids().remove(0);
    p.sandbox.console("delete", &id);

    let plan = p.run(&["plan", "--detailed-exitcode"]);
    assert_eq!(plan.code, 2);
    assert!(
        plan.stdout
            .contains(&format!("will be created (certificate {id} no longer exists in the cloud)")),
        "{}",
        plan.stdout
    );
    assert_eq!(p.run(&["apply", "--auto-approve"]).code, 0);
    assert_eq!(p.sandbox.certificates().len(), 1);
    assert_ne!(p.state_ids()[0], id);
}

#[test]
fn apply_refuses_to_run_unapproved_without_a_terminal() {
    let p = Project::new(&certificate("www", "www.example.com"));
    let apply = p.run(&["apply"]);
    assert_eq!(apply.code, 1);
    assert!(apply.stderr.contains("--auto-approve"), "{}", apply.stderr);
    assert!(p.sandbox.certificates().is_empty(), "nothing applied for");
    assert!(!p.path().join("certplan.state.json").exists());
}

#[test]
fn refresh_false_plans_from_state_without_the_cloud() {
    let p = Project::new(&certificate("www", "www.example.com"));
    assert_eq!(p.run(&["apply", "--auto-approve"]).code, 0);
    let mut cmd = p.command(&["plan", "--refresh=false", "--detailed-exitcode"]);
    cmd.env("CERTPLAN_ENDPOINT", "http://127.0.0.1:9")
        .env_remove("TENCENTCLOUD_SECRET_ID")
        .env_remove("TENCENTCLOUD_SECRET_KEY");
    let plan = run(cmd);
    assert_eq!(plan.code, 0, "{}", plan.stderr);
    assert!(plan.stdout.contains("the cloud was not read (--refresh=false)"), "{}", plan.stdout);
}

#[test]
fn missing_credentials_and_wrong_keys_are_clear_errors() {
    let p = Project::new(&certificate("www", "www.example.com"));
    let mut cmd = p.command(&["apply", "--auto-approve"]);
    cmd.env_remove("TENCENTCLOUD_SECRET_ID").env_remove("TENCENTCLOUD_SECRET_KEY");
    let missing = run(cmd);
    assert_eq!(missing.code, 1);
    assert!(
        missing.stderr.contains("TENCENTCLOUD_SECRET_ID")
            && missing.stderr.contains("TENCENTCLOUD_SECRET_KEY"),
        "{}",
        missing.stderr
    );
    assert!(missing.stderr.contains("--sandbox"), "{}", missing.stderr);

    let mut cmd = p.command(&["apply", "--auto-approve"]);
    cmd.env("TENCENTCLOUD_SECRET_KEY", "a-wrong-key");
    let wrong = run(cmd);
    assert_eq!(wrong.code, 1);
    assert!(wrong.stderr.contains("AuthFailure.SignatureFailure"), "{}", wrong.stderr);
    assert!(wrong.stderr.contains("RequestId: "), "{}", wrong.stderr);
    assert!(p.sandbox.certificates().is_empty());
}

#[test]
fn config_errors_point_at_the_file_and_line() {
    let p = Project::new(
        "resource \"tencentcloud_ssl_free_certificate\" \"www\" {\n  domain = \"www.example.com\"\n  dv_auth_mode = \"DNS_AUTO\"\n}\n",
    );
    let plan = p.run(&["plan"]);
    assert_eq!(plan.code, 1);
    assert!(plan.stderr.contains("error: unknown argument \"dv_auth_mode\""), "{}", plan.stderr);
    assert!(plan.stderr.contains("main.hcl:3:3"), "{}", plan.stderr);
    assert!(plan.stderr.contains("did you mean \"dv_auth_method\"?"), "{}", plan.stderr);
    assert!(plan.stdout.is_empty());
}

#[test]
fn a_corrupt_state_file_is_refused_and_left_alone() {
    let p = Project::new(&certificate("www", "www.example.com"));
    let path = p.path().join("certplan.state.json");
    std::fs::write(&path, "{\"format_version\": 1, \"lineage\": \"x\", \"serial\": 3, \"reso")
        .expect("write");
    let apply = p.run(&["apply", "--auto-approve"]);
    assert_eq!(apply.code, 1);
    assert!(
        apply.stderr.contains("certplan.state.json") && apply.stderr.contains("truncated"),
        "{}",
        apply.stderr
    );
    let after = std::fs::read_to_string(&path).expect("still there");
    assert!(after.ends_with("\"reso"), "untouched");
    assert!(p.sandbox.certificates().is_empty());
}

#[test]
fn the_embedded_sandbox_runs_the_main_job_without_an_account() {
    let dir = tempfile::tempdir().expect("tempdir");
    let quickstart =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples/quickstart/main.hcl");
    std::fs::copy(quickstart, dir.path().join("main.hcl")).expect("copy example");
    let certplan = |args: &[&str]| {
        let mut cmd = Command::new(BIN);
        cmd.arg("--chdir")
            .arg(dir.path())
            .args(args)
            .env_remove("CERTPLAN_ENDPOINT")
            .env_remove("TENCENTCLOUD_SECRET_ID")
            .env_remove("TENCENTCLOUD_SECRET_KEY");
        run(cmd)
    };
    let apply = certplan(&["apply", "--sandbox", "--auto-approve"]);
    assert_eq!(apply.code, 0, "{}", apply.stderr);
    assert!(apply.stdout.contains("Resources: 3 added"), "{}", apply.stdout);
    assert!(dir.path().join(".certplan/sandbox.json").exists());
    assert_eq!(certplan(&["plan", "--sandbox", "--detailed-exitcode"]).code, 0);
    assert_eq!(certplan(&["sandbox", "age", "--days", "70"]).code, 0);
    let plan = certplan(&["plan", "--sandbox", "--detailed-exitcode"]);
    assert_eq!(plan.code, 2);
    assert!(
        plan.stdout.contains("Plan: 0 to add, 2 to renew"),
        "shop renews 14 days before expiry: {}",
        plan.stdout
    );
}

fn resource(name: &str, domain: &str, body: &str) -> String {
    format!(
        "resource \"tencentcloud_ssl_free_certificate\" \"{name}\" {{\n  domain = \"{domain}\"\n{body}}}\n\n"
    )
}

fn only_id(p: &Project) -> String {
    let ids = p.state_ids();
    assert_eq!(ids.len(), 1, "{ids:?}");
    ids[0].clone()
}

#[test]
fn manual_dns_validation_waits_with_its_record_then_issues() {
    let p = Project::new(
        &(resource("www", "www.example.com", "  dv_auth_method = \"DNS\"\n")
            + "output \"records\" {\n  value = tencentcloud_ssl_free_certificate.www.validation\n}\n"),
    );
    let apply = p.run(&["apply", "--auto-approve"]);
    assert_eq!(apply.code, 0, "{}", apply.stderr);
    assert!(apply.stderr.contains("is not issued yet"), "{}", apply.stderr);
    assert!(apply.stderr.contains("to validate the domain, add DNS record: _"), "{}", apply.stderr);
    let id = only_id(&p);
    // The record to publish, for DNS tooling.
    let records = p.run(&["output", "records", "--json"]);
    let records: Value = serde_json::from_str(&records.stdout).expect("output JSON");
    let record = &records[0];
    assert_eq!((&record["type"], &record["record_type"]), (&"DNS".into(), &"CNAME".into()));
    assert!(
        record["name"]
            .as_str()
            .is_some_and(|n| n.starts_with('_') && n.ends_with(".www.example.com")),
        "{records}"
    );
    assert!(apply.stderr.contains(record["value"].as_str().expect("value")), "{}", apply.stderr);
    assert_eq!(p.state()["resources"]["tencentcloud_ssl_free_certificate.www"]["status"], 0);

    let plan = p.run(&["plan", "--detailed-exitcode"]);
    assert_eq!(plan.code, 0, "waiting is not a change: {}", plan.stdout);
    assert!(plan.stdout.contains("waiting for domain validation, due by"), "{}", plan.stdout);
    assert!(plan.stdout.contains("add DNS record: _"), "{}", plan.stdout);
    assert!(plan.stdout.contains(".www.example.com  CNAME  "), "{}", plan.stdout);

    p.sandbox.console("validate", &id);
    let plan = p.run(&["plan", "--detailed-exitcode"]);
    assert_eq!(plan.code, 0, "{}", plan.stdout);
    assert!(!plan.stdout.contains("changed outside"), "issuance is not drift: {}", plan.stdout);
    assert!(plan.stdout.contains("renews from"), "{}", plan.stdout);
    assert_eq!(p.run(&["apply", "--auto-approve"]).code, 0);
    assert_eq!(p.state()["resources"]["tencentcloud_ssl_free_certificate.www"]["status"], 1);
    assert_eq!(p.sandbox.certificates().len(), 1, "no second application");
    let records = p.run(&["output", "records", "--json"]);
    assert_eq!(records.stdout.trim(), "[]", "nothing to publish once issued");
}

#[test]
fn validation_not_done_in_time_is_applied_for_again() {
    let p = Project::new(&resource("www", "www.example.com", "  dv_auth_method = \"FILE\"\n"));
    assert_eq!(p.run(&["apply", "--auto-approve"]).code, 0);
    let old = only_id(&p);
    p.age(8);
    let plan = p.run(&["plan", "--detailed-exitcode"]);
    assert_eq!(plan.code, 2, "{}", plan.stdout);
    assert!(
        plan.stdout.contains(&format!("({old}) is now validation failed (was pending validation)")),
        "{}",
        plan.stdout
    );
    assert!(
        plan.stdout.contains(&format!(
            "must be replaced (certificate {old} is validation failed in the cloud)"
        )),
        "{}",
        plan.stdout
    );
    let apply = p.run(&["apply", "--auto-approve"]);
    assert_eq!(apply.code, 0, "{}", apply.stderr);
    let certs = p.sandbox.certificates();
    assert_eq!(certs.len(), 1, "the failed order was deleted: {certs:?}");
    assert_ne!(certs[0]["id"], old.as_str());
    assert_eq!(certs[0]["status"], 0, "the new order waits for validation");
}

#[test]
fn a_revoked_certificate_is_applied_for_again_with_the_drift_named() {
    let p = Project::new(&certificate("www", "www.example.com"));
    assert_eq!(p.run(&["apply", "--auto-approve"]).code, 0);
    let old = only_id(&p);
    p.sandbox.console("revoke", &old);
    let plan = p.run(&["plan", "--detailed-exitcode"]);
    assert_eq!(plan.code, 2);
    assert!(
        plan.stdout.contains(&format!("({old}) is now revoked (was issued)")),
        "{}",
        plan.stdout
    );
    assert!(
        plan.stdout
            .contains(&format!("will be created (certificate {old} is revoked in the cloud)")),
        "{}",
        plan.stdout
    );
    assert_eq!(p.run(&["apply", "--auto-approve"]).code, 0);
    assert_eq!(p.sandbox.certificates().len(), 2, "the revoked one stays, a new one is issued");
    assert_ne!(only_id(&p), old);
}

#[test]
fn alias_and_project_change_in_place_without_a_new_application() {
    let p = Project::new(&resource(
        "www",
        "www.example.com",
        "  dv_auth_method = \"DNS_AUTO\"\n  alias = \"one\"\n",
    ));
    assert_eq!(p.run(&["apply", "--auto-approve"]).code, 0);
    let id = only_id(&p);
    p.write_config(&resource(
        "www",
        "www.example.com",
        "  dv_auth_method = \"DNS_AUTO\"\n  alias = \"two\"\n  project_id = 7\n",
    ));
    let plan = p.run(&["plan", "--detailed-exitcode"]);
    assert_eq!(plan.code, 2);
    assert!(
        plan.stdout.contains("will be updated in place (alias, project_id changed)"),
        "{}",
        plan.stdout
    );
    assert!(plan.stdout.contains("~ alias          = \"one\" -> \"two\""), "{}", plan.stdout);
    assert!(
        plan.stdout.contains("Plan: 0 to add, 0 to renew, 1 to change, 0 to destroy."),
        "{}",
        plan.stdout
    );
    let apply = p.run(&["apply", "--auto-approve"]);
    assert_eq!(apply.code, 0, "{}", apply.stderr);
    assert!(
        apply.stdout.contains("0 added, 0 renewed, 1 changed, 0 destroyed"),
        "{}",
        apply.stdout
    );
    let certs = p.sandbox.certificates();
    assert_eq!(certs.len(), 1, "no new application");
    assert_eq!((certs[0]["alias"].as_str(), certs[0]["project"].as_u64()), (Some("two"), Some(7)));
    assert_eq!(only_id(&p), id);
    assert_eq!(p.run(&["plan", "--detailed-exitcode"]).code, 0);
}

#[test]
fn a_replacement_whose_old_certificate_cannot_be_deleted_yet_retries_later() {
    let p = Project::new(&certificate("www", "www.example.com"));
    assert_eq!(p.run(&["apply", "--auto-approve"]).code, 0);
    let old = only_id(&p);
    p.write_config(&resource(
        "www",
        "www.example.com",
        "  dv_auth_method = \"DNS_AUTO\"\n  contact_email = \"ops@example.com\"\n",
    ));
    let plan = p.run(&["plan"]);
    let forced = plan
        .stdout
        .lines()
        .find(|l| l.contains("contact_email") && l.contains(" = "))
        .unwrap_or_default();
    assert!(forced.ends_with("= \"ops@example.com\" # forces replacement"), "{}", plan.stdout);

    let apply = p.run(&["apply", "--auto-approve"]);
    assert_eq!(apply.code, 0, "the new certificate is in place: {}", apply.stderr);
    assert!(
        apply.stderr.contains(&format!("the old one ({old}) could not be deleted")),
        "{}",
        apply.stderr
    );
    assert!(apply.stderr.contains("CannotBeDeletedWithinHour"), "{}", apply.stderr);
    assert_eq!(p.state()["deposed"][0]["certificate_id"], old.as_str());
    assert_eq!(p.sandbox.certificates().len(), 2);

    let plan = p.run(&["plan", "--detailed-exitcode"]);
    assert_eq!(plan.code, 2, "the deposed certificate is still to delete");
    assert!(
        plan.stdout.contains(&format!("(deposed certificate {old}) will be destroyed")),
        "{}",
        plan.stdout
    );
    p.age(1);
    let apply = p.run(&["apply", "--auto-approve"]);
    assert_eq!(apply.code, 0, "{}", apply.stderr);
    assert_eq!(p.sandbox.certificates().len(), 1);
    assert!(p.state().get("deposed").is_none(), "nothing left deposed");
    assert_eq!(p.run(&["plan", "--detailed-exitcode"]).code, 0);
}

#[test]
fn prevent_destroy_stops_the_plan_and_removed_blocks_forget() {
    let p = Project::new(&resource(
        "www",
        "www.example.com",
        "  dv_auth_method = \"DNS_AUTO\"\n  lifecycle {\n    prevent_destroy = true\n  }\n",
    ));
    assert_eq!(p.run(&["apply", "--auto-approve"]).code, 0);
    let id = only_id(&p);

    p.write_config(&certificate("other", "other.example.com"));
    let plan = p.run(&["plan"]);
    assert_eq!(plan.code, 1);
    assert!(
        plan.stderr.contains(
            "tencentcloud_ssl_free_certificate.www has lifecycle { prevent_destroy = true }"
        ),
        "{}",
        plan.stderr
    );
    let apply = p.run(&["apply", "--auto-approve"]);
    assert_eq!(apply.code, 1);
    assert_eq!(p.sandbox.certificates().len(), 1, "nothing applied or deleted");

    p.write_config("removed {\n  from = tencentcloud_ssl_free_certificate.www\n}\n");
    let plan = p.run(&["plan", "--detailed-exitcode"]);
    assert_eq!(plan.code, 2);
    assert!(
        plan.stdout.contains("will be forgotten: certplan stops managing it"),
        "{}",
        plan.stdout
    );
    assert!(plan.stdout.contains("1 to forget"), "{}", plan.stdout);
    let apply = p.run(&["apply", "--auto-approve"]);
    assert_eq!(apply.code, 0, "{}", apply.stderr);
    assert!(p.state()["resources"].as_object().is_some_and(|r| r.is_empty()));
    let certs = p.sandbox.certificates();
    assert_eq!(certs.len(), 1, "the certificate stays in the cloud");
    assert_eq!(certs[0]["id"], id.as_str());
}

#[test]
fn apply_waits_for_issuance_when_asked() {
    let p = Project::with_sandbox(&certificate("www", "www.example.com"), &["--issue-delay", "3s"]);
    let apply = p.run(&["apply", "--auto-approve"]);
    assert_eq!(apply.code, 0, "{}", apply.stderr);
    assert!(
        apply.stderr.contains("waiting for the CA (automatic DNS validation"),
        "{}",
        apply.stderr
    );
    assert!(
        !apply.stderr.contains("add DNS record"),
        "nothing for the user to add: {}",
        apply.stderr
    );
    assert_eq!(p.state()["resources"]["tencentcloud_ssl_free_certificate.www"]["status"], 4);

    p.write_config(
        &[certificate("www", "www.example.com"), certificate("api", "api.example.com")].concat(),
    );
    let apply = p.run(&["apply", "--auto-approve", "--wait=60s"]);
    assert_eq!(apply.code, 0, "{}", apply.stderr);
    assert!(apply.stderr.contains("waiting up to 1m for certificate"), "{}", apply.stderr);
    assert!(
        apply.stderr.contains("tencentcloud_ssl_free_certificate.api: certificate "),
        "{}",
        apply.stderr
    );
    assert!(apply.stderr.contains(" issued after "), "{}", apply.stderr);
    let state = p.state();
    let api = &state["resources"]["tencentcloud_ssl_free_certificate.api"];
    assert_eq!(api["status"], 1, "{state}");
    assert!(api["not_after"].is_string());
}

#[test]
fn waiting_gives_up_at_its_limit_and_says_so() {
    let p = Project::new(&resource(
        "www",
        "www.example.com",
        "  dv_auth_method = \"DNS\"\n  lifecycle {\n    wait_for_issuance = \"3s\"\n  }\n",
    ));
    let apply = p.run(&["apply", "--auto-approve"]);
    assert_eq!(apply.code, 1, "{}", apply.stderr);
    assert!(
        apply.stderr.contains("was not issued within 3s; it stays recorded"),
        "{}",
        apply.stderr
    );
    assert_eq!(p.state_ids().len(), 1, "recorded all the same");
}

fn many_certificates(n: usize) -> String {
    (0..n).map(|i| certificate(&format!("c{i:02}"), &format!("c{i:02}.example.com"))).collect()
}

/// Runs apply until a plan reports no changes; returns how many applies it took.
fn converge(p: &Project, most: usize) -> usize {
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
fn assert_exactly_once(p: &Project, n: usize) {
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

#[test]
fn lost_responses_are_found_again_not_applied_for_twice() {
    let p = Project::with_sandbox(&many_certificates(30), &["--drop-rate", "0.3"]);
    let apply = p.run(&["apply", "--auto-approve"]);
    assert_eq!(apply.code, 0, "every lost response is recovered in the same run: {}", apply.stderr);
    assert!(apply.stderr.contains("the response was lost"), "{}", apply.stderr);
    assert_eq!(p.run(&["plan", "--detailed-exitcode"]).code, 0);
    assert_exactly_once(&p, 30);
}

#[test]
fn transient_errors_converge_without_duplicates() {
    let p = Project::with_sandbox(
        &many_certificates(30),
        &["--error-rate", "0.3", "--reset-rate", "0.05"],
    );
    converge(&p, 40);
    assert_exactly_once(&p, 30);
}

#[test]
fn a_run_killed_at_any_point_loses_nothing_and_applies_nothing_twice() {
    let p = Project::with_sandbox(&many_certificates(30), &["--latency", "40ms"]);
    let state_path = p.path().join("certplan.state.json");
    for kill_after_ms in [250, 700, 1200, 1900] {
        let mut child = p
            .command(&["apply", "--auto-approve"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("apply starts");
        std::thread::sleep(std::time::Duration::from_millis(kill_after_ms));
        child.kill().expect("SIGKILL");
        child.wait().expect("reaped");
        if let Ok(text) = std::fs::read_to_string(&state_path) {
            serde_json::from_str::<Value>(&text).expect("the state file parses after every kill");
        }
    }
    converge(&p, 5);
    assert_exactly_once(&p, 30);
}

#[test]
fn a_second_apply_fails_fast_naming_the_holder() {
    let p = Project::with_sandbox(&many_certificates(3), &["--latency", "300ms"]);
    let first = p
        .command(&["apply", "--auto-approve"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("first apply starts");
    let lock = p.path().join("certplan.state.json.lock");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while std::fs::metadata(&lock).map_or(true, |m| m.len() == 0) {
        assert!(std::time::Instant::now() < deadline, "the first apply never took the lock");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let started = std::time::Instant::now();
    let second = p.run(&["apply", "--auto-approve"]);
    assert_eq!(second.code, 1);
    assert!(started.elapsed() < std::time::Duration::from_secs(2), "fails fast");
    assert!(second.stderr.contains("is locked by"), "{}", second.stderr);
    assert!(
        second.stderr.contains(&format!("(pid {}, certplan apply)", first.id())),
        "{}",
        second.stderr
    );
    let out = first.wait_with_output().expect("first apply ends");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_exactly_once(&p, 3);
    assert_eq!(std::fs::metadata(&lock).map(|m| m.len()).ok(), Some(0), "lock info cleared");
}

#[test]
fn saved_plans_apply_exactly_once_and_refuse_when_stale() {
    let config = resource(
        "www",
        "www.example.com",
        "  dv_auth_method = \"DNS_AUTO\"\n  csr_key_password = \"hunter2-do-not-leak\"\n",
    );
    let p = Project::new(&config);
    let plan = p.run(&["plan", "--out", "first.plan"]);
    assert_eq!(plan.code, 0, "{}", plan.stderr);
    let file = std::fs::read_to_string(p.path().join("first.plan")).expect("plan file");
    assert!(!file.contains("hunter2"), "no secrets in plan files");
    let shown = p.run(&["show", "first.plan"]);
    assert_eq!(shown.code, 0);
    assert_eq!(shown.stdout, plan.stdout, "show renders the saved plan");

    let apply = p.run(&["apply", "first.plan"]);
    assert_eq!(apply.code, 0, "applied without asking: {}", apply.stderr);
    assert_eq!(p.sandbox.certificates().len(), 1);
    let again = p.run(&["apply", "first.plan"]);
    assert_eq!(again.code, 1);
    assert!(
        again.stderr.contains("saved plan first.plan is stale: the state has changed"),
        "{}",
        again.stderr
    );
    assert_eq!(p.sandbox.certificates().len(), 1, "applied once");

    p.write_config(&[config.clone(), certificate("api", "api.example.com")].concat());
    assert_eq!(p.run(&["plan", "--out", "second.plan"]).code, 0);
    p.write_config(&[config, certificate("shop", "shop.example.com")].concat());
    let changed = p.run(&["apply", "second.plan"]);
    assert_eq!(changed.code, 1);
    assert!(changed.stderr.contains("the configuration has changed"), "{}", changed.stderr);
    assert_eq!(p.sandbox.certificates().len(), 1);
}

#[test]
fn an_interrupt_stops_new_work_and_keeps_what_was_done() {
    let p = Project::with_sandbox(&many_certificates(10), &["--latency", "150ms"]);
    let child = p
        .command(&["apply", "--auto-approve", "--parallelism", "2"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("apply starts");
    std::thread::sleep(std::time::Duration::from_millis(900));
    let status =
        Command::new("kill").args(["-INT", &child.id().to_string()]).status().expect("kill");
    assert!(status.success());
    let out = child.wait_with_output().expect("apply ends");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("Interrupt received"), "{stderr}");
    assert!(stderr.contains("change(s) were not started"), "{stderr}");
    let done = p.state_ids().len();
    assert!(done > 0 && done < 10, "some done, some not: {done}");
    assert_eq!(p.sandbox.certificates().len(), done, "everything applied for is recorded");
    converge(&p, 2);
    assert_exactly_once(&p, 10);
}

impl SandboxProcess {
    fn control(&self, method: reqwest::Method, path: &str, body: Value) -> Value {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("rt");
        rt.block_on(async {
            reqwest::Client::new()
                .request(method, format!("{}/_sandbox/{path}", self.url))
                .json(&body)
                .send()
                .await
                .expect("sandbox answers")
                .error_for_status()
                .expect("control call succeeds")
                .json()
                .await
                .expect("JSON")
        })
    }

    fn stats(&self) -> Value {
        self.control(reqwest::Method::GET, "stats", Value::Null)
    }
}

#[test]
fn at_a_low_rate_limit_no_request_is_refused_and_each_certificate_is_applied_once() {
    let config = format!(
        "provider \"tencentcloud\" {{\n  requests_per_second = 5\n}}\n\n{}",
        many_certificates(100)
    );
    let p = Project::with_sandbox(&config, &["--rate-limit", "5"]);
    let apply = p.run(&["apply", "--auto-approve"]);
    assert_eq!(apply.code, 0, "{}", apply.stderr);
    let stats = p.sandbox.stats();
    assert_eq!(stats["RateLimited"], 0, "the pacing, not retries, keeps it under: {stats}");
    assert_eq!(stats["Requests"]["ApplyCertificate"], 100, "{stats}");
    assert_exactly_once(&p, 100);
}

#[test]
fn refreshing_2500_certificates_takes_three_describe_calls() {
    let n = 2500;
    let p = Project::new(&many_certificates(1).replace("c00", "placeholder"));
    let domains: Vec<String> = (0..n).map(|i| format!("r{i:04}.example.com")).collect();
    let seeded =
        p.sandbox.control(reqwest::Method::POST, "seed", serde_json::json!({ "Domains": domains }));
    let ids: Vec<&str> = seeded["CertificateIds"]
        .as_array()
        .expect("ids")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert_eq!(ids.len(), n);
    // A configuration and a state that record exactly those certificates.
    let config: String =
        (0..n).map(|i| certificate(&format!("r{i:04}"), &format!("r{i:04}.example.com"))).collect();
    p.write_config(&config);
    let resources: serde_json::Map<String, Value> = ids
        .iter()
        .enumerate()
        .map(|(i, id)| {
            (
                format!("tencentcloud_ssl_free_certificate.r{i:04}"),
                serde_json::json!({
                    "certificate_id": id,
                    "args": { "domain": format!("r{i:04}.example.com"), "dv_auth_method": "DNS_AUTO" },
                    "status": 1,
                    "not_before": null,
                    "not_after": null,
                    "applied_at": "2026-11-26T00:00:00Z"
                }),
            )
        })
        .collect();
    let state = serde_json::json!({
        "format_version": 1, "lineage": "bench", "serial": 1, "certplan_version": "0.1.0",
        "resources": resources
    });
    std::fs::write(p.path().join("certplan.state.json"), state.to_string()).expect("state");

    let before = p.sandbox.stats();
    let plan = p.run(&["plan", "--detailed-exitcode"]);
    assert_eq!(
        plan.code,
        0,
        "{}\n{}",
        plan.stderr,
        plan.stdout.lines().take(20).collect::<Vec<_>>().join("\n")
    );
    let after = p.sandbox.stats();
    let calls = |s: &Value, action: &str| s["Requests"][action].as_u64().unwrap_or(0);
    assert_eq!(calls(&after, "DescribeCertificates") - calls(&before, "DescribeCertificates"), 3);
    assert_eq!(
        calls(&after, "DescribeCertificateDetail"),
        calls(&before, "DescribeCertificateDetail"),
        "no detail calls for issued certificates"
    );
}

#[test]
fn import_adopts_an_existing_certificate_without_applying() {
    let p = Project::new(&certificate("www", "www.example.com"));
    let seeded = p.sandbox.control(
        reqwest::Method::POST,
        "seed",
        serde_json::json!({ "Domains": ["www.example.com"] }),
    );
    let id = seeded["CertificateIds"][0].as_str().expect("id").to_owned();
    let import = p.run(&["import", "tencentcloud_ssl_free_certificate.www", &id]);
    assert_eq!(import.code, 0, "{}", import.stderr);
    assert_eq!(p.state_ids(), std::slice::from_ref(&id));
    let plan = p.run(&["plan", "--detailed-exitcode"]);
    assert_eq!(
        plan.code, 0,
        "an imported certificate matching its block is unchanged: {}",
        plan.stdout
    );
    assert_eq!(p.sandbox.stats()["Requests"].get("ApplyCertificate"), None, "no application");

    let again = p.run(&["import", "tencentcloud_ssl_free_certificate.www", &id]);
    assert_eq!(again.code, 1);
    assert!(again.stderr.contains("already has certificate"), "{}", again.stderr);
    let undeclared = p.run(&["import", "tencentcloud_ssl_free_certificate.api", &id]);
    assert!(undeclared.stderr.contains("is not declared"), "{}", undeclared.stderr);
}

#[test]
fn state_commands_list_show_forget_and_rename() {
    let p = Project::new(
        &[certificate("www", "www.example.com"), certificate("api", "api.example.com")].concat(),
    );
    assert_eq!(p.run(&["apply", "--auto-approve"]).code, 0);
    let list = p.run(&["state", "list"]);
    assert_eq!(
        list.stdout,
        "tencentcloud_ssl_free_certificate.api\ntencentcloud_ssl_free_certificate.www\n"
    );
    let show = p.run(&["state", "show", "tencentcloud_ssl_free_certificate.www"]);
    assert!(show.stdout.contains("domain         = \"www.example.com\""), "{}", show.stdout);
    assert!(show.stdout.contains("status         = issued"), "{}", show.stdout);

    let rm = p.run(&["state", "rm", "tencentcloud_ssl_free_certificate.api"]);
    assert_eq!(rm.code, 0, "{}", rm.stderr);
    assert_eq!(p.sandbox.certificates().len(), 2, "the cloud is untouched");
    assert_eq!(p.state_ids().len(), 1);

    p.write_config(
        &[certificate("site", "www.example.com"), certificate("api", "api.example.com")].concat(),
    );
    let mv = p.run(&[
        "state",
        "mv",
        "tencentcloud_ssl_free_certificate.www",
        "tencentcloud_ssl_free_certificate.site",
    ]);
    assert_eq!(mv.code, 0, "{}", mv.stderr);
    let plan = p.run(&["plan"]);
    assert!(!plan.stdout.contains("site will be"), "renamed, not re-applied: {}", plan.stdout);
    assert!(
        plan.stdout.contains("tencentcloud_ssl_free_certificate.api will be created"),
        "{}",
        plan.stdout
    );
}

#[test]
fn target_and_exclude_limit_plan_and_apply() {
    let p = Project::new(
        &[certificate("www", "www.example.com"), certificate("api", "api.example.com")].concat(),
    );
    let plan = p.run(&["plan", "--target", "tencentcloud_ssl_free_certificate.www"]);
    assert!(
        plan.stdout.contains("www will be created") && !plan.stdout.contains("api will be"),
        "{}",
        plan.stdout
    );
    let apply =
        p.run(&["apply", "--auto-approve", "--exclude", "tencentcloud_ssl_free_certificate.www"]);
    assert_eq!(apply.code, 0, "{}", apply.stderr);
    assert_eq!(p.sandbox.certificates().len(), 1);
    assert!(p.state()["resources"]["tencentcloud_ssl_free_certificate.api"].is_object());
    let unknown = p.run(&["plan", "--target", "tencentcloud_ssl_free_certificate.nope"]);
    assert_eq!(unknown.code, 1);
    assert!(
        unknown.stderr.contains("is not in the configuration or the state"),
        "{}",
        unknown.stderr
    );
}

#[test]
fn apply_detailed_exitcode_says_whether_anything_changed() {
    let p = Project::new(&certificate("www", "www.example.com"));
    assert_eq!(p.run(&["apply", "--auto-approve", "--detailed-exitcode"]).code, 2);
    assert_eq!(p.run(&["apply", "--auto-approve", "--detailed-exitcode"]).code, 0);
}

#[test]
fn refresh_records_what_changed_outside_without_applying() {
    let p = Project::new(&certificate("www", "www.example.com"));
    assert_eq!(p.run(&["apply", "--auto-approve"]).code, 0);
    let id = only_id(&p);
    p.sandbox.console("revoke", &id);
    let refresh = p.run(&["refresh"]);
    assert_eq!(refresh.code, 0, "{}", refresh.stderr);
    assert!(
        refresh.stdout.contains(&format!("({id}) is now revoked (was issued)")),
        "{}",
        refresh.stdout
    );
    assert_eq!(p.state()["resources"]["tencentcloud_ssl_free_certificate.www"]["status"], 10);
    assert_eq!(p.sandbox.certificates().len(), 1, "nothing applied");
}

#[test]
fn shell_completions_cover_the_commands() {
    for shell in ["bash", "zsh", "fish", "powershell"] {
        let out = run_plain(&["completions", shell]);
        assert_eq!(out.code, 0, "{shell}");
        for command in ["plan", "apply", "import", "sandbox"] {
            assert!(out.stdout.contains(command), "{shell} completion lacks {command}");
        }
    }
}

#[test]
fn credentials_come_from_env_then_tccli_profile_then_the_block() {
    let block = |id: &str, key: &str| {
        format!(
            "provider \"tencentcloud\" {{\n  secret_id  = \"{id}\"\n  secret_key = \"{key}\"\n}}\n\n{}",
            certificate("www", "www.example.com")
        )
    };
    let p = Project::new(&block("AKIDwrong", "wrong-block-key"));
    let home = tempfile::tempdir().expect("home");
    std::fs::create_dir_all(home.path().join(".tccli")).expect("tccli dir");
    let profile = |name: &str, id: &str, key: &str| {
        std::fs::write(
            home.path().join(".tccli").join(format!("{name}.credential")),
            serde_json::json!({ "secretId": id, "secretKey": key }).to_string(),
        )
        .expect("profile");
    };
    profile("default", "AKIDwrong", "wrong-profile-key");
    profile("team", SECRET_ID, SECRET_KEY);

    // The environment wins over a wrong profile and a wrong block.
    let mut cmd = p.command(&["plan"]);
    cmd.env("HOME", home.path());
    let env_wins = run(cmd);
    assert_eq!(env_wins.code, 0, "{}", env_wins.stderr);
    assert!(
        env_wins.stderr.contains("warning: credentials in the configuration"),
        "{}",
        env_wins.stderr
    );

    // Without the environment, the named profile wins over the wrong block.
    let without_env = |args: &[&str], profile: Option<&str>| {
        let mut cmd = p.command(args);
        cmd.env("HOME", home.path())
            .env_remove("TENCENTCLOUD_SECRET_ID")
            .env_remove("TENCENTCLOUD_SECRET_KEY");
        match profile {
            Some(name) => cmd.env("TENCENTCLOUD_PROFILE", name),
            None => cmd.env_remove("TENCENTCLOUD_PROFILE"),
        };
        run(cmd)
    };
    let default_profile = without_env(&["apply", "--auto-approve"], None);
    assert_eq!(default_profile.code, 1, "the default profile's key is wrong");
    assert!(
        default_profile.stderr.contains("AuthFailure.SecretIdNotFound"),
        "{}",
        default_profile.stderr
    );
    let team = without_env(&["apply", "--auto-approve"], Some("team"));
    assert_eq!(team.code, 0, "{}", team.stderr);
    let flag = without_env(&["plan", "--profile", "team", "--detailed-exitcode"], None);
    assert_eq!(flag.code, 0, "{}", flag.stderr);

    // With neither, the block is used.
    std::fs::remove_dir_all(home.path().join(".tccli")).expect("no profiles");
    p.write_config(&block(SECRET_ID, SECRET_KEY));
    let from_block = without_env(&["plan", "--out", "saved.plan"], None);
    assert_eq!(from_block.code, 0, "{}", from_block.stderr);
    assert!(
        from_block.stderr.contains("warning: credentials in the configuration"),
        "{}",
        from_block.stderr
    );

    // The key is in no file certplan wrote.
    for file in ["certplan.state.json", "saved.plan"] {
        let text = std::fs::read_to_string(p.path().join(file)).expect(file);
        assert!(!text.contains(SECRET_KEY), "{file} holds the SecretKey");
    }
}

#[test]
fn debug_logs_name_every_call_and_never_a_secret() {
    let p = Project::new(&certificate("www", "www.example.com"));
    let mut cmd = p.command(&["apply", "--auto-approve"]);
    cmd.env("CERTPLAN_LOG", "debug");
    let apply = run(cmd);
    assert_eq!(apply.code, 0, "{}", apply.stderr);
    for action in ["ApplyCertificate", "DescribeCertificateDetail"] {
        let line = apply
            .stderr
            .lines()
            .find(|l| l.contains(&format!("action=\"{action}\"")))
            .unwrap_or_else(|| panic!("no log line for {action}: {}", apply.stderr));
        assert!(line.contains("API call succeeded") && line.contains("request_id="), "{line}");
        assert!(line.contains("duration_ms="), "{line}");
    }
    // run() checks stdout and stderr for the SecretKey; bodies are never logged either.
    assert!(!apply.stderr.contains("DomainName"), "no request bodies in logs");

    // And nothing certplan writes holds it: plan at debug level to a plan file, then grep.
    let mut cmd = p.command(&["plan", "--out", "debug.plan"]);
    cmd.env("CERTPLAN_LOG", "debug");
    assert_eq!(run(cmd).code, 0);
    for file in ["certplan.state.json", "certplan.state.json.backup", "debug.plan"] {
        if let Ok(text) = std::fs::read_to_string(p.path().join(file)) {
            assert!(!text.contains(SECRET_KEY), "{file} holds the SecretKey");
        }
    }
}

#[test]
fn plan_json_and_apply_json_events() {
    let p = Project::new(
        &[certificate("www", "www.example.com"), certificate("api", "api.example.com")].concat(),
    );
    let plan = p.run(&["plan", "--json"]);
    assert_eq!(plan.code, 0, "{}", plan.stderr);
    let json: Value = serde_json::from_str(&plan.stdout).expect("plan --json is JSON");
    assert_eq!(json["format_version"], "1.0");
    assert_eq!(json["summary"]["add"], 2);
    let change = &json["resource_changes"][0];
    assert_eq!(change["address"], "tencentcloud_ssl_free_certificate.api");
    assert_eq!(change["change"]["actions"], serde_json::json!(["create"]));
    assert_eq!(change["action_reason"], "not_in_state");

    let refused = p.run(&["apply", "--json"]);
    assert_eq!(refused.code, 1);
    assert!(refused.stderr.contains("--auto-approve"), "{}", refused.stderr);

    let mut cmd = p.command(&["apply", "--auto-approve", "--json", "--parallelism", "1"]);
    cmd.env("CERTPLAN_LOG", "off");
    let apply = run(cmd);
    assert_eq!(apply.code, 0, "{}", apply.stderr);
    let events: Vec<Value> = apply
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .map(|mut e: Value| {
            for volatile in ["@timestamp", "elapsed_seconds", "certificate_id"] {
                if e.get(volatile).is_some() {
                    e[volatile] = Value::String("<volatile>".into());
                }
            }
            if e["type"] == "planned_change" {
                // The whole change is the plan JSON, tested above; keep what identifies it.
                e["change"] = serde_json::json!({
                    "address": e["change"]["address"],
                    "actions": e["change"]["change"]["actions"],
                });
            }
            e
        })
        .collect();
    let shown = events.iter().map(|e| e.to_string()).collect::<Vec<_>>().join("\n");
    insta::assert_snapshot!(shown);
}

#[test]
fn a_slow_change_reports_progress_every_ten_seconds() {
    let p = Project::with_sandbox(&certificate("www", "www.example.com"), &["--latency", "6s"]);
    let apply = p.run(&["apply", "--auto-approve"]);
    assert_eq!(apply.code, 0, "{}", apply.stderr);
    assert!(
        apply
            .stderr
            .contains("tencentcloud_ssl_free_certificate.www: Still creating... [10s elapsed]"),
        "{}",
        apply.stderr
    );
}

#[test]
fn validate_needs_no_credentials_and_speaks_terraform_json() {
    let dir = tempfile::tempdir().expect("tempdir");
    let validate = |args: &[&str]| {
        let mut cmd = Command::new(BIN);
        cmd.arg("--chdir")
            .arg(dir.path())
            .arg("validate")
            .args(args)
            .env_remove("TENCENTCLOUD_SECRET_ID")
            .env_remove("TENCENTCLOUD_SECRET_KEY")
            .env("CERTPLAN_ENDPOINT", "http://127.0.0.1:9");
        run(cmd)
    };
    std::fs::write(dir.path().join("main.hcl"), certificate("www", "www.example.com"))
        .expect("write");
    let ok = validate(&[]);
    assert_eq!(ok.code, 0, "{}", ok.stderr);
    assert!(ok.stdout.contains("The configuration is valid"), "{}", ok.stdout);

    std::fs::write(
        dir.path().join("main.hcl"),
        "resource \"tencentcloud_ssl_free_certificate\" \"www\" {\n  domain = \"www.example.com\"\n  dv_auth_mode = \"DNS\"\n}\n",
    )
    .expect("write");
    let bad = validate(&["--json"]);
    assert_eq!(bad.code, 1);
    let json: Value = serde_json::from_str(&bad.stdout).expect("JSON");
    assert_eq!(json["valid"], false);
    assert_eq!(json["error_count"], 1);
    assert_eq!(json["warning_count"], 0);
    let d = &json["diagnostics"][0];
    assert_eq!(d["severity"], "error");
    assert_eq!(d["summary"], "unknown argument \"dv_auth_mode\"");
    assert!(
        d["detail"].as_str().is_some_and(|t| t.contains("did you mean \"dv_auth_method\"?")),
        "{d}"
    );
    assert_eq!(d["range"]["filename"], "main.hcl");
    assert_eq!(d["range"]["start"], serde_json::json!({ "line": 3, "column": 3, "byte": 84 }));
    assert_eq!(d["range"]["end"]["column"], 15);
}

#[test]
fn variables_come_from_the_environment_and_the_command_line() {
    let config = format!(
        "variable \"zone\" {{\n  type = string\n}}\n\n{}",
        "resource \"tencentcloud_ssl_free_certificate\" \"www\" {\n  domain         = \"www.${var.zone}\"\n  dv_auth_method = \"DNS_AUTO\"\n}\n"
    );
    let p = Project::new(&config);
    let missing = p.run(&["plan"]);
    assert_eq!(missing.code, 1);
    assert!(missing.stderr.contains("variable \"zone\" has no value"), "{}", missing.stderr);
    assert!(
        missing.stderr.contains("set CERTPLAN_VAR_zone, pass --var zone=VALUE"),
        "{}",
        missing.stderr
    );

    let mut cmd = p.command(&["plan"]);
    cmd.env("CERTPLAN_VAR_zone", "env.example");
    let from_env = run(cmd);
    assert!(
        from_env.stdout.contains("+ domain         = \"www.env.example\""),
        "{}",
        from_env.stdout
    );

    let mut cmd = p.command(&["apply", "--auto-approve", "--var", "zone=flag.example"]);
    cmd.env("CERTPLAN_VAR_zone", "env.example");
    let from_flag = run(cmd);
    assert_eq!(from_flag.code, 0, "{}", from_flag.stderr);
    assert_eq!(
        p.sandbox.certificates()[0]["domain"],
        "www.flag.example",
        "flags win over the environment"
    );
}

fn sites(keys: &[&str]) -> String {
    let list = keys.iter().map(|k| format!("\"{k}\"")).collect::<Vec<_>>().join(", ");
    format!(
        "resource \"tencentcloud_ssl_free_certificate\" \"site\" {{\n  for_each       = toset([{list}])\n  domain         = \"${{each.key}}.example.com\"\n  dv_auth_method = \"DNS_AUTO\"\n}}\n"
    )
}

#[test]
fn for_each_key_changes_touch_exactly_the_affected_instances() {
    let p = Project::new(&sites(&["www", "api"]));
    assert_eq!(p.run(&["apply", "--auto-approve"]).code, 0);
    let before = p.state();

    p.write_config(&sites(&["www", "api", "shop"]));
    let plan = p.run(&["plan", "--detailed-exitcode"]);
    assert_eq!(plan.code, 2);
    assert!(
        plan.stdout.contains(r#"# tencentcloud_ssl_free_certificate.site["shop"] will be created"#),
        "{}",
        plan.stdout
    );
    assert!(
        plan.stdout.contains("Plan: 1 to add, 0 to renew, 0 to change, 0 to destroy."),
        "{}",
        plan.stdout
    );
    assert_eq!(p.run(&["apply", "--auto-approve"]).code, 0);

    p.age(1);
    p.write_config(&sites(&["www", "shop"]));
    let plan = p.run(&["plan", "--detailed-exitcode"]);
    assert!(
        plan.stdout
            .contains(r#"# tencentcloud_ssl_free_certificate.site["api"] will be destroyed"#),
        "{}",
        plan.stdout
    );
    assert!(
        plan.stdout.contains("Plan: 0 to add, 0 to renew, 0 to change, 1 to destroy."),
        "{}",
        plan.stdout
    );
    assert_eq!(p.run(&["apply", "--auto-approve"]).code, 0);
    let after = p.state();
    let www = r#"tencentcloud_ssl_free_certificate.site["www"]"#;
    assert_eq!(
        after["resources"][www]["certificate_id"], before["resources"][www]["certificate_id"],
        "untouched"
    );
    assert_eq!(p.sandbox.certificates().len(), 2);

    let one = p.run(&["plan", "--refresh=false", "--target", www]);
    assert!(one.stdout.contains("No changes."), "{}", one.stdout);
    let show = p.run(&["state", "show", www]);
    assert!(show.stdout.contains("domain         = \"www.example.com\""), "{}", show.stdout);

    p.write_config(&sites(&["www", "shop", "new1", "new2"]));
    let whole = p.run(&["plan", "--target", "tencentcloud_ssl_free_certificate.site"]);
    assert!(
        whole.stdout.contains("Plan: 2 to add"),
        "a key-less target covers every instance: {}",
        whole.stdout
    );
    let just = p.run(&["plan", "--target", r#"tencentcloud_ssl_free_certificate.site["new1"]"#]);
    assert!(just.stdout.contains("Plan: 1 to add"), "{}", just.stdout);
}

#[test]
fn moved_blocks_rename_without_a_new_application() {
    let p = Project::new(&[certificate("www", "www.example.com"), sites(&["a", "b"])].concat());
    assert_eq!(p.run(&["apply", "--auto-approve"]).code, 0);
    let ids_before = p.state_ids();

    let renamed = "resource \"tencentcloud_ssl_free_certificate\" \"home\" {\n  domain         = \"www.example.com\"\n  dv_auth_method = \"DNS_AUTO\"\n}\n\n".to_owned()
        + &sites(&["a", "b"]).replace("\"site\"", "\"sites\"")
        + "moved {\n  from = tencentcloud_ssl_free_certificate.www\n  to   = tencentcloud_ssl_free_certificate.home\n}\n\nmoved {\n  from = tencentcloud_ssl_free_certificate.site\n  to   = tencentcloud_ssl_free_certificate.sites\n}\n";
    p.write_config(&renamed);
    let plan = p.run(&["plan", "--detailed-exitcode"]);
    assert_eq!(plan.code, 2, "{}", plan.stdout);
    assert!(plan.stdout.contains("# tencentcloud_ssl_free_certificate.www has moved to tencentcloud_ssl_free_certificate.home"), "{}", plan.stdout);
    assert!(plan.stdout.contains(r#"# tencentcloud_ssl_free_certificate.site["a"] has moved to tencentcloud_ssl_free_certificate.sites["a"]"#), "{}", plan.stdout);
    assert!(plan.stdout.contains("Only renames in the state"), "{}", plan.stdout);

    let apply = p.run(&["apply", "--auto-approve"]);
    assert_eq!(apply.code, 0, "{}", apply.stderr);
    let mut after = p.state_ids();
    let mut before = ids_before;
    after.sort();
    before.sort();
    assert_eq!(after, before, "the same certificates, renamed");
    assert_eq!(p.sandbox.certificates().len(), 3, "no new application");
    assert!(p.state()["resources"]["tencentcloud_ssl_free_certificate.home"].is_object());
    assert_eq!(p.run(&["plan", "--detailed-exitcode"]).code, 0, "the moves are done");
}

#[test]
fn outputs_are_shown_after_apply_stored_and_redacted_unless_named() {
    let config = sites(&["www", "api"])
        + "\noutput \"ids\" {\n  value = { for k, c in tencentcloud_ssl_free_certificate.site : k => c.id }\n}\n"
        + "\noutput \"www_domain\" {\n  value     = tencentcloud_ssl_free_certificate.site[\"www\"].domain\n  sensitive = true\n}\n";
    let p = Project::new(&config);
    let apply = p.run(&["apply", "--auto-approve"]);
    assert_eq!(apply.code, 0, "{}", apply.stderr);
    assert!(apply.stdout.contains("Outputs:"), "{}", apply.stdout);
    assert!(apply.stdout.contains("www_domain = (sensitive value)"), "{}", apply.stdout);
    let state = p.state();
    let www_id =
        state["resources"][r#"tencentcloud_ssl_free_certificate.site["www"]"#]["certificate_id"]
            .clone();
    assert_eq!(state["outputs"]["ids"]["value"]["www"], www_id);

    let list = p.run(&["output"]);
    assert!(list.stdout.contains("www_domain = (sensitive value)"), "{}", list.stdout);
    assert!(list.stdout.contains(&format!("{www_id}")), "{}", list.stdout);
    let named = p.run(&["output", "www_domain"]);
    assert_eq!(named.stdout.trim(), "\"www.example.com\"", "named, a sensitive output is shown");
    let json: Value = serde_json::from_str(&p.run(&["output", "--json"]).stdout).expect("JSON");
    assert_eq!(json["www_domain"], serde_json::json!({ "value": null, "sensitive": true }));
    assert_eq!(json["ids"]["value"]["api"], state["outputs"]["ids"]["value"]["api"]);
    let named: Value =
        serde_json::from_str(&p.run(&["output", "ids", "--json"]).stdout).expect("JSON");
    assert_eq!(named, state["outputs"]["ids"]["value"], "named, the value alone");
    let missing = p.run(&["output", "nope"]);
    assert_eq!(missing.code, 1);
}

#[test]
fn the_multi_domain_example_validates_plans_and_applies() {
    let dir = tempfile::tempdir().expect("tempdir");
    let example = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples/multi-domain");
    for file in ["main.hcl", "certplan.tfvars"] {
        std::fs::copy(example.join(file), dir.path().join(file)).expect("copy example");
    }
    let certplan = |args: &[&str]| {
        let mut cmd = Command::new(BIN);
        cmd.arg("--chdir").arg(dir.path()).args(args).env_remove("CERTPLAN_ENDPOINT");
        run(cmd)
    };
    assert_eq!(certplan(&["validate"]).code, 0);
    let apply = certplan(&["apply", "--sandbox", "--auto-approve"]);
    assert_eq!(apply.code, 0, "{}", apply.stderr);
    assert!(apply.stdout.contains("Resources: 3 added"), "{}", apply.stdout);
    assert!(apply.stdout.contains("certificate_ids = {"), "{}", apply.stdout);
    assert!(
        apply.stderr.contains(r#"site["shop"]"#) && apply.stderr.contains("add DNS record"),
        "shop uses manual DNS: {}",
        apply.stderr
    );
}

#[test]
fn the_certplan_block_chooses_where_state_lives() {
    let config = "certplan {\n  backend \"local\" {\n    path = \"state/prod.json\"\n  }\n}\n\n"
        .to_owned()
        + &certificate("www", "www.example.com");
    let p = Project::new(&config);
    assert_eq!(p.run(&["apply", "--auto-approve"]).code, 0);
    assert!(p.path().join("state/prod.json").exists());
    assert!(!p.path().join("certplan.state.json").exists());
    assert_eq!(p.run(&["plan", "--detailed-exitcode"]).code, 0, "the next run finds it");
}

#[test]
fn fmt_rewrites_in_the_canonical_style_and_check_lists_what_it_would_change() {
    let dir = tempfile::tempdir().expect("tempdir");
    let write = |name: &str, text: &str| {
        let path = dir.path().join(name);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(path, text).expect("write");
    };
    let messy = "# The web site.\nresource \"tencentcloud_ssl_free_certificate\" \"www\"{\ndomain=\"www.${var.zone}\" # where\ndv_auth_method   =   \"DNS_AUTO\"\n}\n\nvariable \"zone\" {\ndefault=\"example.com\"\n}\n";
    let canonical = "# The web site.\nresource \"tencentcloud_ssl_free_certificate\" \"www\" {\n  domain         = \"www.${var.zone}\" # where\n  dv_auth_method = \"DNS_AUTO\"\n}\n\nvariable \"zone\" {\n  default = \"example.com\"\n}\n";
    write("main.hcl", messy);
    write("certplan.tfvars", "zone=\"example.org\"\n");
    write("other.txt", "not = configuration\n");
    write("nested/extra.hcl", "a=1\n");
    let certplan = |args: &[&str]| {
        let mut cmd = Command::new(BIN);
        cmd.arg("--chdir").arg(dir.path()).args(args);
        run(cmd)
    };
    let read = |name: &str| std::fs::read_to_string(dir.path().join(name)).expect("read");

    let check = certplan(&["fmt", "--check"]);
    assert_eq!(check.code, 3, "{}", check.stderr);
    assert_eq!(check.stdout, "certplan.tfvars\nmain.hcl\n");
    assert_eq!(read("main.hcl"), messy, "--check changes nothing");

    let diff = certplan(&["fmt", "--check", "--diff", "main.hcl"]);
    assert_eq!(diff.code, 3);
    assert!(
        diff.stdout.contains("-dv_auth_method   =   \"DNS_AUTO\"\n")
            && diff.stdout.contains("+  dv_auth_method = \"DNS_AUTO\"\n"),
        "{}",
        diff.stdout
    );

    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let perms = std::fs::Permissions::from_mode(0o640);
        std::fs::set_permissions(dir.path().join("main.hcl"), perms).expect("chmod");
    }
    let fmt = certplan(&["fmt"]);
    assert_eq!(fmt.code, 0, "{}", fmt.stderr);
    assert_eq!(read("main.hcl"), canonical, "comments kept, style canonical");
    assert_eq!(read("certplan.tfvars"), "zone = \"example.org\"\n");
    assert_eq!(read("other.txt"), "not = configuration\n", "only config and variables files");
    assert_eq!(read("nested/extra.hcl"), "a=1\n", "subdirectories only with --recursive");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.path().join("main.hcl")).expect("stat").permissions();
        assert_eq!(mode.mode() & 0o777, 0o640, "the file keeps its permissions");
    }
    assert_eq!(certplan(&["validate"]).code, 0, "the formatted configuration is still valid");
    let again = certplan(&["fmt", "--check"]);
    assert_eq!((again.code, again.stdout.as_str()), (0, ""), "formatting is idempotent");

    assert_eq!(certplan(&["fmt", "--recursive"]).code, 0);
    assert_eq!(read("nested/extra.hcl"), "a = 1\n");

    // Through a link, the file linked to is formatted; the link stays.
    #[cfg(unix)]
    {
        write("shared/linked.hcl", "c=3\n");
        let link = dir.path().join("link.hcl");
        std::os::unix::fs::symlink(dir.path().join("shared/linked.hcl"), &link).expect("link");
        assert_eq!(certplan(&["fmt", "link.hcl"]).code, 0);
        assert!(std::fs::symlink_metadata(&link).expect("stat").file_type().is_symlink());
        assert_eq!(read("shared/linked.hcl"), "c = 3\n");
    }

    // Standard input to standard output.
    let stdin = |args: &[&str]| {
        let mut child = Command::new(BIN)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("certplan runs");
        std::io::Write::write_all(&mut child.stdin.take().expect("stdin"), b"x={a=1}\n")
            .expect("write stdin");
        let out = child.wait_with_output().expect("certplan exits");
        (out.status.code(), String::from_utf8_lossy(&out.stdout).into_owned())
    };
    assert_eq!(stdin(&["fmt", "-"]), (Some(0), "x = { a = 1 }\n".to_owned()));
    assert_eq!(stdin(&["fmt", "--check", "-"]), (Some(3), String::new()), "--check only says so");

    // A file that is not valid HCL is reported with its line and left alone; the others are
    // still formatted.
    write("broken.hcl", "resource \"x\" {\n  a = [1,\n");
    write("z.hcl", "b=2\n");
    let broken = certplan(&["fmt"]);
    assert_eq!(broken.code, 1);
    assert!(broken.stderr.contains("--> broken.hcl:2:10"), "{}", broken.stderr);
    assert_eq!(read("broken.hcl"), "resource \"x\" {\n  a = [1,\n");
    assert_eq!(read("z.hcl"), "b = 2\n");
}

#[test]
fn values_of_sensitive_variables_are_never_shown() {
    let config = r#"
variable "contact" {
  type      = string
  sensitive = true
}

resource "tencentcloud_ssl_free_certificate" "www" {
  domain         = "www.example.com"
  dv_auth_method = "DNS_AUTO"
  contact_email  = var.contact
}

output "contact" {
  value     = tencentcloud_ssl_free_certificate.www.domain
}
"#;
    let p = Project::new(config);
    let with = |contact: &str, args: &[&str]| {
        let mut cmd = p.command(args);
        cmd.env("CERTPLAN_VAR_contact", contact);
        run(cmd)
    };
    let secret = "hidden-person@example.com";
    let plan = with(secret, &["plan"]);
    assert_eq!(plan.code, 0, "{}", plan.stderr);
    assert!(plan.stdout.contains("+ contact_email  = (sensitive value)"), "{}", plan.stdout);
    let json = with(secret, &["plan", "--json"]);
    let json: Value = serde_json::from_str(&json.stdout).expect("plan JSON");
    let change = &json["resource_changes"][0]["change"];
    assert_eq!(change["after"]["contact_email"], Value::Null);
    assert_eq!(change["after_sensitive"]["contact_email"], true);
    assert_eq!(change["after"]["domain"], "www.example.com", "only what is sensitive is hidden");

    let apply = with(secret, &["apply", "--auto-approve"]);
    assert_eq!(apply.code, 0, "{}", apply.stderr);
    let recorded = p.run(&["state", "show", "tencentcloud_ssl_free_certificate.www"]);
    assert!(recorded.stdout.contains("contact_email  = (sensitive value)"), "{}", recorded.stdout);
    let changed = with("other-person@example.com", &["plan", "--out", "next.plan"]);
    assert!(
        changed.stdout.contains("~ contact_email  = (sensitive value) -> (sensitive value)"),
        "{}",
        changed.stdout
    );
    let shown = with("other-person@example.com", &["show", "next.plan"]);
    assert!(shown.stdout.contains("(sensitive value)"), "{}", shown.stdout);
    // Once the block is gone, the plan to delete the certificate still hides the value.
    p.write_config("variable \"contact\" {\n  sensitive = true\n}\n");
    let delete = with(secret, &["plan"]);
    assert!(delete.stdout.contains("- contact_email  = (sensitive value)"), "{}", delete.stdout);
    for run in [&plan, &apply, &recorded, &changed, &shown, &delete] {
        for value in [secret, "other-person@example.com"] {
            assert!(!run.stdout.contains(value) && !run.stderr.contains(value), "{value} shown");
        }
    }
}

#[test]
fn a_used_up_quota_fails_that_certificate_alone_and_is_not_retried() {
    let p = Project::with_sandbox(&three_certificates(), &["--quota-per-domain", "2"]);
    let apply = p.run(&["apply", "--auto-approve", "--parallelism", "1"]);
    assert_eq!(apply.code, 1, "{}", apply.stderr);
    assert!(apply.stderr.contains("1 change(s) failed"), "{}", apply.stderr);
    assert!(
        apply.stderr.contains("FailedOperation.MainDomainCertificateCountLimit"),
        "{}",
        apply.stderr
    );
    assert_eq!(p.state_ids().len(), 2, "the other two are applied for and recorded");
    assert_eq!(p.state()["intents"], Value::Null, "no application is left in doubt");
    assert_eq!(p.sandbox.certificates().len(), 2);

    // The next plan still wants the third, and a second apply asks once more, once.
    let plan = p.run(&["plan", "--detailed-exitcode"]);
    assert_eq!(plan.code, 2, "{}", plan.stdout);
    assert!(plan.stdout.contains("Plan: 1 to add"), "{}", plan.stdout);
    assert_eq!(p.sandbox.requests("ApplyCertificate"), 3, "the refusal is not retried");
    let again = p.run(&["apply", "--auto-approve"]);
    assert_eq!(again.code, 1);
    assert!(again.stderr.contains("1 change(s) failed"), "{}", again.stderr);
    assert_eq!(p.sandbox.requests("ApplyCertificate"), 4, "asked once more, once");
}
