//! Nothing hangs: a server that never answers fails the connect within `connect_timeout`, and
//! a statement waiting on rows another session keeps locked fails after `lock_timeout` (or
//! `statement_timeout`), saying why.

use std::sync::mpsc;
use std::time::{Duration, Instant};

use certplan_core::Sensitive;
use certplan_state::{StateError, StateStore};
use certplan_state_pg::{PgStore, PgTimeouts};

use super::{TestSchema, address, no_env, record, state_with, test_url};

#[test]
fn a_server_that_accepts_and_never_answers_fails_the_connect_in_time() {
    let schema = TestSchema::new();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("address").port();
    // Accepts every connection and never says a word, as a proxy in front of a stopped
    // server may. (Left running: the test binary's exit ends it.)
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming() {
            held.push(stream);
        }
    });
    // TLS first (the server never answers the SSLRequest), and the startup message alone.
    for params in ["connect_timeout=1", "connect_timeout=1&sslmode=disable"] {
        let mut config = schema.config("default");
        config.conn_str =
            Sensitive::new(format!("postgres://certplan:hunter2@127.0.0.1:{port}/test?{params}"));
        let started = Instant::now();
        let err = PgStore::connect(config, &no_env).expect_err("no answer");
        let waited = started.elapsed();
        assert!(
            waited >= Duration::from_millis(900) && waited < Duration::from_secs(4),
            "{params}: {waited:?}"
        );
        assert!(matches!(err, StateError::Backend { .. }), "{err}");
        let message = err.to_string();
        let expected =
            format!("cannot connect to 127.0.0.1:{port}: the server did not answer within 1 s");
        assert!(message.contains(&expected), "{params}: {message}");
        assert!(message.contains("connect_timeout") && !message.contains("hunter2"), "{message}");
    }
}

/// Holds the row of `workspace` in `schema` locked (`SELECT … FOR UPDATE` in an open
/// transaction, as a psql session might) until the returned sender is dropped or sent to.
fn hold_row_lock(
    schema: &TestSchema,
    workspace: &str,
) -> (mpsc::Sender<()>, std::thread::JoinHandle<()>) {
    let sql = format!(
        "SELECT name FROM \"{}\".workspaces WHERE name = '{workspace}' FOR UPDATE",
        schema.name
    );
    let (locked, is_locked) = mpsc::channel();
    let (release, released) = mpsc::channel::<()>();
    let holder = std::thread::spawn(move || {
        let mut client = postgres::Client::connect(&test_url(), postgres::NoTls).expect("connects");
        let mut tx = client.transaction().expect("begins");
        assert_eq!(tx.query(&sql, &[]).expect("locks the row").len(), 1);
        locked.send(()).expect("told");
        let _ = released.recv();
        tx.rollback().expect("released");
    });
    is_locked.recv().expect("the row is locked");
    (release, holder)
}

#[test]
fn a_save_waiting_on_rows_another_session_keeps_locked_fails_after_the_timeout() {
    let schema = TestSchema::new();
    let short = |lock: u64, statement: u64| PgTimeouts {
        lock: Duration::from_secs(lock),
        statement: Duration::from_secs(statement),
    };
    let connect = |timeouts| {
        PgStore::connect_with_timeouts(schema.config("default"), &no_env, timeouts)
            .expect("connects")
    };
    assert_eq!(
        PgTimeouts::default(),
        PgTimeouts { lock: Duration::from_secs(30), statement: Duration::from_secs(120) }
    );
    let mut store = connect(short(1, 10));
    store.load().expect("loads");
    let mut state = state_with(1);
    store.save(&mut state).expect("serial 1");
    // Another store, whose statement_timeout runs out before its lock_timeout.
    let mut other = connect(short(10, 1));
    let mut theirs = other.load().expect("loads").expect("present");

    let (release, holder) = hold_row_lock(&schema, "default");
    state.resources.insert(address(1), record(1));
    theirs.resources.insert(address(2), record(2));
    let cases: [(&mut PgStore, &mut certplan_state::State, &str); 2] =
        [(&mut store, &mut state, "55P03"), (&mut other, &mut theirs, "57014")];
    for (store, state, code) in cases {
        let started = Instant::now();
        let err = store.save(state).expect_err("the row stays locked");
        let waited = started.elapsed();
        assert!(
            waited >= Duration::from_millis(900) && waited < Duration::from_secs(5),
            "{code}: {waited:?}"
        );
        assert!(matches!(err, StateError::Backend { .. }), "{err}");
        let message = err.to_string();
        assert!(
            message.contains("another session holds row locks on the state for too long")
                && message.contains(code)
                && message.contains("pg_stat_activity"),
            "{message}"
        );
    }
    // A push takes the same row lock, and gives up the same way.
    let err = store.push(&state_with(3), true).expect_err("the row stays locked");
    assert!(err.to_string().contains("another session holds row locks"), "{err}");
    release.send(()).expect("release");
    holder.join().expect("the holder");

    assert_eq!(schema.store("default").load().expect("loads").map(|s| s.serial), Some(1));
    // The session outlived the timeouts: once the row is free, the same stores save.
    store.save(&mut state).expect("saved once the row is free");
    assert_eq!(state.serial, 2);
    other.load().expect("loads");
}
