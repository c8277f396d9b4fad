//! Changes made in the cloud outside certplan — in the console, with an SDK — that certplan must
//! see for what they are rather than undo or repeat.

use crate::harness::{Project, certificate, only_id};

#[test]
fn a_renewal_made_outside_certplan_is_adopted_not_renewed_again() {
    let p = Project::new(&certificate("www", "www.example.com"));
    assert_eq!(p.run(&["apply", "--auto-approve"]).code, 0);
    let old = only_id(&p);
    p.age(70);
    let renewal = p.sandbox.renew_outside(&old, "www.example.com");
    assert_eq!(p.sandbox.requests("ApplyCertificate"), 2);

    let plan = p.run(&["plan", "--detailed-exitcode"]);
    assert!(
        plan.stdout.contains(&format!("({old}) was renewed outside certplan: {renewal}")),
        "{}",
        plan.stdout
    );
    assert!(!plan.stdout.contains("will be renewed"), "{}", plan.stdout);
    assert_eq!(plan.code, 0, "nothing to do in the cloud: {}", plan.stdout);
    let json = p.run(&["plan", "--json"]);
    let json: serde_json::Value = serde_json::from_str(&json.stdout).expect("plan JSON");
    assert_eq!(json["resource_drift"][0]["kind"], "renewed");
    assert_eq!(json["resource_drift"][0]["to"], renewal.as_str());

    let apply = p.run(&["apply", "--auto-approve"]);
    assert_eq!(apply.code, 0, "{}", apply.stderr);
    assert_eq!(only_id(&p), renewal, "the renewal is recorded");
    let state = p.state();
    let www = &state["resources"]["tencentcloud_ssl_free_certificate.www"];
    assert_eq!(www["renewed_from"][0], old.as_str());
    assert_eq!(p.sandbox.requests("ApplyCertificate"), 2, "no second renewal applied for");
    assert_eq!(p.run(&["plan", "--detailed-exitcode"]).code, 0);
    let shown = p.run(&["plan"]);
    assert!(!shown.stdout.contains("renewed outside"), "recorded once: {}", shown.stdout);
}

#[test]
fn refresh_records_a_renewal_made_outside_certplan() {
    let p = Project::new(&certificate("www", "www.example.com"));
    assert_eq!(p.run(&["apply", "--auto-approve"]).code, 0);
    let old = only_id(&p);
    p.age(70);
    let renewal = p.sandbox.renew_outside(&old, "www.example.com");
    let refresh = p.run(&["refresh"]);
    assert_eq!(refresh.code, 0, "{}", refresh.stderr);
    assert!(refresh.stdout.contains("was renewed outside certplan"), "{}", refresh.stdout);
    assert_eq!(only_id(&p), renewal);
}

#[test]
fn a_certificate_removed_in_its_first_hour_is_deleted_by_a_later_apply() {
    let p = Project::new(&certificate("www", "www.example.com"));
    assert_eq!(p.run(&["apply", "--auto-approve"]).code, 0);
    let id = only_id(&p);
    p.write_config("");
    let apply = p.run(&["apply", "--auto-approve"]);
    assert_eq!(apply.code, 0, "the run succeeds: {}", apply.stderr);
    assert!(apply.stderr.contains("cannot be deleted yet"), "{}", apply.stderr);
    assert!(apply.stderr.contains("it can be deleted from"), "{}", apply.stderr);
    assert!(apply.stdout.contains("0 destroyed"), "{}", apply.stdout);
    let state = p.state();
    assert_eq!(state["deposed"][0]["certificate_id"], id.as_str(), "{state}");
    assert_eq!(p.sandbox.certificates().len(), 1);

    p.age(1);
    let later = p.run(&["apply", "--auto-approve"]);
    assert_eq!(later.code, 0, "{}", later.stderr);
    assert!(p.sandbox.certificates().is_empty(), "deleted once an hour has passed");
    assert!(p.state().get("deposed").is_none());
}
