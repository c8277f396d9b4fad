//! `DescribeCertificates`: the paginated list and every filter the API documents, each either
//! applied as documented or refused by name — never accepted and ignored, which would hand a
//! client a list it did not ask for.
//!
//! | parameter | in the sandbox |
//! |---|---|
//! | `Offset`, `Limit` | pagination; `Limit` defaults to 10, and above the documented maximum of 1000 is treated as 1000 |
//! | `SearchKey` | a substring of the id, the alias or the domain |
//! | `CertIds` | only these certificates |
//! | `CertificateStatus` | statuses as reported now (an issued certificate past its end is 3); an empty list filters nothing |
//! | `ProjectId` | only this project's (0, the default project, included) |
//! | `CertificateType` | `SVR`: server certificates (every order, and uploads of that type); `CA`: uploaded CA certificates |
//! | `Deployable` | 1: issued ones (`Deployable` true); 0: the others |
//! | `Renew` | 1: those `RenewAble` (issued, expiring within 30 days, not renewed yet) |
//! | `FilterExpiring` | 1: those `IsExpiring` (issued, expiring within 30 days) |
//! | `IsPendingIssue` | 1: those awaiting issuance (status 0 or 4) |
//! | `Upload` | 1: certificates uploaded for hosting (上传托管) only — none, the sandbox does not model hosting |
//! | `FilterSource` | `buy`: the certificates ordered (issued by Tencent Cloud); `upload`: those uploaded (`UploadCertificate`); empty filters nothing |
//! | `IsSM` | 1: SM2 (Chinese national) certificates only — none, the sandbox issues none |
//! | `Tags` | certificates with these tags — none: the sandbox's certificates have no tags; an empty list filters nothing |
//! | `ExpirationSort` | `ASC`/`DESC` by `CertEndTime` (certificates without one first when ascending, last when descending); absent or empty: newest application first |
//! | `Hostable` | refused with `InvalidParameter`: the sandbox does not model certificate hosting |
//!
//! The integer flags take 0 (no filter) or 1; any other value, and a string filter outside
//! its documented values, is refused with `InvalidParameterValue` naming the parameter.

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::certificates::{
    certificate_json, certificate_type, is_deployable, is_expiring, is_renewable,
};
use super::params::Params;
use super::{Failure, Outcome, fail, internal};
use crate::Account;
use crate::store::StoredCertificate;

/// The documented maximum page size; a larger `Limit` is treated as this.
const MAX_PAGE_LIMIT: u64 = 1000;
const DEFAULT_PAGE_LIMIT: u64 = 10;

pub(super) fn describe_certificates(account: &Account<'_>, mut p: Params) -> Outcome {
    let offset = p.integer("Offset")?.unwrap_or(0);
    let limit = p.integer("Limit")?.unwrap_or(DEFAULT_PAGE_LIMIT).min(MAX_PAGE_LIMIT);
    let filter = Filter::read(&mut p)?;
    let order = match p.string("ExpirationSort")?.as_deref() {
        None | Some("") => Order::NewestFirst,
        Some("ASC") => Order::EndAscending,
        Some("DESC") => Order::EndDescending,
        Some(other) => {
            return Err(fail(
                "InvalidParameterValue",
                format!("ExpirationSort `{other}` is not one of ASC, DESC."),
            ));
        }
    };
    if p.given("Hostable") {
        return Err(fail(
            "InvalidParameter",
            "The filter `Hostable` is not supported by the sandbox, which does not model certificate hosting.",
        ));
    }
    p.finish()?;

    let (store, now) = account.advanced().map_err(internal)?;
    let all = store.certificates();
    let mut matching: Vec<&StoredCertificate> =
        all.iter().filter(|cert| filter.matches(cert, now)).collect();
    match order {
        // `certificates()` is oldest application first.
        Order::NewestFirst => matching.reverse(),
        Order::EndAscending => matching.sort_by_key(|c| c.not_after),
        Order::EndDescending => matching.sort_by_key(|c| std::cmp::Reverse(c.not_after)),
    }
    let total = matching.len();
    let page: Vec<Value> = matching
        .into_iter()
        .skip(usize::try_from(offset).unwrap_or(usize::MAX))
        .take(usize::try_from(limit).unwrap_or(usize::MAX))
        .map(|c| certificate_json(c, &account.options().uin, now))
        .collect();
    Ok(json!({ "TotalCount": total, "Certificates": page }))
}

/// The order of the list (`ExpirationSort`).
#[derive(Debug, Clone, Copy)]
enum Order {
    /// Newest application first, as the real service lists by default.
    NewestFirst,
    /// By `CertEndTime`; certificates without one (not issued) first.
    EndAscending,
    /// By `CertEndTime`, latest first; certificates without one last.
    EndDescending,
}

/// Which certificates a `DescribeCertificates` request lists.
#[derive(Debug, Default)]
struct Filter {
    cert_ids: Option<Vec<String>>,
    search_key: Option<String>,
    statuses: Option<Vec<i64>>,
    project_id: Option<u64>,
    certificate_type: Option<String>,
    /// `Some(true)`: uploaded ones only; `Some(false)`: ordered ones only.
    uploaded: Option<bool>,
    deployable: Option<bool>,
    renewable: bool,
    expiring: bool,
    pending_issue: bool,
    /// Set by a filter that no certificate of the sandbox can pass: hosted uploads, SM2 or
    /// tagged certificates.
    excludes_all: bool,
}

impl Filter {
    /// Takes the filter parameters from `p`, refusing values the API does not document.
    fn read(p: &mut Params) -> Result<Self, Failure> {
        let cert_ids = p.list("CertIds", |v| v.as_str().map(str::to_owned))?;
        let search_key = p.string("SearchKey")?.filter(|k| !k.is_empty());
        let statuses = p.list("CertificateStatus", Value::as_i64)?.filter(|s| !s.is_empty());
        let project_id = p.integer("ProjectId")?;
        let certificate_type = match p.string("CertificateType")?.filter(|t| !t.is_empty()) {
            None => None,
            Some(t) if t == "SVR" || t == "CA" => Some(t),
            Some(other) => {
                return Err(fail(
                    "InvalidParameterValue",
                    format!("CertificateType `{other}` is not one of SVR, CA."),
                ));
            }
        };
        let deployable = match p.integer("Deployable")? {
            None => None,
            Some(0) => Some(false),
            Some(1) => Some(true),
            Some(other) => return Err(not_a_flag("Deployable", other)),
        };
        let hosted_uploads = flag(p, "Upload")?;
        let uploaded = match p.string("FilterSource")?.as_deref() {
            None | Some("") => None,
            Some("buy") => Some(false),
            Some("upload") => Some(true),
            Some(other) => {
                return Err(fail(
                    "InvalidParameterValue",
                    format!("FilterSource `{other}` is not one of upload, buy."),
                ));
            }
        };
        let sm = flag(p, "IsSM")?;
        let tagged = p
            .list("Tags", |tag| {
                let text = |key: &str| tag.get(key).and_then(Value::as_str).map(str::to_owned);
                Some((text("TagKey")?, text("TagValue")?))
            })?
            .is_some_and(|tags| !tags.is_empty());
        Ok(Filter {
            cert_ids,
            search_key,
            statuses,
            project_id,
            certificate_type,
            uploaded,
            deployable,
            renewable: flag(p, "Renew")?,
            expiring: flag(p, "FilterExpiring")?,
            pending_issue: flag(p, "IsPendingIssue")?,
            excludes_all: hosted_uploads || sm || tagged,
        })
    }

    fn matches(&self, cert: &StoredCertificate, now: DateTime<Utc>) -> bool {
        let status = cert.status_at(now);
        !self.excludes_all
            && self.cert_ids.as_ref().is_none_or(|ids| ids.contains(&cert.id))
            && self.search_key.as_deref().is_none_or(|key| {
                cert.id.contains(key) || cert.alias.contains(key) || cert.domain.contains(key)
            })
            && self.statuses.as_ref().is_none_or(|s| s.contains(&status))
            && self.project_id.is_none_or(|project| cert.project_id == project)
            && self.certificate_type.as_deref().is_none_or(|t| certificate_type(cert) == t)
            && self.uploaded.is_none_or(|uploaded| cert.upload.is_some() == uploaded)
            && self.deployable.is_none_or(|d| d == is_deployable(cert, now))
            && (!self.renewable || is_renewable(cert, now))
            && (!self.expiring || is_expiring(cert, now))
            && (!self.pending_issue || cert.is_pending())
    }
}

/// Reads a 0/1 filter flag: 1 filters, 0 or absent does not.
fn flag(p: &mut Params, name: &str) -> Result<bool, Failure> {
    match p.integer(name)? {
        None | Some(0) => Ok(false),
        Some(1) => Ok(true),
        Some(other) => Err(not_a_flag(name, other)),
    }
}

fn not_a_flag(name: &str, value: u64) -> Failure {
    fail("InvalidParameterValue", format!("{name} must be 0 or 1, not {value}."))
}
