//! What state records: every command finds it where the `certplan` block says it lives, and a
//! certificate's record is complete from the moment it is written — a later crash or a flag
//! added later cannot leave it half true.

use std::process::Stdio;

use crate::harness::{Project, certificate, run};

#[test]
fn every_command_uses_the_state_path_of_the_certplan_block() {
    let block = "certplan {\n  backend \"local\" {\n    path = \"state/prod.json\"\n  }\n}\n\n";
    let output = "output \"www_id\" {\n  value = tencentcloud_ssl_free_certificate.www.id\n}\n\n";
    let config = [block, output, &certificate("www", "www.example.com")].concat();
    let p = Project::new(&config);
    assert_eq!(p.run(&["apply", "--auto-approve"]).code, 0);
    let state: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(p.path().join("state/prod.json")).expect("state written there"),
    )
    .expect("state is JSON");
    let id = state["resources"]["tencentcloud_ssl_free_certificate.www"]["certificate_id"]
        .as_str()
        .expect("recorded")
        .to_owned();

    let list = p.run(&["state", "list"]);
    assert_eq!(list.code, 0, "{}", list.stderr);
    assert_eq!(list.stdout.trim(), "tencentcloud_ssl_free_certificate.www");
    let show = p.run(&["state", "show", "tencentcloud_ssl_free_certificate.www"]);
    assert!(show.stdout.contains(&id), "{}{}", show.stdout, show.stderr);
    let output = p.run(&["output", "www_id"]);
    assert_eq!(output.stdout.trim(), format!("{id:?}"), "{}", output.stderr);
    let refresh = p.run(&["refresh"]);
    assert!(refresh.stdout.contains("The cloud matches the state."), "{}", refresh.stdout);
    assert_eq!(p.run(&["plan", "--detailed-exitcode"]).code, 0, "the plan finds it there too");

    // Commands on state alone still work when the rest of the configuration is broken.
    let broken = [config.as_str(), "variable \"needed\" {\n  type = string\n}\n\nresource \"tencentcloud_ssl_free_certificate\" \"bad\" {\n  domain = var.needed\n}\n"].concat();
    p.write_config(&broken);
    assert_eq!(p.run(&["state", "list"]).stdout.trim(), "tencentcloud_ssl_free_certificate.www");
    let output = p.run(&["output", "www_id"]);
    assert_eq!(output.stdout.trim(), format!("{id:?}"), "{}", output.stderr);
    let moved = p.run(&[
        "state",
        "mv",
        "tencentcloud_ssl_free_certificate.www",
        "tencentcloud_ssl_free_certificate.web",
    ]);
    assert_eq!(moved.code, 0, "{}", moved.stderr);
    let removed = p.run(&["state", "rm", "tencentcloud_ssl_free_certificate.web"]);
    assert_eq!(removed.code, 0, "{}", removed.stderr);
    assert_eq!(p.run(&["state", "list"]).stdout.trim(), "");
    assert!(!p.path().join("certplan.state.json").exists(), "nothing written at the default path");
}

#[test]
fn prevent_destroy_added_to_a_live_certificate_protects_it() {
    let p = Project::new(&certificate("www", "www.example.com"));
    assert_eq!(p.run(&["apply", "--auto-approve"]).code, 0);
    let protected = "resource \"tencentcloud_ssl_free_certificate\" \"www\" {\n  domain         = \"www.example.com\"\n  dv_auth_method = \"DNS_AUTO\"\n\n  lifecycle {\n    prevent_destroy = true\n  }\n}\n";
    p.write_config(protected);
    let unchanged = p.run(&["apply", "--auto-approve"]);
    assert_eq!(unchanged.code, 0, "{}", unchanged.stderr);
    assert!(unchanged.stdout.contains("No changes."), "{}", unchanged.stdout);

    p.write_config("");
    let plan = p.run(&["plan"]);
    assert_eq!(plan.code, 1, "the plan to delete is refused: {}", plan.stdout);
    assert!(plan.stderr.contains("prevent_destroy"), "{}", plan.stderr);
    let apply = p.run(&["apply", "--auto-approve"]);
    assert_eq!(apply.code, 1, "{}", apply.stdout);
    assert_eq!(p.sandbox.certificates().len(), 1, "the certificate is still there");

    // A removed block is still the way out.
    p.write_config("removed {\n  from = tencentcloud_ssl_free_certificate.www\n}\n");
    let forget = p.run(&["apply", "--auto-approve"]);
    assert_eq!(forget.code, 0, "{}", forget.stderr);
    assert_eq!(p.sandbox.certificates().len(), 1, "forgotten, not deleted");
}

#[test]
fn a_crash_after_a_certificate_is_recorded_never_reveals_its_sensitive_arguments() {
    let config = "variable \"contact\" {\n  type      = string\n  sensitive = true\n}\n\nresource \"tencentcloud_ssl_free_certificate\" \"www\" {\n  domain         = \"www.example.com\"\n  dv_auth_method = \"DNS_AUTO\"\n  contact_email  = var.contact\n}\n";
    // Issuance takes an hour, so the apply records the certificate, then waits.
    let p = Project::with_sandbox(config, &["--issue-delay", "1h"]);
    let secret = "hidden-person@example.com";
    let state_path = p.path().join("certplan.state.json");
    let mut cmd = p.command(&["apply", "--auto-approve", "--wait=10m"]);
    let mut child = cmd
        .env("CERTPLAN_VAR_contact", secret)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("apply starts");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let recorded = loop {
        let text = std::fs::read_to_string(&state_path).unwrap_or_default();
        if text.contains("certificate_id") {
            break text;
        }
        assert!(std::time::Instant::now() < deadline, "the certificate was never recorded");
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    assert!(child.try_wait().expect("polled").is_none(), "the kill lands mid-apply");
    child.kill().expect("SIGKILL");
    child.wait().expect("reaped");
    assert!(recorded.contains("contact_email"), "{recorded}");

    // The block is gone: the plan to delete the certificate must still hide the value.
    p.write_config("variable \"contact\" {\n  sensitive = true\n}\n");
    let mut cmd = p.command(&["plan"]);
    cmd.env("CERTPLAN_VAR_contact", secret);
    let delete = run(cmd);
    assert_eq!(delete.code, 0, "{}", delete.stderr);
    assert!(delete.stdout.contains("- contact_email  = (sensitive value)"), "{}", delete.stdout);
    assert!(!delete.stdout.contains(secret) && !delete.stderr.contains(secret));
}
