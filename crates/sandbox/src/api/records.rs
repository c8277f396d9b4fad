//! The delivery actions that follow deploy tasks ([`crate::deploy`]):
//! `DescribeHostUpdateRecord` (the tasks of `UpdateCertificateInstance`, and their rollbacks),
//! `DescribeHostUpdateRecordDetail` (one such task's resources) and
//! `DescribeHostDeployRecordDetail` (a `DeployCertificateInstance` task's resources), with the
//! field names of the SDK's models and times in GMT+8 like every action.
//!
//! | action | in the sandbox |
//! |---|---|
//! | `DescribeHostUpdateRecord` | `Offset`, `Limit` (default 10), `CertificateId` and `OldCertificateId` filters; newest task first. A task's `Status`: 0 nothing started, 3 deploying, 1 every resource succeeded (or it had none), 2 finished with failures. |
//! | `DescribeHostUpdateRecordDetail` | `DeployRecordId`, `Limit` (default 10; above 200 treated as 200), `Offset` — all three strings in the SDK's model, so a JSON number is refused with `InvalidParameter`. Pages over the task's resources, grouped by type in `RecordDetailList` (each group's `TotalCount` counts the whole task). |
//! | `DescribeHostDeployRecordDetail` | `DeployRecordId` (a string), `Offset`, `Limit` (integers); the same counts, `DeployRecordDetailList` flat. |
//!
//! A record id that names no task of the kind asked about is refused with
//! `FailedOperation.CertificateDeployNotExist`.

use certplan_provider::wire::api_time;
use serde_json::{Value, json};

use super::deploy::task_failure;
use super::params::Params;
use super::{Outcome, internal, missing_parameter};
use crate::Account;
use crate::deploy::detail_status::{DEPLOYING, FAILED, SUCCEEDED, TO_DEPLOY};
use crate::deploy::{DeployDetail, DeployTask, TaskError, TaskKind};

/// The documented maximum page of details; a larger `Limit` is treated as this.
const MAX_DETAIL_LIMIT: u64 = 200;
const DEFAULT_LIMIT: u64 = 10;

pub(super) fn describe_host_update_record(account: &Account<'_>, mut p: Params) -> Outcome {
    let offset = p.integer("Offset")?.unwrap_or(0);
    let limit = p.integer("Limit")?.unwrap_or(DEFAULT_LIMIT);
    let new_id = p.string("CertificateId")?.filter(|id| !id.is_empty());
    let old_id = p.string("OldCertificateId")?.filter(|id| !id.is_empty());
    p.finish()?;
    let (store, _) = account.advanced().map_err(internal)?;
    let matching: Vec<&DeployTask> = store
        .deploy
        .tasks()
        .rev()
        .filter(|t| t.kind != TaskKind::Deploy)
        .filter(|t| new_id.as_ref().is_none_or(|id| t.certificate_id == *id))
        .filter(|t| old_id.as_ref().is_none_or(|id| t.old_certificate_id.as_ref() == Some(id)))
        .collect();
    let list: Vec<Value> = matching
        .iter()
        .skip(usize::try_from(offset).unwrap_or(usize::MAX))
        .take(usize::try_from(limit).unwrap_or(usize::MAX))
        .map(|t| {
            let mut regions: Vec<&String> = t.regions.values().flatten().collect();
            regions.sort();
            regions.dedup();
            json!({
                "Id": t.id,
                "CertId": t.certificate_id,
                "OldCertId": t.old_certificate_id,
                "ResourceTypes": t.resource_types,
                "Regions": regions,
                "Status": t.status(),
                "CreateTime": api_time::format(t.create_time),
                "UpdateTime": api_time::format(t.update_time()),
            })
        })
        .collect();
    Ok(json!({ "TotalCount": matching.len(), "DeployRecordList": list }))
}

pub(super) fn describe_host_update_record_detail(account: &Account<'_>, mut p: Params) -> Outcome {
    let record =
        p.string_integer("DeployRecordId")?.ok_or_else(|| missing_parameter("DeployRecordId"))?;
    let limit = p.string_integer("Limit")?.unwrap_or(DEFAULT_LIMIT).min(MAX_DETAIL_LIMIT);
    let offset = p.string_integer("Offset")?.unwrap_or(0);
    p.finish()?;
    let (store, _) = account.advanced().map_err(internal)?;
    let task = store
        .deploy
        .task(record)
        .filter(|t| t.kind != TaskKind::Deploy)
        .ok_or_else(|| task_failure(TaskError::NotFound(record)))?;
    let mut groups: Vec<(&str, Vec<Value>)> = Vec::new();
    for detail in page(task, offset, limit) {
        let resource_type = detail.resource.resource_type.as_str();
        let entry = match groups.iter_mut().position(|(t, _)| *t == resource_type) {
            Some(n) => &mut groups[n].1,
            None => {
                groups.push((resource_type, Vec::new()));
                &mut groups.last_mut().expect("just pushed").1
            }
        };
        entry.push(detail_json(task, detail));
    }
    let groups: Vec<Value> = groups
        .into_iter()
        .map(|(resource_type, list)| {
            let total =
                task.details.iter().filter(|d| d.resource.resource_type == resource_type).count();
            json!({ "ResourceType": resource_type, "List": list, "TotalCount": total })
        })
        .collect();
    let mut answer = counts(task);
    answer["RecordDetailList"] = Value::from(groups);
    Ok(answer)
}

pub(super) fn describe_host_deploy_record_detail(account: &Account<'_>, mut p: Params) -> Outcome {
    let record =
        p.string_integer("DeployRecordId")?.ok_or_else(|| missing_parameter("DeployRecordId"))?;
    let offset = p.integer("Offset")?.unwrap_or(0);
    let limit = p.integer("Limit")?.unwrap_or(DEFAULT_LIMIT).min(MAX_DETAIL_LIMIT);
    p.finish()?;
    let (store, _) = account.advanced().map_err(internal)?;
    let task = store
        .deploy
        .task(record)
        .filter(|t| t.kind == TaskKind::Deploy)
        .ok_or_else(|| task_failure(TaskError::NotFound(record)))?;
    let list: Vec<Value> = page(task, offset, limit).map(|d| detail_json(task, d)).collect();
    let mut answer = counts(task);
    answer["DeployRecordDetailList"] = Value::from(list);
    Ok(answer)
}

fn page(task: &DeployTask, offset: u64, limit: u64) -> impl Iterator<Item = &DeployDetail> {
    task.details
        .iter()
        .skip(usize::try_from(offset).unwrap_or(usize::MAX))
        .take(usize::try_from(limit).unwrap_or(usize::MAX))
}

/// The counts both detail actions answer with, over the whole task.
fn counts(task: &DeployTask) -> Value {
    let count = |status: u8| task.details.iter().filter(|d| d.status == status).count();
    json!({
        "TotalCount": task.details.len(),
        "SuccessTotalCount": count(SUCCEEDED),
        "FailedTotalCount": count(FAILED),
        "RunningTotalCount": count(DEPLOYING),
        "PendingTotalCount": count(TO_DEPLOY),
    })
}

/// Renders a detail as `UpdateRecordDetail` (and, its fields being a subset,
/// `DeployRecordDetail`).
fn detail_json(task: &DeployTask, detail: &DeployDetail) -> Value {
    let resource = &detail.resource;
    let old = task
        .old_certificate_id
        .clone()
        .or_else(|| Some(resource.certificate_id.clone()).filter(|id| !id.is_empty()));
    json!({
        "Id": detail.id,
        "CertId": task.certificate_id,
        "OldCertId": old,
        "Domains": resource.domains,
        "ResourceType": resource.resource_type,
        "Region": resource.region,
        "Status": detail.status,
        "ErrorMsg": detail.error_msg,
        "CreateTime": api_time::format(detail.create_time),
        "UpdateTime": api_time::format(detail.update_time),
        "InstanceId": resource.instance_id,
        // The sandbox knows resources by id only; the real API's names are the user's.
        "InstanceName": Value::Null,
        "ListenerId": resource.listener_id,
        "ListenerName": Value::Null,
        "Protocol": resource.protocol,
        "SniSwitch": resource.sni_switch,
        "Bucket": resource.bucket,
        "Port": resource.port,
        "Namespace": resource.namespace,
        "SecretName": resource.secret_name,
        "EnvId": resource.env_id,
        "TCBType": resource.tcb_type,
        "Url": Value::Null,
    })
}
