//! Delivery decisions: for one declared resource, what must happen for its certificate to
//! serve — the cloud resources of the certificate it replaced moved to it (`deploy`), its PEM
//! files written and the hook run (`export`) — given what state recorded, the action chosen
//! for the certificate itself, and what is on disk.

use certplan_core::{
    Action, Address, CertStatus, DeliveryChange, DeliveryWork, ExportReason, ExportsSeen,
    FilesSeen, Prior,
};
use certplan_parser::ResourceConfig;
use certplan_state::ResourceState;

/// Plans the delivery of `address`'s certificate. `action` is what the plan does to the
/// certificate itself; `prior` is the certificate the resource has now (refreshed when the
/// plan refreshed).
pub(crate) fn plan(
    address: &Address,
    desired: &ResourceConfig,
    recorded: Option<&ResourceState>,
    action: Action,
    prior: Option<&Prior>,
    files: &ExportsSeen,
) -> Vec<DeliveryChange> {
    let delivery = &desired.delivery;
    if delivery.is_empty() || matches!(action, Action::Delete | Action::Forget) {
        return Vec::new();
    }
    let mut work = Vec::new();
    let mut push = |work_item, once_issued| {
        work.push(DeliveryChange { address: address.clone(), work: work_item, once_issued })
    };
    // A new certificate is applied for: delivery follows it once it is issued, in this apply
    // when it waits for issuance, otherwise in a later one.
    let new_certificate = matches!(action, Action::Create | Action::Renew | Action::Replace);
    let issued = prior.is_some_and(|p| p.status == CertStatus::Issued);

    if let Some(target) = &delivery.deploy {
        if new_certificate {
            // What serves the resource now moves to the certificate that replaces it.
            let from = recorded.and_then(ResourceState::serving);
            let gone = prior.is_some_and(|p| !p.exists && from.as_deref() == Some(p.id.as_str()));
            if let Some(from) = from.filter(|_| action != Action::Create && !gone) {
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
    }

    for spec in &delivery.exports {
        let path = spec.path.clone();
        let written = recorded.and_then(|r| r.exports.iter().find(|e| e.path == spec.path));
        let current = prior.map(|p| p.id.as_str());
        let reason = match written {
            None => Some(ExportReason::FirstTime),
            Some(e) if new_certificate || Some(e.certificate_id.as_str()) != current => {
                Some(ExportReason::NewCertificate { from: e.certificate_id.clone() })
            }
            Some(_) => match files.get(&spec.path) {
                Some(FilesSeen::Missing(missing)) => {
                    Some(ExportReason::FilesMissing(missing.clone()))
                }
                Some(FilesSeen::Changed(changed)) => {
                    Some(ExportReason::FilesChanged(changed.clone()))
                }
                Some(FilesSeen::Intact) | None => None,
            },
        };
        match (reason, written) {
            (Some(reason), _) => {
                push(DeliveryWork::Export { path, reason }, new_certificate || !issued)
            }
            // The files are in place; a hook that failed, or never ran for them, runs.
            (None, Some(e)) if spec.on_change.is_some() => {
                let error = match &e.hook {
                    Some(h) if h.error.is_none() => continue,
                    Some(h) => h.error.clone(),
                    None => None,
                };
                push(DeliveryWork::Hook { path, error }, false);
            }
            (None, _) => {}
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
