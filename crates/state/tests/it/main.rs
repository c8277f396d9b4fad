//! The local backend against the contract every state backend keeps (certplan-test-support's
//! `contract`, which the pg backend's tests run too), with real files.

use certplan_state::LocalStore;

#[test]
fn the_local_backend_keeps_the_backend_contract() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("certplan.state.json");
    certplan_test_support::contract::all(&|workspace| {
        Box::new(LocalStore::for_workspace(&path, workspace))
    });
}
