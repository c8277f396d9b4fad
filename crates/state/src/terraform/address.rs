//! Terraform's resource instance addresses (`module.edge.TYPE.NAME["a"]`) and how they map to
//! certplan's, which have no modules: a resource in a module takes the module names and its
//! own, joined by `__` (`TYPE.edge__NAME["a"]`).
//!
//! The mapping refuses what it could not map back (a module instance with a key, a name that
//! would make the `__` ambiguous) rather than inventing a name. Text in, text out: nothing
//! here reads a file.

use std::fmt;
use std::str::FromStr;

use certplan_core::{Address, InstanceKey};

/// Joins the module names and the resource name of a resource in a module into one certplan
/// name.
const SEPARATOR: &str = "__";

const IMPORT_EACH: &str = "declare the certificates in certplan and import each with `certplan import ADDRESS ID` or an import block";

/// Identifies one resource instance in a Terraform state: `tencentcloud_ssl_free_certificate.www`,
/// `module.edge.tencentcloud_ssl_free_certificate.www["a"]`, `...module.a[0].module.b.TYPE.n[1]`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TerraformAddress {
    /// The module path from the root, each module with its instance key.
    pub modules: Vec<(String, Option<InstanceKey>)>,
    pub resource_type: String,
    pub name: String,
    pub key: Option<InstanceKey>,
}

/// Why text is not a Terraform resource instance address.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "invalid Terraform resource address {0:?}: expected [module.NAME[KEY].]...TYPE.NAME[KEY], e.g. module.edge.tencentcloud_ssl_free_certificate.www[\"a\"]"
)]
pub struct TerraformAddressError(String);

impl TerraformAddress {
    /// Returns the certplan address this instance is imported at: unchanged at the root; in a
    /// module, named by the module names and its own joined by `__`. Refuses, with what to
    /// do, an address certplan cannot name.
    pub fn to_certplan(&self) -> Result<Address, String> {
        Ok(Address {
            resource_type: self.resource_type.clone(),
            name: self.certplan_name()?,
            key: self.key.clone(),
        })
    }

    /// Returns the Terraform address a certplan address was imported from: the inverse of
    /// [`to_certplan`](Self::to_certplan), reading a name with `__` as module names, then the
    /// resource name.
    pub fn from_certplan(address: &Address) -> TerraformAddress {
        let mut parts: Vec<&str> = address.name.split(SEPARATOR).collect();
        let name = parts.pop().unwrap_or_default().to_owned();
        TerraformAddress {
            modules: parts.into_iter().map(|m| (m.to_owned(), None)).collect(),
            resource_type: address.resource_type.clone(),
            name,
            key: address.key.clone(),
        }
    }

    /// Returns the name of a resource block of its own for this one instance: the certplan
    /// name, and for an instance with a key, `_` and the key with every character that cannot
    /// be part of a name replaced by `_` (`www["a.example.com"]` → `www_a_example_com`).
    /// Different keys may give the same name (`"a.b"`, `"a_b"`): the caller keeps names apart.
    pub fn block_name(&self) -> Result<String, String> {
        let name = self.certplan_name()?;
        Ok(match &self.key {
            None => name,
            Some(InstanceKey::Index(i)) => format!("{name}_{i}"),
            Some(InstanceKey::Key(k)) => {
                let key: String =
                    k.chars().map(|c| if is_name_char(c) { c } else { '_' }).collect();
                format!("{name}_{key}")
            }
        })
    }

    fn certplan_name(&self) -> Result<String, String> {
        if let Some((module, Some(key))) = self.modules.iter().find(|(_, key)| key.is_some()) {
            return Err(format!(
                "module.{module}{} is a module instance with a key: certplan has no modules, and the key has nowhere to go; {IMPORT_EACH}",
                Key(key)
            ));
        }
        let segments = self.modules.iter().map(|(m, _)| m).chain([&self.name]);
        for segment in segments.clone() {
            let valid = segment.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
                && segment.chars().all(is_name_char);
            if !valid {
                return Err(format!(
                    "{segment:?} cannot be part of a certplan name (ASCII letters, digits, `_` and `-`, starting with a letter or `_`): rename it in Terraform first (`terraform state mv`), or {IMPORT_EACH}"
                ));
            }
        }
        // The name must read back as the same modules and resource: no part may hold the
        // separator, nor a module name end with `_` (`a_` + `__` + `b` reads as `a` + `_b`).
        // The same goes for a name at the root, which would read as one in a module.
        let ambiguous = |segment: &String| segment.contains(SEPARATOR);
        let trailing = self.modules.iter().map(|(m, _)| m).find(|m| m.ends_with('_'));
        if let Some(segment) = segments.clone().find(|s| ambiguous(s)).or(trailing) {
            return Err(format!(
                "{segment:?} would make the certplan name ambiguous (certplan joins module and resource names with `__`): rename it in Terraform first (`terraform state mv`), or {IMPORT_EACH}"
            ));
        }
        Ok(segments.map(String::as_str).collect::<Vec<_>>().join(SEPARATOR))
    }
}

/// Whether `c` may be part of a certplan name.
fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == '-'
}

/// An instance key as Terraform writes it: `[0]`, `["a"]` with JSON escapes.
struct Key<'a>(&'a InstanceKey);

impl fmt::Display for Key<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            InstanceKey::Index(i) => write!(f, "[{i}]"),
            InstanceKey::Key(k) => {
                let quoted = serde_json::to_string(k).map_err(|_| fmt::Error)?;
                write!(f, "[{quoted}]")
            }
        }
    }
}

impl fmt::Display for TerraformAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (module, key) in &self.modules {
            write!(f, "module.{module}")?;
            if let Some(key) = key {
                write!(f, "{}", Key(key))?;
            }
            f.write_str(".")?;
        }
        write!(f, "{}.{}", self.resource_type, self.name)?;
        match &self.key {
            Some(key) => write!(f, "{}", Key(key)),
            None => Ok(()),
        }
    }
}

impl FromStr for TerraformAddress {
    type Err = TerraformAddressError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = || TerraformAddressError(s.to_owned());
        let mut text = Text(s);
        let modules = text.modules().ok_or_else(err)?;
        // `module` and `data` start other kinds of address, not a resource type.
        let resource_type = text
            .identifier()
            .filter(|t| !matches!(t.as_str(), "module" | "data"))
            .ok_or_else(err)?;
        let name = text.eat(".").then(|| text.identifier()).flatten().ok_or_else(err)?;
        let key = text.key().ok_or_else(err)?;
        if !text.0.is_empty() {
            return Err(err());
        }
        Ok(TerraformAddress { modules, resource_type, name, key })
    }
}

/// Parses a module path as a v4 state's `module` writes it: `module.edge`,
/// `module.edge["eu"].module.cdn`; empty for the root module.
pub(crate) fn parse_module_path(s: &str) -> Result<Vec<(String, Option<InstanceKey>)>, String> {
    let mut text = Text(s);
    let err = || format!("invalid module address {s:?}: expected module.NAME[KEY]...");
    let modules = text.modules().ok_or_else(err)?;
    // Each module is followed by a `.`, which the path does not end with.
    if modules.is_empty() && text.0.is_empty() {
        return Ok(modules);
    }
    let last = text.0.strip_prefix("module.").map(Text).and_then(|mut rest| {
        let name = rest.identifier()?;
        let key = rest.key()?;
        rest.0.is_empty().then_some((name, key))
    });
    let mut modules = modules;
    modules.push(last.ok_or_else(err)?);
    Ok(modules)
}

/// What is left of an address being parsed.
struct Text<'a>(&'a str);

impl Text<'_> {
    fn eat(&mut self, prefix: &str) -> bool {
        match self.0.strip_prefix(prefix) {
            Some(rest) => {
                self.0 = rest;
                true
            }
            None => false,
        }
    }

    /// Takes `module.NAME[KEY].` as many times as it comes.
    fn modules(&mut self) -> Option<Vec<(String, Option<InstanceKey>)>> {
        let mut modules = Vec::new();
        loop {
            let before = self.0;
            if !self.eat("module.") {
                return Some(modules);
            }
            let name = self.identifier()?;
            let key = self.key()?;
            if !self.eat(".") {
                // `module.NAME` at the end: the caller decides whether that is the last module.
                self.0 = before;
                return Some(modules);
            }
            modules.push((name, key));
        }
    }

    /// Takes an HCL identifier: a letter or `_`, then letters, digits, `_` and `-`.
    fn identifier(&mut self) -> Option<String> {
        let end = self
            .0
            .char_indices()
            .find(|&(i, c)| {
                let allowed = if i == 0 { c.is_alphabetic() || c == '_' } else { is_identifier(c) };
                !allowed
            })
            .map_or(self.0.len(), |(i, _)| i);
        let (identifier, rest) = self.0.split_at(end);
        self.0 = rest;
        (!identifier.is_empty()).then(|| identifier.to_owned())
    }

    /// Takes an optional instance key: `[0]` or `["a"]` (a JSON string). `None` when there is
    /// a key that cannot be read; `Some(None)` when there is no key.
    fn key(&mut self) -> Option<Option<InstanceKey>> {
        if !self.eat("[") {
            return Some(None);
        }
        let key = if self.0.starts_with('"') {
            let end = closing_quote(self.0)?;
            let key: String = serde_json::from_str(&self.0[..=end]).ok()?;
            self.0 = &self.0[end + 1..];
            InstanceKey::Key(key)
        } else {
            let end = self.0.find(|c: char| !c.is_ascii_digit()).unwrap_or(self.0.len());
            let index = self.0[..end].parse().ok()?;
            self.0 = &self.0[end..];
            InstanceKey::Index(index)
        };
        self.eat("]").then_some(Some(key))
    }
}

fn is_identifier(c: char) -> bool {
    c.is_alphanumeric() || c == '_' || c == '-'
}

/// The byte offset of the quote that closes the JSON string `s` starts with.
fn closing_quote(s: &str) -> Option<usize> {
    let mut escaped = false;
    for (i, c) in s.char_indices().skip(1) {
        match c {
            _ if escaped => escaped = false,
            '\\' => escaped = true,
            '"' => return Some(i),
            _ => {}
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: &str = "tencentcloud_ssl_free_certificate";

    fn key(k: &str) -> Option<InstanceKey> {
        Some(InstanceKey::Key(k.to_owned()))
    }

    fn address(
        modules: &[(&str, Option<InstanceKey>)],
        name: &str,
        key: Option<InstanceKey>,
    ) -> TerraformAddress {
        TerraformAddress {
            modules: modules.iter().map(|(m, k)| ((*m).to_owned(), k.clone())).collect(),
            resource_type: T.to_owned(),
            name: name.to_owned(),
            key,
        }
    }

    #[test]
    fn addresses_print_and_parse_as_terraform_writes_them() {
        let index = |i| Some(InstanceKey::Index(i));
        let cases = [
            (address(&[], "www", None), format!("{T}.www")),
            (address(&[], "api", index(0)), format!("{T}.api[0]")),
            (address(&[], "site", key("a.example.com")), format!("{T}.site[\"a.example.com\"]")),
            (address(&[("edge", None)], "www", key("a")), format!("module.edge.{T}.www[\"a\"]")),
            (address(&[("edge", index(2))], "www", None), format!("module.edge[2].{T}.www")),
            (address(&[("edge", key("eu"))], "www", None), format!("module.edge[\"eu\"].{T}.www")),
            (
                address(&[("a", None), ("b-c", None)], "n", index(10)),
                format!("module.a.module.b-c.{T}.n[10]"),
            ),
            (
                address(&[], "site", key("say \"hi\" \\ ]. ü\n")),
                format!("{T}.site[\"say \\\"hi\\\" \\\\ ]. ü\\n\"]"),
            ),
            (address(&[], "site", key("")), format!("{T}.site[\"\"]")),
        ];
        for (address, text) in cases {
            assert_eq!(address.to_string(), text);
            assert_eq!(text.parse::<TerraformAddress>().as_ref(), Ok(&address), "{text}");
        }
    }

    #[test]
    fn junk_is_not_an_address() {
        for junk in [
            "",
            "www",
            "T.",
            ".www",
            "T.www.x",
            "T.www[",
            "T.www[]",
            "T.www[-1]",
            "T.www[1.5]",
            "T.www[\"a]",
            "T.www[\"a\"",
            "T.www[\"\\q\"]",
            "T.www[0]x",
            "T.www[0][1]",
            "module.T.www",
            "module.edge",
            "module.edge.",
            "module..T.www",
            "module.edge[\"eu\".T.www",
            "data.T.www",
            "data.T",
            "T.1www",
            "T.w w",
            " T.www",
            "T.www[18446744073709551616]",
        ] {
            assert!(junk.parse::<TerraformAddress>().is_err(), "{junk:?}");
        }
    }

    #[test]
    fn module_paths_parse_as_states_write_them() {
        assert_eq!(parse_module_path(""), Ok(vec![]));
        assert_eq!(parse_module_path("module.edge"), Ok(vec![("edge".to_owned(), None)]));
        assert_eq!(
            parse_module_path("module.edge[\"eu\"].module.cdn[0]"),
            Ok(vec![
                ("edge".to_owned(), key("eu")),
                ("cdn".to_owned(), Some(InstanceKey::Index(0)))
            ])
        );
        for junk in ["edge", "module.", "module.edge.", "module.edge.T.www", "module.edge[x]"] {
            assert!(parse_module_path(junk).is_err(), "{junk:?}");
        }
    }

    #[test]
    fn every_mappable_address_maps_to_certplan_and_back() {
        let index = |i| Some(InstanceKey::Index(i));
        let cases = [
            (address(&[], "www", None), "www"),
            (address(&[], "api", index(1)), "api"),
            (address(&[], "site", key("shop.example.com")), "site"),
            (address(&[], "_www-2", None), "_www-2"),
            (address(&[("edge", None)], "www", None), "edge__www"),
            (address(&[("edge", None)], "www", index(0)), "edge__www"),
            (address(&[("edge", None)], "www", key("a.b")), "edge__www"),
            (address(&[("a", None), ("b", None)], "n", None), "a__b__n"),
            (address(&[("a", None), ("_b", None)], "_n", None), "a___b___n"),
            (address(&[("edge", None)], "www_", key("say \"hi\" \\")), "edge__www_"),
        ];
        for (terraform, name) in cases {
            let certplan = terraform.to_certplan().unwrap_or_else(|e| panic!("{terraform}: {e}"));
            assert_eq!(certplan.name, name, "{terraform}");
            assert_eq!((certplan.resource_type.as_str(), &certplan.key), (T, &terraform.key));
            assert_eq!(TerraformAddress::from_certplan(&certplan), terraform);
        }
    }

    #[test]
    fn addresses_certplan_could_not_map_back_are_refused() {
        let cases = [
            (address(&[("edge", key("eu"))], "www", None), "module instance with a key"),
            (address(&[("edge", Some(InstanceKey::Index(0)))], "www", None), "nowhere to go"),
            (address(&[("ed__ge", None)], "www", None), "ambiguous"),
            (address(&[("edge", None)], "w__ww", None), "ambiguous"),
            (address(&[("edge_", None)], "www", None), "ambiguous"),
            (address(&[], "edge__www", None), "ambiguous"),
            (address(&[("édge", None)], "www", None), "ASCII"),
            (address(&[], "wwwü", None), "ASCII"),
        ];
        for (terraform, why) in cases {
            let refusal = terraform.to_certplan().expect_err(&terraform.to_string());
            assert!(refusal.contains(why), "{terraform}: {refusal}");
            assert!(refusal.contains("certplan import ADDRESS ID"), "{refusal}");
            assert!(!refusal.contains('\n'), "{refusal}");
            assert_eq!(terraform.block_name(), Err(refusal));
        }
    }

    #[test]
    fn block_names_add_the_key_as_a_name_can_hold_it() {
        let index = |i| Some(InstanceKey::Index(i));
        let cases = [
            (address(&[], "www", None), "www"),
            (address(&[], "www", key("a.example.com")), "www_a_example_com"),
            (address(&[], "www", index(0)), "www_0"),
            (address(&[("edge", None)], "www", index(0)), "edge__www_0"),
            (address(&[], "site", key("é \"x\"-y_z")), "site____x_-y_z"),
        ];
        for (terraform, name) in cases {
            assert_eq!(terraform.block_name().as_deref(), Ok(name), "{terraform}");
        }
    }
}
