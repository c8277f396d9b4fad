//! Several Tencent Cloud accounts in one configuration: each resource's certificate applied
//! for, renewed, delivered and deleted in the account its provider names, the state bound to
//! each account, a run killed across two accounts, a resource moved between accounts, the
//! embedded sandbox with aliases, and a Terraform state's aliased providers.

use serde_json::Value;

use crate::harness::{
    OTHER_SECRET_ID, OTHER_SECRET_KEY, PROD_PROVIDER, PROD_SECRET_ID, PROD_SECRET_KEY, Project,
    SECRET_ID, SECRET_KEY, SHORT_REQUEST_TIMEOUT, certificate, converge, kill_when,
    prod_certificate,
};

/// The domains of the certificates the account of `secret_id` holds, sorted.
fn domains_in(p: &Project, secret_id: &str, secret_key: &str) -> Vec<String> {
    let certs = p.sandbox.certificates_in(secret_id, secret_key);
    let mut domains: Vec<String> =
        certs.iter().filter_map(|c| c["domain"].as_str().map(str::to_owned)).collect();
    domains.sort();
    domains
}

fn ids_in(p: &Project, secret_id: &str, secret_key: &str) -> Vec<String> {
    let certs = p.sandbox.certificates_in(secret_id, secret_key);
    certs.iter().filter_map(|c| c["id"].as_str().map(str::to_owned)).collect()
}

/// The account UIN the sandbox gives the credentials of `secret_id`.
fn uin(secret_id: &str, secret_key: &str) -> String {
    certplan_sandbox::SandboxAccount::new(secret_id, secret_key).uin
}

#[test]
fn each_certificate_is_applied_for_renewed_and_delivered_in_its_providers_account() {
    let shop = "resource \"tencentcloud_ssl_free_certificate\" \"shop\" {\n  provider       = tencentcloud.prod\n  for_each       = toset([\"a\", \"b\"])\n  domain         = \"${each.key}.shop.example.com\"\n  dv_auth_method = \"DNS_AUTO\"\n  deploy {\n    resource_types = [\"cdn\"]\n  }\n}\n\n";
    let config = [PROD_PROVIDER, &certificate("www", "www.example.com"), shop].concat();
    let p = Project::with_accounts(&config, &["--deploy-step", "10ms"]);
    let apply = p.run(&["apply", "--auto-approve"]);
    assert_eq!(apply.code, 0, "{}{}", apply.stdout, apply.stderr);

    assert_eq!(domains_in(&p, SECRET_ID, SECRET_KEY), ["www.example.com"]);
    assert_eq!(
        domains_in(&p, PROD_SECRET_ID, PROD_SECRET_KEY),
        ["a.shop.example.com", "b.shop.example.com"]
    );
    assert!(domains_in(&p, OTHER_SECRET_ID, OTHER_SECRET_KEY).is_empty());

    // The state knows which account holds each certificate, and binds each provider to it.
    let state = p.state();
    let resources = &state["resources"];
    assert_eq!(resources["tencentcloud_ssl_free_certificate.www"]["args"].get("provider"), None);
    let a = &resources["tencentcloud_ssl_free_certificate.shop[\"a\"]"];
    assert_eq!(a["args"]["provider"], "tencentcloud.prod", "{state}");
    let clouds = &state["clouds"];
    assert_eq!(clouds["tencentcloud"]["account"], uin(SECRET_ID, SECRET_KEY).as_str());
    assert_eq!(
        clouds["tencentcloud.prod"]["account"],
        uin(PROD_SECRET_ID, PROD_SECRET_KEY).as_str()
    );
    assert_eq!(p.run(&["plan", "--detailed-exitcode"]).code, 0, "converged");

    // A CDN domain in the prod account serves a.shop; the renewals, 70 days on, are each made
    // in their account (OldCertificateId names a certificate of that account) and delivered
    // there.
    let old_a = a["certificate_id"].as_str().expect("id").to_owned();
    p.sandbox.bind(&old_a, "cdn", None, "a.shop.example.com");
    p.age(70);
    let plan = p.run(&["plan"]);
    assert!(plan.stdout.contains("0 to add, 3 to renew"), "{}", plan.stdout);
    let renew = p.run(&["apply", "--auto-approve"]);
    assert_eq!(renew.code, 0, "{}{}", renew.stdout, renew.stderr);
    assert_eq!(ids_in(&p, SECRET_ID, SECRET_KEY).len(), 2, "www and its renewal");
    assert_eq!(ids_in(&p, PROD_SECRET_ID, PROD_SECRET_KEY).len(), 4, "two and their renewals");
    // One task per renewed shop instance, in prod; the one with a resource moves a.shop's.
    let tasks = p.sandbox.deploy_tasks_in(PROD_SECRET_ID);
    assert_eq!(tasks.len(), 2, "{tasks:?}");
    let moving: Vec<_> = tasks.iter().filter(|t| !t.details.is_empty()).collect();
    assert_eq!(moving.len(), 1, "{tasks:?}");
    assert_eq!(moving[0].old_certificate_id.as_deref(), Some(old_a.as_str()));
    assert_eq!(moving[0].details[0].resource.instance, "a.shop.example.com");
    assert!(p.sandbox.deploy_tasks().is_empty(), "nothing deployed in the default account");
    assert_eq!(p.run(&["plan", "--detailed-exitcode"]).code, 0, "converged");
}

#[test]
fn a_provider_whose_credentials_reach_another_account_is_refused_before_anything_is_done() {
    let config = [PROD_PROVIDER, &prod_certificate("shop", "shop.example.com")].concat();
    let mut p = Project::with_accounts(&config, &[]);
    assert_eq!(p.run(&["apply", "--auto-approve"]).code, 0);
    let saved = p.run(&["plan", "--out", "next.plan"]);
    assert_eq!(saved.code, 0, "{}", saved.stderr);
    let before = std::fs::read(p.path().join("certplan.state.json")).expect("state");

    // prod's variables now name the other account's keys: every command that would read or
    // change the cloud refuses, naming both accounts, and nothing is made there.
    p.env =
        [("CERTPLAN_VAR_prod_id", OTHER_SECRET_ID), ("CERTPLAN_VAR_prod_key", OTHER_SECRET_KEY)]
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
    let recorded = uin(PROD_SECRET_ID, PROD_SECRET_KEY);
    let now = uin(OTHER_SECRET_ID, OTHER_SECRET_KEY);
    for args in [&["plan"][..], &["apply", "--auto-approve"], &["apply", "next.plan"], &["refresh"]]
    {
        let run = p.run(args);
        assert_eq!(run.code, 1, "{args:?}: {}", run.stdout);
        assert!(
            run.stderr.contains("provider tencentcloud.prod")
                && run.stderr.contains(&recorded)
                && run.stderr.contains(&format!("now reach account {now}")),
            "{args:?}: {}",
            run.stderr
        );
        assert!(!run.stdout.contains("will be created"), "{args:?}: {}", run.stdout);
    }
    assert!(domains_in(&p, OTHER_SECRET_ID, OTHER_SECRET_KEY).is_empty(), "nothing made there");
    let after = std::fs::read(p.path().join("certplan.state.json")).expect("state");
    assert_eq!(before, after, "the state is untouched");
}

#[test]
fn a_resource_moved_to_another_account_is_replaced_there_and_deleted_where_it_was() {
    let p = Project::with_accounts(
        &[PROD_PROVIDER, &certificate("www", "www.example.com")].concat(),
        &[],
    );
    assert_eq!(p.run(&["apply", "--auto-approve"]).code, 0);
    let old = ids_in(&p, SECRET_ID, SECRET_KEY);
    assert_eq!(old.len(), 1);

    p.write_config(&[PROD_PROVIDER, &prod_certificate("www", "www.example.com")].concat());
    let plan = p.run(&["plan"]);
    assert!(plan.stdout.contains("must be replaced"), "{}", plan.stdout);
    assert!(plan.stdout.contains("provider"), "{}", plan.stdout);
    assert!(plan.stdout.contains("forces replacement"), "{}", plan.stdout);
    let moved = p.run(&["apply", "--auto-approve"]);
    assert_eq!(moved.code, 0, "{}{}", moved.stdout, moved.stderr);
    assert_eq!(domains_in(&p, PROD_SECRET_ID, PROD_SECRET_KEY), ["www.example.com"]);

    // The old certificate is less than an hour old: kept to delete, in the account it is in.
    let state = p.state();
    let deposed = state["deposed"].as_array().expect("deposed");
    assert_eq!(deposed.len(), 1, "{state}");
    assert_eq!(deposed[0]["certificate_id"], old[0].as_str());
    assert_eq!(deposed[0].get("provider"), None, "the default account's: {state}");
    p.age(1);
    let later = p.run(&["apply", "--auto-approve"]);
    assert_eq!(later.code, 0, "{}{}", later.stdout, later.stderr);
    assert!(ids_in(&p, SECRET_ID, SECRET_KEY).is_empty(), "deleted where it was");
    assert_eq!(ids_in(&p, PROD_SECRET_ID, PROD_SECRET_KEY).len(), 1);
    assert_eq!(p.run(&["plan", "--detailed-exitcode"]).code, 0);
}

#[test]
fn a_resource_moved_to_another_account_leaves_the_old_ones_load_balancers_to_a_person() {
    let deploy = "  deploy {\n    resource_types = [\"clb\"]\n    regions        = { clb = [\"ap-guangzhou\"] }\n  }\n";
    let www = |provider: &str| {
        format!(
            "resource \"tencentcloud_ssl_free_certificate\" \"www\" {{\n{provider}  domain         = \"www.example.com\"\n  dv_auth_method = \"DNS_AUTO\"\n{deploy}}}\n"
        )
    };
    let p = Project::with_accounts(&[PROD_PROVIDER, &www("")].concat(), &["--deploy-step", "10ms"]);
    assert_eq!(p.run(&["apply", "--auto-approve"]).code, 0);
    let old = ids_in(&p, SECRET_ID, SECRET_KEY).remove(0);
    p.sandbox.bind(&old, "clb", Some("ap-guangzhou"), "lb-1|lbl-1");

    p.write_config(&[PROD_PROVIDER, &www("  provider       = tencentcloud.prod\n")].concat());
    let plan = p.run(&["plan"]);
    assert!(plan.stdout.contains("must be replaced"), "{}", plan.stdout);
    assert!(!plan.stdout.contains("will deploy"), "no move across accounts: {}", plan.stdout);
    let moved = p.run(&["apply", "--auto-approve"]);
    assert!(
        moved.stdout.contains("1 added") || moved.stdout.contains("1 changed") || moved.code != 1,
        "{}{}",
        moved.stdout,
        moved.stderr
    );
    assert!(p.sandbox.deploy_tasks().is_empty(), "nothing asked of the old account");
    assert!(p.sandbox.deploy_tasks_in(PROD_SECRET_ID).is_empty(), "nor of the new one");
    // The listener in the old account still serves the old certificate, which cannot be
    // deleted while it does: a scheduled run goes red, saying so, until a person moves it.
    p.age(1);
    let later = p.run(&["plan", "--detailed-exitcode"]);
    assert_eq!(later.code, 3, "{}{}", later.stdout, later.stderr);
    assert!(
        later.stdout.contains("moved to another account, and its certificate in tencentcloud's still serves 1 clb in ap-guangzhou"),
        "{}",
        later.stdout
    );
    let json = p.run(&["plan", "--json"]);
    let plan: Value = serde_json::from_str(&json.stdout).expect("plan JSON");
    let attention = &plan["attention"][0];
    assert_eq!(attention["kind"], "left_in_other_account", "{plan}");
    assert_eq!(attention["provider"], "tencentcloud", "{plan}");
    assert_eq!(ids_in(&p, SECRET_ID, SECRET_KEY), [old], "kept while it serves");
}

#[test]
fn an_accounts_provider_removed_with_its_certificates_recorded_says_what_to_do() {
    let shop = prod_certificate("shop", "shop.example.com");
    let config = [PROD_PROVIDER, &shop, &prod_certificate("blog", "blog.example.com")].concat();
    let p = Project::with_accounts(&config, &[]);
    assert_eq!(p.run(&["apply", "--auto-approve"]).code, 0);

    // A removed block that destroys deletes in the account that holds the certificate.
    let removed = "removed {\n  from = tencentcloud_ssl_free_certificate.blog\n  lifecycle {\n    destroy = true\n  }\n}\n";
    p.write_config(&[PROD_PROVIDER, &shop, removed].concat());
    p.age(1);
    let destroyed = p.run(&["apply", "--auto-approve"]);
    assert_eq!(destroyed.code, 0, "{}{}", destroyed.stdout, destroyed.stderr);
    assert_eq!(domains_in(&p, PROD_SECRET_ID, PROD_SECRET_KEY), ["shop.example.com"]);

    // An alias no block declares is caught before anything runs.
    p.write_config(
        &[PROD_PROVIDER, &shop.replace("tencentcloud.prod", "tencentcloud.prd")].concat(),
    );
    let validate = p.run(&["validate"]);
    assert_eq!(validate.code, 1);
    assert!(validate.stderr.contains("did you mean tencentcloud.prod?"), "{}", validate.stderr);

    p.write_config(&certificate("www", "www.example.com"));
    let plan = p.run(&["plan"]);
    assert_eq!(plan.code, 1, "{}", plan.stdout);
    assert!(
        plan.stderr.contains("no provider \"tencentcloud\" block declares tencentcloud.prod, but the state records in its account: tencentcloud_ssl_free_certificate.shop"),
        "{}",
        plan.stderr
    );
    assert_eq!(domains_in(&p, PROD_SECRET_ID, PROD_SECRET_KEY), ["shop.example.com"]);
}

#[test]
fn a_run_killed_across_two_accounts_applies_for_each_certificate_once() {
    let many = |n: usize, prod: bool| -> String {
        (0..n)
            .map(|i| {
                if prod {
                    prod_certificate(&format!("p{i:02}"), &format!("p{i:02}.example.com"))
                } else {
                    certificate(&format!("d{i:02}"), &format!("d{i:02}.example.com"))
                }
            })
            .collect()
    };
    let config = [SHORT_REQUEST_TIMEOUT, PROD_PROVIDER, &many(8, false), &many(8, true)].concat();
    let p = Project::with_accounts(&config, &["--latency", "40ms"]);
    let state_path = p.path().join("certplan.state.json");
    let recorded = || {
        let text = std::fs::read_to_string(&state_path).unwrap_or_default();
        let state: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        let resources = state["resources"].as_object().map_or(0, |o| o.len());
        let intents = state["intents"].as_array().map_or(0, Vec::len);
        (resources, intents)
    };
    // Killed while applications are in flight in both accounts, then between changes.
    for mid_application in [true, false, true] {
        let before = recorded().0;
        kill_when(p.command(&["apply", "--auto-approve"]), || {
            let (resources, intents) = recorded();
            (mid_application && resources > before && intents > 0) || resources >= before + 4
        });
    }
    converge(&p, 5);
    let defaults: Vec<String> = (0..8).map(|i| format!("d{i:02}.example.com")).collect();
    let prods: Vec<String> = (0..8).map(|i| format!("p{i:02}.example.com")).collect();
    assert_eq!(domains_in(&p, SECRET_ID, SECRET_KEY), defaults, "each once, in its account");
    assert_eq!(domains_in(&p, PROD_SECRET_ID, PROD_SECRET_KEY), prods, "each once, in its account");
    let state = p.state();
    assert!(state.get("intents").is_none(), "nothing left in flight: {state}");
    let prod_ids = ids_in(&p, PROD_SECRET_ID, PROD_SECRET_KEY);
    for (address, r) in state["resources"].as_object().expect("resources") {
        let id = r["certificate_id"].as_str().expect("id");
        let in_prod = r["args"]["provider"] == "tencentcloud.prod";
        assert_eq!(prod_ids.iter().any(|p| p == id), in_prod, "{address} recorded where it is");
    }
}

#[test]
fn the_embedded_sandbox_keeps_each_alias_in_an_account_of_its_own() {
    let config = "provider \"tencentcloud\" {\n  alias   = \"prod\"\n  profile = \"prod\"\n}\n\n"
        .to_owned()
        + &certificate("www", "www.example.com")
        + &prod_certificate("shop", "shop.example.com");
    let p = Project::new(&config);
    let sandboxed = |args: &[&str]| {
        let mut cmd = p.command(args);
        cmd.env_remove("CERTPLAN_ENDPOINT");
        crate::harness::run(cmd)
    };
    let apply = sandboxed(&["apply", "--sandbox", "--auto-approve"]);
    assert_eq!(apply.code, 0, "{}{}", apply.stdout, apply.stderr);
    let state =
        std::fs::read_to_string(p.path().join(".certplan/sandbox.state.json")).expect("state");
    let state: Value = serde_json::from_str(&state).expect("JSON");
    let clouds = &state["clouds"];
    let (default, prod) =
        (&clouds["tencentcloud"]["account"], &clouds["tencentcloud.prod"]["account"]);
    assert!(default.is_string() && prod.is_string() && default != prod, "{state}");
    let plan = sandboxed(&["plan", "--sandbox", "--detailed-exitcode"]);
    assert_eq!(plan.code, 0, "{}{}", plan.stdout, plan.stderr);
}

#[test]
fn a_terraform_state_keeps_its_aliased_providers() {
    let p = Project::with_accounts(PROD_PROVIDER, &[]);
    let id = p.sandbox.seed_in(PROD_SECRET_ID, &["shop.example.com"]).remove(0);
    let tfstate = serde_json::json!({
        "version": 4,
        "terraform_version": "1.9.5",
        "serial": 3,
        "lineage": "5e1f0f3c-0000-4000-8000-000000000001",
        "outputs": {},
        "resources": [{
            "mode": "managed",
            "type": "tencentcloud_ssl_free_certificate",
            "name": "shop",
            "provider": "provider[\"registry.terraform.io/tencentcloudstack/tencentcloud\"].prod",
            "instances": [{
                "schema_version": 0,
                "attributes": {
                    "id": id,
                    "domain": "shop.example.com",
                    "dv_auth_method": "DNS_AUTO",
                    "package_type": "83",
                    "alias": "",
                    "project_id": 0
                },
                "sensitive_attributes": []
            }]
        }]
    });
    std::fs::write(p.path().join("terraform.tfstate"), tfstate.to_string()).expect("write");
    let import = p.run(&[
        "import",
        "--from-terraform",
        "terraform.tfstate",
        "--generate-config",
        "shop.hcl",
    ]);
    assert_eq!(import.code, 0, "{}{}", import.stdout, import.stderr);
    let written = std::fs::read_to_string(p.path().join("shop.hcl")).expect("written");
    assert!(written.contains("provider       = tencentcloud.prod"), "{written}");
    let state = p.state();
    let shop = &state["resources"]["tencentcloud_ssl_free_certificate.shop"];
    assert_eq!(shop["certificate_id"], id.as_str(), "{state}");
    assert_eq!(shop["args"]["provider"], "tencentcloud.prod", "{state}");
    assert_eq!(p.run(&["plan", "--detailed-exitcode"]).code, 0);
}

// Review (issue 24): each test below fails today and demonstrates a bug.

/// A provider block removed while the state records what is in its account stops every run
/// that reads or writes, `--refresh=false` included, naming what it holds: nothing is applied
/// for elsewhere meanwhile.
#[test]
fn a_removed_provider_is_refused_without_refresh_too() {
    let shop = prod_certificate("shop", "shop.example.com");
    let p = Project::with_accounts(&[PROD_PROVIDER, &shop].concat(), &[]);
    assert_eq!(p.run(&["apply", "--auto-approve"]).code, 0);
    let id = ids_in(&p, PROD_SECRET_ID, PROD_SECRET_KEY).remove(0);
    p.write_config(&certificate("shop", "shop.example.com"));
    let apply = p.run(&["apply", "--refresh=false", "--auto-approve"]);
    assert_eq!(apply.code, 1, "{}{}", apply.stdout, apply.stderr);
    assert!(
        apply
            .stderr
            .contains(&format!("tencentcloud_ssl_free_certificate.shop (certificate {id})")),
        "{}",
        apply.stderr
    );
    assert!(domains_in(&p, SECRET_ID, SECRET_KEY).is_empty(), "nothing applied for elsewhere");
}

/// A certificate left over from a move to another account keeps its provider needed until it
/// is deleted; the error says so, and never advises `state rm` (which would drop the live
/// certificate of the resource in the other account).
#[test]
fn a_deposed_certificate_of_a_removed_provider_keeps_the_provider_needed() {
    let p = Project::with_accounts(
        &[PROD_PROVIDER, &prod_certificate("shop", "shop.example.com")].concat(),
        &[],
    );
    assert_eq!(p.run(&["apply", "--auto-approve"]).code, 0);
    let old = ids_in(&p, PROD_SECRET_ID, PROD_SECRET_KEY).remove(0);
    // Moved to the default account; the old certificate, under an hour old, stays deposed.
    p.write_config(&[PROD_PROVIDER, &certificate("shop", "shop.example.com")].concat());
    assert_eq!(p.run(&["apply", "--auto-approve"]).code, 0);
    p.write_config(&certificate("shop", "shop.example.com"));
    let plan = p.run(&["plan"]);
    assert_eq!(plan.code, 1);
    assert!(
        plan.stderr.contains(&format!("certificate {old}, which tencentcloud_ssl_free_certificate.shop no longer uses, still to delete")),
        "{}",
        plan.stderr
    );
    assert!(!plan.stderr.contains("state rm"), "{}", plan.stderr);
    // Declared again, the next apply deletes it where it is, and the provider may go.
    p.write_config(&[PROD_PROVIDER, &certificate("shop", "shop.example.com")].concat());
    p.age(1);
    assert_eq!(p.run(&["apply", "--auto-approve"]).code, 0);
    assert!(ids_in(&p, PROD_SECRET_ID, PROD_SECRET_KEY).is_empty());
    p.write_config(&certificate("shop", "shop.example.com"));
    assert_eq!(p.run(&["plan", "--detailed-exitcode"]).code, 0);
}

/// `terraform show -json` does not say which provider holds a certificate: a declared
/// resource's provider is taken, never the default one claimed as Terraform's.
#[test]
fn terraform_show_json_takes_the_declared_resources_provider() {
    let p = Project::with_accounts(
        &[PROD_PROVIDER, &prod_certificate("shop", "shop.example.com")].concat(),
        &[],
    );
    let id = p.sandbox.seed_in(PROD_SECRET_ID, &["shop.example.com"]).remove(0);
    let show = serde_json::json!({
        "format_version": "1.0",
        "terraform_version": "1.9.5",
        "values": {"root_module": {"resources": [{
            "address": "tencentcloud_ssl_free_certificate.shop",
            "mode": "managed",
            "type": "tencentcloud_ssl_free_certificate",
            "name": "shop",
            "provider_name": "registry.terraform.io/tencentcloudstack/tencentcloud",
            "schema_version": 0,
            "values": {"id": id, "domain": "shop.example.com", "dv_auth_method": "DNS_AUTO",
                       "package_type": "83", "alias": "", "project_id": 0},
            "sensitive_values": {}
        }]}}
    });
    std::fs::write(p.path().join("show.json"), show.to_string()).expect("write");
    let import = p.run(&["import", "--from-terraform", "show.json"]);
    assert_eq!(import.code, 0, "{}{}", import.stdout, import.stderr);
    let state = p.state();
    let shop = &state["resources"]["tencentcloud_ssl_free_certificate.shop"];
    assert_eq!(shop["certificate_id"], id.as_str(), "{state}");
    assert_eq!(shop["args"]["provider"], "tencentcloud.prod", "{state}");
}

/// A Terraform state whose certificates use an alias the configuration does not declare says
/// to declare it, and imports nothing.
#[test]
fn terraform_import_of_an_undeclared_alias_says_to_declare_it() {
    let p = Project::with_accounts(PROD_PROVIDER, &[]);
    let id = p.sandbox.seed_in(OTHER_SECRET_ID, &["shop.example.com"]).remove(0);
    let tfstate = serde_json::json!({
        "version": 4, "terraform_version": "1.9.5", "serial": 3,
        "lineage": "5e1f0f3c-0000-4000-8000-000000000001", "outputs": {},
        "resources": [{
            "mode": "managed", "type": "tencentcloud_ssl_free_certificate", "name": "shop",
            "provider": "provider[\"registry.terraform.io/tencentcloudstack/tencentcloud\"].staging",
            "instances": [{"schema_version": 0, "attributes": {"id": id,
                "domain": "shop.example.com", "dv_auth_method": "DNS_AUTO", "package_type": "83",
                "alias": "", "project_id": 0}, "sensitive_attributes": []}]
        }]
    });
    std::fs::write(p.path().join("terraform.tfstate"), tfstate.to_string()).expect("write");
    let import = p.run(&[
        "import",
        "--from-terraform",
        "terraform.tfstate",
        "--generate-config",
        "shop.hcl",
    ]);
    assert_eq!(import.code, 1);
    assert!(
        import.stderr.contains("1 certificate with provider tencentcloud.staging, which the configuration does not declare")
            && import.stderr.contains("alias = \"staging\""),
        "{}",
        import.stderr
    );
    assert!(!p.path().join("shop.hcl").exists(), "nothing written");
}
