//! The shipped examples (`examples/`): copied as they are, they apply against the embedded
//! sandbox, with no cloud account.

use std::path::PathBuf;
use std::process::Command;

use crate::harness::{BIN, TIME_SCALE, run};

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
            .env_remove("TENCENTCLOUD_SECRET_KEY")
            // The embedded sandbox's polls at the suite's pace; what the user sees is the same.
            .env("CERTPLAN_TIME_SCALE", TIME_SCALE);
        run(cmd)
    };
    let apply = certplan(&["apply", "--sandbox", "--auto-approve"]);
    assert_eq!(apply.code, 0, "{}", apply.stderr);
    assert!(apply.stdout.contains("Resources: 4 added"), "{}", apply.stdout);
    // Two accounts: the staging one's certificate is kept apart, and the state says where.
    let staging =
        certplan(&["state", "show", "--sandbox", "tencentcloud_ssl_free_certificate.staging"]);
    assert!(staging.stdout.contains("tencentcloud.staging"), "{}", staging.stdout);
    assert!(dir.path().join(".certplan/sandbox.json").exists());
    assert!(apply.stderr.contains("on_change (stdout): reload: www.example.com now serves"));
    let cert = dir.path().join("certs/www/cert.pem");
    let first = std::fs::read_to_string(&cert).expect("www is exported");
    assert_eq!(certplan(&["plan", "--sandbox", "--detailed-exitcode"]).code, 0);

    // The renewal walkthrough (docs/sandbox.md): a listener serves www; 70 days later both renewals
    // are planned, and apply moves the listener and rewrites the files.
    let state = certplan(&["state", "show", "--sandbox", "tencentcloud_ssl_free_certificate.www"]);
    let id = state.stdout.lines().find_map(|l| l.strip_prefix("certificate_id = ")).expect("id");
    let id = id.trim_matches('"').to_owned();
    let bind = ["sandbox", "bind", &id, "clb", "lb-1|lbl-1", "--region", "ap-guangzhou"];
    assert_eq!(certplan(&bind).code, 0);
    assert_eq!(certplan(&["sandbox", "age", "--days", "70"]).code, 0);
    let plan = certplan(&["plan", "--sandbox", "--detailed-exitcode"]);
    assert_eq!(plan.code, 2);
    assert!(
        plan.stdout.contains("Plan: 0 to add, 3 to renew"),
        "shop renews 14 days before expiry: {}",
        plan.stdout
    );
    assert!(plan.stdout.contains("will deploy the new certificate to cdn, clb (ap-guangzhou)"));
    let renewal = certplan(&["apply", "--sandbox", "--auto-approve"]);
    assert_eq!(renewal.code, 0, "{}", renewal.stderr);
    assert!(renewal.stderr.contains("deployed"), "{}", renewal.stderr);
    assert_ne!(std::fs::read_to_string(&cert).expect("still exported"), first, "files replaced");
    let bindings = certplan(&["sandbox", "bindings"]);
    assert!(!bindings.stdout.contains(&id), "the listener left {id}: {}", bindings.stdout);
    assert_eq!(certplan(&["plan", "--sandbox", "--detailed-exitcode"]).code, 0);
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
        cmd.env("CERTPLAN_TIME_SCALE", TIME_SCALE);
        run(cmd)
    };
    assert_eq!(certplan(&["validate"]).code, 0);
    let apply = certplan(&["apply", "--sandbox", "--auto-approve"]);
    assert_eq!(apply.code, 3, "shop's DNS record is to add: {}", apply.stderr);
    assert!(apply.stdout.contains("Resources: 3 added"), "{}", apply.stdout);
    assert!(apply.stdout.contains("certificate_ids = {"), "{}", apply.stdout);
    assert!(
        apply.stderr.contains(r#"site["shop"]"#) && apply.stderr.contains("add DNS record"),
        "shop uses manual DNS: {}",
        apply.stderr
    );
}
