//! Delivery to Tencent Cloud resources: which deployments move the resources of the
//! certificate a resource replaced to its successor, resume, or retry what failed — and which
//! named instances are yet to be given a certificate of the resource (a first deployment).

use certplan_core::{Action, DeliveryWork, DeployTarget};
use certplan_parser::ResourceConfig;
use certplan_state::ResourceState;

use super::Planned;

/// Plans the deployments to `target`: each work item, and whether it waits for the new
/// certificate's issuance.
pub(super) fn plan(target: &DeployTarget, at: &Planned<'_>) -> Vec<(DeliveryWork, bool)> {
    let Planned { recorded, action, prior, new_certificate, issued, moves_account } = *at;
    let mut work = Vec::new();
    let mut push = |item, once_issued| work.push((item, once_issued));
    // Named instances not yet given one of the resource's certificates: a first deployment
    // of the new certificate, or of the one it has. Once given one, renewals move them.
    for group in &target.instances {
        // Another account's instances are not these, whatever their names.
        let done: std::collections::BTreeSet<String> = recorded
            .filter(|_| !moves_account)
            .iter()
            .flat_map(|r| &r.first_deployments)
            .filter(|d| {
                (d.instances.resource_type, &d.instances.region)
                    == (group.resource_type, &group.region)
            })
            .flat_map(|d| d.done())
            .collect();
        // One task per instance: what each did is then known for certain, and one that
        // failed is asked for again alone.
        for id in group.ids.difference(&done) {
            let ids = [id.clone()].into();
            let instances = certplan_core::Instances { ids, ..group.clone() };
            let to = recorded.filter(|_| !new_certificate).map(|r| r.certificate_id.clone());
            push(DeliveryWork::DeployInstances { to, instances }, new_certificate || !issued);
        }
    }
    if new_certificate {
        // What serves the resource now moves to the certificate that replaces it — in the same
        // account only: a deployment cannot reach another account's resources.
        let from = recorded.and_then(ResourceState::serving);
        let gone = prior.is_some_and(|p| !p.exists && from.as_deref() == Some(p.id.as_str()));
        if let Some(from) = from.filter(|_| action != Action::Create && !gone && !moves_account) {
            push(DeliveryWork::Deploy { from, to: None, target: target.clone() }, true);
        }
    } else if let Some(r) = recorded
        && let Some(from) = &r.succeeds
    {
        let to = &r.certificate_id;
        let mine = r.deployments.iter().filter(|d| d.from == from && d.to == to);
        let mut covered = certplan_core::DeployTarget::default();
        for d in mine {
            covered.merge(d.target.clone());
            let (from, to, target) = (from.clone(), to.clone(), d.target.clone());
            if d.record_id.is_none() || d.finished_at.is_none() {
                // Followed to its end before anything else is asked of the pair: the
                // service answers a request for a pair whose task runs with that task.
                let record_id = d.record_id;
                push(DeliveryWork::Resume { from, to, target, record_id }, false);
            } else if let Some(record_id) = d.record_id {
                let failed: Vec<_> = d.failed().cloned().collect();
                if !failed.is_empty() {
                    push(DeliveryWork::Retry { from, to, target, record_id, failed }, false);
                }
            }
        }
        // Declared types or regions no deployment covers (a first deployment, or types
        // added since): asked for on their own, what moved already stays.
        let rest = target.minus(&covered);
        if !rest.is_empty() {
            let work =
                DeliveryWork::Deploy { from: from.clone(), to: Some(to.clone()), target: rest };
            push(work, !issued);
        }
    }
    work
}

/// Returns true when `deposed` must not be deleted yet: it is the certificate `recorded`
/// replaced, and the cloud resources it served have not all moved to the new one (the API
/// refuses to delete a certificate that still serves).
pub(crate) fn keeps_deposed(
    desired: Option<&ResourceConfig>,
    recorded: Option<&ResourceState>,
    deposed: &str,
) -> bool {
    let (Some(desired), Some(r)) = (desired, recorded) else { return false };
    let Some(target) = &desired.delivery.deploy else { return false };
    let mut moved = certplan_core::DeployTarget::default();
    for d in r.deployments.iter().filter(|d| d.from == deposed && d.succeeded()) {
        moved.merge(d.target.clone());
    }
    r.succeeds.as_deref() == Some(deposed) && !target.minus(&moved).is_empty()
}
