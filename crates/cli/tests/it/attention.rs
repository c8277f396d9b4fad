//! A scheduled run goes red, and says why, whenever a site is heading for an expired
//! certificate that certplan cannot save by itself: the "Needs attention" section and exit 3.
//! (A validation that failed twice, one still waiting for a person, and resources a renewal
//! leaves behind are in validation.rs and delivery.rs, beside what they are about.)

use serde_json::Value;

use crate::harness::*;

#[test]
fn a_region_that_does_not_exist_is_caught_by_validate_with_the_one_meant() {
    let config = format!(
        "provider \"tencentcloud\" {{\n  region = \"ap-shangai\"\n}}\n\n{}",
        resource(
            "www",
            "www.example.com",
            "  deploy {\n    resource_types = [\"clb\"]\n    regions        = { clb = [\"ap-guangzho\"] }\n  }\n",
        )
    );
    let p = Project::new(&config);
    let validate = p.run(&["validate"]);
    assert_eq!(validate.code, 1, "{}", validate.stderr);
    assert!(validate.stderr.contains("unknown region \"ap-guangzho\""), "{}", validate.stderr);
    assert!(validate.stderr.contains("did you mean \"ap-guangzhou\"?"), "{}", validate.stderr);
    assert!(validate.stderr.contains("main.hcl:9"), "names the line: {}", validate.stderr);
    assert!(validate.stderr.contains("did you mean \"ap-shanghai\"?"), "{}", validate.stderr);
    assert!(validate.stderr.contains("main.hcl:2"), "{}", validate.stderr);
    // Nothing is applied for with it.
    assert_eq!(p.run(&["apply", "--auto-approve"]).code, 1);
    assert!(p.sandbox.certificates().is_empty());
}

#[test]
fn a_renew_before_shorter_than_validation_takes_needs_attention() {
    let manual = "  dv_auth_method = \"DNS\"\n  lifecycle {\n    renew_before = \"3d\"\n  }\n";
    let p = Project::new(&resource("www", "www.example.com", manual));
    assert_eq!(p.run(&["apply", "--auto-approve"]).code, 3, "the record is to add");
    p.sandbox.console("validate", &only_id(&p));
    let plan = p.run(&["plan", "--detailed-exitcode"]);
    assert_eq!(plan.code, 3, "{}", plan.stdout);
    assert!(plan.stdout.contains("validation may take 7 days"), "{}", plan.stdout);
    assert!(plan.stdout.contains("HTTPS breaks: 20"), "{}", plan.stdout);
    assert!(plan.stdout.contains("set renew_before well above 7 days"), "{}", plan.stdout);

    let json = p.run(&["plan", "--json"]);
    let json: Value = serde_json::from_str(&json.stdout).expect("plan JSON");
    let attention = &json["attention"][0];
    assert_eq!(attention["kind"], "expires_before_renewal", "{json}");
    assert_eq!(attention["validation_days"], 7);
    assert_eq!(attention["address"], "tencentcloud_ssl_free_certificate.www");
    assert!(attention["breaks_at"].is_string(), "{attention}");

    let apply = p.run(&["apply", "--auto-approve", "--json"]);
    assert_eq!(apply.code, 3, "{}", apply.stderr);
    let events: Vec<Value> =
        apply.stdout.lines().map(|l| serde_json::from_str(l).expect("a JSON event")).collect();
    let flagged = events.iter().find(|e| e["type"] == "attention").expect("an attention event");
    assert_eq!(flagged["attention"]["kind"], "expires_before_renewal");

    // Given the time validation needs, the run is green.
    let enough = "  dv_auth_method = \"DNS\"\n  lifecycle {\n    renew_before = \"30d\"\n  }\n";
    p.write_config(&resource("www", "www.example.com", enough));
    assert_eq!(p.run(&["plan", "--detailed-exitcode"]).code, 0);
    assert_eq!(p.run(&["apply", "--auto-approve"]).code, 0);
}

#[test]
fn an_expired_certificate_is_red_until_its_replacement_serves() {
    let p = Project::new(&certificate("www", "www.example.com"));
    assert_eq!(p.run(&["apply", "--auto-approve"]).code, 0);
    p.age(95);
    let plan = p.run(&["plan", "--detailed-exitcode"]);
    assert_eq!(plan.code, 3, "{}", plan.stdout);
    assert!(plan.stdout.contains("HTTPS is broken now"), "{}", plan.stdout);
    assert!(plan.stdout.contains("(already expired)"), "{}", plan.stdout);
    // The apply replaces it, the new one is issued at once: fixed, and green.
    let apply = p.run(&["apply", "--auto-approve"]);
    assert_eq!(apply.code, 0, "{}\n{}", apply.stdout, apply.stderr);
    assert!(
        !apply.stdout.rsplit("Apply complete!").next().unwrap_or("").contains("Needs attention")
    );
    assert_eq!(p.run(&["plan", "--detailed-exitcode"]).code, 0);
}

#[test]
fn a_certificate_issued_already_expired_is_not_applied_for_again_on_every_run() {
    // The service's dates far behind ours: the certificate is issued 95 days in the past.
    let p = Project::with_sandbox(&certificate("www", "www.example.com"), &["--issue-delay", "1h"]);
    assert_eq!(p.run(&["apply", "--auto-approve"]).code, 0, "applied for; issued within the hour");
    let first = only_id(&p);
    p.age(95);
    let applications = p.sandbox.requests("ApplyCertificate");
    for _ in 0..3 {
        let plan = p.run(&["plan", "--detailed-exitcode"]);
        assert_eq!(plan.code, 3, "{}", plan.stdout);
        assert!(plan.stdout.contains("already due"), "{}", plan.stdout);
        let apply = p.run(&["apply", "--auto-approve"]);
        assert_eq!(apply.code, 3, "{}\n{}", apply.stdout, apply.stderr);
    }
    assert_eq!(p.sandbox.requests("ApplyCertificate"), applications, "no quota spent");
    assert_eq!(only_id(&p), first);
    let json = p.run(&["plan", "--json"]);
    let json: Value = serde_json::from_str(&json.stdout).expect("plan JSON");
    assert_eq!(json["resource_changes"][0]["action_reason"], "due_at_issuance", "{json}");
    assert_eq!(json["attention"][0]["kind"], "due_at_issuance", "{json}");

    // Asked for, it applies again.
    let asked =
        p.run(&["apply", "--auto-approve", "--replace", "tencentcloud_ssl_free_certificate.www"]);
    assert_eq!(p.sandbox.requests("ApplyCertificate"), applications + 1, "{}", asked.stderr);
}

#[test]
fn a_certificate_lost_again_before_it_was_issued_is_not_applied_for_again() {
    let manual = "  dv_auth_method = \"DNS\"\n";
    let p = Project::new(&resource("www", "www.example.com", manual));
    assert_eq!(p.run(&["apply", "--auto-approve"]).code, 3, "the record is to add");
    // Deleted in the console before it was validated: applied for again, once.
    p.sandbox.console("delete", &only_id(&p));
    assert_eq!(p.run(&["apply", "--auto-approve"]).code, 3);
    let second = only_id(&p);
    let applications = p.sandbox.requests("ApplyCertificate");
    // And again: something deletes them; applying on every run would spend the quota.
    p.sandbox.console("delete", &second);
    for _ in 0..2 {
        let plan = p.run(&["plan", "--detailed-exitcode"]);
        assert_eq!(plan.code, 3, "{}", plan.stdout);
        assert!(plan.stdout.contains("is gone too, before it was ever issued"), "{}", plan.stdout);
        assert_eq!(p.run(&["apply", "--auto-approve"]).code, 3);
    }
    assert_eq!(p.sandbox.requests("ApplyCertificate"), applications, "no quota spent");
    let asked =
        p.run(&["apply", "--auto-approve", "--replace", "tencentcloud_ssl_free_certificate.www"]);
    assert_eq!(p.sandbox.requests("ApplyCertificate"), applications + 1, "{}", asked.stderr);
}

#[test]
fn a_certificate_the_service_cannot_place_needs_attention_and_is_renewed_all_the_same() {
    let deploy =
        "  dv_auth_method = \"DNS_AUTO\"\n  deploy {\n    resource_types = [\"cdn\"]\n  }\n";
    let p = Project::new(&resource("www", "www.example.com", deploy));
    assert_eq!(p.run(&["apply", "--auto-approve"]).code, 0);
    let old = only_id(&p);
    p.sandbox.bind(&old, "cdn", None, "www.example.com");
    p.age(70);
    // The service's query of where the old certificate is bound fails: not knowing is not safe.
    let failing = certplan_sandbox::Faults { bind_query_failure_rate: 1.0, ..Default::default() };
    p.sandbox.set_faults(&failing);
    let plan = p.run(&["plan", "--detailed-exitcode"]);
    assert_eq!(plan.code, 3, "{}", plan.stdout);
    assert!(
        plan.stdout.contains("could not say where this certificate is bound"),
        "{}",
        plan.stdout
    );
    assert!(
        plan.stderr.contains(&format!("query of where {old} is bound failed")),
        "{}",
        plan.stderr
    );
    // The renewal, and its deployment, are not held back by it.
    let apply = p.run(&["apply", "--auto-approve", "--wait"]);
    assert_eq!(apply.code, 3, "{}\n{}", apply.stdout, apply.stderr);
    let new = only_id(&p);
    assert_ne!(new, old);
    assert!(p.sandbox.bindings().iter().all(|b| b.certificate_id == new));
    // Once the service answers, nothing is left behind: green.
    p.sandbox.clear_faults();
    assert_eq!(p.run(&["plan", "--detailed-exitcode"]).code, 0);
}
