//! Delivery decisions: for one declared resource, what must happen for its certificate to
//! serve, given what state recorded, the action chosen for the certificate itself, and what is
//! on disk — one module per target: `deploy` (the cloud resources of the certificate it
//! replaced moved to it) and `export` (its PEM files written and the hook run).

mod deploy;
mod export;

use certplan_core::{
    Action, Address, CertStatus, DeliveryChange, DeliveryWork, ExportsSeen, Prior,
};
use certplan_parser::ResourceConfig;
use certplan_state::ResourceState;

pub(crate) use deploy::keeps_deposed;

/// What the delivery decisions of one resource are made from, for every target.
struct Planned<'a> {
    recorded: Option<&'a ResourceState>,
    /// What the plan does to the certificate itself.
    action: Action,
    prior: Option<&'a Prior>,
    new_certificate: bool,
    issued: bool,
    /// The resource moves to another account: nothing of the old one's (its cloud resources,
    /// its instances) can be moved there.
    moves_account: bool,
}

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
    // A new certificate is applied for: delivery follows it once it is issued, in this apply
    // when it waits for issuance, otherwise in a later one.
    let new_certificate = matches!(action, Action::Create | Action::Renew | Action::Replace);
    let issued = prior.is_some_and(|p| p.status == CertStatus::Issued);
    let mut work: Vec<(DeliveryWork, bool)> = Vec::new();
    let moves_account = recorded.is_some_and(|r| r.args.provider != desired.args.provider);
    let at = Planned { recorded, action, prior, new_certificate, issued, moves_account };
    if let Some(target) = &delivery.deploy {
        work.extend(deploy::plan(target, &at));
    }
    for spec in &delivery.exports {
        work.extend(export::plan(spec, files, &at));
    }
    work.into_iter()
        .map(|(work, once_issued)| DeliveryChange { address: address.clone(), work, once_issued })
        .collect()
}
