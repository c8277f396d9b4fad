//! `run_hook` with the real `sh`: environment, output, exit statuses, timeouts that kill
//! what the hook started, and daemons a hook that finished in time left running.

use std::path::Path;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use certplan_export::{
    Hook, HookEnv, HookError, HookStatus, HookStream, SECRET_ENV, hook_env, run_hook,
};

use crate::support::not_after;

/// The lines a hook printed, with when each arrived.
#[derive(Default)]
struct Seen(Mutex<Vec<(HookStream, String, Instant)>>);

impl Seen {
    fn record(&self, stream: HookStream, line: &str) {
        self.0.lock().expect("not poisoned").push((stream, line.to_owned(), Instant::now()));
    }

    fn lines(&self) -> Vec<(HookStream, String)> {
        let seen = self.0.lock().expect("not poisoned");
        seen.iter().map(|(s, l, _)| (*s, l.clone())).collect()
    }
}

async fn run(command: &str, timeout: Duration, seen: &Seen) -> Result<(), HookError> {
    let dir = std::env::temp_dir();
    let hook = Hook { command, dir: &dir, timeout, env_remove: &[], env: Vec::new() };
    run_hook(&hook, &|stream, line| seen.record(stream, line)).await
}

/// A process the hook left running, killed when the test ends however it ends.
struct Daemon(String);

impl Daemon {
    /// Tells whether it still runs, as `kill -0` sees it.
    fn alive(&self) -> bool {
        std::process::Command::new("kill")
            .args(["-0", &self.0])
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|status| status.success())
            && !gone(&self.0)
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = std::process::Command::new("kill")
            .arg(&self.0)
            .stderr(std::process::Stdio::null())
            .status();
    }
}

/// Tells whether the process `pid` is gone (or a zombie waiting to be reaped).
fn gone(pid: &str) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => {
            stat.rsplit_once(')').is_some_and(|(_, rest)| rest.trim_start().starts_with('Z'))
        }
    }
}

#[test]
fn hook_env_names_every_variable_once() {
    let env = hook_env(&HookEnv {
        address: "tencentcloud_ssl_free_certificate.www",
        domain: "www.example.com",
        certificate_id: "new1",
        old_certificate_id: None,
        export_path: Path::new("/etc/nginx/certs/www"),
        not_after: not_after(),
    });
    let env: Vec<(&str, &str)> = env.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
    assert_eq!(
        env,
        [
            ("CERTPLAN_ADDRESS", "tencentcloud_ssl_free_certificate.www"),
            ("CERTPLAN_DOMAIN", "www.example.com"),
            ("CERTPLAN_CERTIFICATE_ID", "new1"),
            ("CERTPLAN_OLD_CERTIFICATE_ID", ""),
            ("CERTPLAN_EXPORT_PATH", "/etc/nginx/certs/www"),
            ("CERTPLAN_NOT_AFTER", "2030-01-01T00:00:00Z"),
            ("RENEWED_LINEAGE", "/etc/nginx/certs/www"),
            ("RENEWED_DOMAINS", "www.example.com"),
        ]
    );
}

#[tokio::test]
async fn the_hook_sees_its_variables_and_its_output_is_passed_on_by_stream() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let env = hook_env(&HookEnv {
        address: "tencentcloud_ssl_free_certificate.www",
        domain: "www.example.com",
        certificate_id: "new1",
        old_certificate_id: Some("old1"),
        export_path: Path::new("/etc/nginx/certs/www"),
        not_after: not_after(),
    });
    let hook = Hook {
        command: "echo \"$CERTPLAN_DOMAIN $CERTPLAN_OLD_CERTIFICATE_ID $RENEWED_LINEAGE\"; \
                  echo warning >&2; pwd; printf 'no newline'",
        dir: tmp.path(),
        timeout: Duration::from_secs(10),
        env_remove: SECRET_ENV,
        env,
    };
    let seen = Seen::default();
    run_hook(&hook, &|stream, line| seen.record(stream, line)).await.expect("succeeded");
    let lines = seen.lines();
    let dir = tmp.path().canonicalize().expect("canonical");
    let stdout: Vec<&str> =
        lines.iter().filter(|(s, _)| *s == HookStream::Stdout).map(|(_, l)| l.as_str()).collect();
    assert_eq!(
        stdout,
        ["www.example.com old1 /etc/nginx/certs/www", &dir.to_string_lossy(), "no newline"]
    );
    assert!(lines.contains(&(HookStream::Stderr, "warning".to_owned())), "{lines:?}");
}

#[tokio::test]
async fn lines_arrive_while_the_hook_still_runs() {
    let seen = Seen::default();
    run("echo first; sleep 1; echo second", Duration::from_secs(10), &seen)
        .await
        .expect("succeeded");
    let seen = seen.0.into_inner().expect("not poisoned");
    assert_eq!(seen.len(), 2);
    assert!(seen[1].2 - seen[0].2 >= Duration::from_millis(700), "first came with second");
}

#[tokio::test]
async fn exit_statuses_are_reported_as_a_user_reads_them() {
    let seen = Seen::default();
    let err = run("echo failing >&2; exit 3", Duration::from_secs(10), &seen).await.expect_err("3");
    assert!(matches!(err, HookError::Failed { status: HookStatus::Code(3) }), "{err}");
    assert_eq!(err.to_string(), "exited with status 3");
    assert_eq!(seen.lines(), [(HookStream::Stderr, "failing".to_owned())]);

    let err = run("kill -9 $$", Duration::from_secs(10), &seen).await.expect_err("killed");
    assert_eq!(err.to_string(), "was killed by signal 9");

    let hook = Hook {
        command: "true",
        dir: Path::new("/nonexistent/certplan"),
        timeout: Duration::from_secs(10),
        env_remove: &[],
        env: Vec::new(),
    };
    let err = run_hook(&hook, &|_, _| {}).await.expect_err("no such directory");
    assert!(matches!(err, HookError::NotStarted { .. }), "{err}");
}

#[tokio::test]
async fn a_timeout_kills_the_hook_and_what_it_started() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let pidfile = tmp.path().join("pid");
    let command = format!("sleep 30 & echo $! > {}; wait", pidfile.display());
    let seen = Seen::default();
    let started = Instant::now();
    let err = run(&command, Duration::from_secs(1), &seen).await.expect_err("timed out");
    assert!(matches!(err, HookError::TimedOut { .. }), "{err}");
    assert_eq!(err.to_string(), "timed out after 1s and was killed");
    assert!(started.elapsed() < Duration::from_secs(5), "took {:?}", started.elapsed());

    let pid = std::fs::read_to_string(&pidfile).expect("the hook started its child");
    let pid = pid.trim();
    let deadline = Instant::now() + Duration::from_secs(2);
    while !gone(pid) && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(gone(pid), "the hook's background sleep {pid} survived");
}

#[tokio::test]
async fn a_hook_ignoring_sigterm_is_killed() {
    let seen = Seen::default();
    let started = Instant::now();
    let err = run("trap '' TERM; echo started; sleep 30", Duration::from_secs(1), &seen)
        .await
        .expect_err("timed out");
    assert!(matches!(err, HookError::TimedOut { .. }), "{err}");
    let took = started.elapsed();
    // One second of timeout, then the SIGTERM grace: the SIGKILL is what ended it.
    assert!(took >= Duration::from_secs(3) && took < Duration::from_secs(7), "took {took:?}");
    assert_eq!(seen.lines(), [(HookStream::Stdout, "started".to_owned())]);
}

#[test]
fn the_hook_future_can_be_spawned() {
    fn assert_send<T: Send>(_: &T) {}
    let dir = std::env::temp_dir();
    let hook = Hook {
        command: "true",
        dir: &dir,
        timeout: Duration::from_secs(1),
        env_remove: SECRET_ENV,
        env: vec![],
    };
    let on_line = |_: HookStream, _: &str| {};
    assert_send(&run_hook(&hook, &on_line));
}

#[tokio::test]
async fn a_hook_that_started_a_daemon_holding_its_output_ends_with_its_shell() {
    let seen = Seen::default();
    let started = Instant::now();
    let outcome = run("echo a; sleep 30 & echo $!; echo b", Duration::from_secs(5), &seen).await;
    let took = started.elapsed();
    let lines = seen.lines();
    let daemon = lines.get(1).map(|(_, pid)| Daemon(pid.clone()));
    outcome.expect("the shell exited 0: the hook succeeded");
    assert!(took < Duration::from_secs(2), "waited for the daemon: took {took:?}");
    let daemon = daemon.expect("the hook printed its daemon's pid");
    assert_eq!(
        lines,
        [
            (HookStream::Stdout, "a".to_owned()),
            (HookStream::Stdout, daemon.0.clone()),
            (HookStream::Stdout, "b".to_owned()),
        ]
    );
    assert!(daemon.alive(), "the daemon {} the hook started was killed", daemon.0);
}

#[tokio::test]
async fn output_that_follows_the_shell_exit_is_collected_for_a_moment() {
    let seen = Seen::default();
    // The subshell becomes the `sleep`, which keeps the pipes open.
    let command = "(sleep 0.1; echo late; printf unfinished; exec sleep 30) & echo $!";
    let outcome = run(command, Duration::from_secs(5), &seen).await;
    let lines = seen.lines();
    let _daemon = lines.first().map(|(_, pid)| Daemon(pid.clone()));
    outcome.expect("succeeded");
    let lines: Vec<&str> = lines.iter().skip(1).map(|(_, l)| l.as_str()).collect();
    assert_eq!(lines, ["late", "unfinished"]);
}

#[tokio::test]
async fn names_in_env_remove_are_not_inherited_but_env_still_sets_them() {
    let dir = std::env::temp_dir();
    let seen = Seen::default();
    let mut hook = Hook {
        command: "echo \"[$HOME]\"",
        dir: &dir,
        timeout: Duration::from_secs(10),
        env_remove: &[],
        env: Vec::new(),
    };
    run_hook(&hook, &|stream, line| seen.record(stream, line)).await.expect("succeeded");
    assert_ne!(seen.lines()[0].1, "[]", "HOME is set in the test's environment: inherited");

    let seen = Seen::default();
    hook.env_remove = &["HOME"];
    run_hook(&hook, &|stream, line| seen.record(stream, line)).await.expect("succeeded");
    assert_eq!(seen.lines(), [(HookStream::Stdout, "[]".to_owned())]);

    // Removed first, then added: env_remove does not undo what the hook is meant to see.
    let seen = Seen::default();
    hook.env = vec![("HOME".to_owned(), "/set/by/env".to_owned())];
    run_hook(&hook, &|stream, line| seen.record(stream, line)).await.expect("succeeded");
    assert_eq!(seen.lines(), [(HookStream::Stdout, "[/set/by/env]".to_owned())]);
}

#[test]
fn secret_env_names_the_credentials_and_the_database_password() {
    for name in [
        "TENCENTCLOUD_SECRET_ID",
        "TENCENTCLOUD_SECRET_KEY",
        "TENCENTCLOUD_SECURITY_TOKEN",
        "PGPASSWORD",
        "PG_CONN_STR",
    ] {
        assert!(SECRET_ENV.contains(&name), "{name} is not in SECRET_ENV");
    }
    assert_eq!(SECRET_ENV.len(), 5);
}
