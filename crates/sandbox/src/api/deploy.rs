//! The delivery actions that start deploy tasks ([`crate::deploy`]): `UpdateCertificateInstance`,
//! `DeployCertificateInstance`, `UpdateCertificateRecordRetry` and
//! `UpdateCertificateRecordRollback`, with the request fields of the SDK's models
//! (tencentcloud-sdk ssl v20191205). Following a task is [`super::records`]' business.
//!
//! | action | in the sandbox |
//! |---|---|
//! | `UpdateCertificateInstance` | `OldCertificateId`, `CertificateId`, `ResourceTypes`, `ResourceTypesRegions` (required for the region-scoped types; the deprecated `Regions` serves those it does not list), `ExpiringNotificationSwitch` (0 or 1). The first call answers `DeployRecordId` 0 (being created); the next identical one creates the task and answers its id with `DeployStatus` 1; while it runs, calls between the same certificates answer its id with `DeployStatus` 0. A task whose certificate serves no matching resource finishes at once, with no details. Uploading in the same call (`CertificatePublicKey`) is refused: upload with `UploadCertificate`, then name that id. |
//! | `DeployCertificateInstance` | `CertificateId`, `InstanceIdList`, `ResourceType` (default `clb`), the common `Region` for region-scoped types; `Status` (live's HTTPS switch) and `IsCache` are accepted and change nothing. Answers a task's id at once, with `DeployStatus` 1. |
//! | `UpdateCertificateRecordRetry` | `DeployRecordId` or `DeployRecordDetailId`: the failed details deploy again. |
//! | `UpdateCertificateRecordRollback` | `DeployRecordId`: a new task moves the resources the update moved back to the old certificate; answers its `DeployRecordId`. |

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Value, json};

use super::certificates::is_deployable;
use super::params::Params;
use super::{Failure, Outcome, fail, internal, missing_parameter, not_found};
use crate::Account;
use crate::deploy::{
    Binding, DEPLOYABLE_RESOURCE_TYPES, DeployTask, Moment, TargetError, TaskError, TaskKind,
    UpdateKey, is_regional, is_resource_type, resource_types,
};
use crate::store::AccountData;

pub(super) fn update_certificate_instance(account: &Account<'_>, mut p: Params) -> Outcome {
    let old_id = p.required_string("OldCertificateId")?;
    let new_id = p.string("CertificateId")?;
    let types = p
        .list("ResourceTypes", |v| v.as_str().map(str::to_owned))?
        .ok_or_else(|| missing_parameter("ResourceTypes"))?;
    let by_type = p.list("ResourceTypesRegions", type_regions)?.unwrap_or_default();
    let deprecated_regions = p.list("Regions", |v| v.as_str().map(str::to_owned))?;
    let switch = p.integer("ExpiringNotificationSwitch")?;
    let upload = p.given("CertificatePublicKey") | p.given("CertificatePrivateKey");
    // These only shape an uploaded certificate, which is refused below.
    p.ignore(&["Repeatable", "AllowDownload", "Tags", "ProjectId"]);
    p.finish()?;

    if upload {
        return Err(fail(
            "InvalidParameter",
            "The sandbox does not upload in UpdateCertificateInstance (CertificatePublicKey, CertificatePrivateKey): upload with UploadCertificate, then name that certificate with CertificateId.",
        ));
    }
    let new_id = new_id.ok_or_else(|| missing_parameter("CertificateId"))?;
    if switch.is_some_and(|s| s > 1) {
        return Err(fail("InvalidParameterValue", "ExpiringNotificationSwitch must be 0 or 1."));
    }
    let targets = targets(&types, &by_type, deprecated_regions.as_deref())?;
    if old_id == new_id {
        return Err(fail(
            "InvalidParameterValue",
            "CertificateId must differ from OldCertificateId: the resources serve it already.",
        ));
    }

    let (mut store, now) = account.advanced().map_err(internal)?;
    store.get(&old_id).ok_or_else(|| not_found(&old_id))?;
    let new = store.get(&new_id).ok_or_else(|| not_found(&new_id))?;
    if !is_deployable(new, now) {
        return Err(not_available(&new_id, new.status_at(now)));
    }
    let key = UpdateKey { old_certificate_id: old_id, certificate_id: new_id, targets };
    let (record, status) = store.deploy.update(key.clone(), Moment::at(now));
    account.persist(&store).map_err(internal)?;
    let progress = sync_progress(&store, &key, store.deploy.task(record));
    Ok(json!({
        "DeployRecordId": record,
        "DeployStatus": status,
        "UpdateSyncProgress": progress,
    }))
}

/// Reads one `ResourceTypesRegions` element: `{"ResourceType": "clb", "Regions": [..]}`.
fn type_regions(value: &Value) -> Option<(String, Vec<String>)> {
    let object = value.as_object()?;
    let resource_type = object.get("ResourceType")?.as_str()?.to_owned();
    let regions = match object.get("Regions") {
        None | Some(Value::Null) => Vec::new(),
        Some(list) => {
            list.as_array()?.iter().map(|r| r.as_str().map(str::to_owned)).collect::<Option<_>>()?
        }
    };
    Some((resource_type, regions))
}

/// Checks the requested types and regions; returns the regions of each type (none for types
/// without regions).
fn targets(
    types: &[String],
    by_type: &[(String, Vec<String>)],
    deprecated_regions: Option<&[String]>,
) -> Result<BTreeMap<String, BTreeSet<String>>, Failure> {
    if types.is_empty() {
        return Err(fail("InvalidParameterValue", "ResourceTypes must name a resource type."));
    }
    if let Some(unknown) =
        types.iter().chain(by_type.iter().map(|(t, _)| t)).find(|t| !is_resource_type(t))
    {
        return Err(type_invalid(unknown, &resource_types()));
    }
    if let Some((stray, _)) = by_type.iter().find(|(t, _)| !types.contains(t)) {
        return Err(fail(
            "InvalidParameterValue",
            format!("ResourceTypesRegions names `{stray}`, which ResourceTypes does not."),
        ));
    }
    let mut targets = BTreeMap::new();
    for resource_type in types {
        let mut regions = BTreeSet::new();
        // A global product (cdn, live…) has no region to narrow it to: regions named for it
        // change nothing.
        if is_regional(resource_type) {
            regions.extend(
                by_type.iter().filter(|(t, _)| t == resource_type).flat_map(|(_, r)| r).cloned(),
            );
            if regions.is_empty() {
                regions.extend(deprecated_regions.unwrap_or_default().iter().cloned());
            }
            if regions.is_empty() {
                return Err(fail(
                    "InvalidParameter",
                    format!(
                        "The resource type `{resource_type}` is region-scoped: ResourceTypesRegions must list the regions of the {resource_type} resources to update."
                    ),
                ));
            }
        }
        targets.insert(resource_type.clone(), regions);
    }
    Ok(targets)
}

/// Renders `UpdateSyncProgress`: per type (and region), how many resources the task takes
/// over. Before the task exists (`DeployRecordId` 0) the count is still in progress (3).
fn sync_progress(store: &AccountData, key: &UpdateKey, task: Option<&DeployTask>) -> Vec<Value> {
    let status = if task.is_some() { 1 } else { 3 };
    let count = |resource_type: &str, region: Option<&str>| {
        let matches = |b: &Binding| {
            b.resource_type == resource_type
                && region.is_none_or(|r| b.region.as_deref() == Some(r))
        };
        match task {
            Some(task) => task.details.iter().filter(|d| matches(&d.resource)).count(),
            None => store
                .deploy
                .bindings()
                .filter(|b| b.certificate_id == key.old_certificate_id && matches(b))
                .count(),
        }
    };
    key.targets
        .iter()
        .map(|(resource_type, regions)| {
            let regions: Vec<Value> = regions
                .iter()
                .map(|region| {
                    let total = count(resource_type, Some(region));
                    json!({
                        "Region": region,
                        "TotalCount": total,
                        "OffsetCount": if task.is_some() { total } else { 0 },
                        "Status": status,
                    })
                })
                .collect();
            json!({
                "ResourceType": resource_type,
                "UpdateSyncProgressRegions": regions,
                "Status": status,
            })
        })
        .collect()
}

pub(super) fn deploy_certificate_instance(account: &Account<'_>, mut p: Params) -> Outcome {
    let id = p.required_string("CertificateId")?;
    let instances = p
        .list("InstanceIdList", |v| v.as_str().map(str::to_owned))?
        .ok_or_else(|| missing_parameter("InstanceIdList"))?;
    let resource_type = p.string("ResourceType")?.unwrap_or_else(|| "clb".to_owned());
    // Live's HTTPS switch and whether the instance list may come from a cache: the sandbox
    // has neither to change.
    p.ignore(&["Status"]);
    let _is_cache = p.integer("IsCache")?;
    let region = p.region().map(str::to_owned);
    p.finish()?;

    if !DEPLOYABLE_RESOURCE_TYPES.contains(&resource_type.as_str()) {
        return Err(type_invalid(&resource_type, &DEPLOYABLE_RESOURCE_TYPES));
    }
    if is_regional(&resource_type) && region.is_none() {
        return Err(fail(
            "InvalidParameter",
            format!("The common parameter Region is required to deploy to `{resource_type}`."),
        ));
    }
    if instances.is_empty() {
        return Err(fail(
            "FailedOperation.CertificateDeployInstanceEmpty",
            "No instance was found to deploy to: InstanceIdList is empty.",
        ));
    }
    let mut targets: Vec<Binding> = Vec::with_capacity(instances.len());
    for instance in &instances {
        let target =
            Binding::parse(&resource_type, region.as_deref(), instance).map_err(|e| match e {
                TargetError::ResourceType(t) => type_invalid(&t, &DEPLOYABLE_RESOURCE_TYPES),
                other => {
                    fail("FailedOperation.CertificateDeployInstanceFormatError", other.to_string())
                }
            })?;
        if !targets.iter().any(|t| t.same_resource(&target)) {
            targets.push(target);
        }
    }

    let (mut store, now) = account.advanced().map_err(internal)?;
    let cert = store.get(&id).ok_or_else(|| not_found(&id))?;
    if !is_deployable(cert, now) {
        return Err(not_available(&id, cert.status_at(now)));
    }
    for target in &targets {
        let has_it = store.deploy.binding_of(target).is_some_and(|b| b.certificate_id == id);
        let names = cert.names();
        if has_it || !names.iter().any(|name| target.accepts_domain(name)) {
            let why = if has_it {
                "it serves this certificate already".to_owned()
            } else {
                format!(
                    "the certificate is for {}; check that its domain matches the instance",
                    names.join(", ")
                )
            };
            return Err(fail(
                "FailedOperation.CertificateNotDeployInstance",
                format!(
                    "The certificate cannot be deployed to instance {}: {why}.",
                    target.instance
                ),
            ));
        }
    }
    let record = store.deploy.deploy(&id, targets, Moment::at(now));
    account.persist(&store).map_err(internal)?;
    Ok(json!({ "DeployRecordId": record, "DeployStatus": 1 }))
}

pub(super) fn update_certificate_record_retry(account: &Account<'_>, mut p: Params) -> Outcome {
    let record = p.integer("DeployRecordId")?;
    let detail = p.integer("DeployRecordDetailId")?;
    p.finish()?;
    if record.is_none() && detail.is_none() {
        return Err(missing_parameter("DeployRecordId"));
    }
    let (mut store, now) = account.advanced().map_err(internal)?;
    let kinds = [TaskKind::Update, TaskKind::Rollback];
    store.deploy.retry(&kinds, record, detail, Moment::at(now)).map_err(task_failure)?;
    account.persist(&store).map_err(internal)?;
    Ok(json!({}))
}

pub(super) fn update_certificate_record_rollback(account: &Account<'_>, mut p: Params) -> Outcome {
    let record = p.integer("DeployRecordId")?.ok_or_else(|| missing_parameter("DeployRecordId"))?;
    p.finish()?;
    let (mut store, now) = account.advanced().map_err(internal)?;
    if let Some(old) = store.deploy.task(record).and_then(|t| t.old_certificate_id.clone()) {
        store.get(&old).ok_or_else(|| not_found(&old))?;
    }
    let rollback = store.deploy.rollback(record, Moment::at(now)).map_err(task_failure)?;
    account.persist(&store).map_err(internal)?;
    Ok(json!({ "DeployRecordId": rollback }))
}

/// The error for a task that does not exist or is in no state for what was asked.
pub(super) fn task_failure(error: TaskError) -> Failure {
    match error {
        TaskError::NotFound(id) => fail(
            "FailedOperation.CertificateDeployNotExist",
            format!("The deploy record `{id}` does not exist."),
        ),
        TaskError::Running(id) => fail(
            "FailedOperation.CertificateDeployHasPendingRecord",
            format!("The deploy record {id} is still deploying: wait until it has finished."),
        ),
        TaskError::NothingFailed(id) => fail(
            "FailedOperation.CertificateDeployRetryStatusInvalid",
            format!("The deploy record {id} has no failed resource to retry."),
        ),
        TaskError::NothingSucceeded(id) => fail(
            "FailedOperation.CertificateDeployRollbackStatusInvalid",
            format!("The deploy record {id} has no updated resource to roll back."),
        ),
    }
}

fn type_invalid(resource_type: &str, supported: &[&str]) -> Failure {
    fail(
        "FailedOperation.CertificateHostResourceTypeInvalid",
        format!(
            "The resource type `{resource_type}` is not supported here; use one of {} (lower case).",
            supported.join(", ")
        ),
    )
}

fn not_available(id: &str, status: i64) -> Failure {
    fail(
        "FailedOperation.CertificateNotAvailable",
        format!(
            "Certificate `{id}` has status {status}: only an issued certificate can be deployed."
        ),
    )
}
