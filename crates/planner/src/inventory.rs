//! The inventory: every certificate in each account, managed by certplan or not — the one a
//! colleague made in the console serving the checkout page included — with what certplan
//! records of it, where it is bound, and whether it expires within a window. Pure: the listing
//! and the bindings are read by the caller. [`inventory_html`] draws it as a page.

mod html;

use std::collections::BTreeMap;

use certplan_core::{
    Address, BoundResource, CertStatus, CertificateId, CertificateSource, ProviderRef,
    RemoteCertificate,
};
use certplan_parser::Config;
use certplan_state::State;
use chrono::{DateTime, Utc};
use serde_json::{Value, json};

pub use html::inventory_html;

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
    /// When certplan renews it, for the certificate of a declared resource: its expiry less
    /// the resource's renewal window, as the planner reckons it.
    pub renews_from: Option<DateTime<Utc>>,
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
    /// Not knowing where it is bound counts as bound: not knowing is not safe.
    pub fn bound_and_expiring(&self, until: DateTime<Utc>) -> bool {
        let bound = self.bound.as_ref().is_ok_and(|b| !b.is_empty()) || self.bound.is_err();
        bound && self.certificate.not_after.is_some_and(|end| end <= until)
    }
}

/// Builds the inventory of the accounts `listed`, each certificate with what `state` records
/// of it, when `config` has it renewed, and where `bound` says it is bound; sorted by expiry,
/// the soonest first (undated last), then by domain.
pub fn inventory(
    config: &Config,
    state: &State,
    listed: Vec<(ProviderRef, Vec<RemoteCertificate>)>,
    bound: &BTreeMap<CertificateId, Result<Vec<BoundResource>, String>>,
) -> Vec<Entry> {
    let mut entries: Vec<Entry> = listed
        .into_iter()
        .flat_map(|(provider, certificates)| {
            certificates.into_iter().map(move |c| (provider.clone(), c))
        })
        .map(|(provider, certificate)| {
            let managed = managed(state, &certificate.id);
            Entry {
                renews_from: renews_from(config, state, &managed, &certificate),
                bound: bound.get(&certificate.id).cloned().unwrap_or_else(|| Ok(Vec::new())),
                managed,
                provider,
                certificate,
            }
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

/// When certplan renews `certificate`, managed as `managed`: only a declared resource's own
/// certificate is renewed, `renew_before` ahead of its expiry.
fn renews_from(
    config: &Config,
    state: &State,
    managed: &Managed,
    certificate: &RemoteCertificate,
) -> Option<DateTime<Utc>> {
    let Managed::Resource(address) = managed else { return None };
    let desired = config.resources.get(address)?;
    let recorded = state.resources.get(address);
    let renew_before = crate::renew_before(desired, recorded, Some(certificate));
    Some(certificate.not_after? - renew_before.duration())
}

/// The whole days from `now` to `end`, as `--json` and the page give them.
fn days_left(end: DateTime<Utc>, now: DateTime<Utc>) -> i64 {
    (end - now).num_days()
}

/// A time as `--json` and the page give it: RFC 3339 in UTC, to the second.
fn time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// The inventory as JSON: each certificate's figures, as the page and `--json` give them.
pub fn inventory_json(
    entries: &[Entry],
    now: DateTime<Utc>,
    until: Option<DateTime<Utc>>,
) -> Value {
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
                "not_before": c.not_before.map(time),
                "not_after": c.not_after.map(time),
                "days_left": c.not_after.map(|end| days_left(end, now)),
                "renews_from": e.renews_from.map(time),
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
    json!({ "generated_at": time(now), "certificates": certificates })
}

/// Whether a certificate may be installed somewhere: issued, or expired (and breaking HTTPS).
pub fn serves(status: CertStatus) -> bool {
    // An expired one may still be installed, breaking HTTPS where it is.
    matches!(status, CertStatus::Issued | CertStatus::Expired)
}

#[cfg(test)]
pub(crate) mod tests {
    use certplan_core::{Address, CertificateArgs, DvAuthMethod};
    use certplan_parser::{Source, parse_sources};
    use certplan_state::ResourceState;
    use chrono::Duration;

    use super::*;

    pub(super) fn now() -> DateTime<Utc> {
        "2026-11-26T12:00:00Z".parse().expect("time")
    }

    pub(super) fn issued(id: &str, domain: &str, lifetime: i64, days: i64) -> RemoteCertificate {
        RemoteCertificate {
            id: id.into(),
            domain: domain.into(),
            alias: None,
            status: CertStatus::Issued,
            dv_auth_method: None,
            key_algorithm: None,
            project_id: None,
            not_before: Some(now() + Duration::days(days - lifetime)),
            not_after: Some(now() + Duration::days(days)),
            inserted_at: None,
            validation_deadline: None,
            validation: Vec::new(),
            renewed_by: None,
            reissued_by: None,
            source: None,
            notifications_off: None,
        }
    }

    fn recorded(c: &RemoteCertificate) -> ResourceState {
        let args = CertificateArgs::new(&c.domain, DvAuthMethod::DnsAuto);
        ResourceState {
            status: c.status,
            not_before: c.not_before,
            not_after: c.not_after,
            ..ResourceState::new(c.id.clone(), args, now() - Duration::days(60))
        }
    }

    /// A managed certificate renews `renew_before` ahead of its expiry (the planner's rule);
    /// one certplan does not manage is renewed by no one.
    #[test]
    fn a_declared_certificate_renews_its_renewal_window_before_expiry() {
        let text = "resource \"tencentcloud_ssl_free_certificate\" \"www\" {\n  domain = \"www.example.com\"\n  dv_auth_method = \"DNS_AUTO\"\n  lifecycle {\n    renew_before = \"14d\"\n  }\n}\nresource \"tencentcloud_ssl_free_certificate\" \"api\" {\n  domain = \"api.example.com\"\n  dv_auth_method = \"DNS_AUTO\"\n}\n";
        let config = parse_sources(vec![Source::new("main.hcl", text)]).expect("valid config");
        let (www, api) =
            (issued("w1", "www.example.com", 90, 40), issued("a1", "api.example.com", 90, 50));
        let other = issued("o1", "other.example.com", 90, 20);
        let mut state = State::new();
        state.resources.insert(Address::certificate("www"), recorded(&www));
        state.resources.insert(Address::certificate("api"), recorded(&api));
        let listed = vec![(ProviderRef::DEFAULT, vec![www, api, other])];
        let entries = inventory(&config, &state, listed, &BTreeMap::new());
        let renews =
            |id: &str| entries.iter().find(|e| e.certificate.id == id).expect(id).renews_from;
        assert_eq!(renews("w1"), Some(now() + Duration::days(40 - 14)));
        assert_eq!(renews("a1"), Some(now() + Duration::days(50 - 30)), "the default, 30 days");
        assert_eq!(renews("o1"), None);
        let json = inventory_json(&entries, now(), None);
        assert_eq!(json["certificates"][1]["renews_from"], "2026-12-22T12:00:00Z", "{json}");
    }
}
