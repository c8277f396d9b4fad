//! The contract every state backend keeps, as Terraform runs its backend tests (states, locks,
//! force-unlock) against each backend: each backend's own tests call these functions with a
//! way to open its store for a workspace, and a new backend is done when they all pass.
//!
//! Each function uses workspaces of its own name, so that they can share one store location.

use std::time::Duration;

use certplan_state::{State, StateError, StateStore, StoredOutput};

/// Opens the backend's store for a workspace: a new connection (or file handle) each call, as
/// two runs of certplan would have.
pub type Open<'a> = &'a dyn Fn(&str) -> Box<dyn StateStore>;

/// Runs the whole contract.
pub fn all(open: Open<'_>) {
    states_are_saved_and_read_back(open);
    a_save_over_another_writers_is_a_conflict(open);
    workspaces_do_not_see_each_other(open);
    a_lock_is_refused_naming_its_holder_until_released(open);
    force_unlock_never_ends_another_holder_than_the_one_named(open);
    a_push_never_overwrites_another_lineage(open);
}

/// A state with one output `name = value`, to tell states apart.
fn with_output(mut state: State, name: &str, value: &str) -> State {
    let value = StoredOutput { value: value.into(), sensitive: false };
    state.outputs.insert(name.to_owned(), value);
    state
}

fn output(state: &State, name: &str) -> Option<String> {
    state.outputs.get(name).and_then(|o| o.value.as_str()).map(str::to_owned)
}

/// Nothing is there before the first save; a save increments the serial and keeps the
/// lineage; another store reads back exactly what was saved.
pub fn states_are_saved_and_read_back(open: Open<'_>) {
    let mut store = open("contract-states");
    assert_eq!(store.load().expect("an empty store loads"), None, "{}", store.describe());
    let mut state = with_output(State::new(), "site", "www");
    let lineage = state.lineage.clone();
    store.save(&mut state).expect("the first save");
    assert_eq!(state.serial, 1, "the first save is serial 1");
    let mut state = with_output(state, "site", "api");
    store.save(&mut state).expect("the second save");
    assert_eq!(state.serial, 2);

    let read = open("contract-states").load().expect("loads").expect("saved");
    assert_eq!((read.lineage.as_str(), read.serial), (lineage.as_str(), 2));
    assert_eq!(output(&read, "site").as_deref(), Some("api"));
    assert_eq!(read, state, "read back exactly as saved");
}

/// Two writers that loaded the same state: the second to save is refused as a conflict, saves
/// nothing, and succeeds once it has loaded what the first saved.
pub fn a_save_over_another_writers_is_a_conflict(open: Open<'_>) {
    let mut first = open("contract-conflict");
    let mut state = State::new();
    first.save(&mut state).expect("created");
    let mut second = open("contract-conflict");
    let mut theirs = second.load().expect("loads").expect("saved");
    let mut mine = with_output(first.load().expect("loads").expect("saved"), "by", "first");
    first.save(&mut mine).expect("the first writer saves");
    let mut late = with_output(theirs.clone(), "by", "second");
    let err = second.save(&mut late).expect_err("another writer saved since");
    assert!(matches!(err, StateError::Conflict { .. }), "{err}");
    let stored = open("contract-conflict").load().expect("loads").expect("saved");
    assert_eq!(output(&stored, "by").as_deref(), Some("first"), "the refused save wrote nothing");

    theirs = second.load().expect("loads again").expect("saved");
    let mut retried = with_output(theirs, "by", "second");
    second.save(&mut retried).expect("saves once it has read the other's");
    let stored = open("contract-conflict").load().expect("loads").expect("saved");
    assert_eq!(output(&stored, "by").as_deref(), Some("second"));
}

/// Each workspace has a state of its own.
pub fn workspaces_do_not_see_each_other(open: Open<'_>) {
    let mut prod = open("contract-prod");
    prod.save(&mut with_output(State::new(), "env", "prod")).expect("saved");
    let mut staging = open("contract-staging");
    assert_eq!(staging.load().expect("loads"), None, "a new workspace is empty");
    staging.save(&mut with_output(State::new(), "env", "staging")).expect("saved");
    let read = |name| open(name).load().expect("loads").expect("saved");
    assert_eq!(output(&read("contract-prod"), "env").as_deref(), Some("prod"));
    assert_eq!(output(&read("contract-staging"), "env").as_deref(), Some("staging"));
}

/// A second writer is refused the lock, told who holds it, while the first holds it; it gets
/// the lock once the first lets go.
pub fn a_lock_is_refused_naming_its_holder_until_released(open: Open<'_>) {
    let (first, second) = (open("contract-lock"), open("contract-lock"));
    let held = first.lock("apply", Duration::ZERO).expect("free");
    let err = second.lock("plan", Duration::from_millis(200)).expect_err("held");
    match &err {
        StateError::Locked { holder: Some(holder), .. } => {
            assert_eq!(holder.operation, "apply", "{err}");
            assert_eq!(holder.pid, std::process::id(), "{err}");
        }
        other => panic!("expected the lock refused naming its holder, got: {other}"),
    }
    assert!(err.to_string().contains("certplan apply"), "{err}");
    drop(held);
    let _again = second.lock("plan", Duration::ZERO).expect("free once released");
}

/// Force-unlock with the id of a lock that is no longer the one held (a stuck run's, after
/// another run took the lock) changes nothing, and says who holds it now.
pub fn force_unlock_never_ends_another_holder_than_the_one_named(open: Open<'_>) {
    let holder = open("contract-unlock");
    let _held = holder.lock("apply", Duration::ZERO).expect("free");
    let err = open("contract-unlock").force_unlock("999999999").expect_err("another holder");
    assert!(matches!(err, StateError::LockIdMismatch { .. }), "{err}");
    assert!(err.to_string().contains("certplan apply"), "names the holder: {err}");
    let still = open("contract-unlock").lock("plan", Duration::ZERO);
    assert!(still.is_err(), "the holder keeps its lock");
}

/// `state push` refuses a state of another lineage over a stored one, and writes nothing.
pub fn a_push_never_overwrites_another_lineage(open: Open<'_>) {
    let mut store = open("contract-push");
    let mut ours = with_output(State::new(), "whose", "ours");
    store.save(&mut ours).expect("saved");
    let theirs = with_output(State::new(), "whose", "theirs");
    let err = open("contract-push").push(&theirs, false).expect_err("another lineage");
    assert!(err.to_string().contains("lineage"), "{err}");
    let stored = open("contract-push").load().expect("loads").expect("saved");
    assert_eq!(stored, ours, "nothing was written");
    open("contract-push").push(&ours, false).expect("the same state again is no change");
}
