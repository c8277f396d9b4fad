//! Apply's lifecycle as a user sees it: applying for certificates, renewing them before they
//! expire, changing, replacing and deleting them, drift in the cloud, saved plans and approval.

use crate::harness::{Project, certificate, only_id, resource, three_certificates};

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
    assert_eq!(plan.code, 3, "HTTPS is broken now, a person should know: {}", plan.stderr);
    assert_eq!(plan.stdout.matches("HTTPS is broken now").count(), 2, "{}", plan.stdout);
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
fn apply_detailed_exitcode_says_whether_anything_changed() {
    let p = Project::new(&certificate("www", "www.example.com"));
    assert_eq!(p.run(&["apply", "--auto-approve", "--detailed-exitcode"]).code, 2);
    assert_eq!(p.run(&["apply", "--auto-approve", "--detailed-exitcode"]).code, 0);
}
