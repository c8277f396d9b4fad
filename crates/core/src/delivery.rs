//! Delivery: where a certificate must reach once issued — the Tencent Cloud resources that
//! served the certificate it replaces (`deploy` blocks), and PEM files on this machine with a
//! reload hook (`export` blocks). What is declared, and what was done, as plain data.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::CertificateId;

/// A type of cloud resource that `UpdateCertificateInstance` moves to a new certificate, as the
/// API names it (`ResourceTypes`). Declared in alphabetical order, so that sets of them list
/// (and serialise) as the names sort.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ResourceType {
    Apigateway,
    Cdn,
    Clb,
    Cos,
    Ddos,
    Gaap,
    Live,
    Mqtt,
    Scf,
    Tcb,
    Tdmq,
    Teo,
    Tke,
    Tse,
    Vod,
    Waf,
}

impl ResourceType {
    /// Every type, in the order the API's documentation lists them.
    pub const ALL: [ResourceType; 16] = [
        ResourceType::Clb,
        ResourceType::Cdn,
        ResourceType::Waf,
        ResourceType::Live,
        ResourceType::Ddos,
        ResourceType::Teo,
        ResourceType::Apigateway,
        ResourceType::Vod,
        ResourceType::Tke,
        ResourceType::Tcb,
        ResourceType::Tse,
        ResourceType::Cos,
        ResourceType::Mqtt,
        ResourceType::Scf,
        ResourceType::Tdmq,
        ResourceType::Gaap,
    ];

    /// Returns the API's name of the type.
    pub fn name(self) -> &'static str {
        match self {
            ResourceType::Apigateway => "apigateway",
            ResourceType::Cdn => "cdn",
            ResourceType::Clb => "clb",
            ResourceType::Cos => "cos",
            ResourceType::Ddos => "ddos",
            ResourceType::Gaap => "gaap",
            ResourceType::Live => "live",
            ResourceType::Mqtt => "mqtt",
            ResourceType::Scf => "scf",
            ResourceType::Tcb => "tcb",
            ResourceType::Tdmq => "tdmq",
            ResourceType::Teo => "teo",
            ResourceType::Tke => "tke",
            ResourceType::Tse => "tse",
            ResourceType::Vod => "vod",
            ResourceType::Waf => "waf",
        }
    }

    /// Returns the type the API calls `name`.
    pub fn parse(name: &str) -> Option<ResourceType> {
        ResourceType::ALL.into_iter().find(|t| t.name() == name)
    }

    /// The types whose resources live in regions, which a deployment names
    /// (`ResourceTypesRegions`), in the order the API's documentation lists them.
    pub const REGIONAL: [ResourceType; 10] = [
        ResourceType::Clb,
        ResourceType::Tke,
        ResourceType::Apigateway,
        ResourceType::Waf,
        ResourceType::Tcb,
        ResourceType::Tse,
        ResourceType::Cos,
        ResourceType::Mqtt,
        ResourceType::Scf,
        ResourceType::Tdmq,
    ];

    /// Returns true for the types whose resources live in regions.
    pub fn is_regional(self) -> bool {
        ResourceType::REGIONAL.contains(&self)
    }
}

impl fmt::Display for ResourceType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// How long an `on_change` hook may run unless the export says otherwise.
pub const DEFAULT_HOOK_TIMEOUT: Duration = Duration::from_secs(300);

/// The files an export writes. Each is replaced whole (a temporary file renamed over it), all
/// four after all four are written; the hook runs once they are all in place.
pub const EXPORT_FILES: [&str; 4] = ["cert.pem", "chain.pem", "fullchain.pem", "privkey.pem"];

/// What a resource declares about delivery: its `deploy` blocks merged into one target (the
/// API runs one task per certificate at a time), and its `export` blocks.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Delivery {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deploy: Option<DeployTarget>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exports: Vec<ExportSpec>,
}

impl Delivery {
    pub fn is_empty(&self) -> bool {
        self.deploy.is_none() && self.exports.is_empty()
    }
}

/// The cloud resources a new certificate takes over: of these types, in these regions — and
/// the named instances it is put on where no certificate serves yet.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeployTarget {
    pub resource_types: BTreeSet<ResourceType>,
    /// For the region-scoped types: which regions.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub regions: BTreeMap<ResourceType, BTreeSet<String>>,
    /// Instances named for a first deployment (`DeployCertificateInstance`), by type and
    /// region, in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub instances: Vec<Instances>,
}

/// Instances of one type, in one region (for a region-scoped type), that a certificate is put
/// on by one `DeployCertificateInstance` call: ids in the API's format for the type
/// (`lbId|listenerId` for a CLB listener, `domain|on` for CDN…).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Instances {
    pub resource_type: ResourceType,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    pub ids: BTreeSet<String>,
}

/// `clb lb-1|lbl-1, lb-2|lbl-2 in ap-guangzhou`.
impl fmt::Display for Instances {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ids: Vec<&str> = self.ids.iter().map(String::as_str).collect();
        write!(f, "{} {}", self.resource_type, ids.join(", "))?;
        if let Some(region) = &self.region {
            write!(f, " in {region}")?;
        }
        Ok(())
    }
}

impl DeployTarget {
    /// Returns what of `self` is not in `covered`: its types `covered` lacks, and for a
    /// region-scoped type both have, the regions `covered` lacks.
    pub fn minus(&self, covered: &DeployTarget) -> DeployTarget {
        let mut rest = DeployTarget::default();
        // The instances are put on by first deployments, never by a move.
        for kind in &self.resource_types {
            let regions = self.regions.get(kind);
            if !covered.resource_types.contains(kind) {
                rest.resource_types.insert(*kind);
                if let Some(regions) = regions {
                    rest.regions.insert(*kind, regions.clone());
                }
                continue;
            }
            let done = covered.regions.get(kind);
            let missing: BTreeSet<String> = regions
                .into_iter()
                .flatten()
                .filter(|r| done.is_none_or(|d| !d.contains(*r)))
                .cloned()
                .collect();
            if !missing.is_empty() {
                rest.resource_types.insert(*kind);
                rest.regions.insert(*kind, missing);
            }
        }
        rest
    }

    pub fn is_empty(&self) -> bool {
        self.resource_types.is_empty()
    }

    /// Adds another `deploy` block's types, regions and instances.
    pub fn merge(&mut self, other: DeployTarget) {
        self.resource_types.extend(other.resource_types);
        for (kind, regions) in other.regions {
            self.regions.entry(kind).or_default().extend(regions);
        }
        for group in other.instances {
            let same = |g: &&mut Instances| {
                g.resource_type == group.resource_type && g.region == group.region
            };
            match self.instances.iter_mut().find(same) {
                Some(existing) => existing.ids.extend(group.ids),
                None => self.instances.push(group),
            }
        }
        self.instances.sort();
    }
}

/// `clb (ap-guangzhou, ap-shanghai), cdn`.
impl fmt::Display for DeployTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, kind) in self.resource_types.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            f.write_str(kind.name())?;
            if let Some(regions) = self.regions.get(kind).filter(|r| !r.is_empty()) {
                let regions: Vec<&str> = regions.iter().map(String::as_str).collect();
                write!(f, " ({})", regions.join(", "))?;
            }
        }
        Ok(())
    }
}

/// One `export` block.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExportSpec {
    /// The directory the PEM files go to, as declared (a relative path is relative to the
    /// directory certplan runs in, the configuration's).
    pub path: PathBuf,
    /// Run by `sh -c` after the files changed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_change: Option<String>,
    /// How long the hook may run.
    #[serde(with = "seconds", default = "default_hook_timeout")]
    pub on_change_timeout: Duration,
}

fn default_hook_timeout() -> Duration {
    DEFAULT_HOOK_TIMEOUT
}

mod seconds {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(d.as_secs())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        u64::deserialize(d).map(Duration::from_secs)
    }
}

/// A deployment's per-resource outcome, as `DescribeHostUpdateRecordDetail` reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DeployStatus {
    Pending,
    Succeeded,
    Failed,
    Deploying,
    RolledBack,
    RollbackFailed,
    /// Nothing to move.
    NoResource,
}

impl DeployStatus {
    /// Maps the API's detail `Status`.
    pub fn from_code(code: i64) -> Option<Self> {
        Some(match code {
            0 => DeployStatus::Pending,
            1 => DeployStatus::Succeeded,
            2 => DeployStatus::Failed,
            3 => DeployStatus::Deploying,
            4 => DeployStatus::RolledBack,
            5 => DeployStatus::RollbackFailed,
            6 => DeployStatus::NoResource,
            _ => return None,
        })
    }

    /// Whether the task is still working on the resource.
    pub fn in_progress(self) -> bool {
        matches!(self, DeployStatus::Pending | DeployStatus::Deploying)
    }

    /// Whether the resource failed to move to the new certificate, which a retry may fix (a
    /// resource rolled back was moved back on purpose, and is left alone).
    pub fn failed(self) -> bool {
        self == DeployStatus::Failed
    }

    pub fn name(self) -> &'static str {
        match self {
            DeployStatus::Pending => "pending",
            DeployStatus::Succeeded => "succeeded",
            DeployStatus::Failed => "failed",
            DeployStatus::Deploying => "deploying",
            DeployStatus::RolledBack => "rolled back",
            DeployStatus::RollbackFailed => "rollback failed",
            DeployStatus::NoResource => "no resource",
        }
    }
}

/// One cloud resource a deployment moved (or tried to).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeployedResource {
    /// The task detail's id (`UpdateCertificateRecordRetry` takes it).
    pub detail_id: u64,
    pub resource_type: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// What the resource is, as the API names it: `lb-xxx/lbl-yyy (www.example.com)`, a CDN
    /// domain, a bucket…
    pub name: String,
    pub status: DeployStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// `clb lb-1/lbl-2 in ap-guangzhou`.
impl fmt::Display for DeployedResource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.resource_type, self.name)?;
        if let Some(region) = &self.region {
            write!(f, " in {region}")?;
        }
        Ok(())
    }
}

/// A deployment task: the cloud resources of `from` moving to `to`. Recorded before the task
/// is asked for (without a `record_id`), so that a crash or a lost answer finds it again
/// instead of creating a second one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Deployment {
    pub from: CertificateId,
    pub to: CertificateId,
    pub target: DeployTarget,
    /// The task's id (`DeployRecordId`), once the API gave one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub record_id: Option<u64>,
    pub started_at: DateTime<Utc>,
    /// Set when no resource was pending or deploying any more.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub resources: Vec<DeployedResource>,
}

impl Deployment {
    pub fn failed(&self) -> impl Iterator<Item = &DeployedResource> {
        self.resources.iter().filter(|r| r.status.failed())
    }

    /// Whether it was followed to the end with every resource on the new certificate.
    pub fn succeeded(&self) -> bool {
        self.finished_at.is_some() && self.failed().next().is_none()
    }
}

/// A first deployment: the certificate `to` put on named instances where none served
/// (`DeployCertificateInstance`), followed to its end. Recorded before the task is asked for,
/// so that a crash or a lost answer asks for it again only knowingly (the service answers a
/// request for instances that have the certificate already with a refusal, and a request
/// while the task runs with that task).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FirstDeployment {
    pub to: CertificateId,
    pub instances: Instances,
    /// The task's id (`DeployRecordId`), once the API gave one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub record_id: Option<u64>,
    pub started_at: DateTime<Utc>,
    /// Set when no instance was pending or deploying any more.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub resources: Vec<DeployedResource>,
}

impl FirstDeployment {
    /// The instances it put the certificate on: every one, once it finished without a
    /// failure; none before.
    pub fn done(&self) -> BTreeSet<String> {
        let failed = self.resources.iter().any(|r| r.status.failed());
        match self.finished_at {
            Some(_) if !failed => self.instances.ids.clone(),
            _ => BTreeSet::new(),
        }
    }
}

/// What an export last wrote: never key material, only digests of the public files.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExportRecord {
    pub path: PathBuf,
    pub certificate_id: CertificateId,
    /// SHA-256 of the leaf certificate (DER), hex.
    pub fingerprint: String,
    /// SHA-256 of `cert.pem`, `chain.pem` and `fullchain.pem` as written, by file name: an
    /// edit on disk is noticed. `privkey.pem` is checked against the certificate instead.
    pub files: BTreeMap<String, String>,
    pub written_at: DateTime<Utc>,
    /// The certificate whose files these replaced, if another: what the hook is told
    /// (`CERTPLAN_OLD_CERTIFICATE_ID`) every time it runs for these files — again after a run
    /// killed while it ran, too.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replaced: Option<CertificateId>,
    /// The `on_change` hook's last outcome for these files; `None` when there is no hook.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hook: Option<HookOutcome>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HookOutcome {
    pub ran_at: DateTime<Utc>,
    /// Why it failed (exit status, timeout, not started); `None` when it succeeded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// What is on disk at an export's path, compared with what state recorded: read by the
/// engine before planning, so that the planner stays free of IO.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum FilesSeen {
    /// All four files are there and match the record.
    Intact,
    /// These files are missing.
    Missing(Vec<String>),
    /// These files differ from what was written (or the key no longer matches).
    Changed(Vec<String>),
}

/// Per export path, what is on disk.
pub type ExportsSeen = BTreeMap<PathBuf, FilesSeen>;

/// Why an export is (re)written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ExportReason {
    /// Never written.
    FirstTime,
    /// The certificate changed since the files were written.
    NewCertificate {
        from: CertificateId,
    },
    FilesMissing(Vec<String>),
    FilesChanged(Vec<String>),
}

impl fmt::Display for ExportReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExportReason::FirstTime => f.write_str("not exported yet"),
            ExportReason::NewCertificate { from } => write!(f, "new certificate, replacing {from}"),
            ExportReason::FilesMissing(files) => write!(f, "missing: {}", files.join(", ")),
            ExportReason::FilesChanged(files) => write!(f, "changed on disk: {}", files.join(", ")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(types: &[&str], regions: &[(&str, &[&str])]) -> DeployTarget {
        DeployTarget {
            resource_types: types.iter().map(|t| ResourceType::parse(t).expect("a type")).collect(),
            regions: regions
                .iter()
                .map(|(t, r)| {
                    let kind = ResourceType::parse(t).expect("a type");
                    (kind, r.iter().map(|r| (*r).to_owned()).collect())
                })
                .collect(),
            instances: Vec::new(),
        }
    }

    #[test]
    fn minus_leaves_the_types_and_regions_not_covered() {
        let both = &["ap-guangzhou", "ap-shanghai"][..];
        let declared = target(&["cdn", "clb"], &[("clb", both)]);
        let done = target(&["cdn", "clb"], &[("clb", &["ap-guangzhou"])]);
        assert_eq!(declared.minus(&done), target(&["clb"], &[("clb", &["ap-shanghai"])]));
        assert!(declared.minus(&declared).is_empty());
        let cdn_only = target(&["cdn"], &[]);
        assert_eq!(declared.minus(&cdn_only), target(&["clb"], &[("clb", both)]));
        assert_eq!(cdn_only.minus(&DeployTarget::default()), cdn_only);
        assert_eq!(declared.to_string(), "cdn, clb (ap-guangzhou, ap-shanghai)");
    }

    #[test]
    fn a_resource_type_is_written_as_the_api_names_it_and_read_back() {
        for kind in ResourceType::ALL {
            let json = serde_json::to_string(&kind).expect("serialises");
            assert_eq!(json, format!("\"{}\"", kind.name()));
            assert_eq!(serde_json::from_str::<ResourceType>(&json).expect("reads"), kind);
            assert_eq!(ResourceType::parse(kind.name()), Some(kind));
        }
        let names: Vec<&str> = ResourceType::ALL.iter().map(|t| t.name()).collect();
        let mut sorted = names.clone();
        sorted.sort_unstable();
        let declared: Vec<&str> = {
            let mut all = ResourceType::ALL;
            all.sort();
            all.iter().map(|t| t.name()).collect()
        };
        assert_eq!(declared, sorted, "sets of types order as their names do");
        let target = target(&["clb", "cdn"], &[("clb", &["ap-guangzhou"])]);
        assert_eq!(
            serde_json::to_value(&target).expect("serialises"),
            serde_json::json!({ "resource_types": ["cdn", "clb"], "regions": { "clb": ["ap-guangzhou"] } })
        );
    }
}
