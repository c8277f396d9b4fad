//! The workspace lock: refused naming its holder, waited for, kept apart per schema and
//! workspace, and released by the server when its holder's session or process dies.

use std::time::{Duration, Instant};

use certplan_state::{StateError, StateStore};

use super::{TestSchema, address, admin, record};

fn holder_of(err: &StateError) -> certplan_state::LockInfo {
    match err {
        StateError::Locked { holder: Some(holder), .. } => (**holder).clone(),
        other => panic!("expected a lock held by a named holder, got: {other}"),
    }
}

#[test]
fn a_held_lock_is_refused_naming_its_holder_and_granted_once_released() {
    let schema = TestSchema::new();
    let (first, second) = (schema.store("default"), schema.store("default"));
    let held = first.lock("apply", Duration::ZERO).expect("free");
    let err = second.lock("plan", Duration::ZERO).expect_err("held");
    let holder = holder_of(&err);
    assert_eq!((holder.operation.as_str(), holder.pid), ("apply", std::process::id()));
    assert_eq!(holder.backend_pid, Some(first.backend_pid()));
    let message = err.to_string();
    assert!(message.contains("is locked by") && message.contains("certplan apply"), "{message}");
    // The store named as it describes itself (whatever database CERTPLAN_TEST_PG names).
    assert!(message.contains(&format!("state {} is locked", second.describe())), "{message}");
    let id = format!("(lock id {})", first.backend_pid());
    assert!(message.contains(&id), "the id force-unlock takes: {message}");
    assert_eq!(holder.lock_id(), first.backend_pid().to_string());
    assert_eq!(second.live_holder().map(|h| h.map(|h| h.operation)), Some(Some("apply".into())));
    assert_eq!(first.live_holder(), None, "its own session is not another");
    assert!(first.lock("again", Duration::ZERO).is_err(), "not taken twice by one store");

    drop(held);
    assert_eq!(second.live_holder(), None);
    assert_eq!(schema.count("SELECT count(*) FROM {s}.locks"), 0, "the holder row went with it");
    let _again = second.lock("plan", Duration::ZERO).expect("released");
}

#[test]
fn a_waiting_lock_is_granted_when_the_holder_lets_go_and_refused_when_it_does_not() {
    let schema = TestSchema::new();
    let (first, second) = (schema.store("default"), schema.store("default"));
    let held = first.lock("apply", Duration::ZERO).expect("free");
    let started = Instant::now();
    assert!(second.lock("apply", Duration::from_millis(300)).is_err());
    assert!(started.elapsed() >= Duration::from_millis(300), "waited the timeout out");

    let releaser = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(500));
        drop(held);
    });
    let started = Instant::now();
    let _lock = second.lock("apply", Duration::from_secs(10)).expect("granted on release");
    let waited = started.elapsed();
    assert!(waited >= Duration::from_millis(400) && waited < Duration::from_secs(5), "{waited:?}");
    releaser.join().expect("released");
}

#[test]
fn locks_are_apart_per_workspace_and_per_schema() {
    let (one, two) = (TestSchema::new(), TestSchema::new());
    let _a = one.store("default").lock("apply", Duration::ZERO).expect("free");
    let _b =
        two.store("default").lock("apply", Duration::ZERO).expect("another schema, same workspace");
    let _c =
        one.store("prod").lock("apply", Duration::ZERO).expect("another workspace, same schema");
    assert!(one.store("default").lock("apply", Duration::ZERO).is_err(), "the same one is held");
}

#[test]
fn a_terminated_session_releases_the_lock_and_its_run_stops_saving() {
    let schema = TestSchema::new();
    let mut holder = schema.store("default");
    let mut state = holder.load().expect("loads").unwrap_or_default();
    let _held = holder.lock("apply", Duration::ZERO).expect("free");
    let pid = holder.backend_pid();
    admin(move |c| c.execute("SELECT pg_terminate_backend($1)", &[&pid]).map(drop));

    let next = schema.store("default");
    let _lock = next.lock("apply", Duration::from_secs(5)).expect("released with the session");
    let row = schema.query("SELECT backend_pid FROM {s}.locks");
    assert_eq!(row, [next.backend_pid().to_string()], "the next holder's row");

    state.resources.insert(address(1), record(1));
    let err = holder.save(&mut state).expect_err("the session is gone");
    let message = err.to_string();
    assert!(matches!(err, StateError::Backend { .. }), "{message}");
    assert!(message.contains("connection to PostgreSQL was lost"), "{message}");
    assert!(message.contains("the next run reconciles"), "{message}");
    assert_eq!(schema.store("default").load().expect("loads"), None, "nothing recorded falsely");
}

/// The child process of the kill test: takes the lock of the schema it is given and waits
/// to be killed.
#[test]
#[ignore = "run by a_killed_holder_process_releases_the_lock_at_once"]
fn child_holding_the_lock() {
    let Ok(name) = std::env::var("CERTPLAN_TEST_CHILD_SCHEMA") else { return };
    let schema = super::TestSchema { name };
    let store = schema.store("default");
    let _held = store.lock("apply", Duration::ZERO).expect("free");
    std::thread::sleep(Duration::from_secs(120));
    // Never dropped normally: the parent kills this process.
    std::mem::forget(schema);
}

#[test]
fn a_killed_holder_process_releases_the_lock_at_once() {
    let schema = TestSchema::new();
    let store = schema.store("default");
    let mut child = std::process::Command::new(std::env::current_exe().expect("test binary"))
        .args(["--exact", "locking::child_holding_the_lock", "--ignored", "--nocapture"])
        .env("CERTPLAN_TEST_CHILD_SCHEMA", &schema.name)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("child");
    // The kill must land while the child holds the lock, or the test proves nothing.
    let deadline = Instant::now() + Duration::from_secs(30);
    let held = loop {
        if let Some(Some(holder)) = store.live_holder() {
            break holder;
        }
        assert!(Instant::now() < deadline, "the child never took the lock");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(held.pid, child.id(), "held by the child");
    child.kill().expect("SIGKILL");
    child.wait().expect("reaped");

    let started = Instant::now();
    let _lock = store.lock("apply", Duration::from_secs(5)).expect("released by the server");
    assert!(started.elapsed() < Duration::from_secs(3), "at once: {:?}", started.elapsed());
    let row = schema.query("SELECT (info->>'pid') || ' ' || backend_pid FROM {s}.locks");
    assert_eq!(
        row,
        [format!("{} {}", std::process::id(), store.backend_pid())],
        "the dead holder's row replaced"
    );
}

#[test]
fn force_unlock_ends_the_holding_session_and_clears_a_dead_holders_row() {
    let schema = TestSchema::new();
    let mut holder = schema.store("default");
    holder.load().expect("loads");
    let _held = holder.lock("apply", Duration::ZERO).expect("free");
    let other = schema.store("default");
    let id = holder.backend_pid().to_string();
    let released = other.force_unlock(&id).expect("forced").expect("it was held");
    assert_eq!(
        (released.operation.as_str(), released.backend_pid),
        ("apply", Some(holder.backend_pid()))
    );
    assert!(holder.save(&mut certplan_state::State::new()).is_err(), "the holder's session ended");
    assert_eq!(other.live_holder(), None);
    assert_eq!(schema.count("SELECT count(*) FROM {s}.locks"), 0);
    assert_eq!(other.force_unlock(&id).expect("nothing held"), None);

    // A row without a session — what a holder killed outright leaves — is cleared too,
    // whatever the id given: it blocks no one.
    schema.query(
        "INSERT INTO {s}.locks VALUES ('default', '{\"operation\":\"apply\",\"who\":\"ci\",\"host\":\"runner-3\",\"pid\":4242,\"since\":\"2026-01-01T00:00:00Z\"}', 1, now()) RETURNING 1",
    );
    let left = other.force_unlock("12345").expect("forced").expect("the row");
    assert_eq!((left.host.as_str(), left.pid, left.backend_pid), ("runner-3", 4242, Some(1)));
    assert_eq!(schema.count("SELECT count(*) FROM {s}.locks"), 0);
}

#[test]
fn force_unlock_never_ends_a_holder_other_than_the_one_named() {
    let schema = TestSchema::new();
    // The stuck run the user saw, gone by now; another run took the lock since.
    let stuck = schema.store("default");
    let stuck_id = stuck.backend_pid().to_string();
    drop(stuck);
    let mut healthy = schema.store("default");
    healthy.load().expect("loads");
    let _held = healthy.lock("apply", Duration::ZERO).expect("free");

    let err = schema.store("default").force_unlock(&stuck_id).expect_err("another holder");
    assert!(matches!(err, StateError::LockIdMismatch { .. }), "{err}");
    let message = err.to_string();
    let expected = format!(
        "(lock id {}), not {stuck_id}: run force-unlock again only if that one is stuck",
        healthy.backend_pid()
    );
    assert!(
        message.contains("the lock is now held by") && message.contains(&expected),
        "{message}"
    );
    assert!(message.contains("certplan apply"), "{message}");

    // The healthy run goes on, holding the lock and its row.
    let mut state = healthy.load().expect("loads").unwrap_or_default();
    state.resources.insert(address(1), record(1));
    healthy.save(&mut state).expect("still connected");
    let row = schema.query("SELECT backend_pid FROM {s}.locks");
    assert_eq!(row, [healthy.backend_pid().to_string()], "its row kept");
    let other = schema.store("default");
    assert_eq!(
        other.live_holder().flatten().and_then(|h| h.backend_pid),
        Some(healthy.backend_pid())
    );
}
