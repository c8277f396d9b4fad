//! The actions on certificates already ordered — `DescribeCertificateDetail`,
//! `DownloadCertificate`, `CompleteCertificate`, `DeleteCertificate`, `ModifyCertificateAlias`,
//! `ModifyCertificateProject`, `ModifyCertificatesExpiringNotificationSwitch` — and the one
//! rendering of a certificate that the detail and the list ([`super::list`]) answer with, so
//! the two can never disagree about a certificate. The PEM material the detail returns and the
//! ZIP the download serves come from the same minting ([`crate::x509`]), done once and kept, so
//! they hold the same key and the same dates and are the same bytes on every call; an uploaded
//! certificate's are what was uploaded. A certificate still bound to cloud resources cannot be
//! deleted, nor a free one within an hour of applying for it.

use base64::Engine;
use certplan_provider::wire::api_time;
use chrono::{DateTime, Duration, Utc};
use serde_json::{Value, json};

use super::apply::RENEWAL_WINDOW_DAYS;
use super::params::Params;
use super::{Failure, Outcome, fail, internal, missing_parameter, not_found};
use crate::Account;
use crate::account::AccountGuard;
use crate::store::{StoredCertificate, status};
use crate::x509::{self, Issued, KeyKind};

/// How many certificates one `ModifyCertificatesExpiringNotificationSwitch` may name.
const MAX_NOTIFICATION_SWITCH_IDS: usize = 50;

pub(super) fn describe_certificate_detail(account: &Account<'_>, mut p: Params) -> Outcome {
    let id = p.required_string("CertificateId")?;
    p.finish()?;
    mint_key(account, &id)?;
    let (mut store, now) = account.advanced().map_err(internal)?;
    let issued = issued_material(account, &mut store, &id, now)?;
    let cert = store.get(&id).ok_or_else(|| not_found(&id))?;
    let mut detail = certificate_json(cert, &account.options().uin, now);
    detail["DvAuthDetail"] = validation_json(cert);
    if let Some(issued) = issued {
        detail["CertificatePublicKey"] = Value::from(issued.chain());
        // An uploaded CA certificate came without its key.
        if !issued.key.is_empty() {
            detail["CertificatePrivateKey"] = Value::from(issued.key);
        }
    }
    Ok(detail)
}

/// `DownloadCertificate`: the certificate, its chain and its key as a base64 ZIP laid out per
/// server ([`crate::archive`]); refused until the certificate is issued.
pub(super) fn download_certificate(account: &Account<'_>, mut p: Params) -> Outcome {
    let id = p.required_string("CertificateId")?;
    p.finish()?;
    mint_key(account, &id)?;
    let (mut store, now) = account.advanced().map_err(internal)?;
    let issued = issued_material(account, &mut store, &id, now)?;
    let cert = store.get(&id).ok_or_else(|| not_found(&id))?;
    let (Some(issued), Some(begin)) = (issued, cert.not_before) else {
        return Err(fail(
            "FailedOperation.CertificateStatusNotAllowDownload",
            format!(
                "Certificate `{id}` has status {}: only an issued certificate can be downloaded.",
                cert.status_at(now)
            ),
        ));
    };
    let zip = crate::archive::zip(&cert.domain, &issued, begin).map_err(internal)?;
    Ok(json!({
        "Content": base64::engine::general_purpose::STANDARD.encode(zip),
        "ContentType": "application/zip",
    }))
}

/// Mints the private key of a downloadable certificate the first time it is asked for, outside
/// the store's lock: an RSA 2048 key takes long enough to generate that holding the lock would
/// stall every other request. Two racing requests both mint; the first to store its key wins.
fn mint_key(account: &Account<'_>, id: &str) -> Result<(), Failure> {
    let kind = {
        let (store, now) = account.advanced().map_err(internal)?;
        match store.get(id) {
            Some(cert)
                if cert.key_pem.is_none() && cert.upload.is_none() && cert.is_downloadable(now) =>
            {
                KeyKind::of(&cert.csr_encrypt_algo)
            }
            _ => return Ok(()),
        }
    };
    let key = x509::new_key_pem(kind).map_err(internal)?;
    let (mut store, _) = account.advanced().map_err(internal)?;
    if let Some(cert) = store.get_mut(id)
        && cert.key_pem.is_none()
    {
        cert.key_pem = Some(key);
        account.persist(&store).map_err(internal)?;
    }
    Ok(())
}

/// Returns the PEM material of certificate `id` when it is downloadable and has its key
/// ([`mint_key`] first), or was uploaded. The CA's certificate, the leaf and its signing request
/// are signed the first time they are needed and kept, so every later call hands out the same
/// bytes; an upload's are the ones uploaded, with no signing request.
fn issued_material(
    account: &Account<'_>,
    store: &mut AccountGuard<'_>,
    id: &str,
    now: DateTime<Utc>,
) -> Result<Option<Issued>, Failure> {
    let Some(cert) = store.get(id).filter(|c| c.is_downloadable(now)) else {
        return Ok(None);
    };
    if let Some(upload) = &cert.upload {
        return Ok(Some(Issued {
            leaf: cert.cert_pem.clone().unwrap_or_default(),
            ca: upload.chain_pem.clone(),
            key: cert.key_pem.clone().unwrap_or_default(),
            csr: String::new(),
        }));
    }
    if cert.key_pem.is_none() {
        return Ok(None);
    }
    let mut changed = false;
    // The CA is the sandbox's, one for every account.
    let whole = store.store_mut();
    if whole.ca_key_pem.is_none() {
        whole.ca_key_pem = Some(x509::new_key_pem(KeyKind::EcdsaP256).map_err(internal)?);
        changed = true;
    }
    let ca_key = whole.ca_key_pem.clone().unwrap_or_default();
    if whole.ca_cert_pem.is_none() {
        whole.ca_cert_pem = Some(x509::ca_certificate(&ca_key).map_err(internal)?);
        changed = true;
    }
    let ca = whole.ca_cert_pem.clone().unwrap_or_default();
    let cert = store.get_mut(id).ok_or_else(|| not_found(id))?;
    let key = cert.key_pem.clone().unwrap_or_default();
    if cert.cert_pem.is_none() {
        cert.cert_pem = Some(x509::leaf(cert, &ca_key).map_err(internal)?);
        changed = true;
    }
    if cert.csr_pem.is_none() {
        cert.csr_pem = Some(x509::signing_request(&key, &cert.domain).map_err(internal)?);
        changed = true;
    }
    let issued = Issued {
        leaf: cert.cert_pem.clone().unwrap_or_default(),
        ca,
        key,
        csr: cert.csr_pem.clone().unwrap_or_default(),
    };
    if changed {
        account.persist(store).map_err(internal)?;
    }
    Ok(Some(issued))
}

/// The validation records of a pending order, as `DvAuthDetail` (null once decided).
fn validation_json(cert: &StoredCertificate) -> Value {
    if !cert.is_pending() {
        return Value::Null;
    }
    let record = if cert.dv_auth_method == "FILE" {
        let token = &cert.validation_token;
        json!({
            "DvAuthKey": "fileauth.txt",
            "DvAuthValue": format!("{token}{}", &token[..8]),
            "DvAuthDomain": cert.validation_domain(),
            "DvAuthPath": "/.well-known/pki-validation/",
            "DvAuthSubDomain": Value::Null,
            "DvAuthVerifyType": "FILE"
        })
    } else {
        let cname = cert.cname_validation();
        json!({
            "DvAuthKey": cname.key,
            "DvAuthValue": cname.value,
            "DvAuthDomain": cname.domain,
            "DvAuthPath": Value::Null,
            "DvAuthSubDomain": cname.key,
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

/// `CompleteCertificate`: asks the CA to check an order's domain validation now. The sandbox's
/// CA checks whenever the store is read (`Store::advance`), so this call is that check: a `DNS`
/// order whose CNAME record is published issues, one whose record is not (and a `FILE` order,
/// which only the control API validates) stays pending. A certificate that was not pending
/// when asked about — issued, failed, cancelled, revoked, uploaded — is refused.
pub(super) fn complete_certificate(account: &Account<'_>, mut p: Params) -> Outcome {
    let id = p.required_string("CertificateId")?;
    p.finish()?;
    // Read before the check: an order this very check issues was pending when asked about.
    let pending_when_asked = account.store().get(&id).is_some_and(StoredCertificate::is_pending);
    let (store, now) = account.advanced().map_err(internal)?;
    let cert = store.get(&id).ok_or_else(|| not_found(&id))?;
    let issued_by_the_check = pending_when_asked && cert.status == status::ISSUED;
    if !cert.is_pending() && !issued_by_the_check {
        return Err(fail(
            "FailedOperation.InvalidParam",
            format!(
                "Certificate `{id}` has status {}: only a certificate pending domain validation can be checked.",
                cert.status_at(now)
            ),
        ));
    }
    Ok(json!({ "CertificateId": id }))
}

pub(super) fn delete_certificate(account: &Account<'_>, mut p: Params) -> Outcome {
    let id = p.required_string("CertificateId")?;
    let _check_resource = p.boolean("IsCheckResource")?;
    p.finish()?;
    let (mut store, now) = account.advanced().map_err(internal)?;
    let cert = store.get(&id).ok_or_else(|| not_found(&id))?;
    if cert.is_free() && now - cert.inserted_at < Duration::hours(1) {
        return Err(fail(
            "FailedOperation.CannotBeDeletedWithinHour",
            "Free certificates cannot be deleted within 1 hour after the application.",
        ));
    }
    let bound = store.deploy.bindings().filter(|b| b.certificate_id == id).count();
    if bound > 0 {
        return Err(fail(
            "FailedOperation.DeleteResourceFailed",
            format!(
                "Certificate `{id}` is associated with {bound} cloud resource(s) and cannot be deleted: move them to another certificate first."
            ),
        ));
    }
    store.remove(&id);
    account.persist(&store).map_err(internal)?;
    Ok(json!({ "DeleteResult": true, "TaskId": Value::Null }))
}

pub(super) fn modify_certificate_alias(account: &Account<'_>, mut p: Params) -> Outcome {
    let id = p.required_string("CertificateId")?;
    let alias = p.string("Alias")?.unwrap_or_default();
    p.finish()?;
    let (mut store, _) = account.advanced().map_err(internal)?;
    store.get_mut(&id).ok_or_else(|| not_found(&id))?.alias = alias;
    account.persist(&store).map_err(internal)?;
    Ok(json!({ "CertificateId": id }))
}

pub(super) fn modify_certificate_project(account: &Account<'_>, mut p: Params) -> Outcome {
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
    let (mut store, _) = account.advanced().map_err(internal)?;
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
    account.persist(&store).map_err(internal)?;
    Ok(json!({ "SuccessCertificates": succeeded, "FailCertificates": failed }))
}

/// `ModifyCertificatesExpiringNotificationSwitch`: switches the expiry notifications of up to
/// 50 of the account's certificates off (`SwitchStatus` 1, shown as `IsIgnore`) or on again
/// (0). All or nothing: an id the account does not hold refuses the whole request, none
/// changed.
pub(super) fn modify_certificates_expiring_notification_switch(
    account: &Account<'_>,
    mut p: Params,
) -> Outcome {
    let ids = p.list("CertificateIds", |v| v.as_str().map(str::to_owned))?.unwrap_or_default();
    let switch = p.integer("SwitchStatus")?.ok_or_else(|| missing_parameter("SwitchStatus"))?;
    p.finish()?;
    if ids.is_empty() {
        return Err(missing_parameter("CertificateIds"));
    }
    if ids.len() > MAX_NOTIFICATION_SWITCH_IDS {
        return Err(fail(
            "InvalidParameter",
            format!(
                "CertificateIds holds {} certificate ids; at most {MAX_NOTIFICATION_SWITCH_IDS} are allowed.",
                ids.len()
            ),
        ));
    }
    let ignore = match switch {
        0 => false,
        1 => true,
        other => {
            return Err(fail(
                "InvalidParameterValue",
                format!("SwitchStatus must be 0 (notify) or 1 (ignore), not {other}."),
            ));
        }
    };
    let (mut store, _) = account.advanced().map_err(internal)?;
    if let Some(missing) = ids.iter().find(|id| !store.contains(id)) {
        return Err(not_found(missing));
    }
    for id in &ids {
        if let Some(cert) = store.get_mut(id) {
            cert.ignore_expiry = ignore;
        }
    }
    account.persist(&store).map_err(internal)?;
    Ok(json!({ "CertificateIds": ids }))
}

/// Tells whether an issued certificate expires within the window in which `OldCertificateId`
/// is accepted (`IsExpiring`, the `FilterExpiring` filter).
pub(super) fn is_expiring(cert: &StoredCertificate, now: DateTime<Utc>) -> bool {
    cert.not_after.is_some_and(|end| {
        cert.status_at(now) == status::ISSUED && end - now <= Duration::days(RENEWAL_WINDOW_DAYS)
    })
}

/// Tells whether `ApplyCertificate` would accept the certificate as `OldCertificateId`
/// (`RenewAble`, the `Renew` filter): a promise of renewal it never breaks.
pub(super) fn is_renewable(cert: &StoredCertificate, now: DateTime<Utc>) -> bool {
    cert.is_free() && is_expiring(cert, now) && cert.renewed_by.is_none()
}

/// Returns the certificate's type (`CertificateType`, the filter of that name): `SVR`, or what
/// an upload said.
pub(super) fn certificate_type(cert: &StoredCertificate) -> &str {
    cert.upload.as_ref().map_or("SVR", |u| u.certificate_type.as_str())
}

/// Tells whether the certificate can be deployed to cloud resources (`Deployable`).
pub(super) fn is_deployable(cert: &StoredCertificate, now: DateTime<Utc>) -> bool {
    cert.status_at(now) == status::ISSUED
}

/// Renders a certificate of account `owner_uin` as `DescribeCertificateDetail` and
/// `DescribeCertificates` do.
pub(super) fn certificate_json(
    cert: &StoredCertificate,
    owner_uin: &str,
    now: DateTime<Utc>,
) -> Value {
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
    let names = cert.names();
    let upload = cert.upload.as_ref();
    // An order's product, free or paid, or (all null) an upload's: it has no package,
    // validation or term.
    let verify = Value::from(cert.dv_auth_method.as_str());
    let (from, package_type, product, verify_type, validity_period) = match upload {
        None if cert.paid => (
            "trustasia",
            Value::from("2"),
            Value::from("TrustAsia TLS RSA CA"),
            verify,
            Value::from("12"),
        ),
        None => (
            "trustasia",
            Value::from("83"),
            Value::from("TrustAsia C1 DV Free"),
            verify,
            Value::from("3"),
        ),
        Some(_) => ("upload", Value::Null, Value::Null, Value::Null, Value::Null),
    };
    let encrypt = match upload {
        Some(upload) => upload.encrypt_algorithm.as_str(),
        None if cert.csr_encrypt_algo == "ECC" => "ECC 256",
        None => "RSA 2048",
    };
    json!({
        "CertificateId": cert.id,
        "OwnerUin": owner_uin,
        "ProjectId": cert.project_id.to_string(),
        "From": from,
        "PackageType": package_type,
        "ProductZhName": product,
        "CertificateType": certificate_type(cert),
        "Domain": cert.domain,
        "Alias": cert.alias,
        "Status": status,
        "StatusName": status_name,
        "StatusMsg": status_msg,
        "VerifyType": verify_type,
        "EncryptAlgorithm": encrypt,
        "CertFingerprint": upload.map(|u| u.fingerprint.as_str()),
        "CertBeginTime": time(cert.not_before),
        "CertEndTime": time(cert.not_after),
        "InsertTime": time(Some(cert.inserted_at)),
        "DVAuthDeadline": deadline,
        "ValidityPeriod": validity_period,
        "SubjectAltName": names,
        "IsDv": upload.is_none(),
        "IsWildcard": names.iter().any(|n| n.starts_with("*.")),
        "IsExpiring": is_expiring(cert, now),
        // The SDK's model: the id of the renewing certificate, or null.
        "HasRenewOrder": cert.renewed_by,
        "RenewAble": is_renewable(cert, now),
        "Deployable": is_deployable(cert, now),
        "AllowDownload": cert.is_downloadable(now),
        "IsIgnore": cert.ignore_expiry,
        "CertificateExtra": {
            "DomainNumber": names.len().to_string(),
            "OriginCertificateId": cert.origin_certificate_id,
            "ReplacedBy": cert.replaced_by,
            "ReplacedFor": cert.replaced_for,
            "RenewOrder": cert.renewed_by,
            "SMCert": 0,
            "CompanyType": 0
        },
        "DvAuthDetail": Value::Null,
        "CertificatePublicKey": Value::Null,
        "CertificatePrivateKey": Value::Null,
    })
}
