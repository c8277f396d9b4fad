//! What the service, the network and the machine can throw at certplan — errors after the
//! service acted, answers that do not follow the model, answers too large or never sent, a
//! closed pipe, two writers at once, a linked state file — and what must hold after each:
//! never a certificate applied for twice, never one recorded nowhere, never a panic.

use std::io::{BufRead, BufReader};
use std::process::Stdio;

use certplan_sandbox::Faults;
use serde_json::Value;

use crate::harness::{
    Project, SHORT_REQUEST_TIMEOUT, assert_exactly_once, certificate, converge, many_certificates,
    run, three_certificates,
};

/// Every error code the service may answer with after it acted.
const MAYBE_ACTED: &str = "InternalError,InternalError.DbError,FailedOperation.NetworkError,ResourceUnavailable,ResourceInUse,RequestLimitExceeded";

#[test]
fn an_error_answered_after_the_certificate_was_created_is_looked_up_not_applied_again() {
    let flags = ["--error-after-apply-rate", "0.5", "--error-codes", MAYBE_ACTED];
    let p = Project::with_sandbox(&many_certificates(12), &flags);
    let apply = p.run(&["apply", "--auto-approve"]);
    assert!(apply.stderr.contains("the service answered with an error"), "{}", apply.stderr);
    converge(&p, 5);
    assert_exactly_once(&p, 12);
}

#[test]
fn an_application_answered_without_an_id_is_looked_up() {
    let p = Project::with_sandbox(&three_certificates(), &["--empty-id-rate", "1"]);
    let apply = p.run(&["apply", "--auto-approve"]);
    assert_eq!(apply.code, 0, "{}", apply.stderr);
    assert!(apply.stderr.contains("no CertificateId"), "{}", apply.stderr);
    assert!(!p.state_ids().iter().any(String::is_empty), "no empty id recorded");
    assert_exactly_once(&p, 3);
}

#[test]
fn a_list_answer_without_its_fields_is_an_error_not_every_certificate_deleted() {
    let p = Project::new(&three_certificates());
    assert_eq!(p.run(&["apply", "--auto-approve"]).code, 0);
    let recorded = p.state_ids();
    p.sandbox.set_faults(&Faults { malformed_list_rate: 1.0, ..Faults::default() });
    let plan = p.run(&["plan"]);
    assert_eq!(plan.code, 1, "{}", plan.stdout);
    assert!(
        plan.stderr.contains("DescribeCertificates") && plan.stderr.contains("no TotalCount"),
        "{}",
        plan.stderr
    );
    // Named by its RequestId, which support asks for.
    let request_id = plan.stderr.split("(RequestId: ").nth(1).expect("the RequestId");
    assert!(request_id.len() > 8 && !request_id.starts_with(')'), "{}", plan.stderr);
    assert!(!plan.stdout.contains("will be created"), "{}", plan.stdout);
    let apply = p.run(&["apply", "--auto-approve"]);
    assert_eq!(apply.code, 1);
    p.sandbox.clear_faults();
    assert_eq!(p.state_ids(), recorded, "nothing dropped");
    assert_exactly_once(&p, 3);
}

#[test]
fn an_answer_larger_than_any_real_one_is_refused_unread() {
    let p = Project::new(&certificate("www", "www.example.com"));
    assert_eq!(p.run(&["apply", "--auto-approve"]).code, 0);
    p.sandbox.set_faults(&Faults { padding_bytes: 40 * 1024 * 1024, ..Faults::default() });
    let plan = p.run(&["plan"]);
    assert_eq!(plan.code, 1);
    assert!(plan.stderr.contains("larger than 32 MiB"), "{}", plan.stderr);
}

#[test]
fn a_service_that_never_answers_times_out_saying_so_and_retrying_visibly() {
    let config = "provider \"tencentcloud\" {\n  request_timeout = \"1s\"\n}\n\n".to_owned()
        + &certificate("www", "www.example.com");
    let p = Project::new(&config);
    assert_eq!(p.run(&["apply", "--auto-approve"]).code, 0);
    p.sandbox.set_faults(&Faults { hang_rate: 1.0, ..Faults::default() });
    let started = std::time::Instant::now();
    let plan = p.run(&["plan"]);
    assert_eq!(plan.code, 1);
    assert!(plan.stderr.contains("timed out after 1 s"), "{}", plan.stderr);
    assert!(plan.stderr.contains(&p.sandbox.url), "names the endpoint: {}", plan.stderr);
    assert!(plan.stderr.contains("trying again in"), "retries are shown: {}", plan.stderr);
    // Five attempts of one second and their backoff, not five minutes.
    assert!(started.elapsed() < std::time::Duration::from_secs(60), "{:?}", started.elapsed());
}

#[test]
fn a_closed_standard_output_ends_apply_quietly_with_everything_recorded() {
    let p = Project::with_sandbox(&many_certificates(20), &["--latency", "50ms"]);
    let mut child = p
        .command(&["apply", "--auto-approve", "--json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("apply starts");
    let mut stdout = BufReader::new(child.stdout.take().expect("piped"));
    // The reader goes away once a certificate is done — with others in flight, as `| head`
    // would at that moment.
    let mut line = String::new();
    while !line.contains("\"apply_complete\"") {
        line.clear();
        assert!(stdout.read_line(&mut line).expect("an event") > 0, "apply ended first");
    }
    drop(stdout);
    let out = child.wait_with_output().expect("ends");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(out.status.code(), Some(141), "{stderr}");
    let state = p.state();
    assert!(state.get("intents").is_none(), "nothing in flight was abandoned: {state}");
    let recorded = p.state_ids();
    let in_cloud: Vec<String> = p
        .sandbox
        .certificates()
        .iter()
        .filter_map(|c| c["id"].as_str().map(str::to_owned))
        .collect();
    for id in &in_cloud {
        assert!(recorded.contains(id), "certificate {id} is recorded");
    }
    assert!(in_cloud.len() < 20, "it stopped starting new work: {}", in_cloud.len());
    converge(&p, 3);
    assert_exactly_once(&p, 20);
}

#[test]
fn a_full_standard_output_is_an_error_not_a_panic() {
    let p = Project::new(&certificate("www", "www.example.com"));
    for args in [&["validate"][..], &["completions", "bash"], &["plan"]] {
        let full = std::fs::OpenOptions::new().write(true).open("/dev/full").expect("/dev/full");
        let mut cmd = p.command(args);
        cmd.stdout(full);
        let out = run(cmd);
        assert_eq!(out.code, 1, "{args:?}: {}", out.stderr);
        assert!(
            out.stderr.contains("cannot write to standard output: No space left on device"),
            "{args:?}: {}",
            out.stderr
        );
        assert!(!out.stderr.contains("panicked"), "{}", out.stderr);
    }
}

#[test]
fn two_writers_without_the_lock_leave_no_certificate_recorded_nowhere() {
    let config = format!("{SHORT_REQUEST_TIMEOUT}{}", many_certificates(10));
    let p = Project::with_sandbox(&config, &["--latency", "30ms"]);
    let spawn = || {
        p.command(&["apply", "--auto-approve", "--lock=false"])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("apply starts")
    };
    let (first, second) = (spawn(), spawn());
    let outputs =
        [first.wait_with_output().expect("ends"), second.wait_with_output().expect("ends")];
    let stderr: String = outputs.iter().map(|o| String::from_utf8_lossy(&o.stderr)).collect();
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(stderr.contains("saved by another writer meanwhile; merging"), "they raced: {stderr}");
    // A run that could not save in the end leaves its open applications journaled; the next
    // run (with the lock) settles them before anything else.
    let settle = p.run(&["apply", "--auto-approve"]);
    assert!(!settle.stderr.contains("panicked"), "{}", settle.stderr);
    let state = p.state();
    let deposed: Vec<String> = state["deposed"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|d| d["certificate_id"].as_str().expect("id").to_owned())
        .collect();
    let live = p.state_ids();
    for id in &live {
        assert!(
            !deposed.contains(id),
            "certificate {id} is both in use and to be deleted: {state}"
        );
    }
    let in_cloud = p.sandbox.certificates();
    assert!(in_cloud.len() >= 10);
    for c in &in_cloud {
        let id = c["id"].as_str().expect("id").to_owned();
        assert!(
            live.contains(&id) || deposed.contains(&id),
            "certificate {id} is recorded: {state}"
        );
    }
    assert_eq!(live.len(), 10, "one certificate per resource");
    assert!(state.get("intents").is_none(), "{state}");
}

#[test]
fn a_linked_state_file_stays_a_link_and_is_shared() {
    let p = Project::new(&three_certificates());
    let shared = tempfile::tempdir().expect("shared dir");
    let target = shared.path().join("prod.json");
    std::os::unix::fs::symlink(&target, p.path().join("certplan.state.json")).expect("link");
    assert_eq!(p.run(&["apply", "--auto-approve"]).code, 0);
    let link = std::fs::symlink_metadata(p.path().join("certplan.state.json")).expect("link");
    assert!(link.file_type().is_symlink(), "still a link");
    let saved: Value =
        serde_json::from_str(&std::fs::read_to_string(&target).expect("target")).expect("json");
    assert_eq!(saved["resources"].as_object().map(|r| r.len()), Some(3));
    assert!(shared.path().join("prod.json.lock").exists(), "locked beside the target");
    assert_eq!(p.run(&["plan", "--detailed-exitcode"]).code, 0, "the next run reads it");
}

#[test]
fn a_plan_during_an_apply_does_not_take_its_work_for_an_interrupted_run() {
    let p = Project::with_sandbox(&many_certificates(10), &["--latency", "300ms"]);
    let mut apply = p
        .command(&["apply", "--auto-approve"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("apply starts");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let state_path = p.path().join("certplan.state.json");
    while !std::fs::read_to_string(&state_path).unwrap_or_default().contains("\"intents\"") {
        assert!(std::time::Instant::now() < deadline, "no intent journaled");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let plan = p.run(&["plan"]);
    assert!(apply.try_wait().expect("polled").is_none(), "the apply was still running");
    assert!(plan.stderr.contains("is running now"), "{}", plan.stderr);
    assert!(!plan.stderr.contains("interrupted run"), "{}", plan.stderr);
    apply.wait().expect("ends");
    assert_exactly_once(&p, 10);
}

#[test]
fn counts_far_beyond_any_account_are_refused_at_the_expression() {
    let config = "resource \"tencentcloud_ssl_free_certificate\" \"many\" {\n  count          = 1000000000\n  domain         = \"c${count.index}.example.com\"\n  dv_auth_method = \"DNS_AUTO\"\n}\n";
    let p = Project::new(config);
    let validate = p.run(&["validate"]);
    assert_eq!(validate.code, 1);
    assert!(validate.stderr.contains("1000000000 instances is more than"), "{}", validate.stderr);
    assert!(validate.stderr.contains("main.hcl:2:"), "{}", validate.stderr);
}

#[test]
fn sensitive_values_are_never_quoted_in_errors() {
    let config = "variable \"pin\" {\n  type      = number\n  sensitive = true\n}\n\n".to_owned()
        + &certificate("www", "www.example.com");
    let secret = "Hunter2-Secret";
    let p = Project::new(&config);
    std::fs::write(p.path().join("certplan.tfvars"), format!("pin = \"{secret}\"\n"))
        .expect("tfvars");
    let from_file = p.run(&["validate"]);
    std::fs::write(p.path().join("certplan.tfvars"), format!("pin = \"{secret}\n"))
        .expect("tfvars");
    let broken_file = p.run(&["validate"]);
    std::fs::remove_file(p.path().join("certplan.tfvars")).expect("removed");
    let mut cmd = p.command(&["validate"]);
    cmd.env("CERTPLAN_VAR_pin", secret);
    let from_env = run(cmd);
    for (what, out) in [("tfvars", &from_file), ("broken tfvars", &broken_file), ("env", &from_env)]
    {
        assert_eq!(out.code, 1, "{what}: {}", out.stderr);
        assert!(
            !out.stderr.contains("Hunter2") && !out.stdout.contains("Hunter2"),
            "{what}: {}",
            out.stderr
        );
    }
}

#[test]
fn a_run_that_cannot_record_stops_and_names_what_it_created() {
    // 40 applications at 10/s: four seconds of work after the first is recorded.
    let p = Project::with_sandbox(&many_certificates(40), &["--latency", "200ms"]);
    let state_path = p.path().join("certplan.state.json");
    let mut child = p
        .command(&["apply", "--auto-approve"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("apply starts");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while !std::fs::read_to_string(&state_path).unwrap_or_default().contains("certificate_id") {
        assert!(std::time::Instant::now() < deadline, "nothing recorded");
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    // Something that ignores the lock puts a directory where the state file was: unlike bytes
    // written into the file, which a save that checked just before could still rename over,
    // no save can replace it.
    loop {
        let _ = std::fs::remove_file(&state_path);
        if std::fs::create_dir(&state_path).is_ok() {
            break;
        }
    }
    std::fs::write(state_path.join("keep"), b"").expect("not empty");
    assert!(child.try_wait().expect("polled").is_none(), "the fault lands mid-apply");
    let out = child.wait_with_output().expect("ends");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("could not save state"), "{stderr}");
    assert!(state_path.join("keep").exists(), "never replaced");
    let created = p.sandbox.certificates();
    assert!(created.len() < 40, "it stopped starting new work: {}", created.len());
    // The certificates created and not recorded are named, with what to do about them.
    let list = stderr.split("are not recorded: ").nth(1).expect("a list of what is not recorded");
    let list = list.split(". ").next().unwrap_or(list);
    let named: Vec<&str> =
        list.split(", ").filter_map(|entry| entry.split("certificate ").nth(1)).collect();
    assert!(!named.is_empty(), "{stderr}");
    for id in &named {
        assert!(created.iter().any(|c| c["id"] == *id), "{id} exists in the cloud: {stderr}");
    }
    assert!(stderr.contains("certplan import"), "{stderr}");
}
