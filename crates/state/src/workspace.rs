//! Workspace names: the rule every backend applies before a name becomes part of a file name
//! or a database key. Where each backend keeps a workspace is that backend's business.

/// The workspace a command works on unless told otherwise.
pub const DEFAULT_WORKSPACE: &str = "default";

/// The longest workspace name accepted.
const MAX_WORKSPACE_NAME: usize = 90;

/// Checks that `name` can name a workspace: 1 to 90 ASCII letters, digits, `-`, `_` and `.`,
/// so that it is safe as a file name and reads the same everywhere. The error says why not.
pub fn valid_workspace_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("a workspace name cannot be empty".to_owned());
    }
    if name.len() > MAX_WORKSPACE_NAME {
        return Err(format!(
            "a workspace name is at most {MAX_WORKSPACE_NAME} characters long (this one has {})",
            name.chars().count()
        ));
    }
    if let Some(c) = name.chars().find(|c| !(c.is_ascii_alphanumeric() || "-_.".contains(*c))) {
        return Err(format!(
            "{c:?} is not allowed; a workspace name is made of letters, digits, '-', '_' and '.'"
        ));
    }
    if name.chars().all(|c| c == '.') {
        return Err("a workspace name cannot be only dots".to_owned());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workspace_names_are_safe_file_names() {
        for good in ["default", "prod", "staging-eu_1", "v1.2", &"a".repeat(90)] {
            assert_eq!(valid_workspace_name(good), Ok(()), "{good}");
        }
        for bad in ["", "a/b", "..", "../etc", "prod env", "naïve", "x;drop", &"a".repeat(91)] {
            assert!(valid_workspace_name(bad).is_err(), "{bad:?} accepted");
        }
        assert!(valid_workspace_name("a/b").expect_err("refused").contains("'/'"));
    }
}
