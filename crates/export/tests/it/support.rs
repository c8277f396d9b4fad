//! Minted test material: an ECDSA CA, leaves it signs, and unrelated keys.

use certplan_core::Sensitive;
use chrono::{DateTime, TimeZone, Utc};
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};

/// The notAfter every minted leaf has.
pub fn not_after() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2030, 1, 1, 0, 0, 0).single().expect("a valid date")
}

/// A CA able to sign leaves.
pub struct Ca {
    pub pem: String,
    issuer: Issuer<'static, KeyPair>,
}

impl Ca {
    pub fn new(name: &str) -> Self {
        let key = KeyPair::generate().expect("CA key generated");
        let mut params = CertificateParams::default();
        params.distinguished_name.push(DnType::CommonName, name);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let pem = params.self_signed(&key).expect("CA self-signed").pem();
        Ca { pem, issuer: Issuer::new(params, key) }
    }

    /// Signs a leaf for `names` with `key`; returns its PEM.
    pub fn leaf(&self, names: &[&str], key: &KeyPair) -> String {
        let names: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
        let mut params = CertificateParams::new(names).expect("valid names");
        params.distinguished_name.push(DnType::CommonName, "www.example.com");
        params.not_before = rcgen::date_time_ymd(2025, 1, 1);
        params.not_after = rcgen::date_time_ymd(2030, 1, 1);
        params.signed_by(key, &self.issuer).expect("leaf signed").pem()
    }
}

/// A leaf for www.example.com, its chain and its key.
pub struct Material {
    pub ca: Ca,
    pub leaf: String,
    pub key: Sensitive,
}

impl Material {
    pub fn new() -> Self {
        Self::for_names(&["www.example.com"])
    }

    pub fn for_names(names: &[&str]) -> Self {
        let ca = Ca::new("certplan test CA");
        let key = KeyPair::generate().expect("leaf key generated");
        let leaf = ca.leaf(names, &key);
        Material { ca, leaf, key: Sensitive::new(key.serialize_pem()) }
    }

    /// Returns the leaf followed by its chain, as `CertificatePublicKey` holds it.
    pub fn chain(&self) -> String {
        format!("{}{}", self.leaf, self.ca.pem)
    }
}

/// Returns a new ECDSA key as PKCS#8 PEM, unrelated to any certificate.
pub fn other_key() -> Sensitive {
    Sensitive::new(KeyPair::generate().expect("key generated").serialize_pem())
}

/// Returns the base64 lines of a PEM block: what must never appear in an error.
pub fn body_lines(pem: &str) -> Vec<&str> {
    pem.lines().filter(|l| !l.starts_with("-----") && !l.trim().is_empty()).collect()
}

/// Asserts that `text` quotes no 12-character stretch of the key's base64 body.
pub fn assert_no_key_material(text: &str, key: &Sensitive) {
    for line in body_lines(key.expose()) {
        let chars: Vec<char> = line.chars().collect();
        for window in chars.windows(12) {
            let excerpt: String = window.iter().collect();
            assert!(!text.contains(&excerpt), "{text:?} quotes the key ({excerpt})");
        }
    }
}
