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

    /// Releases the lock whose id is `lock_id` ([`LockInfo::lock_id`], as a refused lock's
    /// message shows it), returning who held it (`None`: nobody). Refused with
    /// [`StateError::LockIdMismatch`], changing nothing, when the lock is held by another
    /// holder than the one named: a run that took the lock after the stuck one is never ended
    /// by mistake. What a dead holder left behind is cleared whatever its id: it blocks no
    /// one. The default has no lock to release.
    fn force_unlock(&self, lock_id: &str) -> Result<Option<LockInfo>, StateError> {
        let _ = lock_id;
        Ok(None)
    }

    /// Stores `state` whole in place of what the store holds (`certplan state push`): refused
    /// when the store holds a state of another lineage, of the same lineage and a higher
    /// serial, or of the same lineage and serial but other content (two copies changed
    /// apart), unless `force`. Over an existing state it is saved as a serial newer than both;
    /// into an empty store, as it is; over the very same state (a push repeated), nothing is
    /// written.
    fn push(&mut self, state: &State, force: bool) -> Result<(), StateError> {
        let current = self.load()?;
        let mut pushed = state.clone();
        if let Some(current) = &current {
            if !force && let Some(why) = push_refusal(current, state) {
                return Err(StateError::PushRefused { store: self.describe(), why });
            }
            if (current.lineage.as_str(), current.serial) == (state.lineage.as_str(), state.serial)
                && same_records(current, state)
            {
                // Already stored: readers keep the serial they have, and their next save works.
                return Ok(());
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
    let (stored, pushing) =
        ((&*current.lineage, current.serial), (&*pushed.lineage, pushed.serial));
    push_refusal_of(stored, pushing).or_else(|| {
        (stored == pushing && !same_records(current, pushed)).then(|| diverged(current.serial))
    })
}

/// Says why a push of the same lineage and serial as the stored state's, but of other
/// content, is refused: it is a copy changed apart from the stored one, and one of them
/// would lose its records.
pub fn diverged(serial: u64) -> String {
    format!(
        "a different state with the same lineage and serial (serial {serial}; the two copies were changed apart)"
    )
}

/// Returns whether `a` and `b` record the same: everything but the serial and the version of
/// certplan that wrote them. (Spelled out, so that a field added to [`State`] must be
/// placed on one side or the other.)
pub fn same_records(a: &State, b: &State) -> bool {
    let State {
        format_version: _,
        lineage,
        serial: _,
        certplan_version: _,
        resources,
        deposed,
        intents,
        outputs,
        clouds,
    } = a;
    (lineage, resources, deposed, intents, outputs, clouds)
        == (&b.lineage, &b.resources, &b.deposed, &b.intents, &b.outputs, &b.clouds)
}

/// The first half of [`push_refusal`], knowing only the (lineage, serial) of each state: the
/// caller compares the content when they are equal.
pub fn push_refusal_of(current: (&str, u64), pushed: (&str, u64)) -> Option<String> {
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
