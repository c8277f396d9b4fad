//! PostgreSQL for tests: the machine's own server (or `CERTPLAN_TEST_PG`), reached or failed
//! loudly — a test that needs it never skips — and schemas of a test's own.

/// Names another database for the tests than the machine's own.
pub const URL_VAR: &str = "CERTPLAN_TEST_PG";

/// Returns the URL of the test database: `CERTPLAN_TEST_PG`, else the machine's own.
pub fn url() -> String {
    std::env::var(URL_VAR).unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned())
}

/// Connects to the test database; panics saying how when PostgreSQL is not reachable. The
/// client is synchronous: call it outside an async runtime (or on a thread of its own).
pub fn connect() -> postgres::Client {
    let url = url();
    postgres::Client::connect(&url, postgres::NoTls).unwrap_or_else(|e| {
        let cause = std::error::Error::source(&e).map(|s| format!(" ({s})")).unwrap_or_default();
        panic!("PostgreSQL is not reachable at {url}: {e}{cause}; start it or set {URL_VAR}")
    })
}

/// Returns a schema name no other test uses, starting with `prefix`.
pub fn unique_schema(prefix: &str) -> String {
    format!("{prefix}_{}", uuid::Uuid::new_v4().simple())
}

/// Drops `schema` with everything in it, if the server can be reached.
pub fn drop_schema(schema: &str) {
    if let Ok(mut client) = postgres::Client::connect(&url(), postgres::NoTls) {
        let _ = client.batch_execute(&format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE"));
    }
}
