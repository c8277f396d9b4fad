//! What a Terraform user types first: single-dash flags, `init`, usage errors that a CI job's
//! `plan -detailed-exitcode || [ $? -eq 2 ]` does not turn green.

use crate::harness::*;

fn zone_certificates() -> String {
    format!(
        "variable \"zone\" {{\n  type = string\n}}\n\n{}{}",
        certificate("www", "www.${var.zone}"),
        certificate("api", "api.${var.zone}")
    )
}

#[test]
fn terraform_single_dash_flags_work_as_terraform_spells_them() {
    let p = Project::new(&zone_certificates());
    std::fs::write(p.path().join("prod.tfvars"), "zone = \"example.com\"\n").expect("vars");
    let plan_file = p.path().join("tf.plan");
    let plan = p.run(&[
        "plan",
        "-var-file=prod.tfvars",
        "-var",
        "zone=example.org",
        "-target=tencentcloud_ssl_free_certificate.www",
        "-lock=false",
        "-lock-timeout=1s",
        "-input=false",
        "-no-color",
        "-detailed-exitcode",
        &format!("-out={}", plan_file.display()),
    ]);
    assert_eq!(plan.code, 2, "changes, and only changes: {}", plan.stderr);
    assert!(plan.stdout.contains("www.example.org"), "the later -var wins: {}", plan.stdout);
    assert!(!plan.stdout.contains("api.example"), "-target: {}", plan.stdout);

    let apply = p.run(&["apply", "-auto-approve", "-json", "-parallelism=2", "-input=false"]);
    assert_eq!(apply.code, 1, "{}", apply.stderr);
    assert!(apply.stderr.contains("variable \"zone\" has no value"), "{}", apply.stderr);
    let apply = p.run(&["apply", "-var-file=prod.tfvars", "-auto-approve", "-json"]);
    assert_eq!(apply.code, 0, "{}", apply.stderr);
    assert!(apply.stdout.lines().all(|l| l.starts_with('{')), "-json: {}", apply.stdout);
    assert_eq!(p.state_ids().len(), 2);

    let replace = p.run(&[
        "apply",
        "-var=zone=example.com",
        "-replace=tencentcloud_ssl_free_certificate.api",
        "-refresh=false",
        "-auto-approve",
        "-detailed-exitcode",
    ]);
    assert_eq!(replace.code, 2, "{}", replace.stderr);
    assert!(replace.stdout.contains("replaced"), "{}", replace.stdout);

    // -chdir comes before the command, as in Terraform.
    let mut cmd = std::process::Command::new(BIN);
    cmd.arg(format!("-chdir={}", p.path().display()))
        .args(["plan", "-var=zone=example.com"])
        .env("CERTPLAN_ENDPOINT", &p.sandbox.url)
        .env("TENCENTCLOUD_SECRET_ID", SECRET_ID)
        .env("TENCENTCLOUD_SECRET_KEY", SECRET_KEY)
        .current_dir(std::env::temp_dir());
    let from_elsewhere = run(cmd);
    assert_eq!(from_elsewhere.code, 0, "{}", from_elsewhere.stderr);
    let www = "tencentcloud_ssl_free_certificate.www";
    assert!(from_elsewhere.stdout.contains(www), "{}", from_elsewhere.stdout);
}

#[test]
fn a_usage_error_exits_1_and_suggests_the_flag_meant() {
    let p = Project::new(&certificate("www", "www.example.com"));
    for args in [
        &["apply", "-auto-aprove"][..],
        &["apply", "--auto-aprove"],
        &["plan", "-detailed-exitcod"],
        &["plan", "--no-such-flag"],
        &["plan", "-var", "novalue"],
        &["no-such-command"],
    ] {
        let out = p.run(args);
        assert_eq!(out.code, 1, "{args:?} is a usage error, never 2 (\"changes\"): {}", out.stderr);
    }
    let typo = p.run(&["apply", "-auto-aprove"]);
    assert!(typo.stderr.contains("--auto-approve"), "suggests the flag: {}", typo.stderr);
    assert!(!p.path().join("certplan.state.json").exists(), "nothing was applied");

    let help = p.run(&["plan", "-help"]);
    assert_eq!(help.code, 0, "{}", help.stderr);
    assert!(help.stdout.contains("--detailed-exitcode"), "{}", help.stdout);
    assert!(!help.stdout.contains("--lock"), "a plan takes no lock: {}", help.stdout);
    let import_help = p.run(&["import", "--help"]);
    for meaningless in ["--refresh", "--target", "--exclude", "--replace"] {
        assert!(!import_help.stdout.contains(meaningless), "{meaningless}: {}", import_help.stdout);
    }
    assert!(import_help.stdout.contains("--lock-timeout"), "{}", import_help.stdout);
}

#[test]
fn init_says_certplan_needs_none_and_input_false_never_asks() {
    let p = Project::new(&certificate("www", "www.example.com"));
    let init = p.run(&["init", "-backend-config=conn_str=x", "-upgrade"]);
    assert_eq!(init.code, 0, "{}", init.stderr);
    assert!(init.stderr.contains("certplan needs no init"), "{}", init.stderr);

    let apply = p.run(&["apply", "-input=false"]);
    assert_eq!(apply.code, 1, "{}", apply.stderr);
    assert!(apply.stderr.contains("--input=false"), "{}", apply.stderr);
    assert!(apply.stderr.contains("--auto-approve"), "says what to do: {}", apply.stderr);
    assert!(!p.path().join("certplan.state.json").exists(), "nothing was applied");
}
