//! [`CertificateId`]: a certificate's id in the account, as a type of its own, so that an id
//! is never mistaken for a domain, an alias or any other string.

use std::borrow::Borrow;
use std::fmt;
use std::ops::Deref;

use serde::{Deserialize, Serialize};

/// A certificate's id in the account (`CertificateId`, e.g. `a9TsmZkL`): what the API names a
/// certificate by. Serialised, shown and debug-printed as the plain string.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct CertificateId(String);

impl CertificateId {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Deref for CertificateId {
    type Target = str;

    fn deref(&self) -> &str {
        &self.0
    }
}

impl AsRef<str> for CertificateId {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

/// Maps and sets of ids are looked up by `&str`.
impl Borrow<str> for CertificateId {
    fn borrow(&self) -> &str {
        &self.0
    }
}

/// As the string (`"a9TsmZkL"`): messages quote ids with `{:?}`.
impl fmt::Debug for CertificateId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

impl fmt::Display for CertificateId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(&self.0)
    }
}

impl From<String> for CertificateId {
    fn from(id: String) -> Self {
        CertificateId(id)
    }
}

impl From<&str> for CertificateId {
    fn from(id: &str) -> Self {
        CertificateId(id.to_owned())
    }
}

impl From<&CertificateId> for CertificateId {
    fn from(id: &CertificateId) -> Self {
        id.clone()
    }
}

impl From<CertificateId> for String {
    fn from(id: CertificateId) -> Self {
        id.0
    }
}

impl PartialEq<&CertificateId> for CertificateId {
    fn eq(&self, other: &&CertificateId) -> bool {
        self == *other
    }
}

impl PartialEq<str> for CertificateId {
    fn eq(&self, other: &str) -> bool {
        self.0 == other
    }
}

impl PartialEq<&str> for CertificateId {
    fn eq(&self, other: &&str) -> bool {
        self.0 == *other
    }
}

impl PartialEq<String> for CertificateId {
    fn eq(&self, other: &String) -> bool {
        &self.0 == other
    }
}

impl PartialEq<CertificateId> for String {
    fn eq(&self, other: &CertificateId) -> bool {
        *self == other.0
    }
}

impl PartialEq<CertificateId> for str {
    fn eq(&self, other: &CertificateId) -> bool {
        self == other.0
    }
}

impl PartialEq<CertificateId> for &str {
    fn eq(&self, other: &CertificateId) -> bool {
        *self == other.0
    }
}

#[cfg(test)]
mod tests {
    use super::CertificateId;

    #[test]
    fn an_id_is_written_read_and_shown_as_its_string() {
        let id = CertificateId::from("a9TsmZkL");
        assert_eq!(serde_json::to_string(&id).expect("serialises"), "\"a9TsmZkL\"");
        let read: CertificateId = serde_json::from_str("\"a9TsmZkL\"").expect("reads");
        assert_eq!(read, id);
        assert_eq!((id.to_string(), format!("{id:?}")), ("a9TsmZkL".into(), "\"a9TsmZkL\"".into()));
        assert_eq!(format!("{id:10}|"), "a9TsmZkL  |", "width as a string's");
        let observed: std::collections::BTreeMap<CertificateId, u8> = [(id.clone(), 1)].into();
        assert_eq!(observed.get("a9TsmZkL"), Some(&1), "looked up by &str");
    }
}
