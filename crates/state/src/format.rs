//! The state file format: a [`State`] as a versioned JSON document, and what can be wrong with
//! a document that claims to be one.
//!
//! Reading refuses anything that is not certplan state, or is from a newer format than this
//! build knows, rather than guessing: the caller must never save over what it could not read.
//! This module turns bytes into a state and back; it touches no file.

use crate::State;

/// The state file format this build writes, and the newest it reads. Version 2 records what
/// an earlier build would drop unknowingly when saving: certificates from an ACME CA (their
/// arguments, journaled orders and rate-limit holds) and first deployments to named instances.
/// Version 3 records which provider configuration, so which account, holds each certificate,
/// and the cloud of each: an earlier build would take every certificate for the default
/// account's. An earlier version's document reads as it is, and is saved as version 3.
pub const FORMAT_VERSION: u32 = 3;

impl State {
    /// Reads a state document, refusing what is not certplan state or is from a newer format.
    pub fn from_json(bytes: &[u8]) -> Result<Self, Problem> {
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Err(Problem::Empty);
        }
        let value: serde_json::Value = serde_json::from_slice(bytes).map_err(|e| {
            if e.is_eof() {
                Problem::Truncated(e.to_string())
            } else {
                Problem::NotJson(e.to_string())
            }
        })?;
        let version = value.get("format_version").and_then(serde_json::Value::as_u64);
        let lineage = value.get("lineage").and_then(serde_json::Value::as_str);
        let (Some(version), Some(_)) = (version, lineage) else {
            return Err(Problem::Foreign);
        };
        if version > u64::from(FORMAT_VERSION) {
            return Err(Problem::NewerFormat(version));
        }
        let mut state: State =
            serde_json::from_value(value).map_err(|e| Problem::Invalid(e.to_string()))?;
        state.read_earlier_versions();
        Ok(state)
    }

    /// Reads what earlier versions recorded differently as this one records it (every store
    /// calls it on what it loads).
    pub fn read_earlier_versions(&mut self) {
        self.format_version = FORMAT_VERSION;
        // Earlier versions recorded `project_id = 0` as written; 0 is the default project, which
        // certplan spells as no project (see `certplan_core::project_id`).
        let args = self.resources.values_mut().map(|r| &mut r.args);
        for args in args.chain(self.intents.iter_mut().map(|i| &mut i.args)) {
            args.project_id = args.project_id.and_then(certplan_core::project_id);
        }
    }

    /// Writes the state document: pretty, with a trailing newline, keys in a stable order.
    pub fn to_json(&self) -> Vec<u8> {
        let mut bytes = serde_json::to_vec_pretty(self).expect("state always serialises");
        bytes.push(b'\n');
        bytes
    }
}

/// What is wrong with a state document.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Problem {
    #[error("the file is empty")]
    Empty,
    #[error("the file is truncated ({0})")]
    Truncated(String),
    #[error("the file is not JSON ({0})")]
    NotJson(String),
    #[error("the file is not a certplan state file (it has no format_version and lineage)")]
    Foreign,
    #[error(
        "the file has state format version {0}, newer than this certplan reads ({FORMAT_VERSION}); upgrade certplan"
    )]
    NewerFormat(u64),
    #[error("the file is not valid certplan state: {0}")]
    Invalid(String),
}

#[cfg(test)]
mod tests {
    use crate::model::sample;

    #[test]
    fn a_recorded_default_project_reads_as_no_project() {
        let mut state = sample();
        for r in state.resources.values_mut() {
            r.args.project_id = Some(0);
        }
        let read = crate::State::from_json(&state.to_json()).expect("reads");
        assert!(read.resources.values().all(|r| r.args.project_id.is_none()));
    }

    #[test]
    fn state_holds_no_password() {
        let mut state = sample();
        if let Some(r) = state.resources.values_mut().next() {
            r.args.csr_key_password_digest = Some("sha256:abc".into());
        }
        let text = String::from_utf8(state.to_json()).expect("utf8");
        assert!(text.contains("csr_key_password_digest"));
        assert!(!text.contains("\"csr_key_password\""));
    }
}
