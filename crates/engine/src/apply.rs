//! Executing a plan: the changes run concurrently, each non-idempotent call journaled first,
//! every step saved as it completes; then the waits for issuance the plan or caller asked for.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use certplan_core::{Action, DriftKind, Observed, Plan, Reason, ResourceChange};
use certplan_provider::{Client, Error as ProviderError, backoff};
use certplan_state::{Deposed, Intent, IntentKind, State, StateError, StateStore};
use chrono::Utc;
use futures_util::{StreamExt, stream};

use crate::ledger::{Ledger, Step};
use crate::reconcile::{find_applied, known_ids};
use crate::{ApplyError, ApplyOptions, ChangeError, Event, Inputs, Report, queue, refresh, wait};

/// How many times an application is tried when the service fails transiently.
const APPLY_ATTEMPTS: u32 = 4;
const APPLY_BACKOFF_BASE: Duration = Duration::from_millis(500);
const APPLY_BACKOFF_CAP: Duration = Duration::from_secs(8);
/// How often a change still running is reported.
pub(crate) const PROGRESS_INTERVAL: Duration = Duration::from_secs(10);

/// Carries out `plan` against `state`, saving through `store` after every step:
///
/// 1. records what the plan was made from — the `moved` renames, what the refresh (`observed`)
///    read, and what is declared for each certificate (`prevent_destroy`, which arguments are
///    sensitive) — so that these hold even when nothing else changes;
/// 2. makes the plan's changes, up to `options.parallelism` at once (a plan's changes are
///    independent); a failed change is reported and the others go on; once `stop` is set no
///    new change starts;
/// 3. waits for the issuance of new certificates that have a wait limit, unless stopped.
#[allow(clippy::too_many_arguments)]
pub async fn apply(
    plan: &Plan,
    inputs: &Inputs,
    observed: Option<&Observed>,
    state: &mut State,
    store: &mut dyn StateStore,
    client: &Client,
    stop: &AtomicBool,
    options: ApplyOptions,
    on_event: &(dyn Fn(Event<'_>) + Sync),
) -> Result<Report, ApplyError> {
    record_plan_basis(plan, observed, state, store)?;
    let ledger = Ledger::new(state, Some(store));
    let run = Run { plan, inputs, ledger: &ledger, client, stop, options, on_event };
    let result = run.run().await;
    result.map_err(|error| ApplyError::State { error, unrecorded: ledger.unrecorded() })
}

/// One apply: what it carries out, and with what.
pub(crate) struct Run<'a, 'l> {
    pub(crate) plan: &'a Plan,
    pub(crate) inputs: &'a Inputs,
    pub(crate) ledger: &'a Ledger<'l>,
    pub(crate) client: &'a Client,
    pub(crate) stop: &'a AtomicBool,
    pub(crate) options: ApplyOptions,
    pub(crate) on_event: &'a (dyn Fn(Event<'_>) + Sync),
}

impl Run<'_, '_> {
    /// Makes the plan's changes, then waits for issuance where asked, and delivers.
    async fn run(&self) -> Result<Report, StateError> {
        // Delivery runs beside the changes: a resource's starts once its certificate is ready.
        let (queue, released) = queue::Queue::new(self.plan);
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
    async fn make_changes(&self, queue: &queue::Queue) -> Result<Report, StateError> {
        let (plan, options, stop) = (self.plan, self.options, self.stop);
        // Resources whose certificate does not change deliver from the start.
        // An imported one delivers once it is recorded.
        let ready = |c: &&ResourceChange| !makes_certificate(c.action) && c.importing.is_none();
        for change in plan.changes.iter().filter(ready) {
            queue.release(&change.address);
        }
        let mut report = self.execute(queue).await?;
        let (waits, pending): (Vec<_>, Vec<_>) =
            std::mem::take(&mut report.pending).into_iter().partition(|(address, _)| {
                wait_limit(plan, options, address).is_some() && !stop.load(Ordering::SeqCst)
            });
        report.pending = pending;
        if !waits.is_empty() {
            let waits = waits
                .into_iter()
                .filter_map(|(address, remote)| {
                    let limit = wait_limit(plan, options, &address)?;
                    Some((address, remote, limit))
                })
                .collect();
            let outcome =
                wait::wait_for_issuance(self.client, self.ledger, waits, stop, self.on_event)
                    .await?;
            report.failed.extend(outcome.failed);
            report.pending.extend(outcome.pending);
            report.interrupted |= outcome.interrupted;
        }
        report.pending.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(report)
    }

    /// Makes every change of the plan; returns what happened, without waiting for issuance,
    /// and releases the delivery of each new certificate already issued. Once `stop` is set,
    /// or a save failed, no new change starts.
    async fn execute(&self, queue: &queue::Queue) -> Result<Report, StateError> {
        let Run { plan, inputs, ledger, client, stop, options, on_event } = *self;
        let read_ahead = &crate::import::read_ahead(plan, client).await;
        let changes =
            plan.changes.iter().filter(|c| c.action != Action::NoOp || c.importing.is_some());
        let outcomes: Vec<(&ResourceChange, Option<Result<Done, Failure>>)> = stream::iter(changes)
            .map(|change| async move {
                if stop.load(Ordering::SeqCst) || ledger.is_broken() {
                    return (change, None);
                }
                let outcome =
                    run_change(change, inputs, ledger, client, read_ahead, on_event).await;
                if matches!(&outcome, Ok(done) if done.pending.is_none()) {
                    queue.release(&change.address);
                }
                (change, Some(outcome))
            })
            .buffer_unordered(options.parallelism.max(1))
            .collect()
            .await;
        summarise(outcomes)
    }
}

/// Whether `action` makes a new certificate, which delivery follows.
fn makes_certificate(action: Action) -> bool {
    matches!(action, Action::Create | Action::Renew | Action::Replace)
}

/// How long to wait for the issuance of `address`'s new certificate: the caller's limit, else
/// the configured one the plan carries; `None` means do not wait.
fn wait_limit(
    plan: &Plan,
    options: ApplyOptions,
    address: &certplan_core::Address,
) -> Option<Duration> {
    options.wait.or_else(|| {
        plan.changes.iter().find(|c| &c.address == address).and_then(|c| c.wait_for_issuance)
    })
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
            DriftKind::Deleted => {
                state.resources.remove(&drift.address);
                changed = true;
            }
            DriftKind::Status { .. } | DriftKind::Alias { .. } | DriftKind::Project { .. } => {}
        }
    }
    if let Some(observed) = observed {
        changed |= refresh::record_observed(state, observed);
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

/// Makes one change, reporting its start, progress every 10 seconds, and its end.
async fn run_change(
    change: &ResourceChange,
    inputs: &Inputs,
    ledger: &Ledger<'_>,
    client: &Client,
    read_ahead: &Observed,
    on_event: &(dyn Fn(Event<'_>) + Sync),
) -> Result<Done, Failure> {
    let address = &change.address;
    let action = change.action;
    // An import comes first, and says so itself (`Event::Imported`); the change follows it.
    if let Some(id) = &change.importing {
        if let Err(failure) =
            crate::import::import_first(change, id, ledger, client, read_ahead, on_event).await
        {
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
    let work = make_change(change, inputs, ledger, client, on_event);
    tokio::pin!(work);
    let mut ticker = tokio::time::interval_at(
        tokio::time::Instant::now() + PROGRESS_INTERVAL,
        PROGRESS_INTERVAL,
    );
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
        Ok(done) => on_event(Event::Completed { address, action, id: done.id.as_deref(), elapsed }),
        Err(Failure::Change(error)) => on_event(Event::Failed { address, action, error }),
        Err(Failure::State(_)) => {}
    }
    outcome
}

/// What one change left behind.
#[derive(Debug, Default)]
struct Done {
    id: Option<String>,
    /// The new certificate, when it is not issued yet.
    pending: Option<certplan_core::RemoteCertificate>,
    deleted_old: bool,
    /// A delete the service refused for now: recorded as deposed, not counted as destroyed.
    deferred: bool,
}

pub(crate) enum Failure {
    /// The change could not be made; other changes go on.
    Change(ChangeError),
    /// State could not be saved: stop at once, nothing more may be done unrecorded.
    State(StateError),
}

impl From<StateError> for Failure {
    fn from(e: StateError) -> Self {
        Failure::State(e)
    }
}

impl From<ProviderError> for Failure {
    fn from(e: ProviderError) -> Self {
        Failure::Change(e.into())
    }
}

impl From<ChangeError> for Failure {
    fn from(e: ChangeError) -> Self {
        Failure::Change(e)
    }
}

/// Makes one change.
async fn make_change(
    change: &ResourceChange,
    inputs: &Inputs,
    ledger: &Ledger<'_>,
    client: &Client,
    on_event: &(dyn Fn(Event<'_>) + Sync),
) -> Result<Done, Failure> {
    let address = &change.address;
    let incomplete = |what| ChangeError::IncompletePlan { what };
    if let Some(id) = &change.deposed {
        return delete_deposed(change, id, ledger, client, on_event).await;
    }
    let prior = change.before.as_ref();
    match change.action {
        Action::Create | Action::Renew | Action::Replace => {
            let Some(args) = &change.after else {
                return Err(incomplete("declared arguments").into());
            };
            let Some(kind) = IntentKind::of(change.action) else {
                return Err(incomplete("application").into());
            };
            let renewing = prior.filter(|_| kind == IntentKind::Renew);
            let replacing = prior.filter(|p| kind == IntentKind::Replace && p.exists);
            // The certificate whose cloud resources the new one takes over, as recorded now.
            let serving = ledger.read(|s| s.resources.get(address).and_then(|r| r.serving()));
            let password = inputs.csr_key_passwords.get(address).map(|p| p.expose());
            // Failed validations in a row are counted, so that the planner can stop applying
            // again for a domain whose validation cannot succeed.
            let validation_failures = match &change.reason {
                Reason::ValidationTimedOut { .. }
                | Reason::Unusable { status: certplan_core::CertStatus::Failed, .. } => {
                    ledger.read(|s| s.resources.get(address).map_or(0, |r| r.validation_failures))
                        + 1
                }
                _ => 0,
            };
            let domain_lock = ledger.domain_lock(&args.domain);
            let _one_application_per_domain = domain_lock.lock().await;
            let mut attempt = 0;
            let (id, intent) = loop {
                attempt += 1;
                let retry = attempt < APPLY_ATTEMPTS;
                // ApplyCertificate is not idempotent: journal the intent first, so that a
                // response lost to a crash or a dropped connection is found, not applied twice.
                let intent = Intent {
                    address: address.clone(),
                    action: kind,
                    args: args.clone(),
                    prevent_destroy: change.prevent_destroy,
                    sensitive: change.sensitive.clone(),
                    validation_failures,
                    old_certificate_id: renewing.or(replacing).map(|p| p.id.clone()),
                    supersedes: prior.map(|p| p.id.clone()),
                    started_at: Utc::now(),
                };
                ledger.record(Step::Journal(intent.clone())).await?;
                let renews = renewing.map(|p| p.id.as_str());
                let failed = match client.apply_for_certificate(args, password, renews).await {
                    Ok(id) => break (id, intent),
                    // The service refused before acting: nothing was created.
                    Err(refused) if refused.proves_nothing_done() => refused,
                    // No answer, a broken one, or an error the service also gives after it
                    // created the certificate: it may have acted. Look before anything else.
                    Err(lost) => {
                        let known = ledger.read(known_ids);
                        match find_applied(client, &known, &intent).await {
                            Ok(Some(found)) => {
                                on_event(Event::Recovered { address, id: &found.id, error: &lost });
                                break (found.id, intent);
                            }
                            // Not visible yet is not "never created": the service may still be
                            // working on the request. Sending it again now could make a second
                            // certificate, so the intent stays journaled and the next run looks
                            // again before anything else.
                            Ok(None) => {
                                return Err(ChangeError::NotVisibleYet { error: lost }.into());
                            }
                            Err(lookup) => {
                                return Err(ChangeError::Unknown { error: lost, lookup }.into());
                            }
                        }
                    }
                };
                // Known not to have created anything: the intent is settled.
                ledger.record(Step::Settle(intent)).await?;
                if !(retry && failed.is_transient()) {
                    return Err(failed.into());
                }
                tokio::time::sleep(backoff(attempt - 1, APPLY_BACKOFF_BASE, APPLY_BACKOFF_CAP))
                    .await;
            };
            // Record the new certificate with its status in one save — and a replaced one as
            // deposed in the same step, so that no crash or failure between here and its delete
            // leaves it recorded nowhere. Until then the journaled intent covers both.
            let detail = client.certificate(&id).await;
            let remote = detail.as_ref().ok().cloned().map(Box::new);
            ledger.record(Step::Adopt { intent, id: id.clone(), remote }).await?;
            // The certificate exists and is recorded; the next refresh reads its status.
            let remote =
                detail.map_err(|error| ChangeError::StatusUnread { id: id.clone(), error })?;

            let mut deleted_old = false;
            if let Some(old) = replacing
                && change.delivery.deploy.is_some()
                && serving.as_deref() == Some(old.id.as_str())
            {
                // The service refuses to delete a certificate that still serves: the old one
                // stays deposed until the deployment has moved its cloud resources to the new.
                let error = format!("kept until its cloud resources have moved to {id}");
                ledger.record(Step::DeleteFailed { id: old.id.clone(), error }).await?;
            } else if let Some(old) = replacing {
                match delete(client, &old.id).await {
                    Ok(()) => {
                        ledger.record(Step::Deleted { id: old.id.clone() }).await?;
                        deleted_old = true;
                    }
                    Err(e) => {
                        // Nothing is forgotten: the old certificate stays deposed for the next
                        // apply, with why.
                        let error = e.to_string();
                        ledger.record(Step::DeleteFailed { id: old.id.clone(), error }).await?;
                        on_event(Event::Deposed { address, id: &old.id, error: &e });
                    }
                }
            }
            let pending = remote.status.is_pending().then_some(remote);
            Ok(Done { id: Some(id), pending, deleted_old, deferred: false })
        }
        Action::Update => {
            let (Some(p), Some(args), Reason::AttributesChanged { changed }) =
                (prior, &change.after, &change.reason)
            else {
                return Err(incomplete("attributes to update").into());
            };
            let changes = |name: &str| changed.iter().any(|c| c == name);
            if changes("alias") {
                client.modify_certificate_alias(&p.id, args.alias.as_deref().unwrap_or("")).await?;
                let (alias, id) = (args.alias.clone(), p.id.clone());
                ledger.record(Step::SetAlias { address: address.clone(), id, alias }).await?;
            }
            if changes("project_id") {
                let ids = [p.id.clone()];
                let project = args.project_id.unwrap_or(certplan_core::DEFAULT_PROJECT);
                let failed = client.modify_certificate_project(&ids, project).await?;
                if !failed.is_empty() {
                    return Err(ChangeError::ProjectNotChanged { id: p.id.clone() }.into());
                }
                let (project_id, id) = (args.project_id, p.id.clone());
                ledger
                    .record(Step::SetProject { address: address.clone(), id, project_id })
                    .await?;
            }
            Ok(Done { id: Some(p.id.clone()), ..Done::default() })
        }
        Action::Delete => {
            if let Some(old) = prior.filter(|p| p.exists) {
                match delete(client, &old.id).await {
                    Ok(()) => {}
                    // Free certificates cannot be deleted in their first hour: the delete waits
                    // for a later apply, recorded as deposed (in the same step that stops
                    // recording it as the resource's), and this run goes on.
                    Err(e) if too_young_to_delete(&e) => {
                        let applied_at = ledger
                            .read(|s| s.resources.get(address).map(|r| r.applied_at))
                            .unwrap_or_else(Utc::now);
                        let possible = applied_at + chrono::Duration::hours(1);
                        let shown = possible.format("%Y-%m-%d %H:%M UTC");
                        let deposed = Deposed {
                            address: address.clone(),
                            certificate_id: old.id.clone(),
                            since: Utc::now(),
                            last_error: format!("{e}; it can be deleted from {shown}"),
                        };
                        ledger.record(Step::Defer(deposed)).await?;
                        let id = &old.id;
                        on_event(Event::DeleteDeferred { address, id, error: &e, possible });
                        return Ok(Done { deferred: true, ..Done::default() });
                    }
                    Err(e) => return Err(e.into()),
                }
            }
            let id = prior.map(|p| p.id.clone());
            ledger.record(Step::Remove { address: address.clone(), id }).await?;
            Ok(Done::default())
        }
        Action::Forget => {
            let id = prior.map(|p| p.id.clone());
            ledger.record(Step::Remove { address: address.clone(), id }).await?;
            Ok(Done { id: prior.map(|p| p.id.clone()), ..Done::default() })
        }
        Action::NoOp => Ok(Done::default()),
    }
}

/// Deletes a certificate a replacement left behind; on failure it stays deposed, with the error.
async fn delete_deposed(
    change: &ResourceChange,
    id: &str,
    ledger: &Ledger<'_>,
    client: &Client,
    on_event: &(dyn Fn(Event<'_>) + Sync),
) -> Result<Done, Failure> {
    let gone = matches!(change.reason, Reason::Deposed { gone: true, .. });
    let outcome = if gone { Ok(()) } else { delete(client, id).await };
    match outcome {
        Ok(()) => {
            ledger.record(Step::Deleted { id: id.to_owned() }).await?;
            Ok(Done { id: Some(id.to_owned()), ..Done::default() })
        }
        // Too young to delete: kept for a later apply, and not a failure of this one.
        Err(e) if too_young_to_delete(&e) => {
            let error = format!("{e}; it can be deleted an hour after it was applied for");
            ledger.record(Step::DeleteFailed { id: id.to_owned(), error }).await?;
            on_event(Event::Deposed { address: &change.address, id, error: &e });
            Ok(Done { deferred: true, ..Done::default() })
        }
        Err(e) => {
            let error = e.to_string();
            ledger.record(Step::DeleteFailed { id: id.to_owned(), error }).await?;
            Err(e.into())
        }
    }
}

/// Returns true when the service refused a delete only because the certificate is less than an
/// hour old.
fn too_young_to_delete(error: &ProviderError) -> bool {
    matches!(
        error.code(),
        Some("FailedOperation.CannotBeDeletedWithinHour" | "FailedOperation.DeleteFailedTimeNotUp")
    )
}

/// Deletes a certificate; one that is already gone counts as deleted.
pub(crate) async fn delete(client: &Client, id: &str) -> Result<(), ProviderError> {
    match client.delete_certificate(id).await {
        Ok(_) => Ok(()),
        Err(e) if e.code() == Some("FailedOperation.CertificateNotFound") => Ok(()),
        Err(e) => Err(e),
    }
}
