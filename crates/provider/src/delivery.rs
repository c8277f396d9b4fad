//! Delivering a certificate: the deploy tasks that move the cloud resources of an old
//! certificate to its replacement (ask for one, find one whose answer was lost, follow one,
//! retry its failures), and the PEM material an export writes. When to do which is the
//! engine's business; this module asks and reports.

use certplan_core::{DeployStatus, DeployTarget, DeployedResource, ResourceType, Sensitive};
use chrono::{DateTime, Utc};

use crate::wire::{
    CertificateIdRequest, CertificatePemDetail, DeployCertificateInstanceRequest,
    DescribeHostDeployRecordDetailRequest, DescribeHostDeployRecordDetailResponse,
    DescribeHostUpdateRecordDetailRequest, DescribeHostUpdateRecordDetailResponse,
    DescribeHostUpdateRecordRequest, DescribeHostUpdateRecordResponse,
    UpdateCertificateInstanceRequest, UpdateCertificateInstanceResponse,
    UpdateCertificateRecordRetryRequest,
};
use crate::{Client, Error};

/// The most details one `DescribeHostUpdateRecordDetail` call returns (its `Limit` maximum).
const DETAIL_PAGE_LIMIT: u64 = 200;
/// Instances asked for per `DescribeHostDeployRecordDetail` call (the model gives no maximum;
/// its default is 10).
const INSTANCE_PAGE_LIMIT: u64 = 100;
/// Tasks asked for per `DescribeHostUpdateRecord` call. The API documents only its default,
/// 10; two certificates have a handful of tasks between them, so one page is the rule.
const RECORD_PAGE_LIMIT: u64 = 100;

/// What `UpdateCertificateInstance` answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeployRequested {
    /// The task's id (`DeployRecordId`); 0 while the service is still creating it.
    pub record_id: u64,
    /// Whether this call created the task (`DeployStatus` 1). When a task for the certificate
    /// was already running, the answer names that one instead.
    pub created: bool,
}

/// A deploy task, as `DescribeHostUpdateRecord` lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeployRecord {
    pub id: u64,
    /// The new certificate.
    pub certificate_id: String,
    pub old_certificate_id: String,
    pub resource_types: Vec<String>,
    /// The task's `Status`, as the API gives it (its values are not documented).
    pub status: i64,
    pub created_at: DateTime<Utc>,
}

/// Where a deploy task stands: the API's counts for the whole task, and every resource.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeployProgress {
    pub total: u64,
    pub succeeded: u64,
    pub failed: u64,
    pub running: u64,
    pub pending: u64,
    pub resources: Vec<DeployedResource>,
}

/// A certificate's PEM material, from `DescribeCertificateDetail`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertificatePems {
    /// `CertificatePublicKey`: the leaf certificate, then its chain.
    pub chain: String,
    /// `CertificatePrivateKey`: present when Tencent generated the key with the CSR.
    pub private_key: Option<Sensitive>,
}

impl Client {
    /// Asks for a deploy task moving the cloud resources of `target` from certificate `old_id`
    /// to `new_id`: one `UpdateCertificateInstance` call, never repeated here.
    ///
    /// A `record_id` of 0 means the service is still creating the task: ask again, the same
    /// way, until it is not — while a task for the certificate runs, the same request is
    /// answered with that task. But once it has finished, the same request starts a second
    /// task, moving the resources again. So an error that may come after the service acted
    /// (see [`Error::proves_nothing_done`]) is not a reason to ask again: look the task up
    /// with [`deploy_records`](Self::deploy_records) first.
    pub async fn update_certificate_instance(
        &self,
        old_id: &str,
        new_id: &str,
        target: &DeployTarget,
    ) -> Result<DeployRequested, Error> {
        let req = UpdateCertificateInstanceRequest::new(old_id, new_id, target);
        let resp: UpdateCertificateInstanceResponse =
            self.call("UpdateCertificateInstance", &req).await?;
        Ok(DeployRequested {
            // The model allows null; read as "not created yet", it is asked for again, which
            // the running task answers.
            record_id: resp.deploy_record_id.unwrap_or(0),
            created: resp.deploy_status == Some(1),
        })
    }

    /// Asks for a deploy task putting certificate `id` on the `instances` of `resource_type`
    /// (in the client's region, for a region-scoped type): a first deployment, where no
    /// other certificate serves yet. As with [`update_certificate_instance`](Self::update_certificate_instance),
    /// a `record_id` of 0 means the task is still being created; while one runs, the same
    /// request is answered with it. Asked again once done, it is refused with
    /// `FailedOperation.CertificateNotDeployInstance` (the instances serve the certificate
    /// already), so asking again is safe.
    pub async fn deploy_certificate_instance(
        &self,
        id: &str,
        resource_type: ResourceType,
        instances: &[String],
    ) -> Result<DeployRequested, Error> {
        let req = DeployCertificateInstanceRequest {
            certificate_id: id.to_owned(),
            instance_id_list: instances.to_vec(),
            resource_type: resource_type.name().to_owned(),
        };
        let resp: UpdateCertificateInstanceResponse =
            self.call("DeployCertificateInstance", &req).await?;
        Ok(DeployRequested {
            record_id: resp.deploy_record_id.unwrap_or(0),
            created: resp.deploy_status == Some(1),
        })
    }

    /// Describes a first deployment's task (`DescribeHostDeployRecordDetail`): its counts and
    /// every instance, fetching every page; the instances are of `resource_type`.
    pub async fn deploy_instance_detail(
        &self,
        record_id: u64,
        resource_type: ResourceType,
    ) -> Result<DeployProgress, Error> {
        const ACTION: &str = "DescribeHostDeployRecordDetail";
        let mut progress = DeployProgress::default();
        let mut offset = 0;
        loop {
            let req = DescribeHostDeployRecordDetailRequest {
                deploy_record_id: record_id.to_string(),
                offset: Some(offset),
                limit: Some(INSTANCE_PAGE_LIMIT),
            };
            let page: DescribeHostDeployRecordDetailResponse = self.call(ACTION, &req).await?;
            let malformed =
                |e: String| self.malformed(ACTION, format!("deploy record {record_id}: {e}"));
            let total = page
                .total_count
                .ok_or_else(|| malformed("the answer has no TotalCount".to_owned()))?;
            let list = page.deploy_record_detail_list.unwrap_or_default();
            for detail in &list {
                progress
                    .resources
                    .push(detail.to_resource(Some(resource_type.name())).map_err(malformed)?);
            }
            progress.total = total;
            progress.succeeded = page.success_total_count.unwrap_or(0);
            progress.failed = page.failed_total_count.unwrap_or(0);
            progress.running = page.running_total_count.unwrap_or(0);
            progress.pending = page.pending_total_count.unwrap_or(0);
            offset += list.len() as u64;
            if offset >= total || list.is_empty() {
                break;
            }
        }
        Ok(progress)
    }

    /// Lists the deploy tasks from `old_id` to `new_id`, every page, oldest first: how a task
    /// whose answer was lost is found again.
    pub async fn deploy_records(
        &self,
        new_id: &str,
        old_id: &str,
    ) -> Result<Vec<DeployRecord>, Error> {
        const ACTION: &str = "DescribeHostUpdateRecord";
        let mut records = Vec::new();
        let mut listed = 0;
        loop {
            let req = DescribeHostUpdateRecordRequest {
                offset: Some(listed),
                limit: Some(RECORD_PAGE_LIMIT),
                certificate_id: Some(new_id.to_owned()),
                old_certificate_id: Some(old_id.to_owned()),
            };
            let page: DescribeHostUpdateRecordResponse = self.call(ACTION, &req).await?;
            // As with certificates, an answer that does not count is not read as "none": that
            // would ask for a second task.
            let Some(total) = page.total_count else {
                return Err(self.malformed(ACTION, "the answer has no TotalCount".to_owned()));
            };
            let list = page.deploy_record_list.unwrap_or_default();
            listed += list.len() as u64;
            // Both ids filter the call; a task that names other certificates is not one looked
            // for, and one that names none is kept rather than missed.
            let names = |field: &Option<String>, id: &str| {
                field.as_deref().is_none_or(|f| f.is_empty() || f == id)
            };
            for info in list.iter().filter(|i| names(&i.cert_id, new_id)) {
                if names(&info.old_cert_id, old_id) {
                    records.push(info.to_record().map_err(|e| self.malformed(ACTION, e))?);
                }
            }
            if listed >= total {
                break;
            }
            if list.is_empty() {
                let detail = format!(
                    "TotalCount is {total} but the pages list only {listed} deploy records"
                );
                return Err(self.malformed(ACTION, detail));
            }
        }
        records.sort_by_key(|r| (r.created_at, r.id));
        Ok(records)
    }

    /// Describes a deploy task: its counts and every resource, fetching every page.
    pub async fn deploy_record_detail(&self, record_id: u64) -> Result<DeployProgress, Error> {
        const ACTION: &str = "DescribeHostUpdateRecordDetail";
        let mut pages = DetailPages::default();
        let mut offset = Some(0);
        while let Some(from) = offset {
            let req = DescribeHostUpdateRecordDetailRequest {
                deploy_record_id: record_id.to_string(),
                limit: Some(DETAIL_PAGE_LIMIT.to_string()),
                offset: Some(from.to_string()),
            };
            let page: DescribeHostUpdateRecordDetailResponse = self.call(ACTION, &req).await?;
            offset = pages
                .add(page)
                .map_err(|e| self.malformed(ACTION, format!("deploy record {record_id}: {e}")))?;
        }
        Ok(pages.finish())
    }

    /// Asks the service to deploy again the failed resources of a task.
    ///
    /// Only failed resources are re-run, so a second retry does little harm; it is still a
    /// call that changes something, and not repeated here: the caller reads the task again to
    /// see whether the retry took.
    pub async fn retry_deploy_record(&self, record_id: u64) -> Result<(), Error> {
        let req = UpdateCertificateRecordRetryRequest {
            deploy_record_id: Some(record_id),
            deploy_record_detail_id: None,
        };
        let _: serde_json::Value = self.call("UpdateCertificateRecordRetry", &req).await?;
        Ok(())
    }

    /// Fetches a certificate's PEM chain and, when Tencent holds it, its private key.
    /// [`Error::NoPem`] when the certificate is not issued yet.
    pub async fn certificate_pems(&self, id: &str) -> Result<CertificatePems, Error> {
        let req = CertificateIdRequest { certificate_id: id.to_owned() };
        let detail: CertificatePemDetail = self.call("DescribeCertificateDetail", &req).await?;
        self.read_pems(id, detail)
    }

    /// Checks the PEM fields of `detail`, which answers a question about certificate `id`.
    /// Messages never quote the material: an export must not leak what it is given.
    fn read_pems(&self, id: &str, detail: CertificatePemDetail) -> Result<CertificatePems, Error> {
        const ACTION: &str = "DescribeCertificateDetail";
        if detail.certificate_id != id {
            let detail = format!(
                "asked for certificate {id}, the answer describes {:?}",
                detail.certificate_id
            );
            return Err(self.malformed(ACTION, detail));
        }
        let Some(chain) = detail.certificate_public_key.filter(|c| !c.trim().is_empty()) else {
            return Err(Error::NoPem { certificate_id: id.to_owned() });
        };
        if !chain.contains("-----BEGIN CERTIFICATE-----") {
            let detail =
                format!("CertificatePublicKey of certificate {id} holds no PEM certificate");
            return Err(self.malformed(ACTION, detail));
        }
        let private_key = detail.certificate_private_key.filter(|k| !k.expose().trim().is_empty());
        if private_key.as_ref().is_some_and(|k| !k.expose().contains("PRIVATE KEY-----")) {
            let detail =
                format!("CertificatePrivateKey of certificate {id} is not a PEM private key");
            return Err(self.malformed(ACTION, detail));
        }
        Ok(CertificatePems { chain, private_key })
    }
}

/// A task's details, gathered page by page. The pages run over the details of every type
/// together; the counts are the whole task's, in every page.
#[derive(Debug, Default)]
struct DetailPages {
    resources: Vec<DeployedResource>,
    listed: u64,
    last: DescribeHostUpdateRecordDetailResponse,
}

impl DetailPages {
    /// Adds a page; returns the offset of the next one, or `None` when all are in.
    fn add(
        &mut self,
        mut page: DescribeHostUpdateRecordDetailResponse,
    ) -> Result<Option<u64>, String> {
        let Some(total) = page.total_count else {
            return Err("the answer has no TotalCount".to_owned());
        };
        let mut added = 0;
        for group in page.record_detail_list.take().unwrap_or_default() {
            for detail in group.list.iter().flatten() {
                self.resources.push(detail.to_resource(group.resource_type.as_deref())?);
                added += 1;
            }
        }
        self.listed += added;
        // A task still running changes its counts between pages: the last page's are freshest.
        self.last = page;
        if self.listed >= total {
            Ok(None)
        } else if added == 0 {
            Err(format!("TotalCount is {total} but the pages list only {} details", self.listed))
        } else {
            Ok(Some(self.listed))
        }
    }

    /// The task's progress; a count the answer left out is counted from the resources.
    fn finish(self) -> DeployProgress {
        let count = |status: DeployStatus| {
            self.resources.iter().filter(|r| r.status == status).count() as u64
        };
        let last = &self.last;
        DeployProgress {
            total: last.total_count.unwrap_or(self.listed),
            succeeded: last.success_total_count.unwrap_or_else(|| count(DeployStatus::Succeeded)),
            failed: last.failed_total_count.unwrap_or_else(|| count(DeployStatus::Failed)),
            running: last.running_total_count.unwrap_or_else(|| count(DeployStatus::Deploying)),
            pending: last.pending_total_count.unwrap_or_else(|| count(DeployStatus::Pending)),
            resources: self.resources,
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::{Credentials, Endpoint};

    fn cdn(id: u64, status: i64) -> serde_json::Value {
        json!({ "Id": id, "ResourceType": "cdn", "Status": status,
                "Domains": [format!("d{id}.example.com")] })
    }

    fn page(value: serde_json::Value) -> DescribeHostUpdateRecordDetailResponse {
        serde_json::from_value(value).expect("a page")
    }

    #[test]
    fn detail_pages_are_followed_until_the_count_is_reached() {
        let mut pages = DetailPages::default();
        let first = page(json!({
            "TotalCount": 3, "SuccessTotalCount": 1, "FailedTotalCount": 0, "RunningTotalCount": 2,
            "RecordDetailList": [{ "ResourceType": "cdn", "TotalCount": 3,
                                   "List": [cdn(1, 1), cdn(2, 3)] }]
        }));
        assert_eq!(pages.add(first), Ok(Some(2)));
        let last = page(json!({
            "TotalCount": 3, "SuccessTotalCount": 2, "FailedTotalCount": 1, "RunningTotalCount": 0,
            "RecordDetailList": [{ "ResourceType": "cdn", "TotalCount": 3, "List": [cdn(3, 2)] }]
        }));
        assert_eq!(pages.add(last), Ok(None));
        let progress = pages.finish();
        let ids: Vec<u64> = progress.resources.iter().map(|r| r.detail_id).collect();
        assert_eq!(ids, [1, 2, 3]);
        // The freshest counts; no PendingTotalCount in this answer, so it is counted.
        assert_eq!(
            (
                progress.total,
                progress.succeeded,
                progress.failed,
                progress.running,
                progress.pending
            ),
            (3, 2, 1, 0, 0)
        );
        assert_eq!(progress.resources[1].name, "d2.example.com");
    }

    #[test]
    fn a_task_with_no_details_is_one_page() {
        let mut pages = DetailPages::default();
        assert_eq!(pages.add(page(json!({ "TotalCount": 0, "RecordDetailList": null }))), Ok(None));
        assert_eq!(pages.finish(), DeployProgress::default());
    }

    #[test]
    fn pages_that_stop_short_of_the_count_or_do_not_count_are_errors() {
        let mut pages = DetailPages::default();
        let short = page(json!({ "TotalCount": 5, "RecordDetailList": [
            { "ResourceType": "cdn", "List": [cdn(1, 1)] }] }));
        assert_eq!(pages.add(short), Ok(Some(1)));
        let empty = page(json!({ "TotalCount": 5, "RecordDetailList": [] }));
        let err = pages.add(empty).expect_err("no progress");
        assert!(err.contains("TotalCount is 5") && err.contains("only 1"), "{err}");
        let err = DetailPages::default()
            .add(page(json!({ "RecordDetailList": [] })))
            .expect_err("no count");
        assert!(err.contains("TotalCount"), "{err}");
    }

    #[test]
    fn an_unknown_status_in_a_page_is_an_error() {
        let err = DetailPages::default()
            .add(page(json!({ "TotalCount": 1, "RecordDetailList": [
                { "ResourceType": "cdn", "List": [cdn(4, 9)] }] })))
            .expect_err("status 9");
        assert!(err.contains("status 9"), "{err}");
    }

    fn client() -> Client {
        Client::new(
            Endpoint::parse("http://127.0.0.1:9").expect("loopback"),
            Credentials::new("AKIDEXAMPLE", "SECRETEXAMPLE"),
        )
    }

    fn pem_detail(value: serde_json::Value) -> CertificatePemDetail {
        serde_json::from_value(value).expect("a detail")
    }

    const CHAIN: &str = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n\
                         -----BEGIN CERTIFICATE-----\nMIIC\n-----END CERTIFICATE-----\n";
    const KEY: &str =
        "-----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEA\n-----END RSA PRIVATE KEY-----\n";

    #[test]
    fn pems_come_with_the_key_when_tencent_holds_it() {
        let pems = client()
            .read_pems(
                "a9TsmZkL",
                pem_detail(json!({ "CertificateId": "a9TsmZkL", "Status": 1,
                                   "CertificatePublicKey": CHAIN, "CertificatePrivateKey": KEY })),
            )
            .expect("issued");
        assert_eq!(pems.chain, CHAIN);
        assert_eq!(pems.private_key.as_ref().map(Sensitive::expose), Some(KEY));
        assert!(!format!("{pems:?}").contains("MIIEpAIBAAKCAQEA"));
        let without_key = client()
            .read_pems(
                "a9TsmZkL",
                pem_detail(json!({ "CertificateId": "a9TsmZkL", "CertificatePublicKey": CHAIN,
                                   "CertificatePrivateKey": "" })),
            )
            .expect("issued");
        assert_eq!(without_key.private_key, None);
    }

    #[test]
    fn a_certificate_not_issued_has_no_pem_and_garbage_is_never_quoted() {
        for missing in [json!(null), json!("")] {
            let err = client()
                .read_pems(
                    "a9TsmZkL",
                    pem_detail(json!({ "CertificateId": "a9TsmZkL", "Status": 0,
                                       "CertificatePublicKey": missing })),
                )
                .expect_err("not issued");
            assert!(matches!(err, Error::NoPem { .. }), "{err}");
            assert!(err.to_string().contains("a9TsmZkL has no PEM yet"), "{err}");
        }
        let err = client()
            .read_pems(
                "a9TsmZkL",
                pem_detail(json!({ "CertificateId": "a9TsmZkL", "CertificatePublicKey": CHAIN,
                                   "CertificatePrivateKey": "MIIEpAIBAAKCAQEA-not-pem" })),
            )
            .expect_err("not a PEM key");
        assert!(matches!(err, Error::Decode { .. }), "{err}");
        assert!(!err.to_string().contains("MIIEpAIBAAKCAQEA"), "{err}");
        let other = client()
            .read_pems("a9TsmZkL", pem_detail(json!({ "CertificateId": "zYrIXwpu" })))
            .expect_err("another certificate");
        assert!(other.to_string().contains("zYrIXwpu"), "{other}");
    }
}
