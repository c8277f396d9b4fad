//! The [`StateStore`] trait: where state is kept, seen from the commands, the planner and the
//! apply engine.
//!
//! Only the contract lives here — lock, load, save with a check for other writers, push, and
//! the lock's inspection and forced release; the local file (`local`) and PostgreSQL (`pg`)
//! implement it.

use std::collections::BTreeSet;

use certplan_core::Address;

use crate::{LockInfo, State, StateError, StateLock};

/// Where state is kept, behind a trait, so neither the planner nor the apply engine knows where
/// state lives.
pub trait StateStore {
    /// Names the store for messages, e.g. the file path. Never holds a secret.
    fn describe(&self) -> String;

    /// Takes the exclusive lock every writer holds for its whole run, waiting up to `timeout`.
    fn lock(&self, operation: &str, timeout: std::time::Duration) -> Result<StateLock, StateError>;

    /// Loads the state; `None` when none has been saved yet. Remembers its lineage and serial,
    /// so that a save can tell whether another writer has been at it since.
    fn load(&mut self) -> Result<Option<State>, StateError>;

    /// Saves `state` as the next serial (incrementing `state.serial`), unless the stored state
    /// is no longer the one loaded or last saved: then [`StateError::Conflict`], after which
    /// the caller may load again and retry.
    fn save(&mut self, state: &mut State) -> Result<(), StateError>;

    /// [`save`](StateStore::save), told that only the resources at `touched` may differ from
    /// what this store last loaded or saved; the deposed certificates, intents, outputs and
    /// cloud are compared whole (they are small). A store that writes differences then needs
    /// to look at those records only, so that a save costs the same at 50 resources and at
    /// 50 000. A caller that cannot tell what it touched calls `save`. The default saves all.
    fn save_touched(
        &mut self,
        state: &mut State,
        touched: &BTreeSet<Address>,
    ) -> Result<(), StateError> {
        let _ = touched;
        self.save(state)
    }

    /// Returns whether another process holds the lock now (and who, when the store knows),
    /// without taking it: for readers that must not mistake a live run's work for an
    /// interrupted one's. The default knows of no lock.
    fn live_holder(&self) -> Option<Option<LockInfo>> {
        None
    }

    /// Releases a lock that a holder left behind, returning who held it (`None`: nobody).
    /// The default has no lock to release.
    fn force_unlock(&self) -> Result<Option<LockInfo>, StateError> {
        Ok(None)
    }

    /// Stores `state` whole in place of what the store holds (`certplan state push`): refused
    /// when the store holds a state of another lineage, or of the same lineage and a higher
    /// serial, unless `force`. Over an existing state it is saved as a serial newer than both;
    /// into an empty store, as it is.
    fn push(&mut self, state: &State, force: bool) -> Result<(), StateError> {
        let current = self.load()?;
        let mut pushed = state.clone();
        if let Some(current) = &current {
            if !force && let Some(why) = push_refusal(current, state) {
                return Err(StateError::PushRefused { store: self.describe(), why });
            }
            // `save` increments it past both.
            pushed.serial = pushed.serial.max(current.serial);
        } else {
            pushed.serial = pushed.serial.saturating_sub(1);
        }
        self.save(&mut pushed)
    }
}

/// Says why pushing `pushed` over `current` would lose something, if it would.
pub(crate) fn push_refusal(current: &State, pushed: &State) -> Option<String> {
    push_refusal_of((&current.lineage, current.serial), (&pushed.lineage, pushed.serial))
}

/// [`push_refusal`], knowing only the (lineage, serial) of each state.
pub(crate) fn push_refusal_of(current: (&str, u64), pushed: (&str, u64)) -> Option<String> {
    let ((lineage, serial), (pushed_lineage, pushed_serial)) = (current, pushed);
    if lineage != pushed_lineage {
        Some(format!(
            "a state of another lineage ({lineage}; the pushed state's is {pushed_lineage})"
        ))
    } else if serial > pushed_serial {
        Some(format!(
            "a newer state of the same lineage (serial {serial}; the pushed state's is {pushed_serial})"
        ))
    } else {
        None
    }
}
