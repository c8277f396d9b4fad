//! The [`StateStore`] trait: where state is kept, seen from the commands, the planner and the
//! apply engine.
//!
//! Only the contract lives here — lock, load, save with a check for other writers; the local
//! file is one implementation (`local`), and a remote backend would be another.

use crate::{State, StateError, StateLock};

/// trait, so neither the planner nor the apply engine knows where state lives.
pub trait StateStore {
    /// Names the store for messages, e.g. the file path.
    fn describe(&self) -> String;

    /// Takes the exclusive lock every writer holds for its whole run, waiting up to `timeout`.
    fn lock(&self, operation: &str, timeout: std::time::Duration) -> Result<StateLock, StateError>;

    /// Loads the state; `None` when none has been saved yet. Remembers its lineage and serial,
    /// so that a save can tell whether another writer has been at it since.
    fn load(&mut self) -> Result<Option<State>, StateError>;

    /// Saves `state` as the next serial (incrementing `state.serial`), unless the stored state
    /// is no longer the one loaded or last saved.
    fn save(&mut self, state: &mut State) -> Result<(), StateError>;
}
