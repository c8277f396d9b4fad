//! The plan as JSON, for machines: Terraform's plan JSON shape where it fits
//! (`resource_changes[]` with `address`, `type`, `name`, `index`, `action_reason`,
//! `change{actions, before, after, before_sensitive, after_sensitive, replace_paths}`), with
//! certplan's own `renew` and `forget` actions and reasons. Documented in docs/json-output.md;
//! `format_version` changes when the shape does.

use certplan_core::{Attention, AttributeValue, InstanceKey};
use chrono::{DateTime, Utc};
use serde_json::{Map, Value, json};

use crate::{DeliveryChange, DeliveryWork, DriftKind, Plan, Reason, ResourceChange, render};

/// The version of the JSON shape; bumped on any change that is not a pure addition.
pub const JSON_FORMAT_VERSION: &str = "1.0";

/// Renders `plan` as JSON.
pub fn render_json(plan: &Plan) -> Value {
    let summary = plan.summary();
    json!({
        "format_version": JSON_FORMAT_VERSION,
        "certplan_version": env!("CARGO_PKG_VERSION"),
        "timestamp": plan.created_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        "refreshed": plan.refreshed,
        "resource_drift": plan.drift.iter().map(|d| {
            let (kind, from, to) = match &d.kind {
                DriftKind::Deleted => ("deleted", Value::Null, Value::Null),
                DriftKind::Renewed { to } => ("renewed", json!(d.id), json!(to)),
                DriftKind::Reissued { to } => ("reissued", json!(d.id), json!(to)),
                DriftKind::Status { from, to } => ("status", json!(from.name()), json!(to.name())),
                DriftKind::Alias { from, to } => ("alias", json!(from), json!(to)),
                DriftKind::Project { from, to } => ("project_id", json!(from), json!(to)),
            };
            json!({
                "address": d.address.to_string(),
                "certificate_id": d.id,
                "kind": kind,
                "from": from,
                "to": to,
            })
        }).collect::<Vec<_>>(),
        "resource_changes": plan.changes.iter().map(|c| change_json(c, plan)).collect::<Vec<_>>(),
        "delivery": plan.delivery.iter().map(|d| delivery_json(d, plan)).collect::<Vec<_>>(),
        "attention": plan.attention.iter().map(|a| attention_json(a, plan.created_at)).collect::<Vec<_>>(),
        "free_quota": plan.quota.iter().map(|q| json!({
            "provider": q.provider.to_string(), "used": q.used, "planned": q.planned,
            "limit": q.limit, "limit_from": q.limit_from, "exceeded": q.exceeded(),
        })).collect::<Vec<_>>(),
        "summary": {
            "add": summary.add,
            "renew": summary.renew,
            "change": summary.change,
            "destroy": summary.destroy,
            "forget": summary.forget,
            "waiting": summary.waiting,
            "deliver": summary.deliver,
            "import": summary.import,
        },
    })
}

/// One certificate that needs attention, as plan JSON and `apply --json` write it: the
/// concern's `kind` and fields, with why, by when HTTPS breaks, and what to do.
pub fn attention_json(a: &Attention, now: DateTime<Utc>) -> Value {
    let (why, what_to_do) = render::describe_attention(a, now);
    let mut out = json!(a.concern);
    out["address"] = json!(a.address.to_string());
    out["certificate_id"] = json!(a.certificate);
    out["breaks_at"] =
        json!(a.breaks_at.map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)));
    out["why"] = json!(why);
    out["what_to_do"] = json!(what_to_do);
    out
}

fn change_json(c: &ResourceChange, plan: &Plan) -> Value {
    let before = c.before.as_ref().map(|b| {
        let mut object = attributes(c.before_attributes());
        object.insert("id".into(), json!(b.id));
        object.insert("status".into(), json!(b.status.name()));
        object.insert(
            "not_after".into(),
            json!(b.not_after.map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))),
        );
        Value::Object(object)
    });
    let after = c.after.as_ref().map(|_| Value::Object(attributes(c.after_attributes())));
    let replace_paths: Vec<Vec<String>> = match &c.reason {
        Reason::ArgumentsChanged { forcing } => {
            forcing.iter().map(|f| vec![f.name().to_owned()]).collect()
        }
        _ => Vec::new(),
    };
    let mut out = json!({
        "address": c.address.to_string(),
        "mode": "managed",
        "type": c.address.resource_type,
        "name": c.address.name,
        "index": match &c.address.key {
            None => Value::Null,
            Some(InstanceKey::Index(i)) => json!(i),
            Some(InstanceKey::Key(k)) => json!(k),
        },
        "deposed": c.deposed,
        "action": c.action.name(),
        "action_reason": reason_code(&c.reason),
        "reason": render::describe(&c.reason, plan.created_at),
        "change": {
            "actions": c.action.terraform_actions(),
            "before": before,
            "after": after,
            "before_sensitive": c.before.as_ref().map(|_| sensitive(c.before_attributes())),
            "after_sensitive": c.after.as_ref().map(|_| sensitive(c.after_attributes())),
            "replace_paths": replace_paths,
        },
    });
    // Terraform's form: `change.importing.id`, present only for an import.
    if let Some(id) = &c.importing {
        out["change"]["importing"] = json!({ "id": id });
    }
    match &c.reason {
        Reason::UpToDate { renews_at, .. } => {
            out["renews_at"] = json!(renews_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
        }
        Reason::Pending { records, deadline, .. } => {
            out["validation"] = json!(records);
            out["validation_deadline"] =
                json!(deadline.map(|d| d.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)));
        }
        _ => {}
    }
    out
}

fn delivery_json(d: &DeliveryChange, plan: &Plan) -> Value {
    let mut out = json!({
        "address": d.address.to_string(),
        "action": d.work.name(),
        "once_issued": d.once_issued,
        "description": render::describe_delivery(d, plan),
    });
    match &d.work {
        DeliveryWork::Deploy { from, to, target } => {
            out["from"] = json!(from);
            out["to"] = json!(to);
            out["resource_types"] = json!(target.resource_types);
            out["regions"] = json!(target.regions);
        }
        DeliveryWork::Resume { from, to, target, record_id } => {
            out["from"] = json!(from);
            out["to"] = json!(to);
            out["resource_types"] = json!(target.resource_types);
            out["regions"] = json!(target.regions);
            out["deploy_record_id"] = json!(record_id);
        }
        DeliveryWork::Retry { from, to, target, record_id, failed } => {
            out["from"] = json!(from);
            out["to"] = json!(to);
            out["resource_types"] = json!(target.resource_types);
            out["regions"] = json!(target.regions);
            out["deploy_record_id"] = json!(record_id);
            out["failed"] = json!(failed);
        }
        DeliveryWork::DeployInstances { to, instances } => {
            out["to"] = json!(to);
            out["resource_types"] = json!([instances.resource_type]);
            out["region"] = json!(instances.region);
            out["instances"] = json!(instances.ids);
        }
        DeliveryWork::PublishValidation { records } => {
            out["records"] = json!(records.iter().map(ToString::to_string).collect::<Vec<_>>());
        }
        DeliveryWork::Export { path, reason } => {
            out["path"] = json!(path);
            out["reason"] = json!(reason.to_string());
        }
        DeliveryWork::Hook { path, error } => {
            out["path"] = json!(path);
            out["last_error"] = json!(error);
        }
    }
    out
}

/// The arguments as a JSON object; sensitive values are `null` (see `*_sensitive`).
fn attributes(attributes: Vec<(&str, AttributeValue)>) -> Map<String, Value> {
    attributes
        .into_iter()
        .map(|(name, value)| {
            let value = match value {
                AttributeValue::Text(s) => json!(s),
                AttributeValue::Number(n) => json!(n),
                AttributeValue::Bool(b) => json!(b),
                AttributeValue::Sensitive(_) => Value::Null,
            };
            (name.to_owned(), value)
        })
        .collect()
}

fn sensitive(attributes: Vec<(&str, AttributeValue)>) -> Value {
    let flagged: Map<String, Value> = attributes
        .into_iter()
        .filter(|(_, v)| matches!(v, AttributeValue::Sensitive(_)))
        .map(|(name, _)| (name.to_owned(), Value::Bool(true)))
        .collect();
    Value::Object(flagged)
}

/// A stable, machine-readable name for each reason.
fn reason_code(reason: &Reason) -> &'static str {
    match reason {
        Reason::NotInState => "not_in_state",
        Reason::Gone { .. } => "deleted_outside",
        Reason::Unusable { .. } => "unusable_in_cloud",
        Reason::ValidationTimedOut { .. } => "validation_timed_out",
        Reason::ValidationFailedRepeatedly { .. } => "validation_failed_repeatedly",
        Reason::ReplaceRequested => "replace_by_request",
        Reason::ArgumentsChanged { .. } => "replace_because_arguments_changed",
        Reason::AttributesChanged { .. } => "update_because_attributes_changed",
        Reason::Expired { .. } => "expired",
        Reason::Expiring { .. } => "renew_because_expiring",
        Reason::NotInConfig { .. } => "delete_because_no_resource_config",
        Reason::Removed { .. } => "forget_because_removed_block",
        Reason::Deposed { .. } => "delete_because_deposed",
        Reason::Pending { .. } => "waiting_for_validation",
        Reason::UpToDate { .. } => "up_to_date",
        Reason::Waiting { .. } => "waiting_for_cloud_status",
        Reason::DueAtIssuance { .. } => "due_at_issuance",
        Reason::ReplacedAgain { .. } => "replaced_again",
        Reason::RateLimited { .. } => "rate_limited",
    }
}
