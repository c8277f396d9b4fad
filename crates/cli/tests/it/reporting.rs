//! What certplan reports while it works and for other programs: plan JSON and apply's JSON
//! events, progress on slow changes, shell completions.

use serde_json::Value;

use crate::harness::{Project, certificate, run, run_plain};

#[test]
fn shell_completions_cover_the_commands() {
    for shell in ["bash", "zsh", "fish", "powershell"] {
        let out = run_plain(&["completions", shell]);
        assert_eq!(out.code, 0, "{shell}");
        for command in ["plan", "apply", "import", "sandbox"] {
            assert!(out.stdout.contains(command), "{shell} completion lacks {command}");
        }
    }
}

#[test]
fn plan_json_and_apply_json_events() {
    let p = Project::new(
        &[certificate("www", "www.example.com"), certificate("api", "api.example.com")].concat(),
    );
    let plan = p.run(&["plan", "--json"]);
    assert_eq!(plan.code, 0, "{}", plan.stderr);
    let json: Value = serde_json::from_str(&plan.stdout).expect("plan --json is JSON");
    assert_eq!(json["format_version"], "1.0");
    assert_eq!(json["summary"]["add"], 2);
    let change = &json["resource_changes"][0];
    assert_eq!(change["address"], "tencentcloud_ssl_free_certificate.api");
    assert_eq!(change["change"]["actions"], serde_json::json!(["create"]));
    assert_eq!(change["action_reason"], "not_in_state");

    let refused = p.run(&["apply", "--json"]);
    assert_eq!(refused.code, 1);
    assert!(refused.stderr.contains("--auto-approve"), "{}", refused.stderr);

    let mut cmd = p.command(&["apply", "--auto-approve", "--json", "--parallelism", "1"]);
    // At the real service's timing, so that no progress report (every 10 s) falls among the
    // events; at the harness's it would come every 100 ms, as often as the machine is slow.
    cmd.env("CERTPLAN_LOG", "off").env_remove("CERTPLAN_TIME_SCALE");
    let apply = run(cmd);
    assert_eq!(apply.code, 0, "{}", apply.stderr);
    let events: Vec<Value> = apply
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .map(|mut e: Value| {
            for volatile in ["@timestamp", "elapsed_seconds", "certificate_id"] {
                if e.get(volatile).is_some() {
                    e[volatile] = Value::String("<volatile>".into());
                }
            }
            if e["type"] == "planned_change" {
                // The whole change is the plan JSON, tested above; keep what identifies it.
                e["change"] = serde_json::json!({
                    "address": e["change"]["address"],
                    "actions": e["change"]["change"]["actions"],
                });
            }
            e
        })
        .collect();
    let shown = events.iter().map(|e| e.to_string()).collect::<Vec<_>>().join("\n");
    insta::assert_snapshot!(shown);
}

#[test]
fn a_slow_change_reports_its_progress_every_interval() {
    // The interval is 10 s against the real service; the harness scales it to 100 ms. Each of
    // the change's two calls takes 800 ms.
    let p = Project::with_sandbox(&certificate("www", "www.example.com"), &["--latency", "800ms"]);
    let apply = p.run(&["apply", "--auto-approve", "--json"]);
    assert_eq!(apply.code, 0, "{}", apply.stderr);
    let progress: Vec<f64> = apply
        .stdout
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|event| event["type"] == "apply_progress")
        .map(|event| event["elapsed_seconds"].as_f64().expect("elapsed"))
        .collect();
    assert!(progress.len() >= 5, "reported every 100 ms of 1.6 s: {progress:?}\n{}", apply.stdout);
    assert!(progress[0] >= 0.1, "not before the first interval: {progress:?}");
    assert!(progress.windows(2).all(|w| w[0] < w[1]), "{progress:?}");
    p.write_config(
        &[certificate("www", "www.example.com"), certificate("api", "api.example.com")].concat(),
    );
    let text = p.run(&["apply", "--auto-approve"]);
    assert!(
        text.stderr
            .contains("tencentcloud_ssl_free_certificate.api: Still creating... [1s elapsed]"),
        "{}",
        text.stderr
    );
}
