//! The yearly quota of free certificates, per account: how many a plan applies for, how many
//! the account applied for this calendar year, against the limit — said in the plan, before
//! anything is sent.

use std::collections::BTreeMap;

use certplan_core::{
    Action, Attention, CertificateSource, Concern, FreeQuota, Plan, ProviderRef, RemoteCertificate,
    ResourceChange,
};
use certplan_parser::Config;
use certplan_state::State;
use chrono::{DateTime, Datelike, Utc};

/// The limit when neither the configuration nor the service says: the 50 a year that
/// Tencent's policy is widely reported to set (its own pages do not say).
pub const DEFAULT_FREE_PER_YEAR: u64 = 50;

/// How many free certificates `plan` applies for in each account (new ones, renewals and
/// replacements; not those ordered from an ACME CA).
pub fn free_applications(plan: &Plan) -> BTreeMap<ProviderRef, u64> {
    let mut counts = BTreeMap::new();
    for change in plan.changes.iter().filter(|c| applies_for_free(c)) {
        let provider = change.after.as_ref().map(|a| a.provider.clone()).unwrap_or_default();
        *counts.entry(provider).or_default() += 1;
    }
    counts
}

/// Whether `change` applies for a free certificate (not one ordered from an ACME CA).
fn applies_for_free(change: &ResourceChange) -> bool {
    matches!(change.action, Action::Create | Action::Renew | Action::Replace)
        && change.after.as_ref().is_some_and(|a| a.acme.is_none())
}

/// Adds to `plan` the quota of each account it applies for free certificates in, from what
/// `listed` says each account holds, and the applications that would pass the limit as
/// needing attention. The limit is what the service said (the state records it), else the
/// provider block's `free_certificates_per_year`, else [`DEFAULT_FREE_PER_YEAR`].
pub fn free_quota(
    plan: &mut Plan,
    config: &Config,
    state: &State,
    listed: &BTreeMap<ProviderRef, Vec<RemoteCertificate>>,
    now: DateTime<Utc>,
) {
    // The calendar year is Beijing's, as the service's own dates are.
    let beijing = certplan_core::beijing();
    let year = now.with_timezone(&beijing).year();
    for (provider, planned) in free_applications(plan) {
        let Some(certificates) = listed.get(&provider) else { continue };
        let used = certificates
            .iter()
            .filter(|c| c.source == Some(CertificateSource::Free))
            .filter(|c| c.inserted_at.is_some_and(|t| t.with_timezone(&beijing).year() == year))
            .count() as u64;
        let learnt = state.clouds.get(&provider).and_then(|c| c.free_limit);
        let configured = config.providers.get(&provider).and_then(|p| p.free_per_year);
        let (limit, limit_from) = match (learnt, configured) {
            (Some(limit), _) => (limit, "service"),
            (None, Some(limit)) => (limit, "configured"),
            (None, None) => (DEFAULT_FREE_PER_YEAR, "default"),
        };
        let quota = FreeQuota {
            provider: provider.clone(),
            used,
            planned,
            limit,
            limit_from: limit_from.to_owned(),
        };
        if quota.exceeded() {
            // The applications past the limit, in the plan's order: those the service refuses.
            let room = limit.saturating_sub(used) as usize;
            let over = (plan.changes.iter())
                .filter(|c| applies_for_free(c))
                .filter(|c| c.after.as_ref().is_some_and(|a| a.provider == provider))
                .skip(room);
            let attention: Vec<Attention> = over
                .map(|c| Attention {
                    address: c.address.clone(),
                    certificate: c.before.as_ref().map(|b| b.id.clone()).unwrap_or_default(),
                    concern: Concern::FreeQuotaExceeded { used, planned, limit },
                    breaks_at: c.before.as_ref().and_then(|b| b.not_after),
                })
                .collect();
            plan.attention.extend(attention);
            plan.attention.sort_by(|a, b| a.address.cmp(&b.address));
        }
        plan.quota.push(quota);
    }
}
