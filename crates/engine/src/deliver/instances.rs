//! Delivery to named instances where no certificate serves yet: a first deployment task
//! (`DeployCertificateInstance`) puts the certificate on them, and is followed to its end.
//!
//! Asked for twice, the task is not made twice: while it runs, the service answers with it,
//! and once the instances have the certificate it refuses. The deployment is recorded before it
//! is asked for, so that a run that finds it recorded and unfinished knows that a refusal of
//! the second kind means its earlier request did the work.

use certplan_core::{Address, FirstDeployment, Instances};
use certplan_state::StateError;
use chrono::Utc;
use tokio::time::Instant;

use super::{Failure, Outcome};
use crate::error::DeliveryError;
use crate::event::Event;
use crate::run::Run;
use crate::step::Step;

/// How many times a task is asked for while the API answers 0 (it is creating it).
const CREATE_ATTEMPTS: u32 = 60;

impl Run<'_, '_> {
    /// Puts `to` on `instances` (or follows the deployment asked for before), recording it.
    pub(super) async fn deploy_instances(
        &self,
        address: &Address,
        mut d: FirstDeployment,
        mut asked_before: bool,
    ) -> Result<Outcome, Failure> {
        let ssl = &self.account_of(address)?.ssl;
        let client = match &d.instances.region {
            Some(region) => ssl.in_region(region),
            None => ssl.clone(),
        };
        if d.record_id.is_none() {
            if !asked_before {
                // Journal first: a crash or a lost answer after this is asked for again
                // knowingly by the next run.
                self.save_first_deployment(address, &d).await?;
            }
            let ids: Vec<String> = d.instances.ids.iter().cloned().collect();
            let kind = d.instances.resource_type;
            let mut attempt = 0;
            let record_id = loop {
                match client.deploy_certificate_instance(&d.to, kind, &ids).await {
                    Ok(requested) if requested.record_id > 0 => break Some(requested.record_id),
                    Ok(_) if attempt + 1 < CREATE_ATTEMPTS => {
                        // Asked for now: a refusal of the next request is this one's work.
                        asked_before = true;
                        attempt += 1;
                        tokio::time::sleep(self.options.timing.task_creation_retry).await;
                    }
                    Ok(_) => {
                        return Ok(Outcome::Later(
                            "the deployment task is still being created; the next apply asks for it again"
                                .to_owned(),
                        ));
                    }
                    // The instances have the certificate: the earlier request put it there.
                    Err(e) if asked_before && e.is_deployed_already() => break None,
                    Err(error) => {
                        return Err(DeliveryError::Deploy { id: d.to.clone(), error }.into());
                    }
                }
            };
            let Some(record_id) = record_id else {
                d.finished_at = Some(Utc::now());
                self.save_first_deployment(address, &d).await?;
                (self.on_event)(Event::DeployedInstances { address, deployment: &d });
                return Ok(Outcome::Done);
            };
            d.record_id = Some(record_id);
            self.save_first_deployment(address, &d).await?;
        }
        self.follow_instances(address, &client, d).await
    }

    /// Reads the task until no instance is pending or deploying, recording what it sees.
    async fn follow_instances(
        &self,
        address: &Address,
        client: &certplan_provider::Client,
        mut d: FirstDeployment,
    ) -> Result<Outcome, Failure> {
        let Some(id) = d.record_id else {
            return Ok(Outcome::Later("the deployment has no task id yet".to_owned()));
        };
        let started = Instant::now();
        loop {
            let progress = client
                .deploy_instance_detail(id, d.instances.resource_type)
                .await
                .map_err(|error| DeliveryError::Lookup { id: d.to.clone(), error })?;
            let total = progress.resources.len();
            let done = progress.resources.iter().filter(|r| !r.status.in_progress()).count();
            let finished = total > 0 && done == total && progress.pending + progress.running == 0;
            d.resources = progress.resources;
            if finished {
                d.finished_at = Some(Utc::now());
                self.save_first_deployment(address, &d).await?;
                (self.on_event)(Event::DeployedInstances { address, deployment: &d });
                let failed: Vec<String> = (d.resources.iter())
                    .filter(|r| r.status.failed())
                    .map(|r| format!("{r}: {}", r.error.as_deref().unwrap_or(r.status.name())))
                    .collect();
                if failed.is_empty() {
                    return Ok(Outcome::Done);
                }
                return Err(DeliveryError::Resources { id: d.to.clone(), failed }.into());
            }
            let limit = self.options.timing.deploy_follow_limit;
            if started.elapsed() > limit {
                self.save_first_deployment(address, &d).await?;
                return Ok(Outcome::Later(format!(
                    "deployment {id} is still running after {}; the next apply follows it",
                    humantime::format_duration(limit)
                )));
            }
            if self.sleep(self.options.timing.deploy_follow).await {
                self.save_first_deployment(address, &d).await?;
                return Ok(Outcome::Later(format!(
                    "interrupted while deployment {id} runs; the next apply follows it"
                )));
            }
        }
    }

    async fn save_first_deployment(
        &self,
        address: &Address,
        d: &FirstDeployment,
    ) -> Result<(), StateError> {
        let deployment = Box::new(d.clone());
        self.ledger.record(Step::FirstDeploy { address: address.clone(), deployment }).await
    }
}

/// The recorded, unfinished first deployment of `to` to `instances`, if there is one.
pub(super) fn unfinished<'r>(
    record: &'r certplan_state::ResourceState,
    to: &str,
    instances: &Instances,
) -> Option<&'r FirstDeployment> {
    (record.first_deployments.iter())
        .find(|d| d.to == to && &d.instances == instances && d.finished_at.is_none())
}
