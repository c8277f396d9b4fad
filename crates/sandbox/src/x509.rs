//! Real X.509 material for the sandbox, minted with rcgen: a sandbox CA (ECDSA P-256), and for
//! each issued certificate a private key of the kind its order named — RSA 2048 (the API's
//! default) or ECDSA P-256 — and a leaf for its domain whose validity is exactly
//! `CertBeginTime`..`CertEndTime`. It mints; when to mint — once, keeping the result, as the
//! real service hands out the same certificate every time — is the actions' business.
//!
//! It also reads what `UploadCertificate` is given ([`read_upload`], [`check_key`]): the
//! certificate and its chain, and whether a private key is the certificate's.

use base64::Engine as _;
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

/// An issued (or uploaded) certificate's material, each part PEM.
#[derive(Debug)]
pub(crate) struct Issued {
    /// The certificate itself.
    pub leaf: String,
    /// The chain above it: the sandbox CA, or what was uploaded after the certificate.
    pub ca: String,
    /// The private key (PKCS#8, or as uploaded); empty for an uploaded CA certificate.
    pub key: String,
    /// The signing request for the key: what the certificate's owner would have sent the CA;
    /// empty for an upload.
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

/// Why an upload's PEM material was refused. No message quotes the material: a private key
/// must not reach an answer or a log.
#[derive(Debug, thiserror::Error)]
pub(crate) enum UploadError {
    #[error("CertificatePublicKey holds no PEM certificate")]
    NoCertificate,
    #[error("CertificatePublicKey holds a certificate that cannot be read: {0}")]
    Certificate(String),
    #[error(
        "CertificatePrivateKey is not a private key the sandbox reads: it reads unencrypted PKCS#8 (`PRIVATE KEY`) and PKCS#1 (`RSA PRIVATE KEY`) keys"
    )]
    Key,
    #[error("the private key does not belong to the certificate")]
    Mismatch,
}

/// An uploaded certificate, read.
#[derive(Debug)]
pub(crate) struct UploadedCertificate {
    /// The certificate (PEM).
    pub leaf: String,
    /// The certificates after it (PEM), empty when there were none.
    pub chain: String,
    /// Its common name, or its first name when it has none.
    pub domain: String,
    /// Its `SubjectAltName` names; the domain alone when it has none.
    pub names: Vec<String>,
    pub not_before: DateTime<Utc>,
    pub not_after: DateTime<Utc>,
    /// SHA-1 of the certificate, hex: the API's `CertFingerprint`.
    pub fingerprint: String,
    /// Its key's family and size, as an order names them (`RSA` and `2048`, `ECC` and `256`).
    pub key_algorithm: (String, String),
    /// Its public key (the SubjectPublicKeyInfo's bits), which a private key must match.
    public_key: Vec<u8>,
}

impl UploadedCertificate {
    /// Returns the key as `EncryptAlgorithm` names it: `RSA 2048`, `ECC 256`.
    pub(crate) fn encrypt_algorithm(&self) -> String {
        format!("{} {}", self.key_algorithm.0, self.key_algorithm.1)
    }
}

/// Reads `CertificatePublicKey`: the certificate, then its chain, each a PEM `CERTIFICATE`.
pub(crate) fn read_upload(public_pem: &str) -> Result<UploadedCertificate, UploadError> {
    use x509_parser::extensions::GeneralName;
    use x509_parser::public_key::PublicKey;

    let blocks = x509_parser::pem::Pem::iter_from_buffer(public_pem.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| UploadError::Certificate(e.to_string()))?;
    let certificates: Vec<_> = blocks.iter().filter(|b| b.label == "CERTIFICATE").collect();
    let (leaf, chain) = certificates.split_first().ok_or(UploadError::NoCertificate)?;
    for block in chain {
        block.parse_x509().map_err(|e| UploadError::Certificate(e.to_string()))?;
    }
    let parsed = leaf.parse_x509().map_err(|e| UploadError::Certificate(e.to_string()))?;
    let mut names: Vec<String> = Vec::new();
    if let Ok(Some(san)) = parsed.subject_alternative_name() {
        for name in &san.value.general_names {
            match name {
                GeneralName::DNSName(dns) => names.push((*dns).to_owned()),
                GeneralName::IPAddress(ip) => {
                    let ip = match ip.len() {
                        4 => <[u8; 4]>::try_from(*ip).map(std::net::IpAddr::from).ok(),
                        16 => <[u8; 16]>::try_from(*ip).map(std::net::IpAddr::from).ok(),
                        _ => None,
                    };
                    names.extend(ip.map(|ip| ip.to_string()));
                }
                _ => {}
            }
        }
    }
    let common_name = parsed.subject().iter_common_name().next().and_then(|cn| cn.as_str().ok());
    let domain = common_name
        .map(str::to_owned)
        .or_else(|| names.first().cloned())
        .ok_or_else(|| UploadError::Certificate("it names no domain".to_owned()))?;
    if names.is_empty() {
        names.push(domain.clone());
    }
    let time = |t: x509_parser::time::ASN1Time| {
        DateTime::from_timestamp(t.timestamp(), 0)
            .ok_or_else(|| UploadError::Certificate("its validity is out of range".to_owned()))
    };
    let spki = parsed.public_key();
    let key_algorithm = match spki.parsed() {
        Ok(PublicKey::RSA(rsa)) => ("RSA".to_owned(), rsa.key_size().to_string()),
        Ok(PublicKey::EC(ec)) => ("ECC".to_owned(), ec.key_size().to_string()),
        _ => ("OTHER".to_owned(), String::new()),
    };
    let fingerprint = ring::digest::digest(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY, &leaf.contents);
    Ok(UploadedCertificate {
        leaf: pem_block("CERTIFICATE", &leaf.contents),
        chain: chain.iter().map(|b| pem_block("CERTIFICATE", &b.contents)).collect(),
        domain,
        names,
        not_before: time(parsed.validity().not_before)?,
        not_after: time(parsed.validity().not_after)?,
        fingerprint: hex::encode(fingerprint),
        key_algorithm,
        public_key: spki.subject_public_key.data.to_vec(),
    })
}

/// Checks that `key_pem` is a private key the sandbox reads, and the certificate's.
pub(crate) fn check_key(
    key_pem: &str,
    certificate: &UploadedCertificate,
) -> Result<(), UploadError> {
    let key = x509_parser::pem::Pem::iter_from_buffer(key_pem.as_bytes())
        .filter_map(Result::ok)
        .find(|b| b.label.ends_with("PRIVATE KEY"))
        .ok_or(UploadError::Key)?;
    let public_key = public_key_of(&key.label, &key.contents).ok_or(UploadError::Key)?;
    if public_key != certificate.public_key {
        return Err(UploadError::Mismatch);
    }
    Ok(())
}

/// Returns the public key of the private key `der` (a PEM block labelled `label`), as a
/// certificate's SubjectPublicKeyInfo holds it; `None` for a key the sandbox cannot read.
fn public_key_of(label: &str, der: &[u8]) -> Option<Vec<u8>> {
    use ring::signature::{self, EcdsaKeyPair, Ed25519KeyPair, KeyPair as _, RsaKeyPair};
    let rng = ring::rand::SystemRandom::new();
    let ecdsa = |alg| {
        EcdsaKeyPair::from_pkcs8(alg, der, &rng).ok().map(|k| k.public_key().as_ref().to_vec())
    };
    match label {
        "PRIVATE KEY" => RsaKeyPair::from_pkcs8(der)
            .ok()
            .map(|k| k.public_key().as_ref().to_vec())
            .or_else(|| ecdsa(&signature::ECDSA_P256_SHA256_ASN1_SIGNING))
            .or_else(|| ecdsa(&signature::ECDSA_P384_SHA384_ASN1_SIGNING))
            .or_else(|| {
                Ed25519KeyPair::from_pkcs8_maybe_unchecked(der)
                    .ok()
                    .map(|k| k.public_key().as_ref().to_vec())
            }),
        "RSA PRIVATE KEY" => {
            RsaKeyPair::from_der(der).ok().map(|k| k.public_key().as_ref().to_vec())
        }
        _ => None,
    }
}

/// Encodes `der` as a PEM block labelled `label`, 64 characters a line.
fn pem_block(label: &str, der: &[u8]) -> String {
    let text = base64::engine::general_purpose::STANDARD.encode(der);
    let mut pem = format!("-----BEGIN {label}-----\n");
    for line in text.as_bytes().chunks(64) {
        pem.push_str(&String::from_utf8_lossy(line));
        pem.push('\n');
    }
    pem.push_str(&format!("-----END {label}-----\n"));
    pem
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

    /// A certificate for `names`, with no common name, and the key `key_pem`, self-signed.
    fn certificate(names: &[&str], key_pem: &str) -> String {
        let key = KeyPair::from_pem(key_pem).expect("a key");
        let names: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
        let mut params = CertificateParams::new(names).expect("names");
        params.distinguished_name = DistinguishedName::new();
        params.self_signed(&key).expect("signed").pem()
    }

    #[test]
    fn an_upload_is_read_with_its_names_and_its_pkcs1_or_pkcs8_key_matched() {
        use rsa::pkcs1::EncodeRsaPrivateKey as _;
        use rsa::pkcs8::DecodePrivateKey as _;

        let pkcs8 = new_key_pem(KeyKind::Rsa2048).expect("minted");
        let pem = certificate(&["www.example.com", "127.0.0.1"], &pkcs8);
        let read = read_upload(&pem).expect("read");
        // Without a common name, the first name stands for the domain.
        assert_eq!(read.domain, "www.example.com");
        assert_eq!(read.names, ["www.example.com", "127.0.0.1"]);
        assert_eq!(read.encrypt_algorithm(), "RSA 2048");
        assert_eq!((read.chain.as_str(), read.fingerprint.len()), ("", 40));
        assert!(check_key(&pkcs8, &read).is_ok(), "PKCS#8");
        let pkcs1 = rsa::PrivateKey::from_pkcs8_pem(&pkcs8)
            .expect("an RSA key")
            .to_pkcs1_pem(LineEnding::LF)
            .expect("PKCS#1");
        assert!(pkcs1.starts_with("-----BEGIN RSA PRIVATE KEY-----"));
        assert!(check_key(&pkcs1, &read).is_ok(), "PKCS#1");

        let other = new_key_pem(KeyKind::EcdsaP256).expect("minted");
        assert!(matches!(check_key(&other, &read), Err(UploadError::Mismatch)));
        assert!(matches!(check_key("no key", &read), Err(UploadError::Key)));
        assert!(matches!(read_upload("no certificate"), Err(UploadError::NoCertificate)));

        let ecdsa = read_upload(&certificate(&["api.example.com"], &other)).expect("read");
        assert_eq!(ecdsa.encrypt_algorithm(), "ECC 256");
        assert!(check_key(&other, &ecdsa).is_ok());
    }
}
