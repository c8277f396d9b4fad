//! The inventory: every certificate in each account, managed by certplan or not — the one a
//! colleague made in the console serving the checkout page included — with what certplan
//! records of it, where it is bound, and whether it expires within a window. Pure: the listing
//! and the bindings are read by the caller.

use std::collections::BTreeMap;

use certplan_core::{
    Address, BoundResource, CertStatus, CertificateId, CertificateSource, ProviderRef,
    RemoteCertificate,
};
use certplan_state::State;
use chrono::{DateTime, Utc};
use serde_json::{Value, json};

/// One certificate of an account.
#[derive(Debug, Clone)]
pub struct Entry {
    /// The provider configuration whose account holds it.
    pub provider: ProviderRef,
    pub certificate: RemoteCertificate,
    pub managed: Managed,
    /// Where the service says it is bound, or why it could not say; `Ok(empty)` when it was
    /// not asked (a certificate not issued cannot be bound).
    pub bound: Result<Vec<BoundResource>, String>,
}

/// What certplan records of a certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Managed {
    /// The certificate of a resource.
    Resource(Address),
    /// One a resource's certificate renewed or took the place of: still serving until it
    /// expires, or until what it serves moves.
    Replaced(Address),
    /// Left over from a replacement of the resource, to be deleted.
    Deposed(Address),
    /// Nothing: made outside certplan, or no longer managed.
    Unmanaged,
}

impl Managed {
    /// The address it belongs to, if any.
    pub fn address(&self) -> Option<&Address> {
        match self {
            Managed::Resource(a) | Managed::Replaced(a) | Managed::Deposed(a) => Some(a),
            Managed::Unmanaged => None,
        }
    }

    fn role(&self) -> &'static str {
        match self {
            Managed::Resource(_) => "managed",
            Managed::Replaced(_) => "replaced",
            Managed::Deposed(_) => "deposed",
            Managed::Unmanaged => "unmanaged",
        }
    }
}

impl Entry {
    /// Whether it serves something and expires before `until` — what needs a person.
    pub fn bound_and_expiring(&self, until: DateTime<Utc>) -> bool {
        let bound = self.bound.as_ref().is_ok_and(|b| !b.is_empty());
        bound && self.certificate.not_after.is_some_and(|end| end <= until)
    }
}

/// Builds the inventory of the accounts `listed`, each certificate with what `state` records
/// of it and where `bound` says it is bound; sorted by expiry, the soonest first (undated
/// last), then by domain.
pub fn inventory(
    state: &State,
    listed: Vec<(ProviderRef, Vec<RemoteCertificate>)>,
    bound: &BTreeMap<CertificateId, Result<Vec<BoundResource>, String>>,
) -> Vec<Entry> {
    let mut entries: Vec<Entry> = listed
        .into_iter()
        .flat_map(|(provider, certificates)| {
            certificates.into_iter().map(move |c| (provider.clone(), c))
        })
        .map(|(provider, certificate)| Entry {
            managed: managed(state, &certificate.id),
            bound: bound.get(&certificate.id).cloned().unwrap_or_else(|| Ok(Vec::new())),
            provider,
            certificate,
        })
        .collect();
    entries.sort_by(|a, b| {
        let end = |e: &Entry| (e.certificate.not_after.is_none(), e.certificate.not_after);
        end(a).cmp(&end(b)).then_with(|| a.certificate.domain.cmp(&b.certificate.domain))
    });
    entries
}

/// What `state` records of certificate `id`.
fn managed(state: &State, id: &str) -> Managed {
    if let Some((address, _)) = state.resources.iter().find(|(_, r)| r.certificate_id == id) {
        return Managed::Resource(address.clone());
    }
    if let Some(d) = state.deposed.iter().find(|d| d.certificate_id == id) {
        return Managed::Deposed(d.address.clone());
    }
    match state.resources.iter().find(|(_, r)| r.holds(id)) {
        Some((address, _)) => Managed::Replaced(address.clone()),
        None => Managed::Unmanaged,
    }
}

/// The inventory as JSON: each certificate's figures, as the page and `--json` give them.
pub fn inventory_json(
    entries: &[Entry],
    now: DateTime<Utc>,
    until: Option<DateTime<Utc>>,
) -> Value {
    let time =
        |t: Option<DateTime<Utc>>| t.map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
    let certificates: Vec<Value> = entries
        .iter()
        .map(|e| {
            let c = &e.certificate;
            let (bound, bindings_error) = match &e.bound {
                Ok(resources) => (json!(resources), Value::Null),
                Err(why) => (Value::Null, json!(why)),
            };
            json!({
                "provider": e.provider.to_string(),
                "id": c.id,
                "domain": c.domain,
                "status": c.status.name(),
                "not_after": time(c.not_after),
                "days_left": c.not_after.map(|end| (end - now).num_days()),
                "source": c.source.map(CertificateSource::name),
                "managed_by": e.managed.address().map(ToString::to_string),
                "role": e.managed.role(),
                "bound": bound,
                "bindings_error": bindings_error,
                "notifications_off": c.notifications_off,
                "expiring": until.is_some_and(|until| e.bound_and_expiring(until)),
            })
        })
        .collect();
    json!({ "generated_at": time(Some(now)), "certificates": certificates })
}

/// Whether a certificate can serve: issued and not expired.
pub fn serves(status: CertStatus) -> bool {
    status == CertStatus::Issued
}
