//! Certificate delivery: the cloud resources bound to certificates ([`Binding`]) and the deploy
//! tasks that move them (`UpdateCertificateInstance`, `DeployCertificateInstance`, their retry
//! and rollback), persisted with the certificates, each account's apart. It owns the task
//! model and how a task progresses; what the API answers lives in `api::deploy` and
//! `api::records`.
//!
//! A task deploys its resources one after another: each detail waits (status 0), deploys (3)
//! for one `deploy_step`, then succeeds (1: the resource now serves the task's certificate) or
//! fails (2: the resource is unchanged, `ErrorMsg` says why). Progress is measured on the
//! monotonic clock from the task's start, not on the sandbox's clock, which tests may hold
//! still; a task loaded from disk mid-run starts its unfinished details again. A resource
//! fails when the control API asked it to ([`Binding::fail_next`]) or by the
//! `deploy_failure_rate` fault.

mod binding;

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use rand::Rng;
use serde::{Deserialize, Serialize};

pub(crate) use binding::DEPLOYABLE_RESOURCE_TYPES;
pub use binding::{Binding, TargetError, is_regional, is_resource_type, resource_types};

use crate::{Account, Sandbox, StoreError};

/// A detail's `Status` as the API reports it.
pub mod detail_status {
    pub const TO_DEPLOY: u8 = 0;
    pub const SUCCEEDED: u8 = 1;
    pub const FAILED: u8 = 2;
    pub const DEPLOYING: u8 = 3;
}
use detail_status::{DEPLOYING, FAILED, SUCCEEDED, TO_DEPLOY};

/// What started a task.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum TaskKind {
    /// `UpdateCertificateInstance`: the old certificate's resources move to the new one.
    Update,
    /// `DeployCertificateInstance`: named resources take the certificate.
    Deploy,
    /// `UpdateCertificateRecordRollback`: an update's resources move back.
    Rollback,
}

/// A deploy task and its details, one per resource.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DeployTask {
    /// The `DeployRecordId`.
    pub id: u64,
    pub kind: TaskKind,
    /// The certificate the resources served (`OldCertId`); none for a `Deploy`.
    pub old_certificate_id: Option<String>,
    /// The certificate the resources are to serve (`CertId`).
    pub certificate_id: String,
    pub resource_types: Vec<String>,
    /// The regions asked for, by region-scoped type.
    pub regions: BTreeMap<String, Vec<String>>,
    pub create_time: DateTime<Utc>,
    pub details: Vec<DeployDetail>,
    /// The details being deployed now, in order; not persisted (an `Instant` means nothing in
    /// another process).
    #[serde(skip)]
    run: Option<Run>,
}

/// One resource of a task.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DeployDetail {
    /// The detail's id (`DeployRecordDetailId`).
    pub id: u64,
    /// The resource as it was when the task started (its `CertificateId` is the one it
    /// served then, empty if none).
    pub resource: Binding,
    /// See [`detail_status`].
    pub status: u8,
    pub error_msg: Option<String>,
    pub create_time: DateTime<Utc>,
    pub update_time: DateTime<Utc>,
}

impl DeployDetail {
    fn is_final(&self) -> bool {
        !matches!(self.status, TO_DEPLOY | DEPLOYING)
    }
}

impl DeployTask {
    /// Tells whether some resource is still to deploy or deploying.
    pub fn is_running(&self) -> bool {
        self.details.iter().any(|d| !d.is_final())
    }

    /// Returns the task's status as `DescribeHostUpdateRecord` reports it: 0 nothing started,
    /// 3 deploying, 1 every resource succeeded (or there were none), 2 finished with failures.
    pub fn status(&self) -> u8 {
        if self.is_running() {
            if self.details.iter().all(|d| d.status == TO_DEPLOY) { TO_DEPLOY } else { DEPLOYING }
        } else if self.details.iter().any(|d| d.status == FAILED) {
            FAILED
        } else {
            SUCCEEDED
        }
    }

    /// Returns when anything about the task last changed.
    pub fn update_time(&self) -> DateTime<Utc> {
        self.details.iter().map(|d| d.update_time).fold(self.create_time, DateTime::max)
    }
}

/// The details deploying now: in `order`, one per `deploy_step` from `started`.
#[derive(Debug, Clone)]
struct Run {
    started: Instant,
    started_at: DateTime<Utc>,
    order: Vec<u64>,
}

/// A moment on both clocks: the monotonic one that paces tasks and the sandbox's, which dates
/// what the API reports.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Moment {
    pub instant: Instant,
    pub at: DateTime<Utc>,
}

impl Moment {
    /// Pairs the sandbox's time `at` with the monotonic clock's now.
    pub(crate) fn at(at: DateTime<Utc>) -> Self {
        Moment { instant: Instant::now(), at }
    }
}

/// What an `UpdateCertificateInstance` asks for: which certificates, and for each resource
/// type the regions (empty for types without regions).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct UpdateKey {
    pub old_certificate_id: String,
    pub certificate_id: String,
    pub targets: BTreeMap<String, BTreeSet<String>>,
}

/// Why a task cannot be retried or rolled back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum TaskError {
    NotFound(u64),
    Running(u64),
    NothingFailed(u64),
    NothingSucceeded(u64),
}

/// The bindings and tasks, as the store persists them.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(default)]
pub(crate) struct DeployState {
    next_binding_id: u64,
    bindings: BTreeMap<u64, Binding>,
    next_task_id: u64,
    next_detail_id: u64,
    tasks: BTreeMap<u64, DeployTask>,
    /// Updates answered with `DeployRecordId` 0, whose task the next identical call creates.
    pending_updates: Vec<UpdateKey>,
    /// The bind-resource queries (`CreateCertificateBindResourceSyncTask`), by task id.
    bind_queries: BTreeMap<u64, BindQuery>,
    next_bind_query: u64,
}

/// A query of where a certificate is bound: what the bindings were when it was asked, and
/// whether it has been read yet (the first read answers "still querying", as the service's
/// asynchronous task does at first).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct BindQuery {
    pub(crate) certificate_id: String,
    pub(crate) asked_at: DateTime<Utc>,
    pub(crate) bound: Vec<Binding>,
    pub(crate) read: bool,
    /// Ends failed (the `bind_query_failure_rate` fault).
    #[serde(default)]
    pub(crate) fails: bool,
}

impl DeployState {
    /// Returns every binding, in the order they were made.
    pub(crate) fn bindings(&self) -> impl Iterator<Item = &Binding> {
        self.bindings.values()
    }

    /// Returns the binding of the same resource as `resource`, if any.
    pub(crate) fn binding_of(&self, resource: &Binding) -> Option<&Binding> {
        self.bindings.values().find(|b| b.same_resource(resource))
    }

    /// Points `resource` at `certificate_id`, binding it first if it was not.
    pub(crate) fn bind(&mut self, resource: Binding, certificate_id: &str) -> Binding {
        let id = match self.binding_of(&resource) {
            Some(existing) => existing.id,
            None => {
                self.next_binding_id += 1;
                let id = self.next_binding_id;
                self.bindings.insert(id, Binding { id, fail_next: 0, ..resource });
                id
            }
        };
        let binding = self.bindings.get_mut(&id).expect("just found or inserted");
        binding.certificate_id = certificate_id.to_owned();
        binding.clone()
    }

    /// Starts a query of where `certificate_id` is bound (one that `fails`, ends failed); with
    /// `cached`, a query of it made in the last 30 minutes answers instead (what it found
    /// then), as the service does.
    pub(crate) fn query_bindings(
        &mut self,
        certificate_id: &str,
        cached: bool,
        now: DateTime<Utc>,
        fails: bool,
    ) -> u64 {
        let recent = |q: &BindQuery| {
            q.certificate_id == certificate_id && now - q.asked_at < chrono::Duration::minutes(30)
        };
        if cached && let Some((id, _)) = self.bind_queries.iter().rev().find(|(_, q)| recent(q)) {
            return *id;
        }
        self.next_bind_query += 1;
        let bound =
            self.bindings().filter(|b| b.certificate_id == certificate_id).cloned().collect();
        let query = BindQuery {
            certificate_id: certificate_id.to_owned(),
            asked_at: now,
            bound,
            read: false,
            fails,
        };
        self.bind_queries.insert(self.next_bind_query, query);
        self.next_bind_query
    }

    /// Reads a bind-resource query: `None` when no such task exists.
    pub(crate) fn read_bind_query(&mut self, id: u64) -> Option<BindQuery> {
        let query = self.bind_queries.get_mut(&id)?;
        let answer = query.clone();
        query.read = true;
        Some(answer)
    }

    pub(crate) fn binding_mut(&mut self, id: u64) -> Option<&mut Binding> {
        self.bindings.get_mut(&id)
    }

    /// Returns the tasks, oldest first.
    pub(crate) fn tasks(&self) -> impl DoubleEndedIterator<Item = &DeployTask> {
        self.tasks.values()
    }

    pub(crate) fn task(&self, id: u64) -> Option<&DeployTask> {
        self.tasks.get(&id)
    }

    /// Answers an `UpdateCertificateInstance` as the service does: `(DeployRecordId,
    /// DeployStatus)`. A running update between the same certificates answers its id with
    /// status 0. Otherwise the first call is answered with id 0 (the task is being created) and
    /// the next identical one creates the task — its resources those of the requested types
    /// and regions serving the old certificate now — answering its id with status 1.
    pub(crate) fn update(&mut self, key: UpdateKey, now: Moment) -> (u64, u8) {
        let running = self.tasks.values().rev().find(|t| {
            t.kind == TaskKind::Update
                && t.old_certificate_id.as_ref() == Some(&key.old_certificate_id)
                && t.certificate_id == key.certificate_id
                && t.is_running()
        });
        if let Some(task) = running {
            return (task.id, 0);
        }
        let Some(pending) = self.pending_updates.iter().position(|k| *k == key) else {
            self.pending_updates.push(key);
            return (0, 1);
        };
        let key = self.pending_updates.remove(pending);
        let mut resources: Vec<Binding> = self
            .bindings
            .values()
            .filter(|b| {
                b.certificate_id == key.old_certificate_id
                    && key.targets.get(&b.resource_type).is_some_and(|regions| {
                        regions.is_empty() || b.region.as_ref().is_some_and(|r| regions.contains(r))
                    })
            })
            .cloned()
            .collect();
        resources.sort_by(|a, b| (&a.resource_type, a.id).cmp(&(&b.resource_type, b.id)));
        let id = self.create(
            TaskKind::Update,
            Some(key.old_certificate_id),
            key.certificate_id,
            &key.targets,
            resources,
            now,
        );
        (id, 1)
    }

    /// Starts a `DeployCertificateInstance` task putting `certificate_id` on `targets` (all of
    /// one type); returns its id.
    pub(crate) fn deploy(
        &mut self,
        certificate_id: &str,
        targets: Vec<Binding>,
        now: Moment,
    ) -> u64 {
        let mut types: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        let resources: Vec<Binding> = targets
            .into_iter()
            .map(|target| {
                types
                    .entry(target.resource_type.clone())
                    .or_default()
                    .extend(target.region.clone());
                self.binding_of(&target).cloned().unwrap_or(target)
            })
            .collect();
        self.create(TaskKind::Deploy, None, certificate_id.to_owned(), &types, resources, now)
    }

    /// Runs the failed details of a task of one of `kinds` again (only `detail` when given),
    /// from now; returns the task's id.
    pub(crate) fn retry(
        &mut self,
        kinds: &[TaskKind],
        record: Option<u64>,
        detail: Option<u64>,
        now: Moment,
    ) -> Result<u64, TaskError> {
        let wanted = record.or(detail).unwrap_or(0);
        let task = match record {
            Some(id) => self.tasks.get_mut(&id),
            None => {
                self.tasks.values_mut().find(|t| t.details.iter().any(|d| Some(d.id) == detail))
            }
        }
        .filter(|t| kinds.contains(&t.kind))
        .ok_or(TaskError::NotFound(wanted))?;
        if task.is_running() {
            return Err(TaskError::Running(task.id));
        }
        let mut order = Vec::new();
        for d in &mut task.details {
            if d.status == FAILED && detail.is_none_or(|id| id == d.id) {
                d.status = TO_DEPLOY;
                d.error_msg = None;
                d.update_time = now.at;
                order.push(d.id);
            }
        }
        if order.is_empty() {
            return Err(TaskError::NothingFailed(task.id));
        }
        task.run = Some(Run { started: now.instant, started_at: now.at, order });
        Ok(task.id)
    }

    /// Starts a task moving the resources an update moved back to its old certificate;
    /// returns the new task's id.
    pub(crate) fn rollback(&mut self, record: u64, now: Moment) -> Result<u64, TaskError> {
        let task = self
            .tasks
            .get(&record)
            .filter(|t| t.kind != TaskKind::Deploy)
            .ok_or(TaskError::NotFound(record))?;
        if task.is_running() {
            return Err(TaskError::Running(record));
        }
        let Some(old) = task.old_certificate_id.clone() else {
            return Err(TaskError::NotFound(record));
        };
        let new = task.certificate_id.clone();
        let resources: Vec<Binding> = task
            .details
            .iter()
            .filter(|d| d.status == SUCCEEDED)
            .filter_map(|d| self.binding_of(&d.resource))
            .filter(|b| b.certificate_id == new)
            .cloned()
            .collect();
        if resources.is_empty() {
            return Err(TaskError::NothingSucceeded(record));
        }
        let targets = task
            .resource_types
            .iter()
            .map(|t| (t.clone(), task.regions.get(t).into_iter().flatten().cloned().collect()))
            .collect();
        Ok(self.create(TaskKind::Rollback, Some(new), old, &targets, resources, now))
    }

    fn create(
        &mut self,
        kind: TaskKind,
        old_certificate_id: Option<String>,
        certificate_id: String,
        targets: &BTreeMap<String, BTreeSet<String>>,
        resources: Vec<Binding>,
        now: Moment,
    ) -> u64 {
        self.next_task_id += 1;
        let id = self.next_task_id;
        let details: Vec<DeployDetail> = resources
            .into_iter()
            .map(|resource| {
                self.next_detail_id += 1;
                DeployDetail {
                    id: self.next_detail_id,
                    resource,
                    status: TO_DEPLOY,
                    error_msg: None,
                    create_time: now.at,
                    update_time: now.at,
                }
            })
            .collect();
        let order: Vec<u64> = details.iter().map(|d| d.id).collect();
        let run =
            (!order.is_empty()).then_some(Run { started: now.instant, started_at: now.at, order });
        let regions = targets
            .iter()
            .filter(|(_, regions)| !regions.is_empty())
            .map(|(t, regions)| (t.clone(), regions.iter().cloned().collect()))
            .collect();
        self.tasks.insert(
            id,
            DeployTask {
                id,
                kind,
                old_certificate_id,
                certificate_id,
                resource_types: targets.keys().cloned().collect(),
                regions,
                create_time: now.at,
                details,
                run,
            },
        );
        id
    }

    /// Moves every running task forward to `now`: one detail per `step`, each succeeding or
    /// failing as it ends. Returns whether anything changed.
    pub(crate) fn advance(&mut self, now: Moment, step: Duration, failure_rate: f64) -> bool {
        let DeployState { bindings, tasks, next_binding_id, .. } = self;
        let mut changed = false;
        for task in tasks.values_mut() {
            let DeployTask { kind, certificate_id, details, run, .. } = task;
            if run.is_none() {
                // Loaded from disk mid-run: the monotonic start is lost, so start over what
                // was unfinished.
                let order: Vec<u64> =
                    details.iter().filter(|d| !d.is_final()).map(|d| d.id).collect();
                if order.is_empty() {
                    continue;
                }
                *run = Some(Run { started: now.instant, started_at: now.at, order });
            }
            let Some(current) = run.as_ref() else { continue };
            let elapsed = now.instant.saturating_duration_since(current.started);
            let mut finished = true;
            for (n, detail_id) in current.order.iter().enumerate() {
                let Some(detail) = details.iter_mut().find(|d| d.id == *detail_id) else {
                    continue;
                };
                if detail.is_final() {
                    continue;
                }
                let begin = step.saturating_mul(u32::try_from(n).unwrap_or(u32::MAX));
                let end = begin.saturating_add(step);
                let at = |offset: Duration| {
                    current.started_at + chrono::Duration::from_std(offset).unwrap_or_default()
                };
                if elapsed >= end {
                    settle(detail, *kind, certificate_id, bindings, next_binding_id, failure_rate);
                    detail.update_time = at(end);
                    changed = true;
                    continue;
                }
                finished = false;
                if elapsed >= begin && detail.status != DEPLOYING {
                    detail.status = DEPLOYING;
                    detail.update_time = at(begin);
                    changed = true;
                }
                // One resource at a time: the ones after this have not started.
                break;
            }
            if finished {
                *run = None;
            }
        }
        changed
    }
}

/// Ends a detail's deployment: the resource takes `certificate_id`, or the attempt fails and
/// leaves it as it was.
fn settle(
    detail: &mut DeployDetail,
    kind: TaskKind,
    certificate_id: &str,
    bindings: &mut BTreeMap<u64, Binding>,
    next_binding_id: &mut u64,
    failure_rate: f64,
) {
    let existing = bindings.values().find(|b| b.same_resource(&detail.resource)).map(|b| b.id);
    let failure = match existing.and_then(|id| bindings.get_mut(&id)) {
        Some(binding) if binding.fail_next > 0 => {
            binding.fail_next -= 1;
            Some(binding.failure_message())
        }
        _ if failure_rate > 0.0 && rand::rng().random_bool(failure_rate) => {
            Some(detail.resource.failure_message())
        }
        Some(binding) => {
            binding.certificate_id = certificate_id.to_owned();
            None
        }
        // A resource named to `DeployCertificateInstance` is bound by deploying to it.
        None if kind == TaskKind::Deploy => {
            *next_binding_id += 1;
            let id = *next_binding_id;
            let certificate_id = certificate_id.to_owned();
            bindings.insert(
                id,
                Binding { id, certificate_id, fail_next: 0, ..detail.resource.clone() },
            );
            None
        }
        None => Some(format!(
            "{} instance {} no longer exists. (ResourceNotFound)",
            detail.resource.resource_type, detail.resource.instance
        )),
    };
    detail.status = if failure.is_some() { FAILED } else { SUCCEEDED };
    detail.error_msg = failure;
}

/// Why the control API cannot bind a resource or make its deployments fail.
#[derive(Debug, thiserror::Error)]
pub enum BindError {
    #[error(transparent)]
    Target(#[from] TargetError),
    #[error("certificate {0} does not exist")]
    CertificateNotFound(String),
    #[error("certificate {id} has status {status}: only an issued certificate can be bound")]
    NotIssued { id: String, status: i64 },
    #[error("binding {0} does not exist")]
    BindingNotFound(u64),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl Sandbox {
    /// Binds a cloud resource to a certificate, in whichever account holds it, as deploying it
    /// in the console would: the resource of `resource_type` in `region` named `instance` as
    /// `InstanceIdList` names it (`lb-1|lbl-2` for a CLB listener, `www.example.com` for a CDN
    /// domain…). A resource bound already is repointed. Returns the binding.
    pub fn bind(
        &self,
        certificate_id: &str,
        resource_type: &str,
        region: Option<&str>,
        instance: &str,
    ) -> Result<Binding, BindError> {
        let resource = Binding::parse(resource_type, region, instance)?;
        let not_found = || BindError::CertificateNotFound(certificate_id.to_owned());
        let (mut store, now) = self.advanced()?;
        let holder = store.holder_of(certificate_id).ok_or_else(not_found)?.to_owned();
        let account = store.account_mut(&holder);
        let cert = account.get(certificate_id).ok_or_else(not_found)?;
        if !cert.is_downloadable(now) {
            let status = cert.status_at(now);
            return Err(BindError::NotIssued { id: certificate_id.to_owned(), status });
        }
        let binding = account.deploy.bind(resource, certificate_id);
        self.persist(&store)?;
        Ok(binding)
    }

    /// Returns the bindings of certificate `certificate_id`, in whichever account holds it, or
    /// with `None` all the first account's, in the order they were made.
    pub fn bindings(&self, certificate_id: Option<&str>) -> Result<Vec<Binding>, StoreError> {
        let Some(id) = certificate_id else { return self.first_account().bindings(None) };
        let (store, _) = self.advanced()?;
        let holder = store.holder_of(id).and_then(|holder| store.account(holder));
        let bound = holder.into_iter().flat_map(|data| data.deploy.bindings());
        Ok(bound.filter(|b| b.certificate_id == id).cloned().collect())
    }
}

impl Account<'_> {
    /// Returns the account's bindings, of one certificate or all, in the order they were made.
    pub fn bindings(&self, certificate_id: Option<&str>) -> Result<Vec<Binding>, StoreError> {
        let (store, _) = self.advanced()?;
        Ok(store
            .deploy
            .bindings()
            .filter(|b| certificate_id.is_none_or(|id| b.certificate_id == id))
            .cloned()
            .collect())
    }

    /// Makes the next `count` deploy attempts on the account's binding `binding_id` fail,
    /// whatever task makes them; returns the binding.
    pub fn fail_next_deploys(&self, binding_id: u64, count: u32) -> Result<Binding, BindError> {
        let (mut store, _) = self.advanced()?;
        let binding =
            store.deploy.binding_mut(binding_id).ok_or(BindError::BindingNotFound(binding_id))?;
        binding.fail_next = count;
        let binding = binding.clone();
        self.persist(&store)?;
        Ok(binding)
    }

    /// Returns every deploy task the account's requests created, oldest first, with its
    /// details as they are now.
    pub fn deploy_tasks(&self) -> Result<Vec<DeployTask>, StoreError> {
        let (store, _) = self.advanced()?;
        Ok(store.deploy.tasks().cloned().collect())
    }
}

#[cfg(test)]
mod tests;
