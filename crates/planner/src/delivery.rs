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
            // What serves the certificate being renewed or replaced moves to its successor.
            if let Some(p) = prior.filter(|p| p.exists && action != Action::Create) {
                let from = p.id.clone();
                push(DeliveryWork::Deploy { from, to: None, target: target.clone() }, true);
            }
        } else if let Some(r) = recorded
            && let Some(from) = &r.succeeds
        {
            let to = r.certificate_id.clone();
            let from = from.clone();
            match r.deployments.iter().find(|d| d.from == from && d.to == to) {
                // Declared types or regions changed since: deploy again to the new target
                // (what moved already is no longer the old certificate's, and stays).
                Some(d) if &d.target != target => {
                    push(DeliveryWork::Deploy { from, to: Some(to), target: target.clone() }, false)
                }
                Some(d) if d.record_id.is_none() || d.finished_at.is_none() => {
                    push(DeliveryWork::Resume { from, to, record_id: d.record_id }, false)
                }
                Some(d) => {
                    let failed: Vec<_> = d.failed().cloned().collect();
                    if let (false, Some(record_id)) = (failed.is_empty(), d.record_id) {
                        push(DeliveryWork::Retry { from, to, record_id, failed }, false);
                    }
                }
                None => push(
                    DeliveryWork::Deploy { from, to: Some(to), target: target.clone() },
                    !issued,
                ),
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
    desired.delivery.deploy.is_some()
        && r.succeeds.as_deref() == Some(deposed)
        && !r.deployments.iter().any(|d| d.from == deposed && d.succeeded())
}
