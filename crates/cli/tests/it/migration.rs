//! Moving certificates in: `import` blocks (Terraform 1.5's declarative import), a Terraform
//! directory recognised, and `certplan import --from-terraform` adopting a Terraform state's
//! certificates in one command.

use serde_json::Value;

use crate::harness::{Project, certificate, resource};

/// An import block for `name`'s certificate `id`.
fn import_block(name: &str, id: &str) -> String {
    format!("import {{\n  to = tencentcloud_ssl_free_certificate.{name}\n  id = \"{id}\"\n}}\n\n")
}

#[test]
fn an_import_block_records_the_certificate_and_then_plans_nothing() {
    let p = Project::new("");
    let id = p.sandbox.seed(&["www.example.com"]).remove(0);
    p.write_config(&[certificate("www", "www.example.com"), import_block("www", &id)].concat());

    let plan = p.run(&["plan", "--detailed-exitcode"]);
    assert_eq!(plan.code, 2, "an import is a change: {}{}", plan.stdout, plan.stderr);
    assert!(
        plan.stdout.contains("# tencentcloud_ssl_free_certificate.www will be imported"),
        "{}",
        plan.stdout
    );
    assert!(plan.stdout.contains(&format!("id             = \"{id}\"")), "{}", plan.stdout);
    assert!(
        plan.stdout.contains("Plan: 1 to import, 0 to add, 0 to renew, 0 to change, 0 to destroy."),
        "{}",
        plan.stdout
    );
    let json = p.run(&["plan", "--json"]);
    let json: Value = serde_json::from_str(&json.stdout).expect("plan JSON");
    let change = &json["resource_changes"][0];
    assert_eq!(change["change"]["importing"]["id"], id.as_str(), "{change}");
    assert_eq!(change["change"]["actions"], serde_json::json!(["no-op"]));
    assert_eq!(change["change"]["before"]["id"], id.as_str());
    assert_eq!(json["summary"]["import"], 1);

    let apply = p.run(&["apply", "--auto-approve"]);
    assert_eq!(apply.code, 0, "{}", apply.stderr);
    assert!(apply.stderr.contains(&format!("Import complete [id={id}]")), "{}", apply.stderr);
    assert!(apply.stdout.contains("Resources: 1 imported, 0 added"), "{}", apply.stdout);
    assert_eq!(p.state_ids(), std::slice::from_ref(&id));
    assert_eq!(p.sandbox.requests("ApplyCertificate"), 0, "nothing applied for");

    // Done, the block stays in the file and plans nothing.
    let again = p.run(&["plan", "--detailed-exitcode"]);
    assert_eq!(again.code, 0, "{}{}", again.stdout, again.stderr);
    let json = p.run(&["plan", "--json"]);
    let json: Value = serde_json::from_str(&json.stdout).expect("plan JSON");
    assert!(json["resource_changes"][0]["change"].get("importing").is_none(), "{json}");
    let apply = p.run(&["apply", "--auto-approve", "--json"]);
    assert!(!apply.stdout.contains("import_complete"), "{}", apply.stdout);
    assert_eq!(p.sandbox.requests("ApplyCertificate"), 0);
}

#[test]
fn an_import_whose_arguments_differ_is_an_import_then_the_planned_change() {
    let p = Project::new("");
    let ids = p.sandbox.seed(&["www.example.com", "old.example.com"]);
    let (www, old) = (&ids[0], &ids[1]);
    let config = [
        resource(
            "www",
            "www.example.com",
            "  dv_auth_method = \"DNS_AUTO\"\n  alias          = \"front\"\n",
        ),
        import_block("www", www),
        // Declared for another domain than the certificate's: a new certificate replaces it.
        certificate("api", "api.example.com"),
        import_block("api", old),
    ]
    .concat();
    p.write_config(&config);

    let plan = p.run(&["plan"]);
    assert_eq!(plan.code, 0, "{}", plan.stderr);
    let text = &plan.stdout;
    assert!(text.contains("# tencentcloud_ssl_free_certificate.www will be updated in place"));
    assert!(text.contains(&format!("# (imported from \"{www}\")")), "{text}");
    assert!(text.contains("+ alias          = \"front\""), "{text}");
    assert!(text.contains("# tencentcloud_ssl_free_certificate.api must be replaced"), "{text}");
    assert!(text.contains(&format!("# (imported from \"{old}\")")), "{text}");
    assert!(
        text.contains("Plan: 2 to import, 1 to add, 0 to renew, 1 to change, 1 to destroy."),
        "{text}"
    );
    let json = p.run(&["plan", "--json"]);
    let json: Value = serde_json::from_str(&json.stdout).expect("plan JSON");
    let api = &json["resource_changes"][0];
    assert_eq!(api["change"]["importing"]["id"], old.as_str());
    assert_eq!(api["change"]["actions"], serde_json::json!(["create", "delete"]));

    // A free certificate cannot be deleted in its first hour.
    p.age(1);
    let apply = p.run(&["apply", "--auto-approve"]);
    assert_eq!(apply.code, 0, "{}", apply.stderr);
    let import = apply.stderr.find(&format!("api: Import complete [id={old}]")).expect("imported");
    let replace = apply.stderr.find("api: Replacing...").expect("replaced");
    assert!(import < replace, "the import first: {}", apply.stderr);
    assert!(
        apply.stdout.contains("Resources: 2 imported, 1 added, 0 renewed, 1 changed, 1 destroyed"),
        "{}{}",
        apply.stdout,
        apply.stderr
    );
    assert_eq!(p.sandbox.requests("ApplyCertificate"), 1, "only the replacement");
    let cloud = p.sandbox.certificates();
    let front = cloud.iter().find(|c| c["id"] == www.as_str()).expect("www kept");
    assert_eq!(front["alias"], "front", "the update followed the import");
    let state = p.state();
    let api = &state["resources"]["tencentcloud_ssl_free_certificate.api"];
    assert_ne!(api["certificate_id"], old.as_str(), "replaced");
    assert_eq!(api["args"]["domain"], "api.example.com");
    let again = p.run(&["plan", "--detailed-exitcode"]);
    assert_eq!(again.code, 0, "{}{}", again.stdout, again.stderr);
}

#[test]
fn an_import_block_reads_the_cloud_even_without_refresh() {
    let p = Project::new("");
    let id = p.sandbox.seed(&["www.example.com"]).remove(0);
    p.write_config(&[certificate("www", "www.example.com"), import_block("www", &id)].concat());
    let apply = p.run(&["apply", "--auto-approve", "--refresh=false"]);
    assert_eq!(apply.code, 0, "{}", apply.stderr);
    assert_eq!(p.state_ids(), std::slice::from_ref(&id));
    let state = p.state();
    let www = &state["resources"]["tencentcloud_ssl_free_certificate.www"];
    assert_eq!(www["status"], 1, "recorded as issued, as the cloud holds it: {www}");
}

#[test]
fn import_blocks_that_cannot_be_carried_out_are_errors() {
    let p = Project::new("");
    let ids = p.sandbox.seed(&["www.example.com", "api.example.com"]);
    let www = certificate("www", "www.example.com");

    // `to` not declared; two blocks for one address; one certificate to two addresses.
    let undeclared = [www.clone(), import_block("web", &ids[0])].concat();
    p.write_config(&undeclared);
    let validate = p.run(&["validate"]);
    assert_eq!(validate.code, 1);
    assert!(validate.stderr.contains("tencentcloud_ssl_free_certificate.web is not declared"));
    assert!(validate.stderr.contains("main.hcl:7:8"), "{}", validate.stderr);
    let twice = [www.clone(), import_block("www", &ids[0]), import_block("www", &ids[1])].concat();
    p.write_config(&twice);
    let validate = p.run(&["validate"]);
    assert!(
        validate.stderr.contains("two import blocks for tencentcloud_ssl_free_certificate.www"),
        "{}",
        validate.stderr
    );
    let shared = [
        www.clone(),
        certificate("api", "api.example.com"),
        import_block("www", &ids[0]),
        import_block("api", &ids[0]),
    ]
    .concat();
    p.write_config(&shared);
    let validate = p.run(&["validate"]);
    assert!(validate.stderr.contains(&format!("certificate {} is imported to both", ids[0])));

    // An id the cloud does not have.
    p.write_config(&[www.clone(), import_block("www", "nosuchid")].concat());
    let plan = p.run(&["plan"]);
    assert_eq!(plan.code, 1);
    assert!(
        plan.stderr.contains("cannot import certificate nosuchid into tencentcloud_ssl_free_certificate.www (the import block at main.hcl:6:1): no such certificate"),
        "{}",
        plan.stderr
    );

    // An address that holds another certificate.
    p.write_config(&www);
    assert_eq!(p.run(&["apply", "--auto-approve"]).code, 0);
    let applied = p.state_ids().remove(0);
    p.write_config(&[www, import_block("www", &ids[0])].concat());
    let plan = p.run(&["plan"]);
    assert_eq!(plan.code, 1);
    assert!(
        plan.stderr.contains(&format!(
            "tencentcloud_ssl_free_certificate.www already holds certificate {applied}"
        )),
        "{}",
        plan.stderr
    );
    let apply = p.run(&["apply", "--auto-approve"]);
    assert_eq!(apply.code, 1, "{}", apply.stdout);
    assert_eq!(p.state_ids(), vec![applied], "nothing changed");
}
