//! Changes made in the cloud outside certplan — in the console, with an SDK — that certplan must
//! see for what they are rather than undo or repeat.

use crate::harness::{Project, SECRET_ID, SECRET_KEY, certificate, only_id};

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

#[test]
fn refresh_says_what_was_deleted_and_records_it() {
    let p = Project::new(&certificate("www", "www.example.com"));
    assert_eq!(p.run(&["apply", "--auto-approve"]).code, 0);
    let id = only_id(&p);
    p.sandbox.console("delete", &id);
    let refresh = p.run(&["refresh"]);
    assert_eq!(refresh.code, 0, "{}", refresh.stderr);
    assert!(refresh.stdout.contains(&format!("({id}) was deleted")), "{}", refresh.stdout);
    assert!(!refresh.stdout.contains("No changes"), "{}", refresh.stdout);
    assert!(refresh.stderr.contains("State updated from the cloud."), "{}", refresh.stderr);
    assert!(p.state()["resources"].as_object().is_some_and(|r| r.is_empty()), "recorded");
    let plan = p.run(&["plan"]);
    assert!(plan.stdout.contains("will be created"), "{}", plan.stdout);
}

#[test]
fn the_small_words_are_true() {
    let p = Project::new(&certificate("www", "www.example.com"));
    let nothing = p.run(&["apply", "--auto-approve", "--json"]);
    let summary: Vec<serde_json::Value> = nothing
        .stdout
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .filter(|e: &serde_json::Value| e["type"] == "change_summary")
        .collect();
    assert_eq!(summary.len(), 1, "apply --json always ends with a change_summary");
    assert_eq!(p.run(&["apply", "--auto-approve"]).code, 0);
    let empty = p.run(&["apply", "--auto-approve", "--json"]);
    assert!(empty.stdout.contains("\"change_summary\""), "{}", empty.stdout);
    assert!(!empty.stdout.contains("\"added\":1"), "nothing to do: {}", empty.stdout);

    p.write_config("resource \"tencentcloud_ssl_free_certificate\" \"www\" {\n  domain = 1\n}\n");
    let invalid = p.run(&["validate"]);
    assert!(
        invalid.stderr.contains("has 2 errors") || invalid.stderr.contains("has 1 error\n"),
        "{}",
        invalid.stderr
    );
    assert!(!invalid.stderr.contains("error(s)"), "{}", invalid.stderr);

    let mut cmd = p.command(&["plan"]);
    cmd.env("CERTPLAN_ENDPOINT", "127.0.0.1:8443");
    p.write_config(&certificate("www", "www.example.com"));
    let no_scheme = crate::harness::run(cmd);
    assert!(no_scheme.stderr.contains("http://127.0.0.1:8443"), "{}", no_scheme.stderr);
    assert!(!no_scheme.stderr.contains("relative URL"), "{}", no_scheme.stderr);
}

#[test]
fn state_and_saved_plans_belong_to_the_cloud_they_describe() {
    let p = Project::new(&certificate("www", "www.example.com"));
    assert_eq!(p.run(&["apply", "--auto-approve"]).code, 0);
    let recorded = p.state();
    let cloud = &recorded["clouds"]["tencentcloud"];
    assert_eq!(cloud["endpoint"], p.sandbox.url.as_str(), "{recorded}");
    // The account the credentials reach, as the service names it.
    let account = certplan_sandbox::SandboxAccount::new(SECRET_ID, SECRET_KEY).uin;
    assert_eq!(cloud["account"], account.as_str(), "{recorded}");

    // The same state against another endpoint is refused, saying what to do.
    let other = crate::harness::SandboxProcess::start(&p.path().join("other.json"), &[]);
    let mut cmd = p.command(&["plan"]);
    cmd.env("CERTPLAN_ENDPOINT", &other.url);
    let elsewhere = crate::harness::run(cmd);
    assert_eq!(elsewhere.code, 1, "{}", elsewhere.stdout);
    assert!(
        elsewhere.stderr.contains("records the certificates of provider tencentcloud in"),
        "{}",
        elsewhere.stderr
    );
    assert!(!elsewhere.stdout.contains("will be created"), "{}", elsewhere.stdout);

    // A saved plan is applied to the cloud it was made against only (here the state's binding
    // refuses first; the plan's own check is the one the sandbox test below meets).
    p.write_config(
        &[certificate("www", "www.example.com"), certificate("api", "api.example.com")].concat(),
    );
    let saved = p.run(&["plan", "--out", "next.plan"]);
    assert_eq!(saved.code, 0, "{}", saved.stderr);
    let mut cmd = p.command(&["apply", "next.plan"]);
    cmd.env("CERTPLAN_ENDPOINT", &other.url);
    let misapplied = crate::harness::run(cmd);
    assert_eq!(misapplied.code, 1);
    assert!(misapplied.stderr.contains("this run talks to"), "{}", misapplied.stderr);
    assert!(other.certificates().is_empty(), "nothing applied for elsewhere");
}

#[test]
fn the_embedded_sandbox_keeps_a_state_of_its_own() {
    let p = Project::new(&certificate("www", "www.example.com"));
    let mut cmd = p.command(&["apply", "--sandbox", "--auto-approve"]);
    cmd.env_remove("CERTPLAN_ENDPOINT");
    let apply = crate::harness::run(cmd);
    assert_eq!(apply.code, 0, "{}", apply.stderr);
    assert!(p.path().join(".certplan/sandbox.state.json").exists());
    assert!(!p.path().join("certplan.state.json").exists(), "the account's state is untouched");
    let mut cmd = p.command(&["plan", "--sandbox", "--out", "s.plan"]);
    cmd.env_remove("CERTPLAN_ENDPOINT");
    let saved = crate::harness::run(cmd);
    assert!(saved.stderr.contains("certplan apply --sandbox s.plan"), "{}", saved.stderr);
    let listed = p.run(&["state", "list", "--sandbox"]);
    assert_eq!(listed.stdout.trim(), "tencentcloud_ssl_free_certificate.www", "{}", listed.stderr);
    // Dropping --sandbox plans for the account, from its own (empty) state.
    let real = p.run(&["plan"]);
    assert_eq!(real.code, 0, "{}", real.stderr);
    assert!(real.stdout.contains("will be created"), "{}", real.stdout);
    assert!(!real.stdout.contains("was deleted"), "{}", real.stdout);
    let wrong = p.run(&["apply", "s.plan"]);
    assert_eq!(wrong.code, 1);
    assert!(wrong.stderr.contains("add --sandbox"), "{}", wrong.stderr);
}

#[test]
fn a_reissue_made_in_the_console_takes_the_original_certificates_place() {
    let p = Project::new(&certificate("www", "www.example.com"));
    assert_eq!(p.run(&["apply", "--auto-approve"]).code, 0);
    let original = only_id(&p);
    p.sandbox.console("reissue", &original);
    let reissue = p
        .sandbox
        .certificates()
        .iter()
        .filter_map(|c| c["id"].as_str().map(str::to_owned))
        .find(|id| *id != original)
        .expect("reissued");
    let plan = p.run(&["plan", "--detailed-exitcode"]);
    assert!(
        plan.stdout.contains(&format!("({original}) was reissued outside certplan: {reissue}")),
        "{}",
        plan.stdout
    );
    assert_eq!(plan.code, 0, "{}", plan.stdout);
    assert_eq!(p.run(&["apply", "--auto-approve"]).code, 0);
    assert_eq!(only_id(&p), reissue);
    assert_eq!(p.sandbox.requests("ApplyCertificate"), 1, "nothing applied for");
}
