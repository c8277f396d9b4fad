//! The DNSPod actions (service `dnspod`, version 2021-03-23) over the zones and records of
//! [`crate::dns`], with the fields and error codes of the SDK's models (tencentcloud-sdk
//! dnspod v20210323). Like `DescribeCertificates`, a parameter the sandbox cannot honour is
//! refused by name, never accepted and ignored.
//!
//! | action | in the sandbox |
//! |---|---|
//! | `DescribeDomainList` | `Type` (`ALL`, the default, `MINE` and `FREE` list every zone: all are the account's own, on the free plan; `SHARE`, `SHARE_OUT`, `ISMARK`, `PAUSE`, `VIP` list none), `Offset`, `Limit` (default 3000), `Keyword` (a substring of the name). Answers `DomainList` and `DomainCountInfo`, an empty list when nothing matches. |
//! | `CreateRecord` | `Domain` (or `DomainId`), `SubDomain` (default `@`), `RecordType` (A, AAAA, CNAME, TXT, MX, NS, CAA, SRV), `RecordLine` `默认` or `RecordLineId` `0` (the default line, the only one the sandbox has), `Value` (at most 512 characters), `TTL` (600, the default, to 604800: a free plan's range), `MX` (required for MX), `Status` (ENABLE or DISABLE), `Remark`; `Weight`, `GroupId` and `DnssecConflictMode` change nothing. Answers `RecordId`. A record the zone holds already (the same host, type, line and value) is refused with `InvalidParameter.DomainRecordExist`. |
//! | `CreateTXTRecord` | `CreateRecord` of a TXT record, without `RecordType`, `MX`, `Weight` |
//! | `DeleteRecord` | `Domain` (or `DomainId`), `RecordId`; a record the zone does not hold is refused with `InvalidParameter.RecordIdInvalid` |
//! | `DescribeRecordList` | `Domain` (or `DomainId`), `SubDomain` (or the deprecated `Subdomain`: the host, exactly), `RecordType`, `RecordLine` or `RecordLineId`, `Keyword` (a substring of the host or the value), `Offset`, `Limit` (default 100, at most 3000), `ErrorOnEmpty` (`yes`, the default: no matching record is `ResourceNotFound.NoDataOfRecord`; `no`: an empty list). Records in the order they were made, with `RecordCountInfo`. |
//!
//! A zone the account does not hold is refused with `InvalidParameterValue.DomainNotExists`, a
//! `DomainId` it does not hold with `InvalidParameter.DomainIdInvalid`. An action that changes a
//! name's TXT records answers that name too, for the entry point to publish.

use certplan_provider::wire::api_time;
use serde_json::{Value, json};

use super::params::Params;
use super::{Failure, fail, internal, invalid_action, missing_parameter};
use crate::Account;
use crate::dns::{Record, Zone, fqdn};
use crate::store::AccountData;

/// What a DNSPod action answered, and the name (fully qualified, with its trailing dot) whose
/// TXT records it changed.
pub(super) type Answer = Result<(Value, Option<String>), Failure>;

/// The default line: DNSPod's name for it, and its id.
const DEFAULT_LINE: (&str, &str) = ("默认", "0");
/// The TTL range of the free plan, whose minimum is also the default.
const TTL_RANGE: std::ops::RangeInclusive<u64> = 600..=604_800;
const MAX_VALUE_LEN: usize = 512;
const RECORD_TYPES: [&str; 8] = ["A", "AAAA", "CNAME", "TXT", "MX", "NS", "CAA", "SRV"];
const MAX_RECORD_LIMIT: u64 = 3000;
const DEFAULT_RECORD_LIMIT: u64 = 100;
const DEFAULT_DOMAIN_LIMIT: u64 = 3000;
/// The servers DNSPod delegates a free zone to.
const NAME_SERVERS: [&str; 2] = ["f1g1ns1.dnspod.net", "f1g1ns2.dnspod.net"];

/// Runs an action of the DNSPod service.
pub(super) fn dnspod(account: &Account<'_>, action: &str, params: Params) -> Answer {
    match action {
        "DescribeDomainList" => describe_domain_list(account, params).map(|answer| (answer, None)),
        "CreateRecord" => create_record(account, params, None),
        "CreateTXTRecord" => create_record(account, params, Some("TXT")),
        "DeleteRecord" => delete_record(account, params),
        "DescribeRecordList" => describe_record_list(account, params).map(|answer| (answer, None)),
        other => Err(invalid_action(other)),
    }
}

fn describe_domain_list(account: &Account<'_>, mut p: Params) -> Result<Value, Failure> {
    let group = p.string("Type")?.filter(|t| !t.is_empty()).unwrap_or_else(|| "ALL".into());
    let offset = p.integer("Offset")?.unwrap_or(0);
    let limit = p.integer("Limit")?.unwrap_or(DEFAULT_DOMAIN_LIMIT);
    let keyword = p.string("Keyword")?.filter(|k| !k.is_empty());
    let tagged = p.list("Tags", |tag| Some(tag.clone()))?.is_some_and(|tags| !tags.is_empty());
    refuse_unsupported(&mut p, &["GroupId"])?;
    p.finish()?;
    if tagged {
        return Err(unsupported("The parameter `Tags`"));
    }
    let listed = match group.as_str() {
        "ALL" | "MINE" | "FREE" => true,
        "SHARE" | "SHARE_OUT" | "ISMARK" | "PAUSE" | "VIP" => false,
        "RECENT" => return Err(unsupported("Type `RECENT`")),
        other => {
            return Err(fail(
                "InvalidParameter",
                format!(
                    "Type `{other}` is not one of ALL, MINE, SHARE, ISMARK, PAUSE, VIP, RECENT, SHARE_OUT, FREE."
                ),
            ));
        }
    };
    if limit == 0 {
        return Err(fail("InvalidParameterValue.LimitInvalid", "Limit must be at least 1."));
    }
    let (store, _) = account.advanced().map_err(internal)?;
    let all = store.dns.zones().count();
    let matching: Vec<&Zone> = store
        .dns
        .zones()
        .filter(|_| listed)
        .filter(|z| keyword.as_deref().is_none_or(|k| z.name.contains(k)))
        .collect();
    let list: Vec<Value> = page(&matching, offset, limit).map(domain_json).collect();
    Ok(json!({
        "DomainCountInfo": {
            "DomainTotal": matching.len(),
            "AllTotal": all,
            "MineTotal": all,
            "ShareTotal": 0,
            "VipTotal": 0,
            "PauseTotal": 0,
            "ErrorTotal": 0,
            "LockTotal": 0,
            "SpamTotal": 0,
            "VipExpire": 0,
            "ShareOutTotal": 0,
            "GroupTotal": all,
        },
        "DomainList": list,
    }))
}

/// Renders a zone as `DomainListItem`: a zone on the free plan, delegated to DNSPod.
fn domain_json(zone: &Zone) -> Value {
    let created = api_time::format(zone.created_at);
    let updated = zone.records.values().map(|r| r.updated_at).fold(zone.created_at, std::cmp::max);
    json!({
        "DomainId": zone.id,
        "Name": zone.name,
        "Status": "ENABLE",
        "TTL": TTL_RANGE.start(),
        "CNAMESpeedup": "DISABLE",
        "DNSStatus": "",
        "Grade": "DP_FREE",
        "GroupId": 1,
        "SearchEnginePush": "NO",
        "Remark": "",
        "Punycode": zone.name,
        "EffectiveDNS": NAME_SERVERS,
        "GradeLevel": 2,
        "GradeTitle": "免费版",
        "IsVip": "NO",
        "VipStartAt": "0000-00-00 00:00:00",
        "VipEndAt": "0000-00-00 00:00:00",
        "VipAutoRenew": "DEFAULT",
        "RecordCount": zone.records.len(),
        "CreatedOn": created,
        "UpdatedOn": api_time::format(updated),
        "Owner": "",
        "TagList": [],
    })
}

/// `CreateRecord`, or with `fixed_type` TXT, `CreateTXTRecord`.
fn create_record(account: &Account<'_>, mut p: Params, fixed_type: Option<&str>) -> Answer {
    let zone = ZoneParams::read(&mut p)?;
    let name = p.string("SubDomain")?.filter(|s| !s.is_empty()).unwrap_or_else(|| "@".into());
    let record_type = match fixed_type {
        Some(fixed) => fixed.to_owned(),
        None => p.required_string("RecordType")?.to_ascii_uppercase(),
    };
    let line = p.string("RecordLine")?;
    let line_id = p.string("RecordLineId")?;
    let value = p.required_string("Value")?;
    let mx = if fixed_type.is_none() { p.integer("MX")? } else { None };
    let ttl = p.integer("TTL")?.unwrap_or(*TTL_RANGE.start());
    let enabled = p.one_of("Status", &[("ENABLE", true), ("DISABLE", false)])?.unwrap_or(true);
    let remark = p.string("Remark")?.unwrap_or_default();
    p.ignore(&["GroupId"]);
    if fixed_type.is_none() {
        p.ignore(&["Weight", "DnssecConflictMode"]);
    }
    p.finish()?;

    let name = check_host(&name)?;
    if !RECORD_TYPES.contains(&record_type.as_str()) {
        return Err(fail(
            "InvalidParameter.RecordTypeInvalid",
            format!("The record type `{record_type}` is not one of {}.", RECORD_TYPES.join(", ")),
        ));
    }
    match (line_id.as_deref(), line.as_deref()) {
        // The id is used when both are given, as the API documents.
        (Some(id), _) if id == DEFAULT_LINE.1 => {}
        (None, Some(line)) if line == DEFAULT_LINE.0 => {}
        (None, None) => return Err(missing_parameter("RecordLine")),
        _ => {
            return Err(fail(
                "InvalidParameter.RecordLineInvalid",
                "The record line is invalid: the sandbox has the default line only (RecordLine `默认`, RecordLineId `0`).",
            ));
        }
    }
    if value.trim().is_empty() {
        return Err(fail("InvalidParameter.RecordValueInvalid", "The record value is empty."));
    }
    if value.chars().count() > MAX_VALUE_LEN {
        return Err(fail(
            "InvalidParameter.RecordValueLengthInvalid",
            format!("The record value is longer than {MAX_VALUE_LEN} characters."),
        ));
    }
    if !TTL_RANGE.contains(&ttl) {
        return Err(fail(
            "LimitExceeded.RecordTtlLimit",
            format!(
                "The TTL {ttl} is outside what the domain's plan (free) allows: {} to {}.",
                TTL_RANGE.start(),
                TTL_RANGE.end()
            ),
        ));
    }
    let mx = match (record_type.as_str(), mx) {
        ("MX", Some(mx)) if mx <= 65535 => mx,
        ("MX", _) => {
            return Err(fail(
                "InvalidParameter.MxInvalid",
                "An MX record needs MX from 0 to 65535.",
            ));
        }
        _ => 0,
    };

    let (mut store, now) = account.advanced().map_err(internal)?;
    let zone_name = zone.resolve(&store)?.name.clone();
    let changed = fqdn(&zone_name, &name);
    let record = Record {
        id: 0,
        name,
        record_type,
        line: DEFAULT_LINE.0.to_owned(),
        line_id: DEFAULT_LINE.1.to_owned(),
        value,
        ttl,
        mx,
        enabled,
        remark,
        updated_at: chrono::DateTime::from_timestamp(now.timestamp(), 0).unwrap_or(now),
    };
    let is_txt = record.record_type == "TXT";
    let Some(id) = store.dns.add_record(&zone_name, record) else {
        return Err(fail(
            "InvalidParameter.DomainRecordExist",
            "The record exists already: it need not be added again.",
        ));
    };
    account.persist(&store).map_err(internal)?;
    Ok((json!({ "RecordId": id }), is_txt.then_some(changed)))
}

fn delete_record(account: &Account<'_>, mut p: Params) -> Answer {
    let zone = ZoneParams::read(&mut p)?;
    let record_id = p.integer("RecordId")?.ok_or_else(|| missing_parameter("RecordId"))?;
    p.finish()?;
    let (mut store, _) = account.advanced().map_err(internal)?;
    let zone_name = zone.resolve(&store)?.name.clone();
    let Some(removed) = store.dns.remove_record(&zone_name, record_id) else {
        return Err(fail(
            "InvalidParameter.RecordIdInvalid",
            format!("The record {record_id} does not exist in {zone_name}."),
        ));
    };
    account.persist(&store).map_err(internal)?;
    let changed = (removed.record_type == "TXT").then(|| fqdn(&zone_name, &removed.name));
    Ok((json!({}), changed))
}

fn describe_record_list(account: &Account<'_>, mut p: Params) -> Result<Value, Failure> {
    let zone = ZoneParams::read(&mut p)?;
    // The newer spelling wins when both are given, as the API documents.
    let host = p.string("SubDomain")?.filter(|s| !s.is_empty());
    let deprecated_host = p.string("Subdomain")?.filter(|s| !s.is_empty());
    let host = host.or(deprecated_host).map(|h| h.to_ascii_lowercase());
    let record_type = p.string("RecordType")?.filter(|t| !t.is_empty());
    let line = p.string("RecordLine")?.filter(|l| !l.is_empty());
    let line_id = p.string("RecordLineId")?.filter(|l| !l.is_empty());
    let keyword = p.string("Keyword")?.filter(|k| !k.is_empty());
    let offset = p.integer("Offset")?.unwrap_or(0);
    let limit = p.integer("Limit")?.unwrap_or(DEFAULT_RECORD_LIMIT);
    let error_on_empty = p.one_of("ErrorOnEmpty", &[("yes", true), ("no", false)])?.unwrap_or(true);
    refuse_unsupported(&mut p, &["SortField", "SortType", "GroupId"])?;
    p.finish()?;
    if limit == 0 || limit > MAX_RECORD_LIMIT {
        return Err(fail(
            "InvalidParameterValue.LimitInvalid",
            format!("Limit must be from 1 to {MAX_RECORD_LIMIT}, not {limit}."),
        ));
    }

    let (store, _) = account.advanced().map_err(internal)?;
    let zone = zone.resolve(&store)?;
    let matching: Vec<&Record> = zone
        .records
        .values()
        .filter(|r| host.as_ref().is_none_or(|h| r.name == *h))
        .filter(|r| record_type.as_ref().is_none_or(|t| r.record_type.eq_ignore_ascii_case(t)))
        .filter(|r| match (&line_id, &line) {
            (Some(id), _) => r.line_id == *id,
            (None, Some(line)) => r.line == *line,
            (None, None) => true,
        })
        .filter(|r| keyword.as_ref().is_none_or(|k| r.name.contains(k) || r.value.contains(k)))
        .collect();
    if matching.is_empty() && error_on_empty {
        return Err(fail("ResourceNotFound.NoDataOfRecord", "The record list is empty."));
    }
    let mut hosts: Vec<&str> = zone.records.values().map(|r| r.name.as_str()).collect();
    hosts.sort_unstable();
    hosts.dedup();
    let list: Vec<Value> = page(&matching, offset, limit).map(record_json).collect();
    Ok(json!({
        "RecordCountInfo": {
            "SubdomainCount": hosts.len(),
            "ListCount": list.len(),
            "TotalCount": matching.len(),
        },
        "RecordList": list,
    }))
}

/// Renders a record as `RecordListItem`.
fn record_json(record: &Record) -> Value {
    json!({
        "RecordId": record.id,
        "Value": record.value,
        "Status": if record.enabled { "ENABLE" } else { "DISABLE" },
        "UpdatedOn": api_time::format(record.updated_at),
        "Name": record.name,
        "Line": record.line,
        "LineId": record.line_id,
        "Type": record.record_type,
        "Weight": Value::Null,
        "MonitorStatus": "",
        "Remark": record.remark,
        "TTL": record.ttl,
        "MX": record.mx,
        "DefaultNS": false,
    })
}

fn page<'a, T>(items: &'a [&'a T], offset: u64, limit: u64) -> impl Iterator<Item = &'a T> {
    items
        .iter()
        .copied()
        .skip(usize::try_from(offset).unwrap_or(usize::MAX))
        .take(usize::try_from(limit).unwrap_or(usize::MAX))
}

/// How a request names its zone: `DomainId`, which takes precedence as the API documents, or
/// `Domain`.
struct ZoneParams {
    domain: Option<String>,
    domain_id: Option<u64>,
}

impl ZoneParams {
    fn read(p: &mut Params) -> Result<Self, Failure> {
        let domain = p.string("Domain")?.filter(|d| !d.is_empty());
        let domain_id = p.integer("DomainId")?;
        if domain.is_none() && domain_id.is_none() {
            return Err(missing_parameter("Domain"));
        }
        Ok(ZoneParams { domain, domain_id })
    }

    fn resolve<'s>(&self, store: &'s AccountData) -> Result<&'s Zone, Failure> {
        if let Some(id) = self.domain_id {
            return store.dns.zone_by_id(id).ok_or_else(|| {
                fail("InvalidParameter.DomainIdInvalid", format!("The domain id {id} is invalid."))
            });
        }
        let domain = self.domain.as_deref().unwrap_or_default();
        store.dns.zone(domain).ok_or_else(|| {
            fail(
                "InvalidParameterValue.DomainNotExists",
                format!("The domain `{domain}` is not in the account."),
            )
        })
    }
}

/// Checks a host (`SubDomain`): `@`, or labels of letters, digits, `-` and `_`, the first of
/// which may be `*`. Returns it in lower case.
fn check_host(host: &str) -> Result<String, Failure> {
    let host = host.to_ascii_lowercase();
    if host == "@" {
        return Ok(host);
    }
    let label_ok = |(n, label): (usize, &str)| {
        (n == 0 && label == "*")
            || (!label.is_empty()
                && label.len() <= 63
                && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'))
    };
    if host.len() > 253 || !host.split('.').enumerate().all(label_ok) {
        return Err(fail(
            "InvalidParameter.SubdomainInvalid",
            format!("The subdomain `{host}` is invalid."),
        ));
    }
    Ok(host)
}

/// Refuses, by name, the parameters among `names` that the request gives.
fn refuse_unsupported(p: &mut Params, names: &[&str]) -> Result<(), Failure> {
    match names.iter().find(|name| p.given(name)) {
        Some(name) => Err(unsupported(&format!("The parameter `{name}`"))),
        None => Ok(()),
    }
}

fn unsupported(what: &str) -> Failure {
    fail("InvalidParameter", format!("{what} is not supported by the sandbox."))
}
