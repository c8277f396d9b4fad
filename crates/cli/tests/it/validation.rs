//! Domain validation: the DNS record or file a user must publish, orders that are not
//! validated in time, and waiting for the CA to issue.

use serde_json::Value;

use crate::harness::{BIN, Project, TIME_SCALE, certificate, only_id, resource, run};

#[test]
fn manual_dns_validation_waits_with_its_record_then_issues() {
    let p = Project::new(
        &(resource("www", "www.example.com", "  dv_auth_method = \"DNS\"\n")
            + "output \"records\" {\n  value = tencentcloud_ssl_free_certificate.www.validation\n}\n"),
    );
    let apply = p.run(&["apply", "--auto-approve"]);
    assert_eq!(apply.code, 3, "a person must publish the record: {}", apply.stderr);
    assert!(apply.stdout.contains("Needs attention:"), "{}", apply.stdout);
    assert!(apply.stdout.contains("a DNS record that a person adds"), "{}", apply.stdout);
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

    // The next night's run is red too, until the record is published.
    let plan = p.run(&["plan", "--detailed-exitcode"]);
    assert_eq!(plan.code, 3, "a person must still publish the record: {}", plan.stdout);
    assert!(plan.stdout.contains("1 certificate needs attention"), "{}", plan.stdout);
    assert_eq!(p.run(&["apply", "--auto-approve"]).code, 3);
    let json = p.run(&["plan", "--json"]);
    let json: Value = serde_json::from_str(&json.stdout).expect("plan JSON");
    assert_eq!(json["summary"]["waiting"], 1);
    assert_eq!(json["attention"][0]["kind"], "awaiting_validation", "{json}");
    assert_eq!(json["attention"][0]["certificate_id"], id.as_str());
    assert!(json["attention"][0]["what_to_do"].as_str().is_some_and(|t| t.contains("publish")));
    assert!(plan.stdout.contains("waiting for domain validation, due by"), "{}", plan.stdout);
    assert!(plan.stdout.contains("add DNS record: _"), "{}", plan.stdout);
    assert!(plan.stdout.contains(".www.example.com  CNAME  "), "{}", plan.stdout);

    p.sandbox.console("validate", &id);
    // Issued outside any run: what certplan expects, recorded, and said once.
    let refresh = p.run(&["refresh"]);
    assert_eq!(refresh.code, 0, "{}", refresh.stderr);
    assert!(refresh.stdout.contains("Nothing changed outside certplan"), "{}", refresh.stdout);
    assert!(!refresh.stdout.contains("The cloud matches the state."), "{}", refresh.stdout);
    assert!(!refresh.stderr.contains("State updated from the cloud."), "{}", refresh.stderr);
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
    assert_eq!(p.run(&["apply", "--auto-approve"]).code, 3, "the file is to publish");
    let old = only_id(&p);
    p.age(8);
    // Validation failed once: certplan applies again on its own, which is no one's to do.
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
    assert_eq!(apply.code, 3, "the new order needs its file published: {}", apply.stderr);
    assert!(apply.stdout.contains("a file that a person publishes"), "{}", apply.stdout);
    let certs = p.sandbox.certificates();
    assert_eq!(certs.len(), 1, "the failed order was deleted: {certs:?}");
    assert_ne!(certs[0]["id"], old.as_str());
    assert_eq!(certs[0]["status"], 0, "the new order waits for validation");
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
        "  dv_auth_method = \"DNS\"\n  lifecycle {\n    wait_for_issuance = \"1s\"\n  }\n",
    ));
    let apply = p.run(&["apply", "--auto-approve"]);
    assert_eq!(apply.code, 1, "{}", apply.stderr);
    assert!(
        apply.stderr.contains("was not issued within 1s; it stays recorded"),
        "{}",
        apply.stderr
    );
    // The record to publish is shown when the wait starts, and again when it gives up.
    let start = apply.stderr.find("waiting up to 1s").expect("the wait starts");
    let record = "to validate the domain, add DNS record: _";
    assert!(apply.stderr[start..].contains(record), "{}", apply.stderr);
    assert!(
        apply.stderr.contains("to validate the domain, publish: DNS record _"),
        "{}",
        apply.stderr
    );
    assert_eq!(p.state_ids().len(), 1, "recorded all the same");
}

#[test]
fn validation_that_fails_twice_is_not_applied_for_again_unless_asked() {
    let p = Project::new(&resource("www", "www.example.com", "  dv_auth_method = \"FILE\"\n"));
    assert_eq!(p.run(&["apply", "--auto-approve"]).code, 3, "the file is to publish");
    p.age(8);
    assert_eq!(p.run(&["apply", "--auto-approve"]).code, 3, "the first failure is retried");
    let second = only_id(&p);
    assert_eq!(
        p.state()["resources"]["tencentcloud_ssl_free_certificate.www"]["validation_failures"],
        1
    );
    p.age(8);
    let applications = p.sandbox.requests("ApplyCertificate");

    let plan = p.run(&["plan", "--detailed-exitcode"]);
    assert_eq!(plan.code, 3, "a person must fix validation: {}", plan.stdout);
    assert!(plan.stdout.contains("1 certificate needs attention (below)"), "{}", plan.stdout);
    assert!(!plan.stdout.contains("Your certificates match"), "{}", plan.stdout);
    assert!(
        plan.stdout.contains("validation failed for 2 certificates in a row"),
        "{}",
        plan.stdout
    );
    assert!(plan.stdout.contains("--replace"), "{}", plan.stdout);
    let apply = p.run(&["apply", "--auto-approve"]);
    assert_eq!(apply.code, 3, "red, and says why: {}", apply.stderr);
    assert!(apply.stdout.contains("Needs attention:"), "{}", apply.stdout);
    assert_eq!(p.sandbox.requests("ApplyCertificate"), applications, "not applied for again");
    assert_eq!(only_id(&p), second);

    let asked =
        p.run(&["apply", "--auto-approve", "--replace", "tencentcloud_ssl_free_certificate.www"]);
    assert_eq!(asked.code, 3, "the new order's file is to publish: {}", asked.stderr);
    assert_eq!(p.sandbox.requests("ApplyCertificate"), applications + 1, "applied for when asked");
    assert_ne!(only_id(&p), second);
}

#[test]
fn apply_wait_waits_for_a_certificate_pending_since_before_and_sees_it_validated_elsewhere() {
    // The embedded sandbox: the running apply and `certplan sandbox validate` in another shell
    // share its data file, as in the dns-validation example.
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        dir.path().join("main.hcl"),
        resource("www", "www.example.com", "  dv_auth_method = \"DNS\"\n"),
    )
    .expect("config");
    let certplan = |args: &[&str]| {
        let mut cmd = std::process::Command::new(BIN);
        cmd.arg("--chdir")
            .arg(dir.path())
            .args(args)
            .env_remove("CERTPLAN_ENDPOINT")
            .env("CERTPLAN_TIME_SCALE", TIME_SCALE)
            .stdin(std::process::Stdio::null());
        cmd
    };
    let first = run(certplan(&["apply", "--sandbox", "--auto-approve"]));
    assert_eq!(first.code, 3, "the record is to add: {}", first.stderr);
    let show =
        run(certplan(&["state", "show", "--sandbox", "tencentcloud_ssl_free_certificate.www"]));
    let id = show.stdout.lines().find_map(|l| l.strip_prefix("certificate_id = ")).expect("id");
    let id = id.trim_matches('"').to_owned();

    // Nothing to apply, but --wait waits for the certificate pending since the first apply.
    let mut waiting = certplan(&["apply", "--sandbox", "--auto-approve", "--wait=2m"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("apply starts");
    // Its stderr, line by line: validated once the apply says it waits, not before.
    let (lines, seen) = std::sync::mpsc::channel::<String>();
    let stderr = waiting.stderr.take().expect("stderr");
    let reader = std::thread::spawn(move || {
        use std::io::BufRead as _;
        for line in std::io::BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = lines.send(line);
        }
    });
    let mut stderr = String::new();
    while !stderr.contains("waiting up to 2m for certificate") {
        let line = seen.recv_timeout(std::time::Duration::from_secs(60));
        stderr.push_str(&line.unwrap_or_else(|_| panic!("the apply never waited: {stderr}")));
        stderr.push('\n');
    }
    let validated = run(certplan(&["sandbox", "validate", &id]));
    assert_eq!(validated.code, 0, "{}", validated.stderr);
    let started = std::time::Instant::now();
    let out = waiting.wait_with_output().expect("apply ends");
    reader.join().expect("read");
    stderr.extend(seen.try_iter().map(|line| line + "\n"));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "issued, so nothing needs attention: {stdout}\n{stderr}"
    );
    assert!(started.elapsed() < std::time::Duration::from_secs(60), "saw it at once");
    assert!(stderr.contains(" issued after "), "{stderr}");
    let state =
        run(certplan(&["state", "show", "--sandbox", "tencentcloud_ssl_free_certificate.www"]));
    assert!(state.stdout.contains("status         = issued"), "{}", state.stdout);
    assert_eq!(run(certplan(&["plan", "--sandbox", "--detailed-exitcode"])).code, 0);
}

#[test]
fn sandbox_validate_takes_an_address_or_all_and_reissue_prints_the_new_id() {
    let manual = "  dv_auth_method = \"DNS\"\n";
    let p = Project::new(
        &[resource("www", "www.example.com", manual), resource("api", "api.example.com", manual)]
            .concat(),
    );
    assert_eq!(p.run(&["apply", "--auto-approve"]).code, 3, "two records to add");
    let console = |args: &[&str]| {
        let mut all = vec!["sandbox"];
        all.extend_from_slice(args);
        all.extend_from_slice(&["--endpoint", &p.sandbox.url]);
        p.run(&all)
    };
    let www = console(&["validate", "tencentcloud_ssl_free_certificate.www"]);
    assert_eq!(www.code, 0, "{}", www.stderr);
    assert_eq!(p.run(&["apply", "--auto-approve"]).code, 3, "api still waits");
    let all = console(&["validate", "--all"]);
    assert_eq!(all.code, 0, "{}", all.stderr);
    assert_eq!(p.run(&["apply", "--auto-approve"]).code, 0, "both issued");
    let none = console(&["validate", "--all"]);
    assert_eq!(none.code, 1, "{}", none.stderr);
    assert!(none.stderr.contains("no certificate in the state"), "{}", none.stderr);
    let unknown = console(&["validate", "tencentcloud_ssl_free_certificate.nope"]);
    assert_eq!(unknown.code, 1, "{}", unknown.stderr);

    let reissue = console(&["reissue", "tencentcloud_ssl_free_certificate.www"]);
    assert_eq!(reissue.code, 0, "{}", reissue.stderr);
    let new = reissue.stdout.trim();
    assert_eq!(new.len(), 8, "the new id, alone on stdout: {}", reissue.stdout);
    assert!(p.sandbox.certificates().iter().any(|c| c["id"] == new));
}

#[test]
fn dns_validation_published_in_tencent_cloud_dns_needs_no_person() {
    let config = "resource \"tencentcloud_ssl_free_certificate\" \"www\" {\n  domain         = \"www.example.com\"\n  dv_auth_method = \"DNS\"\n\n  dns_challenge {\n    provider = \"tencentcloud\"\n  }\n}\n";
    let p = Project::with_sandbox(config, &["--dns-zone", "example.com"]);
    let apply = p.run(&["apply", "--auto-approve", "--wait=1m"]);
    assert_eq!(apply.code, 0, "{}\n{}", apply.stdout, apply.stderr);
    assert!(!apply.stdout.contains("Needs attention"), "{}", apply.stdout);
    // One CNAME, made where the zone is; the CA found it and issued the certificate.
    assert_eq!(p.sandbox.requests("CreateRecord"), 1);
    let state = p.state();
    assert_eq!(state["resources"]["tencentcloud_ssl_free_certificate.www"]["status"], 1);
    assert_eq!(p.run(&["plan", "--detailed-exitcode"]).code, 0);

    // Renewed, the new certificate's record is published the same way.
    p.age(80);
    let renew = p.run(&["apply", "--auto-approve", "--wait=1m"]);
    assert_eq!(renew.code, 0, "{}\n{}", renew.stdout, renew.stderr);
    assert_eq!(p.sandbox.requests("CreateRecord"), 2);
    assert_eq!(p.state()["resources"]["tencentcloud_ssl_free_certificate.www"]["status"], 1);
}

#[test]
fn a_run_killed_before_publishing_the_validation_record_leaves_it_to_the_next_apply() {
    let config = "resource \"tencentcloud_ssl_free_certificate\" \"www\" {\n  domain         = \"www.example.com\"\n  dv_auth_method = \"DNS\"\n\n  dns_challenge {\n    provider = \"tencentcloud\"\n  }\n}\n";
    // Every call takes 150 ms: the kill lands between the application and the record.
    let p = Project::with_sandbox(config, &["--dns-zone", "example.com", "--latency", "150ms"]);
    crate::harness::kill_when(p.command(&["apply", "--auto-approve"]), || {
        p.sandbox.requests("ApplyCertificate") >= 1
    });
    assert_eq!(p.sandbox.requests("CreateRecord"), 0, "killed before publishing");
    let plan = p.run(&["plan"]);
    assert!(plan.stdout.contains("will publish DNS record _"), "{}\n{}", plan.stdout, plan.stderr);
    let apply = p.run(&["apply", "--auto-approve", "--wait=1m"]);
    assert_eq!(apply.code, 0, "{}\n{}", apply.stdout, apply.stderr);
    assert_eq!(p.sandbox.requests("CreateRecord"), 1);
    assert_eq!(p.sandbox.requests("ApplyCertificate"), 1, "no second application");
    assert_eq!(p.state()["resources"]["tencentcloud_ssl_free_certificate.www"]["status"], 1);
    assert_eq!(p.run(&["plan", "--detailed-exitcode"]).code, 0);
}
