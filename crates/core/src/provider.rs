//! [`ProviderRef`]: which `provider "tencentcloud"` configuration — which account — a resource
//! belongs to, as Terraform names it: `tencentcloud` for the default one, `tencentcloud.prod`
//! for the one with `alias = "prod"`.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// The provider every resource of certplan's belongs to, by name.
pub const PROVIDER_NAME: &str = "tencentcloud";

/// Which provider configuration a resource uses: its alias, or the default configuration's
/// (`None`). It picks the credentials, and so the account, that hold the resource's certificate:
/// part of the resource's identity, so that a certificate is only ever looked for, renewed,
/// delivered or deleted in the account that holds it.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ProviderRef {
    alias: Option<String>,
}

impl ProviderRef {
    /// The default configuration (the `provider "tencentcloud"` block without an alias).
    pub const DEFAULT: ProviderRef = ProviderRef { alias: None };

    /// The configuration whose `alias` is `alias`.
    pub fn aliased(alias: impl Into<String>) -> Self {
        ProviderRef { alias: Some(alias.into()) }
    }

    pub fn alias(&self) -> Option<&str> {
        self.alias.as_deref()
    }

    pub fn is_default(&self) -> bool {
        self.alias.is_none()
    }

    /// Returns true when `alias` is a name an alias may have: a letter, then letters, digits,
    /// underscores and hyphens, as Terraform's identifiers.
    pub fn valid_alias(alias: &str) -> bool {
        alias.starts_with(|c: char| c.is_ascii_alphabetic())
            && alias.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    }
}

impl fmt::Display for ProviderRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.alias {
            None => f.write_str(PROVIDER_NAME),
            Some(alias) => write!(f, "{PROVIDER_NAME}.{alias}"),
        }
    }
}

#[derive(Debug, thiserror::Error)]
#[error(
    "invalid provider {0:?}: expected tencentcloud, or tencentcloud.ALIAS for a provider block with alias = \"ALIAS\""
)]
pub struct ProviderRefError(String);

impl FromStr for ProviderRef {
    type Err = ProviderRefError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.split_once('.') {
            None if s == PROVIDER_NAME => Ok(ProviderRef::DEFAULT),
            Some((PROVIDER_NAME, alias)) if ProviderRef::valid_alias(alias) => {
                Ok(ProviderRef::aliased(alias))
            }
            _ => Err(ProviderRefError(s.to_owned())),
        }
    }
}

impl Serialize for ProviderRef {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for ProviderRef {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d)?.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_back_as_written() {
        for text in ["tencentcloud", "tencentcloud.prod", "tencentcloud.client-a_2"] {
            let parsed: ProviderRef = text.parse().expect(text);
            assert_eq!(parsed.to_string(), text);
        }
        assert!(ProviderRef::DEFAULT.is_default());
        assert_eq!(
            "tencentcloud.prod".parse::<ProviderRef>().expect("valid").alias(),
            Some("prod")
        );
        for bad in ["", "acme", "tencentcloud.", "tencentcloud.1x", "aws.prod", "tencentcloud.a.b"]
        {
            assert!(bad.parse::<ProviderRef>().is_err(), "{bad:?}");
        }
    }
}
