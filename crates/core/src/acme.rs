//! Certificates from an ACME CA (Let's Encrypt, ZeroSSL, Pebble…): what an `acme_certificate`
//! resource declares — the CA, the names, the key, how control of the names is shown — as plain
//! data. Once ordered and uploaded, such a certificate is an id in the account like any other.

use std::fmt;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// The resource type of a certificate ordered from an ACME CA, as Terraform's acme provider
/// names it.
pub const ACME_RESOURCE_TYPE: &str = "acme_certificate";

/// Let's Encrypt's production directory: the `acme` provider's default `server_url`.
pub const LETS_ENCRYPT: &str = "https://acme-v02.api.letsencrypt.org/directory";

/// Let's Encrypt's staging directory.
pub const LETS_ENCRYPT_STAGING: &str = "https://acme-staging-v02.api.letsencrypt.org/directory";

/// What an `acme_certificate` declares beyond its common name (the certificate's `domain`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AcmeArgs {
    /// The CA's directory URL.
    pub server_url: String,
    /// The `acme_registration` block whose account orders it.
    pub registration: String,
    /// The names besides the common name, in the order declared.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub subject_alternative_names: Vec<String>,
    pub key_type: KeyType,
    /// How control of the names is shown. It changes nothing of the certificate: a change of
    /// challenge applies from the next order on.
    pub challenge: Challenge,
    /// Renew once fewer days than this are left; `None`: a third of the lifetime.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_days_remaining: Option<i64>,
    /// The CA's profile (`profile` of a new order), where it offers several.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<String>,
}

impl AcmeArgs {
    /// Every name the certificate is for: the common name, then the others, without repeats.
    pub fn names<'a>(&'a self, common_name: &'a str) -> Vec<&'a str> {
        let mut names = vec![common_name];
        for name in &self.subject_alternative_names {
            if !names.contains(&name.as_str()) {
                names.push(name);
            }
        }
        names
    }

    /// The CA's name for plans: its host, or "Let's Encrypt" for its two directories.
    pub fn ca_name(&self) -> String {
        match self.server_url.as_str() {
            LETS_ENCRYPT => "Let's Encrypt".to_owned(),
            LETS_ENCRYPT_STAGING => "Let's Encrypt (staging)".to_owned(),
            url => {
                let host = url.split("://").nth(1).unwrap_or(url);
                host.split('/').next().unwrap_or(host).to_owned()
            }
        }
    }
}

/// The certificate key's type (`key_type`). Only elliptic curves: the key is derived from the
/// ACME account key and the order, so that an order resumed after a crash finalizes, and is
/// uploaded, with the key it was finalized with — and no key is ever written anywhere but the
/// account and the exported `privkey.pem` files.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum KeyType {
    P256,
    P384,
}

impl KeyType {
    pub const ALL: [KeyType; 2] = [KeyType::P256, KeyType::P384];

    /// Returns the acme provider's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            KeyType::P256 => "P256",
            KeyType::P384 => "P384",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// How the CA is shown control of the names.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Challenge {
    /// DNS-01: a TXT record `_acme-challenge.<name>` per name.
    Dns {
        provider: DnsProvider,
        /// Where to check that the records are visible before the CA is asked to look
        /// (`host:port`); empty: the zone's authoritative servers.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        recursive_nameservers: Vec<String>,
    },
    /// HTTP-01: a file under `<webroot>/.well-known/acme-challenge/`, served on port 80.
    Http { webroot: PathBuf },
}

impl Challenge {
    /// The challenge's ACME type.
    pub fn kind(&self) -> &'static str {
        match self {
            Challenge::Dns { .. } => "dns-01",
            Challenge::Http { .. } => "http-01",
        }
    }
}

/// `dns-01 via Tencent Cloud DNS`, `http-01 into /var/www`.
impl fmt::Display for Challenge {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Challenge::Dns { provider, .. } => write!(f, "dns-01 via {provider}"),
            Challenge::Http { webroot } => write!(f, "http-01 into {}", webroot.display()),
        }
    }
}

/// Who publishes DNS-01 records.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DnsProvider {
    /// Tencent Cloud DNS (DNSPod), with the `tencentcloud` provider's credentials.
    TencentCloud,
    /// A program run as lego's `exec` provider runs it: `PATH present|cleanup FQDN VALUE`.
    Exec { path: PathBuf },
}

impl fmt::Display for DnsProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DnsProvider::TencentCloud => f.write_str("Tencent Cloud DNS"),
            DnsProvider::Exec { path } => write!(f, "{}", path.display()),
        }
    }
}

/// The TXT record name a DNS-01 challenge for `name` is published at (a wildcard's is its
/// base name's).
pub fn challenge_record(name: &str) -> String {
    format!("_acme-challenge.{}", name.strip_prefix("*.").unwrap_or(name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_wildcard_and_its_base_share_a_record() {
        assert_eq!(challenge_record("*.example.com"), "_acme-challenge.example.com");
        assert_eq!(challenge_record("example.com"), "_acme-challenge.example.com");
    }

    #[test]
    fn names_start_with_the_common_name_without_repeats() {
        let args = AcmeArgs {
            server_url: LETS_ENCRYPT.to_owned(),
            registration: "reg".to_owned(),
            subject_alternative_names: vec!["*.example.com".into(), "example.com".into()],
            key_type: KeyType::P256,
            challenge: Challenge::Http { webroot: "/srv".into() },
            min_days_remaining: None,
            profile: None,
        };
        assert_eq!(args.names("example.com"), ["example.com", "*.example.com"]);
        assert_eq!(args.ca_name(), "Let's Encrypt");
    }
}
