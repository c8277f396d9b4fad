//! Executing a plan: the changes run concurrently, each non-idempotent call journaled first,
//! every step saved as it completes; then the waits for issuance the plan or caller asked for.

use std::collections::BTreeMap;
use std::time::Duration;

use certplan_core::{
    Action, Address, DeliveryWork, DriftKind, Observed, Plan, ProviderRef, Reason,
    RemoteCertificate, ResourceChange,
};
use certplan_provider::Accounts;
use certplan_state::{State, StateError, StateStore};
use futures_util::{StreamExt, stream};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::error::{ApplyError, ChangeError};
use crate::event::Event;
use crate::ledger::Ledger;
use crate::options::{ApplyOptions, Inputs};
use crate::queue::Queue;
use crate::report::Report;
use crate::run::{Done, Failure, Run};
use crate::step::record_observed;

/// Carries out `plan` against `state`, saving through `store` after every step:
///
/// 1. records what the plan was made from — the `moved` renames, what the refresh (`observed`)
///    read, and what is declared for each certificate (`prevent_destroy`, which arguments are
///    sensitive) — so that these hold even when nothing else changes;
/// 2. makes the plan's changes, up to `options.parallelism` at once in each account (a plan's
///    changes are independent); a failed change is reported and the others go on; once
///    `cancel` is cancelled no new change starts;
/// 3. waits for the issuance of new certificates that have a wait limit, unless stopped.
#[allow(clippy::too_many_arguments)]
pub async fn apply(
    plan: &Plan,
    inputs: &Inputs,
    observed: Option<&Observed>,
    state: &mut State,
    store: &mut dyn StateStore,
    accounts: &Accounts,
    cancel: &CancellationToken,
    options: ApplyOptions,
    on_event: &(dyn Fn(Event<'_>) + Sync),
) -> Result<Report, ApplyError> {
    record_plan_basis(plan, observed, state, store)?;
    let read_ahead = crate::import::read_ahead(plan, accounts).await;
    let ledger = Ledger::new(state, Some(store));
    let run =
        Run { plan, inputs, ledger: &ledger, accounts, cancel, options, on_event, read_ahead };
    let result = run.run().await;
    result.map_err(|error| ApplyError::State { error, unrecorded: ledger.unrecorded() })
}

impl Run<'_, '_> {
    /// Makes the plan's changes, then waits for issuance where asked, and delivers.
    async fn run(&self) -> Result<Report, StateError> {
        // Delivery runs beside the changes: a resource's starts once its certificate is ready.
        let (queue, released) = Queue::new(self.plan);
        let changes = async {
            let report = self.make_changes(&queue).await;
            queue.release_all();
            report
        };
        let (report, delivered) = tokio::join!(changes, self.deliver(released));
        let mut report = report?;
        report.delivery = delivered?;
        report.interrupted |= report.delivery.interrupted;
        Ok(report)
    }

    /// Makes the plan's changes, then waits for issuance where asked; releases each resource's
    /// delivery once its certificate is ready.
    async fn make_changes(&self, queue: &Queue) -> Result<Report, StateError> {
        let (plan, options) = (self.plan, self.options);
        // Resources whose certificate does not change deliver from the start, except those
        // whose certificate, pending since an earlier apply, this one waits for. An imported
        // one delivers once it is recorded.
        let already_pending = already_pending(plan, options);
        let ready = |c: &&ResourceChange| {
            !makes_certificate(c.action)
                && c.importing.is_none()
                && !already_pending.iter().any(|(address, _)| address == &c.address)
        };
        for change in plan.changes.iter().filter(ready) {
            queue.release(&change.address);
        }
        let mut report = self.execute(queue).await?;
        report.pending.extend(already_pending);
        let (waits, pending): (Vec<_>, Vec<_>) =
            std::mem::take(&mut report.pending).into_iter().partition(|(address, _)| {
                wait_limit(plan, options, address).is_some() && !self.cancel.is_cancelled()
            });
        report.pending = pending;
        if !waits.is_empty() {
            let waits = waits
                .into_iter()
                .filter_map(|(address, remote)| {
                    let limit = wait_limit(plan, options, &address)?;
                    Some((address, remote, limit))
                })
                .collect::<Vec<_>>();
            // The validation records certplan publishes for them, first: their delivery, which
            // publishes them too, waits for this wait.
            for (address, _, _) in &waits {
                for d in plan.delivery.iter().filter(|d| &d.address == address) {
                    if let DeliveryWork::PublishValidation { records } = &d.work
                        && let Err(e) = self.publish_validation(address, records).await
                    {
                        report.failed.push((address.clone(), ChangeError::Obtain(e)));
                    }
                }
            }
            let outcome = self.wait_for_issuance(waits).await?;
            report.failed.extend(outcome.failed);
            report.pending.extend(outcome.pending);
            report.issued.extend(outcome.issued);
            report.interrupted |= outcome.interrupted;
        }
        report.pending.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(report)
    }

    /// Makes every change of the plan — up to `parallelism` at once in each account, the
    /// accounts side by side, each at its own API limits — and returns what happened, without
    /// waiting for issuance; releases the delivery of each new certificate already issued.
    /// Once the run is cancelled, or a save failed, no new change starts.
    async fn execute(&self, queue: &Queue) -> Result<Report, StateError> {
        let mut by_account: BTreeMap<ProviderRef, Vec<&ResourceChange>> = BTreeMap::new();
        let changes =
            self.plan.changes.iter().filter(|c| c.action != Action::NoOp || c.importing.is_some());
        for change in changes {
            by_account.entry(self.account_of_change(change)).or_default().push(change);
        }
        let accounts = by_account.into_values().map(|changes| {
            stream::iter(changes)
                .map(|change| async move {
                    if self.stopping() {
                        return (change, None);
                    }
                    let outcome = self.run_change(change).await;
                    if matches!(&outcome, Ok(done) if done.pending.is_none()) {
                        queue.release(&change.address);
                    }
                    (change, Some(outcome))
                })
                .buffer_unordered(self.options.parallelism.max(1))
                .collect::<Vec<_>>()
        });
        let outcomes = futures_util::future::join_all(accounts).await.into_iter().flatten();
        summarise(outcomes.collect())
    }

    /// The account a change calls: where its new certificate is made, or its old one is
    /// (a deposed one's, as the state records it).
    fn account_of_change(&self, change: &ResourceChange) -> ProviderRef {
        let declared = change.after.as_ref().or(change.before.as_ref().map(|b| &b.args));
        match (declared, &change.deposed) {
            (Some(args), _) => args.provider.clone(),
            (None, Some(id)) => (self.ledger)
                .read(|s| {
                    s.deposed.iter().find(|d| d.certificate_id == *id).map(|d| d.provider.clone())
                })
                .unwrap_or_default(),
            (None, None) => ProviderRef::DEFAULT,
        }
    }

    /// Makes one change, reporting its start, its progress every `timing.progress`, and its
    /// end.
    async fn run_change(&self, change: &ResourceChange) -> Result<Done, Failure> {
        let (address, action, on_event) = (&change.address, change.action, self.on_event);
        // An import comes first, and says so itself (`Event::Imported`); the change follows it.
        if let Some(id) = &change.importing {
            if let Err(failure) = self.import_first(change, id).await {
                if let Failure::Change(error) = &failure {
                    on_event(Event::Failed { address, action: Action::NoOp, error });
                }
                return Err(failure);
            }
            if action == Action::NoOp {
                return Ok(Done { id: Some(id.clone()), ..Done::default() });
            }
        }
        on_event(Event::Started { address, action });
        let started = Instant::now();
        let work = self.make_change(change);
        tokio::pin!(work);
        let every = self.options.timing.progress;
        let mut ticker = tokio::time::interval_at(started + every, every);
        let outcome = loop {
            tokio::select! {
                outcome = &mut work => break outcome,
                _ = ticker.tick() => on_event(Event::StillApplying {
                    address,
                    action,
                    elapsed: started.elapsed().as_secs_f64(),
                }),
            }
        };
        let elapsed = started.elapsed().as_secs_f64();
        match &outcome {
            // A deferred delete has said so already.
            Ok(done) if done.deferred => {}
            Ok(done) => {
                on_event(Event::Completed { address, action, id: done.id.as_deref(), elapsed })
            }
            Err(Failure::Change(error)) => on_event(Event::Failed { address, action, error }),
            Err(Failure::State(_)) => {}
        }
        outcome
    }
}

/// Whether applying `plan` with `options` waits for certificates an earlier apply applied for
/// (see [`already_pending`]): work, even in a plan with no change.
pub fn waits_for_earlier_applications(plan: &Plan, options: ApplyOptions) -> bool {
    !already_pending(plan, options).is_empty()
}

/// The certificates the plan finds still validating, applied for by an earlier apply, that
/// this one waits for (`--wait`, or the configured wait for issuance) as for its own.
fn already_pending(plan: &Plan, options: ApplyOptions) -> Vec<(Address, RemoteCertificate)> {
    plan.changes
        .iter()
        .filter(|c| c.action == Action::NoOp && c.deposed.is_none())
        .filter(|c| wait_limit(plan, options, &c.address).is_some())
        .filter_map(|c| {
            let Reason::Pending { status, records, deadline, .. } = &c.reason else { return None };
            let before = c.before.as_ref()?;
            Some((
                c.address.clone(),
                RemoteCertificate {
                    id: before.id.clone(),
                    domain: before.args.domain.clone(),
                    alias: before.args.alias.clone(),
                    status: *status,
                    dv_auth_method: before.args.dv_auth_method,
                    key_algorithm: None,
                    project_id: before.args.project_id,
                    not_before: None,
                    not_after: None,
                    inserted_at: None,
                    validation_deadline: *deadline,
                    validation: records.clone(),
                    renewed_by: None,
                    reissued_by: None,
                    source: None,
                    notifications_off: None,
                },
            ))
        })
        .collect()
}

/// Whether `action` makes a new certificate, which delivery follows.
fn makes_certificate(action: Action) -> bool {
    matches!(action, Action::Create | Action::Renew | Action::Replace)
}

/// How long to wait for the issuance of `address`'s new certificate: the caller's limit, else
/// the configured one the plan carries; `None` means do not wait.
fn wait_limit(plan: &Plan, options: ApplyOptions, address: &Address) -> Option<Duration> {
    options.wait.or_else(|| plan.change_of(address).and_then(|c| c.wait_for_issuance))
}

/// Records in `state` what `plan` was made from — the `moved` renames, the cloud as the
/// refresh read it (`observed`), and what is declared for each certificate now — and saves it
/// if anything changed; returns whether it did. [`apply`] starts with this; a plan without
/// changes, and a refresh, need only this.
pub fn record_plan_basis(
    plan: &Plan,
    observed: Option<&Observed>,
    state: &mut State,
    store: &mut dyn StateStore,
) -> Result<bool, StateError> {
    let mut changed = false;
    for (from, to) in &plan.moved {
        changed |= state.rename(from, to);
    }
    // What happened outside certplan is recorded: a renewal takes the place of the certificate
    // it renews; a certificate deleted is no longer recorded (what the resource needs now, the
    // plan's changes say).
    for drift in &plan.drift {
        let recorded = state.resources.get(&drift.address);
        if recorded.is_none_or(|r| r.certificate_id != drift.id) {
            continue;
        }
        match &drift.kind {
            DriftKind::Renewed { to } | DriftKind::Reissued { to } => {
                if let Some(r) = state.resources.get_mut(&drift.address) {
                    *r = r.renewed_as(to);
                }
                changed = true;
            }
            // Kept when the plan stops a loop on it: the record is what says so next time.
            DriftKind::Deleted
                if plan
                    .change_of(&drift.address)
                    .is_some_and(|c| matches!(c.reason, Reason::ReplacedAgain { .. })) => {}
            DriftKind::Deleted => {
                state.resources.remove(&drift.address);
                changed = true;
            }
            DriftKind::Status { .. } | DriftKind::Alias { .. } | DriftKind::Project { .. } => {}
        }
    }
    if let Some(observed) = observed {
        changed |= record_observed(state, observed);
    }
    // Whatever was last declared for a live certificate is what guards it, whenever the flag
    // was written.
    for change in plan.changes.iter().filter(|c| c.after.is_some() && c.deposed.is_none()) {
        if let Some(r) = state.resources.get_mut(&change.address)
            && (r.prevent_destroy, &r.sensitive) != (change.prevent_destroy, &change.sensitive)
        {
            r.prevent_destroy = change.prevent_destroy;
            r.sensitive = change.sensitive.clone();
            changed = true;
        }
    }
    if changed {
        store.save(state)?;
    }
    Ok(changed)
}

/// Counts what the changes did; a failed save is the apply's failure.
fn summarise(
    outcomes: Vec<(&ResourceChange, Option<Result<Done, Failure>>)>,
) -> Result<Report, StateError> {
    let mut report = Report::default();
    let mut state_error = None;
    for (change, outcome) in outcomes {
        let address = change.address.clone();
        match outcome {
            None => report.not_started.push(address),
            Some(Ok(done)) => {
                report.done.import += usize::from(change.importing.is_some());
                if !done.deferred {
                    report.done.count(change.action, done.deleted_old);
                }
                if let Some(remote) = done.pending {
                    report.pending.push((address, remote));
                }
            }
            Some(Err(Failure::Change(error))) => report.failed.push((address, error)),
            Some(Err(Failure::State(e))) => state_error = Some(e),
        }
    }
    report.not_started.sort();
    report.interrupted = !report.not_started.is_empty();
    match state_error {
        Some(e) => Err(e),
        None => Ok(report),
    }
}
