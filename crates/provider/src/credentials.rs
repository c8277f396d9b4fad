//! API credentials, found the way every Tencent Cloud tool finds them: the `TENCENTCLOUD_*`
//! variables, then the tccli profile, then (discouraged) the configuration's provider block.
//! This is the one place that lookup lives.

use std::fmt;
use std::path::{Path, PathBuf};

/// A SecretKey: it signs requests and is never shown, logged or written anywhere (its `Debug`
/// shows nothing).
pub type SecretKey = certplan_core::Sensitive;

/// A SecretId, its SecretKey and, for temporary credentials, the session token.
#[derive(Clone)]
pub struct Credentials {
    pub secret_id: String,
    pub secret_key: SecretKey,
    /// Sent as `X-TC-Token`; as secret as the key.
    pub token: Option<SecretKey>,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("secret_id", &self.secret_id)
            .field("secret_key", &self.secret_key)
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum CredentialsError {
    #[error(
        "no Tencent Cloud credentials: set TENCENTCLOUD_SECRET_ID and TENCENTCLOUD_SECRET_KEY \
         (and TENCENTCLOUD_SECURITY_TOKEN for temporary credentials)"
    )]
    Missing,
    #[error("{present} is set but {missing} is not: set both")]
    Incomplete { present: &'static str, missing: &'static str },
    #[error(
        "no credentials in the environment, in the tccli profile {profile:?} (~/.tccli/{profile}.credential) or in the provider block: \
         set TENCENTCLOUD_SECRET_ID and TENCENTCLOUD_SECRET_KEY (and TENCENTCLOUD_SECURITY_TOKEN for temporary credentials)"
    )]
    Nowhere { profile: String },
    #[error("cannot use tccli profile {}: {problem}", path.display())]
    Profile { path: PathBuf, problem: String },
    #[error(
        "the tccli profile {profile:?} does not exist (~/.tccli/{profile}.credential): run `tccli configure --profile {profile}`, or name another"
    )]
    NoProfile { profile: String },
}

impl Credentials {
    pub const SECRET_ID_VAR: &'static str = "TENCENTCLOUD_SECRET_ID";
    pub const SECRET_KEY_VAR: &'static str = "TENCENTCLOUD_SECRET_KEY";
    pub const TOKEN_VAR: &'static str = "TENCENTCLOUD_SECURITY_TOKEN";

    pub fn new(secret_id: impl Into<String>, secret_key: impl Into<String>) -> Self {
        Credentials {
            secret_id: secret_id.into(),
            secret_key: SecretKey::new(secret_key),
            token: None,
        }
    }

    /// Reads `TENCENTCLOUD_SECRET_ID`, `TENCENTCLOUD_SECRET_KEY` and
    /// `TENCENTCLOUD_SECURITY_TOKEN` through `var` (the environment, or a test's map).
    pub fn from_env(var: impl Fn(&str) -> Option<String>) -> Result<Self, CredentialsError> {
        let get = |name: &str| var(name).filter(|v| !v.trim().is_empty());
        match (get(Self::SECRET_ID_VAR), get(Self::SECRET_KEY_VAR)) {
            (Some(id), Some(key)) => Ok(Credentials {
                secret_id: id,
                secret_key: SecretKey::new(key),
                token: get(Self::TOKEN_VAR).map(SecretKey::new),
            }),
            (None, None) => Err(CredentialsError::Missing),
            (Some(_), None) => Err(CredentialsError::Incomplete {
                present: Self::SECRET_ID_VAR,
                missing: Self::SECRET_KEY_VAR,
            }),
            (None, Some(_)) => Err(CredentialsError::Incomplete {
                present: Self::SECRET_KEY_VAR,
                missing: Self::SECRET_ID_VAR,
            }),
        }
    }
}

impl Credentials {
    /// Finds credentials: the environment (through `var`), else the tccli profile `profile`
    /// under `$HOME/.tccli`, else `from_block` (the provider block's, if it has them).
    pub fn resolve(
        var: impl Fn(&str) -> Option<String>,
        profile: &str,
        from_block: Option<Credentials>,
    ) -> Result<Self, CredentialsError> {
        match Credentials::from_env(&var) {
            Ok(credentials) => return Ok(credentials),
            Err(CredentialsError::Missing) => {}
            Err(incomplete) => return Err(incomplete),
        }
        if let Some(home) = var("HOME").filter(|h| !h.is_empty()) {
            let path = Path::new(&home).join(".tccli").join(format!("{profile}.credential"));
            if let Some(credentials) = read_tccli_profile(&path)? {
                return Ok(credentials);
            }
        }
        from_block.ok_or_else(|| CredentialsError::Nowhere { profile: profile.to_owned() })
    }

    /// Reads the tccli profile `profile` under `$HOME/.tccli` (`HOME` through `var`) alone:
    /// the credentials of an aliased provider, which never falls back on the environment's.
    pub fn from_profile(
        var: impl Fn(&str) -> Option<String>,
        profile: &str,
    ) -> Result<Self, CredentialsError> {
        let missing = || CredentialsError::NoProfile { profile: profile.to_owned() };
        let home = var("HOME").filter(|h| !h.is_empty()).ok_or_else(missing)?;
        let path = Path::new(&home).join(".tccli").join(format!("{profile}.credential"));
        read_tccli_profile(&path)?.ok_or_else(missing)
    }
}

/// Reads a tccli credential file (`{"secretId": .., "secretKey": .., "token": ..}`); `None`
/// when it does not exist.
fn read_tccli_profile(path: &Path) -> Result<Option<Credentials>, CredentialsError> {
    let problem = |problem: String| CredentialsError::Profile { path: path.to_owned(), problem };
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(problem(format!("cannot read it: {e}"))),
    };
    let value: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| problem(format!("it is not JSON: {e}")))?;
    let field = |name: &str| value.get(name).and_then(|v| v.as_str()).filter(|v| !v.is_empty());
    match (field("secretId"), field("secretKey")) {
        (Some(id), Some(key)) => {
            let mut credentials = Credentials::new(id, key);
            credentials.token = field("token").map(SecretKey::new);
            Ok(Some(credentials))
        }
        _ => Err(problem(
            "it has no secretId and secretKey; run `tccli configure` or set TENCENTCLOUD_SECRET_ID/KEY"
                .to_owned(),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> =
            pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        move |k| map.get(k).cloned()
    }

    #[test]
    fn reads_all_three_variables() {
        let creds = Credentials::from_env(env(&[
            ("TENCENTCLOUD_SECRET_ID", "AKID1"),
            ("TENCENTCLOUD_SECRET_KEY", "key1"),
            ("TENCENTCLOUD_SECURITY_TOKEN", "tok"),
        ]))
        .expect("complete");
        assert_eq!(creds.secret_id, "AKID1");
        assert_eq!(creds.secret_key.expose(), "key1");
        assert_eq!(creds.token.as_ref().map(SecretKey::expose), Some("tok"));
    }

    #[test]
    fn missing_and_incomplete_name_the_variables() {
        let missing = Credentials::from_env(env(&[])).expect_err("missing").to_string();
        assert!(
            missing.contains("TENCENTCLOUD_SECRET_ID")
                && missing.contains("TENCENTCLOUD_SECRET_KEY")
        );
        let half = Credentials::from_env(env(&[("TENCENTCLOUD_SECRET_ID", "AKID1")]))
            .expect_err("incomplete")
            .to_string();
        assert_eq!(
            half,
            "TENCENTCLOUD_SECRET_ID is set but TENCENTCLOUD_SECRET_KEY is not: set both"
        );
    }

    #[test]
    fn debug_never_shows_secrets() {
        let mut creds = Credentials::new("AKID1", "very-secret-key");
        creds.token = Some(SecretKey::new("very-secret-token"));
        let shown = format!("{creds:?}");
        assert!(shown.contains("AKID1"));
        assert!(!shown.contains("very-secret"), "{shown}");
    }
}
