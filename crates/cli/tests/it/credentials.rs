//! Where credentials come from and the promise that secrets stay secret: never printed, never
//! logged, never written to state or plan files, sensitive variables redacted.

use serde_json::Value;

use crate::harness::{Project, SECRET_ID, SECRET_KEY, certificate, run};

#[test]
fn missing_credentials_and_wrong_keys_are_clear_errors() {
    let p = Project::new(&certificate("www", "www.example.com"));
    let mut cmd = p.command(&["apply", "--auto-approve"]);
    cmd.env_remove("TENCENTCLOUD_SECRET_ID").env_remove("TENCENTCLOUD_SECRET_KEY");
    let missing = run(cmd);
    assert_eq!(missing.code, 1);
    assert!(
        missing.stderr.contains("TENCENTCLOUD_SECRET_ID")
            && missing.stderr.contains("TENCENTCLOUD_SECRET_KEY"),
        "{}",
        missing.stderr
    );
    assert!(missing.stderr.contains("--sandbox"), "{}", missing.stderr);

    let mut cmd = p.command(&["apply", "--auto-approve"]);
    cmd.env("TENCENTCLOUD_SECRET_KEY", "a-wrong-key");
    let wrong = run(cmd);
    assert_eq!(wrong.code, 1);
    assert!(wrong.stderr.contains("AuthFailure.SignatureFailure"), "{}", wrong.stderr);
    assert!(wrong.stderr.contains("RequestId: "), "{}", wrong.stderr);
    assert!(p.sandbox.certificates().is_empty());
}

#[test]
fn credentials_come_from_env_then_tccli_profile_then_the_block() {
    let block = |id: &str, key: &str| {
        format!(
            "provider \"tencentcloud\" {{\n  secret_id  = \"{id}\"\n  secret_key = \"{key}\"\n}}\n\n{}",
            certificate("www", "www.example.com")
        )
    };
    let p = Project::new(&block("AKIDwrong", "wrong-block-key"));
    let home = tempfile::tempdir().expect("home");
    std::fs::create_dir_all(home.path().join(".tccli")).expect("tccli dir");
    let profile = |name: &str, id: &str, key: &str| {
        std::fs::write(
            home.path().join(".tccli").join(format!("{name}.credential")),
            serde_json::json!({ "secretId": id, "secretKey": key }).to_string(),
        )
        .expect("profile");
    };
    profile("default", "AKIDwrong", "wrong-profile-key");
    profile("team", SECRET_ID, SECRET_KEY);

    // The environment wins over a wrong profile and a wrong block.
    let mut cmd = p.command(&["plan"]);
    cmd.env("HOME", home.path());
    let env_wins = run(cmd);
    assert_eq!(env_wins.code, 0, "{}", env_wins.stderr);
    assert!(
        env_wins.stderr.contains("warning: credentials in the configuration"),
        "{}",
        env_wins.stderr
    );

    // Without the environment, the named profile wins over the wrong block.
    let without_env = |args: &[&str], profile: Option<&str>| {
        let mut cmd = p.command(args);
        cmd.env("HOME", home.path())
            .env_remove("TENCENTCLOUD_SECRET_ID")
            .env_remove("TENCENTCLOUD_SECRET_KEY");
        match profile {
            Some(name) => cmd.env("TENCENTCLOUD_PROFILE", name),
            None => cmd.env_remove("TENCENTCLOUD_PROFILE"),
        };
        run(cmd)
    };
    let default_profile = without_env(&["apply", "--auto-approve"], None);
    assert_eq!(default_profile.code, 1, "the default profile's key is wrong");
    assert!(
        default_profile.stderr.contains("AuthFailure.SecretIdNotFound"),
        "{}",
        default_profile.stderr
    );
    let team = without_env(&["apply", "--auto-approve"], Some("team"));
    assert_eq!(team.code, 0, "{}", team.stderr);
    let flag = without_env(&["plan", "--profile", "team", "--detailed-exitcode"], None);
    assert_eq!(flag.code, 0, "{}", flag.stderr);

    // With neither, the block is used.
    std::fs::remove_dir_all(home.path().join(".tccli")).expect("no profiles");
    p.write_config(&block(SECRET_ID, SECRET_KEY));
    let from_block = without_env(&["plan", "--out", "saved.plan"], None);
    assert_eq!(from_block.code, 0, "{}", from_block.stderr);
    assert!(
        from_block.stderr.contains("warning: credentials in the configuration"),
        "{}",
        from_block.stderr
    );

    // The key is in no file certplan wrote.
    for file in ["certplan.state.json", "saved.plan"] {
        let text = std::fs::read_to_string(p.path().join(file)).expect(file);
        assert!(!text.contains(SECRET_KEY), "{file} holds the SecretKey");
    }
}

#[test]
fn debug_logs_name_every_call_and_never_a_secret() {
    let p = Project::new(&certificate("www", "www.example.com"));
    let mut cmd = p.command(&["apply", "--auto-approve"]);
    cmd.env("CERTPLAN_LOG", "debug");
    let apply = run(cmd);
    assert_eq!(apply.code, 0, "{}", apply.stderr);
    for action in ["ApplyCertificate", "DescribeCertificateDetail"] {
        let line = apply
            .stderr
            .lines()
            .find(|l| l.contains(&format!("action=\"{action}\"")))
            .unwrap_or_else(|| panic!("no log line for {action}: {}", apply.stderr));
        assert!(line.contains("API call succeeded") && line.contains("request_id="), "{line}");
        assert!(line.contains("duration_ms="), "{line}");
    }
    // run() checks stdout and stderr for the SecretKey; bodies are never logged either.
    assert!(!apply.stderr.contains("DomainName"), "no request bodies in logs");

    // And nothing certplan writes holds it: plan at debug level to a plan file, then grep.
    let mut cmd = p.command(&["plan", "--out", "debug.plan"]);
    cmd.env("CERTPLAN_LOG", "debug");
    assert_eq!(run(cmd).code, 0);
    for file in ["certplan.state.json", "certplan.state.json.backup", "debug.plan"] {
        if let Ok(text) = std::fs::read_to_string(p.path().join(file)) {
            assert!(!text.contains(SECRET_KEY), "{file} holds the SecretKey");
        }
    }
}

#[test]
fn values_of_sensitive_variables_are_never_shown() {
    let config = r#"
variable "contact" {
  type      = string
  sensitive = true
}

resource "tencentcloud_ssl_free_certificate" "www" {
  domain         = "www.example.com"
  dv_auth_method = "DNS_AUTO"
  contact_email  = var.contact
}

output "contact" {
  value     = tencentcloud_ssl_free_certificate.www.domain
}
"#;
    let p = Project::new(config);
    let with = |contact: &str, args: &[&str]| {
        let mut cmd = p.command(args);
        cmd.env("CERTPLAN_VAR_contact", contact);
        run(cmd)
    };
    let secret = "hidden-person@example.com";
    let plan = with(secret, &["plan"]);
    assert_eq!(plan.code, 0, "{}", plan.stderr);
    assert!(plan.stdout.contains("+ contact_email  = (sensitive value)"), "{}", plan.stdout);
    let json = with(secret, &["plan", "--json"]);
    let json: Value = serde_json::from_str(&json.stdout).expect("plan JSON");
    let change = &json["resource_changes"][0]["change"];
    assert_eq!(change["after"]["contact_email"], Value::Null);
    assert_eq!(change["after_sensitive"]["contact_email"], true);
    assert_eq!(change["after"]["domain"], "www.example.com", "only what is sensitive is hidden");

    let apply = with(secret, &["apply", "--auto-approve"]);
    assert_eq!(apply.code, 0, "{}", apply.stderr);
    let recorded = p.run(&["state", "show", "tencentcloud_ssl_free_certificate.www"]);
    assert!(recorded.stdout.contains("contact_email  = (sensitive value)"), "{}", recorded.stdout);
    let changed = with("other-person@example.com", &["plan", "--out", "next.plan"]);
    assert!(
        changed.stdout.contains("~ contact_email  = (sensitive value) -> (sensitive value)"),
        "{}",
        changed.stdout
    );
    let shown = with("other-person@example.com", &["show", "next.plan"]);
    assert!(shown.stdout.contains("(sensitive value)"), "{}", shown.stdout);
    // Once the block is gone, the plan to delete the certificate still hides the value.
    p.write_config("variable \"contact\" {\n  sensitive = true\n}\n");
    let delete = with(secret, &["plan"]);
    assert!(delete.stdout.contains("- contact_email  = (sensitive value)"), "{}", delete.stdout);
    for run in [&plan, &apply, &recorded, &changed, &shown, &delete] {
        for value in [secret, "other-person@example.com"] {
            assert!(!run.stdout.contains(value) && !run.stderr.contains(value), "{value} shown");
        }
    }
}
