//! What needs a person: for each declared resource, whether its site is heading for an expired
//! certificate that the plan cannot save by itself — and, once the service has said where the
//! certificates being replaced are bound, what a renewal leaves on them.

use std::collections::BTreeMap;

use certplan_core::{
    Action, Address, Attention, BoundResource, CertStatus, CertificateId, Concern, DeliveryWork,
    DeployTarget, DvAuthMethod, Observed, Plan, Prior, Reason, ResourceType,
};
use certplan_state::State;
use chrono::{DateTime, Duration, Utc};

/// How long validation may take before a certificate is issued: a day for automatic DNS and
/// for an ACME order (`None`), a week (the CA's window) for a record or file a person
/// publishes.
fn validation_days(method: Option<DvAuthMethod>) -> i64 {
    match method {
        None | Some(DvAuthMethod::DnsAuto) => 1,
        Some(DvAuthMethod::Dns | DvAuthMethod::File) => 7,
    }
}

/// What one declared resource's decision is judged from.
pub(crate) struct Judged<'a> {
    pub address: &'a Address,
    /// How a free certificate is validated; `None` for an ACME certificate.
    pub method: Option<DvAuthMethod>,
    pub action: Action,
    pub reason: &'a Reason,
    pub prior: &'a Prior,
    /// The expiry of the certificate that serves while the resource's own one is validated (the
    /// one a renewal in flight replaces), when the cloud reported it.
    pub serving_until: Option<DateTime<Utc>>,
}

/// Judges one declared resource: `None` when its site is safe, or will be made safe by the
/// apply on its own.
pub(crate) fn judge(at: &Judged<'_>, now: DateTime<Utc>) -> Option<Attention> {
    let Judged { address, method, action, reason, prior, serving_until } = *at;
    let validation = Duration::days(validation_days(method));
    let attention = |certificate: &CertificateId, concern, breaks_at| Attention {
        address: address.clone(),
        certificate: certificate.clone(),
        concern,
        breaks_at,
    };
    let too_late = |expiry: DateTime<Utc>, from: DateTime<Utc>| expiry < from + validation;
    let before_renewal = Concern::ExpiresBeforeRenewal { validation_days: validation.num_days() };
    match reason {
        Reason::ValidationFailedRepeatedly { id, failures } => {
            Some(attention(id, Concern::ValidationFailed { failures: *failures }, serving_until))
        }
        Reason::Pending { deadline, automatic: false, .. } => {
            let method = method.unwrap_or(DvAuthMethod::Dns);
            let concern = Concern::AwaitingValidation { method, deadline: *deadline };
            Some(attention(&prior.id, concern, serving_until))
        }
        // A renewal still validating, or one that failed once and is applied for again: the
        // certificate serving must last until the new one can be issued.
        Reason::Pending { automatic: true, .. }
        | Reason::ValidationTimedOut { .. }
        | Reason::Unusable { status: CertStatus::Failed, .. } => serving_until
            .filter(|&until| too_late(until, now))
            .map(|until| attention(&prior.id, before_renewal, Some(until))),
        Reason::Expired { not_after } => {
            Some(attention(&prior.id, Concern::Expired, Some(*not_after)))
        }
        Reason::Expiring { not_after, .. } if action == Action::Renew => too_late(*not_after, now)
            .then(|| attention(&prior.id, before_renewal, Some(*not_after))),
        Reason::UpToDate { not_after, renews_at } => too_late(*not_after, *renews_at)
            .then(|| attention(&prior.id, before_renewal, Some(*not_after))),
        // Held back by the CA: the certificate serving must last until an order can be done.
        Reason::RateLimited { until } => prior
            .not_after
            .is_none_or(|expiry| too_late(expiry, *until))
            .then(|| attention(&prior.id, Concern::RateLimited { until: *until }, prior.not_after)),
        Reason::ReplacedAgain { id, because } => {
            let concern = Concern::ReplacedAgain { because: because.clone() };
            Some(attention(id, concern, None))
        }
        Reason::DueAtIssuance { id, applied_at, .. } => {
            let concern = Concern::DueAtIssuance { applied_at: *applied_at };
            Some(attention(id, concern, prior.not_after))
        }
        _ => None,
    }
}

/// The certificates a plan moves away from, or that its resources moved away from and that
/// still serve — those its renewals and replacements succeed, those its deployments move
/// resources off, the ones renewed before (until they expire), and deposed ones —
/// with the resource each belongs to: the ones whose bindings tell what is left behind.
pub fn replaced_certificates(
    plan: &Plan,
    state: &State,
    observed: Option<&Observed>,
) -> BTreeMap<CertificateId, Address> {
    let mut replaced = BTreeMap::new();
    for change in &plan.changes {
        let id = match (&change.reason, &change.before) {
            (Reason::Deposed { id, gone: false, .. }, _) => Some(id),
            (_, Some(before))
                if matches!(change.action, Action::Renew | Action::Replace)
                    && before.exists
                    && matches!(before.status, CertStatus::Issued | CertStatus::Expired) =>
            {
                Some(&before.id)
            }
            _ => None,
        };
        if let Some(id) = id {
            replaced.entry(id.clone()).or_insert_with(|| change.address.clone());
        }
    }
    // A predecessor is asked about until it expires: what still uses it breaks then, and is
    // said every run before; after, asking every night would cost a query per renewal forever.
    for change in plan.changes.iter().filter(|c| c.deposed.is_none() && c.after.is_some()) {
        let succeeded = state.resources.get(&change.address).and_then(|r| r.succeeds.as_ref());
        let serving = |id: &CertificateId| {
            let remote = observed.and_then(|o| o.get(id));
            remote.and_then(|r| r.not_after).is_some_and(|end| end > plan.created_at)
        };
        if let Some(id) = succeeded.filter(|id| serving(id)) {
            replaced.entry(id.clone()).or_insert_with(|| change.address.clone());
        }
    }
    for d in &plan.delivery {
        let from = match &d.work {
            DeliveryWork::Deploy { from, .. }
            | DeliveryWork::Resume { from, .. }
            | DeliveryWork::Retry { from, .. } => from,
            DeliveryWork::DeployInstances { .. }
            | DeliveryWork::PublishValidation { .. }
            | DeliveryWork::Export { .. }
            | DeliveryWork::Hook { .. } => continue,
        };
        replaced.entry(from.clone()).or_insert_with(|| d.address.clone());
    }
    replaced
}

/// Adds to `plan` what its renewals leave behind: the resources `bound` to a certificate the
/// plan moves away from that its resource's `deploy` block does not declare. They keep the old
/// certificate until it expires (`observed` tells when). A certificate the service could not
/// answer for (an error in `bound`, or no answer) needs attention too.
pub fn left_behind(
    plan: &mut Plan,
    state: &State,
    bound: &BTreeMap<CertificateId, Result<Vec<BoundResource>, String>>,
    observed: Option<&Observed>,
) {
    let replaced = replaced_certificates(plan, state, observed);
    for (id, address) in replaced {
        // Not knowing is not safe: a certificate the service could not answer for needs
        // attention as well.
        let concern = match bound.get(&id) {
            Some(Ok(resources)) => {
                // A deployment moves resources within an account only: into another, the old
                // account's are left to a person.
                let change = plan.change_of(&address);
                let held_in = state.provider_of(&address, &id);
                let moved_from = change
                    .and_then(|c| c.after.as_ref())
                    .filter(|after| after.provider != held_in)
                    .map(|_| held_in);
                match moved_from {
                    _ if resources.is_empty() => continue,
                    Some(provider) => {
                        Concern::LeftInOtherAccount { resources: resources.clone(), provider }
                    }
                    None => {
                        let declared = change.and_then(|c| c.delivery.deploy.as_ref());
                        let resources: Vec<BoundResource> = resources
                            .iter()
                            .filter(|r| !declared.is_some_and(|target| covers(target, r)))
                            .cloned()
                            .collect();
                        if resources.is_empty() {
                            continue;
                        }
                        Concern::LeftBehind { resources }
                    }
                }
            }
            Some(Err(error)) => Concern::BindingsUnknown { error: error.clone() },
            None => Concern::BindingsUnknown { error: "the service was not asked".to_owned() },
        };
        let breaks_at = match concern {
            Concern::LeftBehind { .. } | Concern::LeftInOtherAccount { .. } => {
                observed.and_then(|o| o.get(&id)).and_then(|r| r.not_after)
            }
            _ => None,
        };
        plan.attention.push(Attention { address, certificate: id, concern, breaks_at });
    }
    plan.attention.sort_by(|a, b| a.address.cmp(&b.address));
}

/// Whether a deployment to `target` moves `resource`.
fn covers(target: &DeployTarget, resource: &BoundResource) -> bool {
    let Some(kind) = ResourceType::parse(&resource.resource_type) else { return false };
    if !target.resource_types.contains(&kind) {
        return false;
    }
    if !kind.is_regional() {
        return true;
    }
    let regions = target.regions.get(&kind);
    resource.region.as_ref().is_some_and(|r| regions.is_some_and(|declared| declared.contains(r)))
}
