//! The shapes of the delivery actions — `UpdateCertificateInstance`, `DescribeHostUpdateRecord`,
//! `DescribeHostUpdateRecordDetail`, `UpdateCertificateRecordRetry` — and the PEM fields of
//! `DescribeCertificateDetail`, as the SDK's model names and types them (some integers are
//! strings there), with their conversion to certplan's types.

use certplan_core::{DeployStatus, DeployTarget, DeployedResource, Sensitive};
use serde::{Deserialize, Deserializer, Serialize};

use super::api_time;
use crate::delivery::DeployRecord;

/// `UpdateCertificateInstance` parameters: move the old certificate's cloud resources to the
/// new one.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct UpdateCertificateInstanceRequest {
    pub old_certificate_id: String,
    pub certificate_id: String,
    pub resource_types: Vec<String>,
    /// The regions of each region-scoped type.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub resource_types_regions: Vec<ResourceTypeRegions>,
    /// 1 silences the old certificate's expiry reminders.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expiring_notification_switch: Option<u64>,
}

impl UpdateCertificateInstanceRequest {
    /// Builds the request moving `target`'s resources from `old_id` to `new_id`. The old
    /// certificate's expiry reminders are silenced: it is being replaced, and a reminder would
    /// ask its owner to renew what certplan already renewed.
    pub fn new(old_id: &str, new_id: &str, target: &DeployTarget) -> Self {
        UpdateCertificateInstanceRequest {
            old_certificate_id: old_id.to_owned(),
            certificate_id: new_id.to_owned(),
            resource_types: target.resource_types.iter().map(|t| t.name().to_owned()).collect(),
            resource_types_regions: target
                .resource_types
                .iter()
                .filter_map(|kind| {
                    let regions = target.regions.get(kind).filter(|r| !r.is_empty())?;
                    Some(ResourceTypeRegions {
                        resource_type: kind.name().to_owned(),
                        regions: regions.iter().cloned().collect(),
                    })
                })
                .collect(),
            expiring_notification_switch: Some(1),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ResourceTypeRegions {
    pub resource_type: String,
    pub regions: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct UpdateCertificateInstanceResponse {
    /// 0 (or null) while the task is still being created.
    #[serde(default)]
    pub deploy_record_id: Option<u64>,
    /// 1: this call created the task; 0: a task for the certificate was already running, and
    /// the id is that one's.
    #[serde(default)]
    pub deploy_status: Option<i64>,
}

/// `DescribeHostUpdateRecord` parameters: the deploy tasks between two certificates.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeHostUpdateRecordRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offset: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u64>,
    /// The new certificate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificate_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub old_certificate_id: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeHostUpdateRecordResponse {
    #[serde(default)]
    pub total_count: Option<u64>,
    #[serde(default)]
    pub deploy_record_list: Option<Vec<UpdateRecordInfo>>,
}

/// One deploy task, as `DescribeHostUpdateRecord` lists it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct UpdateRecordInfo {
    pub id: u64,
    #[serde(default)]
    pub cert_id: Option<String>,
    #[serde(default)]
    pub old_cert_id: Option<String>,
    #[serde(default)]
    pub resource_types: Option<Vec<String>>,
    #[serde(default)]
    pub regions: Option<Vec<String>>,
    pub status: i64,
    #[serde(default)]
    pub create_time: Option<String>,
    #[serde(default)]
    pub update_time: Option<String>,
}

impl UpdateRecordInfo {
    /// Converts to certplan's type; a task without a readable `CreateTime` is an error, since
    /// finding a lost task means telling it apart from older ones by when it was created.
    pub fn to_record(&self) -> Result<DeployRecord, String> {
        let created = self.create_time.as_deref().unwrap_or_default();
        let created_at = api_time::parse(created).ok_or_else(|| {
            format!(
                "CreateTime {created:?} of deploy record {} is not a time (YYYY-MM-DD HH:MM:SS)",
                self.id
            )
        })?;
        Ok(DeployRecord {
            id: self.id,
            certificate_id: self.cert_id.clone().unwrap_or_default(),
            old_certificate_id: self.old_cert_id.clone().unwrap_or_default(),
            resource_types: self.resource_types.clone().unwrap_or_default(),
            status: self.status,
            created_at,
        })
    }
}

/// `DescribeHostUpdateRecordDetail` parameters. All three are strings in the API's model.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeHostUpdateRecordDetailRequest {
    pub deploy_record_id: String,
    /// At most `"200"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offset: Option<String>,
}

/// `DeployCertificateInstance` parameters (the `Region` common parameter goes in a header).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DeployCertificateInstanceRequest {
    pub certificate_id: String,
    pub instance_id_list: Vec<String>,
    pub resource_type: String,
}

/// `DescribeHostDeployRecordDetail` parameters: unlike `DescribeHostUpdateRecordDetail`'s,
/// `Offset` and `Limit` are integers in the model.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeHostDeployRecordDetailRequest {
    pub deploy_record_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub offset: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit: Option<u64>,
}

/// One page of a first deployment's details (`DescribeHostDeployRecordDetail`): a flat list,
/// each detail a subset of an [`UpdateRecordDetail`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeHostDeployRecordDetailResponse {
    #[serde(default)]
    pub total_count: Option<u64>,
    #[serde(default)]
    pub deploy_record_detail_list: Option<Vec<UpdateRecordDetail>>,
    #[serde(default)]
    pub success_total_count: Option<u64>,
    #[serde(default)]
    pub failed_total_count: Option<u64>,
    #[serde(default)]
    pub running_total_count: Option<u64>,
    #[serde(default)]
    pub pending_total_count: Option<u64>,
}

/// One page of a task's details, grouped by resource type. The counts are the whole task's.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeHostUpdateRecordDetailResponse {
    #[serde(default)]
    pub total_count: Option<u64>,
    #[serde(default)]
    pub record_detail_list: Option<Vec<UpdateRecordDetails>>,
    #[serde(default)]
    pub success_total_count: Option<u64>,
    #[serde(default)]
    pub failed_total_count: Option<u64>,
    #[serde(default)]
    pub running_total_count: Option<u64>,
    /// Newer than the others: absent from older answers.
    #[serde(default)]
    pub pending_total_count: Option<u64>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct UpdateRecordDetails {
    #[serde(default)]
    pub resource_type: Option<String>,
    #[serde(default)]
    pub list: Option<Vec<UpdateRecordDetail>>,
    /// This type's details in the whole task.
    #[serde(default)]
    pub total_count: Option<u64>,
}

/// One cloud resource of a task.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct UpdateRecordDetail {
    pub id: u64,
    #[serde(default)]
    pub cert_id: Option<String>,
    #[serde(default)]
    pub old_cert_id: Option<String>,
    #[serde(default)]
    pub domains: Option<Vec<String>>,
    #[serde(default)]
    pub resource_type: Option<String>,
    #[serde(default)]
    pub region: Option<String>,
    /// 0 to deploy, 1 succeeded, 2 failed, 3 deploying, 4 rolled back, 5 rollback failed,
    /// 6 no resource.
    pub status: i64,
    #[serde(default)]
    pub error_msg: Option<String>,
    #[serde(default)]
    pub create_time: Option<String>,
    #[serde(default)]
    pub update_time: Option<String>,
    #[serde(default)]
    pub instance_id: Option<String>,
    #[serde(default)]
    pub instance_name: Option<String>,
    /// CLB only.
    #[serde(default)]
    pub listener_id: Option<String>,
    #[serde(default)]
    pub listener_name: Option<String>,
    #[serde(default)]
    pub protocol: Option<String>,
    /// CLB only: 1 when the listener serves several domains by SNI.
    #[serde(default)]
    pub sni_switch: Option<i64>,
    /// COS only.
    #[serde(default)]
    pub bucket: Option<String>,
    #[serde(default)]
    pub port: Option<i64>,
    /// TKE only.
    #[serde(default)]
    pub namespace: Option<String>,
    /// TKE only.
    #[serde(default)]
    pub secret_name: Option<String>,
    /// TCB only.
    #[serde(default)]
    pub env_id: Option<String>,
    #[serde(default, rename = "TCBType")]
    pub tcb_type: Option<String>,
}

/// A field the API may send null or empty, as one.
fn given(field: &Option<String>) -> Option<&str> {
    field.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

impl UpdateRecordDetail {
    /// Converts to certplan's type; `group_type` is the type of the list it came in, for a
    /// detail that does not name its own. An unknown status is an error: read as anything else
    /// it could end a deployment that is still running, or retry one that succeeded.
    pub fn to_resource(&self, group_type: Option<&str>) -> Result<DeployedResource, String> {
        let status = DeployStatus::from_code(self.status).ok_or_else(|| {
            format!(
                "deploy detail {} has status {}, which is not one of the documented 0 to 6",
                self.id, self.status
            )
        })?;
        let resource_type = given(&self.resource_type).or(group_type).unwrap_or_default();
        Ok(DeployedResource {
            detail_id: self.id,
            resource_type: resource_type.to_owned(),
            region: given(&self.region).map(str::to_owned),
            name: self.name(resource_type),
            status,
            error: given(&self.error_msg).map(str::to_owned),
        })
    }

    /// Names the resource the way its own console does: a CLB listener by load balancer and
    /// listener, a CDN (or WAF, live, VOD, EdgeOne) resource by its domains, a bucket, a TKE
    /// secret by cluster, namespace and name.
    fn name(&self, resource_type: &str) -> String {
        let domains: Vec<&str> =
            self.domains.iter().flatten().map(|d| d.trim()).filter(|d| !d.is_empty()).collect();
        let domains = (!domains.is_empty()).then(|| domains.join(", "));
        let instance = given(&self.instance_id);
        let named = match resource_type {
            "clb" => instance.map(|lb| {
                let listener = given(&self.listener_id).map_or(String::new(), |l| format!("/{l}"));
                let sni = domains.as_ref().map_or(String::new(), |d| format!(" ({d})"));
                format!("{lb}{listener}{sni}")
            }),
            "cdn" | "waf" | "live" | "vod" | "teo" => domains.clone(),
            "cos" => given(&self.bucket).map(str::to_owned),
            "tke" => match (instance, given(&self.namespace), given(&self.secret_name)) {
                (Some(cluster), Some(namespace), Some(secret)) => {
                    Some(format!("{cluster}/{namespace}/{secret}"))
                }
                _ => None,
            },
            _ => None,
        };
        named.unwrap_or_else(|| {
            let id = instance.map_or_else(|| self.id.to_string(), str::to_owned);
            match domains {
                Some(d) => format!("{id} ({d})"),
                None => id,
            }
        })
    }
}

/// `UpdateCertificateRecordRetry` parameters: one of the two ids.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct UpdateCertificateRecordRetryRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deploy_record_id: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deploy_record_detail_id: Option<u64>,
}

/// The PEM fields of `DescribeCertificateDetail`. The key is wrapped the moment it is read,
/// so that no `Debug` of this value shows it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CertificatePemDetail {
    pub certificate_id: String,
    /// The leaf certificate followed by its chain.
    #[serde(default)]
    pub certificate_public_key: Option<String>,
    /// For a key Tencent generated with the CSR; null for an uploaded CSR.
    #[serde(default, deserialize_with = "sensitive")]
    pub certificate_private_key: Option<Sensitive>,
}

fn sensitive<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Sensitive>, D::Error> {
    Ok(Option::<String>::deserialize(d)?.map(Sensitive::new))
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, BTreeSet};

    use certplan_core::ResourceType;
    use serde_json::json;

    use super::*;

    fn set(items: &[&str]) -> BTreeSet<String> {
        items.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn update_request_sorts_types_names_regions_and_silences_reminders() {
        let target = DeployTarget {
            resource_types: [ResourceType::Waf, ResourceType::Cdn, ResourceType::Clb].into(),
            regions: BTreeMap::from([
                (ResourceType::Clb, set(&["ap-shanghai", "ap-guangzhou"])),
                (ResourceType::Waf, BTreeSet::new()),
            ]),
            instances: Vec::new(),
        };
        let req = UpdateCertificateInstanceRequest::new("zYrIXwpu", "a9TsmZkL", &target);
        assert_eq!(
            serde_json::to_value(&req).expect("serialises"),
            json!({
                "OldCertificateId": "zYrIXwpu",
                "CertificateId": "a9TsmZkL",
                "ResourceTypes": ["cdn", "clb", "waf"],
                "ResourceTypesRegions": [
                    { "ResourceType": "clb", "Regions": ["ap-guangzhou", "ap-shanghai"] }
                ],
                "ExpiringNotificationSwitch": 1
            })
        );
        let no_regions =
            DeployTarget { resource_types: [ResourceType::Cdn].into(), ..Default::default() };
        let json =
            serde_json::to_value(UpdateCertificateInstanceRequest::new("a", "b", &no_regions))
                .expect("serialises");
        assert!(json.get("ResourceTypesRegions").is_none(), "{json}");
    }

    #[test]
    fn update_response_reads_a_task_still_being_created() {
        let resp: UpdateCertificateInstanceResponse = serde_json::from_value(json!({
            "DeployRecordId": 0, "DeployStatus": 0, "UpdateSyncProgress": null,
            "RequestId": "c9c9d2fb-41c0-43b6-8c10-44c81de553c1"
        }))
        .expect("parses");
        assert_eq!((resp.deploy_record_id, resp.deploy_status), (Some(0), Some(0)));
        let resp: UpdateCertificateInstanceResponse =
            serde_json::from_value(json!({ "DeployRecordId": null })).expect("parses");
        assert_eq!(resp.deploy_record_id, None);
    }

    #[test]
    fn deploy_records_convert_with_gmt8_creation_times() {
        let resp: DescribeHostUpdateRecordResponse = serde_json::from_value(json!({
            "TotalCount": 1,
            "DeployRecordList": [{
                "Id": 73839, "CertId": "jdjenhss", "OldCertId": "zYrIXwpu",
                "ResourceTypes": ["clb"], "Regions": ["ap-guangzhou"], "Status": 1,
                "CreateTime": "2023-12-18 12:00:00", "UpdateTime": "2023-12-18 12:11:00"
            }],
            "RequestId": "d9aa752b-dbd8-49c9-958f-75c051eddfe2"
        }))
        .expect("parses");
        let record = resp.deploy_record_list.expect("listed")[0].to_record().expect("converts");
        assert_eq!(record.id, 73839);
        assert_eq!(record.certificate_id, "jdjenhss");
        assert_eq!(record.old_certificate_id, "zYrIXwpu");
        assert_eq!(record.resource_types, ["clb"]);
        assert_eq!(record.created_at.to_rfc3339(), "2023-12-18T04:00:00+00:00");
        let undated = UpdateRecordInfo { id: 5, status: 1, ..Default::default() };
        let err = undated.to_record().expect_err("no CreateTime");
        assert!(err.contains("CreateTime") && err.contains('5'), "{err}");
    }

    #[test]
    fn detail_request_sends_its_numbers_as_strings() {
        let req = DescribeHostUpdateRecordDetailRequest {
            deploy_record_id: "748332".into(),
            limit: Some("200".into()),
            offset: Some("0".into()),
        };
        assert_eq!(
            serde_json::to_value(&req).expect("serialises"),
            json!({ "DeployRecordId": "748332", "Limit": "200", "Offset": "0" })
        );
    }

    #[test]
    fn retry_request_sends_the_record_id_as_an_integer() {
        let req = UpdateCertificateRecordRetryRequest {
            deploy_record_id: Some(748939),
            deploy_record_detail_id: None,
        };
        assert_eq!(
            serde_json::to_value(&req).expect("serialises"),
            json!({ "DeployRecordId": 748939 })
        );
    }

    /// A page as the API sends it: every field present, most of them empty for the type.
    fn detail(id: u64, kind: &str, status: i64, fields: serde_json::Value) -> serde_json::Value {
        let mut d = json!({
            "Id": id, "CertId": "a9TsmZkL", "OldCertId": "zYrIXwpu", "Domains": [],
            "ResourceType": kind, "Region": "", "Status": status, "ErrorMsg": "",
            "CreateTime": "2026-11-26 12:00:00", "UpdateTime": "2026-11-26 12:00:05",
            "InstanceId": "", "InstanceName": "", "ListenerId": "", "ListenerName": "",
            "Protocol": "", "SniSwitch": 0, "Bucket": "", "Port": 0, "Namespace": "",
            "SecretName": "", "EnvId": "", "TCBType": ""
        });
        for (k, v) in fields.as_object().expect("an object") {
            d[k] = v.clone();
        }
        d
    }

    #[test]
    fn details_are_named_as_each_console_names_them() {
        let page: DescribeHostUpdateRecordDetailResponse = serde_json::from_value(json!({
            "TotalCount": 7, "SuccessTotalCount": 4, "FailedTotalCount": 1,
            "RunningTotalCount": 1, "PendingTotalCount": 1,
            "RecordDetailList": [
                { "ResourceType": "clb", "TotalCount": 2, "List": [
                    detail(1, "clb", 1, json!({ "Region": "ap-guangzhou", "InstanceId": "lb-1",
                        "ListenerId": "lbl-2", "SniSwitch": 1,
                        "Domains": ["www.example.com", "api.example.com"], "Protocol": "HTTPS", "Port": 443 })),
                    detail(2, "clb", 2, json!({ "Region": "ap-shanghai", "InstanceId": "lb-3",
                        "ListenerId": "lbl-4", "ErrorMsg": "listener is being modified" })),
                ]},
                { "ResourceType": "cdn", "TotalCount": 1, "List": [
                    detail(3, "cdn", 3, json!({ "Domains": ["static.example.com"] })),
                ]},
                { "ResourceType": "cos", "TotalCount": 1, "List": [
                    detail(4, "cos", 0, json!({ "Region": "ap-beijing", "Bucket": "assets-1250000000",
                        "Domains": ["assets.example.com"] })),
                ]},
                { "ResourceType": "tke", "TotalCount": 1, "List": [
                    detail(5, "tke", 1, json!({ "Region": "ap-guangzhou", "InstanceId": "cls-abc",
                        "Namespace": "web", "SecretName": "www-tls" })),
                ]},
                { "ResourceType": "ddos", "TotalCount": 1, "List": [
                    detail(6, "ddos", 1, json!({ "InstanceId": "bgpip-1", "Domains": ["www.example.com"] })),
                ]},
                { "ResourceType": "tse", "TotalCount": 1, "List": [
                    detail(7, "", 6, json!({ "ResourceType": null, "Domains": null, "Region": null,
                        "ErrorMsg": null, "InstanceId": null })),
                ]}
            ],
            "RequestId": "14727a68-3b90-4408-99c9-dea6d7de9456"
        }))
        .expect("parses");
        let resources: Vec<DeployedResource> = page
            .record_detail_list
            .expect("listed")
            .iter()
            .flat_map(|group| {
                let kind = group.resource_type.clone();
                group
                    .list
                    .clone()
                    .unwrap_or_default()
                    .into_iter()
                    .map(move |d| d.to_resource(kind.as_deref()).expect("converts"))
            })
            .collect();
        let shown: Vec<String> = resources.iter().map(ToString::to_string).collect();
        assert_eq!(
            shown,
            [
                "clb lb-1/lbl-2 (www.example.com, api.example.com) in ap-guangzhou",
                "clb lb-3/lbl-4 in ap-shanghai",
                "cdn static.example.com",
                "cos assets-1250000000 in ap-beijing",
                "tke cls-abc/web/www-tls in ap-guangzhou",
                "ddos bgpip-1 (www.example.com)",
                "tse 7",
            ]
        );
        assert_eq!(resources[1].status, DeployStatus::Failed);
        assert_eq!(resources[1].error.as_deref(), Some("listener is being modified"));
        assert_eq!(resources[0].error, None);
        assert_eq!(resources[2].status, DeployStatus::Deploying);
        assert_eq!(resources[6].status, DeployStatus::NoResource);
        assert_eq!(resources[6].region, None);
    }

    #[test]
    fn an_undocumented_detail_status_is_an_error_not_a_guess() {
        let d: UpdateRecordDetail =
            serde_json::from_value(detail(9, "cdn", 7, json!({}))).expect("parses");
        let err = d.to_resource(None).expect_err("status 7");
        assert!(err.contains("status 7") && err.contains("detail 9"), "{err}");
        let negative: UpdateRecordDetail =
            serde_json::from_value(detail(9, "cdn", -1, json!({}))).expect("parses");
        assert!(negative.to_resource(None).is_err());
    }

    #[test]
    fn pem_detail_hides_its_key_from_debug() {
        let pems: CertificatePemDetail = serde_json::from_value(json!({
            "CertificateId": "a9TsmZkL", "Status": 1,
            "CertificatePublicKey": "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n",
            "CertificatePrivateKey": "-----BEGIN PRIVATE KEY-----\nMIIEvQ\n-----END PRIVATE KEY-----\n"
        }))
        .expect("parses");
        assert!(
            pems.certificate_private_key.as_ref().is_some_and(|k| k.expose().contains("MIIEvQ"))
        );
        let shown = format!("{pems:?}");
        assert!(!shown.contains("MIIEvQ"), "{shown}");
        let without: CertificatePemDetail = serde_json::from_value(
            json!({ "CertificateId": "a9TsmZkL", "CertificatePrivateKey": null }),
        )
        .expect("parses");
        assert_eq!((without.certificate_public_key, without.certificate_private_key), (None, None));
    }
}
