//! The actions on certificates already ordered — `DescribeCertificateDetail`,
//! `DescribeCertificates`, `DeleteCertificate`, `ModifyCertificateAlias`,
//! `ModifyCertificateProject` — and the one rendering of a certificate that both describe
//! actions answer with, so the two can never disagree about a certificate.

use certplan_provider::wire::api_time;
use chrono::{DateTime, Duration, Utc};
use serde_json::{Value, json};

use super::apply::RENEWAL_WINDOW_DAYS;
use super::params::Params;
use super::{Outcome, fail, internal, missing_parameter, not_found};
use crate::Sandbox;
use crate::store::{StoredCertificate, status};

const MAX_PAGE_LIMIT: u64 = 1000;

pub(super) fn describe_certificate_detail(sandbox: &Sandbox, mut p: Params) -> Outcome {
    let id = p.required_string("CertificateId")?;
    p.finish()?;
    let (mut store, now) = sandbox.advanced().map_err(internal)?;
    if store.ca_key_pem.is_none() {
        store.ca_key_pem = crate::x509::new_key_pem();
        sandbox.persist(&store).map_err(internal)?;
    }
    let cert = store.get(&id).ok_or_else(|| not_found(&id))?;
    let mut detail = certificate_json(cert, now);
    detail["DvAuthDetail"] = validation_json(cert);
    if let (Some(ca_key), Some(key)) = (&store.ca_key_pem, &cert.key_pem)
        && matches!(cert.status_at(now), status::ISSUED | status::EXPIRED)
    {
        let chain = crate::x509::chain_pem(cert, ca_key).map_err(internal)?;
        detail["CertificatePublicKey"] = Value::from(chain);
        detail["CertificatePrivateKey"] = Value::from(key.as_str());
    }
    Ok(detail)
}

/// The validation records of a pending order, as `DvAuthDetail` (null once decided).
fn validation_json(cert: &StoredCertificate) -> Value {
    if !cert.is_pending() {
        return Value::Null;
    }
    let bare = cert.domain.trim_start_matches("*.");
    let token = &cert.validation_token;
    let record = if cert.dv_auth_method == "FILE" {
        json!({
            "DvAuthKey": "fileauth.txt",
            "DvAuthValue": format!("{token}{}", &token[..8]),
            "DvAuthDomain": bare,
            "DvAuthPath": "/.well-known/pki-validation/",
            "DvAuthSubDomain": Value::Null,
            "DvAuthVerifyType": "FILE"
        })
    } else {
        json!({
            "DvAuthKey": format!("_{token}"),
            "DvAuthValue": format!("{}.{}.sectigo.trust-provider.com", &token[..16], &token[16..]),
            "DvAuthDomain": bare,
            "DvAuthPath": Value::Null,
            "DvAuthSubDomain": format!("_{token}"),
            "DvAuthVerifyType": "CNAME"
        })
    };
    json!({
        "DvAuthKey": record["DvAuthKey"],
        "DvAuthValue": record["DvAuthValue"],
        "DvAuthDomain": record["DvAuthDomain"],
        "DvAuthPath": record["DvAuthPath"],
        "DvAuthKeySubDomain": record["DvAuthSubDomain"],
        "DvAuths": [record]
    })
}

pub(super) fn describe_certificates(sandbox: &Sandbox, mut p: Params) -> Outcome {
    let offset = p.integer("Offset")?.unwrap_or(0);
    let limit = p.integer("Limit")?.unwrap_or(10);
    let search_key = p.string("SearchKey")?;
    let cert_ids = p.list("CertIds", |v| v.as_str().map(str::to_owned))?;
    let statuses = p.list("CertificateStatus", Value::as_i64)?;
    let expiration_sort = p.string("ExpirationSort")?;
    p.ignore(&[
        "CertificateType",
        "ProjectId",
        "Deployable",
        "Upload",
        "Renew",
        "FilterSource",
        "IsSM",
        "FilterExpiring",
        "Hostable",
        "Tags",
        "IsPendingIssue",
    ]);
    p.finish()?;
    if limit > MAX_PAGE_LIMIT {
        return Err(fail(
            "InvalidParameterValue",
            format!("Limit must not exceed {MAX_PAGE_LIMIT}."),
        ));
    }

    let (store, now) = sandbox.advanced().map_err(internal)?;
    let mut matching: Vec<&StoredCertificate> = Vec::new();
    let all = store.certificates();
    for cert in &all {
        let by_id = cert_ids.as_ref().is_none_or(|ids| ids.contains(&cert.id));
        let by_key = search_key.as_deref().is_none_or(|key| {
            cert.id.contains(key) || cert.alias.contains(key) || cert.domain.contains(key)
        });
        let by_status = statuses.as_ref().is_none_or(|s| s.contains(&cert.status_at(now)));
        if by_id && by_key && by_status {
            matching.push(cert);
        }
    }
    match expiration_sort.as_deref() {
        Some("ASC") => matching.sort_by_key(|c| c.not_after),
        Some("DESC") => matching.sort_by_key(|c| std::cmp::Reverse(c.not_after)),
        // Newest application first, as the real service lists.
        _ => matching.reverse(),
    }
    let total = matching.len();
    let page: Vec<Value> = matching
        .into_iter()
        .skip(usize::try_from(offset).unwrap_or(usize::MAX))
        .take(usize::try_from(limit).unwrap_or(usize::MAX))
        .map(|c| certificate_json(c, now))
        .collect();
    Ok(json!({ "TotalCount": total, "Certificates": page }))
}

pub(super) fn delete_certificate(sandbox: &Sandbox, mut p: Params) -> Outcome {
    let id = p.required_string("CertificateId")?;
    let _check_resource = p.boolean("IsCheckResource")?;
    p.finish()?;
    let (mut store, now) = sandbox.advanced().map_err(internal)?;
    let cert = store.get(&id).ok_or_else(|| not_found(&id))?;
    if now - cert.inserted_at < Duration::hours(1) {
        return Err(fail(
            "FailedOperation.CannotBeDeletedWithinHour",
            "Free certificates cannot be deleted within 1 hour after the application.",
        ));
    }
    store.remove(&id);
    sandbox.persist(&store).map_err(internal)?;
    Ok(json!({ "DeleteResult": true, "TaskId": Value::Null }))
}

pub(super) fn modify_certificate_alias(sandbox: &Sandbox, mut p: Params) -> Outcome {
    let id = p.required_string("CertificateId")?;
    let alias = p.string("Alias")?.unwrap_or_default();
    p.finish()?;
    let (mut store, _) = sandbox.advanced().map_err(internal)?;
    store.get_mut(&id).ok_or_else(|| not_found(&id))?.alias = alias;
    sandbox.persist(&store).map_err(internal)?;
    Ok(json!({ "CertificateId": id }))
}

pub(super) fn modify_certificate_project(sandbox: &Sandbox, mut p: Params) -> Outcome {
    let ids = p
        .list("CertificateIdList", |v| v.as_str().map(str::to_owned))?
        .ok_or_else(|| missing_parameter("CertificateIdList"))?;
    let project_id = p.integer("ProjectId")?.ok_or_else(|| missing_parameter("ProjectId"))?;
    p.finish()?;
    if ids.is_empty() || ids.len() > 100 {
        return Err(fail(
            "InvalidParameterValue",
            "CertificateIdList must hold 1 to 100 certificate ids.",
        ));
    }
    let (mut store, _) = sandbox.advanced().map_err(internal)?;
    let (mut succeeded, mut failed) = (Vec::new(), Vec::new());
    for id in ids {
        match store.get_mut(&id) {
            Some(cert) => {
                cert.project_id = project_id;
                succeeded.push(id);
            }
            None => failed.push(id),
        }
    }
    sandbox.persist(&store).map_err(internal)?;
    Ok(json!({ "SuccessCertificates": succeeded, "FailCertificates": failed }))
}

/// Renders a certificate as `DescribeCertificateDetail` and `DescribeCertificates` do.
fn certificate_json(cert: &StoredCertificate, now: DateTime<Utc>) -> Value {
    let status = cert.status_at(now);
    let (status_name, status_msg) = match status {
        status::PENDING => ("Reviewing", Value::from("PENDING-DCV")),
        status::ISSUED => ("Issued", Value::Null),
        status::FAILED => ("Review failed", Value::Null),
        status::EXPIRED => ("Expired", Value::Null),
        status::DNS_RECORD_ADDED => ("DNS record added", Value::from("PENDING-DCV")),
        status::CANCELLED => ("Cancelled", Value::Null),
        status::REVOKED => ("Revoked", Value::Null),
        _ => ("Other", Value::Null),
    };
    let time = |t: Option<DateTime<Utc>>| t.map(api_time::format).map_or(Value::Null, Value::from);
    let deadline =
        if cert.is_pending() { time(Some(cert.validation_deadline())) } else { Value::Null };
    // The window in which `OldCertificateId` is accepted, so that `RenewAble` never promises a
    // renewal that `ApplyCertificate` would refuse.
    let expiring = cert
        .not_after
        .is_some_and(|end| status == 1 && end - now <= Duration::days(RENEWAL_WINDOW_DAYS));
    let encrypt = if cert.csr_encrypt_algo == "ECC" { "ECC 256" } else { "RSA 2048" };
    json!({
        "CertificateId": cert.id,
        "OwnerUin": "100000000001",
        "ProjectId": cert.project_id.to_string(),
        "From": "trustasia",
        "PackageType": "83",
        "ProductZhName": "TrustAsia C1 DV Free",
        "CertificateType": "SVR",
        "Domain": cert.domain,
        "Alias": cert.alias,
        "Status": status,
        "StatusName": status_name,
        "StatusMsg": status_msg,
        "VerifyType": cert.dv_auth_method,
        "EncryptAlgorithm": encrypt,
        "CertBeginTime": time(cert.not_before),
        "CertEndTime": time(cert.not_after),
        "InsertTime": time(Some(cert.inserted_at)),
        "DVAuthDeadline": deadline,
        "ValidityPeriod": "3",
        "SubjectAltName": [cert.domain],
        "IsDv": true,
        "IsWildcard": cert.domain.starts_with("*."),
        "IsExpiring": expiring,
        // The SDK's model: the id of the renewing certificate, or null.
        "HasRenewOrder": cert.renewed_by,
        "RenewAble": expiring && cert.renewed_by.is_none(),
        "Deployable": status == 1,
        "AllowDownload": status == 1,
        "CertificateExtra": {
            "DomainNumber": "1",
            "OriginCertificateId": cert.origin_certificate_id,
            "ReplacedBy": Value::Null,
            "ReplacedFor": Value::Null,
            "RenewOrder": cert.renewed_by,
            "SMCert": 0,
            "CompanyType": 0
        },
        "DvAuthDetail": Value::Null,
        "CertificatePublicKey": Value::Null,
        "CertificatePrivateKey": Value::Null,
    })
}
