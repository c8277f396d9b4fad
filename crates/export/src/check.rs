//! Checking the PEM material of an issued certificate before anything is written: a server
//! handed a chain that does not link up, or a key for another certificate, fails its reload —
//! or worse, keeps running and fails its next restart. Owns [`Pems`], the only way to get
//! material [`write`](crate::write) accepts.
//!
//! It checks structure and identity, not trust: the chain is not verified up to a root, and
//! dates are compared with what the API said, not with the clock.

use std::fmt;

use certplan_core::Sensitive;
use chrono::{DateTime, Utc};
use x509_parser::extensions::GeneralName;
use x509_parser::prelude::{FromDer, X509Certificate};

use crate::key::{self, KeyProblem};

/// What the certificate must be: the one the resource asked for.
#[derive(Debug, Clone, Copy)]
pub struct Expected<'a> {
    /// The resource's domain; one of the leaf's DNS names must cover it.
    pub domain: &'a str,
    /// The API's `CertEndTime`; the leaf's notAfter must equal it, to the second.
    pub not_after: Option<DateTime<Utc>>,
}

/// Checked PEM material, ready to write: LF line endings, one block per certificate.
#[derive(Clone)]
pub struct Pems {
    cert: String,
    chain: String,
    fullchain: String,
    key: Sensitive,
    fingerprint: String,
    not_after: DateTime<Utc>,
}

impl Pems {
    /// Returns the leaf certificate, for `cert.pem`.
    pub fn cert(&self) -> &str {
        &self.cert
    }

    /// Returns the certificates above the leaf (empty when the API sent none), for `chain.pem`.
    pub fn chain(&self) -> &str {
        &self.chain
    }

    /// Returns the leaf followed by its chain, for `fullchain.pem`.
    pub fn fullchain(&self) -> &str {
        &self.fullchain
    }

    /// Returns the private key, for `privkey.pem`.
    pub fn key(&self) -> &Sensitive {
        &self.key
    }

    /// Returns the lowercase hex SHA-256 of the leaf's DER, as `ExportRecord` keeps it.
    pub fn fingerprint(&self) -> &str {
        &self.fingerprint
    }

    /// Returns the leaf's notAfter.
    pub fn not_after(&self) -> DateTime<Utc> {
        self.not_after
    }
}

impl fmt::Debug for Pems {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pems")
            .field("fingerprint", &self.fingerprint)
            .field("not_after", &self.not_after)
            .field("key", &self.key)
            .finish_non_exhaustive()
    }
}

/// Why PEM material was refused. Certificates are public and may be described; the key never
/// is — its errors say what is wrong with it, not what it contains.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CheckError {
    #[error("no certificate in the PEM material")]
    NoCertificate,
    #[error("the certificate PEM is malformed: {reason}")]
    Pem { reason: String },
    /// `position` counts from 1, the leaf.
    #[error("certificate {position} of the chain cannot be read: {reason}")]
    Certificate { position: usize, reason: String },
    #[error("the private key is encrypted; it must be given unencrypted")]
    KeyEncrypted,
    #[error("the private key cannot be read: {reason}")]
    KeyUnreadable { reason: &'static str },
    #[error("the private key does not belong to the certificate ({subject})")]
    KeyMismatch { subject: String },
    #[error(
        "certificate {position} of the chain ({subject}) is not signed by certificate {} ({issuer})",
        position + 1
    )]
    ChainBroken { position: usize, subject: String, issuer: String },
    #[error("the certificate expires at {found}, not at {expected} as the API reported")]
    NotAfter { expected: DateTime<Utc>, found: DateTime<Utc> },
    #[error("the certificate does not cover {domain} (it names {})", names.join(", "))]
    DomainNotCovered { domain: String, names: Vec<String> },
}

/// Checks `chain_pem` (the leaf followed by its chain, as `CertificatePublicKey` holds it) and
/// `key_pem` against each other and against what was asked for, and returns them ready to
/// write: every certificate parses, each is signed by the next, the key belongs to the leaf,
/// the leaf expires when the API said and covers the domain.
pub fn check(
    chain_pem: &str,
    key_pem: &Sensitive,
    expect: &Expected<'_>,
) -> Result<Pems, CheckError> {
    let blocks =
        pem::parse_many(chain_pem).map_err(|e| CheckError::Pem { reason: describe(&e) })?;
    // The pem crate skips a block it cannot frame (a missing END line): a chain cut short
    // would still link up, one certificate shorter than the server needs.
    if chain_pem.matches("-----BEGIN ").count() != blocks.len() {
        return Err(CheckError::Pem { reason: "a BEGIN line has no matching END line".into() });
    }
    if blocks.is_empty() {
        return Err(CheckError::NoCertificate);
    }
    let mut certs = Vec::with_capacity(blocks.len());
    for (i, block) in blocks.iter().enumerate() {
        let position = i + 1;
        if block.tag() != "CERTIFICATE" {
            // The tag only: a key pasted into the chain must not be quoted back.
            let reason = format!("it is a {} block, not a CERTIFICATE", block.tag());
            return Err(CheckError::Certificate { position, reason });
        }
        let (_, cert) = X509Certificate::from_der(block.contents())
            .map_err(|e| CheckError::Certificate { position, reason: e.to_string() })?;
        certs.push(cert);
    }
    let leaf = &certs[0];

    let key = key::read_matching(key_pem, leaf.public_key()).map_err(|problem| match problem {
        KeyProblem::Encrypted => CheckError::KeyEncrypted,
        KeyProblem::Unreadable(reason) => CheckError::KeyUnreadable { reason },
        KeyProblem::Mismatch => CheckError::KeyMismatch { subject: leaf.subject().to_string() },
    })?;

    for (i, pair) in certs.windows(2).enumerate() {
        if pair[0].verify_signature(Some(pair[1].public_key())).is_err() {
            return Err(CheckError::ChainBroken {
                position: i + 1,
                subject: pair[0].subject().to_string(),
                issuer: pair[1].subject().to_string(),
            });
        }
    }

    let found =
        DateTime::from_timestamp(leaf.validity().not_after.timestamp(), 0).ok_or_else(|| {
            CheckError::Certificate { position: 1, reason: "its notAfter is out of range".into() }
        })?;
    if let Some(expected) = expect.not_after
        && expected.timestamp() != found.timestamp()
    {
        return Err(CheckError::NotAfter { expected, found });
    }

    let names = dns_names(leaf);
    if !names.iter().any(|name| covers(name, expect.domain)) {
        return Err(CheckError::DomainNotCovered { domain: expect.domain.to_owned(), names });
    }

    let config = pem::EncodeConfig::new().set_line_ending(pem::LineEnding::LF);
    let cert = pem::encode_config(&blocks[0], config);
    let chain = pem::encode_many_config(&blocks[1..], config);
    Ok(Pems {
        fullchain: format!("{cert}{chain}"),
        cert,
        chain,
        key,
        fingerprint: crate::sha256_hex(blocks[0].contents()),
        not_after: found,
    })
}

/// Describes a PEM error without quoting its input, as the pem crate's messages may: a key
/// pasted into the chain by mistake must not be echoed back.
fn describe(error: &pem::PemError) -> String {
    match error {
        pem::PemError::MismatchedTags(begin, end) => {
            format!("a BEGIN {begin} block ends with END {end}")
        }
        pem::PemError::MalformedFraming => "a block's BEGIN or END line is malformed".into(),
        pem::PemError::InvalidData(_) => "a block's base64 is invalid".into(),
        pem::PemError::InvalidHeader(_) => "a block has an invalid header line".into(),
        pem::PemError::NotUtf8(_) => "a block is not UTF-8 text".into(),
        other => other.to_string(),
    }
}

/// Returns the DNS names of the certificate's subjectAltName.
fn dns_names(cert: &X509Certificate<'_>) -> Vec<String> {
    let Ok(Some(san)) = cert.subject_alternative_name() else {
        return Vec::new();
    };
    san.value
        .general_names
        .iter()
        .filter_map(|name| match name {
            GeneralName::DNSName(dns) => Some((*dns).to_owned()),
            _ => None,
        })
        .collect()
}

/// Tells whether the certificate name `name` covers `domain`: equal (ignoring case), or a
/// wildcard `*.example.com` standing for exactly one label (`www.example.com`, not
/// `example.com` nor `a.b.example.com`).
fn covers(name: &str, domain: &str) -> bool {
    let name = name.trim_end_matches('.');
    let domain = domain.trim_end_matches('.');
    if name.eq_ignore_ascii_case(domain) {
        return true;
    }
    let Some(parent) = name.strip_prefix("*.") else {
        return false;
    };
    match domain.split_once('.') {
        Some((label, rest)) => {
            !label.is_empty() && label != "*" && rest.eq_ignore_ascii_case(parent)
        }
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::covers;

    #[test]
    fn a_wildcard_covers_exactly_one_label() {
        assert!(covers("www.example.com", "WWW.Example.com"));
        assert!(covers("*.example.com", "www.example.com"));
        assert!(covers("*.example.com", "*.example.com"));
        assert!(!covers("*.example.com", "example.com"));
        assert!(!covers("*.example.com", "a.b.example.com"));
        assert!(!covers("*.example.com", "wwwexample.com"));
        assert!(!covers("www.example.com", "example.com"));
    }
}
