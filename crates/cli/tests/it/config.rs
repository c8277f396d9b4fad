//! The configuration language as a user writes it: diagnostics, `validate`, variables,
//! `for_each`, the `certplan` block, and `fmt`.

use std::process::{Command, Stdio};

use serde_json::Value;

use crate::harness::{BIN, Project, certificate, run, sites};

#[test]
fn config_errors_point_at_the_file_and_line() {
    let p = Project::new(
        "resource \"tencentcloud_ssl_free_certificate\" \"www\" {\n  domain = \"www.example.com\"\n  dv_auth_mode = \"DNS_AUTO\"\n}\n",
    );
    let plan = p.run(&["plan"]);
    assert_eq!(plan.code, 1);
    assert!(plan.stderr.contains("error: unknown argument \"dv_auth_mode\""), "{}", plan.stderr);
    assert!(plan.stderr.contains("main.hcl:3:3"), "{}", plan.stderr);
    assert!(plan.stderr.contains("did you mean \"dv_auth_method\"?"), "{}", plan.stderr);
    assert!(plan.stdout.is_empty());
}

#[test]
fn validate_needs_no_credentials_and_speaks_terraform_json() {
    let dir = tempfile::tempdir().expect("tempdir");
    let validate = |args: &[&str]| {
        let mut cmd = Command::new(BIN);
        cmd.arg("--chdir")
            .arg(dir.path())
            .arg("validate")
            .args(args)
            .env_remove("TENCENTCLOUD_SECRET_ID")
            .env_remove("TENCENTCLOUD_SECRET_KEY")
            .env("CERTPLAN_ENDPOINT", "http://127.0.0.1:9");
        run(cmd)
    };
    std::fs::write(dir.path().join("main.hcl"), certificate("www", "www.example.com"))
        .expect("write");
    let ok = validate(&[]);
    assert_eq!(ok.code, 0, "{}", ok.stderr);
    assert!(ok.stdout.contains("The configuration is valid"), "{}", ok.stdout);

    std::fs::write(
        dir.path().join("main.hcl"),
        "resource \"tencentcloud_ssl_free_certificate\" \"www\" {\n  domain = \"www.example.com\"\n  dv_auth_mode = \"DNS\"\n}\n",
    )
    .expect("write");
    let bad = validate(&["--json"]);
    assert_eq!(bad.code, 1);
    let json: Value = serde_json::from_str(&bad.stdout).expect("JSON");
    assert_eq!(json["valid"], false);
    assert_eq!(json["error_count"], 1);
    assert_eq!(json["warning_count"], 0);
    let d = &json["diagnostics"][0];
    assert_eq!(d["severity"], "error");
    assert_eq!(d["summary"], "unknown argument \"dv_auth_mode\"");
    assert!(
        d["detail"].as_str().is_some_and(|t| t.contains("did you mean \"dv_auth_method\"?")),
        "{d}"
    );
    assert_eq!(d["range"]["filename"], "main.hcl");
    assert_eq!(d["range"]["start"], serde_json::json!({ "line": 3, "column": 3, "byte": 84 }));
    assert_eq!(d["range"]["end"]["column"], 15);
}

#[test]
fn variables_come_from_the_environment_and_the_command_line() {
    let config = format!(
        "variable \"zone\" {{\n  type = string\n}}\n\n{}",
        "resource \"tencentcloud_ssl_free_certificate\" \"www\" {\n  domain         = \"www.${var.zone}\"\n  dv_auth_method = \"DNS_AUTO\"\n}\n"
    );
    let p = Project::new(&config);
    let missing = p.run(&["plan"]);
    assert_eq!(missing.code, 1);
    assert!(missing.stderr.contains("variable \"zone\" has no value"), "{}", missing.stderr);
    assert!(
        missing.stderr.contains("set CERTPLAN_VAR_zone, pass --var zone=VALUE"),
        "{}",
        missing.stderr
    );

    let mut cmd = p.command(&["plan"]);
    cmd.env("CERTPLAN_VAR_zone", "env.example");
    let from_env = run(cmd);
    assert!(
        from_env.stdout.contains("+ domain         = \"www.env.example\""),
        "{}",
        from_env.stdout
    );

    let mut cmd = p.command(&["apply", "--auto-approve", "--var", "zone=flag.example"]);
    cmd.env("CERTPLAN_VAR_zone", "env.example");
    let from_flag = run(cmd);
    assert_eq!(from_flag.code, 0, "{}", from_flag.stderr);
    assert_eq!(
        p.sandbox.certificates()[0]["domain"],
        "www.flag.example",
        "flags win over the environment"
    );
}

#[test]
fn for_each_key_changes_touch_exactly_the_affected_instances() {
    let p = Project::new(&sites(&["www", "api"]));
    assert_eq!(p.run(&["apply", "--auto-approve"]).code, 0);
    let before = p.state();

    p.write_config(&sites(&["www", "api", "shop"]));
    let plan = p.run(&["plan", "--detailed-exitcode"]);
    assert_eq!(plan.code, 2);
    assert!(
        plan.stdout.contains(r#"# tencentcloud_ssl_free_certificate.site["shop"] will be created"#),
        "{}",
        plan.stdout
    );
    assert!(
        plan.stdout.contains("Plan: 1 to add, 0 to renew, 0 to change, 0 to destroy."),
        "{}",
        plan.stdout
    );
    assert_eq!(p.run(&["apply", "--auto-approve"]).code, 0);

    p.age(1);
    p.write_config(&sites(&["www", "shop"]));
    let plan = p.run(&["plan", "--detailed-exitcode"]);
    assert!(
        plan.stdout
            .contains(r#"# tencentcloud_ssl_free_certificate.site["api"] will be destroyed"#),
        "{}",
        plan.stdout
    );
    assert!(
        plan.stdout.contains("Plan: 0 to add, 0 to renew, 0 to change, 1 to destroy."),
        "{}",
        plan.stdout
    );
    assert_eq!(p.run(&["apply", "--auto-approve"]).code, 0);
    let after = p.state();
    let www = r#"tencentcloud_ssl_free_certificate.site["www"]"#;
    assert_eq!(
        after["resources"][www]["certificate_id"], before["resources"][www]["certificate_id"],
        "untouched"
    );
    assert_eq!(p.sandbox.certificates().len(), 2);

    let one = p.run(&["plan", "--refresh=false", "--target", www]);
    assert!(one.stdout.contains("No changes."), "{}", one.stdout);
    let show = p.run(&["state", "show", www]);
    assert!(show.stdout.contains("domain         = \"www.example.com\""), "{}", show.stdout);

    p.write_config(&sites(&["www", "shop", "new1", "new2"]));
    let whole = p.run(&["plan", "--target", "tencentcloud_ssl_free_certificate.site"]);
    assert!(
        whole.stdout.contains("Plan: 2 to add"),
        "a key-less target covers every instance: {}",
        whole.stdout
    );
    let just = p.run(&["plan", "--target", r#"tencentcloud_ssl_free_certificate.site["new1"]"#]);
    assert!(just.stdout.contains("Plan: 1 to add"), "{}", just.stdout);
}

#[test]
fn the_certplan_block_chooses_where_state_lives() {
    let config = "certplan {\n  backend \"local\" {\n    path = \"state/prod.json\"\n  }\n}\n\n"
        .to_owned()
        + &certificate("www", "www.example.com");
    let p = Project::new(&config);
    assert_eq!(p.run(&["apply", "--auto-approve"]).code, 0);
    assert!(p.path().join("state/prod.json").exists());
    assert!(!p.path().join("certplan.state.json").exists());
    assert_eq!(p.run(&["plan", "--detailed-exitcode"]).code, 0, "the next run finds it");
}

#[test]
fn fmt_rewrites_in_the_canonical_style_and_check_lists_what_it_would_change() {
    let dir = tempfile::tempdir().expect("tempdir");
    let write = |name: &str, text: &str| {
        let path = dir.path().join(name);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(path, text).expect("write");
    };
    let messy = "# The web site.\nresource \"tencentcloud_ssl_free_certificate\" \"www\"{\ndomain=\"www.${var.zone}\" # where\ndv_auth_method   =   \"DNS_AUTO\"\n}\n\nvariable \"zone\" {\ndefault=\"example.com\"\n}\n";
    let canonical = "# The web site.\nresource \"tencentcloud_ssl_free_certificate\" \"www\" {\n  domain         = \"www.${var.zone}\" # where\n  dv_auth_method = \"DNS_AUTO\"\n}\n\nvariable \"zone\" {\n  default = \"example.com\"\n}\n";
    write("main.hcl", messy);
    write("certplan.tfvars", "zone=\"example.org\"\n");
    write("other.txt", "not = configuration\n");
    write("nested/extra.hcl", "a=1\n");
    let certplan = |args: &[&str]| {
        let mut cmd = Command::new(BIN);
        cmd.arg("--chdir").arg(dir.path()).args(args);
        run(cmd)
    };
    let read = |name: &str| std::fs::read_to_string(dir.path().join(name)).expect("read");

    let check = certplan(&["fmt", "--check"]);
    assert_eq!(check.code, 3, "{}", check.stderr);
    assert_eq!(check.stdout, "certplan.tfvars\nmain.hcl\n");
    assert_eq!(read("main.hcl"), messy, "--check changes nothing");

    let diff = certplan(&["fmt", "--check", "--diff", "main.hcl"]);
    assert_eq!(diff.code, 3);
    assert!(
        diff.stdout.contains("-dv_auth_method   =   \"DNS_AUTO\"\n")
            && diff.stdout.contains("+  dv_auth_method = \"DNS_AUTO\"\n"),
        "{}",
        diff.stdout
    );

    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let perms = std::fs::Permissions::from_mode(0o640);
        std::fs::set_permissions(dir.path().join("main.hcl"), perms).expect("chmod");
    }
    let fmt = certplan(&["fmt"]);
    assert_eq!(fmt.code, 0, "{}", fmt.stderr);
    assert_eq!(read("main.hcl"), canonical, "comments kept, style canonical");
    assert_eq!(read("certplan.tfvars"), "zone = \"example.org\"\n");
    assert_eq!(read("other.txt"), "not = configuration\n", "only config and variables files");
    assert_eq!(read("nested/extra.hcl"), "a=1\n", "subdirectories only with --recursive");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.path().join("main.hcl")).expect("stat").permissions();
        assert_eq!(mode.mode() & 0o777, 0o640, "the file keeps its permissions");
    }
    assert_eq!(certplan(&["validate"]).code, 0, "the formatted configuration is still valid");
    let again = certplan(&["fmt", "--check"]);
    assert_eq!((again.code, again.stdout.as_str()), (0, ""), "formatting is idempotent");

    assert_eq!(certplan(&["fmt", "--recursive"]).code, 0);
    assert_eq!(read("nested/extra.hcl"), "a = 1\n");

    // Through a link, the file linked to is formatted; the link stays.
    #[cfg(unix)]
    {
        write("shared/linked.hcl", "c=3\n");
        let link = dir.path().join("link.hcl");
        std::os::unix::fs::symlink(dir.path().join("shared/linked.hcl"), &link).expect("link");
        assert_eq!(certplan(&["fmt", "link.hcl"]).code, 0);
        assert!(std::fs::symlink_metadata(&link).expect("stat").file_type().is_symlink());
        assert_eq!(read("shared/linked.hcl"), "c = 3\n");
    }

    // Standard input to standard output.
    let stdin = |args: &[&str]| {
        let mut child = Command::new(BIN)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("certplan runs");
        std::io::Write::write_all(&mut child.stdin.take().expect("stdin"), b"x={a=1}\n")
            .expect("write stdin");
        let out = child.wait_with_output().expect("certplan exits");
        (out.status.code(), String::from_utf8_lossy(&out.stdout).into_owned())
    };
    assert_eq!(stdin(&["fmt", "-"]), (Some(0), "x = { a = 1 }\n".to_owned()));
    assert_eq!(stdin(&["fmt", "--check", "-"]), (Some(3), String::new()), "--check only says so");

    // A file that is not valid HCL is reported with its line and left alone; the others are
    // still formatted.
    write("broken.hcl", "resource \"x\" {\n  a = [1,\n");
    write("z.hcl", "b=2\n");
    let broken = certplan(&["fmt"]);
    assert_eq!(broken.code, 1);
    assert!(broken.stderr.contains("--> broken.hcl:2:10"), "{}", broken.stderr);
    assert_eq!(read("broken.hcl"), "resource \"x\" {\n  a = [1,\n");
    assert_eq!(read("z.hcl"), "b = 2\n");
}
