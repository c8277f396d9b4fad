//! Where certificates are bound, as the service answers it: `CreateCertificateBindResourceSyncTask`
//! starts a query per certificate, `DescribeCertificateBindResourceTaskResult` reads them, with
//! the field names of the SDK's models.
//!
//! | action | in the sandbox |
//! |---|---|
//! | `CreateCertificateBindResourceSyncTask` | `CertificateIds` (1 to 100, each one the account's), `IsCache` (default 1: a query of the certificate made in the last 30 minutes answers instead, with what it found then). Answers `CertTaskIds` [{`CertId`, `TaskId`}]. |
//! | `DescribeCertificateBindResourceTaskResult` | `TaskIds` (1 to 100). Each task's first read answers `Status` 0 (querying); later ones 1 (or, with the `bind_query_failure_rate` fault, 2 with an `Error`), with `BindResourceResult` [{`ResourceType`, `BindResourceRegionResult` [{`Region`, `TotalCount`}]}] (`Region` empty for the types that have none) and `CacheTime`. An unknown task id is refused with `ResourceNotFound`. |

use std::collections::BTreeMap;

use certplan_provider::wire::api_time;
use rand::Rng as _;
use serde_json::{Value, json};

use super::params::Params;
use super::{Outcome, fail, internal, missing_parameter, not_found};
use crate::Account;

/// The most certificates, or tasks, one call names.
const MAX_IDS: usize = 100;

pub(super) fn create_certificate_bind_resource_sync_task(
    account: &Account<'_>,
    mut p: Params,
) -> Outcome {
    let ids = p
        .list("CertificateIds", |v| v.as_str().map(str::to_owned))?
        .ok_or_else(|| missing_parameter("CertificateIds"))?;
    let cached = p.integer("IsCache")?.unwrap_or(1);
    p.finish()?;
    if ids.is_empty() || ids.len() > MAX_IDS {
        return Err(fail("InvalidParameter", "CertificateIds must name 1 to 100 certificates."));
    }
    if cached > 1 {
        return Err(fail("InvalidParameterValue", "IsCache must be 0 or 1."));
    }
    let (mut store, now) = account.advanced().map_err(internal)?;
    if let Some(unknown) = ids.iter().find(|id| !store.contains(id)) {
        return Err(not_found(unknown));
    }
    let failure_rate = account.sandbox().faults().bind_query_failure_rate;
    let tasks: Vec<Value> = ids
        .iter()
        .map(|id| {
            let fails = rand::rng().random_bool(failure_rate);
            let task = store.deploy.query_bindings(id, cached == 1, now, fails);
            json!({ "CertId": id, "TaskId": task.to_string() })
        })
        .collect();
    account.persist(&store).map_err(internal)?;
    Ok(json!({ "CertTaskIds": tasks }))
}

pub(super) fn describe_certificate_bind_resource_task_result(
    account: &Account<'_>,
    mut p: Params,
) -> Outcome {
    let ids = p
        .list("TaskIds", |v| v.as_str().map(str::to_owned))?
        .ok_or_else(|| missing_parameter("TaskIds"))?;
    p.finish()?;
    if ids.is_empty() || ids.len() > MAX_IDS {
        return Err(fail("InvalidParameter", "TaskIds must name 1 to 100 tasks."));
    }
    let (mut store, _) = account.advanced().map_err(internal)?;
    let mut results = Vec::new();
    for id in &ids {
        let query = id.parse().ok().and_then(|n| store.deploy.read_bind_query(n));
        let Some(query) = query else {
            return Err(fail("ResourceNotFound", format!("The task {id} does not exist.")));
        };
        if !query.read {
            results.push(json!({ "TaskId": id, "Status": 0, "BindResourceResult": [], "CacheTime": Value::Null }));
            continue;
        }
        if query.fails {
            let error = json!({ "Code": "FailedOperation", "Message": "Injected fault: the query of bound resources failed." });
            results.push(json!({ "TaskId": id, "Status": 2, "BindResourceResult": [], "Error": error, "CacheTime": Value::Null }));
            continue;
        }
        let mut counts: BTreeMap<&str, BTreeMap<&str, u64>> = BTreeMap::new();
        for b in &query.bound {
            let region = b.region.as_deref().unwrap_or("");
            *counts.entry(&b.resource_type).or_default().entry(region).or_default() += 1;
        }
        let by_type: Vec<Value> = counts
            .into_iter()
            .map(|(resource_type, regions)| {
                let regions: Vec<Value> = regions
                    .into_iter()
                    .map(|(region, total)| json!({ "Region": region, "TotalCount": total, "Error": "" }))
                    .collect();
                json!({ "ResourceType": resource_type, "BindResourceRegionResult": regions })
            })
            .collect();
        results.push(json!({
            "TaskId": id,
            "Status": 1,
            "BindResourceResult": by_type,
            "Error": Value::Null,
            "CacheTime": api_time::format(query.asked_at),
        }));
    }
    account.persist(&store).map_err(internal)?;
    Ok(json!({ "SyncTaskBindResourceResult": results }))
}
