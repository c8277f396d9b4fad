//! What survives a misbehaving network, service or machine: lost responses, transient errors,
//! kills, a held lock, interrupts, rate limits, quotas and a corrupt state file; and how few
//! requests a large refresh costs. Most count certificates at the sandbox afterwards: each
//! applied for exactly once, and recorded.

use std::process::{Command, Stdio};

use certplan_sandbox::Stats;
use serde_json::Value;

use crate::harness::{
    Project, SHORT_REQUEST_TIMEOUT, assert_exactly_once, certificate, converge, kill_when,
    many_certificates, three_certificates,
};

#[test]
fn a_corrupt_state_file_is_refused_and_left_alone() {
    let p = Project::new(&certificate("www", "www.example.com"));
    let path = p.path().join("certplan.state.json");
    std::fs::write(&path, "{\"format_version\": 1, \"lineage\": \"x\", \"serial\": 3, \"reso")
        .expect("write");
    let apply = p.run(&["apply", "--auto-approve"]);
    assert_eq!(apply.code, 1);
    assert!(
        apply.stderr.contains("certplan.state.json") && apply.stderr.contains("truncated"),
        "{}",
        apply.stderr
    );
    let after = std::fs::read_to_string(&path).expect("still there");
    assert!(after.ends_with("\"reso"), "untouched");
    assert!(p.sandbox.certificates().is_empty());
}

#[test]
fn lost_responses_are_found_again_not_applied_for_twice() {
    let p = Project::with_sandbox(&many_certificates(30), &["--drop-rate", "0.3"]);
    let apply = p.run(&["apply", "--auto-approve"]);
    assert_eq!(apply.code, 0, "every lost response is recovered in the same run: {}", apply.stderr);
    assert!(apply.stderr.contains("the response was lost"), "{}", apply.stderr);
    assert_eq!(p.run(&["plan", "--detailed-exitcode"]).code, 0);
    assert_exactly_once(&p, 30);
}

#[test]
fn transient_errors_converge_without_duplicates() {
    let p = Project::with_sandbox(
        &format!("{SHORT_REQUEST_TIMEOUT}{}", many_certificates(30)),
        &["--error-rate", "0.3", "--reset-rate", "0.05"],
    );
    converge(&p, 40);
    assert_exactly_once(&p, 30);
}

#[test]
fn a_run_killed_at_any_point_loses_nothing_and_applies_nothing_twice() {
    let config = format!("{SHORT_REQUEST_TIMEOUT}{}", many_certificates(30));
    let p = Project::with_sandbox(&config, &["--latency", "40ms"]);
    let state_path = p.path().join("certplan.state.json");
    // (recorded certificates, open intents) as the state file says now.
    let recorded = || {
        let text = std::fs::read_to_string(&state_path).unwrap_or_default();
        let state: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        let count = |key: &str| {
            state[key].as_object().map(|o| o.len()).or(state[key].as_array().map(Vec::len))
        };
        (count("resources").unwrap_or(0), count("intents").unwrap_or(0))
    };
    // Kill while an application is in flight (its intent journaled), and between changes.
    for mid_application in [true, false, true, false] {
        let before = recorded().0;
        kill_when(p.command(&["apply", "--auto-approve"]), || {
            let (resources, intents) = recorded();
            // This run has recorded something (leftover intents of the last kill do not count).
            let progressed = resources > before;
            (mid_application && progressed && intents > 0) || resources >= before + 4
        });
        if let Ok(text) = std::fs::read_to_string(&state_path) {
            serde_json::from_str::<Value>(&text).expect("the state file parses after every kill");
        }
    }
    converge(&p, 5);
    assert_exactly_once(&p, 30);
}

#[test]
fn a_second_apply_fails_fast_naming_the_holder() {
    let p = Project::with_sandbox(&many_certificates(3), &["--latency", "300ms"]);
    let first = p
        .command(&["apply", "--auto-approve"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("first apply starts");
    let lock = p.path().join("certplan.state.json.lock");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while std::fs::metadata(&lock).map_or(true, |m| m.len() == 0) {
        assert!(std::time::Instant::now() < deadline, "the first apply never took the lock");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let started = std::time::Instant::now();
    let second = p.run(&["apply", "--auto-approve"]);
    assert_eq!(second.code, 1);
    assert!(started.elapsed() < std::time::Duration::from_secs(2), "fails fast");
    assert!(second.stderr.contains("is locked by"), "{}", second.stderr);
    assert!(
        second.stderr.contains(&format!("(pid {}, certplan apply)", first.id())),
        "{}",
        second.stderr
    );
    let out = first.wait_with_output().expect("first apply ends");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_exactly_once(&p, 3);
    assert_eq!(std::fs::metadata(&lock).map(|m| m.len()).ok(), Some(0), "lock info cleared");
}

#[test]
fn an_interrupt_stops_new_work_and_keeps_what_was_done() {
    let p = Project::with_sandbox(&many_certificates(10), &["--latency", "150ms"]);
    let child = p
        .command(&["apply", "--auto-approve", "--parallelism", "2"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("apply starts");
    std::thread::sleep(std::time::Duration::from_millis(900));
    let status =
        Command::new("kill").args(["-INT", &child.id().to_string()]).status().expect("kill");
    assert!(status.success());
    let out = child.wait_with_output().expect("apply ends");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("Interrupt received"), "{stderr}");
    assert!(stderr.contains("Interrupted: ") && stderr.contains(" not started:"), "{stderr}");
    let done = p.state_ids().len();
    assert!(done > 0 && done < 10, "some done, some not: {done}");
    assert_eq!(p.sandbox.certificates().len(), done, "everything applied for is recorded");
    converge(&p, 2);
    assert_exactly_once(&p, 10);
}

#[test]
fn at_a_low_rate_limit_no_request_is_refused_and_each_certificate_is_applied_once() {
    // Paced at 5 a second with 10 changes at once (the default parallelism), against a service
    // that admits 6: the margin is the machine's, whose scheduling on a loaded test run can hold
    // the sandbox's process for a moment and then admit a queue at once. That the pacer never
    // exceeds its rate exactly is proven on tokio's clock (certplan-provider's pacing tests);
    // that this run's applications went no faster than the 5 a second the block sets is its
    // length, which a loaded machine can only make longer.
    let config = format!(
        "provider \"tencentcloud\" {{\n  requests_per_second = 5\n}}\n\n{}",
        many_certificates(100)
    );
    let p = Project::with_sandbox(&config, &["--rate-limit", "6"]);
    let started = std::time::Instant::now();
    let apply = p.run(&["apply", "--auto-approve"]);
    assert_eq!(apply.code, 0, "{}", apply.stderr);
    // 99 intervals of 200 ms between the first application and the last, less the pacer's
    // tolerance of a tenth of one.
    let elapsed = started.elapsed();
    assert!(elapsed >= std::time::Duration::from_millis(19_780), "faster than 5/s: {elapsed:?}");
    let stats = p.sandbox.stats();
    assert_eq!(stats.rate_limited, 0, "the pacing, not retries, keeps it under: {stats:?}");
    assert_eq!(stats.requests.get("ApplyCertificate"), Some(&100), "{stats:?}");
    assert_exactly_once(&p, 100);
}

#[test]
fn refreshing_2500_certificates_takes_three_describe_calls() {
    let n = 2500;
    let p = Project::new(&many_certificates(1).replace("c00", "placeholder"));
    let domains: Vec<String> = (0..n).map(|i| format!("r{i:04}.example.com")).collect();
    let ids = p.sandbox.seed(&domains);
    assert_eq!(ids.len(), n);
    // A configuration and a state that record exactly those certificates.
    let config: String =
        (0..n).map(|i| certificate(&format!("r{i:04}"), &format!("r{i:04}.example.com"))).collect();
    p.write_config(&config);
    let resources: serde_json::Map<String, Value> = ids
        .iter()
        .enumerate()
        .map(|(i, id)| {
            (
                format!("tencentcloud_ssl_free_certificate.r{i:04}"),
                serde_json::json!({
                    "certificate_id": id,
                    "args": { "domain": format!("r{i:04}.example.com"), "dv_auth_method": "DNS_AUTO" },
                    "status": 1,
                    "not_before": null,
                    "not_after": null,
                    "applied_at": "2026-11-26T00:00:00Z"
                }),
            )
        })
        .collect();
    let state = serde_json::json!({
        "format_version": 1, "lineage": "bench", "serial": 1, "certplan_version": "0.1.0",
        "resources": resources
    });
    std::fs::write(p.path().join("certplan.state.json"), state.to_string()).expect("state");

    let before = p.sandbox.stats();
    let plan = p.run(&["plan", "--detailed-exitcode"]);
    assert_eq!(
        plan.code,
        0,
        "{}\n{}",
        plan.stderr,
        plan.stdout.lines().take(20).collect::<Vec<_>>().join("\n")
    );
    let after = p.sandbox.stats();
    let calls = |s: &Stats, action: &str| s.requests.get(action).copied().unwrap_or(0);
    assert_eq!(calls(&after, "DescribeCertificates") - calls(&before, "DescribeCertificates"), 3);
    assert_eq!(
        calls(&after, "DescribeCertificateDetail"),
        calls(&before, "DescribeCertificateDetail"),
        "no detail calls for issued certificates"
    );
}

#[test]
fn a_used_up_quota_fails_that_certificate_alone_and_is_not_retried() {
    let p = Project::with_sandbox(&three_certificates(), &["--quota-per-domain", "2"]);
    let apply = p.run(&["apply", "--auto-approve", "--parallelism", "1"]);
    assert_eq!(apply.code, 1, "{}", apply.stderr);
    assert!(apply.stderr.contains("1 change failed"), "{}", apply.stderr);
    assert!(
        apply.stderr.contains("FailedOperation.MainDomainCertificateCountLimit"),
        "{}",
        apply.stderr
    );
    assert_eq!(p.state_ids().len(), 2, "the other two are applied for and recorded");
    assert_eq!(p.state()["intents"], Value::Null, "no application is left in doubt");
    assert_eq!(p.sandbox.certificates().len(), 2);

    // The next plan still wants the third, and a second apply asks once more, once.
    let plan = p.run(&["plan", "--detailed-exitcode"]);
    assert_eq!(plan.code, 2, "{}", plan.stdout);
    assert!(plan.stdout.contains("Plan: 1 to add"), "{}", plan.stdout);
    assert_eq!(p.sandbox.requests("ApplyCertificate"), 3, "the refusal is not retried");
    let again = p.run(&["apply", "--auto-approve"]);
    assert_eq!(again.code, 1);
    assert!(again.stderr.contains("1 change failed"), "{}", again.stderr);
    assert_eq!(p.sandbox.requests("ApplyCertificate"), 4, "asked once more, once");
}

#[test]
fn an_application_still_in_flight_after_its_run_lost_the_lock_is_waited_for_not_repeated() {
    // A run journaled an application and lost its lock (force-unlock, a network cut) while
    // its request was still on the way; the certificate appears two seconds later.
    let config = format!(
        "provider \"tencentcloud\" {{\n  request_timeout = \"3s\"\n}}\n\n{}",
        certificate("www", "www.example.com")
    );
    let p = Project::new(&config);
    let started_at = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let state = serde_json::json!({
        "format_version": 1, "lineage": "in-flight", "serial": 1, "certplan_version": "test",
        "resources": {},
        "intents": [{
            "address": "tencentcloud_ssl_free_certificate.www",
            "action": "create",
            "args": { "domain": "www.example.com", "dv_auth_method": "DNS_AUTO" },
            "started_at": started_at
        }]
    });
    std::fs::write(p.path().join("certplan.state.json"), state.to_string()).expect("state");
    let url = p.sandbox.url.clone();
    let late = std::thread::spawn(move || {
        std::thread::sleep(std::time::Duration::from_secs(2));
        let client = certplan_provider::Client::new(
            certplan_provider::Endpoint::parse(&url).expect("url"),
            certplan_provider::Credentials::new(
                crate::harness::SECRET_ID,
                crate::harness::SECRET_KEY,
            ),
        );
        let args = certplan_core::CertificateArgs::new(
            "www.example.com",
            certplan_core::DvAuthMethod::DnsAuto,
        );
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime")
            .block_on(client.apply_for_certificate(&args, None, None))
            .expect("the late application lands")
    });
    let apply = p.run(&["apply", "--auto-approve"]);
    let landed = late.join().expect("joined");
    assert_eq!(apply.code, 0, "{}", apply.stderr);
    assert!(apply.stderr.contains(&format!("recorded certificate {landed}")), "{}", apply.stderr);
    assert_exactly_once(&p, 1);
}
