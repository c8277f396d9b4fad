//! Notifications for runs nobody watches (`notify` blocks): after an apply, what failed, what
//! needs attention, and what expires soon with no renewal planned is posted to each webhook —
//! each condition once a day per webhook, not on every run. A notification that cannot be
//! sent is a warning; it is tried again by the next run.

use std::collections::BTreeSet;
use std::path::Path;

use certplan_core::{Action, Attention, Plan};
use certplan_engine::Report;
use certplan_parser::{NotifyConfig, NotifyFormat};
use certplan_state::State;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::ui;

/// Where the conditions said today are kept, in the configuration directory.
pub const SENT_FILE: &str = ".certplan/notified.json";

/// Something that needs a person, named so that it is said once a day.
#[derive(Debug, Clone)]
pub struct Condition {
    key: String,
    kind: &'static str,
    address: String,
    message: String,
}

/// The conditions an apply ends with: its failures (changes and deliveries), what needs
/// attention, and certificates expiring within each block's window with no renewal planned.
pub fn conditions(
    plan: &Plan,
    report: &Report,
    attention: &[Attention],
    state: &State,
    now: DateTime<Utc>,
    within: std::time::Duration,
) -> Vec<Condition> {
    let mut found = Vec::new();
    let mut push = |kind: &'static str, address: String, detail: &str, message: String| {
        let key = format!("{kind}:{address}:{detail}");
        found.push(Condition { key, kind, address, message });
    };
    for (address, error) in &report.failed {
        push("failed", address.to_string(), "", format!("failed: {}", ui::chain(error)));
    }
    for (address, error) in &report.delivery.failed {
        push(
            "delivery_failed",
            address.to_string(),
            "",
            format!("delivery failed: {}", ui::chain(error)),
        );
    }
    for a in attention {
        let (why, what_to_do) = certplan_planner::describe_attention(a, now);
        let kind = serde_json::to_value(&a.concern)
            .ok()
            .and_then(|v| v.get("kind").and_then(Value::as_str).map(str::to_owned))
            .unwrap_or_default();
        push("attention", a.address.to_string(), &kind, format!("{why}. To do: {what_to_do}"));
    }
    let until = certplan_core::later_by(now, within);
    for (address, r) in &state.resources {
        let renewing = plan
            .change_of(address)
            .is_some_and(|c| matches!(c.action, Action::Create | Action::Renew | Action::Replace));
        let Some(end) = r.not_after.filter(|end| *end <= until && !renewing) else { continue };
        let message = format!(
            "certificate {} expires on {} (in {} days), and no renewal is planned",
            r.certificate_id,
            end.format("%Y-%m-%d"),
            (end - now).num_days()
        );
        push("expiring", address.to_string(), "", message);
    }
    found
}

/// The condition of a run that failed before it could say anything else.
pub fn run_failed(error: &anyhow::Error) -> Vec<Condition> {
    let message = format!("the run failed: {}", ui::chain(error.as_ref()));
    vec![Condition {
        key: "run_failed::".to_owned(),
        kind: "run_failed",
        address: "-".to_owned(),
        message,
    }]
}

/// What was said on `day`: `LOCATION|KEY` for each webhook and condition.
#[derive(Debug, Default, Serialize, Deserialize)]
struct Sent {
    day: String,
    sent: BTreeSet<String>,
}

/// Posts to each webhook the conditions it was not told of today; returns how many
/// notifications were sent.
pub async fn send(
    blocks: &[NotifyConfig],
    found: impl Fn(&NotifyConfig) -> Vec<Condition>,
    now: DateTime<Utc>,
) -> usize {
    if blocks.is_empty() {
        return 0;
    }
    let path = Path::new(SENT_FILE);
    // Beijing's day, as the service's dates are.
    let day = now.with_timezone(&certplan_core::beijing()).format("%Y-%m-%d").to_string();
    let read: Option<Sent> = std::fs::read(path).ok().and_then(|b| serde_json::from_slice(&b).ok());
    let mut sent = read.filter(|s| s.day == day).unwrap_or(Sent { day, sent: BTreeSet::new() });
    let mut count = 0;
    for block in blocks {
        let new: Vec<Condition> = found(block)
            .into_iter()
            .filter(|c| !sent.sent.contains(&format!("{}|{}", block.location, c.key)))
            .collect();
        if new.is_empty() {
            continue;
        }
        match certplan_provider::webhook::post(&block.webhook, &body(block.format, &new)).await {
            Ok(()) => {
                count += 1;
                sent.sent.extend(new.iter().map(|c| format!("{}|{}", block.location, c.key)));
            }
            Err(e) => eprintln!(
                "warning: the notification to the webhook of the notify block at {} failed: {e}; the next run tries again",
                block.location
            ),
        }
    }
    let written =
        serde_json::to_vec_pretty(&sent).map_err(std::io::Error::other).and_then(|bytes| {
            std::fs::create_dir_all(".certplan")?;
            certplan_state::write_atomically(path, &bytes).map_err(std::io::Error::other)
        });
    if let Err(e) = written {
        eprintln!(
            "warning: cannot record the notifications sent in {SENT_FILE}: {e}; they may be sent again today"
        );
    }
    count
}

/// The message, shaped for `format`.
fn body(format: NotifyFormat, conditions: &[Condition]) -> Value {
    let dir = std::env::current_dir().map_or_else(|_| ".".to_owned(), |d| d.display().to_string());
    let mut text =
        format!("certplan ({dir}): {} needing a person", ui::plural(conditions.len(), "thing"));
    for c in conditions {
        text.push_str(&format!("\n- {}: {}", c.address, c.message));
    }
    match format {
        NotifyFormat::Json => json!({
            "source": "certplan",
            "text": text,
            "events": conditions.iter().map(|c| json!({
                "kind": c.kind, "address": c.address, "message": c.message
            })).collect::<Vec<_>>(),
        }),
        NotifyFormat::Wecom | NotifyFormat::Dingtalk => {
            json!({ "msgtype": "text", "text": { "content": text } })
        }
        NotifyFormat::Feishu => json!({ "msg_type": "text", "content": { "text": text } }),
        NotifyFormat::Slack => json!({ "text": text }),
    }
}
