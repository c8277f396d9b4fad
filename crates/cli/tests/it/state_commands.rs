//! Commands that read or rewrite the state rather than the cloud: `state list/show/rm/mv`,
//! `import`, `refresh`, `output`, `moved` blocks, and plans narrowed by `--target`/`--exclude` or
//! made without refreshing.

use serde_json::Value;

use crate::harness::{Project, certificate, only_id, run, sites};

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
fn import_adopts_an_existing_certificate_without_applying() {
    let p = Project::new(&certificate("www", "www.example.com"));
    let id = p.sandbox.seed(&["www.example.com"]).remove(0);
    let import = p.run(&["import", "tencentcloud_ssl_free_certificate.www", &id]);
    assert_eq!(import.code, 0, "{}", import.stderr);
    assert_eq!(p.state_ids(), std::slice::from_ref(&id));
    let plan = p.run(&["plan", "--detailed-exitcode"]);
    assert_eq!(
        plan.code, 0,
        "an imported certificate matching its block is unchanged: {}",
        plan.stdout
    );
    assert_eq!(p.sandbox.stats().requests.get("ApplyCertificate"), None, "no application");

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
fn moved_into_for_each_and_count_and_to_another_resources_instance() {
    let p = Project::new(
        &[certificate("c", "c.example.com"), certificate("d", "d.example.com")].concat(),
    );
    assert_eq!(p.run(&["apply", "--auto-approve"]).code, 0);
    let before = p.state();
    let id = |state: &serde_json::Value, address: &str| {
        state["resources"][address]["certificate_id"].as_str().expect(address).to_owned()
    };
    let (c, d) = (
        id(&before, "tencentcloud_ssl_free_certificate.c"),
        id(&before, "tencentcloud_ssl_free_certificate.d"),
    );
    let config = r#"resource "tencentcloud_ssl_free_certificate" "c" {
  for_each       = toset(["c.example.com"])
  domain         = each.value
  dv_auth_method = "DNS_AUTO"
}

resource "tencentcloud_ssl_free_certificate" "many" {
  count          = 1
  domain         = "d.example.com"
  dv_auth_method = "DNS_AUTO"
}

moved {
  from = tencentcloud_ssl_free_certificate.c
  to   = tencentcloud_ssl_free_certificate.c["c.example.com"]
}

moved {
  from = tencentcloud_ssl_free_certificate.d
  to   = tencentcloud_ssl_free_certificate.many[0]
}
"#;
    p.write_config(config);
    let plan = p.run(&["plan"]);
    assert_eq!(plan.code, 0, "{}", plan.stderr);
    assert!(plan.stdout.contains("Only renames in the state"), "{}", plan.stdout);
    assert_eq!(p.run(&["apply", "--auto-approve"]).code, 0);
    let after = p.state();
    assert_eq!(id(&after, r#"tencentcloud_ssl_free_certificate.c["c.example.com"]"#), c);
    assert_eq!(id(&after, "tencentcloud_ssl_free_certificate.many[0]"), d);
    assert_eq!(p.sandbox.certificates().len(), 2, "no new application");
    assert_eq!(p.run(&["plan", "--detailed-exitcode"]).code, 0);
}

#[test]
fn import_records_what_the_cloud_holds_not_what_the_block_says() {
    let ecc = "resource \"tencentcloud_ssl_free_certificate\" \"www\" {\n  domain            = \"www.example.com\"\n  dv_auth_method    = \"DNS_AUTO\"\n  csr_encrypt_algo  = \"ECC\"\n  csr_key_parameter = \"prime256v1\"\n}\n";
    let p = Project::new(ecc);
    // An RSA certificate, as applied for in the console.
    let id = p.sandbox.seed(&["www.example.com"]).remove(0);
    let import = p.run(&["import", "tencentcloud_ssl_free_certificate.www", &id]);
    assert_eq!(import.code, 0, "{}", import.stderr);
    let recorded = &p.state()["resources"]["tencentcloud_ssl_free_certificate.www"]["args"];
    assert_eq!(recorded["csr_encrypt_algo"], "RSA", "{recorded}");
    let plan = p.run(&["plan", "--detailed-exitcode"]);
    assert_eq!(plan.code, 2, "the difference is planned: {}", plan.stdout);
    assert!(plan.stdout.contains("csr_encrypt_algo"), "{}", plan.stdout);
    assert!(plan.stdout.contains("forces replacement"), "{}", plan.stdout);

    // Importing it again under another address warns, naming the first.
    p.write_config(&(ecc.to_owned() + &certificate("web", "www.example.com")));
    let twice = p.run(&["import", "tencentcloud_ssl_free_certificate.web", &id]);
    assert!(
        twice.stderr.contains("already recorded as tencentcloud_ssl_free_certificate.www"),
        "{}",
        twice.stderr
    );
}
