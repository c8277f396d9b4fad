//! Reads a Terraform state — a version 4 state file (`terraform.tfstate`, what `terraform state
//! pull` prints) or what `terraform show -json` prints — for the `tencentcloud_ssl_free_certificate`
//! instances certplan can adopt: each one's address, certificate id and the arguments it was
//! applied for with.
//!
//! No sensitive value is ever copied: neither `csr_key_password` nor `certificate_private_key`,
//! nor any attribute the state marks sensitive. Attributes are read through a filter that keeps
//! only the few certplan takes, so every other value (a private key) is skipped as it is read,
//! never held. Bytes in, data out: this module reads no file and writes no certplan state.

mod address;
#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use certplan_core::{Argument, CertificateId, InstanceKey, ProviderRef, RESOURCE_TYPE};
use serde::Deserialize;
use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::Value;

pub use address::{TerraformAddress, TerraformAddressError};

/// The provider's arguments certplan reads from a Terraform state, in the provider's order:
/// all but the password (never read) and `delete_dns_auto_record` (an API field the provider
/// does not have).
fn read_arguments() -> impl Iterator<Item = Argument> + Clone {
    Argument::ALL
        .into_iter()
        .filter(|a| !a.meta() && !matches!(*a, PASSWORD | Argument::DeleteDnsAutoRecord))
}
/// The provider's arguments certplan does not take: it renews on its own.
const LEFT_OUT: [Argument; 1] = [Argument::OldCertificateId];
const PASSWORD: Argument = Argument::CsrKeyPassword;

/// The `tencentcloud_ssl_free_certificate` instances of a Terraform state.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TerraformState {
    /// Every managed tencentcloud_ssl_free_certificate instance, in the order of the file.
    pub certificates: Vec<TerraformCertificate>,
    /// Resource instances of other types, data sources (of any type) and deposed objects (on
    /// their way to deletion): counted, not read.
    pub ignored: usize,
}

/// One certificate as a Terraform state records it.
#[derive(Debug, Clone, PartialEq)]
pub struct TerraformCertificate {
    pub address: TerraformAddress,
    /// The provider configuration whose account holds it: the alias of the state's `provider`
    /// field (`provider["registry.terraform.io/tencentcloudstack/tencentcloud"].prod`); `None`
    /// from `terraform show -json`, which does not say.
    pub provider: Option<ProviderRef>,
    /// The certificate id (attribute `id`).
    pub id: CertificateId,
    /// The arguments that were set, Terraform's names, in the provider's order (domain,
    /// dv_auth_method, package_type, contact_email, contact_phone, validity_period,
    /// csr_encrypt_algo, csr_key_parameter, alias, project_id): an argument is set unless it is
    /// absent, null, "" (or the default project 0 for project_id). Values as JSON (string or
    /// number, as the file has them). Never a sensitive attribute.
    pub arguments: Vec<(&'static str, Value)>,
    /// Whether `csr_key_password` was set (its value is never kept).
    pub password_set: bool,
    /// Arguments that were set but that the state marks sensitive (a value from a sensitive
    /// variable), besides `csr_key_password`: named, their values never kept.
    pub withheld: Vec<&'static str>,
    /// Arguments certplan does not take, with their value: `old_certificate_id` (certplan
    /// renews on its own).
    pub left_out: Vec<(&'static str, Value)>,
}

/// Why a file could not be read as a Terraform state. Each message is said of the file: the
/// caller writes its path before it (`terraform.tfstate is not JSON: ...`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TerraformStateError {
    #[error(
        "is empty: pass terraform.tfstate, or what `terraform state pull` or `terraform show -json` prints"
    )]
    Empty,
    #[error(
        "is UTF-16 text, as Windows PowerShell's `>` writes it: save it as UTF-8 (`terraform state pull | Out-File -Encoding utf8 FILE`) and import from that"
    )]
    Utf16,
    #[error(
        "is not JSON ({0}): pass terraform.tfstate, or what `terraform state pull` or `terraform show -json` prints"
    )]
    NotJson(String),
    #[error(
        "ends early (line {line}): the file is truncated — copy it again, or run `terraform state pull > FILE`"
    )]
    Truncated { line: usize },
    #[error(
        "is not a Terraform state: it has neither the `version` of a state file nor the `format_version` of `terraform show -json`. Pass terraform.tfstate, or what `terraform state pull` or `terraform show -json` prints"
    )]
    NotTerraformState,
    #[error(
        "has state format version {0}: certplan reads version 4, which Terraform 0.12 and later write. Run `terraform state pull > FILE` with a current Terraform and import from FILE"
    )]
    UnsupportedVersion(String),
    #[error(
        "is `terraform show -json` output in format {0}: certplan reads format 1.x. Import from the state instead (`terraform state pull > FILE`)"
    )]
    UnsupportedShowFormat(String),
    #[error(
        "is a plan (what `terraform show -json PLANFILE` prints), not a state: run `terraform show -json` without a plan file, or `terraform state pull > FILE`"
    )]
    Plan,
    #[error(
        "is not a valid Terraform state: {0}. Export it again (`terraform state pull > FILE`) and import from FILE"
    )]
    Invalid(String),
    #[error(
        "has no certificate id for {address}: its `id` attribute is missing, empty, not a string or marked sensitive. Run `terraform apply -refresh-only` and export the state again, or import the certificate with `certplan import ADDRESS ID`"
    )]
    MissingId { address: TerraformAddress },
}

/// Reads the `tencentcloud_ssl_free_certificate` instances of a version 4 Terraform state, or
/// of what `terraform show -json` prints.
pub fn read_terraform_state(bytes: &[u8]) -> Result<TerraformState, TerraformStateError> {
    // Windows PowerShell writes what `>` redirects as UTF-16, and `Out-File -Encoding utf8`
    // as UTF-8 behind a byte order mark.
    if bytes.starts_with(&[0xFF, 0xFE]) || bytes.starts_with(&[0xFE, 0xFF]) {
        return Err(TerraformStateError::Utf16);
    }
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF".as_slice()).unwrap_or(bytes);
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(TerraformStateError::Empty);
    }
    // The whole file is checked first, so that a truncated file is reported as truncated
    // whatever its first values are.
    if let Err(e) = serde_json::from_slice::<IgnoredAny>(bytes) {
        return Err(if e.is_eof() {
            TerraformStateError::Truncated { line: e.line() }
        } else {
            TerraformStateError::NotJson(e.to_string())
        });
    }
    // serde would read a struct from an array too (`[4]` as `{"version": 4}`).
    if bytes.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        return Err(TerraformStateError::NotTerraformState);
    }
    let header: Header =
        serde_json::from_slice(bytes).map_err(|_| TerraformStateError::NotTerraformState)?;
    let invalid = |e: serde_json::Error| TerraformStateError::Invalid(e.to_string());
    match (header.version, header.format_version) {
        (Some(version), _) if version.as_u64() == Some(4) => {
            read_v4(serde_json::from_slice(bytes).map_err(invalid)?)
        }
        (Some(version), _) => Err(TerraformStateError::UnsupportedVersion(version.to_string())),
        // A plan has the same `format_version`, and what it plans in `planned_values`.
        (None, Some(Value::String(_))) if header.planned_values.is_some() => {
            Err(TerraformStateError::Plan)
        }
        (None, Some(Value::String(format))) if format.split('.').next() == Some("1") => {
            read_show(serde_json::from_slice(bytes).map_err(invalid)?)
        }
        (None, Some(Value::String(format))) => {
            Err(TerraformStateError::UnsupportedShowFormat(format))
        }
        // certplan's own state has a `format_version` too, a number.
        (None, _) => Err(TerraformStateError::NotTerraformState),
    }
}

/// What tells the two formats apart.
#[derive(Deserialize)]
struct Header {
    version: Option<Value>,
    format_version: Option<Value>,
    planned_values: Option<IgnoredAny>,
}

/// A version 4 state: `{version: 4, resources: [...]}`.
#[derive(Deserialize)]
struct StateV4 {
    #[serde(default)]
    resources: Vec<ResourceV4>,
}

#[derive(Deserialize)]
struct ResourceV4 {
    /// `module.edge`; absent for the root module.
    #[serde(default)]
    module: Option<String>,
    #[serde(default)]
    mode: Option<String>,
    #[serde(rename = "type")]
    resource_type: String,
    name: String,
    /// The provider configuration's address: `provider["registry.terraform.io/NS/NAME"]`,
    /// with `.ALIAS` for an aliased one.
    #[serde(default)]
    provider: Option<String>,
    #[serde(default)]
    instances: Vec<InstanceV4>,
}

#[derive(Deserialize)]
struct InstanceV4 {
    #[serde(default)]
    index_key: Option<IndexKey>,
    #[serde(default)]
    deposed: Option<String>,
    #[serde(default)]
    attributes: Option<Attributes>,
    /// What a state upgraded from Terraform 0.11 holds until the next refresh.
    #[serde(default)]
    attributes_flat: Option<Attributes>,
    #[serde(default)]
    sensitive_attributes: Option<Value>,
}

/// What `terraform show -json` prints: `{format_version, values: {root_module: {...}}}`;
/// `values` is absent when the state is empty.
#[derive(Deserialize)]
struct ShowJson {
    #[serde(default)]
    values: Option<ShowValues>,
}

#[derive(Deserialize)]
struct ShowValues {
    #[serde(default)]
    root_module: Option<ShowModule>,
}

#[derive(Deserialize)]
struct ShowModule {
    #[serde(default)]
    resources: Vec<ShowResource>,
    #[serde(default)]
    child_modules: Vec<ShowModule>,
}

#[derive(Deserialize)]
struct ShowResource {
    /// The whole instance address: `module.edge.TYPE.NAME["a"]`.
    address: String,
    #[serde(default)]
    mode: Option<String>,
    #[serde(rename = "type")]
    resource_type: String,
    #[serde(default)]
    deposed: Option<String>,
    #[serde(default)]
    values: Option<Attributes>,
    /// The values' shape, with `true` where a value is sensitive.
    #[serde(default)]
    sensitive_values: Option<Value>,
}

/// Whether a resource's instances are certificates certplan can adopt.
fn is_certificate(mode: Option<&str>, resource_type: &str) -> bool {
    mode != Some("data") && resource_type == RESOURCE_TYPE
}

fn is_deposed(deposed: Option<&str>) -> bool {
    deposed.is_some_and(|d| !d.is_empty())
}

fn read_v4(state: StateV4) -> Result<TerraformState, TerraformStateError> {
    let mut read = TerraformState::default();
    for resource in state.resources {
        if !is_certificate(resource.mode.as_deref(), &resource.resource_type) {
            read.ignored += resource.instances.len();
            continue;
        }
        let module = resource.module.as_deref().unwrap_or_default();
        let modules = address::parse_module_path(module).map_err(|why| {
            TerraformStateError::Invalid(format!(
                "resource {}.{}: {why}",
                resource.resource_type, resource.name
            ))
        })?;
        let provider = provider_alias(resource.provider.as_deref()).map_err(|why| {
            TerraformStateError::Invalid(format!(
                "resource {}.{}: {why}",
                resource.resource_type, resource.name
            ))
        })?;
        for instance in resource.instances {
            if is_deposed(instance.deposed.as_deref()) {
                read.ignored += 1;
                continue;
            }
            let address = TerraformAddress {
                modules: modules.clone(),
                resource_type: resource.resource_type.clone(),
                name: resource.name.clone(),
                key: instance.index_key.map(|k| k.0),
            };
            let sensitive = sensitive_paths(instance.sensitive_attributes)
                .map_err(|why| TerraformStateError::Invalid(format!("{address}: {why}")))?;
            let attributes = instance.attributes.or(instance.attributes_flat);
            let mut read_one = certificate(address, attributes, &sensitive)?;
            read_one.provider = Some(provider.clone());
            read.certificates.push(read_one);
        }
    }
    Ok(read)
}

fn read_show(show: ShowJson) -> Result<TerraformState, TerraformStateError> {
    let mut read = TerraformState::default();
    if let Some(root) = show.values.and_then(|v| v.root_module) {
        read_module(root, &mut read)?;
    }
    Ok(read)
}

/// Reads a module's resources, then its child modules': the order `terraform show` prints.
fn read_module(module: ShowModule, read: &mut TerraformState) -> Result<(), TerraformStateError> {
    for resource in module.resources {
        if !is_certificate(resource.mode.as_deref(), &resource.resource_type)
            || is_deposed(resource.deposed.as_deref())
        {
            read.ignored += 1;
            continue;
        }
        let address: TerraformAddress = resource
            .address
            .parse()
            .map_err(|e: TerraformAddressError| TerraformStateError::Invalid(e.to_string()))?;
        let sensitive = sensitive_values(resource.sensitive_values)
            .map_err(|why| TerraformStateError::Invalid(format!("{address}: {why}")))?;
        read.certificates.push(certificate(address, resource.values, &sensitive)?);
    }
    for child in module.child_modules {
        read_module(child, read)?;
    }
    Ok(())
}

/// The attributes a v4 instance's `sensitive_attributes` marks: a list of paths, each a list
/// of steps whose first names the attribute (`[{"type": "get_attr", "value": "alias"}]`).
fn sensitive_paths(paths: Option<Value>) -> Result<BTreeSet<String>, String> {
    let paths = match paths {
        None | Some(Value::Null) => return Ok(BTreeSet::new()),
        Some(Value::Array(paths)) => paths,
        Some(other) => return Err(format!("sensitive_attributes is {other}, not a list")),
    };
    let mut names = BTreeSet::new();
    for path in paths {
        // A bare step, or a bare name, as hand-written states have them, say the same.
        let step = match &path {
            Value::Array(steps) => steps.first(),
            other => Some(other),
        };
        let name = match step {
            Some(Value::Object(step))
                if step.get("type").and_then(Value::as_str) == Some("get_attr") =>
            {
                step.get("value").and_then(Value::as_str)
            }
            Some(Value::String(name)) => Some(name.as_str()),
            _ => None,
        };
        // A path certplan cannot read could mark any attribute: nothing is taken on a guess.
        let name = name.ok_or_else(|| {
            format!("cannot tell which attribute the sensitive_attributes path {path} marks")
        })?;
        names.insert(name.to_owned());
    }
    Ok(names)
}

/// The attributes `terraform show -json`'s `sensitive_values` marks: those whose entry holds a
/// `true` (`{"csr_key_password": true, "dv_auths": []}`).
fn sensitive_values(values: Option<Value>) -> Result<BTreeSet<String>, String> {
    fn marked(value: &Value) -> bool {
        match value {
            Value::Bool(b) => *b,
            Value::Array(items) => items.iter().any(marked),
            Value::Object(entries) => entries.values().any(marked),
            _ => false,
        }
    }
    match values {
        None | Some(Value::Null) => Ok(BTreeSet::new()),
        Some(Value::Object(entries)) => {
            Ok(entries.into_iter().filter(|(_, v)| marked(v)).map(|(k, _)| k).collect())
        }
        Some(other) => Err(format!("sensitive_values is {other}, not an object")),
    }
}

/// Builds a certificate from what was kept of its attributes, leaving out what `sensitive`
/// names.
fn certificate(
    address: TerraformAddress,
    attributes: Option<Attributes>,
    sensitive: &BTreeSet<String>,
) -> Result<TerraformCertificate, TerraformStateError> {
    let Attributes { mut kept, password_set } = attributes.unwrap_or_default();
    let id = match kept.remove("id") {
        Some(Value::String(id)) if !id.is_empty() && !sensitive.contains("id") => id,
        _ => return Err(TerraformStateError::MissingId { address }),
    };
    let mut arguments = Vec::new();
    let mut withheld = Vec::new();
    let mut left_out = Vec::new();
    for argument in read_arguments() {
        let name = argument.name();
        let Some(value) = kept.remove(name).filter(|v| is_set(name, v)) else { continue };
        if sensitive.contains(name) {
            withheld.push(name);
        } else if LEFT_OUT.contains(&argument) {
            left_out.push((name, value));
        } else {
            arguments.push((name, value));
        }
    }
    Ok(TerraformCertificate {
        address,
        provider: None,
        id: id.into(),
        arguments,
        password_set,
        withheld,
        left_out,
    })
}

/// Reads the alias of a resource's provider configuration address, as Terraform writes it in
/// a state: `provider["registry.terraform.io/tencentcloudstack/tencentcloud"].prod` (or
/// `module.NAME.provider[...]...` for one configured in a module). No alias, or no address at
/// all, is the default configuration.
fn provider_alias(address: Option<&str>) -> Result<ProviderRef, String> {
    let Some(address) = address else { return Ok(ProviderRef::DEFAULT) };
    let rest = address
        .find("provider[\"")
        .and_then(|at| address[at..].split_once("\"]"))
        .map(|(_, rest)| rest)
        .ok_or_else(|| format!("its provider {address:?} is not a provider address"))?;
    match rest.strip_prefix('.') {
        None if rest.is_empty() => Ok(ProviderRef::DEFAULT),
        Some(alias) if ProviderRef::valid_alias(alias) => Ok(ProviderRef::aliased(alias)),
        _ => Err(format!("its provider {address:?} has an alias certplan cannot name")),
    }
}

/// Whether an argument was set: the provider writes every argument, unset ones as `""` (or 0,
/// the default project, for `project_id`; a state upgraded from 0.11 has `"0"`).
fn is_set(name: &str, value: &Value) -> bool {
    let default_project = |p: u64| certplan_core::project_id(p).is_none();
    match value {
        Value::Null => false,
        Value::String(s) if s.is_empty() => false,
        Value::Number(n) if name == "project_id" => !n.as_u64().is_some_and(default_project),
        Value::String(s) if name == "project_id" => !s.parse().is_ok_and(default_project),
        _ => true,
    }
}

/// What is kept of an instance's attributes: the certificate id and the arguments certplan
/// reads, and whether a CSR key password was set. Every other value is skipped as it is read.
#[derive(Default)]
struct Attributes {
    kept: BTreeMap<&'static str, Value>,
    password_set: bool,
}

impl<'de> Deserialize<'de> for Attributes {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Filter;
        impl<'de> Visitor<'de> for Filter {
            type Value = Attributes;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object of attributes")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Attributes, A::Error> {
                let mut attributes = Attributes::default();
                let wanted = ["id"].into_iter().chain(read_arguments().map(Argument::name));
                while let Some(key) = map.next_key::<String>()? {
                    if key == PASSWORD.name() {
                        attributes.password_set = map.next_value::<Presence>()?.0;
                    } else if let Some(name) = wanted.clone().find(|name| *name == key) {
                        attributes.kept.insert(name, map.next_value()?);
                    } else {
                        map.next_value::<IgnoredAny>()?;
                    }
                }
                Ok(attributes)
            }
        }
        deserializer.deserialize_map(Filter)
    }
}

/// Whether a value is set (not null, not `""`), read without keeping it.
struct Presence(bool);

impl<'de> Deserialize<'de> for Presence {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Set;
        impl<'de> Visitor<'de> for Set {
            type Value = Presence;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any value")
            }

            fn visit_str<E: de::Error>(self, s: &str) -> Result<Presence, E> {
                Ok(Presence(!s.is_empty()))
            }

            fn visit_unit<E: de::Error>(self) -> Result<Presence, E> {
                Ok(Presence(false))
            }

            fn visit_bool<E: de::Error>(self, _: bool) -> Result<Presence, E> {
                Ok(Presence(true))
            }

            fn visit_i64<E: de::Error>(self, _: i64) -> Result<Presence, E> {
                Ok(Presence(true))
            }

            fn visit_u64<E: de::Error>(self, _: u64) -> Result<Presence, E> {
                Ok(Presence(true))
            }

            fn visit_f64<E: de::Error>(self, _: f64) -> Result<Presence, E> {
                Ok(Presence(true))
            }

            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Presence, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(Presence(true))
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Presence, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(Presence(true))
            }
        }
        deserializer.deserialize_any(Set)
    }
}

/// A v4 instance's `index_key`: an integer for `count`, a string for `for_each`.
struct IndexKey(InstanceKey);

impl<'de> Deserialize<'de> for IndexKey {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Key;
        impl Visitor<'_> for Key {
            type Value = IndexKey;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an index_key: a whole number or a string")
            }

            fn visit_u64<E: de::Error>(self, i: u64) -> Result<IndexKey, E> {
                Ok(IndexKey(InstanceKey::Index(i)))
            }

            fn visit_str<E: de::Error>(self, s: &str) -> Result<IndexKey, E> {
                Ok(IndexKey(InstanceKey::Key(s.to_owned())))
            }
        }
        deserializer.deserialize_any(Key)
    }
}
