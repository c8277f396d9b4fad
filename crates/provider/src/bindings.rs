//! Where certificates are bound: the service's asynchronous bind-resource queries
//! (`CreateCertificateBindResourceSyncTask`, then `DescribeCertificateBindResourceTaskResult`),
//! asked fresh (`IsCache` 0) because a result up to 30 minutes old would still show resources a
//! deployment has just moved. Waiting for the queries to finish is the caller's business.

use certplan_core::{BoundResource, CertificateId};
use serde::{Deserialize, Serialize};

use crate::{Client, Error};

/// The most certificates, or tasks, one call may name.
pub const BIND_QUERY_LIMIT: usize = 100;

/// One bind-resource query's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BindQuery {
    /// The service is still querying.
    Running,
    Done(Vec<BoundResource>),
    /// The query failed, with the service's reason.
    Failed(String),
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct CreateRequest<'a> {
    certificate_ids: &'a [CertificateId],
    is_cache: u8,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct CreateResponse {
    #[serde(default)]
    cert_task_ids: Option<Vec<CertTaskId>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct CertTaskId {
    cert_id: String,
    task_id: String,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct ResultRequest<'a> {
    task_ids: &'a [String],
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ResultResponse {
    #[serde(default)]
    sync_task_bind_resource_result: Option<Vec<TaskResult>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct TaskResult {
    task_id: String,
    #[serde(default)]
    status: Option<u64>,
    #[serde(default)]
    bind_resource_result: Option<Vec<TypeResult>>,
    #[serde(default)]
    error: Option<TaskError>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct TypeResult {
    resource_type: String,
    #[serde(default)]
    bind_resource_region_result: Option<Vec<RegionResult>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct RegionResult {
    #[serde(default)]
    region: Option<String>,
    #[serde(default)]
    total_count: Option<u64>,
    #[serde(default)]
    error: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct TaskError {
    #[serde(default)]
    code: Option<String>,
    #[serde(default)]
    message: Option<String>,
}

impl Client {
    /// Starts a fresh bind-resource query for each of `ids` (at most [`BIND_QUERY_LIMIT`]):
    /// returns the task id of each certificate. Starting a query changes nothing in the
    /// account, so it is safe to ask again.
    pub async fn query_bindings(
        &self,
        ids: &[CertificateId],
    ) -> Result<Vec<(CertificateId, String)>, Error> {
        const ACTION: &str = "CreateCertificateBindResourceSyncTask";
        let req = CreateRequest { certificate_ids: ids, is_cache: 0 };
        let (resp, request_id): (CreateResponse, _) = self.call_answered(ACTION, &req).await?;
        let tasks = resp.cert_task_ids.unwrap_or_default();
        let mut found = Vec::with_capacity(ids.len());
        for id in ids {
            let Some(task) = tasks.iter().find(|t| t.cert_id == id.as_str()) else {
                let detail = format!("no task for certificate {id}");
                return Err(self.malformed_answer(ACTION, &request_id, detail));
            };
            found.push((id.clone(), task.task_id.clone()));
        }
        Ok(found)
    }

    /// Reads bind-resource queries (at most [`BIND_QUERY_LIMIT`]), by task id.
    pub async fn binding_results(&self, task_ids: &[String]) -> Result<Vec<BindQuery>, Error> {
        const ACTION: &str = "DescribeCertificateBindResourceTaskResult";
        let req = ResultRequest { task_ids };
        let (resp, request_id): (ResultResponse, _) = self.call_answered(ACTION, &req).await?;
        let results = resp.sync_task_bind_resource_result.unwrap_or_default();
        let malformed = |detail: String| self.malformed_answer(ACTION, &request_id, detail);
        task_ids
            .iter()
            .map(|task| {
                let Some(result) = results.iter().find(|r| &r.task_id == task) else {
                    return Err(malformed(format!("no result for task {task}")));
                };
                result.read().map_err(|e| malformed(format!("task {task}: {e}")))
            })
            .collect()
    }
}

impl TaskResult {
    fn read(&self) -> Result<BindQuery, String> {
        match self.status {
            Some(0) => Ok(BindQuery::Running),
            Some(2) => {
                let error = self.error.as_ref();
                let code = error.and_then(|e| e.code.as_deref()).unwrap_or("no code");
                let message = error.and_then(|e| e.message.as_deref()).unwrap_or("no message");
                Ok(BindQuery::Failed(format!("{code}: {message}")))
            }
            Some(1) => {
                let mut bound = Vec::new();
                for by_type in self.bind_resource_result.iter().flatten() {
                    for r in by_type.bind_resource_region_result.iter().flatten() {
                        if let Some(error) = r.error.as_deref().filter(|e| !e.is_empty()) {
                            let region = r.region.as_deref().unwrap_or("");
                            return Ok(BindQuery::Failed(format!(
                                "{} {region}: {error}",
                                by_type.resource_type
                            )));
                        }
                        let count = r.total_count.unwrap_or(0);
                        if count > 0 {
                            bound.push(BoundResource {
                                resource_type: by_type.resource_type.to_ascii_lowercase(),
                                region: r.region.clone().filter(|r| !r.is_empty()),
                                count,
                            });
                        }
                    }
                }
                bound.sort();
                Ok(BindQuery::Done(bound))
            }
            other => Err(format!("Status {other:?} is not 0, 1 or 2")),
        }
    }
}
