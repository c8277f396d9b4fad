//! `ApplyCertificate`: the rules an application must pass — its parameters, the domain name
//! (one name: free certificates are single-domain), the per-main-domain quota, the per-account
//! yearly limit of free certificates and the renewal window of `OldCertificateId` (a free
//! certificate, never an uploaded or paid one) — and the new order it adds to the account's
//! certificates (the quotas count the account's own free ones). An application is never merged
//! with an earlier one: like the real service, applying twice orders two certificates.

use chrono::{DateTime, Datelike, Duration, FixedOffset, Utc};
use serde_json::json;

use super::params::Params;
use super::{Failure, Outcome, fail, internal, not_found};
use crate::Account;
use crate::dns::is_domain_name;
use crate::store::{AccountData, StoredCertificate, status};

/// `OldCertificateId` is accepted only this close to the old certificate's expiry.
pub(super) const RENEWAL_WINDOW_DAYS: i64 = 30;
const MAX_DOMAIN_LEN: usize = 64;

pub(super) fn apply_certificate(account: &Account<'_>, mut p: Params) -> Outcome {
    let dv_auth_method = p.required_string("DvAuthMethod")?;
    let domain = p.required_string("DomainName")?;
    let project_id = p.integer("ProjectId")?.unwrap_or(0);
    let package_type = p.string("PackageType")?;
    let contact_email = p.string("ContactEmail")?;
    let _contact_phone = p.string("ContactPhone")?;
    let validity_period = p.string("ValidityPeriod")?;
    let csr_encrypt_algo = p.string("CsrEncryptAlgo")?.unwrap_or_else(|| "RSA".into());
    let csr_key_parameter = p.string("CsrKeyParameter")?;
    let _csr_key_password = p.string("CsrKeyPassword")?;
    let alias = p.string("Alias")?.unwrap_or_default();
    let old_certificate_id = p.string("OldCertificateId")?;
    let _delete_dns_auto_record = p.boolean("DeleteDnsAutoRecord")?;
    p.ignore(&["PackageId", "DnsNames"]);
    p.finish()?;

    if !["DNS_AUTO", "DNS", "FILE"].contains(&dv_auth_method.as_str()) {
        return Err(fail(
            "InvalidParameterValue",
            format!("DvAuthMethod `{dv_auth_method}` is not one of DNS_AUTO, DNS, FILE."),
        ));
    }
    check_domain(&domain)?;
    if package_type.as_deref().is_some_and(|t| t != "83") {
        return Err(fail(
            "InvalidParameterValue",
            "PackageType must be \"83\" (TrustAsia C1 DV Free).",
        ));
    }
    if validity_period.as_deref().is_some_and(|v| v != "3") {
        return Err(fail(
            "InvalidParameterValue",
            "ValidityPeriod must be \"3\" (months) for a free certificate.",
        ));
    }
    let expected_parameter = match csr_encrypt_algo.as_str() {
        "RSA" => "2048",
        "ECC" => "prime256v1",
        other => {
            return Err(fail(
                "InvalidParameterValue",
                format!("CsrEncryptAlgo `{other}` is not one of RSA, ECC."),
            ));
        }
    };
    let csr_key_parameter = match csr_key_parameter {
        Some(given) if given != expected_parameter => {
            return Err(fail(
                "InvalidParameterValue",
                format!(
                    "CsrKeyParameter `{given}` does not go with CsrEncryptAlgo {csr_encrypt_algo}: use `{expected_parameter}`."
                ),
            ));
        }
        None if csr_encrypt_algo == "ECC" => {
            return Err(fail(
                "InvalidParameterValue",
                "CsrKeyParameter is required with CsrEncryptAlgo ECC.",
            ));
        }
        _ => expected_parameter.to_owned(),
    };

    let (mut store, now) = account.advanced().map_err(internal)?;
    let options = account.sandbox().options();
    check_quota_per_domain(&store, &domain, options.quota_per_domain)?;
    check_free_per_year(&store, now, options.free_per_year)?;
    if let Some(old_id) = &old_certificate_id {
        let old = store.get(old_id).ok_or_else(|| not_found(old_id))?;
        check_renewable(old, &domain, now)?;
    }

    let id = store.unused_id();
    let status =
        if dv_auth_method == "DNS_AUTO" { status::DNS_RECORD_ADDED } else { status::PENDING };
    store.insert(StoredCertificate {
        id: id.clone(),
        sequence: 0,
        domain,
        alias,
        project_id,
        dv_auth_method,
        csr_encrypt_algo,
        csr_key_parameter,
        contact_email,
        status,
        inserted_at: DateTime::from_timestamp(now.timestamp(), 0).unwrap_or(now),
        not_before: None,
        not_after: None,
        origin_certificate_id: old_certificate_id.clone(),
        renewed_by: None,
        replaced_by: None,
        replaced_for: None,
        validation_token: hex::encode(rand::random::<[u8; 16]>()),
        key_pem: None,
        cert_pem: None,
        csr_pem: None,
        upload: None,
        paid: false,
        ignore_expiry: false,
    });
    // Automatic validation with no delay issues at once.
    account.sandbox().advance(store.store_mut(), now);
    if let Some(old) = old_certificate_id.and_then(|old| store.get_mut(&old)) {
        old.renewed_by = Some(id.clone());
    }
    account.persist(&store).map_err(internal)?;
    Ok(json!({ "CertificateId": id }))
}

/// Refuses a free certificate for a main domain that holds `quota` free certificates already
/// (0: no limit); the account's own count, as the sandbox knows no other reseller's.
fn check_quota_per_domain(store: &AccountData, domain: &str, quota: u32) -> Result<(), Failure> {
    if quota == 0 {
        return Ok(());
    }
    let main = main_domain(domain);
    let held = store.count(|c| c.is_free() && main_domain(&c.domain) == main);
    if held < usize::try_from(quota).unwrap_or(usize::MAX) {
        return Ok(());
    }
    Err(fail(
        "FailedOperation.MainDomainCertificateCountLimit",
        format!("The main domain {main} has reached its limit of {quota} free certificates."),
    ))
}

/// Refuses a free certificate when the account holds `limit` free certificates applied for in
/// the current calendar year (Beijing time, as the service keeps its books) already, whatever
/// their status; 0 is no limit. A deleted certificate is no longer held, so it no longer counts:
/// the store forgets deleted certificates (the real service may well count them still).
fn check_free_per_year(store: &AccountData, now: DateTime<Utc>, limit: u32) -> Result<(), Failure> {
    if limit == 0 {
        return Ok(());
    }
    let year = beijing_year(now);
    let held = store.count(|c| c.is_free() && beijing_year(c.inserted_at) == year);
    if held < usize::try_from(limit).unwrap_or(usize::MAX) {
        return Ok(());
    }
    Err(fail(
        "FailedOperation.ExceedsFreeLimit",
        format!(
            "The number of free certificates applied for this year has reached the limit ({limit})."
        ),
    ))
}

/// Returns the calendar year of `at` in Beijing time (GMT+8).
fn beijing_year(at: DateTime<Utc>) -> i32 {
    let beijing = FixedOffset::east_opt(8 * 3600).expect("+08:00 is a valid offset");
    at.with_timezone(&beijing).year()
}

/// The main (registered) domain of a certificate's domain: its last two labels. (The real
/// service knows public suffixes such as `co.uk`; the sandbox does not.)
fn main_domain(domain: &str) -> &str {
    let bare = domain.strip_prefix("*.").unwrap_or(domain);
    match bare.rmatch_indices('.').nth(1) {
        Some((dot, _)) => &bare[dot + 1..],
        None => bare,
    }
}

/// Applies the API's domain rules: at most 64 characters, valid labels, and one name —
/// free certificates are single-domain, so a wildcard is refused whatever the validation.
fn check_domain(domain: &str) -> Result<(), Failure> {
    if domain.len() > MAX_DOMAIN_LEN {
        return Err(fail(
            "InvalidParameterValue.CertificateDomainMaxLengthInvalid",
            format!("The domain name is longer than {MAX_DOMAIN_LEN} characters."),
        ));
    }
    // The documented code for a domain the service will not order; a client already treats it
    // as a mistake in the request, not as something to retry.
    if domain.starts_with("*.") {
        return Err(fail(
            "InvalidParameter.DomainInvalid",
            format!(
                "The domain name `{domain}` is a wildcard: free certificates are single-domain, and wildcard certificates are a paid product."
            ),
        ));
    }
    if !is_domain_name(domain) {
        return Err(fail(
            "InvalidParameter.DomainInvalid",
            format!("The domain name `{domain}` is invalid."),
        ));
    }
    Ok(())
}

/// A renewal is accepted only for an issued certificate of the same domain that expires within
/// 30 days and has not expired yet.
fn check_renewable(
    old: &StoredCertificate,
    domain: &str,
    now: DateTime<Utc>,
) -> Result<(), Failure> {
    if !old.is_free() {
        let what = if old.paid { "is a paid certificate" } else { "was uploaded" };
        return Err(fail(
            "FailedOperation.InvalidParam",
            format!(
                "Certificate `{}` {what}: only a free certificate is renewed by applying for it again.",
                old.id
            ),
        ));
    }
    if old.domain != domain {
        return Err(fail(
            "FailedOperation.InvalidParam",
            format!("OldCertificateId `{}` is for `{}`, not `{domain}`.", old.id, old.domain),
        ));
    }
    let Some(end) = old.not_after.filter(|_| old.status_at(now) == 1) else {
        return Err(fail(
            "FailedOperation.InvalidCertificateStatusCode",
            format!(
                "Certificate `{}` is not issued (or has expired) and cannot be renewed.",
                old.id
            ),
        ));
    };
    if let Some(renewal) = &old.renewed_by {
        return Err(fail(
            "FailedOperation.InvalidParam",
            format!("Certificate `{}` has already been renewed by `{renewal}`.", old.id),
        ));
    }
    if end - now > Duration::days(RENEWAL_WINDOW_DAYS) {
        return Err(fail(
            "FailedOperation.InvalidParam",
            format!(
                "Certificate `{}` can be renewed only within {RENEWAL_WINDOW_DAYS} days of its expiry.",
                old.id
            ),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::VALIDITY_DAYS;

    fn cert(status: i64, end_in_days: i64, now: DateTime<Utc>) -> StoredCertificate {
        StoredCertificate {
            sequence: 1,
            status,
            inserted_at: now,
            not_before: Some(now - Duration::days(VALIDITY_DAYS - end_in_days)),
            not_after: Some(now + Duration::days(end_in_days)),
            ..StoredCertificate::seeded("old00001", "www.example.com", now)
        }
    }

    #[test]
    fn renewal_only_within_thirty_days_and_before_expiry() {
        let now = Utc::now();
        assert!(check_renewable(&cert(1, 29, now), "www.example.com", now).is_ok());
        assert!(check_renewable(&cert(1, 30, now), "www.example.com", now).is_ok());
        assert_eq!(
            check_renewable(&cert(1, 31, now), "www.example.com", now).map_err(|f| f.code).err(),
            Some("FailedOperation.InvalidParam")
        );
        assert_eq!(
            check_renewable(&cert(1, -1, now), "www.example.com", now).map_err(|f| f.code).err(),
            Some("FailedOperation.InvalidCertificateStatusCode")
        );
        assert!(check_renewable(&cert(1, 10, now), "api.example.com", now).is_err());
    }

    #[test]
    fn domain_rules() {
        assert!(check_domain("www.example.com").is_ok());
        for invalid in ["*.example.com", "www.*.example.com", "localhost", "-a.example.com"] {
            assert_eq!(
                check_domain(invalid).map_err(|f| f.code).err(),
                Some("InvalidParameter.DomainInvalid"),
                "{invalid}"
            );
        }
        let long = format!("{}.example.com", "a".repeat(60));
        assert_eq!(
            check_domain(&long).map_err(|f| f.code).err(),
            Some("InvalidParameterValue.CertificateDomainMaxLengthInvalid")
        );
    }
}
