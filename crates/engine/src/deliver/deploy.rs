//! Delivery to Tencent Cloud resources: a deployment task (`UpdateCertificateInstance`) moves
//! the resources of a replaced certificate to its successor, and is followed to its end.
//!
//! A deployment task is not idempotent in effect: asked for twice, the service may create two
//! tasks. So, as with applications, the task is recorded (without its id) before it is asked
//! for; a run that finds such a record looks for the task before asking again.

use certplan_core::{Address, CertificateId, DeployTarget, Deployment};
use certplan_provider::{Client, Error as ProviderError};
use certplan_state::{ResourceState, StateError};
use chrono::Utc;
use tokio::time::Instant;

use super::{Failure, Outcome};
use crate::error::DeliveryError;
use crate::event::Event;
use crate::run::Run;
use crate::step::Step;

/// How many times a deployment task is asked for while the API answers 0 (it is creating the
/// task, which takes seconds), `Timing::task_creation_retry` apart.
const CREATE_ATTEMPTS: u32 = 60;

impl Run<'_, '_> {
    /// Asks for the deployment task (unless it was given an id already), then follows it.
    /// `asked_before` says the task may have been asked for by an earlier run whose answer
    /// was lost: it is looked for first.
    pub(super) async fn deploy(
        &self,
        address: &Address,
        mut d: Deployment,
        asked_before: bool,
    ) -> Result<Outcome, Failure> {
        let ssl = &self.account_of(address)?.ssl;
        if d.record_id.is_none() {
            let found = if asked_before { self.find_task(ssl, &d).await? } else { None };
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
                    match self.request_task(ssl, &d).await {
                        Ok(Some(id)) => id,
                        Ok(None) => {
                            return Ok(Outcome::Later(
                                "the deployment task is still being created; the next apply follows it"
                                    .to_owned(),
                            ));
                        }
                        Err(e) if e.is_not_found() && is_gone(ssl, &d.from).await => {
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
                        Err(e) => match self.find_task(ssl, &d).await? {
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
    async fn find_task(&self, ssl: &Client, d: &Deployment) -> Result<Option<u64>, Failure> {
        let tasks = ssl
            .deploy_records(&d.to, &d.from)
            .await
            .map_err(|error| DeliveryError::Lookup { id: d.to.clone(), error })?;
        // A task for the same pair with other types is another deployment's. The task's types
        // are as the API reports them, names that may be new to certplan.
        let types: Vec<&str> = d.target.resource_types.iter().map(|t| t.name()).collect();
        Ok(tasks
            .into_iter()
            .filter(|t| {
                let mut theirs: Vec<&str> = t.resource_types.iter().map(String::as_str).collect();
                theirs.sort();
                theirs.dedup();
                theirs == types
            })
            .map(|t| t.id)
            .filter(|id| *id > 0)
            .max())
    }

    /// Asks for the task until the API gives its id (it answers 0 while creating it).
    async fn request_task(
        &self,
        ssl: &Client,
        d: &Deployment,
    ) -> Result<Option<u64>, ProviderError> {
        for attempt in 0..CREATE_ATTEMPTS {
            if attempt > 0 {
                tokio::time::sleep(self.options.timing.task_creation_retry).await;
            }
            let requested = ssl.update_certificate_instance(&d.from, &d.to, &d.target).await?;
            if requested.record_id > 0 {
                return Ok(Some(requested.record_id));
            }
        }
        Ok(None)
    }

    /// Retries the failed resources of a deployment that ended, then follows it.
    pub(super) async fn retry(
        &self,
        address: &Address,
        mut d: Deployment,
    ) -> Result<Outcome, Failure> {
        let Some(id) = d.record_id else { return self.deploy(address, d, true).await };
        // What failed may have been retried already by a run whose record was lost: read the
        // task first, and retry only what still failed.
        let ssl = &self.account_of(address)?.ssl;
        let progress = ssl
            .deploy_record_detail(id)
            .await
            .map_err(|error| DeliveryError::Lookup { id: d.to.clone(), error })?;
        d.resources = progress.resources;
        if d.failed().next().is_some() {
            ssl.retry_deploy_record(id)
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
        let ssl = &self.account_of(address)?.ssl;
        let started = Instant::now();
        let mut shown = None;
        loop {
            let progress = ssl
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
                    // A deposed one is deleted now; a predecessor serves out its days.
                    let deposed = (self.ledger)
                        .read(|s| s.deposed.iter().any(|x| x.certificate_id == d.from));
                    if !deposed {
                        self.silence_when_unused(address, ssl, &d.from).await;
                    }
                    self.delete_replaced(address, &d.from).await?;
                    return Ok(Outcome::Done);
                }
                return Err(DeliveryError::Resources { id: d.to.clone(), failed }.into());
            }
            if started.elapsed() > self.options.timing.deploy_follow_limit {
                self.save_deployment(address, &d).await?;
                return Ok(Outcome::Later(format!(
                    "deployment {id} is still running after {}; the next apply follows it",
                    humantime::format_duration(self.options.timing.deploy_follow_limit)
                )));
            }
            if self.sleep(self.options.timing.deploy_follow).await {
                self.save_deployment(address, &d).await?;
                return Ok(Outcome::Later(format!(
                    "interrupted while deployment {id} runs; the next apply follows it"
                )));
            }
        }
    }

    /// Switches off the expiry notifications of `id`, whose resources a deployment moved, once
    /// the service says nothing at all is bound to it any more (what no `deploy` block
    /// declares still needs its warnings): they are noise until it expires or is deleted.
    async fn silence_when_unused(&self, address: &Address, ssl: &Client, id: &CertificateId) {
        let ids = std::slice::from_ref(id);
        let unused = match crate::read::bindings(ssl, ids, &self.options.timing).await {
            Ok(answers) => answers.get(id).is_some_and(|b| b.as_ref().is_ok_and(Vec::is_empty)),
            Err(_) => false,
        };
        if unused {
            let silenced = ssl.set_expiry_notifications(ids, true).await;
            let error = silenced.as_ref().err();
            (self.on_event)(Event::NotificationsOff { address, id: id.as_str(), error });
        }
    }

    /// Deletes the certificate a replacement kept (deposed) until its cloud resources moved.
    async fn delete_replaced(&self, address: &Address, id: &str) -> Result<(), StateError> {
        let kept = self.ledger.read(|s| {
            let mut deposed = s.deposed.iter();
            deposed
                .find(|d| &d.address == address && d.certificate_id == id)
                .map(|d| d.provider.clone())
        });
        let Some(provider) = kept else {
            return Ok(());
        };
        let step = match self.delete_certificate(&provider, id).await {
            Ok(()) => Step::Deleted { id: id.into() },
            Err(e) => Step::DeleteFailed { id: id.into(), error: e.to_string() },
        };
        self.ledger.record(step).await
    }

    async fn save_deployment(&self, address: &Address, d: &Deployment) -> Result<(), StateError> {
        let deployment = Box::new(d.clone());
        self.ledger.record(Step::Deploy { address: address.clone(), deployment }).await
    }
}

/// Returns true when the cloud says certificate `id` does not exist.
async fn is_gone(ssl: &Client, id: &str) -> bool {
    let answer = ssl.certificate(id).await;
    answer.is_err_and(|e| e.is_not_found())
}

/// Returns the recorded deployment of `from`'s resources of `target` to `to`.
pub(super) fn find<'r>(
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
