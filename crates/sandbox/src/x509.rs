//! Real X.509 certificates for the sandbox, minted with rcgen: a sandbox CA, and for each issued
//! certificate a leaf for its domain whose validity is exactly `CertBeginTime`..`CertEndTime`.

use chrono::{DateTime, Utc};
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};

use crate::store::StoredCertificate;

/// Generates a private key (ECDSA P-256) as PEM; `None` only if the system RNG fails.
pub(crate) fn new_key_pem() -> Option<String> {
    KeyPair::generate().ok().map(|k| k.serialize_pem())
}

fn ca_params() -> CertificateParams {
    let mut params = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, "certplan sandbox CA (not trusted anywhere)");
    dn.push(DnType::OrganizationName, "certplan sandbox");
    params.distinguished_name = dn;
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    params.not_before = rcgen::date_time_ymd(2020, 1, 1);
    params.not_after = rcgen::date_time_ymd(2100, 1, 1);
    params
}

fn offset(t: DateTime<Utc>) -> Result<time::OffsetDateTime, rcgen::Error> {
    time::OffsetDateTime::from_unix_timestamp(t.timestamp()).map_err(|_| rcgen::Error::Time)
}

/// Returns the PEM chain (leaf, then the sandbox CA) of an issued certificate.
pub(crate) fn chain_pem(
    cert: &StoredCertificate,
    ca_key_pem: &str,
) -> Result<String, rcgen::Error> {
    let (Some(key_pem), Some(begin), Some(end)) = (&cert.key_pem, cert.not_before, cert.not_after)
    else {
        return Err(rcgen::Error::CouldNotParseCertificate);
    };
    let ca_key = KeyPair::from_pem(ca_key_pem)?;
    let ca_pem = ca_params().self_signed(&ca_key)?.pem();
    let issuer = Issuer::new(ca_params(), ca_key);

    let key = KeyPair::from_pem(key_pem)?;
    let mut params = CertificateParams::new(vec![cert.domain.clone()])?;
    params.distinguished_name = DistinguishedName::new();
    params.distinguished_name.push(DnType::CommonName, cert.domain.as_str());
    params.not_before = offset(begin)?;
    params.not_after = offset(end)?;
    params.serial_number = Some(rcgen::SerialNumber::from_slice(cert.id.as_bytes()));
    let leaf = params.signed_by(&key, &issuer)?;
    Ok(format!("{}{}", leaf.pem(), ca_pem))
}
