//! State that a team shares: the `pg` backend against the real PostgreSQL, from configuration
//! directories that share nothing but the backend block — as CI runners do.
//!
//! Each test uses a schema of its own (dropped at the end), so the tests run in parallel and
//! leave the database clean. Without PostgreSQL they fail, saying so; they never skip.

use std::path::Path;
use std::process::{Command, Stdio};

use certplan_test_support::pg;
use serde_json::Value;

use crate::harness::{
    BIN, PROD_PROVIDER, PROD_SECRET_ID, PROD_SECRET_KEY, Project, Run, SECRET_ID, SECRET_KEY,
    SHORT_REQUEST_TIMEOUT, TIME_SCALE, certificate, kill_when, many_certificates, prod_certificate,
    run,
};

/// A schema of the test's own, dropped when the test ends.
struct Schema {
    name: String,
    /// One connection for the test's own queries, so that polling is quick.
    client: std::cell::RefCell<postgres::Client>,
}

impl Schema {
    fn new() -> Self {
        let name = pg::unique_schema("certplan_it");
        // Connecting now says at once when PostgreSQL is not there.
        Schema { name, client: std::cell::RefCell::new(pg::connect()) }
    }

    /// The `certplan` block that keeps state in this schema.
    fn block(&self) -> String {
        self.block_for(&pg::url())
    }

    /// The same block, its sessions named after the schema, so that a test can end them
    /// without touching the sessions of the tests running beside it.
    fn block_with_own_sessions(&self) -> String {
        let url = pg::url();
        let separator = if url.contains('?') { '&' } else { '?' };
        self.block_for(&format!("{url}{separator}application_name={}", self.name))
    }

    fn block_for(&self, conn_str: &str) -> String {
        format!(
            "certplan {{\n  backend \"pg\" {{\n    conn_str    = \"{conn_str}\"\n    schema_name = \"{}\"\n  }}\n}}\n\n",
            self.name
        )
    }

    /// Counts the rows of `table`; 0 while certplan has not created it yet.
    fn count(&self, table: &str) -> i64 {
        let sql = format!("SELECT count(*) FROM \"{}\".{table}", self.name);
        let rows = self.client.borrow_mut().query(&sql, &[]);
        rows.ok().map_or(0, |rows| rows[0].get::<_, i64>(0))
    }

    /// Waits (up to `secs` seconds) until `table` has at least `rows` rows, what `waiting_for`
    /// names: a run making progress, or holding the lock.
    fn wait_for(&self, table: &str, rows: i64, secs: u64, waiting_for: &str) {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(secs);
        while self.count(table) < rows {
            assert!(std::time::Instant::now() < deadline, "never saw {waiting_for}");
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
    }
}

impl Drop for Schema {
    fn drop(&mut self) {
        pg::drop_schema(&self.name);
    }
}

/// Another configuration directory with `config`, applying to `p`'s sandbox: a second CI
/// runner that shares nothing with the first but the backend.
struct Runner {
    dir: tempfile::TempDir,
    endpoint: String,
    /// The project's variables (another account's credentials).
    env: Vec<(String, String)>,
}

impl Runner {
    fn beside(p: &Project, config: &str) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("main.hcl"), config).expect("config");
        Runner { dir, endpoint: p.sandbox.url.clone(), env: p.env.clone() }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(BIN);
        cmd.env("CERTPLAN_TIME_SCALE", TIME_SCALE)
            .arg("--chdir")
            .arg(self.path())
            .args(args)
            .env("CERTPLAN_ENDPOINT", &self.endpoint)
            .env("TENCENTCLOUD_SECRET_ID", SECRET_ID)
            .env("TENCENTCLOUD_SECRET_KEY", SECRET_KEY)
            .env_remove("CERTPLAN_WORKSPACE")
            .env_remove("PG_CONN_STR")
            .env_remove("PG_SCHEMA_NAME")
            .env_remove("CERTPLAN_LOG")
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null());
        cmd
    }

    fn run(&self, args: &[&str]) -> Run {
        run(self.command(args))
    }
}

fn ok(run: &Run) {
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
}

fn pulled(runner: &Runner) -> Value {
    let pull = runner.run(&["state", "pull"]);
    ok(&pull);
    serde_json::from_str(&pull.stdout).expect("state pull prints the state's JSON")
}

/// Asserts the sandbox holds exactly one certificate per domain, and the backend records those.
fn assert_once(p: &Project, runner: &Runner, n: usize) {
    let certs = p.sandbox.certificates();
    let mut domains: Vec<&str> = certs.iter().filter_map(|c| c["domain"].as_str()).collect();
    domains.sort_unstable();
    domains.dedup();
    assert_eq!((certs.len(), domains.len()), (n, n), "one certificate per resource: {certs:?}");
    let state = pulled(runner);
    let mut recorded: Vec<&str> = state["resources"]
        .as_object()
        .expect("resources")
        .values()
        .filter_map(|r| r["certificate_id"].as_str())
        .collect();
    let mut in_cloud: Vec<&str> = certs.iter().filter_map(|c| c["id"].as_str()).collect();
    recorded.sort_unstable();
    in_cloud.sort_unstable();
    assert_eq!(recorded, in_cloud);
    assert!(state.get("intents").is_none(), "no unfinished intents");
}

const OUTPUT: &str = "output \"ids\" {\n  value = { for k, c in tencentcloud_ssl_free_certificate : k => c.id }\n}\n";

#[test]
fn two_runners_sharing_only_the_backend_see_one_state() {
    let schema = Schema::new();
    let config = format!("{}{}{OUTPUT}", schema.block(), many_certificates(3));
    let p = Project::new(&config);
    let a = Runner::beside(&p, &config);
    let b = Runner::beside(&p, &config);
    ok(&a.run(&["apply", "--auto-approve"]));
    assert!(!a.path().join("certplan.state.json").exists(), "nothing written locally");

    let plan = b.run(&["plan", "--detailed-exitcode"]);
    assert_eq!(plan.code, 0, "the other runner sees what the first applied: {}", plan.stdout);
    assert_eq!(a.run(&["state", "list"]).stdout, b.run(&["state", "list"]).stdout);
    assert_eq!(
        a.run(&["output", "--json"]).stdout,
        b.run(&["output", "--json"]).stdout,
        "outputs agree"
    );
    // One row per certificate, not one document.
    assert_eq!(schema.count("resources"), 3);
    assert_once(&p, &b, 3);
}

#[test]
fn two_accounts_share_one_backend_each_bound_to_its_own() {
    let schema = Schema::new();
    let certificates =
        [certificate("www", "www.example.com"), prod_certificate("shop", "shop.example.com")];
    let config = format!("{}{PROD_PROVIDER}{}", schema.block(), certificates.concat());
    let p = Project::with_accounts(&config, &[]);
    let a = Runner::beside(&p, &config);
    let b = Runner::beside(&p, &config);
    ok(&a.run(&["apply", "--auto-approve"]));
    let plan = b.run(&["plan", "--detailed-exitcode"]);
    assert_eq!(plan.code, 0, "the other runner sees both accounts' certificates: {}", plan.stdout);
    let state = pulled(&b);
    let shop = &state["resources"]["tencentcloud_ssl_free_certificate.shop"];
    assert_eq!(shop["args"]["provider"], "tencentcloud.prod", "{state}");
    let clouds = &state["clouds"];
    let (default, prod) =
        (&clouds["tencentcloud"]["account"], &clouds["tencentcloud.prod"]["account"]);
    assert!(default.is_string() && prod.is_string() && default != prod, "{state}");
    assert_eq!(schema.count("resources"), 2);
    let prod_certs = p.sandbox.certificates_in(PROD_SECRET_ID, PROD_SECRET_KEY);
    assert_eq!(prod_certs.len(), 1);
    assert_eq!(prod_certs[0]["id"], shop["certificate_id"]);
}

/// A project of `n` certificates kept in `schema`, a first runner (kept: its apply runs in
/// its directory) whose apply holds the lock (one change at a time against a slow sandbox:
/// for seconds), and a second runner.
fn holding_the_lock(schema: &Schema, n: usize) -> (Project, Runner, Runner, std::process::Child) {
    let config = format!("{}{}", schema.block(), many_certificates(n));
    let p = Project::with_sandbox(&config, &["--latency", "400ms"]);
    let a = Runner::beside(&p, &config);
    let b = Runner::beside(&p, &config);
    let first = a
        .command(&["apply", "--auto-approve", "--parallelism", "1"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("first apply starts");
    // Its holder row is written once it holds the lock.
    schema.wait_for("locks", 1, 20, "the first apply take the lock");
    (p, a, b, first)
}

#[test]
fn two_applies_at_once_one_is_refused_naming_the_holder_or_waits_and_finds_nothing() {
    let schema = Schema::new();
    let (p, _a, b, first) = holding_the_lock(&schema, 4);
    let refused = b.run(&["apply", "--auto-approve"]);
    assert_eq!(refused.code, 1, "{}", refused.stderr);
    assert!(refused.stderr.contains("is locked by"), "{}", refused.stderr);
    assert!(refused.stderr.contains(&format!("pid {}", first.id())), "{}", refused.stderr);
    let waited = b.run(&["apply", "--auto-approve", "--lock-timeout", "60s"]);
    ok(&waited);
    assert!(waited.stdout.contains("No changes"), "it found the work done: {}", waited.stdout);
    // It said that it waited, and for whom.
    assert!(
        waited.stderr.contains("Waiting for the state lock of pg backend"),
        "{}",
        waited.stderr
    );
    assert!(waited.stderr.contains(&format!("pid {}", first.id())), "{}", waited.stderr);
    let out = first.wait_with_output().expect("first apply ends");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_once(&p, &b, 4);
}

#[test]
fn force_unlock_asks_first_and_says_when_the_holder_is_still_connected() {
    let schema = Schema::new();
    let (p, _a, b, first) = holding_the_lock(&schema, 10);
    let refused = b.run(&["apply", "--auto-approve"]);
    let lock_id = refused
        .stderr
        .split("(lock id ")
        .nth(1)
        .and_then(|rest| rest.split(')').next())
        .expect("the refusal names the lock id")
        .to_owned();

    // Without a terminal and without -force, it asks, cannot, and releases nothing.
    let asked = b.run(&["force-unlock", &lock_id]);
    assert_eq!(asked.code, 1, "{}", asked.stderr);
    assert!(asked.stderr.contains("still connected"), "{}", asked.stderr);
    assert!(asked.stderr.contains("force-unlock needs confirmation"), "{}", asked.stderr);
    assert!(asked.stderr.contains(&format!("certplan force-unlock -force {lock_id}")));
    assert!(schema.count("locks") > 0, "still locked");

    let forced = b.run(&["force-unlock", "-force", &lock_id]);
    assert_eq!(forced.code, 0, "{}", forced.stderr);
    assert!(forced.stderr.contains("still connected"), "{}", forced.stderr);
    assert!(forced.stdout.contains("Released the lock"), "{}", forced.stdout);
    let out = first.wait_with_output().expect("first apply ends");
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
    for _ in 0..5 {
        ok(&b.run(&["apply", "--auto-approve"]));
        if b.run(&["plan", "--detailed-exitcode"]).code == 0 {
            break;
        }
    }
    assert_once(&p, &b, 10);
}

#[test]
fn an_apply_killed_anywhere_converges_from_the_other_runner_with_the_lock_free() {
    let schema = Schema::new();
    let config = format!("{}{SHORT_REQUEST_TIMEOUT}{}", schema.block(), many_certificates(30));
    let p = Project::with_sandbox(&config, &["--latency", "100ms"]);
    let a = Runner::beside(&p, &config);
    let b = Runner::beside(&p, &config);
    let recorded = || (schema.count("resources"), schema.count("intents"));
    for mid_application in [true, false, true] {
        let before = recorded().0;
        kill_when(a.command(&["apply", "--auto-approve"]), || {
            let (resources, intents) = recorded();
            (mid_application && resources > before && intents > 0) || resources >= before + 4
        });
        // The other runner finds the lock free at once: the session that held it is gone.
        let started = std::time::Instant::now();
        let plan = b.run(&["plan"]);
        ok(&plan);
        assert!(started.elapsed() < std::time::Duration::from_secs(10));
    }
    for _ in 0..5 {
        ok(&b.run(&["apply", "--auto-approve"]));
        if b.run(&["plan", "--detailed-exitcode"]).code == 0 {
            break;
        }
    }
    assert_once(&p, &b, 30);
}

#[test]
fn a_connection_killed_mid_apply_fails_cleanly_and_the_next_run_converges() {
    let schema = Schema::new();
    let config = format!("{}{}", schema.block_with_own_sessions(), many_certificates(10));
    let p = Project::with_sandbox(&config, &["--latency", "150ms"]);
    let a = Runner::beside(&p, &config);
    let child = a
        .command(&["apply", "--auto-approve", "--parallelism", "2"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("apply starts");
    schema.wait_for("resources", 2, 30, "the apply make progress");
    // What a restarted server or a network cut does to the apply's session (and only to this
    // test's: the other tests' applies share the database).
    let killed = pg::connect()
        .query(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE pid <> pg_backend_pid() AND application_name = $1 AND datname = current_database()",
            &[&schema.name],
        )
        .expect("terminated");
    assert!(!killed.is_empty(), "the apply's session was found");
    let out = child.wait_with_output().expect("apply ends");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("pg backend"), "names the backend: {stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    for _ in 0..5 {
        ok(&a.run(&["apply", "--auto-approve"]));
        if a.run(&["plan", "--detailed-exitcode"]).code == 0 {
            break;
        }
    }
    assert_once(&p, &a, 10);
}

#[test]
fn a_local_state_pushed_to_the_backend_plans_no_changes_and_pulls_back_the_same() {
    let schema = Schema::new();
    let certs = many_certificates(3);
    // First a local state, as before the team moved.
    let p = Project::new(&certs);
    ok(&p.run(&["apply", "--auto-approve"]));
    let local = std::fs::read_to_string(p.path().join("certplan.state.json")).expect("state");

    // Then the backend block; plan and apply warn that the local state is not used.
    p.write_config(&format!("{}{certs}", schema.block()));
    let plan = p.run(&["plan"]);
    assert!(plan.stderr.contains("certplan state push certplan.state.json"), "{}", plan.stderr);
    ok(&p.run(&["state", "push", "certplan.state.json"]));
    let plan = p.run(&["plan", "--detailed-exitcode"]);
    assert_eq!(plan.code, 0);
    assert!(!plan.stderr.contains("until you push"), "it was pushed: {}", plan.stderr);

    let pulled: Value = serde_json::from_str(&p.run(&["state", "pull"]).stdout).expect("JSON");
    let local: Value = serde_json::from_str(&local).expect("JSON");
    assert_eq!(pulled["lineage"], local["lineage"]);
    assert_eq!(pulled["resources"], local["resources"]);
    assert_eq!(pulled["serial"], local["serial"], "stored as it was");

    // An older serial of the same lineage is refused; another lineage too; --force replaces.
    let mut older = local.clone();
    older["serial"] = Value::from(0);
    std::fs::write(p.path().join("older.json"), older.to_string()).expect("written");
    let again = p.run(&["state", "push", "older.json"]);
    assert_eq!(again.code, 1, "{}", again.stderr);
    assert!(again.stderr.contains("newer state of the same lineage"), "{}", again.stderr);
    let mut other = local.clone();
    other["lineage"] = Value::from("another-lineage");
    std::fs::write(p.path().join("other.json"), other.to_string()).expect("written");
    let foreign = p.run(&["state", "push", "other.json"]);
    assert_eq!(foreign.code, 1);
    assert!(foreign.stderr.contains("another lineage"), "{}", foreign.stderr);
    ok(&p.run(&["state", "push", "other.json", "--force"]));
    let pulled: Value = serde_json::from_str(&p.run(&["state", "pull"]).stdout).expect("JSON");
    assert_eq!(pulled["lineage"], "another-lineage");
}

#[test]
fn workspaces_in_one_schema_do_not_see_each_other() {
    let schema = Schema::new();
    let config = format!("{}{}", schema.block(), many_certificates(2));
    let p = Project::new(&config);
    ok(&p.run(&["--workspace", "staging", "apply", "--auto-approve"]));
    let production = p.run(&["--workspace", "production", "plan"]);
    assert!(production.stdout.contains("Plan: 2 to add"), "{}", production.stdout);
    let mut cmd = p.command(&["state", "list"]);
    cmd.env("CERTPLAN_WORKSPACE", "staging");
    assert_eq!(run(cmd).stdout.lines().count(), 2);
    assert_eq!(p.run(&["state", "list"]).stdout, "", "the default workspace is empty");
    let bad = p.run(&["--workspace", "no/slash", "plan"]);
    assert_eq!(bad.code, 1);
    assert!(bad.stderr.contains("invalid workspace name"), "{}", bad.stderr);
}

#[test]
fn the_local_backend_keeps_other_workspaces_beside_the_default_state() {
    let p = Project::new(&many_certificates(1));
    ok(&p.run(&["--workspace", "staging", "apply", "--auto-approve"]));
    assert!(p.path().join("certplan.state.d/staging.json").exists());
    assert!(!p.path().join("certplan.state.json").exists());
}

#[test]
fn the_database_password_is_never_shown_and_an_unreachable_database_is_named() {
    let config = "certplan {\n  backend \"pg\" {\n    conn_str = \"postgres://certplan:hunter2-secret@127.0.0.1:1/certs\"\n  }\n}\n";
    let p = Project::new(&format!("{config}{}", many_certificates(1)));
    let plan = p.run(&["plan"]);
    assert_eq!(plan.code, 1);
    assert!(!plan.stderr.contains("hunter2"), "{}", plan.stderr);
    assert!(plan.stderr.contains("127.0.0.1:1"), "names where: {}", plan.stderr);
    let missing =
        Project::new(&format!("certplan {{\n  backend \"pg\" {{}}\n}}\n{}", many_certificates(1)));
    let plan = missing.run(&["plan"]);
    assert_eq!(plan.code, 1);
    assert!(plan.stderr.contains("PG_CONN_STR"), "{}", plan.stderr);
}
