//! Delivery: after the plan's changes (and waits for issuance), the plan's delivery work —
//! deployment tasks that move the cloud resources of a replaced certificate to its successor,
//! PEM files written and hooks run — each step recorded as it happens.
//!
//! A deployment task is not idempotent in effect: asked for twice, the service may create two
//! tasks. So, as with applications, the task is recorded (without its id) before it is asked
//! for; a run that finds such a record looks for the task before asking again.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use certplan_core::{
    Address, CertStatus, DeliveryChange, DeliveryWork, DeployTarget, Deployment, ExportReason,
    ExportRecord, ExportSpec, HookOutcome, Plan,
};
use certplan_provider::Error as ProviderError;
use certplan_state::{ResourceState, StateError};
use chrono::Utc;
use futures_util::{StreamExt, stream};

use crate::apply::Run;
use crate::ledger::Step;
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
    /// Whether an interrupt left work undone.
    pub interrupted: bool,
}

/// Deliveries run at once, per change the apply runs at once: a deployment mostly waits for
/// the cloud, and the client's pacer keeps the calls within the API's limits.
const DELIVERIES_PER_CHANGE: usize = 10;

impl Run<'_, '_> {
    /// Does the plan's delivery work as the queue releases resources: one resource's work
    /// after another in plan order, resources at once; once `stop` is set, or a save failed,
    /// no new work starts.
    pub(crate) async fn deliver(
        &self,
        released: tokio::sync::mpsc::UnboundedReceiver<Address>,
    ) -> Result<Delivered, StateError> {
        let Run { plan, ledger, stop, .. } = *self;
        let shared = shared_paths(plan);
        let shared = &shared;
        let mut by_address: BTreeMap<&Address, Vec<&DeliveryChange>> = BTreeMap::new();
        for d in &plan.delivery {
            by_address.entry(&d.address).or_default().push(d);
        }
        let by_address = &by_address;
        let released = stream::unfold(released, |mut r| async { r.recv().await.map(|a| (a, r)) });
        let results: Vec<Result<Delivered, StateError>> = released
            .map(|address| async move {
                let mut delivered = Delivered::default();
                let work = by_address.get(&address).map(Vec::as_slice).unwrap_or_default();
                let address = &address;
                for d in work {
                    if stop.load(Ordering::SeqCst) || ledger.is_broken() {
                        let why = "not started: the apply was interrupted".to_owned();
                        delivered.pending.push((address.clone(), why));
                        continue;
                    }
                    if let DeliveryWork::Export { path, .. } | DeliveryWork::Hook { path, .. } =
                        &d.work
                        && let Some(other) = shared.get(&(address.clone(), path.clone()))
                    {
                        // Two resources writing one directory would overwrite each other's files
                        // on every apply (a relative and an absolute path, or a symlink, that the
                        // configuration's own check cannot see are the same place).
                        let error = format!("{other} exports to the same directory");
                        let error = DeliveryError::Export { path: path.clone(), error };
                        delivered.failed.push((address.clone(), error));
                        continue;
                    }
                    match self.one(d).await {
                        Ok(Outcome::Done) => delivered.done += 1,
                        Ok(Outcome::Later(why)) => delivered.pending.push((address.clone(), why)),
                        Err(Failure::Delivery(e)) => delivered.failed.push((address.clone(), e)),
                        Err(Failure::State(e)) => return Err(e),
                    }
                }
                Ok(delivered)
            })
            .buffer_unordered(self.options.parallelism.max(1) * DELIVERIES_PER_CHANGE)
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
        total.interrupted = stop.load(Ordering::SeqCst) && !total.pending.is_empty();
        Ok(total)
    }
}

/// Returns the exports whose directory another resource also exports to, with that resource:
/// paths are compared where they lead (made absolute, symlinks resolved where they exist).
fn shared_paths(plan: &Plan) -> BTreeMap<(Address, std::path::PathBuf), Address> {
    let mut by_place: BTreeMap<std::path::PathBuf, Vec<(&Address, &std::path::PathBuf)>> =
        BTreeMap::new();
    for c in &plan.changes {
        for e in &c.delivery.exports {
            let place = std::fs::canonicalize(&e.path)
                .or_else(|_| std::path::absolute(&e.path))
                .unwrap_or_else(|_| e.path.clone());
            by_place.entry(place).or_default().push((&c.address, &e.path));
        }
    }
    let mut shared = BTreeMap::new();
    for claims in by_place.values() {
        for (address, path) in claims {
            if let Some((other, _)) = claims.iter().find(|(a, _)| a != address) {
                shared.insert(((*address).clone(), (*path).clone()), (*other).clone());
            }
        }
    }
    shared
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

impl Run<'_, '_> {
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
                let existing = find(&record, from, &to, target);
                let asked_before = existing.is_some();
                let deployment = existing.cloned().unwrap_or_else(|| Deployment {
                    from: from.clone(),
                    to,
                    target: target.clone(),
                    record_id: None,
                    started_at: Utc::now(),
                    finished_at: None,
                    resources: Vec::new(),
                });
                self.deploy(address, deployment, asked_before).await
            }
            DeliveryWork::Resume { from, to, target, .. } => {
                let Some(existing) = find(&record, from, to, target) else {
                    return Ok(Outcome::Later("the deployment is no longer recorded".to_owned()));
                };
                self.deploy(address, existing.clone(), true).await
            }
            DeliveryWork::Retry { from, to, target, .. } => {
                let Some(existing) = find(&record, from, to, target) else {
                    return Ok(Outcome::Later("the deployment is no longer recorded".to_owned()));
                };
                self.retry(address, existing.clone()).await
            }
            DeliveryWork::Export { path, reason } => {
                let Some(spec) = self.spec(address, path) else {
                    return Ok(Outcome::Later("the export is no longer declared".to_owned()));
                };
                // Planned for a new certificate that did not come (its application failed):
                // the files in place are not rewritten with the one they hold.
                let written = record.exports.iter().find(|e| &e.path == path);
                if let ExportReason::NewCertificate { from } = reason
                    && *from == record.certificate_id
                    && written.is_some_and(|e| e.certificate_id == *from)
                {
                    return Ok(Outcome::Later(format!(
                        "no new certificate replaced {from} in this apply"
                    )));
                }
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

    /// Returns the export declared at `path`.
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
                        Err(e)
                            if e.code() == Some("FailedOperation.CertificateNotFound")
                                && self.is_gone(&d.from).await =>
                        {
                            // Deleted since (a replacement's old certificate, once its
                            // resources moved): nothing can be bound to it any more.
                            d.finished_at = Some(Utc::now());
                            self.save_deployment(address, &d).await?;
                            (self.on_event)(Event::Deployed { address, deployment: &d });
                            return Ok(Outcome::Done);
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

    /// Returns true when the cloud says certificate `id` does not exist.
    async fn is_gone(&self, id: &str) -> bool {
        let answer = self.client.certificate(id).await;
        answer.is_err_and(|e| e.code() == Some("FailedOperation.CertificateNotFound"))
    }

    /// Finds the task of an earlier request for `d`'s move, when there is one.
    async fn find_task(&self, d: &Deployment) -> Result<Option<u64>, Failure> {
        let tasks = self
            .client
            .deploy_records(&d.to, &d.from)
            .await
            .map_err(|error| DeliveryError::Lookup { id: d.to.clone(), error })?;
        // A task for the same pair with other types is another deployment's.
        let types: Vec<&String> = d.target.resource_types.iter().collect();
        Ok(tasks
            .into_iter()
            .filter(|t| {
                let mut theirs: Vec<&String> = t.resource_types.iter().collect();
                theirs.sort();
                theirs.dedup();
                theirs == types
            })
            .map(|t| t.id)
            .filter(|id| *id > 0)
            .max())
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
            // The counts too: a task whose details are not listed yet is not an empty one.
            let finished = done == total && progress.pending == 0 && progress.running == 0;
            d.resources = progress.resources;
            if shown != Some(done) && total > 0 {
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
            // A hook that logs its environment must not print the cloud's secrets.
            env_remove: certplan_export::SECRET_ENV,
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

/// Returns the recorded deployment of `from`'s resources of `target` to `to`.
fn find<'r>(
    record: &'r ResourceState,
    from: &str,
    to: &str,
    target: &DeployTarget,
) -> Option<&'r Deployment> {
    record.deployments.iter().find(|d| d.from == from && d.to == to && &d.target == target)
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
