//! The pg backend against the real server, and what the tests share: a schema of their own,
//! stores on it, an administrator's connection, and states to save.

mod locking;
mod meta;
mod storage;
mod timeouts;

/// The contract every state backend keeps (certplan-test-support), against PostgreSQL.
#[test]
fn the_pg_backend_keeps_the_backend_contract() {
    let schema = TestSchema::new();
    certplan_test_support::contract::all(&|workspace| Box::new(schema.store(workspace)));
}

use std::collections::{BTreeMap, BTreeSet};

use certplan_core::{
    Address, CertStatus, CertificateArgs, DvAuthMethod, ExportRecord, ProviderRef, Sensitive,
};
use certplan_state::{Cloud, Deposed, Intent, IntentKind, ResourceState, State, StoredOutput};
use certplan_state_pg::{PgConfig, PgStore};

pub(crate) use certplan_test_support::pg::url as test_url;

/// Runs `f` on a fresh administrator's connection, on a thread of its own (the synchronous
/// client must not run inside a test's async runtime); panics saying so when PostgreSQL is
/// not reachable.
pub(crate) fn admin<T: Send + 'static>(
    f: impl FnOnce(&mut postgres::Client) -> Result<T, postgres::Error> + Send + 'static,
) -> T {
    std::thread::spawn(move || {
        let mut client = certplan_test_support::pg::connect();
        f(&mut client).expect("administrator's query")
    })
    .join()
    .unwrap_or_else(|e| std::panic::resume_unwind(e))
}

/// A schema for one test, dropped with everything in it when the test ends.
pub(crate) struct TestSchema {
    pub(crate) name: String,
}

impl TestSchema {
    pub(crate) fn new() -> Self {
        let name = certplan_test_support::pg::unique_schema("certplan_test");
        // Checks reachability first, so that a missing server fails every test clearly.
        admin(|c| c.simple_query("SELECT 1").map(drop));
        TestSchema { name }
    }

    pub(crate) fn config(&self, workspace: &str) -> PgConfig {
        PgConfig {
            conn_str: Sensitive::new(test_url()),
            schema_name: self.name.clone(),
            workspace: workspace.to_owned(),
        }
    }

    /// Connects a store to `workspace` of this schema.
    pub(crate) fn store(&self, workspace: &str) -> PgStore {
        PgStore::connect(self.config(workspace), &no_env).expect("connects")
    }

    /// Runs `sql` (with `{s}` for the quoted schema) as the administrator, returning the
    /// first column of each row as text.
    pub(crate) fn query(&self, sql: &str) -> Vec<String> {
        let sql = sql.replace("{s}", &format!("\"{}\"", self.name));
        admin(move |c| {
            let rows = c.simple_query(&sql)?;
            Ok(rows
                .into_iter()
                .filter_map(|m| match m {
                    postgres::SimpleQueryMessage::Row(r) => {
                        Some(r.get(0).unwrap_or("NULL").to_owned())
                    }
                    _ => None,
                })
                .collect())
        })
    }

    pub(crate) fn count(&self, sql: &str) -> usize {
        self.query(sql)[0].parse().expect("a count")
    }
}

impl Drop for TestSchema {
    fn drop(&mut self) {
        let name = self.name.clone();
        // On a thread of its own: the synchronous client must not run inside a test's runtime.
        let _ = std::thread::spawn(move || certplan_test_support::pg::drop_schema(&name)).join();
    }
}

/// An environment with nothing set: the tests' stores find no password anywhere.
pub(crate) fn no_env(_: &str) -> Option<String> {
    None
}

/// Returns a resource record, distinct per `i`.
pub(crate) fn record(i: usize) -> ResourceState {
    let mut args = CertificateArgs::new(format!("r{i}.example.com"), DvAuthMethod::DnsAuto);
    args.alias = Some(format!("alias {i}"));
    let applied_at = "2026-11-26T00:00:01.123456789Z".parse().expect("time");
    ResourceState {
        status: CertStatus::Issued,
        not_before: Some("2026-11-26T00:00:00Z".parse().expect("time")),
        not_after: Some("2027-02-24T00:00:00Z".parse().expect("time")),
        issued_expiry: Some("2027-02-24T00:00:00Z".parse().expect("time")),
        ..ResourceState::new(format!("id{i:06}").into(), args, applied_at)
    }
}

pub(crate) fn address(i: usize) -> Address {
    Address::certificate(format!("r{i}"))
}

/// Returns a state with `n` resources and nothing else.
pub(crate) fn state_with(n: usize) -> State {
    let mut state = State::new();
    for i in 0..n {
        state.resources.insert(address(i), record(i));
    }
    state
}

/// Returns a state with something in every part: resources of every shape, deposed
/// certificates, intents, outputs and the cloud.
pub(crate) fn rich_state() -> State {
    let mut state = state_with(3);
    let keyed =
        Address::certificate("site").instance(certplan_core::InstanceKey::Key("eu west.1".into()));
    let mut r = record(9);
    r.status = CertStatus::Pending;
    r.not_after = None;
    r.renewed_from = vec!["old2".into(), "old1".into()];
    r.prevent_destroy = true;
    r.sensitive = ["contact_phone".to_owned()].into();
    r.validation_failures = 2;
    r.succeeds = Some("old2".into());
    r.args.project_id = Some(7);
    r.args.csr_key_password_digest = Some("sha256:abc".into());
    r.exports = vec![ExportRecord {
        path: "/etc/ssl/site".into(),
        certificate_id: "old2".into(),
        fingerprint: "ab".repeat(32),
        files: BTreeMap::from([("cert.pem".to_owned(), "cd".repeat(32))]),
        written_at: "2026-12-01T08:00:00Z".parse().expect("time"),
        hook: None,
        replaced: Some("old1".into()),
    }];
    state.resources.insert(keyed.clone(), r);
    state.resources.insert(
        Address::certificate("list").instance(certplan_core::InstanceKey::Index(3)),
        record(4),
    );
    for (i, id) in ["dep1", "dep2"].into_iter().enumerate() {
        state.deposed.push(Deposed {
            address: address(i),
            certificate_id: id.into(),
            provider: Default::default(),
            since: "2026-11-27T00:00:00Z".parse().expect("time"),
            last_error: if i == 0 { String::new() } else { "FailedOperation: in use".into() },
        });
    }
    for (i, kind) in [IntentKind::Create, IntentKind::Replace].into_iter().enumerate() {
        state.intents.push(Intent {
            address: if i == 0 { address(100) } else { keyed.clone() },
            action: kind,
            args: record(100 + i).args,
            prevent_destroy: i == 1,
            sensitive: BTreeSet::new(),
            validation_failures: 1,
            old_certificate_id: (i == 1).then(|| "id000009".into()),
            old_provider: (i == 1).then(|| certplan_core::ProviderRef::aliased("prod")),
            supersedes: (i == 1).then(|| "id000009".into()),
            started_at: "2026-11-28T10:00:00.5Z".parse().expect("time"),
            replaces_because: (i == 1).then(|| "gone".to_owned()),
            order: (i == 1).then(|| "https://acme.example/order/1".to_owned()),
            retry_after: (i == 0).then(|| "2026-11-28T11:00:00Z".parse().expect("time")),
        });
    }
    state.outputs.insert(
        "ids".into(),
        StoredOutput {
            value: serde_json::json!({"b": [1, 2.5, null], "a": "x", "big": 12345678901234u64}),
            sensitive: false,
        },
    );
    state.outputs.insert("secret".into(), StoredOutput { value: "s3cret".into(), sensitive: true });
    // Two accounts, each provider's certificates bound to its own.
    let cloud = |account: &str| Cloud {
        endpoint: "https://ssl.tencentcloudapi.com".into(),
        sandbox: false,
        account: Some(account.into()),
        free_limit: None,
    };
    state.clouds.insert(ProviderRef::DEFAULT, cloud("100000000001"));
    state.clouds.insert(ProviderRef::aliased("prod"), cloud("100000000002"));
    state
}
