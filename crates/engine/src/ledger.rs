//! The state and its store, shared by changes running at once.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

use certplan_state::{State, StateError, StateStore};

/// A write returns once its change is saved; changes made at the same moment share one save
/// (group commit), so that the cost of rewriting a large state is paid once per batch, not once
/// per change.
pub(crate) struct Ledger<'a> {
    inner: Mutex<LedgerInner<'a>>,
    /// One lock per domain, held from intent to record: two applications for the same domain
    /// never overlap, so looking for a lost response's certificate cannot find the other's.
    domains: Mutex<BTreeMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

struct LedgerInner<'a> {
    state: &'a mut State,
    store: &'a mut dyn StateStore,
    /// How many changes were made, and how many of them are saved.
    made: u64,
    saved: u64,
}

impl<'a> Ledger<'a> {
    pub(crate) fn new(state: &'a mut State, store: &'a mut dyn StateStore) -> Self {
        Ledger {
            inner: Mutex::new(LedgerInner { state, store, made: 0, saved: 0 }),
            domains: Mutex::new(BTreeMap::new()),
        }
    }

    /// Returns the lock that serialises applications for `domain`.
    pub(crate) fn domain_lock(&self, domain: &str) -> Arc<tokio::sync::Mutex<()>> {
        let mut domains = self.domains.lock().unwrap_or_else(|p| p.into_inner());
        Arc::clone(domains.entry(domain.to_owned()).or_default())
    }

    /// Changes the state and returns once the change is saved.
    pub(crate) async fn write<T>(
        &self,
        change: impl FnOnce(&mut State) -> T,
    ) -> Result<T, StateError> {
        let (result, mine) = {
            let mut inner = self.lock();
            let result = change(inner.state);
            inner.made += 1;
            (result, inner.made)
        };
        // Let changes that are ready now join this save.
        tokio::task::yield_now().await;
        let mut inner = self.lock();
        if inner.saved < mine {
            let made = inner.made;
            let LedgerInner { state, store, .. } = &mut *inner;
            store.save(state)?;
            inner.saved = made;
        }
        Ok(result)
    }

    pub(crate) fn read<T>(&self, look: impl FnOnce(&State) -> T) -> T {
        look(self.lock().state)
    }

    fn lock(&self) -> MutexGuard<'_, LedgerInner<'a>> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }
}
