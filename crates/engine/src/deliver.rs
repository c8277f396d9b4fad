//! Delivery: after the plan's changes (and waits for issuance), the plan's delivery work —
//! deployment tasks that move the cloud resources of a replaced certificate to its successor,
//! PEM files written and hooks run — each step recorded as it happens.
//!
//! A deployment task is not idempotent in effect: asked for twice, the service may create two
//! tasks. So, as with applications, the task is recorded (without its id) before it is asked
//! for; a run that finds such a record looks for the task before asking again.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use certplan_core::{
    Address, CertStatus, DeliveryChange, DeliveryWork, Deployment, ExportRecord, ExportSpec,
    HookOutcome, Plan,
};
use certplan_provider::{Client, Error as ProviderError};
use certplan_state::{ResourceState, StateError};
use chrono::Utc;
use futures_util::{StreamExt, stream};

use crate::ledger::{Ledger, Step};
use crate::{DeliveryError, Event};

/// How often a deployment task that is still being created is asked for again.
const CREATE_INTERVAL: Duration = Duration::from_secs(1);
/// How many times: the API answers 0 while it creates the task, which takes seconds.
const CREATE_ATTEMPTS: u32 = 60;
/// How often a running deployment task is read.
const FOLLOW_INTERVAL: Duration = Duration::from_secs(2);
/// How long a deployment task is followed before the apply leaves it to a later one.
const FOLLOW_LIMIT: Duration = Duration::from_secs(15 * 60);

/// What delivery did.
#[derive(Debug, Default)]
pub struct Delivered {
    /// Work done: deployments followed to their end, exports written, hooks run.
    pub done: usize,
    pub failed: Vec<(Address, DeliveryError)>,
    /// Work left for a later apply, with why (a certificate not issued yet, an interrupt).
    pub pending: Vec<(Address, String)>,
}

/// Does the plan's delivery work, one resource's after another in plan order and resources at
/// once; once `stop` is set, or a save failed, no new work starts.
pub(crate) async fn deliver(
    plan: &Plan,
    ledger: &Ledger<'_>,
    client: &Client,
    stop: &AtomicBool,
    parallelism: usize,
    on_event: &(dyn Fn(Event<'_>) + Sync),
) -> Result<Delivered, StateError> {
    let mut by_address: BTreeMap<&Address, Vec<&DeliveryChange>> = BTreeMap::new();
    for d in &plan.delivery {
        by_address.entry(&d.address).or_default().push(d);
    }
    let results: Vec<Result<Delivered, StateError>> = stream::iter(by_address)
        .map(|(address, work)| async move {
            let mut delivered = Delivered::default();
            for d in work {
                if stop.load(Ordering::SeqCst) || ledger.is_broken() {
                    let why = "not started: the apply was interrupted".to_owned();
                    delivered.pending.push((address.clone(), why));
                    continue;
                }
                let ctx = Context { plan, ledger, client, stop, on_event };
                match ctx.one(d).await {
                    Ok(Outcome::Done) => delivered.done += 1,
                    Ok(Outcome::Later(why)) => delivered.pending.push((address.clone(), why)),
                    Err(Failure::Delivery(e)) => delivered.failed.push((address.clone(), e)),
                    Err(Failure::State(e)) => return Err(e),
                }
            }
            Ok(delivered)
        })
        .buffer_unordered(parallelism.max(1))
        .collect()
        .await;
    let mut total = Delivered::default();
    for r in results {
        let r = r?;
        total.done += r.done;
        total.failed.extend(r.failed);
        total.pending.extend(r.pending);
    }
    total.failed.sort_by(|a, b| a.0.cmp(&b.0));
    total.pending.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(total)
}

enum Outcome {
    Done,
    /// Left for a later apply, with why.
    Later(String),
}

enum Failure {
    Delivery(DeliveryError),
    State(StateError),
}

impl From<StateError> for Failure {
    fn from(e: StateError) -> Self {
        Failure::State(e)
    }
}

impl From<DeliveryError> for Failure {
    fn from(e: DeliveryError) -> Self {
        Failure::Delivery(e)
    }
}

struct Context<'a, 'l> {
    plan: &'a Plan,
    ledger: &'a Ledger<'l>,
    client: &'a Client,
    stop: &'a AtomicBool,
    on_event: &'a (dyn Fn(Event<'_>) + Sync),
}

impl Context<'_, '_> {
    async fn one(&self, d: &DeliveryChange) -> Result<Outcome, Failure> {
        let address = &d.address;
        let Some(record) = self.ledger.read(|s| s.resources.get(address).cloned()) else {
            return Ok(Outcome::Later("no certificate is recorded for it".to_owned()));
        };
        if record.status != CertStatus::Issued {
            return Ok(Outcome::Later(format!(
                "its certificate {} is not issued yet ({})",
                record.certificate_id, record.status
            )));
        }
        match &d.work {
            DeliveryWork::Deploy { from, to, target } => {
                // The plan's certificate, or the one this apply applied for in its place.
                let to = to.clone().unwrap_or_else(|| record.certificate_id.clone());
                if to != record.certificate_id || record.succeeds.as_deref() != Some(from.as_str())
                {
                    return Ok(Outcome::Later(format!(
                        "its certificate is now {} and no longer follows {from}",
                        record.certificate_id
                    )));
                }
                let existing = record.deployments.iter().find(|x| &x.from == from && x.to == to);
                let deployment = match existing {
                    Some(x) if &x.target == target => x.clone(),
                    _ => Deployment {
                        from: from.clone(),
                        to,
                        target: target.clone(),
                        record_id: None,
                        started_at: Utc::now(),
                        finished_at: None,
                        resources: Vec::new(),
                    },
                };
                self.deploy(address, deployment, existing.is_some_and(|x| &x.target == target))
                    .await
            }
            DeliveryWork::Resume { from, to, .. } => {
                let Some(existing) =
                    record.deployments.iter().find(|x| &x.from == from && &x.to == to)
                else {
                    return Ok(Outcome::Later("the deployment is no longer recorded".to_owned()));
                };
                self.deploy(address, existing.clone(), true).await
            }
            DeliveryWork::Retry { from, to, .. } => {
                let Some(existing) =
                    record.deployments.iter().find(|x| &x.from == from && &x.to == to)
                else {
                    return Ok(Outcome::Later("the deployment is no longer recorded".to_owned()));
                };
                self.retry(address, existing.clone()).await
            }
            DeliveryWork::Export { path, .. } => {
                let Some(spec) = self.spec(address, path) else {
                    return Ok(Outcome::Later("the export is no longer declared".to_owned()));
                };
                self.export(address, &record, spec).await
            }
            DeliveryWork::Hook { path, .. } => {
                let (Some(spec), Some(written)) =
                    (self.spec(address, path), record.exports.iter().find(|e| &e.path == path))
                else {
                    return Ok(Outcome::Later("the export is no longer declared".to_owned()));
                };
                self.hook(address, &record, spec, written.clone(), None).await
            }
        }
    }

    fn spec(&self, address: &Address, path: &Path) -> Option<&ExportSpec> {
        let change = self.plan.changes.iter().find(|c| &c.address == address)?;
        change.delivery.exports.iter().find(|e| e.path == path)
    }

    /// Asks for the deployment task (unless it was given an id already), then follows it.
    /// `asked_before` says the task may have been asked for by an earlier run whose answer
    /// was lost: it is looked for first.
    async fn deploy(
        &self,
        address: &Address,
        mut d: Deployment,
        asked_before: bool,
    ) -> Result<Outcome, Failure> {
        if d.record_id.is_none() {
            let found = if asked_before { self.find_task(&d).await? } else { None };
            let id = match found {
                Some(id) => id,
                None => {
                    // Journal first: a crash or a lost answer after this line is found again by
                    // the next run, which looks for the task before asking for another.
                    self.ledger
                        .record(Step::Deploy {
                            address: address.clone(),
                            deployment: Box::new(d.clone()),
                        })
                        .await?;
                    match self.request_task(&d).await {
                        Ok(Some(id)) => id,
                        Ok(None) => {
                            return Ok(Outcome::Later(
                                "the deployment task is still being created; the next apply follows it"
                                    .to_owned(),
                            ));
                        }
                        Err(e) if e.proves_nothing_done() => {
                            return Err(DeliveryError::Deploy { id: d.to.clone(), error: e }.into());
                        }
                        // It may have created the task: look before anything else.
                        Err(e) => match self.find_task(&d).await? {
                            Some(id) => id,
                            None => {
                                return Err(
                                    DeliveryError::Deploy { id: d.to.clone(), error: e }.into()
                                );
                            }
                        },
                    }
                }
            };
            d.record_id = Some(id);
            self.save_deployment(address, &d).await?;
        }
        self.follow(address, d).await
    }

    /// Finds the task of an earlier request for `d`'s move, when there is one.
    async fn find_task(&self, d: &Deployment) -> Result<Option<u64>, Failure> {
        let tasks = self
            .client
            .deploy_records(&d.to, &d.from)
            .await
            .map_err(|error| DeliveryError::Lookup { id: d.to.clone(), error })?;
        Ok(tasks.into_iter().map(|t| t.id).filter(|id| *id > 0).max())
    }

    /// Asks for the task until the API gives its id (it answers 0 while creating it).
    async fn request_task(&self, d: &Deployment) -> Result<Option<u64>, ProviderError> {
        for attempt in 0..CREATE_ATTEMPTS {
            if attempt > 0 {
                tokio::time::sleep(CREATE_INTERVAL).await;
            }
            let requested =
                self.client.update_certificate_instance(&d.from, &d.to, &d.target).await?;
            if requested.record_id > 0 {
                return Ok(Some(requested.record_id));
            }
        }
        Ok(None)
    }

    /// Retries the failed resources of a deployment that ended, then follows it.
    async fn retry(&self, address: &Address, mut d: Deployment) -> Result<Outcome, Failure> {
        let Some(id) = d.record_id else { return self.deploy(address, d, true).await };
        // What failed may have been retried already by a run whose record was lost: read the
        // task first, and retry only what still failed.
        let progress = self
            .client
            .deploy_record_detail(id)
            .await
            .map_err(|error| DeliveryError::Lookup { id: d.to.clone(), error })?;
        d.resources = progress.resources;
        if d.failed().next().is_some() {
            self.client
                .retry_deploy_record(id)
                .await
                .map_err(|error| DeliveryError::Deploy { id: d.to.clone(), error })?;
        }
        d.finished_at = None;
        self.save_deployment(address, &d).await?;
        self.follow(address, d).await
    }

    /// Reads the task until no resource is pending or deploying, recording what it sees.
    async fn follow(&self, address: &Address, mut d: Deployment) -> Result<Outcome, Failure> {
        let Some(id) = d.record_id else {
            return Ok(Outcome::Later("the deployment has no task id yet".to_owned()));
        };
        let started = Instant::now();
        let mut shown = None;
        loop {
            let progress = self
                .client
                .deploy_record_detail(id)
                .await
                .map_err(|error| DeliveryError::Lookup { id: d.to.clone(), error })?;
            let total = progress.resources.len();
            let done = progress.resources.iter().filter(|r| !r.status.in_progress()).count();
            let finished = done == total;
            d.resources = progress.resources;
            if shown != Some(done) {
                shown = Some(done);
                (self.on_event)(Event::Deploying { address, record_id: id, total, done });
            }
            if finished {
                d.finished_at = Some(Utc::now());
                self.save_deployment(address, &d).await?;
                (self.on_event)(Event::Deployed { address, deployment: &d });
                let failed: Vec<String> =
                    d.failed().map(|r| format!("{r}: {}", describe_failure(r))).collect();
                if failed.is_empty() {
                    self.delete_replaced(address, &d.from).await?;
                    return Ok(Outcome::Done);
                }
                return Err(DeliveryError::Resources { id: d.to.clone(), failed }.into());
            }
            if started.elapsed() > FOLLOW_LIMIT {
                self.save_deployment(address, &d).await?;
                return Ok(Outcome::Later(format!(
                    "deployment {id} is still running after {} minutes; the next apply follows it",
                    FOLLOW_LIMIT.as_secs() / 60
                )));
            }
            if crate::wait::interruptible_sleep(FOLLOW_INTERVAL, self.stop).await {
                self.save_deployment(address, &d).await?;
                return Ok(Outcome::Later(format!(
                    "interrupted while deployment {id} runs; the next apply follows it"
                )));
            }
        }
    }

    /// Deletes the certificate a replacement kept (deposed) until its cloud resources moved.
    async fn delete_replaced(&self, address: &Address, id: &str) -> Result<(), StateError> {
        let kept = self
            .ledger
            .read(|s| s.deposed.iter().any(|d| &d.address == address && d.certificate_id == id));
        if !kept {
            return Ok(());
        }
        let step = match crate::apply::delete(self.client, id).await {
            Ok(()) => Step::Deleted { id: id.to_owned() },
            Err(e) => Step::DeleteFailed { id: id.to_owned(), error: e.to_string() },
        };
        self.ledger.record(step).await
    }

    async fn save_deployment(&self, address: &Address, d: &Deployment) -> Result<(), StateError> {
        let deployment = Box::new(d.clone());
        self.ledger.record(Step::Deploy { address: address.clone(), deployment }).await
    }

    /// Writes the certificate's PEM files at the export's path, records them, and runs the hook.
    async fn export(
        &self,
        address: &Address,
        record: &ResourceState,
        spec: &ExportSpec,
    ) -> Result<Outcome, Failure> {
        let id = &record.certificate_id;
        let failed = |error: String| DeliveryError::Export { path: spec.path.clone(), error };
        let pems = self
            .client
            .certificate_pems(id)
            .await
            .map_err(|e| failed(format!("cannot read the certificate {id}: {e}")))?;
        let Some(key) = &pems.private_key else {
            return Err(failed(format!(
                "the cloud holds no private key for {id} (its CSR was not generated by Tencent Cloud)"
            ))
            .into());
        };
        let expected =
            certplan_export::Expected { domain: &record.args.domain, not_after: record.not_after };
        let checked = certplan_export::check(&pems.chain, key, &expected).map_err(|e| {
            failed(format!("the certificate {id} as downloaded is not usable: {e}"))
        })?;
        let path = spec.path.clone();
        let written = {
            let (path, checked) = (path.clone(), checked.clone());
            tokio::task::spawn_blocking(move || certplan_export::write(&path, &checked))
                .await
                .map_err(|e| failed(e.to_string()))?
                .map_err(|e| failed(e.to_string()))?
        };
        let previous = record.exports.iter().find(|e| e.path == spec.path);
        let old = previous.map(|e| e.certificate_id.clone()).filter(|old| old != id);
        let export = ExportRecord {
            path,
            certificate_id: id.clone(),
            fingerprint: checked.fingerprint().to_owned(),
            files: written,
            written_at: Utc::now(),
            hook: None,
        };
        self.ledger
            .record(Step::Export { address: address.clone(), export: Box::new(export.clone()) })
            .await?;
        (self.on_event)(Event::Exported { address, path: &spec.path, id });
        self.hook(address, record, spec, export, old).await
    }

    /// Runs the export's `on_change` hook, if it has one, and records how it ended. A hook that
    /// failed runs again on the next apply; the files stay.
    async fn hook(
        &self,
        address: &Address,
        record: &ResourceState,
        spec: &ExportSpec,
        mut export: ExportRecord,
        old: Option<String>,
    ) -> Result<Outcome, Failure> {
        let Some(command) = &spec.on_change else { return Ok(Outcome::Done) };
        let path = std::path::absolute(&spec.path).unwrap_or_else(|_| spec.path.clone());
        let env = certplan_export::hook_env(&certplan_export::HookEnv {
            address: &address.to_string(),
            domain: &record.args.domain,
            certificate_id: &record.certificate_id,
            old_certificate_id: old.as_deref(),
            export_path: &path,
            not_after: record.not_after.unwrap_or_else(Utc::now),
        });
        let hook = certplan_export::Hook {
            command,
            dir: Path::new("."),
            timeout: spec.on_change_timeout,
            env,
        };
        let on_line = |stream, line: &str| {
            (self.on_event)(Event::HookOutput { address, stream, line });
        };
        let outcome = certplan_export::run_hook(&hook, &on_line).await;
        let error = outcome.as_ref().err().map(ToString::to_string);
        export.hook = Some(HookOutcome { ran_at: Utc::now(), error: error.clone() });
        self.ledger
            .record(Step::Export { address: address.clone(), export: Box::new(export) })
            .await?;
        (self.on_event)(Event::HookRan { address, path: &spec.path, error: error.as_deref() });
        match error {
            None => Ok(Outcome::Done),
            Some(error) => Err(DeliveryError::Hook { path: spec.path.clone(), error }.into()),
        }
    }
}

fn describe_failure(r: &certplan_core::DeployedResource) -> String {
    r.error.clone().unwrap_or_else(|| r.status.name().to_owned())
}

/// Reads what is on disk at every recorded export's path, for the planner.
pub fn inspect_exports(state: &certplan_state::State) -> certplan_core::ExportsSeen {
    state
        .resources
        .values()
        .flat_map(|r| &r.exports)
        .map(|e| (e.path.clone(), certplan_export::inspect(&e.path, e)))
        .collect()
}
