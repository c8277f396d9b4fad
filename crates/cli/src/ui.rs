//! What more than one command shows, or what takes more than a line to show: plans, apply
//! events (as lines above a progress bar, or as JSON), reports, outputs, prompts and errors.
//! Data goes to stdout; progress, prompts and diagnostics to stderr.

use std::collections::BTreeMap;
use std::io::{BufRead, IsTerminal, Write};
use std::path::Path;
use std::time::Duration;

use anyhow::bail;
use certplan_core::{Action, Address, Attention, Plan, RemoteCertificate};
use certplan_engine::{Event, Report};
use certplan_parser::ConfigError;
use certplan_planner::migration::{Fate, Instance};
use certplan_provider::CredentialsError;
use certplan_state::StoredOutput;
use certplan_state::{TerraformAddress, TerraformState};
use chrono::{DateTime, Utc};
use serde_json::json;

use crate::settings::Output;
use crate::stdout::{out, outln};

/// Prints a plan: text, or the plan JSON.
pub fn print_plan(plan: &Plan, json: bool, output: Output) {
    if json {
        outln!("{}", certplan_planner::render_json(plan));
    } else {
        out!("{}", certplan_planner::render(plan, output.stdout_color));
    }
}

/// Shows the plan an apply is about to make: text, or one `planned_change` event per change.
pub fn announce_plan(plan: &Plan, json: bool, output: Output) {
    if !json {
        return print_plan(plan, false, output);
    }
    let rendered = certplan_planner::render_json(plan);
    for change in rendered["resource_changes"].as_array().into_iter().flatten() {
        if change["action"] != Action::NoOp.name() {
            emit(json!({ "type": "planned_change", "change": change }));
        }
    }
}

/// Ends an apply with what needs a person: the "Needs attention" section, or one `attention`
/// event per certificate.
pub fn show_attention(attention: &[Attention], now: DateTime<Utc>, json: bool, output: Output) {
    if json {
        for a in attention {
            emit(
                json!({ "type": "attention", "attention": certplan_planner::attention_json(a, now) }),
            );
        }
    } else if !attention.is_empty() {
        out!("\n{}", certplan_planner::render_attention(attention, now, output.stdout_color));
    }
}

/// Prints one JSON event line of `apply --json`.
pub fn emit(mut event: serde_json::Value) {
    event["@timestamp"] = json!(Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true));
    outln!("{event}");
}

/// Shows the engine's events: JSON lines, or words for a person (above a progress bar on a
/// terminal, as plain lines elsewhere: pipes, CI logs).
pub struct Events {
    json: bool,
    bar: Option<indicatif::ProgressBar>,
}

impl Events {
    pub fn new(plan: &Plan, json: bool) -> Self {
        let changes = plan
            .changes
            .iter()
            .map(|c| usize::from(c.action != Action::NoOp) + usize::from(c.importing.is_some()))
            .sum::<usize>();
        let bar = (!json && std::io::stderr().is_terminal()).then(|| {
            let bar = indicatif::ProgressBar::new(changes as u64);
            if let Ok(style) = indicatif::ProgressStyle::with_template(
                "{bar:30.green/dim} {pos}/{len} changes  [{elapsed}]",
            ) {
                bar.set_style(style);
            }
            bar.enable_steady_tick(Duration::from_millis(250));
            bar
        });
        Events { json, bar }
    }

    pub fn show(&self, event: Event<'_>) {
        if self.json {
            return match event_json(&event) {
                Some(line) => emit(line),
                None => eprintln!("{}", describe_event(event)),
            };
        }
        let Some(bar) = &self.bar else { return eprintln!("{}", describe_event(event)) };
        if matches!(
            event,
            Event::Completed { .. }
                | Event::Failed { .. }
                | Event::DeleteDeferred { .. }
                | Event::Imported { .. }
        ) {
            bar.inc(1);
        }
        bar.println(describe_event(event));
    }

    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

/// The event's JSON line; `None` for what only a person reads (on stderr).
fn event_json(event: &Event<'_>) -> Option<serde_json::Value> {
    Some(match *event {
        Event::Waiting { .. } => return None,
        Event::Started { address, action } => {
            json!({ "type": "apply_start", "address": address.to_string(), "action": action.name() })
        }
        Event::Imported { address, id } => json!({
            "type": "import_complete", "address": address.to_string(), "certificate_id": id
        }),
        Event::StillApplying { address, action, elapsed } => json!({
            "type": "apply_progress", "address": address.to_string(), "action": action.name(),
            "elapsed_seconds": elapsed
        }),
        Event::Completed { address, action, id, elapsed } => json!({
            "type": "apply_complete", "address": address.to_string(), "action": action.name(),
            "certificate_id": id, "elapsed_seconds": elapsed
        }),
        Event::Failed { address, action, error } => json!({
            "type": "apply_errored", "address": address.to_string(), "action": action.name(),
            "error": chain(error)
        }),
        Event::Deposed { address, id, error }
        | Event::DeleteDeferred { address, id, error, .. } => {
            json!({
                "type": "deposed", "address": address.to_string(), "certificate_id": id,
                "error": chain(error)
            })
        }
        Event::StillWaiting { address, id, elapsed, status } => json!({
            "type": "apply_progress", "address": address.to_string(), "certificate_id": id,
            "elapsed_seconds": elapsed, "status": status.name()
        }),
        Event::Issued { address, id, elapsed } => json!({
            "type": "issued", "address": address.to_string(), "certificate_id": id,
            "elapsed_seconds": elapsed
        }),
        Event::Recovered { address, id, error } => json!({
            "type": "recovered", "address": address.to_string(), "certificate_id": id,
            "error": chain(error)
        }),
        Event::Deploying { address, record_id, total, done } => json!({
            "type": "deploy_progress", "address": address.to_string(),
            "deploy_record_id": record_id, "total": total, "done": done
        }),
        Event::Deployed { address, deployment } => json!({
            "type": "deploy_complete", "address": address.to_string(),
            "deploy_record_id": deployment.record_id, "from": deployment.from,
            "to": deployment.to, "resources": deployment.resources
        }),
        Event::NotificationsOff { address, id, error } => json!({
            "type": "notifications_off", "address": address.to_string(), "certificate_id": id,
            "error": error.map(|e| chain(e))
        }),
        Event::DeployedInstances { address, deployment } => json!({
            "type": "deploy_complete", "address": address.to_string(),
            "deploy_record_id": deployment.record_id, "from": null,
            "to": deployment.to, "instances": deployment.instances.ids,
            "resources": deployment.resources
        }),
        Event::Exported { address, path, id, warnings } => json!({
            "type": "export_complete", "address": address.to_string(), "path": path,
            "certificate_id": id, "warnings": warnings
        }),
        Event::HookOutput { .. } => return None,
        Event::HookRan { address, path, error } => json!({
            "type": "hook_complete", "address": address.to_string(), "path": path,
            "error": error
        }),
    })
}

/// Says in words what the engine did.
pub fn describe_event(event: Event<'_>) -> String {
    let verbs = |action: Action| match action {
        Action::Create => ("Creating", "Creation"),
        Action::Renew => ("Renewing", "Renewal"),
        Action::Replace => ("Replacing", "Replacement"),
        Action::Delete => ("Destroying", "Destruction"),
        Action::Update => ("Modifying", "Modification"),
        Action::Forget => ("Forgetting", "Forgetting"),
        // A change that does nothing to the certificate runs only to import it.
        Action::NoOp => ("Importing", "Import"),
    };
    match event {
        Event::Started { address, action } => format!("{address}: {}...", verbs(action).0),
        Event::Imported { address, id } => format!("{address}: Import complete [id={id}]"),
        Event::StillApplying { address, action, elapsed } => {
            format!(
                "{address}: Still {}... [{elapsed:.0}s elapsed]",
                verbs(action).0.to_lowercase()
            )
        }
        Event::Completed { address, action, id, elapsed } => {
            let id = id.map(|id| format!(" [id={id}]")).unwrap_or_default();
            format!("{address}: {} complete after {elapsed:.1}s{id}", verbs(action).1)
        }
        Event::Failed { address, action, error } => {
            let failed = format!("{address}: {} failed: {}", verbs(action).1, chain(error));
            match error {
                certplan_engine::ChangeError::Provider(e) => match e.quota_advice() {
                    Some(advice) => format!("{failed}\n  To do: {advice}"),
                    None => failed,
                },
                _ => failed,
            }
        }
        Event::Deposed { address, id, error } => format!(
            "{address}: warning: the new certificate is in place, but the old one ({id}) could not be deleted: {error}\n  it is kept in state as deposed; the next apply deletes it"
        ),
        Event::DeleteDeferred { address, id, error, possible } => format!(
            "{address}: certificate {id} cannot be deleted yet ({error})\n  it can be deleted from {}; it is kept in state as deposed, and an apply from then on deletes it",
            possible.format("%Y-%m-%d %H:%M UTC")
        ),
        Event::Waiting { address, id, limit, records } => {
            let mut line = format!(
                "{address}: waiting up to {} for certificate {id} to be issued...",
                humantime::format_duration(limit)
            );
            for record in records {
                line.push_str(&format!(
                    "\n  to validate the domain, {}",
                    certplan_planner::describe_record(record)
                ));
            }
            line
        }
        Event::StillWaiting { address, id, elapsed, status } => format!(
            "{address}: still waiting for certificate {id} to be issued ({status})... [{elapsed:.0}s elapsed]"
        ),
        Event::Issued { address, id, elapsed } => {
            format!("{address}: certificate {id} issued after {elapsed:.0}s")
        }
        Event::Recovered { address, id, error } => {
            let what = match error {
                certplan_provider::Error::Api(_) => "the service answered with an error",
                _ => "the response was lost",
            };
            format!("{address}: {what} ({error}); found certificate {id} it created, recorded it")
        }
        Event::Deploying { address, record_id, total, done } => {
            format!(
                "{address}: deploying to {} (task {record_id})... {done} done",
                plural(total, "resource")
            )
        }
        Event::Deployed { address, deployment } => describe_deployment(address, deployment),
        Event::NotificationsOff { address, id, error: None } => format!(
            "{address}: switched off the expiry notifications of {id}, which the deployment moved everything off"
        ),
        Event::NotificationsOff { address, id, error: Some(e) } => format!(
            "warning: {address}: could not switch off the expiry notifications of {id} ({}); it may still mail about its expiry",
            chain(e)
        ),
        Event::DeployedInstances { address, deployment: d } => {
            if d.resources.is_empty() {
                format!("{address}: {} is deployed to {} already", d.to, d.instances)
            } else {
                describe_outcomes(address, &d.to, &d.resources, "instance")
            }
        }
        Event::Exported { address, path, id, warnings } => {
            let mut text = format!("{address}: exported certificate {id} to {}", path.display());
            for warning in warnings.iter() {
                text.push_str(&format!("\nwarning: {address}: {warning}"));
            }
            text
        }
        Event::HookOutput { address, stream, line } => {
            let stream = match stream {
                certplan_engine::HookStream::Stdout => "stdout",
                certplan_engine::HookStream::Stderr => "stderr",
            };
            format!("{address}: on_change ({stream}): {line}")
        }
        Event::HookRan { address, path, error } => match error {
            None => format!("{address}: on_change hook of {} succeeded", path.display()),
            Some(e) => format!("{address}: on_change hook of {} {e}", path.display()),
        },
    }
}

/// Says where a deployment put the new certificate, resource by resource.
fn describe_deployment(address: &Address, d: &certplan_core::Deployment) -> String {
    if d.resources.is_empty() {
        return format!("{address}: nothing to deploy: {} serves no {} resource", d.from, d.target);
    }
    describe_outcomes(address, &d.to, &d.resources, "resource")
}

/// `deployed ID to 2 of 3 resources`, then a line per cloud resource with its outcome.
fn describe_outcomes(
    address: &Address,
    to: &str,
    resources: &[certplan_core::DeployedResource],
    noun: &str,
) -> String {
    let failed = resources.iter().filter(|r| r.status.failed()).count();
    let (done, all) = (resources.len() - failed, plural(resources.len(), noun));
    let mut out = format!("{address}: deployed {to} to {done} of {all}");
    for r in resources {
        let error = r.error.as_deref().map(|e| format!(": {e}")).unwrap_or_default();
        out.push_str(&format!("\n  {r}: {}{error}", r.status.name()));
    }
    out
}

/// Says what an apply did: the summary line, or the `change_summary` event.
pub fn summarise_apply(report: &Report, json: bool) {
    let done = report.done;
    if json {
        emit(json!({
            "type": "change_summary",
            "imported": done.import,
            "added": done.add,
            "renewed": done.renew,
            "changed": done.change,
            "destroyed": done.destroy,
            "forgotten": done.forget,
            "failed": report.failed.len(),
            "not_started": report.not_started.len(),
            "delivered": report.delivery.done,
            "delivery_failed": report.delivery.failed.len(),
        }));
    } else {
        let forgotten =
            if done.forget > 0 { format!(", {} forgotten", done.forget) } else { String::new() };
        let delivered = match report.delivery.done {
            0 => String::new(),
            n => format!(" Delivery: {} done.", plural(n, "step")),
        };
        let imported =
            if done.import > 0 { format!("{} imported, ", done.import) } else { String::new() };
        outln!(
            "\nApply complete! Resources: {imported}{} added, {} renewed, {} changed, {} destroyed{forgotten}.{delivered}",
            done.add,
            done.renew,
            done.change,
            done.destroy
        );
    }
}

/// Says what an apply left to do: certificates waiting for validation, changes not started,
/// changes that failed.
/// Says what an apply left unfinished; `wait` is the command that waits for issuance.
pub fn report_unfinished(report: &Report, automatic: impl Fn(&Address) -> bool, wait: &str) {
    for (address, remote) in &report.pending {
        show_pending(address, remote, automatic(address), wait);
    }
    if !report.not_started.is_empty() {
        let not_started = plural(report.not_started.len(), "change");
        eprintln!("\nInterrupted: {not_started} not started:");
        for address in &report.not_started {
            eprintln!("  {address}");
        }
        eprintln!("Everything done so far is recorded; run apply again to finish.");
    } else if report.interrupted {
        eprintln!("\nInterrupted. Everything done so far is recorded; run apply again to finish.");
    }
    if !report.failed.is_empty() {
        eprintln!("\n{} failed:", plural(report.failed.len(), "change"));
        for (address, error) in &report.failed {
            eprintln!("  {address}: {}", chain(error));
        }
    }
    let delivery = &report.delivery;
    if !delivery.pending.is_empty() {
        eprintln!("\nDelivery left for a later apply:");
        for (address, why) in &delivery.pending {
            eprintln!("  {address}: {why}");
        }
    }
    if !delivery.failed.is_empty() {
        eprintln!("\nDelivery failed:");
        for (address, error) in &delivery.failed {
            eprintln!("  {address}: {}", chain(error));
        }
    }
}

/// Says what a certificate not issued yet waits for.
fn show_pending(address: &Address, remote: &RemoteCertificate, automatic: bool, wait: &str) {
    eprintln!("\n{address} ({}) is not issued yet:", remote.id);
    if automatic {
        eprintln!("  waiting for the CA (automatic DNS validation adds its record itself)");
    } else {
        for record in &remote.validation {
            eprintln!("  to validate the domain, {}", certplan_planner::describe_record(record));
        }
    }
    eprintln!("  the next plan shows its status; `{wait}` waits for issuance");
}

/// Counts `n` of `thing` in words: `1 change`, `2 changes`.
pub fn plural(n: usize, thing: &str) -> String {
    if n == 1 { format!("1 {thing}") } else { format!("{n} {thing}s") }
}

/// Shows the outputs an apply recorded: an `outputs` event, or `name = value` lines.
pub fn show_outputs(outputs: &BTreeMap<String, StoredOutput>, json: bool) {
    if json {
        emit(json!({ "type": "outputs", "outputs": outputs_json(outputs) }));
    } else if !outputs.is_empty() {
        outln!("\nOutputs:\n");
        for (name, o) in outputs {
            outln!("{name} = {}", shown_output(o, false));
        }
    }
}

/// An output's value as text; a sensitive one only when `reveal`.
pub fn shown_output(o: &StoredOutput, reveal: bool) -> String {
    if o.sensitive && !reveal {
        "(sensitive value)".to_owned()
    } else {
        match &o.value {
            serde_json::Value::String(s) => format!("{s:?}"),
            other => other.to_string(),
        }
    }
}

/// The outputs as JSON: name => `{value, sensitive}`, a sensitive value `null`.
pub fn outputs_json(outputs: &BTreeMap<String, StoredOutput>) -> serde_json::Value {
    outputs
        .iter()
        .map(|(n, o)| {
            let value = if o.sensitive { serde_json::Value::Null } else { o.value.clone() };
            (n.clone(), json!({ "value": value, "sensitive": o.sensitive }))
        })
        .collect::<serde_json::Map<_, _>>()
        .into()
}

/// What a command asks for confirmation of, and how to give it without asking.
pub struct Confirmation<'a> {
    /// The command, e.g. `apply`.
    pub command: &'a str,
    pub question: &'a str,
    /// What to run instead, e.g. `certplan apply --auto-approve`, after `then run`.
    pub unattended: &'a str,
    /// `--input=false`: never ask.
    pub may_ask: bool,
}

/// Asks for `yes` on the terminal; refuses to guess when there is no terminal to ask.
pub fn confirm(c: &Confirmation<'_>) -> anyhow::Result<bool> {
    let Confirmation { command, question, unattended, may_ask } = c;
    if !may_ask {
        bail!(
            "{command} needs confirmation, and --input=false forbids asking: review what it would do, then run `{unattended}`"
        );
    }
    if !std::io::stdin().is_terminal() {
        bail!(
            "{command} needs confirmation, and standard input is not a terminal: review what it would do, then run `{unattended}`"
        );
    }
    eprint!("\n{question}\n  Only 'yes' will be accepted to approve.\n\n  Enter a value: ");
    std::io::stderr().flush()?;
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer)?;
    Ok(answer.trim() == "yes")
}

/// Writes an error with its causes, each once: `what: why: the deeper why`. A cause that the
/// message before it ends with (an error that writes its source into its own message) is not
/// repeated.
pub fn chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut cause = error.source();
    while let Some(c) = cause {
        let shown = c.to_string();
        if !text.ends_with(&shown) {
            text.push_str(": ");
            text.push_str(&shown);
        }
        cause = c.source();
    }
    text
}

/// Prints an error with what to do about it.
pub fn report_error(error: &anyhow::Error, output: Output) {
    if let Some(config) = error.downcast_ref::<ConfigError>() {
        eprintln!("{}", config.render(output.stderr_color));
        return;
    }
    eprintln!("error: {}", chain(error.as_ref()));
    if error.downcast_ref::<CredentialsError>().is_some() {
        eprintln!(
            "hint: to try certplan without an account, add --sandbox to run against an embedded sandbox"
        );
    }
}

/// Says what `import --from-terraform` adopted (from `source`), what it did not and why, and
/// how to hand over on Terraform's side.
pub fn report_terraform_import(
    source: &str,
    terraform: &TerraformState,
    instances: &[Instance<'_>],
    written: Option<(&Path, &str, usize)>,
    dry_run: bool,
) {
    let certificates =
        plural(terraform.certificates.len(), "tencentcloud_ssl_free_certificate instance");
    let ignored = match terraform.ignored {
        0 => String::new(),
        1 => "; ignored 1 resource of another type".to_owned(),
        n => format!("; ignored {n} resources of other types"),
    };
    outln!("{source}: {certificates}{ignored}.");
    let list = |title: &str, lines: Vec<String>| {
        if !lines.is_empty() {
            outln!("\n{title} ({}):", lines.len());
            for line in lines {
                outln!("  {line}");
            }
        }
    };
    let from = |i: &Instance<'_>, address: &Address| {
        let terraform = i.terraform.address.to_string();
        if terraform == address.to_string() {
            String::new()
        } else {
            format!(" (from {terraform})")
        }
    };
    list(
        if dry_run { "Would adopt" } else { "Adopted" },
        instances
            .iter()
            .filter_map(|i| match &i.fate {
                Fate::Adopt { address, remote: Some(remote), .. } => {
                    let renewal = if remote.id == i.terraform.id {
                        String::new()
                    } else {
                        format!(", which renewed {} outside Terraform", i.terraform.id)
                    };
                    Some(format!(
                        "{address}{}: certificate {} ({}, {}){renewal}",
                        from(i, address),
                        remote.id,
                        remote.domain,
                        remote.status
                    ))
                }
                _ => None,
            })
            .collect(),
    );
    list(
        "Already managed by certplan, left as they are",
        instances
            .iter()
            .filter_map(|i| match &i.fate {
                Fate::Managed(address) => Some(format!(
                    "{}: certificate {} is recorded as {address}",
                    i.terraform.address, i.terraform.id
                )),
                _ => None,
            })
            .collect(),
    );
    list(
        "Gone from the cloud, not adopted",
        instances
            .iter()
            .filter(|i| matches!(i.fate, Fate::Gone))
            .map(|i| {
                format!(
                    "{}: certificate {} no longer exists (deleted outside Terraform); `terraform state rm` it there",
                    i.terraform.address, i.terraform.id
                )
            })
            .collect(),
    );
    list(
        "Not adopted",
        instances
            .iter()
            .filter_map(|i| match &i.fate {
                Fate::Left(why) => Some(format!("{}: {why}", i.terraform.address)),
                _ => None,
            })
            .collect(),
    );
    if let Some((file, text, count)) = written {
        let blocks = plural(count, "resource block");
        if dry_run {
            outln!("\nWould write {blocks} to {}:\n", file.display());
            crate::stdout::out!("{text}");
        } else {
            outln!("\nWrote {blocks} to {}.", file.display());
        }
    }
    let handed: Vec<&TerraformAddress> = instances
        .iter()
        .filter(|i| matches!(i.fate, Fate::Adopt { .. } | Fate::Managed(_)))
        .map(|i| &i.terraform.address)
        .collect();
    if !handed.is_empty() {
        outln!(
            "\nTo hand {} over to certplan, so that `terraform destroy` cannot delete what certplan now renews, run in the Terraform directory{}:",
            if handed.len() == 1 { "it" } else { "them" },
            if dry_run { " (after the import itself)" } else { "" }
        );
        for address in &handed {
            outln!("  terraform state rm {}", shell_quote(&address.to_string()));
        }
        outln!(
            "Then remove {} from the Terraform configuration (or, with Terraform 1.7+, replace\neach with `removed {{ from = ADDRESS  lifecycle {{ destroy = false }} }}`).",
            if handed.len() == 1 { "its resource block" } else { "their resource blocks" }
        );
    }
    if dry_run {
        outln!("\nDry run: nothing was written.");
    }
}

/// Quotes `text` for a POSIX shell.
fn shell_quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', r"'\''"))
}

#[cfg(test)]
mod tests {
    use super::chain;

    #[test]
    fn an_error_is_shown_with_each_cause_once() {
        let disk_full = || std::io::Error::other("no space left on device");
        let kept = anyhow::Error::new(disk_full()).context("cannot write certs/www/cert.pem");
        assert_eq!(
            chain(kept.as_ref()),
            "cannot write certs/www/cert.pem: no space left on device"
        );
        // An error that writes its cause into its own message too: the cause is not repeated.
        let quoted = anyhow::Error::new(disk_full())
            .context(format!("cannot write certs/www/cert.pem: {}", disk_full()));
        assert_eq!(
            chain(quoted.as_ref()),
            "cannot write certs/www/cert.pem: no space left on device"
        );
        let outer = quoted.context("export to certs/www");
        assert_eq!(
            chain(outer.as_ref()),
            "export to certs/www: cannot write certs/www/cert.pem: no space left on device"
        );
    }
}
