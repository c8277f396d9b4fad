//! Delivery: the plan's delivery work for each resource, started as the apply releases it (its
//! new certificate is ready) — one module per target: `deploy` (the Tencent Cloud resources of
//! the certificate replaced), `instances` (named instances where none served yet) and `export`
//! (PEM files and their hook) — each step recorded as it happens.

mod deploy;
mod export;
mod instances;

pub use export::{export_hook, inspect_exports};

use std::collections::BTreeMap;
use std::path::Path;

use certplan_core::{
    Address, CertStatus, DeliveryChange, DeliveryWork, Deployment, ExportReason, ExportSpec, Plan,
};
use certplan_state::StateError;
use chrono::Utc;
use futures_util::{StreamExt, stream};

use crate::error::{DeliveryError, ExportError};
use crate::report::Delivered;
use crate::run::Run;

/// Deliveries run at once, per change the apply runs at once: a deployment mostly waits for
/// the cloud, and the client's pacer keeps the calls within the API's limits.
const DELIVERIES_PER_CHANGE: usize = 10;

impl Run<'_, '_> {
    /// Does the plan's delivery work as the queue releases resources: one resource's work
    /// after another in plan order, resources at once; once the run is cancelled, or a save
    /// failed, no new work starts.
    pub(crate) async fn deliver(
        &self,
        released: tokio::sync::mpsc::UnboundedReceiver<Address>,
    ) -> Result<Delivered, StateError> {
        let plan = self.plan;
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
                    if self.stopping() {
                        let why = "not started: the apply was interrupted".to_owned();
                        delivered.pending.push((address.clone(), why));
                        continue;
                    }
                    if let DeliveryWork::Export { path, .. } | DeliveryWork::Hook { path, .. } =
                        &d.work
                        && let Some(other) = shared.get(&(address.clone(), path.clone()))
                    {
                        let cause = ExportError::SharedDirectory { other: other.clone() };
                        let error = DeliveryError::Export { path: path.clone(), cause };
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
        // A resource's deploy and export wait for the same reason: said once.
        total.pending.sort();
        total.pending.dedup();
        total.interrupted = self.cancel.is_cancelled() && !total.pending.is_empty();
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

pub(super) enum Outcome {
    Done,
    /// Left for a later apply, with why.
    Later(String),
}

pub(super) enum Failure {
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

/// The account of the certificate is not reachable in this run.
impl From<certplan_provider::Error> for Failure {
    fn from(e: certplan_provider::Error) -> Self {
        Failure::Delivery(DeliveryError::Account(e))
    }
}

impl Run<'_, '_> {
    async fn one(&self, d: &DeliveryChange) -> Result<Outcome, Failure> {
        let address = &d.address;
        let Some(record) = self.ledger.read(|s| s.resources.get(address).cloned()) else {
            return Ok(Outcome::Later("no certificate is recorded for it".to_owned()));
        };
        // For a certificate still validating: the one work that does not wait for issuance
        // (and is done already once it is issued: published before the apply waited for it).
        if let DeliveryWork::PublishValidation { records } = &d.work {
            if record.status == CertStatus::Issued {
                return Ok(Outcome::Done);
            }
            return match self.publish_validation(address, records).await {
                Ok(true) => Ok(Outcome::Done),
                Ok(false) => Ok(Outcome::Later("dns_challenge is no longer declared".to_owned())),
                Err(e) => Err(DeliveryError::Validation { error: e.to_string() }.into()),
            };
        }
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
                let existing = deploy::find(&record, from, &to, target);
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
            DeliveryWork::DeployInstances { to, instances } => {
                // The plan's certificate, or the one this apply obtained in its place.
                let to = to.clone().unwrap_or_else(|| record.certificate_id.clone());
                if to != record.certificate_id {
                    return Ok(Outcome::Later(format!(
                        "its certificate is now {}, not {to}",
                        record.certificate_id
                    )));
                }
                let existing = instances::unfinished(&record, &to, instances).cloned();
                let asked_before = existing.is_some();
                let deployment = existing.unwrap_or_else(|| certplan_core::FirstDeployment {
                    to,
                    instances: instances.clone(),
                    record_id: None,
                    started_at: Utc::now(),
                    finished_at: None,
                    resources: Vec::new(),
                });
                self.deploy_instances(address, deployment, asked_before).await
            }
            DeliveryWork::Resume { from, to, target, .. } => {
                let Some(existing) = deploy::find(&record, from, to, target) else {
                    return Ok(Outcome::Later("the deployment is no longer recorded".to_owned()));
                };
                self.deploy(address, existing.clone(), true).await
            }
            DeliveryWork::Retry { from, to, target, .. } => {
                let Some(existing) = deploy::find(&record, from, to, target) else {
                    return Ok(Outcome::Later("the deployment is no longer recorded".to_owned()));
                };
                self.retry(address, existing.clone()).await
            }
            // Done above.
            DeliveryWork::PublishValidation { .. } => Ok(Outcome::Done),
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
                self.hook(address, &record, spec, written.clone()).await
            }
        }
    }

    /// Returns the export declared at `path`.
    fn spec(&self, address: &Address, path: &Path) -> Option<&ExportSpec> {
        let change = self.plan.change_of(address)?;
        change.delivery.exports.iter().find(|e| e.path == path)
    }
}
