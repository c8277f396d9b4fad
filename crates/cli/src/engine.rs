//! The apply engine: reads the cloud for what state records (refresh), executes a plan through
//! the provider, and waits for issuance when asked — saving state after every step so that a
//! failure or crash loses nothing already done. It decides nothing: the plan says what to do.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::anyhow;
use certplan_core::{Address, CertStatus, RemoteCertificate};
use certplan_parser::Config;
use certplan_planner::{Action, Observed, Plan, Reason, ResourceChange};
use certplan_provider::wire::ApplyCertificateRequest;
use certplan_provider::{Client, DESCRIBE_PAGE_LIMIT, Error as ProviderError, backoff};
use certplan_state::{Deposed, Intent, ResourceState, State, StateError, StateStore};
use chrono::Utc;
use futures_util::{StreamExt, TryStreamExt, stream};

/// How many describe calls a refresh keeps in flight (the rate limiter paces them).
const REFRESH_CONCURRENCY: usize = 8;
/// How many times an application is tried when the service fails transiently.
const APPLY_ATTEMPTS: u32 = 4;
const APPLY_BACKOFF_BASE: Duration = Duration::from_millis(500);
const APPLY_BACKOFF_CAP: Duration = Duration::from_secs(8);
/// How often waiting for issuance asks the cloud (one batched call for all certificates).
const POLL_INTERVAL: Duration = Duration::from_secs(2);
/// How often a certificate still being waited for is reported.
const PROGRESS_INTERVAL: Duration = Duration::from_secs(10);
/// How far the service's clock may be behind ours when matching a certificate to an intent
/// (the API itself refuses requests more than 5 minutes off).
const CLOCK_SKEW: chrono::Duration = chrono::Duration::minutes(5);

/// Reads every certificate recorded in `state` (and every deposed one) from the cloud: one
/// `DescribeCertificates` call per 1000 ids, and a `DescribeCertificateDetail` call only for
/// pending certificates, whose validation records only the detail has.
pub async fn refresh(client: &Client, state: &State) -> Result<Observed, ProviderError> {
    let ids: Vec<String> = state
        .resources
        .values()
        .map(|r| r.certificate_id.clone())
        .chain(state.deposed.iter().map(|d| d.certificate_id.clone()))
        .collect();
    let pages: Vec<Vec<RemoteCertificate>> = stream::iter(ids.chunks(DESCRIBE_PAGE_LIMIT))
        .map(|chunk| client.certificates_by_id(chunk))
        .buffer_unordered(REFRESH_CONCURRENCY)
        .try_collect()
        .await?;
    let mut observed: Observed = pages.into_iter().flatten().map(|c| (c.id.clone(), c)).collect();
    let pending: Vec<String> =
        observed.values().filter(|r| r.status.is_pending()).map(|r| r.id.clone()).collect();
    let details: Vec<(String, Vec<certplan_core::ValidationRecord>)> = stream::iter(pending)
        .map(|id| async move {
            let detail = client.describe_certificate_detail(&id).await?;
            Ok::<_, ProviderError>((id, detail.to_remote().validation))
        })
        .buffer_unordered(REFRESH_CONCURRENCY)
        .try_collect()
        .await?;
    for (id, validation) in details {
        if let Some(remote) = observed.get_mut(&id) {
            remote.validation = validation;
        }
    }
    Ok(observed)
}

/// Something the engine did, for the caller to show.
#[derive(Debug)]
pub enum Event<'a> {
    /// The response to an application was lost; the certificate it created was found.
    Recovered {
        address: &'a Address,
        id: &'a str,
        error: &'a ProviderError,
    },
    Started {
        address: &'a Address,
        action: Action,
    },
    /// A change has been running for another 10 seconds.
    StillApplying {
        address: &'a Address,
        action: Action,
        elapsed: f64,
    },
    Completed {
        address: &'a Address,
        action: Action,
        id: Option<&'a str>,
        elapsed: f64,
    },
    Failed {
        address: &'a Address,
        action: Action,
        error: &'a anyhow::Error,
    },
    /// A replacement's old certificate could not be deleted; it is kept as deposed.
    Deposed {
        address: &'a Address,
        id: &'a str,
        error: &'a ProviderError,
    },
    StillWaiting {
        address: &'a Address,
        id: &'a str,
        elapsed: f64,
        status: CertStatus,
    },
    Issued {
        address: &'a Address,
        id: &'a str,
        elapsed: f64,
    },
}

/// What an apply did.
#[derive(Debug, Default)]
pub struct Report {
    pub added: usize,
    pub renewed: usize,
    pub changed: usize,
    pub destroyed: usize,
    pub forgotten: usize,
    pub failed: Vec<(Address, anyhow::Error)>,
    /// Certificates applied for in this apply and not issued yet, with what they wait for.
    pub pending: Vec<(Address, RemoteCertificate)>,
    /// Changes not started because the run was interrupted.
    pub not_started: Vec<Address>,
}

/// Executes `plan`, up to `parallelism` changes at once (all changes of a plan are
/// independent). Every change saves state as it completes; a failed change is reported and
/// the others go on; once `stop` is set no new change starts.
#[allow(clippy::too_many_arguments)]
pub async fn apply(
    plan: &Plan,
    config: &Config,
    state: &mut State,
    store: &mut dyn StateStore,
    client: &Client,
    stop: &AtomicBool,
    parallelism: usize,
    on_event: &dyn Fn(Event<'_>),
) -> Result<Report, StateError> {
    let ledger = Ledger::new(state, store);
    let changes = plan.changes.iter().filter(|c| c.action != Action::NoOp);
    let outcomes: Vec<(&ResourceChange, Option<Result<Done, Failure>>)> = stream::iter(changes)
        .map(|change| {
            let ledger = &ledger;
            async move {
                if stop.load(Ordering::SeqCst) {
                    return (change, None);
                }
                let address = &change.address;
                on_event(Event::Started { address, action: change.action });
                let started = Instant::now();
                let work = execute(change, config, ledger, client, on_event);
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
                            action: change.action,
                            elapsed: started.elapsed().as_secs_f64(),
                        }),
                    }
                };
                match &outcome {
                    Ok(done) => on_event(Event::Completed {
                        address,
                        action: change.action,
                        id: done.id.as_deref(),
                        elapsed: started.elapsed().as_secs_f64(),
                    }),
                    Err(Failure::Change(error)) => {
                        on_event(Event::Failed { address, action: change.action, error });
                    }
                    Err(Failure::State(_)) => {}
                }
                (change, Some(outcome))
            }
        })
        .buffer_unordered(parallelism.max(1))
        .collect()
        .await;

    let mut report = Report::default();
    let mut state_error = None;
    for (change, outcome) in outcomes {
        let address = change.address.clone();
        match outcome {
            None => report.not_started.push(address),
            Some(Ok(done)) => {
                match change.action {
                    Action::Create => report.added += 1,
                    Action::Renew => report.renewed += 1,
                    Action::Update => report.changed += 1,
                    Action::Replace => {
                        report.added += 1;
                        report.destroyed += usize::from(done.deleted_old);
                    }
                    Action::Delete => report.destroyed += 1,
                    Action::Forget => report.forgotten += 1,
                    Action::NoOp => {}
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
    match state_error {
        Some(e) => Err(e),
        None => Ok(report),
    }
}

/// The state and its store, shared by changes running at once. A write returns once its
/// change is saved; changes made at the same moment share one save (group commit), so that
/// the cost of rewriting a large state is paid once per batch, not once per change.
struct Ledger<'a> {
    inner: Mutex<LedgerInner<'a>>,
    /// One lock per domain, held from intent to record: two applications for the same domain
    /// never overlap, so looking for a lost response's certificate cannot find the other's.
    domains: Mutex<BTreeMap<String, std::sync::Arc<tokio::sync::Mutex<()>>>>,
}

struct LedgerInner<'a> {
    state: &'a mut State,
    store: &'a mut dyn StateStore,
    /// How many changes were made, and how many of them are saved.
    made: u64,
    saved: u64,
}

impl<'a> Ledger<'a> {
    fn new(state: &'a mut State, store: &'a mut dyn StateStore) -> Self {
        Ledger {
            inner: Mutex::new(LedgerInner { state, store, made: 0, saved: 0 }),
            domains: Mutex::new(BTreeMap::new()),
        }
    }

    /// Returns the lock that serialises applications for `domain`.
    fn domain_lock(&self, domain: &str) -> std::sync::Arc<tokio::sync::Mutex<()>> {
        let mut domains = self.domains.lock().unwrap_or_else(|p| p.into_inner());
        std::sync::Arc::clone(domains.entry(domain.to_owned()).or_default())
    }

    /// Changes the state and returns once the change is saved.
    async fn write<T>(&self, change: impl FnOnce(&mut State) -> T) -> Result<T, StateError> {
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

    fn read<T>(&self, look: impl FnOnce(&State) -> T) -> T {
        look(self.lock().state)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, LedgerInner<'a>> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// What one change left behind.
#[derive(Debug, Default)]
struct Done {
    id: Option<String>,
    /// The new certificate, when it is not issued yet.
    pending: Option<RemoteCertificate>,
    deleted_old: bool,
}

enum Failure {
    /// The change could not be made; other changes go on.
    Change(anyhow::Error),
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

/// Makes one change.
async fn execute(
    change: &ResourceChange,
    config: &Config,
    ledger: &Ledger<'_>,
    client: &Client,
    on_event: &dyn Fn(Event<'_>),
) -> Result<Done, Failure> {
    let address = &change.address;
    let prior = change.before.as_ref();
    if let Some(id) = &change.deposed {
        return delete_deposed(change, id, ledger, client).await;
    }
    match change.action {
        Action::Create | Action::Renew | Action::Replace => {
            let (Some(args), Some(resource)) = (&change.after, config.resources.get(address))
            else {
                return Err(Failure::Change(anyhow!(
                    "{address} is not in the configuration this plan was made from"
                )));
            };
            let renewing = prior.filter(|_| change.action == Action::Renew);
            let replacing = prior.filter(|p| change.action == Action::Replace && p.exists);
            let request = ApplyCertificateRequest::new(
                args,
                resource.csr_key_password.as_deref(),
                renewing.map(|p| p.id.as_str()),
            );
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
                    action: format!("{:?}", change.action).to_lowercase(),
                    args: args.clone(),
                    prevent_destroy: resource.lifecycle.prevent_destroy,
                    old_certificate_id: renewing.or(replacing).map(|p| p.id.clone()),
                    started_at: Utc::now(),
                };
                ledger.write(|s| s.intents.push(intent.clone())).await?;
                let failed = match client.apply_certificate(&request).await {
                    Ok(id) => break (id, intent),
                    // The service answered: nothing was created.
                    Err(e @ ProviderError::Api(_)) => e,
                    // No answer: the service may have acted. Look before anything else.
                    Err(lost) => {
                        let known = ledger.read(known_ids);
                        match find_applied(client, &known, &intent).await {
                            Ok(Some(found)) => {
                                on_event(Event::Recovered { address, id: &found.id, error: &lost });
                                break (found.id, intent);
                            }
                            Ok(None) => lost,
                            Err(lookup) => {
                                return Err(Failure::Change(anyhow::Error::new(lost).context(format!(
                                    "whether a certificate was created is unknown ({lookup}); the next run checks before doing anything else"
                                ))));
                            }
                        }
                    }
                };
                // Known not to have created anything: the intent is settled.
                ledger.write(|s| s.intents.retain(|i| i != &intent)).await?;
                if !(retry && failed.is_transient()) {
                    return Err(failed.into());
                }
                tokio::time::sleep(backoff(attempt - 1, APPLY_BACKOFF_BASE, APPLY_BACKOFF_CAP))
                    .await;
            };
            // Record the new certificate with its status in one save. Until then the journaled
            // intent covers it: a crash here is reconciled by the next run.
            let detail = client.describe_certificate_detail(&id).await;
            ledger
                .write(|s| {
                    adopt(s, &intent, &id);
                    if let (Ok(detail), Some(r)) = (&detail, s.resources.get_mut(address)) {
                        r.observe(&detail.to_remote());
                    }
                })
                .await?;
            let remote = match detail {
                Ok(detail) => detail.to_remote(),
                // The certificate exists and is recorded; the next refresh reads its status.
                Err(e) => {
                    return Err(Failure::Change(anyhow::Error::new(e).context(format!(
                        "certificate {id} was applied for and recorded, but reading its status failed"
                    ))));
                }
            };

            let mut deleted_old = false;
            if let Some(old) = replacing {
                match delete(client, &old.id).await {
                    Ok(()) => deleted_old = true,
                    Err(e) => {
                        // Nothing is forgotten: the old certificate is kept for the next apply.
                        ledger
                            .write(|s| {
                                s.deposed.push(Deposed {
                                    address: address.clone(),
                                    certificate_id: old.id.clone(),
                                    since: Utc::now(),
                                    last_error: e.to_string(),
                                });
                            })
                            .await?;
                        on_event(Event::Deposed { address, id: &old.id, error: &e });
                    }
                }
            }
            let pending = remote.status.is_pending().then_some(remote);
            Ok(Done { id: Some(id), pending, deleted_old })
        }
        Action::Update => {
            let (Some(p), Some(args)) = (prior, &change.after) else {
                return Err(Failure::Change(anyhow!("{address} has nothing to update")));
            };
            if p.args.alias != args.alias {
                client.modify_certificate_alias(&p.id, args.alias.as_deref().unwrap_or("")).await?;
                ledger
                    .write(|s| {
                        if let Some(r) = s.resources.get_mut(address) {
                            r.args.alias = args.alias.clone();
                        }
                    })
                    .await?;
            }
            if p.args.project_id.unwrap_or(0) != args.project_id.unwrap_or(0) {
                let ids = [p.id.clone()];
                let failed =
                    client.modify_certificate_project(&ids, args.project_id.unwrap_or(0)).await?;
                if !failed.is_empty() {
                    return Err(Failure::Change(anyhow!(
                        "ModifyCertificateProject reported certificate {} as failed (FailCertificates)",
                        p.id
                    )));
                }
                ledger
                    .write(|s| {
                        if let Some(r) = s.resources.get_mut(address) {
                            r.args.project_id = args.project_id;
                        }
                    })
                    .await?;
            }
            Ok(Done { id: Some(p.id.clone()), ..Done::default() })
        }
        Action::Delete => {
            if let Some(old) = prior.filter(|p| p.exists) {
                delete(client, &old.id).await?;
            }
            ledger.write(|s| s.resources.remove(address)).await?;
            Ok(Done::default())
        }
        Action::Forget => {
            ledger.write(|s| s.resources.remove(address)).await?;
            Ok(Done { id: prior.map(|p| p.id.clone()), ..Done::default() })
        }
        Action::NoOp => Ok(Done::default()),
    }
}

/// Records the certificate `id` as the result of `intent`, and retires the intent.
fn adopt(state: &mut State, intent: &Intent, id: &str) {
    let mut renewed_from = Vec::new();
    if intent.action == "renew"
        && let Some(old) = &intent.old_certificate_id
    {
        renewed_from.push(old.clone());
        if let Some(previous) = state.resources.get(&intent.address) {
            renewed_from.extend(previous.renewed_from.iter().cloned());
        }
    }
    state.resources.insert(
        intent.address.clone(),
        ResourceState {
            certificate_id: id.to_owned(),
            args: intent.args.clone(),
            status: CertStatus::Pending,
            not_before: None,
            not_after: None,
            renewed_from,
            prevent_destroy: intent.prevent_destroy,
            applied_at: intent.started_at,
            validation: Vec::new(),
            // Recorded from the configuration when the apply ends.
            sensitive: BTreeSet::new(),
        },
    );
    state.intents.retain(|i| i != intent);
}

/// Looks in the cloud for a certificate that `intent`'s application created: same domain,
/// inserted after the intent was written, and not one state knows already.
async fn find_applied(
    client: &Client,
    known: &BTreeSet<String>,
    intent: &Intent,
) -> Result<Option<RemoteCertificate>, ProviderError> {
    let since = intent.started_at - CLOCK_SKEW;
    let found = client.certificates_by_search(&intent.args.domain).await?;
    Ok(found
        .into_iter()
        .filter(|c| c.domain == intent.args.domain && !known.contains(&c.id))
        .filter(|c| c.inserted_at.is_some_and(|t| t >= since))
        .min_by_key(|c| c.inserted_at))
}

/// Returns every certificate id state knows: recorded, renewed from, or deposed.
fn known_ids(state: &State) -> BTreeSet<String> {
    state
        .resources
        .values()
        .flat_map(|r| std::iter::once(&r.certificate_id).chain(&r.renewed_from))
        .chain(state.deposed.iter().map(|d| &d.certificate_id))
        .cloned()
        .collect()
}

/// Settles the intents an interrupted run left: adopts the certificate each one created, or
/// concludes the call never reached the cloud. Returns what was done, for the user.
pub async fn reconcile(client: &Client, state: &mut State) -> Result<Vec<String>, ProviderError> {
    let mut done = Vec::new();
    for intent in state.intents.clone() {
        let address = &intent.address;
        let started = intent.started_at.format("%Y-%m-%d %H:%M:%S UTC");
        match find_applied(client, &known_ids(state), &intent).await? {
            Some(found) => {
                adopt(state, &intent, &found.id);
                if let Some(r) = state.resources.get_mut(address) {
                    r.observe(&found);
                }
                // The interrupted replacement may not have deleted its old certificate.
                if intent.action == "replace"
                    && let Some(old) = &intent.old_certificate_id
                {
                    state.deposed.push(Deposed {
                        address: address.clone(),
                        certificate_id: old.clone(),
                        since: intent.started_at,
                        last_error: "the run replacing it was interrupted".to_owned(),
                    });
                }
                done.push(format!(
                    "{address}: recorded certificate {} applied for by an interrupted run at {started}",
                    found.id
                ));
            }
            None => {
                state.intents.retain(|i| i != &intent);
                done.push(format!(
                    "{address}: the application of an interrupted run at {started} never reached the cloud"
                ));
            }
        }
    }
    Ok(done)
}

/// Deletes a certificate a replacement left behind; on failure it stays deposed, with the error.
async fn delete_deposed(
    change: &ResourceChange,
    id: &str,
    ledger: &Ledger<'_>,
    client: &Client,
) -> Result<Done, Failure> {
    let gone = matches!(change.reason, Reason::Deposed { gone: true, .. });
    let outcome = if gone { Ok(()) } else { delete(client, id).await };
    match outcome {
        Ok(()) => {
            ledger.write(|s| s.deposed.retain(|d| d.certificate_id != id)).await?;
            Ok(Done { id: Some(id.to_owned()), ..Done::default() })
        }
        Err(e) => {
            ledger
                .write(|s| {
                    if let Some(d) = s.deposed.iter_mut().find(|d| d.certificate_id == id) {
                        d.last_error = e.to_string();
                    }
                })
                .await?;
            Err(e.into())
        }
    }
}

/// Deletes a certificate; one that is already gone counts as deleted.
async fn delete(client: &Client, id: &str) -> Result<(), ProviderError> {
    match client.delete_certificate(id).await {
        Ok(_) => Ok(()),
        Err(e) if e.code() == Some("FailedOperation.CertificateNotFound") => Ok(()),
        Err(e) => Err(e),
    }
}

/// Polls until every certificate in `waits` is issued or its own time runs out, with one
/// batched describe call per poll. Returns the certificates that failed or timed out.
pub async fn wait_for_issuance(
    client: &Client,
    state: &mut State,
    store: &mut dyn StateStore,
    waits: Vec<(Address, String, Duration)>,
    mut on_event: impl FnMut(Event<'_>),
) -> Result<Vec<(Address, anyhow::Error)>, StateError> {
    let started = Instant::now();
    let mut waiting: BTreeMap<String, (Address, Duration)> =
        waits.into_iter().map(|(address, id, limit)| (id, (address, limit))).collect();
    let mut failed = Vec::new();
    let mut last_progress = Instant::now();
    while !waiting.is_empty() {
        tokio::time::sleep(POLL_INTERVAL).await;
        let elapsed = started.elapsed();
        let ids: Vec<String> = waiting.keys().cloned().collect();
        let seen = match client.certificates_by_id(&ids).await {
            Ok(seen) => seen,
            // A failed poll is not a failed certificate; the next poll tries again.
            Err(_) if waiting.values().any(|(_, limit)| elapsed < *limit) => continue,
            Err(e) => {
                let error = anyhow::Error::new(e);
                for (_, (address, _)) in std::mem::take(&mut waiting) {
                    failed.push((address, anyhow!("could not check issuance: {error:#}")));
                }
                break;
            }
        };
        let report_progress = last_progress.elapsed() >= PROGRESS_INTERVAL;
        if report_progress {
            last_progress = Instant::now();
        }
        let gone: Vec<String> =
            waiting.keys().filter(|id| !seen.iter().any(|r| &r.id == *id)).cloned().collect();
        for id in gone {
            if let Some((address, _)) = waiting.remove(&id) {
                failed.push((address, anyhow!("certificate {id} no longer exists in the cloud")));
            }
        }
        for remote in seen {
            let Some((address, limit)) = waiting.get(&remote.id).cloned() else { continue };
            if let Some(r) = state.resources.get_mut(&address) {
                r.observe(&remote);
            }
            match remote.status {
                CertStatus::Issued => {
                    store.save(state)?;
                    waiting.remove(&remote.id);
                    let elapsed = elapsed.as_secs_f64();
                    on_event(Event::Issued { address: &address, id: &remote.id, elapsed });
                }
                status if status.is_pending() && elapsed < limit => {
                    if report_progress {
                        let elapsed = elapsed.as_secs_f64();
                        on_event(Event::StillWaiting {
                            address: &address,
                            id: &remote.id,
                            elapsed,
                            status,
                        });
                    }
                }
                status => {
                    store.save(state)?;
                    waiting.remove(&remote.id);
                    let why = if status.is_pending() {
                        anyhow!(
                            "certificate {} was not issued within {}; it stays recorded and the next plan shows its status",
                            remote.id,
                            humantime::format_duration(limit)
                        )
                    } else {
                        anyhow!("certificate {} is {status} instead of issued", remote.id)
                    };
                    failed.push((address, why));
                }
            }
        }
    }
    Ok(failed)
}

/// Brings the recorded status and dates of every certificate up to what the cloud reported;
/// returns whether anything changed.
pub fn record_observed(state: &mut State, observed: &Observed) -> bool {
    let mut changed = false;
    for r in state.resources.values_mut() {
        if let Some(remote) = observed.get(&r.certificate_id) {
            let before = (r.status, r.not_before, r.not_after, r.validation.clone());
            r.observe(remote);
            changed |= before != (r.status, r.not_before, r.not_after, r.validation.clone());
        }
    }
    changed
}
