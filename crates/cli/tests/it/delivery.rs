//! Delivery: renewed certificates reach the cloud resources that served the old ones (one
//! deployment task each, followed to its end, failures retried alone) and PEM files on this
//! machine (checked, written with the right modes, the hook run once) — and no key material
//! lands anywhere but `privkey.pem`.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use serde_json::Value;

use crate::harness::{Project, Run, SHORT_REQUEST_TIMEOUT, converge, kill_when, only_id};

/// The sandbox moves one cloud resource per 50 ms, so that tests do not wait on it.
const FAST_DEPLOY: &[&str] = &["--deploy-step", "50ms"];

/// `www` exporting to `certs/www` with a hook that logs its variables to `hook.log`, and, with
/// `deploy`, taking over CLB listeners in Guangzhou and CDN domains.
fn www(deploy: bool) -> String {
    let deploy = if deploy {
        "  deploy {\n    resource_types = [\"clb\", \"cdn\"]\n    regions        = { clb = [\"ap-guangzhou\"] }\n  }\n"
    } else {
        ""
    };
    format!(
        r#"resource "tencentcloud_ssl_free_certificate" "www" {{
  domain         = "www.example.com"
  dv_auth_method = "DNS_AUTO"
{deploy}
  export {{
    path      = "certs/www"
    on_change = "echo \"$CERTPLAN_ADDRESS $CERTPLAN_CERTIFICATE_ID old=$CERTPLAN_OLD_CERTIFICATE_ID $RENEWED_LINEAGE $RENEWED_DOMAINS $CERTPLAN_NOT_AFTER\" >> hook.log"
  }}
}}
"#
    )
}

fn hook_runs(p: &Project) -> Vec<String> {
    let log = std::fs::read_to_string(p.path().join("hook.log")).unwrap_or_default();
    log.lines().map(str::to_owned).collect()
}

fn read(p: &Project, file: &str) -> String {
    std::fs::read_to_string(p.path().join("certs/www").join(file)).expect(file)
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).expect("exists").permissions().mode() & 0o777
}

/// Checks the exported files with x509-parser and rcgen, not with certplan's own code: the
/// leaf is for the domain, expires when state says, is signed by the chain's first
/// certificate, and the key is the leaf's.
fn assert_files_hold(p: &Project, id: &str) {
    let dir = p.path().join("certs/www");
    assert_eq!(mode(&dir), 0o700, "the directory is private");
    assert_eq!(mode(&dir.join("privkey.pem")), 0o600, "the key is private");
    let (cert, chain, fullchain, key) = (
        read(p, "cert.pem"),
        read(p, "chain.pem"),
        read(p, "fullchain.pem"),
        read(p, "privkey.pem"),
    );
    assert_eq!(fullchain, format!("{cert}{chain}"));
    let (_, leaf_pem) = x509_parser::pem::parse_x509_pem(cert.as_bytes()).expect("cert.pem");
    let leaf = leaf_pem.parse_x509().expect("a certificate");
    let (_, issuer_pem) = x509_parser::pem::parse_x509_pem(chain.as_bytes()).expect("chain.pem");
    let issuer = issuer_pem.parse_x509().expect("a certificate");
    leaf.verify_signature(Some(issuer.public_key())).expect("the chain verifies the leaf");
    let sans = leaf.subject_alternative_name().expect("SAN").expect("has SANs");
    assert!(format!("{:?}", sans.value).contains("www.example.com"));
    let state = p.state();
    let record = &state["resources"]["tencentcloud_ssl_free_certificate.www"];
    assert_eq!(record["certificate_id"], id);
    let not_after: chrono::DateTime<chrono::Utc> =
        record["not_after"].as_str().expect("not_after").parse().expect("time");
    assert_eq!(leaf.validity().not_after.timestamp(), not_after.timestamp());
    let pair = rcgen::KeyPair::from_pem(&key).expect("privkey.pem is a key");
    assert_eq!(pair.public_key_raw(), leaf.public_key().subject_public_key.data.as_ref());
    assert_eq!(record["exports"][0]["certificate_id"], id, "state says which certificate");
}

fn ok(run: &Run) {
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
}

#[test]
fn first_apply_exports_checked_files_and_runs_the_hook_once() {
    let p = Project::with_sandbox(&www(true), FAST_DEPLOY);
    let plan = p.run(&["plan"]);
    assert!(
        plan.stdout.contains("will export to certs/www once issued (not exported yet)"),
        "{}",
        plan.stdout
    );
    ok(&p.run(&["apply", "--auto-approve"]));
    let id = only_id(&p);
    assert_files_hold(&p, &id);
    let runs = hook_runs(&p);
    assert_eq!(runs.len(), 1, "the hook ran once: {runs:?}");
    let lineage = p.path().join("certs/www");
    assert!(
        runs[0].starts_with(&format!(
            "tencentcloud_ssl_free_certificate.www {id} old= {} www.example.com 20",
            lineage.display()
        )),
        "{runs:?}"
    );
    assert_eq!(p.sandbox.requests("UpdateCertificateInstance"), 0, "nothing to take over yet");

    // Nothing left: no changes, and a second apply writes nothing and runs nothing.
    assert_eq!(p.run(&["plan", "--detailed-exitcode"]).code, 0);
    ok(&p.run(&["apply", "--auto-approve"]));
    assert_eq!(hook_runs(&p).len(), 1);
}

#[test]
fn a_renewal_moves_every_bound_resource_to_the_new_certificate_in_one_task() {
    let p = Project::with_sandbox(&www(true), FAST_DEPLOY);
    ok(&p.run(&["apply", "--auto-approve"]));
    let old = only_id(&p);
    let gz = Some("ap-guangzhou");
    p.sandbox.bind(&old, "clb", gz, "lb-1|lbl-1");
    p.sandbox.bind(&old, "clb", gz, "lb-1|lbl-2|www.example.com");
    p.sandbox.bind(&old, "cdn", None, "www.example.com");
    // Not declared: another region, and another type.
    p.sandbox.bind(&old, "clb", Some("ap-shanghai"), "lb-9|lbl-9");
    p.sandbox.bind(&old, "waf", Some("ap-guangzhou"), "waf.example.com");
    let old_cert = read(&p, "cert.pem");
    p.age(70);

    let plan = p.run(&["plan"]);
    assert!(
        plan.stdout.contains(&format!(
            "will deploy the new certificate to cdn, clb (ap-guangzhou) once issued, taking over from {old}"
        )),
        "{}",
        plan.stdout
    );
    // The plan says what the renewal will leave on the old certificate, and a scheduled job
    // goes red: those resources break when it expires.
    let left = "also serves 1 clb in ap-shanghai, 1 waf in ap-guangzhou, which the deploy block does not declare";
    let plan = p.run(&["plan", "--detailed-exitcode"]);
    assert_eq!(plan.code, 3, "{}", plan.stderr);
    assert!(
        plan.stdout.contains("Needs attention:") && plan.stdout.contains(left),
        "{}",
        plan.stdout
    );
    let apply = p.run(&["apply", "--auto-approve", "--wait"]);
    assert_eq!(apply.code, 3, "{}\n{}", apply.stdout, apply.stderr);
    let end = apply.stdout.rsplit("Apply complete!").next().expect("an end");
    assert!(end.contains("Needs attention:") && end.contains(left), "{}", apply.stdout);
    let new = only_id(&p);
    assert_ne!(new, old);
    assert!(apply.stderr.contains("deployed"), "{}", apply.stderr);

    let tasks = p.sandbox.deploy_tasks();
    assert_eq!(tasks.len(), 1, "one task: {tasks:?}");
    assert_eq!(tasks[0].old_certificate_id.as_deref(), Some(old.as_str()));
    assert_eq!(tasks[0].certificate_id, new);
    assert_eq!(tasks[0].resource_types, ["cdn", "clb"]);
    assert!(p.sandbox.requests("UpdateCertificateInstance") >= 2, "asked again while it was 0");
    let on = |id: &str| {
        let mut on: Vec<String> = p
            .sandbox
            .bindings()
            .into_iter()
            .filter(|b| b.certificate_id == id)
            .map(|b| format!("{} {}", b.resource_type, b.instance))
            .collect();
        on.sort();
        on
    };
    assert_eq!(
        on(&new),
        ["cdn www.example.com", "clb lb-1|lbl-1", "clb lb-1|lbl-2|www.example.com"]
    );
    assert_eq!(on(&old), ["clb lb-9|lbl-9", "waf waf.example.com"], "undeclared ones stay");

    assert_ne!(read(&p, "cert.pem"), old_cert, "files replaced");
    assert_files_hold(&p, &new);
    let runs = hook_runs(&p);
    assert_eq!(runs.len(), 2, "{runs:?}");
    assert!(runs[1].contains(&format!("{new} old={old} ")), "{runs:?}");

    let show = p.run(&["state", "show", "tencentcloud_ssl_free_certificate.www"]);
    assert!(show.stdout.contains(&format!("# deployed from {old} to {new}")), "{}", show.stdout);
    assert!(show.stdout.contains("clb lb-1/lbl-1 in ap-guangzhou: succeeded"), "{}", show.stdout);

    // A second apply does nothing and calls nothing but reads.
    let mutations = |p: &Project| {
        ["ApplyCertificate", "UpdateCertificateInstance", "UpdateCertificateRecordRetry"]
            .map(|a| p.sandbox.requests(a))
    };
    let before = mutations(&p);
    // The old certificate still serves what was left behind, and says so on every run.
    let plan = p.run(&["plan", "--detailed-exitcode"]);
    assert_eq!(plan.code, 3, "{}", plan.stdout);
    assert!(plan.stdout.contains(left), "{}", plan.stdout);
    assert_eq!(p.run(&["apply", "--auto-approve"]).code, 3);
    assert_eq!(mutations(&p), before);
    assert_eq!(hook_runs(&p).len(), 2);

    // Moved by hand, nothing is left behind: the runs are green again.
    for b in p.sandbox.bindings().into_iter().filter(|b| b.certificate_id == old) {
        p.sandbox.bind(&new, &b.resource_type, b.region.as_deref(), &b.instance);
    }
    ok(&p.run(&["apply", "--auto-approve"]));
    assert_eq!(p.run(&["plan", "--detailed-exitcode"]).code, 0);
}

#[test]
fn a_failed_binding_is_retried_alone_without_a_new_application_or_task() {
    let p = Project::with_sandbox(&www(true), FAST_DEPLOY);
    ok(&p.run(&["apply", "--auto-approve"]));
    let old = only_id(&p);
    p.sandbox.bind(&old, "clb", Some("ap-guangzhou"), "lb-1|lbl-1");
    p.sandbox.bind(&old, "cdn", None, "www.example.com");
    p.sandbox.fail_next_deploys("lb-1|lbl-1", 1);
    p.age(70);

    let apply = p.run(&["apply", "--auto-approve", "--wait"]);
    assert_eq!(apply.code, 1, "a resource that failed fails the apply: {}", apply.stderr);
    assert!(apply.stderr.contains("Delivery failed:"), "{}", apply.stderr);
    assert!(apply.stderr.contains("clb lb-1/lbl-1 in ap-guangzhou"), "{}", apply.stderr);
    let new = only_id(&p);

    let plan = p.run(&["plan", "--detailed-exitcode"]);
    assert_eq!(plan.code, 2, "{}", plan.stdout);
    assert!(plan.stdout.contains("will retry 1 failed deployment"), "{}", plan.stdout);
    let applications = p.sandbox.requests("ApplyCertificate");
    ok(&p.run(&["apply", "--auto-approve"]));
    assert_eq!(p.sandbox.requests("ApplyCertificate"), applications, "no new application");
    assert_eq!(p.sandbox.requests("UpdateCertificateRecordRetry"), 1);
    assert_eq!(p.sandbox.deploy_tasks().len(), 1, "no second task");
    assert!(p.sandbox.bindings().iter().all(|b| b.certificate_id == new));
    assert_eq!(p.run(&["plan", "--detailed-exitcode"]).code, 0);
}

#[test]
fn nothing_bound_is_nothing_to_deploy_and_no_failure() {
    let p = Project::with_sandbox(&www(true), FAST_DEPLOY);
    ok(&p.run(&["apply", "--auto-approve"]));
    p.age(70);
    let apply = p.run(&["apply", "--auto-approve", "--wait"]);
    ok(&apply);
    assert!(apply.stderr.contains("nothing to deploy"), "{}", apply.stderr);
    assert_eq!(p.run(&["plan", "--detailed-exitcode"]).code, 0);
}

#[test]
fn files_deleted_or_edited_on_disk_are_rewritten_and_the_hook_runs() {
    let p = Project::with_sandbox(&www(false), FAST_DEPLOY);
    ok(&p.run(&["apply", "--auto-approve"]));
    let id = only_id(&p);
    let dir = p.path().join("certs/www");

    std::fs::remove_file(dir.join("privkey.pem")).expect("deleted");
    let plan = p.run(&["plan", "--detailed-exitcode"]);
    assert_eq!(plan.code, 2);
    assert!(plan.stdout.contains("(missing: privkey.pem)"), "{}", plan.stdout);
    ok(&p.run(&["apply", "--auto-approve"]));
    assert_files_hold(&p, &id);
    assert_eq!(hook_runs(&p).len(), 2);

    std::fs::write(dir.join("chain.pem"), "edited\n").expect("edited");
    let plan = p.run(&["plan"]);
    assert!(plan.stdout.contains("(changed on disk: chain.pem)"), "{}", plan.stdout);
    ok(&p.run(&["apply", "--auto-approve"]));
    assert_files_hold(&p, &id);
    assert_eq!(hook_runs(&p).len(), 3);
    assert_eq!(p.run(&["plan", "--detailed-exitcode"]).code, 0);
}

#[test]
fn a_failing_hook_is_reported_recorded_and_run_again() {
    let config = www(false).replace(
        "on_change = \"echo",
        "on_change = \"test -e hook.ok || { echo not yet >&2; exit 3; }; echo",
    );
    let p = Project::with_sandbox(&config, FAST_DEPLOY);
    let apply = p.run(&["apply", "--auto-approve"]);
    assert_eq!(apply.code, 1, "{}", apply.stderr);
    assert!(apply.stderr.contains("on_change (stderr): not yet"), "{}", apply.stderr);
    assert!(apply.stderr.contains("exited with status 3"), "{}", apply.stderr);
    assert_files_hold(&p, &only_id(&p));
    let plan = p.run(&["plan", "--detailed-exitcode"]);
    assert_eq!(plan.code, 2);
    assert!(
        plan.stdout.contains("will run the on_change hook of certs/www again"),
        "{}",
        plan.stdout
    );
    std::fs::write(p.path().join("hook.ok"), "").expect("fixed");
    ok(&p.run(&["apply", "--auto-approve"]));
    assert_eq!(hook_runs(&p).len(), 1);
    assert_eq!(p.run(&["plan", "--detailed-exitcode"]).code, 0);
}

#[test]
fn no_key_material_anywhere_but_privkey_pem() {
    let p = Project::with_sandbox(&www(true), FAST_DEPLOY);
    let logged = |args: &[&str]| {
        let mut cmd = p.command(args);
        cmd.env("CERTPLAN_LOG", "trace");
        crate::harness::run(cmd)
    };
    let mut output = String::new();
    for run in [
        logged(&["apply", "--auto-approve", "--json"]),
        logged(&["plan", "--out", "saved.plan"]),
        logged(&["state", "show", "tencentcloud_ssl_free_certificate.www"]),
    ] {
        output.push_str(&run.stdout);
        output.push_str(&run.stderr);
    }
    p.age(70);
    let renewal = logged(&["apply", "--auto-approve", "--wait"]);
    ok(&renewal);
    output.push_str(&renewal.stdout);
    output.push_str(&renewal.stderr);
    let key = read(&p, "privkey.pem");
    let body: Vec<&str> = key.lines().filter(|l| !l.starts_with("-----")).collect();
    assert!(body.len() > 3);
    let mut places = vec![("output and debug logs".to_owned(), output)];
    for entry in std::fs::read_dir(p.path()).expect("dir").flatten() {
        let path = entry.path();
        if path.is_file() && path.file_name().is_some_and(|n| n != "sandbox-data.json") {
            let text = String::from_utf8_lossy(&std::fs::read(&path).expect("read")).into_owned();
            places.push((path.display().to_string(), text));
        }
    }
    assert!(places.iter().any(|(name, _)| name.ends_with("saved.plan")));
    assert!(places.iter().any(|(name, _)| name.ends_with("certplan.state.json.backup")));
    for (name, text) in &places {
        assert!(!text.contains("PRIVATE KEY"), "{name} holds a private key");
        for line in &body {
            assert!(!text.contains(line), "{name} holds key material");
        }
    }
}

#[test]
fn kill_9_during_renew_and_deploy_leaves_every_binding_on_the_newest_certificate_once() {
    const N: usize = 20;
    let config: String = std::iter::once(SHORT_REQUEST_TIMEOUT.to_owned())
        .chain((0..N)
        .map(|i| {
            format!(
                "resource \"tencentcloud_ssl_free_certificate\" \"c{i:02}\" {{\n  domain         = \"c{i:02}.example.com\"\n  dv_auth_method = \"DNS_AUTO\"\n  deploy {{\n    resource_types = [\"cdn\"]\n  }}\n}}\n\n"
            )
        }))
        .collect();
    let p = Project::with_sandbox(&config, &["--deploy-step", "100ms", "--latency", "20ms"]);
    ok(&p.run(&["apply", "--auto-approve"]));
    let state = p.state();
    let resources = state["resources"].as_object().expect("resources");
    for (address, r) in resources {
        let id = r["certificate_id"].as_str().expect("id");
        let name = address.rsplit('.').next().expect("name");
        p.sandbox.bind(id, "cdn", None, &format!("{name}.example.com"));
    }
    p.age(70);
    let state_path = p.path().join("certplan.state.json");
    let progress = || -> (usize, usize) {
        let text = std::fs::read_to_string(&state_path).unwrap_or_default();
        let state: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        let resources = state["resources"].as_object().cloned().unwrap_or_default();
        let renewed = resources.values().filter(|r| r.get("succeeds").is_some()).count();
        let deploying = resources.values().filter(|r| r.get("deployments").is_some()).count();
        (renewed, deploying)
    };
    // Kill while renewals are recorded, then while deployment tasks are being asked for and
    // followed.
    for (renewed_at_least, deploying_at_least) in [(3, 0), (N, 2), (N, 8)] {
        kill_when(p.command(&["apply", "--auto-approve", "--wait"]), || {
            let (renewed, deploying) = progress();
            renewed >= renewed_at_least && deploying >= deploying_at_least
        });
    }
    converge(&p, 5);
    assert_exactly_once_per_renewal(&p, N);
    let newest = p.state_ids();
    let bindings = p.sandbox.bindings();
    assert_eq!(bindings.len(), N);
    assert!(bindings.iter().all(|b| newest.contains(&b.certificate_id)), "{bindings:?}");
    let tasks = p.sandbox.deploy_tasks();
    let mut pairs: Vec<(Option<String>, String)> =
        tasks.iter().map(|t| (t.old_certificate_id.clone(), t.certificate_id.clone())).collect();
    pairs.sort();
    pairs.dedup();
    assert_eq!((tasks.len(), pairs.len()), (N, N), "each deploy task created once: {tasks:?}");
}

/// Each resource has its original certificate and exactly one renewal of it, and state records
/// the renewals.
fn assert_exactly_once_per_renewal(p: &Project, n: usize) {
    p.sandbox.clear_faults();
    let certs = p.sandbox.certificates();
    assert_eq!(certs.len(), 2 * n, "one renewal per certificate: {certs:?}");
    let renewals: Vec<&Value> = certs.iter().filter(|c| !c["origin"].is_null()).collect();
    assert_eq!(renewals.len(), n);
    let mut in_state = p.state_ids();
    let mut renewed: Vec<String> =
        renewals.iter().map(|c| c["id"].as_str().expect("id").to_owned()).collect();
    in_state.sort();
    renewed.sort();
    assert_eq!(in_state, renewed);
}

#[test]
fn a_task_whose_id_was_never_recorded_is_found_not_asked_for_again() {
    let p = Project::with_sandbox(&www(true), FAST_DEPLOY);
    ok(&p.run(&["apply", "--auto-approve"]));
    let old = only_id(&p);
    p.sandbox.bind(&old, "cdn", None, "www.example.com");
    p.age(70);
    ok(&p.run(&["apply", "--auto-approve", "--wait"]));
    assert_eq!(p.sandbox.deploy_tasks().len(), 1);
    // A run that died after the service created the task and before its id was recorded
    // leaves the deployment journaled without an id (the task has finished since).
    let path = p.path().join("certplan.state.json");
    let mut state: Value =
        serde_json::from_str(&std::fs::read_to_string(&path).expect("state")).expect("JSON");
    let deployment =
        &mut state["resources"]["tencentcloud_ssl_free_certificate.www"]["deployments"][0];
    let deployment = deployment.as_object_mut().expect("a deployment");
    for field in ["record_id", "finished_at", "resources"] {
        assert!(deployment.remove(field).is_some(), "{field} was recorded");
    }
    std::fs::write(&path, serde_json::to_vec_pretty(&state).expect("JSON")).expect("written");

    let plan = p.run(&["plan"]);
    assert!(plan.stdout.contains("whose task id was not received"), "{}", plan.stdout);
    let asked = p.sandbox.requests("UpdateCertificateInstance");
    ok(&p.run(&["apply", "--auto-approve"]));
    assert_eq!(p.sandbox.requests("UpdateCertificateInstance"), asked, "not asked for again");
    assert_eq!(p.sandbox.deploy_tasks().len(), 1, "no second task");
    let show = p.run(&["state", "show", "tencentcloud_ssl_free_certificate.www"]);
    assert!(show.stdout.contains("task 1;"), "{}", show.stdout);
    assert_eq!(p.run(&["plan", "--detailed-exitcode"]).code, 0);
}

#[test]
fn a_renewal_cancelled_before_it_issued_leaves_its_replacement_to_move_what_still_serves() {
    let config = "resource \"tencentcloud_ssl_free_certificate\" \"www\" {\n  domain         = \"www.example.com\"\n  dv_auth_method = \"DNS\"\n  deploy {\n    resource_types = [\"cdn\"]\n  }\n}\n";
    let p = Project::with_sandbox(config, FAST_DEPLOY);
    // Exit 3 while a person has a record to add.
    let awaiting = |run: Run| assert_eq!(run.code, 3, "{}\n{}", run.stdout, run.stderr);
    awaiting(p.run(&["apply", "--auto-approve"]));
    let first = only_id(&p);
    p.sandbox.console("validate", &first);
    ok(&p.run(&["apply", "--auto-approve"]));
    p.sandbox.bind(&first, "cdn", None, "www.example.com");
    p.age(70);
    awaiting(p.run(&["apply", "--auto-approve"]));
    let renewal = only_id(&p);
    assert_ne!(renewal, first);
    // The renewal's order is cancelled before it issues: it never served anything.
    p.sandbox.console("cancel", &renewal);
    let plan = p.run(&["plan"]);
    assert!(plan.stdout.contains(&format!("taking over from {first}")), "{}", plan.stdout);
    awaiting(p.run(&["apply", "--auto-approve"]));
    let replacement = only_id(&p);
    p.sandbox.console("validate", &replacement);
    let apply = p.run(&["apply", "--auto-approve"]);
    ok(&apply);
    let bindings = p.sandbox.bindings();
    assert_eq!(bindings.len(), 1);
    assert_eq!(bindings[0].certificate_id, replacement, "{}", apply.stderr);
}

#[test]
fn a_hook_sees_its_variables_but_not_the_cloud_credentials() {
    // The harness fails any run that prints the SecretKey: the hook prints its environment.
    let config = www(false).replace("on_change = \"echo", "on_change = \"env; echo");
    let p = Project::with_sandbox(&config, FAST_DEPLOY);
    let apply = p.run(&["apply", "--auto-approve"]);
    ok(&apply);
    assert!(apply.stderr.contains("on_change (stdout): CERTPLAN_DOMAIN=www.example.com"));
    assert!(!apply.stderr.contains("TENCENTCLOUD_SECRET"), "{}", apply.stderr);
}

#[test]
fn two_resources_exporting_to_one_directory_are_refused_however_it_is_written() {
    let dir = tempfile::tempdir().expect("tempdir");
    let absolute = dir.path().join("shared");
    let config = format!(
        "{}{}",
        crate::harness::resource(
            "a",
            "a.example.com",
            "  dv_auth_method = \"DNS_AUTO\"\n  export {\n    path = \"certs/../shared-link\"\n  }\n"
        ),
        crate::harness::resource(
            "b",
            "b.example.com",
            &format!(
                "  dv_auth_method = \"DNS_AUTO\"\n  export {{\n    path = {:?}\n  }}\n",
                absolute.display().to_string()
            )
        ),
    );
    let p = Project::with_sandbox(&config, FAST_DEPLOY);
    std::fs::create_dir(&absolute).expect("shared dir");
    std::fs::create_dir(p.path().join("certs")).expect("certs");
    std::os::unix::fs::symlink(&absolute, p.path().join("shared-link")).expect("symlink");
    assert_eq!(p.run(&["validate"]).code, 0, "the configuration cannot see it");
    let apply = p.run(&["apply", "--auto-approve"]);
    assert_eq!(apply.code, 1, "{}", apply.stderr);
    assert!(apply.stderr.contains("exports to the same directory"), "{}", apply.stderr);
    assert!(!absolute.join("cert.pem").exists(), "neither wrote");
}

#[test]
fn a_hook_killed_with_its_run_is_run_again_and_told_the_same_old_certificate() {
    let config = r#"resource "tencentcloud_ssl_free_certificate" "www" {
  domain         = "www.example.com"
  dv_auth_method = "DNS_AUTO"

  export {
    path      = "certs/www"
    on_change = "echo \"old=$CERTPLAN_OLD_CERTIFICATE_ID\" >> hook.log; if [ -e slow ]; then rm slow; sleep 10; fi"
  }
}
"#;
    let p = Project::with_sandbox(config, FAST_DEPLOY);
    ok(&p.run(&["apply", "--auto-approve"]));
    let first = only_id(&p);
    assert_eq!(hook_runs(&p), ["old="], "the first time, there is no old certificate");
    std::fs::write(p.path().join("slow"), "").expect("slow");
    p.age(70);
    // Killed while the renewal's hook runs: the hook's outcome is never recorded.
    kill_when(p.command(&["apply", "--auto-approve", "--wait"]), || hook_runs(&p).len() == 2);
    let next = p.run(&["apply", "--auto-approve"]);
    ok(&next);
    assert_ne!(only_id(&p), first);
    let runs = hook_runs(&p);
    assert_eq!(runs.len(), 3, "run again, at least once: {runs:?}");
    assert_eq!(runs[1], format!("old={first}"));
    assert_eq!(runs[2], runs[1], "told the same old certificate again");
}

#[test]
fn a_key_file_anyone_can_read_is_refused_naming_it_and_its_mode() {
    let p = Project::with_sandbox(&www(false), FAST_DEPLOY);
    ok(&p.run(&["apply", "--auto-approve"]));
    let key = p.path().join("certs/www/privkey.pem");
    let before = std::fs::read(&key).expect("key");
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    p.age(70);
    let apply = p.run(&["apply", "--auto-approve", "--wait"]);
    assert_eq!(apply.code, 1, "{}", apply.stderr);
    assert!(apply.stderr.contains("privkey.pem (mode 0644)"), "{}", apply.stderr);
    assert!(apply.stderr.contains("chmod 600"), "{}", apply.stderr);
    assert_eq!(std::fs::read(&key).expect("key"), before, "the new key is not written into it");

    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    ok(&p.run(&["apply", "--auto-approve"]));
    assert_ne!(std::fs::read(&key).expect("key"), before, "written once it is private");
}

#[test]
fn run_hooks_runs_them_now_with_their_variables_and_changes_nothing() {
    let p = Project::with_sandbox(&www(false), FAST_DEPLOY);
    let none = p.run(&["run-hooks"]);
    assert_eq!(none.code, 1, "nothing exported yet: {}", none.stderr);
    assert!(none.stderr.contains("not exported yet"), "{}", none.stderr);
    ok(&p.run(&["apply", "--auto-approve"]));
    let id = only_id(&p);
    let state = std::fs::read(p.path().join("certplan.state.json")).expect("state");
    let requests = p.sandbox.stats();

    let ran = p.run(&["run-hooks", "tencentcloud_ssl_free_certificate.www"]);
    ok(&ran);
    assert!(ran.stderr.contains("on_change hook of certs/www succeeded"), "{}", ran.stderr);
    let runs = hook_runs(&p);
    assert_eq!(runs.len(), 2, "{runs:?}");
    assert_eq!(runs[1], runs[0], "the same variables as the last write");
    assert!(runs[1].starts_with(&format!("tencentcloud_ssl_free_certificate.www {id} old= ")));
    assert_eq!(std::fs::read(p.path().join("certplan.state.json")).expect("state"), state);
    assert_eq!(p.sandbox.stats(), requests, "no call to the cloud");

    let failing = www(false).replace(">> hook.log", ">> hook.log; exit 3");
    p.write_config(&failing);
    let failed = p.run(&["run-hooks"]);
    assert_eq!(failed.code, 1, "{}", failed.stderr);
    assert!(failed.stderr.contains("on_change hook of certs/www exited"), "{}", failed.stderr);
}

#[test]
fn delivery_left_for_a_later_apply_is_said_once_per_reason() {
    let config = www(true).replace("\"DNS_AUTO\"", "\"DNS\"");
    let p = Project::with_sandbox(&config, FAST_DEPLOY);
    assert_eq!(p.run(&["apply", "--auto-approve"]).code, 3, "the record is to add");
    p.sandbox.console("validate", &only_id(&p));
    ok(&p.run(&["apply", "--auto-approve"]));
    p.sandbox.bind(&only_id(&p), "cdn", None, "www.example.com");
    p.age(70);
    // The renewal waits for its record: its deployment and its export wait with it.
    let apply = p.run(&["apply", "--auto-approve"]);
    assert_eq!(apply.code, 3, "{}", apply.stderr);
    let section = apply.stderr.split("Delivery left for a later apply:").nth(1).expect("said");
    let lines: Vec<&str> = section.lines().filter(|l| l.starts_with("  tencent")).collect();
    assert_eq!(lines.len(), 1, "{}", apply.stderr);
}

#[test]
fn instances_named_are_given_the_first_certificate_once_and_renewals_move_them() {
    let config = r#"resource "tencentcloud_ssl_free_certificate" "www" {
  domain         = "www.example.com"
  dv_auth_method = "DNS_AUTO"

  deploy {
    instances = { cdn = ["www.example.com|on"], clb = ["lb-1|lbl-1"] }
    regions   = { clb = ["ap-guangzhou"] }
  }
}
"#;
    let p = Project::with_sandbox(config, FAST_DEPLOY);
    let plan = p.run(&["plan"]);
    ok(&plan);
    assert!(
        plan.stdout.contains("will deploy the new certificate to cdn www.example.com|on once issued (a first deployment)")
            && plan.stdout.contains("to clb lb-1|lbl-1 in ap-guangzhou once issued"),
        "{}",
        plan.stdout
    );
    ok(&p.run(&["apply", "--auto-approve", "--wait=1m"]));
    let first = only_id(&p);
    let mut bound: Vec<(String, String)> =
        (p.sandbox.bindings().into_iter()).map(|b| (b.resource_type, b.certificate_id)).collect();
    bound.sort();
    assert_eq!(bound, [("cdn".to_owned(), first.clone()), ("clb".to_owned(), first.clone())]);
    // One task per type (and region); nothing left to deploy.
    assert_eq!(p.sandbox.requests("DeployCertificateInstance"), 2);
    assert_eq!(p.run(&["plan", "--detailed-exitcode"]).code, 0);

    // A renewal moves both: no first deployment again.
    p.age(80);
    ok(&p.run(&["apply", "--auto-approve", "--wait=1m"]));
    let second = only_id(&p);
    assert_ne!(first, second);
    assert!(p.sandbox.bindings().iter().all(|b| b.certificate_id == second));
    assert_eq!(p.sandbox.requests("DeployCertificateInstance"), 2);
}
