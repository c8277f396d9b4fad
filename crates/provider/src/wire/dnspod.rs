//! DNSPod's request and response shapes (service `dnspod`, version 2021-03-23), as the SDK's
//! models name and type them: the zones of the account (`DescribeDomainList`) and their records
//! (`CreateRecord`, `DescribeRecordList`, `DeleteRecord`). Most answer fields are nullable in
//! the models; those certplan reads are options here.

use serde::{Deserialize, Serialize};

/// `DescribeDomainList` parameters: one page of the account's zones.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeDomainListRequest {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub offset: Option<u64>,
    /// 3000 when absent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit: Option<u64>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeDomainListResponse {
    #[serde(default)]
    pub domain_count_info: Option<DomainCountInfo>,
    #[serde(default)]
    pub domain_list: Option<Vec<DomainListItem>>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DomainCountInfo {
    /// The zones that match the request, over every page.
    #[serde(default)]
    pub domain_total: Option<u64>,
}

/// A zone, as `DescribeDomainList` lists it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DomainListItem {
    pub domain_id: u64,
    pub name: String,
    /// `ENABLE`, `PAUSE` or `SPAM`.
    #[serde(default)]
    pub status: Option<String>,
}

/// `CreateRecord` parameters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreateRecordRequest {
    /// The zone.
    pub domain: String,
    /// The host in the zone: `@` for the zone itself, `_acme-challenge`, `_acme-challenge.www`.
    pub sub_domain: String,
    pub record_type: String,
    /// `默认`, the default line.
    pub record_line: String,
    pub value: String,
    #[serde(rename = "TTL", skip_serializing_if = "Option::is_none")]
    pub ttl: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub remark: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreateRecordResponse {
    #[serde(default)]
    pub record_id: Option<u64>,
}

/// `DescribeRecordList` parameters: one page of a zone's records.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeRecordListRequest {
    pub domain: String,
    /// Only this host's records. The model marks `Subdomain` deprecated for `SubDomain`; the
    /// service reads both, and every version of it reads this one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subdomain: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub record_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub offset: Option<u64>,
    /// 100 when absent; at most 3000.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit: Option<u64>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeRecordListResponse {
    #[serde(default)]
    pub record_count_info: Option<RecordCountInfo>,
    #[serde(default)]
    pub record_list: Option<Vec<RecordListItem>>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RecordCountInfo {
    /// The records that match the request, over every page.
    #[serde(default)]
    pub total_count: Option<u64>,
}

/// A record, as `DescribeRecordList` lists it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RecordListItem {
    pub record_id: u64,
    /// The host in the zone (`@` for the zone itself).
    pub name: String,
    #[serde(rename = "Type")]
    pub record_type: String,
    pub value: String,
    #[serde(default, rename = "TTL")]
    pub ttl: Option<u64>,
    #[serde(default)]
    pub remark: Option<String>,
    /// `ENABLE` or `DISABLE`.
    #[serde(default)]
    pub status: Option<String>,
}

/// `DeleteRecord` parameters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct DeleteRecordRequest {
    pub domain: String,
    pub record_id: u64,
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_record_is_created_with_the_models_names() {
        let req = CreateRecordRequest {
            domain: "example.com".into(),
            sub_domain: "_acme-challenge".into(),
            record_type: "TXT".into(),
            record_line: "默认".into(),
            value: "token".into(),
            ttl: Some(600),
            remark: None,
        };
        assert_eq!(
            serde_json::to_value(&req).expect("serialises"),
            json!({ "Domain": "example.com", "SubDomain": "_acme-challenge", "RecordType": "TXT",
                    "RecordLine": "默认", "Value": "token", "TTL": 600 })
        );
        let list = DescribeRecordListRequest {
            domain: "example.com".into(),
            subdomain: Some("_acme-challenge".into()),
            record_type: Some("TXT".into()),
            ..Default::default()
        };
        assert_eq!(
            serde_json::to_value(&list).expect("serialises"),
            json!({ "Domain": "example.com", "Subdomain": "_acme-challenge", "RecordType": "TXT" })
        );
    }

    #[test]
    fn a_record_list_reads_as_the_service_sends_it() {
        let page: DescribeRecordListResponse = serde_json::from_value(json!({
            "RecordCountInfo": { "SubdomainCount": 2, "ListCount": 1, "TotalCount": 1 },
            "RecordList": [{ "RecordId": 556507778, "Value": "token", "Status": "ENABLE",
                "UpdatedOn": "2021-03-28 11:27:09", "Name": "_acme-challenge", "Line": "默认",
                "LineId": "0", "Type": "TXT", "Weight": null, "MonitorStatus": "",
                "Remark": "", "TTL": 600, "MX": 0, "DefaultNS": false }],
            "RequestId": "4a2c3d17-0c3a-4b7a-9a8e-2a2a8c7f1b1e"
        }))
        .expect("parses");
        assert_eq!(page.record_count_info.and_then(|c| c.total_count), Some(1));
        let record = &page.record_list.expect("listed")[0];
        assert_eq!(
            (record.record_id, record.record_type.as_str(), record.ttl),
            (556507778, "TXT", Some(600))
        );
    }
}
