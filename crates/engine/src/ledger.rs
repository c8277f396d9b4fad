//! The state and its store, shared by the work of one run. Every change to state is a [`Step`]:
//! data, applied, saved, and kept. Steps made at the same moment share one save (group
//! commit), so that rewriting a large state is paid once per batch. When another writer saved
//! in between (a conflict: only possible with `--lock=false` or a broken lock), the run re-reads
//! the state, applies its own steps again and saves — it never abandons what it recorded. A run
//! that cannot save at all stops starting new work and names the certificates it created that
//! are not recorded.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use certplan_core::{Address, CertificateId};
use certplan_state::{State, StateError, StateStore};

use crate::step::Step;

/// How many times a save re-reads the state and applies the run's steps again when another
/// writer keeps saving in between (two runs saving after every step can take turns a while).
const MERGE_ATTEMPTS: usize = 20;

/// The state and its store, shared by changes running at once.
pub(crate) struct Ledger<'a> {
    inner: Mutex<Inner<'a>>,
    /// One lock per domain, held from intent to record: two applications for the same domain
    /// never overlap, so looking for a lost response's certificate cannot find the other's.
    domains: Mutex<BTreeMap<String, Arc<tokio::sync::Mutex<()>>>>,
    /// Set once a save failed: nothing more may be done that could not be recorded.
    broken: AtomicBool,
}

struct Inner<'a> {
    state: &'a mut State,
    /// `None` when nothing is to be saved (a plan settles intents in memory only).
    store: Option<&'a mut dyn StateStore>,
    /// Every step of this run, in order.
    steps: Vec<Step>,
    /// How many of `steps` are saved.
    saved: usize,
    /// Whether the run started without a state (its lineage is its own invention).
    fresh: bool,
}

impl<'a> Ledger<'a> {
    pub(crate) fn new(state: &'a mut State, store: Option<&'a mut dyn StateStore>) -> Self {
        Ledger {
            inner: Mutex::new(Inner {
                fresh: state.serial == 0,
                state,
                store,
                steps: Vec::new(),
                saved: 0,
            }),
            domains: Mutex::new(BTreeMap::new()),
            broken: AtomicBool::new(false),
        }
    }

    /// Returns the lock that serialises applications for `domain`.
    pub(crate) fn domain_lock(&self, domain: &str) -> Arc<tokio::sync::Mutex<()>> {
        let mut domains = self.domains.lock().unwrap_or_else(|p| p.into_inner());
        Arc::clone(domains.entry(domain.to_owned()).or_default())
    }

    /// Returns true once a save has failed.
    pub(crate) fn is_broken(&self) -> bool {
        self.broken.load(Ordering::SeqCst)
    }

    /// Applies `step` and returns once it is saved.
    pub(crate) async fn record(&self, step: Step) -> Result<(), StateError> {
        let mine = {
            let mut inner = self.lock();
            step.apply(inner.state);
            inner.steps.push(step);
            inner.steps.len()
        };
        // Let steps that are ready now join this save.
        tokio::task::yield_now().await;
        let mut inner = self.lock();
        if inner.saved >= mine {
            return Ok(());
        }
        match inner.save() {
            Ok(()) => Ok(()),
            Err(e) => {
                self.broken.store(true, Ordering::SeqCst);
                Err(e)
            }
        }
    }

    pub(crate) fn read<T>(&self, look: impl FnOnce(&State) -> T) -> T {
        look(self.lock().state)
    }

    /// The certificates this run created whose record is not saved: `(address, id)`.
    pub(crate) fn unrecorded(&self) -> Vec<(Address, CertificateId)> {
        let inner = self.lock();
        inner.steps[inner.saved..]
            .iter()
            .filter_map(|step| match step {
                Step::Adopt { intent, id, .. } => Some((intent.address.clone(), id.clone())),
                _ => None,
            })
            .collect()
    }

    fn lock(&self) -> MutexGuard<'_, Inner<'a>> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Inner<'_> {
    /// Saves every step so far; on a conflict, merges this run's steps into what the other
    /// writer saved and tries again.
    fn save(&mut self) -> Result<(), StateError> {
        let Some(store) = self.store.as_deref_mut() else {
            self.saved = self.steps.len();
            return Ok(());
        };
        // Only these resources can differ from what the store last saw: the steps since the
        // last save, or after a merge all of them. A store that writes differences looks at
        // nothing else, so that a save costs the same at 50 resources and at 50 000.
        let mut touched: BTreeSet<Address> =
            self.steps[self.saved..].iter().filter_map(Step::address).cloned().collect();
        let mut attempt = 0;
        loop {
            attempt += 1;
            match store.save_touched(self.state, &touched) {
                Ok(()) => {
                    self.saved = self.steps.len();
                    return Ok(());
                }
                Err(conflict @ StateError::Conflict { .. }) if attempt < MERGE_ATTEMPTS => {
                    tracing::warn!(
                        "{} was saved by another writer meanwhile; merging this run's changes into it",
                        store.describe()
                    );
                    // Only another version of the same state is merged into — or, for a run that
                    // started without one, the state another run created meanwhile. A state
                    // that is gone, or of another lineage, is not this one's to write over.
                    let theirs = match store.load()? {
                        Some(theirs) if self.fresh || theirs.lineage == self.state.lineage => {
                            theirs
                        }
                        _ => return Err(conflict),
                    };
                    *self.state = theirs;
                    for step in &self.steps {
                        step.apply(self.state);
                    }
                    touched = self.steps.iter().filter_map(Step::address).cloned().collect();
                }
                Err(e) => return Err(e),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use certplan_core::{CertificateArgs, DvAuthMethod};
    use certplan_state::{Intent, IntentKind, LocalStore};

    fn intent(name: &str) -> Intent {
        Intent {
            address: Address::certificate(name),
            action: IntentKind::Create,
            args: CertificateArgs::new(format!("{name}.example.com"), DvAuthMethod::DnsAuto),
            prevent_destroy: false,
            sensitive: Default::default(),
            validation_failures: 0,
            old_certificate_id: None,
            old_provider: None,
            supersedes: None,
            started_at: chrono::Utc::now(),
            replaces_because: None,
            order: None,
            retry_after: None,
        }
    }

    #[tokio::test]
    async fn racing_runs_keep_every_certificate_once_never_in_use_and_deposed() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("certplan.state.json");
        let www = Address::certificate("www");
        // Two runs load the same (empty) state; each applies for www; they save in turns.
        let (mut store_a, mut store_b) = (LocalStore::new(&path), LocalStore::new(&path));
        let mut state_a = store_a.load().expect("loads").unwrap_or_default();
        let mut state_b = store_b.load().expect("loads").unwrap_or_default();
        let (a, b) = (
            Ledger::new(&mut state_a, Some(&mut store_a)),
            Ledger::new(&mut state_b, Some(&mut store_b)),
        );
        let (intent_a, intent_b) = (intent("www"), intent("www"));
        a.record(Step::Journal(intent_a.clone())).await.expect("saved");
        b.record(Step::Journal(intent_b.clone())).await.expect("merged and saved");
        let adopt = |intent: &Intent, id: &str| Step::Adopt {
            intent: intent.clone(),
            id: id.into(),
            remote: None,
        };
        b.record(adopt(&intent_b, "theirs01")).await.expect("saved");
        a.record(adopt(&intent_a, "mine0001")).await.expect("merged and saved");
        let saved = LocalStore::new(&path).load().expect("loads").expect("saved");
        let deposed =
            |s: &State| s.deposed.iter().map(|d| d.certificate_id.clone()).collect::<Vec<_>>();
        assert_eq!(saved.resources[&www].certificate_id, "mine0001");
        assert_eq!(deposed(&saved), ["theirs01"], "theirs is kept, to be deleted");
        assert!(saved.intents.is_empty(), "{:?}", saved.intents);

        // The other run saves once more: its certificate takes the resource back, mine is kept
        // to be deleted, and none is both.
        b.record(Step::Journal(intent("api"))).await.expect("merged and saved");
        let saved = LocalStore::new(&path).load().expect("loads").expect("saved");
        assert_eq!(saved.resources[&www].certificate_id, "theirs01");
        assert_eq!(deposed(&saved), ["mine0001"]);
    }

    #[tokio::test]
    async fn settling_a_leftover_intent_keeps_what_another_run_recorded_meanwhile() {
        let www = Address::certificate("www");
        let mut state = State::new();
        // Another run recorded theirs01 for www; this run's intent, made before, is left over.
        let theirs = Step::Adopt { intent: intent("www"), id: "theirs01".into(), remote: None };
        theirs.apply(&mut state);
        let leftover = intent("www");
        Step::Adopt { intent: leftover, id: "mine0001".into(), remote: None }.apply(&mut state);
        assert_eq!(state.resources[&www].certificate_id, "mine0001");
        let deposed: Vec<&str> = state.deposed.iter().map(|d| d.certificate_id.as_str()).collect();
        assert_eq!(deposed, ["theirs01"], "kept, not dropped");

        // An intent that supersedes what is recorded (a renewal, a replacement of a revoked
        // certificate) takes its place without deposing it.
        let mut renewal = intent("www");
        renewal.supersedes = Some("mine0001".into());
        Step::Adopt { intent: renewal, id: "next0001".into(), remote: None }.apply(&mut state);
        assert_eq!(state.resources[&www].certificate_id, "next0001");
        assert_eq!(state.deposed.len(), 1);
    }

    #[test]
    fn replayed_steps_touch_only_the_certificate_they_name() {
        let www = Address::certificate("www");
        let mut state = State::new();
        Step::Adopt { intent: intent("www"), id: "mine0001".into(), remote: None }
            .apply(&mut state);
        // Another writer renewed www since: this run's alias change and delete of the old one
        // must not touch the renewal.
        let mut renewal = intent("www");
        renewal.supersedes = Some("mine0001".into());
        Step::Adopt { intent: renewal, id: "next0001".into(), remote: None }.apply(&mut state);
        let (id, alias) = (certplan_core::CertificateId::from("mine0001"), Some("site".to_owned()));
        Step::SetAlias { address: www.clone(), id: id.clone(), alias }.apply(&mut state);
        Step::Remove { address: www.clone(), id: Some(id) }.apply(&mut state);
        assert_eq!(state.resources[&www].certificate_id, "next0001");
        assert_eq!(state.resources[&www].args.alias, None);
    }

    #[test]
    fn replaying_an_adoption_leaves_the_record_as_it_is() {
        let www = Address::certificate("www");
        let mut state = State::new();
        let mut renewal = intent("www");
        renewal.action = IntentKind::Renew;
        renewal.old_certificate_id = Some("old00001".into());
        let adopted = Step::Adopt { intent: renewal, id: "new00001".into(), remote: None };
        adopted.apply(&mut state);
        adopted.apply(&mut state);
        assert_eq!(state.resources[&www].renewed_from, ["old00001"], "the chain is not doubled");
    }

    #[test]
    fn a_replacement_keeps_the_old_certificate_recorded_in_the_same_step() {
        let www = Address::certificate("www");
        let mut state = State::new();
        Step::Adopt { intent: intent("www"), id: "old00001".into(), remote: None }
            .apply(&mut state);
        let mut replacement = intent("www");
        replacement.action = IntentKind::Replace;
        replacement.old_certificate_id = Some("old00001".into());
        replacement.supersedes = Some("old00001".into());
        Step::Adopt { intent: replacement, id: "new00001".into(), remote: None }.apply(&mut state);
        assert_eq!(state.resources[&www].certificate_id, "new00001");
        let deposed: Vec<&str> = state.deposed.iter().map(|d| d.certificate_id.as_str()).collect();
        assert_eq!(deposed, ["old00001"], "deposed until its delete is recorded");
        Step::Deleted { id: "old00001".into() }.apply(&mut state);
        assert!(state.deposed.is_empty());
    }

    #[tokio::test]
    async fn a_state_that_disappeared_is_not_merged_into() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("certplan.state.json");
        let mut store = LocalStore::new(&path);
        let mut state = store.load().expect("loads").unwrap_or_default();
        let ledger = Ledger::new(&mut state, Some(&mut store));
        ledger.record(Step::Journal(intent("www"))).await.expect("saved");
        std::fs::remove_file(&path).expect("removed by something else");
        let err = ledger.record(Step::Journal(intent("api"))).await.expect_err("not merged");
        assert!(matches!(err, StateError::Conflict { .. }), "{err}");
        assert!(!path.exists(), "nothing written in its place");
    }
}
