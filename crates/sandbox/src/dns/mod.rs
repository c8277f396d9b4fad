//! DNSPod's side of the sandbox: each account's DNS zones — the domains it hosts — and their
//! records, persisted with the certificates. Zones exist when declared (the `dns_zones` options,
//! the control API); records are made and deleted through the API (`api::dnspod`, which owns
//! what is answered). With a pebble-challtestsrv to publish to (the `challtestsrv` option), a
//! name's TXT records are published there whenever they change ([`challtestsrv`]), so that an
//! ACME CA asking that server — Pebble, in tests — sees what a client put in DNSPod. Records
//! loaded from a data file are not published again: only changes are. The sandbox's own CA
//! reads the zones too: a CNAME record validating a `DNS` order issues it ([`crate::store`]).
//! Zones and records belong to one account, but names resolve for everyone ([`PublicDns`]).

mod challtestsrv;

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

pub(crate) use challtestsrv::Challtestsrv;
pub use challtestsrv::PublishError;

use crate::{Account, Sandbox, StoreError};

/// A DNS zone's name, checked: lower case, without a trailing dot, two labels or more.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DnsZone(String);

/// Why a name is not a DNS zone.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{name:?} is not a DNS zone: {reason}")]
pub struct ZoneError {
    name: String,
    reason: &'static str,
}

impl DnsZone {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for DnsZone {
    type Err = ZoneError;

    fn from_str(name: &str) -> Result<Self, ZoneError> {
        let zone = name.trim().trim_end_matches('.').to_ascii_lowercase();
        if !is_domain_name(&zone) {
            let reason = "a zone is two labels or more of letters, digits and inner hyphens, such as example.com";
            return Err(ZoneError { name: name.to_owned(), reason });
        }
        Ok(DnsZone(zone))
    }
}

/// Tells whether `name` is a domain name of two labels or more, each of letters, digits and
/// inner hyphens, at most 253 characters in all.
pub(crate) fn is_domain_name(name: &str) -> bool {
    let label_ok = |l: &str| {
        !l.is_empty()
            && l.len() <= 63
            && !l.starts_with('-')
            && !l.ends_with('-')
            && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
    };
    name.len() <= 253 && name.split('.').count() >= 2 && name.split('.').all(label_ok)
}

impl fmt::Display for DnsZone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The zones and their records, as the store persists them.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(default)]
pub(crate) struct DnsState {
    next_zone_id: u64,
    next_record_id: u64,
    /// By name.
    zones: BTreeMap<String, Zone>,
}

/// A zone (a DNSPod domain) and its records.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Zone {
    /// The `DomainId`.
    pub(crate) id: u64,
    pub(crate) name: String,
    pub(crate) created_at: DateTime<Utc>,
    /// By `RecordId`, so in the order they were made.
    pub(crate) records: BTreeMap<u64, Record>,
}

/// A DNS record, as `DescribeRecordList` lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Record {
    /// The `RecordId`; given by [`DnsState::add_record`].
    pub(crate) id: u64,
    /// The host in the zone (`SubDomain`), lower case: `@` for the zone itself,
    /// `_acme-challenge`, `_acme-challenge.www`.
    pub(crate) name: String,
    /// `A`, `TXT`, `CNAME`…
    pub(crate) record_type: String,
    /// The line (`RecordLine`) and its id: the default line, `默认` and `0`.
    pub(crate) line: String,
    pub(crate) line_id: String,
    pub(crate) value: String,
    pub(crate) ttl: u64,
    /// The MX priority; 0 for other types.
    pub(crate) mx: u64,
    /// `Status` ENABLE; a disabled record is not served (nor published).
    pub(crate) enabled: bool,
    pub(crate) remark: String,
    pub(crate) updated_at: DateTime<Utc>,
}

impl Record {
    /// Tells whether the two are the same record to DNSPod, which refuses to hold it twice:
    /// the same host, type, line and value.
    fn same_as(&self, other: &Record) -> bool {
        self.name == other.name
            && self.record_type == other.record_type
            && self.line_id == other.line_id
            && self.value == other.value
    }
}

/// Returns the fully qualified name of `host` in `zone`, with the trailing dot DNS asks with:
/// `_acme-challenge.example.com.` for `_acme-challenge`, `example.com.` for `@`.
pub(crate) fn fqdn(zone: &str, host: &str) -> String {
    match host {
        "@" => format!("{zone}."),
        host => format!("{host}.{zone}."),
    }
}

impl DnsState {
    /// Adds `zone`, with no records; returns false when the account holds it already.
    pub(crate) fn add_zone(&mut self, zone: &DnsZone, now: DateTime<Utc>) -> bool {
        if self.zones.contains_key(zone.as_str()) {
            return false;
        }
        self.next_zone_id += 1;
        let name = zone.as_str().to_owned();
        let added = Zone { id: self.next_zone_id, name, created_at: now, records: BTreeMap::new() };
        self.zones.insert(added.name.clone(), added);
        true
    }

    /// Returns every zone, by name.
    pub(crate) fn zones(&self) -> impl Iterator<Item = &Zone> {
        self.zones.values()
    }

    /// Returns the zone named `name` (in any case, with or without its trailing dot).
    pub(crate) fn zone(&self, name: &str) -> Option<&Zone> {
        self.zones.get(&name.trim_end_matches('.').to_ascii_lowercase())
    }

    /// Returns the zone whose `DomainId` is `id`.
    pub(crate) fn zone_by_id(&self, id: u64) -> Option<&Zone> {
        self.zones.values().find(|z| z.id == id)
    }

    /// Adds `record` to zone `zone` with a new id, which it returns; `None` when the zone does
    /// not exist or holds the same record already.
    pub(crate) fn add_record(&mut self, zone: &str, mut record: Record) -> Option<u64> {
        let zone = self.zones.get_mut(zone)?;
        if zone.records.values().any(|r| r.same_as(&record)) {
            return None;
        }
        self.next_record_id += 1;
        record.id = self.next_record_id;
        zone.records.insert(record.id, record);
        Some(self.next_record_id)
    }

    /// Removes record `id` from zone `zone`; returns it, or `None` when the zone has no such
    /// record.
    pub(crate) fn remove_record(&mut self, zone: &str, id: u64) -> Option<Record> {
        self.zones.get_mut(zone)?.records.remove(&id)
    }

    /// Returns when the first enabled CNAME record named `name` (fully qualified, in any case)
    /// pointing at `value` was made, in any zone; a trailing dot of either value is ignored.
    pub(crate) fn cname_made(&self, name: &str, value: &str) -> Option<DateTime<Utc>> {
        fn without_dot(v: &str) -> &str {
            v.strip_suffix('.').unwrap_or(v)
        }
        let (name, value) = (without_dot(name), without_dot(value));
        self.zones
            .values()
            .flat_map(|zone| zone.records.values().map(move |r| (zone, r)))
            .filter(|(zone, r)| {
                r.enabled
                    && r.record_type == "CNAME"
                    && without_dot(&r.value) == value
                    && without_dot(&fqdn(&zone.name, &r.name)).eq_ignore_ascii_case(name)
            })
            .map(|(_, r)| r.updated_at)
            .min()
    }

    /// Returns the values of the enabled TXT records named `fqdn` (with its trailing dot), in
    /// the order they were made.
    pub(crate) fn txt_values(&self, fqdn: &str) -> Vec<String> {
        self.zones
            .values()
            .flat_map(|zone| zone.records.values().map(move |r| (zone, r)))
            .filter(|(zone, r)| {
                r.enabled && r.record_type == "TXT" && self::fqdn(&zone.name, &r.name) == fqdn
            })
            .map(|(_, r)| r.value.clone())
            .collect()
    }
}

/// DNS as the world resolves it: the records of every zone the sandbox's accounts hold. The CA
/// and pebble-challtestsrv ask for names, not accounts: a record one account makes is seen by
/// an order of another (certificates in one account, DNS in another, as people run them).
pub(crate) struct PublicDns<'a> {
    accounts: Vec<&'a DnsState>,
}

impl<'a> PublicDns<'a> {
    pub(crate) fn of(accounts: impl Iterator<Item = &'a DnsState>) -> Self {
        PublicDns { accounts: accounts.collect() }
    }

    /// Returns when the first enabled CNAME record named `name` pointing at `value` was made,
    /// in any account (see [`DnsState::cname_made`]).
    pub(crate) fn cname_made(&self, name: &str, value: &str) -> Option<DateTime<Utc>> {
        self.accounts.iter().filter_map(|dns| dns.cname_made(name, value)).min()
    }

    /// Returns the values of the enabled TXT records named `fqdn` (with its trailing dot), in
    /// any account.
    pub(crate) fn txt_values(&self, fqdn: &str) -> Vec<String> {
        self.accounts.iter().flat_map(|dns| dns.txt_values(fqdn)).collect()
    }
}

impl Account<'_> {
    /// Adds DNS zones to the account, as adding a domain to DNSPod would (one it holds already
    /// is left as it is); returns the name of every zone it holds.
    pub fn add_dns_zones(&self, zones: &[DnsZone]) -> Result<Vec<String>, StoreError> {
        let (mut store, now) = self.advanced()?;
        let mut added = false;
        for zone in zones {
            added |= store.dns.add_zone(zone, now);
        }
        if added {
            self.persist(&store)?;
        }
        Ok(store.dns.zones().map(|z| z.name.clone()).collect())
    }
}

impl Sandbox {
    /// Publishes the TXT records named `fqdn` to pebble-challtestsrv, when the sandbox has one
    /// to publish to. Publications take turns, and each reads the records when its turn comes:
    /// two changes to a name answered out of order still leave the server what the store holds.
    pub(crate) async fn publish_txt(&self, fqdn: &str) -> Result<(), PublishError> {
        let Some(server) = &self.inner.challtestsrv else { return Ok(()) };
        let _turn = self.inner.publishing.lock().await;
        let values = self.store().public_dns().txt_values(fqdn);
        server.set_txt(fqdn, &values).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn txt(name: &str, value: &str) -> Record {
        record(name, "TXT", value)
    }

    fn record(name: &str, record_type: &str, value: &str) -> Record {
        Record {
            id: 0,
            name: name.to_owned(),
            record_type: record_type.to_owned(),
            line: "默认".to_owned(),
            line_id: "0".to_owned(),
            value: value.to_owned(),
            ttl: 600,
            mx: 0,
            enabled: true,
            remark: String::new(),
            updated_at: Utc::now(),
        }
    }

    #[test]
    fn zone_names_are_checked_and_normalised() {
        let zone: DnsZone = " Example.COM. ".parse().expect("a zone");
        assert_eq!(zone.as_str(), "example.com");
        for invalid in ["com", "", "exa mple.com", "-a.example.com", "a..com"] {
            assert!(invalid.parse::<DnsZone>().is_err(), "{invalid:?}");
        }
    }

    #[test]
    fn a_name_keeps_every_enabled_txt_value_and_a_record_is_held_once() {
        let mut dns = DnsState::default();
        let zone: DnsZone = "example.com".parse().expect("a zone");
        assert!(dns.add_zone(&zone, Utc::now()));
        assert!(!dns.add_zone(&zone, Utc::now()), "held already");
        let first = dns.add_record("example.com", txt("_acme-challenge", "one")).expect("added");
        let second = dns.add_record("example.com", txt("_acme-challenge", "two")).expect("added");
        assert_eq!(second, first + 1);
        assert_eq!(dns.add_record("example.com", txt("_acme-challenge", "one")), None, "the same");
        assert_eq!(dns.add_record("example.org", txt("_acme-challenge", "one")), None, "no zone");
        let disabled = Record { enabled: false, ..txt("_acme-challenge", "three") };
        dns.add_record("example.com", disabled).expect("added");
        dns.add_record("example.com", txt("@", "apex")).expect("added");
        assert_eq!(dns.txt_values("_acme-challenge.example.com."), ["one", "two"]);
        assert_eq!(dns.txt_values("example.com."), ["apex"]);
        assert_eq!(
            dns.remove_record("example.com", first).map(|r| r.value).as_deref(),
            Some("one")
        );
        assert_eq!(dns.txt_values("_acme-challenge.example.com."), ["two"]);
        assert_eq!(dns.remove_record("example.com", first), None, "gone already");
    }

    #[test]
    fn a_cname_is_found_by_its_full_name_in_any_case_and_any_zone_and_its_value() {
        let mut dns = DnsState::default();
        for zone in ["example.com", "shop.example.org"] {
            dns.add_zone(&zone.parse().expect("a zone"), Utc::now());
        }
        let target = "a1.b2.sectigo.trust-provider.com";
        dns.add_record("example.com", record("_t.www", "CNAME", &format!("{target}.")));
        dns.add_record("shop.example.org", record("_t", "CNAME", target));
        dns.add_record("example.com", record("_txt.www", "TXT", target));
        dns.add_record("example.com", Record { enabled: false, ..record("_off", "CNAME", target) });
        assert!(dns.cname_made("_T.WWW.Example.com", target).is_some(), "any case, either dot");
        assert!(dns.cname_made("_t.www.example.com.", &format!("{target}.")).is_some());
        assert!(dns.cname_made("_t.shop.example.org", target).is_some(), "a zone of its own");
        assert_eq!(dns.cname_made("_t.www.example.com", "a1.b2.elsewhere.com"), None, "value");
        assert_eq!(dns.cname_made("_txt.www.example.com", target), None, "a TXT record");
        assert_eq!(dns.cname_made("_off.example.com", target), None, "disabled");
        assert_eq!(dns.cname_made("www.example.com", target), None, "another name");
    }
}
