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
    let ids = p.sandbox.seed(&["www.example.com", "api.example.com"]);
    let (www, old) = (&ids[0], &ids[1]);
    let config = [
        resource(
            "www",
            "www.example.com",
            "  dv_auth_method = \"DNS_AUTO\"\n  alias          = \"front\"\n",
        ),
        import_block("www", www),
        // Declared with another key than the certificate's (RSA): a new certificate replaces it.
        resource(
            "api",
            "api.example.com",
            "  dv_auth_method    = \"DNS_AUTO\"\n  csr_encrypt_algo  = \"ECC\"\n  csr_key_parameter = \"prime256v1\"\n",
        ),
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
    assert!(
        text.contains("~ csr_encrypt_algo  = \"RSA\" -> \"ECC\" # forces replacement"),
        "{text}"
    );
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
    assert_eq!(api["args"]["csr_encrypt_algo"], "ECC");
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

    // A certificate for another domain than the block's: a mistyped id, never a replacement
    // that would delete another site's certificate.
    p.write_config(&[www.clone(), import_block("www", &ids[1])].concat());
    let plan = p.run(&["plan"]);
    assert_eq!(plan.code, 1);
    assert!(
        plan.stderr.contains(&format!(
            "certificate {} is for api.example.com, but tencentcloud_ssl_free_certificate.www declares domain = \"www.example.com\"",
            ids[1]
        )),
        "{}",
        plan.stderr
    );

    // An address that holds another certificate.
    p.write_config(&www);
    assert_eq!(p.run(&["apply", "--auto-approve"]).code, 0);
    let applied = p.state_ids().remove(0);
    p.write_config(&[www.clone(), import_block("www", &ids[0])].concat());
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
    assert_eq!(p.state_ids(), vec![applied.clone()], "nothing changed");

    // A certificate certplan replaced and is to delete: never both deleted and imported.
    p.write_config(&www);
    let replace =
        p.run(&["apply", "--auto-approve", "--replace", "tencentcloud_ssl_free_certificate.www"]);
    assert_eq!(replace.code, 0, "{}", replace.stderr);
    assert!(p.state()["deposed"][0]["certificate_id"] == applied.as_str(), "kept to delete");
    let api = certificate("api", "www.example.com");
    p.write_config(&[www, api, import_block("api", &applied)].concat());
    let plan = p.run(&["plan"]);
    assert_eq!(plan.code, 1, "{}", plan.stdout);
    assert!(
        plan.stderr.contains("it is a certificate tencentcloud_ssl_free_certificate.www replaced, which certplan is to delete"),
        "{}",
        plan.stderr
    );
}

#[test]
fn an_import_of_a_certificate_renewed_outside_records_its_renewal() {
    let p = Project::new("");
    let old = p.sandbox.seed(&["www.example.com"]).remove(0);
    // The API renews only within 30 days of expiry.
    p.age(70);
    let renewal = p.sandbox.renew_outside(&old, "www.example.com");
    let applications = p.sandbox.requests("ApplyCertificate");
    // Two blocks, for a certificate and its renewal, would record one certificate twice.
    let both = [
        certificate("www", "www.example.com"),
        import_block("www", &old),
        certificate("web", "www.example.com"),
        import_block("web", &renewal),
    ]
    .concat();
    p.write_config(&both);
    let plan = p.run(&["plan"]);
    assert_eq!(plan.code, 1, "{}", plan.stdout);
    assert!(plan.stderr.contains(&format!("records certificate {renewal} too")), "{}", plan.stderr);

    p.write_config(&[certificate("www", "www.example.com"), import_block("www", &old)].concat());
    let plan = p.run(&["plan"]);
    assert_eq!(plan.code, 0, "{}", plan.stderr);
    assert!(plan.stdout.contains("will be imported"), "{}", plan.stdout);
    assert!(plan.stdout.contains(&format!("id             = \"{renewal}\"")), "{}", plan.stdout);
    assert!(
        plan.stdout.contains(&format!("({old}) was renewed outside certplan")),
        "{}",
        plan.stdout
    );
    let apply = p.run(&["apply", "--auto-approve"]);
    assert_eq!(apply.code, 0, "{}", apply.stderr);
    assert_eq!(p.state_ids(), vec![renewal.clone()]);
    let state = p.state();
    let www = &state["resources"]["tencentcloud_ssl_free_certificate.www"];
    for field in [&www["imported"], &www["renewed_from"][0], &www["succeeds"]] {
        assert_eq!(field, old.as_str(), "the renewal takes the old one's place: {www}");
    }
    // The block, naming the old certificate, is done; nothing was applied for.
    assert_eq!(p.run(&["plan", "--detailed-exitcode"]).code, 0);
    assert_eq!(p.sandbox.requests("ApplyCertificate"), applications);
    // Nor can the old one be imported anywhere else: its renewal is www's.
    p.write_config(
        &[certificate("www", "www.example.com"), certificate("web", "www.example.com")].concat(),
    );
    let again = p.run(&["import", "tencentcloud_ssl_free_certificate.web", &old]);
    assert_eq!(again.code, 1);
    assert!(
        again.stderr.contains(&format!(
            "certificate {old} was renewed or replaced by {renewal}, which tencentcloud_ssl_free_certificate.www holds"
        )),
        "{}",
        again.stderr
    );
}

/// The Terraform state of the fixture, its placeholders replaced by certificate ids:
/// www, api[0], api[1], site["shop.example.com"], site["blog.example.com"] and
/// module.edge's cdn, in that order.
fn terraform_state(template: &str, ids: &[String]) -> String {
    let placeholders = ["WWW_ID", "API0_ID", "API1_ID", "SHOP_ID", "BLOG_ID", "CDN_ID"];
    let mut text = template.to_owned();
    for (placeholder, id) in placeholders.iter().zip(ids) {
        text = text.replace(&format!("${{{placeholder}}}"), id);
    }
    assert!(!text.contains("${"), "every placeholder replaced");
    text
}

const TFSTATE: &str = include_str!("fixtures/terraform.tfstate.template");
const SHOW_JSON: &str = include_str!("fixtures/terraform-show.json.template");
/// What the fixture's Terraform state holds of secrets: none may reach certplan's files.
const TERRAFORM_SECRETS: [&str; 3] = ["FAKEPASSWORD", "PRIVATE KEY", "FAKEKEY"];

/// Seeds the fixture's six certificates in the sandbox, as Terraform left them (aliases
/// included); returns their ids in the fixture's order.
fn seed_terraform_certificates(p: &Project) -> Vec<String> {
    let domains = [
        "www.example.com",
        "api0.example.com",
        "api1.example.com",
        "shop.example.com",
        "blog.example.com",
        "cdn.example.com",
    ];
    let ids = p.sandbox.seed(&domains);
    p.sandbox.set_alias(&ids[0], "www-prod");
    p.sandbox.set_alias(&ids[5], "edge-cdn");
    ids
}

/// Asserts that no secret of the Terraform state is in any file of the project but the
/// Terraform state itself.
fn assert_no_terraform_secret(p: &Project) {
    for entry in walk(p.path()) {
        if entry.file_name().is_some_and(|n| n.to_string_lossy().contains("terraform")) {
            continue;
        }
        let text = String::from_utf8_lossy(&std::fs::read(&entry).expect("read")).into_owned();
        for secret in TERRAFORM_SECRETS {
            assert!(!text.contains(secret), "{secret} found in {}", entry.display());
        }
    }
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).expect("dir").flatten() {
        let path = entry.path();
        if path.is_dir() { files.extend(walk(&path)) } else { files.push(path) }
    }
    files
}

#[test]
fn a_terraform_state_moves_in_with_one_command() {
    // The Terraform configuration's root blocks, copied into certplan; the module's is not.
    let config = [
        resource(
            "www",
            "www.example.com",
            "  dv_auth_method = \"DNS_AUTO\"\n  contact_email  = \"ops@example.com\"\n  alias          = \"www-prod\"\n",
        ),
        "resource \"tencentcloud_ssl_free_certificate\" \"api\" {\n  count          = 2\n  domain         = \"api${count.index}.example.com\"\n  dv_auth_method = \"DNS_AUTO\"\n}\n\n".to_owned(),
        "resource \"tencentcloud_ssl_free_certificate\" \"site\" {\n  for_each       = toset([\"shop.example.com\", \"blog.example.com\"])\n  domain         = each.value\n  dv_auth_method = \"DNS_AUTO\"\n}\n".to_owned(),
    ]
    .concat();
    let p = Project::new(&config);
    let ids = seed_terraform_certificates(&p);
    std::fs::write(p.path().join("terraform.tfstate"), terraform_state(TFSTATE, &ids)).expect("w");
    let describes = p.sandbox.requests("DescribeCertificates");

    let import = p.run(&["import", "--from-terraform", "terraform.tfstate"]);
    assert_eq!(
        import.code, 1,
        "one certificate is left behind: {}{}",
        import.stdout, import.stderr
    );
    let out = &import.stdout;
    assert!(
        out.contains("terraform.tfstate: 6 tencentcloud_ssl_free_certificate instances; ignored 7 resources of other types."),
        "{out}"
    );
    assert!(out.contains("Adopted (5):"), "{out}");
    assert!(
        out.contains(&format!(
            "tencentcloud_ssl_free_certificate.site[\"shop.example.com\"]: certificate {}",
            ids[3]
        )),
        "{out}"
    );
    assert!(
        out.contains("module.edge.tencentcloud_ssl_free_certificate.cdn: not declared in the configuration (as tencentcloud_ssl_free_certificate.edge__cdn)"),
        "{out}"
    );
    assert!(out.contains("terraform state rm 'tencentcloud_ssl_free_certificate.api[1]'"), "{out}");
    assert!(
        out.contains(
            "terraform state rm 'tencentcloud_ssl_free_certificate.site[\"blog.example.com\"]'"
        ),
        "{out}"
    );
    assert!(!out.contains("terraform state rm 'module.edge"), "not handed over: {out}");
    assert_eq!(p.sandbox.requests("DescribeCertificates") - describes, 1, "one call for all ids");
    let mut recorded = p.state_ids();
    recorded.sort();
    let mut expected = ids[..5].to_vec();
    expected.sort();
    assert_eq!(recorded, expected, "exactly the declared instances");
    let state = p.state();
    let www = &state["resources"]["tencentcloud_ssl_free_certificate.www"];
    assert_eq!(www["args"]["alias"], "www-prod");
    assert!(state["resources"]["tencentcloud_ssl_free_certificate.api[1]"].is_object());

    // Never over a file that exists: nothing is imported then.
    std::fs::write(p.path().join("mine.hcl"), "# my own notes\n").expect("w");
    let over = p.run(&[
        "import",
        "--from-terraform",
        "terraform.tfstate",
        "--generate-config",
        "mine.hcl",
    ]);
    assert_eq!(over.code, 1);
    assert!(over.stderr.contains("the file exists, and certplan does not overwrite it"));
    assert_eq!(std::fs::read_to_string(p.path().join("mine.hcl")).expect("r"), "# my own notes\n");
    assert_eq!(p.state_ids().len(), 5);

    // The rest with --generate-config: a block written, and adopted in the same run.
    let generate = p.run(&[
        "import",
        "--from-terraform",
        "terraform.tfstate",
        "--generate-config",
        "edge.hcl",
    ]);
    assert_eq!(generate.code, 0, "{}{}", generate.stdout, generate.stderr);
    let out = &generate.stdout;
    assert!(out.contains("Adopted (1):"), "{out}");
    assert!(out.contains("Already managed by certplan, left as they are (5):"), "{out}");
    assert!(out.contains("Wrote 1 resource block to edge.hcl."), "{out}");
    assert!(out.contains("terraform state rm 'module.edge.tencentcloud_ssl_free_certificate.cdn'"));
    let edge = std::fs::read_to_string(p.path().join("edge.hcl")).expect("written");
    assert!(edge.contains("# From Terraform: module.edge.tencentcloud_ssl_free_certificate.cdn"));
    assert!(edge.contains("resource \"tencentcloud_ssl_free_certificate\" \"edge__cdn\" {"));
    assert!(edge.contains("alias             = \"edge-cdn\""), "{edge}");
    assert_eq!(p.state_ids().len(), 6);

    assert_eq!(p.run(&["validate"]).code, 0);
    let fmt = p.run(&["fmt", "--check", "edge.hcl"]);
    assert_eq!(fmt.code, 0, "generated as fmt writes it: {}{}", fmt.stdout, fmt.stderr);
    let plan = p.run(&["plan", "--detailed-exitcode"]);
    assert_eq!(plan.code, 0, "nothing to change after the move: {}{}", plan.stdout, plan.stderr);
    assert_eq!(p.sandbox.requests("ApplyCertificate"), 0, "nothing applied for");
    assert_no_terraform_secret(&p);
}

#[test]
fn a_terraform_directory_moves_in_from_show_json_with_every_block_generated() {
    let p = Project::new("");
    std::fs::remove_file(p.path().join("main.hcl")).expect("no certplan configuration");
    let terraform_config = "resource \"tencentcloud_ssl_free_certificate\" \"www\" {\n  domain = \"www.example.com\"\n}\n";
    std::fs::write(p.path().join("main.tf"), terraform_config).expect("tf");
    // `terraform init` writes it: not configuration, for certplan as for Terraform.
    // (Written unformatted here, so that `fmt --check` below shows it is not read either.)
    let lock = "provider \"registry.terraform.io/tencentcloudstack/tencentcloud\" {\nversion=\"1.81.0\"\n}\n";
    std::fs::write(p.path().join(".terraform.lock.hcl"), lock).expect("lock file");
    let plan = p.run(&["plan"]);
    assert_eq!(plan.code, 1);
    assert!(plan.stderr.contains("it holds Terraform files (*.tf), which certplan does not read"));
    assert!(plan.stderr.contains("--from-terraform terraform.tfstate --generate-config"));

    let ids = seed_terraform_certificates(&p);
    std::fs::write(p.path().join("terraform-show.json"), terraform_state(SHOW_JSON, &ids))
        .expect("w");
    let args = [
        "import",
        "--from-terraform",
        "terraform-show.json",
        "--generate-config",
        "certificates.hcl",
    ];
    let dry = p.run(&[&args[..], &["--dry-run"]].concat());
    assert_eq!(dry.code, 0, "{}{}", dry.stdout, dry.stderr);
    assert!(dry.stdout.contains("Would adopt (6):"), "{}", dry.stdout);
    assert!(dry.stdout.contains("Would write 6 resource blocks to certificates.hcl:"));
    assert!(
        dry.stdout
            .contains("resource \"tencentcloud_ssl_free_certificate\" \"site_shop_example_com\" {")
    );
    assert!(dry.stdout.contains("Dry run: nothing was written."));
    assert!(!p.path().join("certificates.hcl").exists(), "no file");
    assert!(!p.path().join("certplan.state.json").exists(), "no state");

    // Had a run died between writing the file and saving the state, the blocks' import
    // blocks would import the certificates, never apply for new ones.
    let shown = dry.stdout.split("certificates.hcl:\n\n").nth(1).expect("shown");
    let shown = shown.split("\nTo hand them over").next().expect("blocks");
    std::fs::write(p.path().join("certificates.hcl"), shown).expect("w");
    let plan = p.run(&["plan"]);
    assert!(plan.stdout.contains("Plan: 6 to import, 0 to add,"), "{}{}", plan.stdout, plan.stderr);
    std::fs::remove_file(p.path().join("certificates.hcl")).expect("rm");

    let import = p.run(&args);
    assert_eq!(import.code, 0, "{}{}", import.stdout, import.stderr);
    assert!(import.stdout.contains("Adopted (6):"), "{}", import.stdout);
    let written = std::fs::read_to_string(p.path().join("certificates.hcl")).expect("written");
    assert_eq!(shown, written, "the dry run showed what is written");
    assert!(written.contains("# From Terraform: tencentcloud_ssl_free_certificate.api[1]"));
    assert!(written.contains("resource \"tencentcloud_ssl_free_certificate\" \"api_1\" {"));
    assert!(written.contains(&format!(
        "import {{\n  to = tencentcloud_ssl_free_certificate.api_1\n  id = \"{}\"\n}}",
        ids[2]
    )));
    assert!(
        written.contains("# csr_key_password was set in Terraform and is not copied."),
        "{written}"
    );
    assert_eq!(p.run(&["validate"]).code, 0);
    assert_eq!(p.run(&["fmt", "--check"]).code, 0, "generated as fmt writes it");
    let plan = p.run(&["plan", "--detailed-exitcode"]);
    assert_eq!(plan.code, 0, "{}{}", plan.stdout, plan.stderr);
    assert_eq!(p.sandbox.requests("ApplyCertificate"), 0);
    assert_no_terraform_secret(&p);

    // The same command again has nothing to write, and changes nothing.
    let again = p.run(&args);
    assert_eq!(again.code, 0, "{}{}", again.stdout, again.stderr);
    assert!(again.stdout.contains("Already managed by certplan, left as they are (6):"));
    let unchanged = std::fs::read_to_string(p.path().join("certificates.hcl")).expect("kept");
    assert_eq!(unchanged, written);
}

#[test]
fn certificates_gone_from_the_cloud_are_reported_and_not_adopted() {
    let p = Project::new("");
    std::fs::remove_file(p.path().join("main.hcl")).expect("rm");
    let mut ids = seed_terraform_certificates(&p);
    ids[1] = "gone0001".to_owned();
    std::fs::write(p.path().join("terraform.tfstate"), terraform_state(TFSTATE, &ids)).expect("w");
    let import =
        p.run(&["import", "--from-terraform", "terraform.tfstate", "--generate-config", "c.hcl"]);
    assert_eq!(import.code, 0, "{}{}", import.stdout, import.stderr);
    assert!(import.stdout.contains("Gone from the cloud, not adopted (1):"), "{}", import.stdout);
    assert!(import.stdout.contains(
        "tencentcloud_ssl_free_certificate.api[0]: certificate gone0001 no longer exists"
    ));
    assert!(
        !import.stdout.contains("terraform state rm 'tencentcloud_ssl_free_certificate.api[0]'")
    );
    let written = std::fs::read_to_string(p.path().join("c.hcl")).expect("written");
    assert!(!written.contains("api_0"), "no block for it: {written}");
    assert_eq!(p.state_ids().len(), 5);
    assert_eq!(p.run(&["plan", "--detailed-exitcode"]).code, 0);

    // The same command again: the five are certplan's, the gone one is said gone again — not
    // taken for a sign of the wrong account.
    let again =
        p.run(&["import", "--from-terraform", "terraform.tfstate", "--generate-config", "c.hcl"]);
    assert_eq!(again.code, 0, "{}{}", again.stdout, again.stderr);
    assert!(!again.stderr.contains("credentials"), "{}", again.stderr);
    assert!(again.stdout.contains("Gone from the cloud, not adopted (1):"), "{}", again.stdout);
    assert_eq!(p.state_ids().len(), 5);
}

#[test]
fn a_file_that_is_not_a_terraform_state_is_refused_and_nothing_written() {
    let p = Project::new("");
    let ids = seed_terraform_certificates(&p);
    let state = terraform_state(TFSTATE, &ids);
    let cases = [
        (
            "v3.tfstate",
            state.replacen("\"version\": 4", "\"version\": 3", 1),
            "has state format version 3: certplan reads version 4",
        ),
        ("text.tfstate", "hello, world\n".to_owned(), "is not JSON"),
        ("cut.tfstate", state[..state.len() / 2].to_owned(), "ends early"),
        ("other.json", "{\"name\": \"not a state\"}".to_owned(), "is not a Terraform state"),
    ];
    for (file, text, says) in cases {
        std::fs::write(p.path().join(file), text).expect("w");
        let import = p.run(&["import", "--from-terraform", file, "--generate-config", "new.hcl"]);
        assert_eq!(import.code, 1, "{file}");
        assert!(
            import.stderr.contains(&format!("error: {file} {says}")),
            "{file}: {}",
            import.stderr
        );
        assert!(!p.path().join("new.hcl").exists(), "{file}: nothing written");
        assert!(!p.path().join("certplan.state.json").exists(), "{file}: no state");
    }
    std::fs::write(p.path().join("ok.tfstate"), &state).expect("w");
    let hidden =
        p.run(&["import", "--from-terraform", "ok.tfstate", "--generate-config", ".c.hcl"]);
    assert_eq!(hidden.code, 1);
    assert!(hidden.stderr.contains("certplan does not read hidden files"), "{}", hidden.stderr);
    assert!(!p.path().join(".c.hcl").exists());
    let missing = p.run(&["import", "--from-terraform", "nope.tfstate"]);
    let absolute = p.path().join("nope.tfstate");
    let said = format!("cannot read {}", absolute.display());
    assert!(missing.stderr.contains(&said), "{}", missing.stderr);
}

#[test]
fn what_certplan_cannot_take_is_left_in_terraform_and_renewals_are_followed() {
    // The configuration stops managing www; the Terraform state has an api[1] with a contact
    // email the API refuses; shop was renewed in the console since Terraform applied it.
    let removed = "removed {\n  from = tencentcloud_ssl_free_certificate.www\n}\n";
    let p = Project::new(removed);
    let renewed = p.sandbox.seed(&["shop.example.com"]).remove(0);
    // The API renews only within 30 days of expiry; the renewal is new.
    p.age(70);
    let shop = p.sandbox.renew_outside(&renewed, "shop.example.com");
    let mut ids = seed_terraform_certificates(&p);
    ids[3] = renewed;
    let mut tfstate: Value =
        serde_json::from_str(&terraform_state(TFSTATE, &ids)).expect("the fixture is JSON");
    let resources = tfstate["resources"].as_array_mut().expect("resources");
    let api = resources.iter_mut().find(|r| r["name"] == "api").expect("api");
    api["instances"][1]["attributes"]["contact_email"] = Value::from("ops-at-example");
    std::fs::write(p.path().join("terraform.tfstate"), tfstate.to_string()).expect("w");

    let args = ["import", "--from-terraform", "terraform.tfstate", "--generate-config", "tf.hcl"];
    let import = p.run(&args);
    assert_eq!(import.code, 1, "{}{}", import.stdout, import.stderr);
    let out = &import.stdout;
    assert!(out.contains("Adopted (4):"), "{out}");
    assert!(
        out.contains(&format!(
            "tencentcloud_ssl_free_certificate.site_shop_example_com (from tencentcloud_ssl_free_certificate.site[\"shop.example.com\"]): certificate {shop} (shop.example.com, issued), which renewed {} outside Terraform",
            ids[3]
        )),
        "{out}"
    );
    assert!(out.contains("Not adopted (2):"), "{out}");
    assert!(
        out.contains("tencentcloud_ssl_free_certificate.www: a removed block says certplan does not manage tencentcloud_ssl_free_certificate.www"),
        "{out}"
    );
    assert!(
        out.contains("tencentcloud_ssl_free_certificate.api[1]: certplan would refuse the block written for it: contact_email \"ops-at-example\" is not an email address; declare it yourself"),
        "{out}"
    );
    let written = std::fs::read_to_string(p.path().join("tf.hcl")).expect("written");
    assert!(!written.contains("api_1") && !written.contains("\"www\""), "{written}");
    let mut recorded = p.state_ids();
    recorded.sort();
    let mut expected = vec![ids[1].clone(), ids[4].clone(), ids[5].clone(), shop];
    expected.sort();
    assert_eq!(recorded, expected);
    assert_eq!(p.run(&["plan", "--detailed-exitcode"]).code, 0, "nothing to apply for");
}

#[test]
fn many_import_blocks_are_read_a_thousand_at_a_time() {
    let p = Project::new("");
    let domains: Vec<String> = (0..30).map(|i| format!("c{i:02}.example.com")).collect();
    let ids = p.sandbox.seed(&domains);
    let config: String = ids
        .iter()
        .enumerate()
        .map(|(i, id)| {
            let name = format!("c{i:02}");
            certificate(&name, &domains[i]) + &import_block(&name, id)
        })
        .collect();
    p.write_config(&config);
    let describes = p.sandbox.requests("DescribeCertificates");
    let apply = p.run(&["apply", "--auto-approve"]);
    assert_eq!(apply.code, 0, "{}", apply.stderr);
    assert!(apply.stdout.contains("Resources: 30 imported, 0 added"), "{}", apply.stdout);
    assert_eq!(p.state_ids().len(), 30);
    // One call for the plan, one for the apply to record what the plan read: not one each.
    assert_eq!(p.sandbox.requests("DescribeCertificates") - describes, 2);
    assert_eq!(p.sandbox.requests("DescribeCertificateDetail"), 0);
}

#[test]
fn an_imported_certificate_waiting_for_validation_shows_what_to_publish() {
    let manual = resource("www", "www.example.com", "  dv_auth_method = \"DNS\"\n");
    let p = Project::new(&manual);
    assert_eq!(p.run(&["apply", "--auto-approve"]).code, 3, "the record is to publish");
    let id = p.state_ids().remove(0);
    let records = p.run(&["plan"]);
    let record = records.stdout.lines().find(|l| l.contains("DNS record")).expect("a record");
    assert_eq!(p.run(&["state", "rm", "tencentcloud_ssl_free_certificate.www"]).code, 0);
    p.write_config(&[manual, import_block("www", &id)].concat());
    let plan = p.run(&["plan"]);
    assert!(plan.stdout.contains("will be imported"), "{}", plan.stdout);
    assert!(plan.stdout.contains(record.trim()), "{}\n{record}", plan.stdout);
}

#[test]
fn a_terraform_state_piped_in_is_read_and_an_account_without_its_certificates_is_refused() {
    let p = Project::new("");
    std::fs::remove_file(p.path().join("main.hcl")).expect("rm");
    let ids = seed_terraform_certificates(&p);
    let mut cmd = p.command(&["import", "--from-terraform", "-", "--generate-config", "c.hcl"]);
    // None of these certificates is in this account: the wrong credentials or endpoint, most
    // likely — never a reason to tell the user to drop them from Terraform.
    let elsewhere: Vec<String> = (0..6).map(|i| format!("other{i:03}")).collect();
    let run = pipe(&mut cmd, &terraform_state(TFSTATE, &elsewhere));
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    assert!(run.stderr.contains("none of the 6 certificates to adopt exists in this account"));
    assert!(!run.stdout.contains("terraform state rm"), "{}", run.stdout);
    assert!(!p.path().join("c.hcl").exists());
    let mut cmd = p.command(&["import", "--from-terraform", "-", "--generate-config", "c.hcl"]);
    let run = pipe(&mut cmd, &terraform_state(TFSTATE, &ids));
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("standard input: 6 tencentcloud_ssl_free_certificate instances"));
    assert_eq!(p.state_ids().len(), 6);
    let mut cmd = p.command(&["import", "--from-terraform", "-"]);
    let run = pipe(&mut cmd, "not a state");
    assert!(run.stderr.contains("error: standard input is not JSON"), "{}", run.stderr);
}

/// Runs `cmd` with `input` on its standard input.
fn pipe(cmd: &mut std::process::Command, input: &str) -> crate::harness::Run {
    use std::io::Write as _;
    use std::process::Stdio;
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("certplan starts");
    child.stdin.take().expect("stdin").write_all(input.as_bytes()).expect("piped");
    let out = child.wait_with_output().expect("finishes");
    crate::harness::Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8(out.stdout).expect("utf8"),
        stderr: String::from_utf8(out.stderr).expect("utf8"),
    }
}
