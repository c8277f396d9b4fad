//! Certificates from an ACME CA, end to end: Let's Encrypt's Pebble (Debian's package) issues
//! them, DNS-01 records published in the sandbox's Tencent Cloud DNS are looked up for real
//! (the sandbox pushes them to pebble-challtestsrv, Pebble's DNS server), the certificate is
//! uploaded to the sandbox and delivered like a free one — and renewed, moved and deleted, once
//! each, whatever point of the order a run is killed at.

use std::os::unix::fs::PermissionsExt;

use certplan_test_support::pebble::Pebble;

use crate::harness::{Project, block_on, converge, kill_when, only_id};

/// A wildcard and its base name, ordered with DNS-01 in Tencent Cloud DNS, deployed to a CLB
/// listener named in `instances` (a first deployment; renewals move it) and exported with a
/// hook.
fn site(pebble: &Pebble) -> String {
    format!(
        r#"provider "acme" {{
  server_url = "{directory}"
}}

resource "acme_registration" "reg" {{
  email_address = "ops@example.com"
}}

resource "acme_certificate" "site" {{
  account_key_pem           = acme_registration.reg.account_key_pem
  common_name               = "example.com"
  subject_alternative_names = ["*.example.com"]
  recursive_nameservers     = ["{dns}"]

  dns_challenge {{
    provider = "tencentcloud"
  }}

  deploy {{
    instances = {{ clb = ["lb-1|lbl-1"] }}
    regions   = {{ clb = ["ap-guangzhou"] }}
  }}

  export {{
    path      = "certs/site"
    on_change = "echo $CERTPLAN_CERTIFICATE_ID >> hook.log"
  }}
}}
"#,
        directory = pebble.directory,
        dns = pebble.dns,
    )
}

/// A project against a sandbox holding the zone `example.com`, whose TXT records reach
/// `pebble`'s DNS, with the CA's root trusted; `flags` go to the sandbox.
fn project(pebble: &Pebble, flags: &[&str]) -> Project {
    let mut sandbox = vec!["--dns-zone", "example.com", "--challtestsrv", &pebble.management];
    sandbox.extend_from_slice(&["--deploy-step", "20ms"]);
    sandbox.extend_from_slice(flags);
    let mut p = Project::with_sandbox(&site(pebble), &sandbox);
    let roots = pebble.roots.display().to_string();
    p.env.push(("CERTPLAN_ACME_CA_CERTIFICATES".to_owned(), roots));
    p
}

/// The time 70 days from now: a 90-day certificate has less than a third of its life left.
fn seventy_days_on() -> String {
    (chrono::Utc::now() + chrono::Duration::days(70)).to_rfc3339()
}

fn hook_runs(p: &Project) -> Vec<String> {
    let log = std::fs::read_to_string(p.path().join("hook.log")).unwrap_or_default();
    log.lines().map(str::to_owned).collect()
}

#[test]
fn a_wildcard_is_ordered_by_dns01_uploaded_delivered_then_renewed_and_the_old_one_deleted() {
    let pebble = block_on(Pebble::start());
    let mut p = project(&pebble, &[]);

    let plan = p.run(&["plan"]);
    assert_eq!(plan.code, 0, "{}", plan.stderr);
    assert!(
        plan.stdout.contains("will be ordered from 127.0.0.1:")
            && plan.stdout.contains(
                "(dns-01 via Tencent Cloud DNS, 2 records), then uploaded to the account"
            ),
        "{}",
        plan.stdout
    );

    let apply = p.run(&["apply", "-auto-approve"]);
    assert_eq!(apply.code, 0, "{}\n{}", apply.stdout, apply.stderr);
    assert_eq!(pebble.issued(), 1, "one order finalized");
    assert_eq!(p.sandbox.requests("UploadCertificate"), 1);
    // One record per value (the wildcard's and the base name's share a name), both removed.
    assert_eq!(p.sandbox.requests("CreateRecord"), 2);
    assert_eq!(p.sandbox.requests("DeleteRecord"), 2);
    let first = only_id(&p);
    let certs = p.sandbox.certificates();
    assert_eq!(certs.len(), 1, "{certs:?}");
    assert_eq!(certs[0]["domain"], "example.com");

    // The files: the CA's certificate for both names, the key 0600; the key nowhere else.
    let dir = p.path().join("certs/site");
    let cert = std::fs::read_to_string(dir.join("cert.pem")).expect("cert.pem");
    let (_, pem) = x509_parser::pem::parse_x509_pem(cert.as_bytes()).expect("PEM");
    let parsed = pem.parse_x509().expect("a certificate");
    let names: Vec<String> = parsed
        .subject_alternative_name()
        .expect("SAN")
        .expect("SAN")
        .value
        .general_names
        .iter()
        .map(|n| n.to_string())
        .collect();
    assert_eq!(names, ["DNSName(example.com)", "DNSName(*.example.com)"]);
    assert!(parsed.issuer().to_string().contains("Pebble"), "{}", parsed.issuer());
    let key = std::fs::read_to_string(dir.join("privkey.pem")).expect("privkey.pem");
    let mode = |path: &std::path::Path| {
        std::fs::metadata(path).expect("exists").permissions().mode() & 0o777
    };
    assert_eq!(mode(&dir.join("privkey.pem")), 0o600);
    let state = std::fs::read_to_string(p.path().join("certplan.state.json")).expect("state");
    assert!(!state.contains("PRIVATE KEY") && !state.contains(key.trim()));
    // The account key, made on first use: 0600 in a directory of its own.
    assert_eq!(mode(&p.path().join(".certplan/acme/reg.key")), 0o600);
    assert!(!apply.stdout.contains("PRIVATE KEY") && !apply.stderr.contains("PRIVATE KEY"));
    assert_eq!(hook_runs(&p), std::slice::from_ref(&first));
    // The listener named serves it: one first deployment.
    let bound: Vec<String> = p.sandbox.bindings().into_iter().map(|b| b.certificate_id).collect();
    assert_eq!(bound, std::slice::from_ref(&first));
    assert_eq!(p.sandbox.requests("DeployCertificateInstance"), 1);
    assert_eq!(p.sandbox.deploy_tasks().len(), 1);

    // Nothing to do until it is due.
    let again = p.run(&["plan", "-detailed-exitcode"]);
    assert_eq!(again.code, 0, "{}", again.stdout);

    // 70 days on, it is due: ordered again, uploaded, the listener moved to the new one, the
    // old one deleted.
    p.env.push(("CERTPLAN_PLAN_TIME".to_owned(), seventy_days_on()));
    let plan = p.run(&["plan", "-detailed-exitcode"]);
    assert_eq!(plan.code, 2, "{}\n{}", plan.stdout, plan.stderr);
    assert!(plan.stdout.contains("acme_certificate.site will be renewed"), "{}", plan.stdout);
    let renew = p.run(&["apply", "-auto-approve"]);
    assert_eq!(renew.code, 0, "{}\n{}", renew.stdout, renew.stderr);
    let second = only_id(&p);
    assert_ne!(second, first);
    assert_eq!(pebble.issued(), 2);
    let certs = p.sandbox.certificates();
    assert_eq!(certs.len(), 1, "the old certificate is deleted: {certs:?}");
    assert_eq!(certs[0]["id"], second.as_str());
    let bound: Vec<String> = p.sandbox.bindings().into_iter().map(|b| b.certificate_id).collect();
    assert_eq!(bound, std::slice::from_ref(&second));
    assert_eq!(p.sandbox.deploy_tasks().len(), 2, "the first deployment, then one move");
    assert_eq!(p.sandbox.requests("DeployCertificateInstance"), 1);
    assert_eq!(hook_runs(&p), [first, second]);
    let new_key = std::fs::read_to_string(dir.join("privkey.pem")).expect("privkey.pem");
    assert_ne!(new_key, key, "a renewal has a key of its own");

    // The next nightly run, on the real clock: nothing is due.
    p.env.clear();
    p.env.push(("CERTPLAN_ACME_CA_CERTIFICATES".to_owned(), pebble.roots.display().to_string()));
    let settled = p.run(&["apply", "-auto-approve"]);
    assert_eq!(settled.code, 0, "{}", settled.stderr);
    assert_eq!((pebble.issued(), p.sandbox.requests("UploadCertificate")), (2, 2));
}

/// Kills a first apply when `landed` says so, then applies until nothing is left: one order
/// finalized, one upload, one certificate, recorded.
fn killed_first_order(landed: impl Fn(&Project, &Pebble) -> bool) {
    let pebble = block_on(Pebble::start());
    // Every call to Tencent Cloud takes 100 ms: room for the kill to land between two steps.
    let p = project(&pebble, &["--latency", "100ms"]);
    kill_when(p.command(&["apply", "-auto-approve"]), || landed(&p, &pebble));
    converge(&p, 4);
    assert_eq!(pebble.issued(), 1, "one order finalized");
    let certs = p.sandbox.certificates();
    assert_eq!(certs.len(), 1, "one certificate uploaded: {certs:?}");
    assert_eq!(only_id(&p), certs[0]["id"].as_str().expect("id"));
    assert!(p.state().get("intents").is_none(), "no unfinished intents");
    let records = p.sandbox.requests("CreateRecord");
    assert!(p.sandbox.requests("DeleteRecord") >= 2.min(records), "records removed");
    // The listener named is given the certificate by one task.
    assert_eq!(p.sandbox.deploy_tasks().len(), 1, "one first deployment");
    let bound: Vec<String> = p.sandbox.bindings().into_iter().map(|b| b.certificate_id).collect();
    assert_eq!(bound, [certs[0]["id"].as_str().expect("id")]);
}

fn order_journaled(p: &Project) -> bool {
    std::fs::read_to_string(p.path().join("certplan.state.json"))
        .is_ok_and(|s| s.contains("\"order\""))
}

#[test]
fn killed_once_the_order_is_journaled_the_next_run_resumes_it() {
    killed_first_order(|p, _| order_journaled(p));
}

#[test]
fn killed_once_a_record_is_published_the_next_run_resumes_the_order() {
    killed_first_order(|p, _| p.sandbox.requests("CreateRecord") >= 1);
}

#[test]
fn killed_once_the_order_is_finalized_the_certificate_is_uploaded_not_ordered_again() {
    killed_first_order(|_, pebble| pebble.issued() >= 1);
}

#[test]
fn killed_once_the_upload_is_sent_it_is_found_not_made_again() {
    killed_first_order(|p, _| p.sandbox.requests("UploadCertificate") >= 1);
}

#[test]
fn killed_once_the_first_deployment_is_asked_for_it_is_followed_not_made_twice() {
    killed_first_order(|p, _| p.sandbox.requests("DeployCertificateInstance") >= 1);
}

#[test]
fn killed_mid_deployment_of_a_renewal_the_listener_moves_once() {
    let pebble = block_on(Pebble::start());
    let mut p = project(&pebble, &["--latency", "50ms"]);
    let apply = p.run(&["apply", "-auto-approve"]);
    assert_eq!(apply.code, 0, "{}", apply.stderr);
    p.env.push(("CERTPLAN_PLAN_TIME".to_owned(), seventy_days_on()));
    kill_when(p.command(&["apply", "-auto-approve"]), || {
        p.sandbox.requests("UpdateCertificateInstance") >= 1
    });
    // The runs after it, on the real clock: the new certificate is not due, its delivery is.
    p.env.retain(|(name, _)| name != "CERTPLAN_PLAN_TIME");
    converge(&p, 4);
    assert_eq!(pebble.issued(), 2, "one order for the renewal");
    assert_eq!(p.sandbox.deploy_tasks().len(), 2, "the first deployment, and one move");
    let second = only_id(&p);
    let bound: Vec<String> = p.sandbox.bindings().into_iter().map(|b| b.certificate_id).collect();
    assert_eq!(bound, std::slice::from_ref(&second));
    let certs = p.sandbox.certificates();
    assert_eq!(certs.len(), 1, "the old certificate is deleted once nothing serves it: {certs:?}");
}

#[test]
fn an_order_the_ca_refused_for_its_rate_limits_holds_the_resource_back_and_the_run_goes_red() {
    let pebble = block_on(Pebble::start());
    let p = project(&pebble, &[]);
    let apply = p.run(&["apply", "-auto-approve"]);
    assert_eq!(apply.code, 0, "{}", apply.stderr);
    // A second certificate whose order the CA refused until tomorrow: the journal holds it.
    let until = chrono::Utc::now() + chrono::Duration::days(1);
    let mut state = p.state();
    let mut held = state["resources"]["acme_certificate.site"]["args"].clone();
    held["domain"] = "www.example.com".into();
    held["acme"]["subject_alternative_names"] = serde_json::json!([]);
    state["intents"] = serde_json::json!([{
        "address": "acme_certificate.www",
        "action": "create",
        "args": held,
        "started_at": chrono::Utc::now().to_rfc3339(),
        "retry_after": until.to_rfc3339(),
    }]);
    let path = p.path().join("certplan.state.json");
    std::fs::write(&path, serde_json::to_string(&state).expect("JSON")).expect("state");
    let www = format!(
        "{}\nresource \"acme_certificate\" \"www\" {{\n  common_name           = \"www.example.com\"\n  recursive_nameservers = [\"{}\"]\n\n  dns_challenge {{\n    provider = \"tencentcloud\"\n  }}\n}}\n",
        site(&pebble),
        pebble.dns
    );
    p.write_config(&www);

    let plan = p.run(&["plan", "-detailed-exitcode"]);
    assert_eq!(plan.code, 3, "{}\n{}", plan.stdout, plan.stderr);
    assert!(
        plan.stdout.contains("refuses to order it for its rate limits until"),
        "{}",
        plan.stdout
    );
    let apply = p.run(&["apply", "-auto-approve"]);
    assert_eq!(apply.code, 3, "{}\n{}", apply.stdout, apply.stderr);
    assert_eq!(pebble.issued(), 1, "nothing ordered while held");
    assert!(p.state()["intents"][0]["retry_after"].is_string(), "still held");
}

/// `acme_certificate.NAME` for `name`, ordered with `challenge` (a block).
fn with_challenge(pebble: &Pebble, name: &str, challenge: &str) -> String {
    format!(
        r#"provider "acme" {{
  server_url = "{directory}"
}}

resource "acme_registration" "reg" {{
  email_address = "ops@example.com"
}}

resource "acme_certificate" "{name}" {{
  common_name           = "{name}.example.com"
  recursive_nameservers = ["{dns}"]

{challenge}
}}
"#,
        directory = pebble.directory,
        dns = pebble.dns,
    )
}

#[test]
fn a_dns01_hook_publishes_and_removes_the_record_for_any_other_dns() {
    let pebble = block_on(Pebble::start());
    // The hook publishes into challtestsrv, as a script for another DNS provider's API would.
    let hook = format!(
        r#"#!/bin/sh
echo "$1 $2 $3 $CERTBOT_DOMAIN" >> hook-calls.log
case "$1" in
  present) curl -sf -X POST -d "{{\"host\":\"$2\",\"value\":\"$3\"}}" {m}/set-txt ;;
  cleanup) curl -sf -X POST -d "{{\"host\":\"$2\"}}" {m}/clear-txt ;;
esac
"#,
        m = pebble.management
    );
    let challenge = "  dns_challenge {\n    provider = \"exec\"\n    config   = { EXEC_PATH = \"./dns-hook.sh\" }\n  }";
    let mut p = Project::with_sandbox(&with_challenge(&pebble, "api", challenge), &[]);
    p.env.push(("CERTPLAN_ACME_CA_CERTIFICATES".to_owned(), pebble.roots.display().to_string()));
    let script = p.path().join("dns-hook.sh");
    std::fs::write(&script, hook).expect("hook");
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).expect("chmod");

    let plan = p.run(&["plan"]);
    assert!(plan.stdout.contains("(dns-01 via ./dns-hook.sh, 1 record)"), "{}", plan.stdout);
    let apply = p.run(&["apply", "-auto-approve"]);
    assert_eq!(apply.code, 0, "{}\n{}", apply.stdout, apply.stderr);
    assert_eq!(pebble.issued(), 1);
    let calls = std::fs::read_to_string(p.path().join("hook-calls.log")).expect("hook ran");
    let calls: Vec<&str> = calls.lines().collect();
    assert_eq!(calls.len(), 2, "{calls:?}");
    assert!(calls[0].starts_with("present _acme-challenge.api.example.com. "), "{calls:?}");
    assert!(calls[0].ends_with(" api.example.com"), "{calls:?}");
    assert!(calls[1].starts_with("cleanup _acme-challenge.api.example.com. "), "{calls:?}");
    assert_eq!(p.sandbox.requests("CreateRecord"), 0, "Tencent Cloud DNS is not used");
}

#[test]
fn an_http01_challenge_is_answered_from_the_webroot_and_the_file_removed() {
    let pebble = block_on(Pebble::start());
    let challenge = "  http_webroot_challenge {\n    directory = \"webroot\"\n  }";
    let mut p = Project::with_sandbox(&with_challenge(&pebble, "shop", challenge), &[]);
    p.env.push(("CERTPLAN_ACME_CA_CERTIFICATES".to_owned(), pebble.roots.display().to_string()));
    let webroot = p.path().join("webroot");
    std::fs::create_dir_all(&webroot).expect("webroot");
    // The web server Pebble fetches the challenge from (every name resolves to 127.0.0.1).
    let mut server = std::process::Command::new("python3")
        .args(["-m", "http.server", &pebble.http_port.to_string(), "--bind", "127.0.0.1"])
        .arg("--directory")
        .arg(&webroot)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("python3 serves the webroot");
    let up = (0..100).any(|_| {
        std::thread::sleep(std::time::Duration::from_millis(50));
        std::net::TcpStream::connect(("127.0.0.1", pebble.http_port)).is_ok()
    });
    assert!(up, "the web server listens");
    let apply = p.run(&["apply", "-auto-approve"]);
    let _ = server.kill();
    let _ = server.wait();
    assert_eq!(apply.code, 0, "{}\n{}", apply.stdout, apply.stderr);
    assert_eq!(pebble.issued(), 1);
    let left = std::fs::read_dir(webroot.join(".well-known/acme-challenge")).expect("made").count();
    assert_eq!(left, 0, "the challenge file is removed");
}

#[test]
fn a_lost_account_key_is_not_replaced_while_certificates_it_ordered_are_recorded() {
    let pebble = block_on(Pebble::start());
    let mut p = project(&pebble, &[]);
    let apply = p.run(&["apply", "-auto-approve"]);
    assert_eq!(apply.code, 0, "{}", apply.stderr);
    std::fs::remove_file(p.path().join(".certplan/acme/reg.key")).expect("the key file");
    p.env.push(("CERTPLAN_PLAN_TIME".to_owned(), seventy_days_on()));
    let renew = p.run(&["apply", "-auto-approve"]);
    assert_eq!(renew.code, 1, "{}\n{}", renew.stdout, renew.stderr);
    assert!(
        renew.stderr.contains("the account key file .certplan/acme/reg.key is missing, but the state records certificates ordered with it"),
        "{}",
        renew.stderr
    );
    assert!(!p.path().join(".certplan/acme/reg.key").exists(), "no new key made");
    assert_eq!(pebble.issued(), 1, "nothing ordered");
}

#[test]
fn a_failing_dns01_hook_is_named_with_its_last_words_and_the_order_kept_for_the_next_run() {
    let pebble = block_on(Pebble::start());
    let challenge = "  dns_challenge {\n    provider = \"exec\"\n    config   = { EXEC_PATH = \"./dns-hook.sh\" }\n  }";
    let mut p = Project::with_sandbox(&with_challenge(&pebble, "api", challenge), &[]);
    p.env.push(("CERTPLAN_ACME_CA_CERTIFICATES".to_owned(), pebble.roots.display().to_string()));
    let script = p.path().join("dns-hook.sh");
    // A chatty program that fails: its last line says why.
    let hook = "#!/bin/sh\nyes chatter | head -c 1000000 >&2\necho >&2\necho 'zone api.example.com not found' >&2\nexit 3\n";
    std::fs::write(&script, hook).expect("hook");
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let apply = p.run(&["apply", "-auto-approve"]);
    assert_eq!(apply.code, 1, "{}\n{}", apply.stdout, apply.stderr);
    assert!(apply.stderr.contains("./dns-hook.sh present failed"), "{}", apply.stderr);
    assert!(apply.stderr.contains("zone api.example.com not found"), "{}", apply.stderr);
    assert_eq!(pebble.issued(), 0);
    assert!(p.state()["intents"][0]["order"].is_string(), "the order is kept to resume");
}
