//! Around the state: the schema's version, the connection's errors (which never show the
//! password) and TLS.

use certplan_core::Sensitive;
use certplan_state::{StateError, StateStore};
use certplan_state_pg::{PgConfig, PgStore};

use super::{TestSchema, admin, no_env, state_with, test_url};

#[test]
fn a_schema_made_by_a_newer_certplan_is_refused_and_left_untouched() {
    let schema = TestSchema::new();
    let mut store = schema.store("default");
    store.load().expect("loads");
    store.save(&mut state_with(2)).expect("saved");
    schema.query("UPDATE {s}.certplan_schema SET version = 99 RETURNING 1");
    let snapshot = || {
        schema.query(
            "SELECT string_agg(table_name || ':' || column_name || ':' || data_type, ',' ORDER BY table_name, column_name)
             FROM information_schema.columns WHERE table_schema = '{n}'"
                .replace("{n}", &schema.name)
                .as_str(),
        )
    };
    let before = (snapshot(), schema.query("SELECT count(*) FROM {s}.resources"));

    let err = PgStore::connect(schema.config("default"), &no_env).expect_err("refused");
    let message = err.to_string();
    assert!(matches!(err, StateError::Backend { .. }), "{message}");
    assert!(message.contains("version 99") && message.contains("newer certplan"), "{message}");
    assert!(message.contains("Upgrade certplan"), "{message}");
    assert_eq!((snapshot(), schema.query("SELECT count(*) FROM {s}.resources")), before);
    assert_eq!(schema.query("SELECT version FROM {s}.certplan_schema"), ["99"]);
}

#[test]
fn a_new_schema_is_created_once_by_concurrent_first_runs() {
    let schema = TestSchema::new();
    let config = schema.config("default");
    let runs: Vec<_> = (0..4)
        .map(|_| {
            let config = config.clone();
            std::thread::spawn(move || PgStore::connect(config, &no_env).map(drop))
        })
        .collect();
    for run in runs {
        run.join().expect("joined").expect("each run finds the schema ready");
    }
    assert_eq!(schema.query("SELECT version FROM {s}.certplan_schema"), ["1"]);
}

#[test]
fn the_password_is_never_shown() {
    let schema = TestSchema::new();
    let with_password = |conn_str: &str| PgConfig {
        conn_str: Sensitive::new(conn_str),
        schema_name: schema.name.clone(),
        workspace: "default".into(),
    };
    // Nothing listens on port 1.
    for conn_str in [
        "postgres://certplan:hunter2-secret@127.0.0.1:1/test",
        "host=127.0.0.1 port=1 user=certplan password='hunter2-secret' dbname=test",
        "postgres://certplan:hunter2-secret@127.0.0.1:1/test?sslmode=bogus",
        "host=127.0.0.1 port=1 password hunter2-secret",
    ] {
        let err = PgStore::connect(with_password(conn_str), &no_env).expect_err("unreachable");
        let (message, debug) = (err.to_string(), format!("{err:?}"));
        assert!(!message.contains("hunter2") && !debug.contains("hunter2"), "{message}\n{debug}");
        assert!(message.contains("pg backend"), "{message}");
    }
    let err = PgStore::connect(
        with_password("postgres://certplan:hunter2-secret@127.0.0.1:1/test"),
        &no_env,
    )
    .expect_err("unreachable");
    let message = err.to_string();
    assert!(
        message.contains("cannot connect to 127.0.0.1:1")
            && message
                .contains("Is PostgreSQL running at 127.0.0.1:1? Check conn_str / PG_CONN_STR"),
        "{message}"
    );

    // The server here trusts every local user, so a password in the string connects.
    let url = test_url().replacen("postgres://postgres@", "postgres://postgres:hunter2-secret@", 1);
    let store = PgStore::connect(with_password(&url), &no_env).expect("connects");
    let (description, debug) = (store.describe(), format!("{store:?}"));
    // The database is whichever CERTPLAN_TEST_PG names; the password is never part of it.
    assert!(description.starts_with("pg backend postgres://postgres@"), "{description}");
    let names = format!("(schema {:?}, workspace \"default\")", schema.name);
    assert!(description.ends_with(&names), "{description}");
    assert!(!description.contains("hunter2"), "{description}");
    assert!(!debug.contains("hunter2"), "{debug}");
}

/// Returns whether the session `pid` uses TLS, as the server says.
fn uses_tls(pid: i32) -> bool {
    admin(move |c| Ok(c.query_one("SELECT ssl FROM pg_stat_ssl WHERE pid = $1", &[&pid])?.get(0)))
}

#[test]
fn sslmode_is_honoured_through_rustls() {
    let schema = TestSchema::new();
    let ssl_on = admin(|c| Ok(c.query_one("SHOW ssl", &[])?.get::<_, String>(0))) == "on";
    assert!(ssl_on, "the test server has TLS off; these tests need it on (ssl = on)");
    let with_mode = |mode: &str| {
        let mut config = schema.config("default");
        let sep = if test_url().contains('?') { '&' } else { '?' };
        config.conn_str = Sensitive::new(format!("{}{sep}sslmode={mode}", test_url()));
        PgStore::connect(config, &no_env)
    };
    for (mode, tls) in [("disable", false), ("prefer", true), ("require", true)] {
        let store = with_mode(mode).unwrap_or_else(|e| panic!("{mode}: {e}"));
        assert_eq!(uses_tls(store.backend_pid()), tls, "{mode}");
        assert!(!store.describe().contains("sslmode"));
    }
    // The server's certificate is self-signed: verifying it against the public roots fails,
    // and the message says what to do.
    for mode in ["verify-ca", "verify-full"] {
        let err = with_mode(mode).expect_err("not a publicly signed certificate");
        let message = err.to_string();
        assert!(message.contains("sslmode=require"), "{mode}: {message}");
    }
}
