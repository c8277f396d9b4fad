//! What an apply did, as a whole ([`Report`]) and of its delivery work ([`Delivered`]).

use certplan_core::{
    Action, Address, Attention, CertStatus, Concern, DvAuthMethod, Plan, RemoteCertificate, Summary,
};

use crate::error::{ChangeError, DeliveryError};

/// What an apply did.
#[derive(Debug, Default)]
pub struct Report {
    /// The changes made, counted as the plan's summary counts them.
    pub done: Summary,
    pub failed: Vec<(Address, ChangeError)>,
    /// Certificates applied for in this apply and not issued when it ended, with what they
    /// wait for.
    pub pending: Vec<(Address, RemoteCertificate)>,
    /// Certificates issued while this apply waited for them.
    pub issued: Vec<Address>,
    /// Changes not started because the run was interrupted.
    pub not_started: Vec<Address>,
    /// Whether an interrupt stopped the apply early: changes not started, or waits for
    /// issuance cut short (their certificates are in `pending`).
    pub interrupted: bool,
    /// The plan's delivery work: done, failed, left for later.
    pub delivery: Delivered,
}

/// What delivery did.
#[derive(Debug, Default)]
pub struct Delivered {
    /// Work done: deployments followed to their end, exports written, hooks run.
    pub done: usize,
    pub failed: Vec<(Address, DeliveryError)>,
    /// Work left for a later apply, with why (a certificate not issued yet, an interrupt).
    pub pending: Vec<(Address, String)>,
    /// Whether an interrupt left work undone.
    pub interrupted: bool,
}

impl Report {
    /// What still needs a person once this apply of `plan` is done: the plan's concerns, less
    /// those its certificates settled (applied for, or waited for, issued and delivered in this
    /// apply), and the certificates it applied for that wait for a person to validate them.
    pub fn attention(&self, plan: &Plan) -> Vec<Attention> {
        let unfinished = |address: &Address| {
            self.failed.iter().any(|(a, _)| a == address)
                || self.pending.iter().any(|(a, _)| a == address)
                || self.not_started.contains(address)
                || self.delivery.failed.iter().any(|(a, _)| a == address)
                || self.delivery.pending.iter().any(|(a, _)| a == address)
        };
        let settled = |address: &Address| {
            let applied_for = plan.change_of(address).is_some_and(|c| {
                matches!(c.action, Action::Create | Action::Renew | Action::Replace)
            });
            (applied_for || self.issued.contains(address)) && !unfinished(address)
        };
        let mut attention: Vec<Attention> = plan
            .attention
            .iter()
            .filter(|a| {
                let fixable = matches!(
                    a.concern,
                    Concern::Expired
                        | Concern::ExpiresBeforeRenewal { .. }
                        | Concern::AwaitingValidation { .. }
                );
                // A free application feared past the quota is settled once the service has
                // accepted it, issued or not.
                let accepted = matches!(a.concern, Concern::FreeQuotaExceeded { .. })
                    && !self.failed.iter().any(|(f, _)| *f == a.address)
                    && plan.change_of(&a.address).is_some_and(|c| {
                        matches!(c.action, Action::Create | Action::Renew | Action::Replace)
                    })
                    && !self.not_started.contains(&a.address);
                !(accepted || fixable && settled(&a.address))
            })
            .cloned()
            .collect();
        for (address, remote) in &self.pending {
            let Some(change) = plan.change_of(address) else {
                continue;
            };
            // Validated by a record certplan publishes: no person waited for.
            let published = change.after.as_ref().is_some_and(|a| a.publish_validation.is_some());
            let method = change.after.as_ref().and_then(|args| args.dv_auth_method);
            let method = method.filter(|_| !published);
            let Some(method) = method.filter(|m| *m != DvAuthMethod::DnsAuto) else { continue };
            if attention.iter().any(|a| &a.address == address) {
                continue;
            }
            // A renewal's predecessor serves until it expires.
            let serving =
                change.before.as_ref().filter(|b| b.exists && b.status == CertStatus::Issued);
            attention.push(Attention {
                address: address.clone(),
                certificate: remote.id.clone(),
                concern: Concern::AwaitingValidation {
                    method,
                    deadline: remote.validation_deadline,
                },
                breaks_at: serving.and_then(|b| b.not_after),
            });
        }
        attention.sort_by(|a, b| a.address.cmp(&b.address));
        attention
    }
}
