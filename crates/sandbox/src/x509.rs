//! Real X.509 material for the sandbox, minted with rcgen: a sandbox CA (ECDSA P-256), and for
//! each issued certificate a private key of the kind its order named — RSA 2048 (the API's
//! default) or ECDSA P-256 — and a leaf for its domain whose validity is exactly
//! `CertBeginTime`..`CertEndTime`. It mints; when to mint — once, keeping the result, as the
//! real service hands out the same certificate every time — is the actions' business.

use chrono::{DateTime, Utc};
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use rsa::pkcs8::{EncodePrivateKey, LineEnding};

use crate::store::StoredCertificate;

/// What went wrong minting key or certificate material.
#[derive(Debug, thiserror::Error)]
pub(crate) enum MintError {
    #[error("cannot generate an RSA key: {0}")]
    Rsa(#[from] rsa::Error),
    #[error("cannot encode an RSA key as PKCS#8: {0}")]
    Pkcs8(#[from] rsa::pkcs8::Error),
    #[error("certificate {0} has no key or no validity yet")]
    NotIssued(String),
    #[error(transparent)]
    X509(#[from] rcgen::Error),
}

/// The kinds of key an order may ask for (`CsrEncryptAlgo` with its `CsrKeyParameter`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum KeyKind {
    /// `RSA` with `2048`, the API's default.
    Rsa2048,
    /// `ECC` with `prime256v1`.
    EcdsaP256,
}

impl KeyKind {
    /// Returns the kind of key an order's `CsrEncryptAlgo` asks for.
    pub(crate) fn of(csr_encrypt_algo: &str) -> Self {
        if csr_encrypt_algo == "ECC" { KeyKind::EcdsaP256 } else { KeyKind::Rsa2048 }
    }
}

/// Generates a private key of `kind` as PKCS#8 PEM. An RSA 2048 key takes tens to hundreds of
/// milliseconds: callers mint one only when a PEM is asked for, outside the store's lock.
pub(crate) fn new_key_pem(kind: KeyKind) -> Result<String, MintError> {
    match kind {
        KeyKind::EcdsaP256 => Ok(KeyPair::generate()?.serialize_pem()),
        // ring, rcgen's backend, signs with RSA keys but cannot generate them.
        KeyKind::Rsa2048 => {
            let key = rsa::PrivateKey::new(&mut getrandom::SysRng, 2048)?;
            Ok(key.to_pkcs8_pem(LineEnding::LF)?.to_string())
        }
    }
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

/// An issued certificate's material, each part PEM.
#[derive(Debug)]
pub(crate) struct Issued {
    /// The certificate itself.
    pub leaf: String,
    /// The chain above it: the sandbox CA.
    pub ca: String,
    /// The private key (PKCS#8).
    pub key: String,
    /// The signing request for the key: what the certificate's owner would have sent the CA.
    pub csr: String,
}

impl Issued {
    /// Returns the leaf followed by its chain, as `CertificatePublicKey` holds it.
    pub(crate) fn chain(&self) -> String {
        format!("{}{}", self.leaf, self.ca)
    }
}

/// Signs the sandbox CA's certificate with its key. ECDSA signatures are randomised: sign
/// once and keep the result, or the chain changes on every call.
pub(crate) fn ca_certificate(ca_key_pem: &str) -> Result<String, MintError> {
    let ca_key = KeyPair::from_pem(ca_key_pem)?;
    Ok(ca_params().self_signed(&ca_key)?.pem())
}

/// Signs the certificate of an issued order, whose key must have been minted already, for
/// exactly `CertBeginTime`..`CertEndTime`. Like the CA's, sign once and keep it.
pub(crate) fn leaf(cert: &StoredCertificate, ca_key_pem: &str) -> Result<String, MintError> {
    let (Some(key_pem), Some(begin), Some(end)) = (&cert.key_pem, cert.not_before, cert.not_after)
    else {
        return Err(MintError::NotIssued(cert.id.clone()));
    };
    let issuer = Issuer::new(ca_params(), KeyPair::from_pem(ca_key_pem)?);
    let key = KeyPair::from_pem(key_pem)?;
    let mut params = subject_for(&cert.domain)?;
    params.not_before = offset(begin)?;
    params.not_after = offset(end)?;
    params.serial_number = Some(rcgen::SerialNumber::from_slice(cert.id.as_bytes()));
    Ok(params.signed_by(&key, &issuer)?.pem())
}

/// Returns the signing request (PEM) for the key `key_pem` and `domain`.
pub(crate) fn signing_request(key_pem: &str, domain: &str) -> Result<String, MintError> {
    let key = KeyPair::from_pem(key_pem)?;
    Ok(subject_for(domain)?.serialize_request(&key)?.pem()?)
}

/// Returns the parameters naming `domain`, as both the leaf and its request do.
fn subject_for(domain: &str) -> Result<CertificateParams, rcgen::Error> {
    let mut params = CertificateParams::new(vec![domain.to_owned()])?;
    params.distinguished_name = DistinguishedName::new();
    params.distinguished_name.push(DnType::CommonName, domain);
    Ok(params)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_of_the_kind_the_order_named() {
        let rsa = KeyPair::from_pem(&new_key_pem(KeyKind::Rsa2048).expect("minted")).expect("PEM");
        assert_eq!(rsa.algorithm(), &rcgen::PKCS_RSA_SHA256);
        let ec = KeyPair::from_pem(&new_key_pem(KeyKind::EcdsaP256).expect("minted")).expect("PEM");
        assert_eq!(ec.algorithm(), &rcgen::PKCS_ECDSA_P256_SHA256);
        assert_eq!(KeyKind::of("RSA"), KeyKind::Rsa2048);
        assert_eq!(KeyKind::of("ECC"), KeyKind::EcdsaP256);
    }
}
