//! Cloud resources bound to certificates: which Tencent Cloud resource (a CLB listener, a CDN
//! domain, a TKE secret…) serves which certificate. A binding is named the way
//! `DeployCertificateInstance`'s `InstanceIdList` names an instance, and carries the
//! identifying fields `DescribeHostUpdateRecordDetail` reports for it. This module parses and
//! describes bindings; moving them between certificates is the deploy tasks' business
//! ([`super`]).
//!
//! Instance formats (`|`-separated, as `InstanceIdList` takes them):
//!
//! | type | instance | fields |
//! |---|---|---|
//! | `clb` | `lbId\|listenerId` or `lbId\|listenerId\|domain` (SNI) | InstanceId, ListenerId, Domains, SniSwitch, Protocol `HTTPS`, Port 443 |
//! | `cdn` | `domain` or `domain\|on` / `domain\|off` (the billing switch, not part of the identity) | Domains |
//! | `ddos` | `insId\|domain\|virtualPort` | InstanceId, Domains, Port, Protocol `https` |
//! | `live`, `vod`, `waf`, `teo`, `scf` | `domain` | Domains |
//! | `apigateway` | `serviceId\|domain` | InstanceId, Domains |
//! | `tke` | `clusterId\|namespace\|secretName` | InstanceId, Namespace, SecretName |
//! | `cos` | `region#bucket#domain` (the SDK's model; `\|` is accepted too) | Region, Bucket, Domains |
//! | `tse` | `gatewayId\|certificateId` | InstanceId |
//! | `tcb` | `type\|region\|envId\|domain` | TCBType, Region, EnvId, Domains |
//! | `mqtt`, `tdmq` | `instanceId` | InstanceId |
//! | `gaap` | `proxyId\|listenerId` | InstanceId, ListenerId |
//!
//! `mqtt`, `scf`, `tdmq` and `gaap` cannot be named in `DeployCertificateInstance` (the SDK's
//! model lists no format for them); their formats here are the sandbox's, for the control API.

use serde::{Deserialize, Serialize};

use certplan_core::ResourceType;

/// The resource types `DeployCertificateInstance` accepts (the SDK's model also lists
/// `lighthouse`, which the sandbox does not model).
pub(crate) const DEPLOYABLE_RESOURCE_TYPES: [&str; 12] =
    ["clb", "cdn", "ddos", "live", "vod", "waf", "apigateway", "teo", "tke", "cos", "tse", "tcb"];

/// The names of the resource types `UpdateCertificateInstance` moves, in the API's order (as
/// certplan's vocabulary has them).
pub fn resource_types() -> Vec<&'static str> {
    ResourceType::ALL.iter().map(|t| t.name()).collect()
}

/// Tells whether `resource_type` names a type `UpdateCertificateInstance` moves.
pub fn is_resource_type(resource_type: &str) -> bool {
    ResourceType::parse(resource_type).is_some()
}

/// Tells whether resources of `resource_type` live in a region (`ResourceTypesRegions` must
/// list their regions, and `DeployCertificateInstance` needs the common `Region` for them).
pub fn is_regional(resource_type: &str) -> bool {
    ResourceType::parse(resource_type).is_some_and(ResourceType::is_regional)
}

/// A cloud resource and the certificate it serves, with the fields the API reports for it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Binding {
    /// The sandbox's number for the binding, for the control API; 0 for a resource not bound
    /// yet.
    pub id: u64,
    /// The certificate the resource serves; empty for a resource not bound yet.
    pub certificate_id: String,
    pub resource_type: String,
    /// For the region-scoped types.
    #[serde(default)]
    pub region: Option<String>,
    /// The instance as `InstanceIdList` names it, in its canonical form (see the module doc).
    pub instance: String,
    #[serde(default)]
    pub instance_id: Option<String>,
    #[serde(default)]
    pub listener_id: Option<String>,
    #[serde(default)]
    pub domains: Vec<String>,
    #[serde(default)]
    pub protocol: Option<String>,
    #[serde(default)]
    pub port: Option<u16>,
    /// CLB only: 1 when the listener serves several domains by SNI (the instance names one).
    #[serde(default)]
    pub sni_switch: Option<u8>,
    #[serde(default)]
    pub bucket: Option<String>,
    #[serde(default)]
    pub namespace: Option<String>,
    #[serde(default)]
    pub secret_name: Option<String>,
    #[serde(default)]
    pub env_id: Option<String>,
    #[serde(default, rename = "TCBType")]
    pub tcb_type: Option<String>,
    /// How many of the next deploy attempts on this resource fail (set by the control API).
    #[serde(default)]
    pub fail_next: u32,
}

/// Why an instance cannot be bound as named.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TargetError {
    #[error("`{0}` is not a resource type; expected one of {types}", types = resource_types().join(", "))]
    ResourceType(String),
    #[error("resource type `{0}` is region-scoped: a region is required")]
    RegionRequired(String),
    #[error("instance `{instance}` is not in the {resource_type} format `{expected}`")]
    Format { resource_type: String, instance: String, expected: &'static str },
    #[error("instance `{instance}` is in region {named}, not {given}")]
    RegionMismatch { instance: String, named: String, given: String },
}

impl Binding {
    /// Parses `instance`, named as `InstanceIdList` names it, as a resource of `resource_type`
    /// in `region` (ignored for types that have none), bound to no certificate yet.
    pub fn parse(
        resource_type: &str,
        region: Option<&str>,
        instance: &str,
    ) -> Result<Binding, TargetError> {
        if !is_resource_type(resource_type) {
            return Err(TargetError::ResourceType(resource_type.to_owned()));
        }
        let expected = format_of(resource_type);
        let separator = if resource_type == "cos" && instance.contains('#') { '#' } else { '|' };
        let parts: Vec<&str> = instance.split(separator).collect();
        let well_formed = |counts: &[usize]| {
            counts.contains(&parts.len())
                && parts.iter().all(|p| !p.is_empty() && !p.contains(char::is_whitespace))
        };
        let format_error = || TargetError::Format {
            resource_type: resource_type.to_owned(),
            instance: instance.to_owned(),
            expected,
        };
        let counts: &[usize] = match resource_type {
            "clb" => &[2, 3],
            "cdn" => &[1, 2],
            "ddos" | "tke" | "cos" => &[3],
            "apigateway" | "tse" | "gaap" => &[2],
            "tcb" => &[4],
            _ => &[1],
        };
        if !well_formed(counts) {
            return Err(format_error());
        }
        let own = |s: &str| Some(s.to_owned());
        let mut binding = Binding {
            id: 0,
            certificate_id: String::new(),
            resource_type: resource_type.to_owned(),
            region: None,
            instance: instance.to_owned(),
            instance_id: None,
            listener_id: None,
            domains: Vec::new(),
            protocol: None,
            port: None,
            sni_switch: None,
            bucket: None,
            namespace: None,
            secret_name: None,
            env_id: None,
            tcb_type: None,
            fail_next: 0,
        };
        let mut named_region = None;
        match (resource_type, parts.as_slice()) {
            ("clb", [lb, listener, rest @ ..]) => {
                binding.instance_id = own(lb);
                binding.listener_id = own(listener);
                binding.domains = rest.iter().map(|d| (*d).to_owned()).collect();
                binding.sni_switch = Some(u8::from(!rest.is_empty()));
                binding.protocol = own("HTTPS");
                binding.port = Some(443);
            }
            ("cdn", [domain, switch @ ..]) => {
                if switch.iter().any(|s| !["on", "off"].contains(s)) {
                    return Err(format_error());
                }
                // The billing switch is how to deploy, not which resource: `domain|on` and
                // `domain` are the same CDN domain.
                binding.instance = (*domain).to_owned();
                binding.domains = vec![(*domain).to_owned()];
            }
            ("ddos", [id, domain, port]) => {
                binding.instance_id = own(id);
                binding.domains = vec![(*domain).to_owned()];
                binding.port = Some(port.parse().map_err(|_| format_error())?);
                binding.protocol = own("https");
            }
            ("apigateway", [service, domain]) => {
                binding.instance_id = own(service);
                binding.domains = vec![(*domain).to_owned()];
            }
            ("tke", [cluster, namespace, secret]) => {
                binding.instance_id = own(cluster);
                binding.namespace = own(namespace);
                binding.secret_name = own(secret);
            }
            ("cos", [bucket_region, bucket, domain]) => {
                named_region = Some(*bucket_region);
                binding.instance = format!("{bucket_region}#{bucket}#{domain}");
                binding.bucket = own(bucket);
                binding.domains = vec![(*domain).to_owned()];
            }
            ("tse" | "gaap", [id, second]) => {
                binding.instance_id = own(id);
                if resource_type == "gaap" {
                    binding.listener_id = own(second);
                }
            }
            ("tcb", [kind, env_region, env, domain]) => {
                named_region = Some(*env_region);
                binding.tcb_type = own(kind);
                binding.env_id = own(env);
                binding.domains = vec![(*domain).to_owned()];
            }
            ("mqtt" | "tdmq", [id]) => binding.instance_id = own(id),
            (_, [domain]) => binding.domains = vec![(*domain).to_owned()],
            _ => return Err(format_error()),
        }
        if is_regional(resource_type) {
            binding.region = Some(match (region, named_region) {
                (Some(given), Some(named)) if given != named => {
                    return Err(TargetError::RegionMismatch {
                        instance: instance.to_owned(),
                        named: named.to_owned(),
                        given: given.to_owned(),
                    });
                }
                (Some(region), _) | (None, Some(region)) => region.to_owned(),
                (None, None) => return Err(TargetError::RegionRequired(resource_type.to_owned())),
            });
        }
        Ok(binding)
    }

    /// Tells whether `other` is the same cloud resource, whatever certificate each serves.
    pub fn same_resource(&self, other: &Binding) -> bool {
        self.resource_type == other.resource_type
            && self.region == other.region
            && self.instance == other.instance
    }

    /// Tells whether a certificate for `domain` may serve this resource: one with domains must
    /// name it (a certificate for `*.example.com` covers one label under `example.com`).
    pub(crate) fn accepts_domain(&self, domain: &str) -> bool {
        self.domains.iter().all(|d| {
            d == domain
                || domain.strip_prefix("*.").is_some_and(|base| {
                    d.split_once('.').is_some_and(|(label, rest)| !label.is_empty() && rest == base)
                })
        })
    }

    /// Returns what the cloud product answers when deploying to this resource fails: which
    /// resource, why, and the product's error code, as `ErrorMsg` carries them.
    pub(crate) fn failure_message(&self) -> String {
        let domain = self.domains.first().map_or("-", String::as_str);
        let id = self.instance_id.as_deref().unwrap_or(domain);
        match self.resource_type.as_str() {
            "clb" => format!(
                "CLB {id}: listener {} is locked by another operation; its certificate was not replaced. (FailedOperation.ResourceInOperating)",
                self.listener_id.as_deref().unwrap_or("-")
            ),
            "cdn" => format!(
                "CDN domain {domain}: a configuration change is in progress; the HTTPS certificate was not updated. (ResourceInUse.CdnOpInProgress)"
            ),
            "ddos" => format!(
                "Anti-DDoS instance {id}: the layer-7 rule {domain}:{} is being modified. (ResourceInUse)",
                self.port.unwrap_or(443)
            ),
            "tke" => format!(
                "TKE cluster {id}: secret {}/{} could not be updated: the cluster's API server did not answer in time. (InternalError.KubernetesClientBuildError)",
                self.namespace.as_deref().unwrap_or("-"),
                self.secret_name.as_deref().unwrap_or("-")
            ),
            "cos" => format!(
                "COS bucket {}: the certificate of custom domain {domain} could not be replaced. (ResourceInUse)",
                self.bucket.as_deref().unwrap_or("-")
            ),
            "tcb" => format!(
                "CloudBase environment {}: custom domain {domain} could not be updated. (FailedOperation)",
                self.env_id.as_deref().unwrap_or("-")
            ),
            "teo" => format!(
                "EdgeOne domain {domain}: the site is locked by another task. (OperationDenied.ResourceLockedTemporary)"
            ),
            "apigateway" => format!(
                "API Gateway service {id}: custom domain {domain} is being modified. (FailedOperation.ServiceInOperation)"
            ),
            product => format!(
                "{} {id}: the certificate could not be updated; try again later. (FailedOperation)",
                product.to_uppercase()
            ),
        }
    }
}

/// Returns how `InstanceIdList` names an instance of `resource_type`.
fn format_of(resource_type: &str) -> &'static str {
    match resource_type {
        "clb" => "lbId|listenerId or lbId|listenerId|domain",
        "cdn" => "domain or domain|on",
        "ddos" => "insId|domain|virtualPort",
        "apigateway" => "serviceId|domain",
        "tke" => "clusterId|namespace|secretName",
        "cos" => "region#bucket#domain",
        "tse" => "gatewayId|certificateId",
        "tcb" => "type|region|envId|domain",
        "gaap" => "proxyId|listenerId",
        "mqtt" | "tdmq" => "instanceId",
        _ => "domain",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instances_parse_into_the_fields_the_api_reports() {
        let clb = Binding::parse("clb", Some("ap-guangzhou"), "lb-1|lbl-2|www.example.com")
            .expect("an SNI listener");
        assert_eq!(clb.instance_id.as_deref(), Some("lb-1"));
        assert_eq!(clb.listener_id.as_deref(), Some("lbl-2"));
        assert_eq!(clb.domains, ["www.example.com"]);
        assert_eq!(clb.sni_switch, Some(1));
        assert_eq!(clb.region.as_deref(), Some("ap-guangzhou"));

        let cdn = Binding::parse("cdn", Some("ap-guangzhou"), "www.example.com|on").expect("cdn");
        assert_eq!((cdn.instance.as_str(), cdn.region.as_deref()), ("www.example.com", None));
        let plain = Binding::parse("cdn", None, "www.example.com").expect("cdn");
        assert!(cdn.same_resource(&plain), "the billing switch is not part of the identity");

        let cos = Binding::parse("cos", None, "ap-hongkong|bucket-1250000000|www.example.com")
            .expect("cos, region from the instance");
        assert_eq!(cos.region.as_deref(), Some("ap-hongkong"));
        assert_eq!(cos.instance, "ap-hongkong#bucket-1250000000#www.example.com");

        let tke = Binding::parse("tke", Some("ap-shanghai"), "cls-1|default|web-tls").expect("tke");
        assert_eq!(
            (tke.namespace.as_deref(), tke.secret_name.as_deref()),
            (Some("default"), Some("web-tls"))
        );
    }

    #[test]
    fn malformed_instances_and_missing_regions_are_refused() {
        assert!(matches!(
            Binding::parse("clb", Some("ap-guangzhou"), "lb-1"),
            Err(TargetError::Format { .. })
        ));
        assert!(matches!(
            Binding::parse("ddos", None, "bgpip-1|www.example.com|https"),
            Err(TargetError::Format { .. })
        ));
        assert!(matches!(
            Binding::parse("cdn", None, "www.example.com|maybe"),
            Err(TargetError::Format { .. })
        ));
        assert_eq!(
            Binding::parse("clb", None, "lb-1|lbl-2"),
            Err(TargetError::RegionRequired("clb".into()))
        );
        assert!(matches!(
            Binding::parse("cos", Some("ap-beijing"), "ap-hongkong#b#www.example.com"),
            Err(TargetError::RegionMismatch { .. })
        ));
        assert_eq!(
            Binding::parse("ecdn", None, "www.example.com"),
            Err(TargetError::ResourceType("ecdn".into()))
        );
    }

    #[test]
    fn a_certificate_serves_only_resources_for_its_domain() {
        let cdn = Binding::parse("cdn", None, "www.example.com").expect("cdn");
        assert!(cdn.accepts_domain("www.example.com"));
        assert!(cdn.accepts_domain("*.example.com"));
        assert!(!cdn.accepts_domain("api.example.com"));
        let tke = Binding::parse("tke", Some("ap-shanghai"), "cls-1|default|s").expect("tke");
        assert!(tke.accepts_domain("anything.example.com"), "no domain to check");
    }
}
