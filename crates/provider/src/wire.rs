//! The API's own request and response shapes (PascalCase, as documented for version
//! 2019-12-05; DNSPod's, version 2021-03-23, in [`dnspod`]), and their conversion to and from
//! certplan's domain types. The client answers the planner and the engine in domain types only;
//! these are public for what speaks the API itself: the sandbox and the load generator.

use certplan_core::{
    CertStatus, CertificateArgs, CertificateId, CertificateSource, CsrEncryptAlgo, DvAuthMethod,
    RemoteCertificate, ValidationRecord,
};
use chrono::{DateTime, NaiveDateTime, TimeZone, Utc};
use serde::{Deserialize, Serialize};

mod delivery;
pub mod dnspod;
mod upload;

pub use upload::{UploadCertificateRequest, UploadCertificateResponse};

pub use delivery::{
    CertificatePemDetail, DeployCertificateInstanceRequest, DescribeHostDeployRecordDetailRequest,
    DescribeHostDeployRecordDetailResponse, DescribeHostUpdateRecordDetailRequest,
    DescribeHostUpdateRecordDetailResponse, DescribeHostUpdateRecordRequest,
    DescribeHostUpdateRecordResponse, ResourceTypeRegions, UpdateCertificateInstanceRequest,
    UpdateCertificateInstanceResponse, UpdateCertificateRecordRetryRequest, UpdateRecordDetail,
    UpdateRecordDetails, UpdateRecordInfo,
};

/// `ApplyCertificate` parameters.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ApplyCertificateRequest {
    pub dv_auth_method: String,
    pub domain_name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub project_id: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub package_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub contact_email: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub contact_phone: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub validity_period: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub csr_encrypt_algo: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub csr_key_parameter: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub csr_key_password: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alias: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub old_certificate_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delete_dns_auto_record: Option<bool>,
}

impl ApplyCertificateRequest {
    /// Builds the request for `args`; `old_certificate_id` makes it a renewal of that
    /// certificate. The password is passed apart because `args` holds only its digest.
    pub fn new(
        args: &CertificateArgs,
        csr_key_password: Option<&str>,
        old_certificate_id: Option<&str>,
    ) -> Self {
        ApplyCertificateRequest {
            // A free certificate always declares one (the parser requires it).
            dv_auth_method: args.dv_auth_method.map_or("DNS_AUTO", |m| m.as_str()).to_owned(),
            domain_name: args.domain.clone(),
            project_id: args.project_id,
            package_type: args.package_type.clone(),
            contact_email: args.contact_email.clone(),
            contact_phone: args.contact_phone.clone(),
            validity_period: args.validity_period.clone(),
            csr_encrypt_algo: args.csr_encrypt_algo.map(|a| a.as_str().to_owned()),
            csr_key_parameter: args.csr_key_parameter.clone(),
            csr_key_password: csr_key_password.map(str::to_owned),
            alias: args.alias.clone(),
            old_certificate_id: old_certificate_id
                .map(str::to_owned)
                .or_else(|| args.old_certificate_id.clone()),
            delete_dns_auto_record: args.delete_dns_auto_record,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ApplyCertificateResponse {
    pub certificate_id: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct CertificateIdRequest {
    pub certificate_id: String,
}

/// `DescribeCertificates` parameters (the ones certplan uses).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeCertificatesRequest {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub offset: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub search_key: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cert_ids: Option<Vec<String>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeCertificatesResponse {
    /// Required by the API's model; `None` only in an answer that does not follow it.
    #[serde(default)]
    pub total_count: Option<u64>,
    #[serde(default)]
    pub certificates: Option<Vec<Certificate>>,
}

/// A certificate as `DescribeCertificates` and `DescribeCertificateDetail` report it (the
/// fields certplan reads; most are nullable in the API).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Certificate {
    pub certificate_id: String,
    #[serde(default)]
    pub domain: Option<String>,
    /// The key: `RSA 2048`, `ECC 256`.
    #[serde(default)]
    pub encrypt_algorithm: Option<String>,
    #[serde(default)]
    pub alias: Option<String>,
    pub status: i64,
    #[serde(default)]
    pub status_msg: Option<String>,
    #[serde(default)]
    pub verify_type: Option<String>,
    /// A string in the API, although it is an integer everywhere else.
    #[serde(default)]
    pub project_id: Option<String>,
    #[serde(default)]
    pub cert_begin_time: Option<String>,
    #[serde(default)]
    pub cert_end_time: Option<String>,
    #[serde(default)]
    pub insert_time: Option<String>,
    /// `83` for the free product.
    #[serde(default)]
    pub package_type: Option<String>,
    /// `upload` for an uploaded certificate.
    #[serde(default)]
    pub from: Option<String>,
    /// Whether its expiry notifications are switched off.
    #[serde(default)]
    pub is_ignore: Option<bool>,
    #[serde(default)]
    pub certificate_extra: Option<CertificateExtra>,
    /// Validation records; in the detail response only, and null once issued.
    #[serde(default)]
    pub dv_auth_detail: Option<DvAuthDetail>,
    /// In the list response only.
    #[serde(default, rename = "DVAuthDeadline")]
    pub dv_auth_deadline: Option<String>,
    /// In the list response: the id of the certificate that renews this one (a string in the
    /// SDK's model), or null.
    #[serde(default)]
    pub has_renew_order: Option<serde_json::Value>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DvAuthDetail {
    #[serde(default)]
    pub dv_auth_key: Option<String>,
    #[serde(default)]
    pub dv_auth_value: Option<String>,
    #[serde(default)]
    pub dv_auth_domain: Option<String>,
    #[serde(default)]
    pub dv_auth_path: Option<String>,
    #[serde(default)]
    pub dv_auths: Option<Vec<DvAuth>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DvAuth {
    #[serde(default)]
    pub dv_auth_key: Option<String>,
    #[serde(default)]
    pub dv_auth_value: Option<String>,
    #[serde(default)]
    pub dv_auth_domain: Option<String>,
    #[serde(default)]
    pub dv_auth_path: Option<String>,
    #[serde(default)]
    pub dv_auth_sub_domain: Option<String>,
    /// `TXT`, `CNAME` or `FILE`.
    #[serde(default)]
    pub dv_auth_verify_type: Option<String>,
}

impl DvAuth {
    /// Converts to what the user must publish; `None` when the record is incomplete.
    fn to_record(&self) -> Option<ValidationRecord> {
        let key = self.dv_auth_key.as_deref().filter(|k| !k.is_empty())?;
        let value = self.dv_auth_value.clone()?;
        let domain = self.dv_auth_domain.as_deref().unwrap_or_default();
        match self.dv_auth_verify_type.as_deref()? {
            "FILE" => {
                let path = self.dv_auth_path.as_deref().unwrap_or("/.well-known/pki-validation/");
                let url = if path.ends_with('/') {
                    format!("http://{domain}{path}{key}")
                } else {
                    format!("http://{domain}{path}")
                };
                Some(ValidationRecord::File { url, content: value })
            }
            record_type => {
                // The key is sometimes the whole record name, sometimes only its first label.
                let name = if domain.is_empty() || key.ends_with(domain) {
                    key.to_owned()
                } else {
                    format!("{key}.{domain}")
                };
                Some(ValidationRecord::Dns { name, record_type: record_type.to_owned(), value })
            }
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CertificateExtra {
    #[serde(default)]
    pub origin_certificate_id: Option<String>,
    #[serde(default)]
    pub replaced_by: Option<String>,
    #[serde(default)]
    pub replaced_for: Option<String>,
    #[serde(default)]
    pub renew_order: Option<String>,
}

impl Certificate {
    /// Converts to the domain type; API times (GMT+8) become UTC. A time the API sends empty is
    /// unknown; one in another format is an error naming the field — never silently dropped,
    /// which would record an issued certificate without its expiry.
    pub fn to_remote(&self) -> Result<RemoteCertificate, String> {
        let time = |name: &str, t: &Option<String>| match t.as_deref().map(str::trim) {
            None | Some("") => Ok(None),
            Some(text) => api_time::parse(text).map(Some).ok_or_else(|| {
                format!(
                    "{name} {text:?} of certificate {} is not a time (YYYY-MM-DD HH:MM:SS)",
                    self.certificate_id
                )
            }),
        };
        Ok(RemoteCertificate {
            id: self.certificate_id.as_str().into(),
            domain: self.domain.clone().unwrap_or_default(),
            alias: self.alias.clone().filter(|a| !a.is_empty()),
            status: CertStatus::from(self.status),
            renewed_by: self
                .certificate_extra
                .as_ref()
                .and_then(|e| e.renew_order.clone())
                .or_else(|| {
                    self.has_renew_order.as_ref().and_then(|v| v.as_str()).map(str::to_owned)
                })
                .filter(|id| !id.is_empty())
                .map(CertificateId::from),
            reissued_by: self
                .certificate_extra
                .as_ref()
                .and_then(|e| e.replaced_for.clone())
                .filter(|id| !id.is_empty() && *id != self.certificate_id)
                .map(CertificateId::from),
            dv_auth_method: self.verify_type.as_deref().and_then(DvAuthMethod::parse),
            key_algorithm: self.encrypt_algorithm.as_deref().and_then(|a| {
                let family = a.split([' ', '_']).next().unwrap_or_default().to_ascii_uppercase();
                match family.as_str() {
                    "RSA" => Some(CsrEncryptAlgo::Rsa),
                    "ECC" | "EC" | "ECDSA" => Some(CsrEncryptAlgo::Ecc),
                    _ => None,
                }
            }),
            project_id: self
                .project_id
                .as_deref()
                .and_then(|p| p.parse().ok())
                .and_then(certplan_core::project_id),
            not_before: time("CertBeginTime", &self.cert_begin_time)?,
            not_after: time("CertEndTime", &self.cert_end_time)?,
            inserted_at: time("InsertTime", &self.insert_time)?,
            validation_deadline: time("DVAuthDeadline", &self.dv_auth_deadline)?,
            validation: self
                .dv_auth_detail
                .iter()
                .flat_map(|d| d.dv_auths.iter().flatten())
                .filter_map(DvAuth::to_record)
                .collect(),
            source: CertificateSource::of(self.package_type.as_deref(), self.from.as_deref()),
            notifications_off: self.is_ignore,
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ModifyCertificateAliasRequest {
    pub certificate_id: String,
    pub alias: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ModifyCertificateProjectRequest {
    pub certificate_id_list: Vec<String>,
    pub project_id: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ModifyCertificateProjectResponse {
    #[serde(default)]
    pub success_certificates: Option<Vec<String>>,
    #[serde(default)]
    pub fail_certificates: Option<Vec<String>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct DeleteCertificateRequest {
    pub certificate_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub is_check_resource: Option<bool>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DeleteCertificateResponse {
    #[serde(default)]
    pub delete_result: Option<bool>,
    #[serde(default)]
    pub task_id: Option<String>,
}

/// The API's time format: `YYYY-MM-DD HH:MM:SS` in Beijing time (GMT+8, no daylight saving).
pub mod api_time {
    use super::*;

    const FORMAT: &str = "%Y-%m-%d %H:%M:%S";

    use certplan_core::beijing;

    /// Parses an API time into UTC; `None` for an empty or malformed value.
    pub fn parse(text: &str) -> Option<DateTime<Utc>> {
        let naive = NaiveDateTime::parse_from_str(text.trim(), FORMAT).ok()?;
        beijing().from_local_datetime(&naive).single().map(|t| t.with_timezone(&Utc))
    }

    /// Formats a UTC time as the API does.
    pub fn format(time: DateTime<Utc>) -> String {
        time.with_timezone(&beijing()).format(FORMAT).to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use certplan_core::CsrEncryptAlgo;

    #[test]
    fn api_times_are_beijing_time() {
        let t = api_time::parse("2027-01-08 07:59:59").expect("valid");
        assert_eq!(t.to_rfc3339(), "2027-01-07T23:59:59+00:00");
        assert_eq!(api_time::format(t), "2027-01-08 07:59:59");
        assert_eq!(api_time::parse(""), None);
        assert_eq!(api_time::parse("2027-01-08"), None);
    }

    #[test]
    fn apply_request_uses_documented_names_and_types() {
        let mut args = CertificateArgs::new("www.example.com", DvAuthMethod::DnsAuto);
        args.csr_encrypt_algo = Some(CsrEncryptAlgo::Ecc);
        args.csr_key_parameter = Some("prime256v1".into());
        args.project_id = Some(7);
        args.alias = Some("www".into());
        let req = ApplyCertificateRequest::new(&args, Some("pw"), Some("a9TsmZkL"));
        let json = serde_json::to_value(&req).expect("serialises");
        assert_eq!(
            json,
            serde_json::json!({
                "DvAuthMethod": "DNS_AUTO",
                "DomainName": "www.example.com",
                "ProjectId": 7,
                "CsrEncryptAlgo": "ECC",
                "CsrKeyParameter": "prime256v1",
                "CsrKeyPassword": "pw",
                "Alias": "www",
                "OldCertificateId": "a9TsmZkL"
            })
        );
    }

    #[test]
    fn certificate_converts_with_string_project_and_gmt8_times() {
        let cert: Certificate = serde_json::from_value(serde_json::json!({
            "CertificateId": "a9TsmZkL", "Domain": "www.example.com", "Alias": "",
            "Status": 1, "ProjectId": "12",
            "CertBeginTime": "2026-11-26 08:00:00", "CertEndTime": "2027-02-24 07:59:59",
            "InsertTime": "2026-11-26 08:00:00", "Unknown": true
        }))
        .expect("parses");
        let remote = cert.to_remote().expect("converts");
        assert_eq!(remote.status, CertStatus::Issued);
        assert_eq!(remote.alias, None);
        assert_eq!(remote.project_id, Some(12));
        assert_eq!(
            remote.not_before.map(|t| t.to_rfc3339()).as_deref(),
            Some("2026-11-26T00:00:00+00:00")
        );
        assert_eq!(
            remote.not_after.map(|t| t.to_rfc3339()).as_deref(),
            Some("2027-02-23T23:59:59+00:00")
        );
    }

    #[test]
    fn a_time_in_another_format_is_an_error_naming_the_field_and_an_empty_one_unknown() {
        let cert = |end: &str| -> Certificate {
            serde_json::from_value(serde_json::json!({
                "CertificateId": "a9TsmZkL", "Status": 1, "CertEndTime": end, "CertBeginTime": ""
            }))
            .expect("parses")
        };
        let err = cert("2027/02/24 07:59:59").to_remote().expect_err("not a time");
        assert!(err.contains("CertEndTime") && err.contains("a9TsmZkL"), "{err}");
        let known = cert("2027-02-24 07:59:59").to_remote().expect("converts");
        assert!(known.not_after.is_some() && known.not_before.is_none());
    }

    #[test]
    fn the_default_project_zero_is_no_project() {
        let cert: Certificate = serde_json::from_value(serde_json::json!({
            "CertificateId": "a9TsmZkL", "Domain": "www.example.com", "Status": 1, "ProjectId": "0"
        }))
        .expect("parses");
        assert_eq!(cert.to_remote().expect("converts").project_id, None);
    }

    #[test]
    fn validation_records_become_what_to_publish() {
        let cert: Certificate = serde_json::from_value(serde_json::json!({
            "CertificateId": "a9TsmZkL", "Domain": "www.example.com", "Status": 0,
            "DVAuthDeadline": "2026-12-03 20:00:00",
            "DvAuthDetail": { "DvAuths": [
                { "DvAuthKey": "_895b7ee8", "DvAuthValue": "tok", "DvAuthDomain": "www.example.com",
                  "DvAuthVerifyType": "TXT" },
                { "DvAuthKey": "_abc.www.example.com", "DvAuthValue": "x.y.trust-provider.com",
                  "DvAuthDomain": "www.example.com", "DvAuthVerifyType": "CNAME" },
                { "DvAuthKey": "fileauth.txt", "DvAuthValue": "content", "DvAuthDomain": "www.example.com",
                  "DvAuthPath": "/.well-known/pki-validation/", "DvAuthVerifyType": "FILE" }
            ]}
        }))
        .expect("parses");
        let remote = cert.to_remote().expect("converts");
        assert_eq!(
            remote.validation_deadline.map(|t| t.to_rfc3339()).as_deref(),
            Some("2026-12-03T12:00:00+00:00")
        );
        let dns = |name: &str, t: &str, v: &str| ValidationRecord::Dns {
            name: name.into(),
            record_type: t.into(),
            value: v.into(),
        };
        assert_eq!(
            remote.validation,
            [
                dns("_895b7ee8.www.example.com", "TXT", "tok"),
                dns("_abc.www.example.com", "CNAME", "x.y.trust-provider.com"),
                ValidationRecord::File {
                    url: "http://www.example.com/.well-known/pki-validation/fileauth.txt".into(),
                    content: "content".into()
                },
            ]
        );
    }
}
