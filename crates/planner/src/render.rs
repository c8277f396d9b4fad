//! Renders a plan for people, in Terraform's visual language: `+` create, `~` renew, `-/+`
//! replace, `-` destroy, every change with its reason, and for every unchanged certificate when
//! it expires and when it will be renewed — so "nothing to do" is always explained.

use std::fmt::Write as _;

use certplan_core::{
    Argument, Attention, AttributeValue, CertStatus, Concern, DvAuthMethod, ValidationRecord,
};
use chrono::{DateTime, Utc};
use similar::{ChangeTag, TextDiff};

use crate::{Action, DeliveryChange, DeliveryWork, DriftKind, Plan, Reason, ResourceChange};

/// Renders `plan`; `color` adds ANSI colours (for terminals only).
pub fn render(plan: &Plan, color: bool) -> String {
    let paint = Paint(color);
    let mut out = String::new();
    if !plan.refreshed {
        out.push_str(
            "Note: the cloud was not read (--refresh=false); this plan trusts the state file.\n\n",
        );
    }
    if !plan.drift.is_empty() {
        out.push_str(&render_drift(plan, color));
        out.push('\n');
    }
    for (from, to) in &plan.moved {
        let _ = writeln!(out, "  # {from} has moved to {to}");
    }
    if !plan.moved.is_empty() {
        out.push('\n');
    }
    let changes: Vec<&ResourceChange> = plan.changes.iter().filter(|c| shown(c)).collect();
    let unchanged: Vec<&ResourceChange> = plan.changes.iter().filter(|c| !shown(c)).collect();

    let delivering = plan.delivery.iter().any(|d| !d.once_issued);
    if changes.is_empty() && delivering {
        out.push_str("certplan will perform the following actions:\n\n");
        render_delivery(&mut out, plan);
        let _ = writeln!(out, "\n{} {}.", paint.bold("Plan:"), deliveries(plan.summary().deliver));
    } else if changes.is_empty() && !plan.moved.is_empty() {
        let _ = writeln!(
            out,
            "{} Only renames in the state: nothing will be applied for or deleted.",
            paint.bold("No changes to certificates.")
        );
    } else if changes.is_empty() {
        let waiting = plan.summary().waiting;
        out.push_str(&paint.bold("No changes."));
        out.push_str(&if !plan.attention.is_empty() {
            format!(
                " Nothing to apply, but {} attention (below).\n",
                match plan.attention.len() {
                    1 => "1 certificate needs".to_owned(),
                    n => format!("{n} certificates need"),
                }
            )
        } else if plan.changes.is_empty() {
            " No certificates are declared or recorded.\n".to_owned()
        } else if waiting > 0 {
            format!(
                " Nothing to apply, but {} for validation (below): what it needs happens outside certplan.\n",
                if waiting == 1 { "1 certificate is waiting".to_owned() } else { format!("{waiting} certificates are waiting") }
            )
        } else {
            " Your certificates match the configuration.\n".to_owned()
        });
    } else {
        out.push_str("certplan will perform the following actions:\n\n");
        for change in &changes {
            render_change(&mut out, change, plan.created_at, paint);
            out.push('\n');
        }
        let s = plan.summary();
        let forget = if s.forget > 0 { format!(", {} to forget", s.forget) } else { String::new() };
        let waiting = if s.waiting > 0 {
            format!(", {} waiting for validation", s.waiting)
        } else {
            String::new()
        };
        if !plan.delivery.is_empty() {
            render_delivery(&mut out, plan);
            out.push('\n');
        }
        let deliver =
            if s.deliver > 0 { format!(", {}", deliveries(s.deliver)) } else { String::new() };
        let import = if s.import > 0 { format!("{} to import, ", s.import) } else { String::new() };
        let _ = writeln!(
            out,
            "{} {import}{} to add, {} to renew, {} to change, {} to destroy{forget}{waiting}{deliver}.",
            paint.bold("Plan:"),
            s.add,
            s.renew,
            s.change,
            s.destroy
        );
        for q in &plan.quota {
            let _ = writeln!(out, "{}", describe_quota(q));
        }
    }
    if changes.is_empty() && !delivering && !plan.delivery.is_empty() {
        out.push('\n');
        render_delivery(&mut out, plan);
    }
    if !unchanged.is_empty() {
        out.push_str(if changes.is_empty() && !delivering { "\n" } else { "\nUnchanged:\n" });
        let width = unchanged.iter().map(|c| c.address.to_string().len()).max().unwrap_or(0);
        for c in unchanged {
            let id = c.before.as_ref().map_or("", |b| b.id.as_str());
            let _ = writeln!(
                out,
                "  {:width$}  {id:8}  {}",
                c.address.to_string(),
                describe(&c.reason, plan.created_at)
            );
            // Automatic validation adds its record itself: nothing for the user to do.
            if let Reason::Pending { records, automatic: false, .. } = &c.reason {
                for record in records {
                    let _ = writeln!(out, "      {}", describe_record(record));
                }
            }
        }
    }
    if !plan.attention.is_empty() {
        out.push('\n');
        out.push_str(&render_attention(&plan.attention, plan.created_at, color));
    }
    out
}

/// Renders the "Needs attention" section: each certificate, why, by when HTTPS breaks, and
/// what to do.
pub fn render_attention(attention: &[Attention], now: DateTime<Utc>, color: bool) -> String {
    let paint = Paint(color);
    let mut out = format!("{}\n", paint.color(RED, &paint.bold("Needs attention:")));
    for a in attention {
        let (why, to_do) = describe_attention(a, now);
        let _ = writeln!(out, "  {} ({}): {why}", a.address, a.certificate);
        let _ = writeln!(out, "    HTTPS breaks: {}", breaks(a.breaks_at, now));
        let _ = writeln!(out, "    To do: {to_do}");
    }
    out
}

/// When HTTPS breaks, in words.
fn breaks(at: Option<DateTime<Utc>>, now: DateTime<Utc>) -> String {
    match at {
        Some(at) if at <= now => format!("{} (already expired)", at.format("%Y-%m-%d")),
        Some(at) => format!("{} ({})", at.format("%Y-%m-%d"), in_days((at - now).num_days())),
        None => "not known: the certificate serving is not known to certplan".to_owned(),
    }
}

/// Says why a certificate needs attention, and what to do.
pub fn describe_attention(a: &Attention, now: DateTime<Utc>) -> (String, String) {
    let address = &a.address;
    let id = &a.certificate;
    let date = |t: Option<DateTime<Utc>>| {
        t.map_or("its expiry".to_owned(), |t| t.format("%Y-%m-%d").to_string())
    };
    match &a.concern {
        Concern::ValidationFailed { failures } => (
            format!("domain validation failed for {failures} certificates in a row; certplan does not apply again by itself, as the cause is outside it"),
            format!("fix what validation needs (the DNS record or file, the domain's DNS), then run `certplan apply --replace {address}`"),
        ),
        Concern::AwaitingValidation { method, deadline } => {
            let by = match method {
                DvAuthMethod::File => "a file that a person publishes",
                _ => "a DNS record that a person adds",
            };
            let due = deadline.map(|d| format!(", due by {}", d.format("%Y-%m-%d"))).unwrap_or_default();
            (
                format!("waiting for domain validation by {by}{due}"),
                "publish the validation record that `certplan plan` lists for it; the next apply records the certificate once it is issued (`certplan apply --wait` waits for it)".to_owned(),
            )
        }
        Concern::LeftBehind { resources } => {
            let list: Vec<String> = resources.iter().map(ToString::to_string).collect();
            (
                format!("the certificate being replaced also serves {}, which the deploy block does not declare: they keep it, and break when it expires", list.join(", ")),
                format!("declare them in the deploy block of {address} (its resource types and regions), or move them to the new certificate yourself"),
            )
        }
        Concern::LeftInOtherAccount { resources, provider } => {
            let list: Vec<String> = resources.iter().map(ToString::to_string).collect();
            (
                format!("{address} moved to another account, and its certificate in {provider}'s still serves {}: no deployment reaches them from the new account, they keep it, and break when it expires", list.join(", ")),
                format!("move them to a certificate of their own account yourself (or declare a resource for them with provider = {provider}); certplan deletes {id} once nothing uses it"),
            )
        }
        Concern::FreeQuotaExceeded { used, planned, limit } => (
            format!("applying for it would pass its account's yearly quota of free certificates: {used} applied for this year, {planned} in this plan, of {limit}; the service may refuse it"),
            "wait for the new year; delete free certificates the account no longer uses (`certplan certificates` lists them); or order it from an ACME CA instead (an acme_certificate, uploaded and delivered the same way)".to_owned(),
        ),
        Concern::Expired => (
            format!("the certificate serving expired on {}: HTTPS is broken now", date(a.breaks_at)),
            "certplan applies for a new certificate; HTTPS works again once it is issued and delivered (`certplan apply --wait` waits for it)".to_owned(),
        ),
        Concern::ExpiresBeforeRenewal { validation_days } => {
            let until = a.breaks_at.map_or(0, |t| (t - now).num_days());
            (
                format!("it expires on {} and validation may take {}: the renewal may not be done in time", date(a.breaks_at), days(*validation_days)),
                format!("make sure validation of {id} completes within {} (renew now with `certplan apply --replace {address}` if needed), and set renew_before well above {}", days(until.max(0)), days(*validation_days)),
            )
        }
        Concern::DueAtIssuance { applied_at } => (
            format!(
                "the service issued it on {} already due (expired, or within renew_before): its dates, or this machine's clock, are off, and a new certificate would be the same — on every run, spending the free quota",
                applied_at.format("%Y-%m-%d")
            ),
            format!("compare this machine's clock with the service's dates (`certplan state show {address}`); once they agree, `certplan apply --replace {address}`"),
        ),
        Concern::ReplacedAgain { because } => (
            format!("applied for because the certificate before it was {because}, it is {because} too, before it was ever issued: applying again on every run would spend the free quota"),
            format!("find out what makes its certificates {because} (the console's operation log, another tool deleting or cancelling them), then `certplan apply --replace {address}`"),
        ),
        Concern::RateLimited { until } => (
            format!(
                "the CA refuses to order it for its rate limits until {}, and {}",
                until.format("%Y-%m-%d %H:%M UTC"),
                match a.breaks_at {
                    Some(_) => format!("the certificate serving expires on {}", date(a.breaks_at)),
                    None => "nothing serves the site yet".to_owned(),
                }
            ),
            "certplan orders again once the time has come; if this is Let's Encrypt's duplicate-certificate limit (5 a week for the same names), change the names or wait — see the CA's rate-limit documentation".to_owned(),
        ),
        Concern::BindingsUnknown { error } => (
            format!("the service could not say where this certificate is bound ({error}), so what its renewal leaves behind is not known"),
            "run `certplan plan` again; if it keeps failing, check the certificate's bound resources in the console".to_owned(),
        ),
    }
}

fn days(n: i64) -> String {
    if n == 1 { "1 day".to_owned() } else { format!("{n} days") }
}

/// Whether a change is shown as such: something happens to the certificate, or it is imported.
fn shown(change: &ResourceChange) -> bool {
    change.action != Action::NoOp || change.importing.is_some()
}

fn deliveries(n: usize) -> String {
    if n == 1 { "1 delivery".to_owned() } else { format!("{n} deliveries") }
}

/// Renders the delivery work, each with why; work that waits for issuance says so.
fn render_delivery(out: &mut String, plan: &Plan) {
    out.push_str("Delivery:\n");
    for d in &plan.delivery {
        let _ = writeln!(
            out,
            "  {} {}",
            if d.once_issued { " " } else { "~" },
            describe_delivery(d, plan)
        );
    }
}

/// Says what one piece of delivery work does, and why.
pub fn describe_delivery(d: &DeliveryChange, plan: &Plan) -> String {
    let address = &d.address;
    let when = if d.once_issued { " once issued" } else { "" };
    match &d.work {
        DeliveryWork::Deploy { from, to, target } => {
            let to = to.as_deref().map_or("the new certificate".to_owned(), str::to_owned);
            format!("{address}: will deploy {to} to {target}{when}, taking over from {from}")
        }
        DeliveryWork::DeployInstances { to, instances } => {
            let to = to.as_deref().map_or("the new certificate".to_owned(), str::to_owned);
            format!("{address}: will deploy {to} to {instances}{when} (a first deployment)")
        }
        DeliveryWork::PublishValidation { records } => {
            let list: Vec<String> = records.iter().map(ToString::to_string).collect();
            format!("{address}: will publish {} for its validation", list.join(", "))
        }
        DeliveryWork::Resume { from, to, record_id, .. } => match record_id {
            Some(id) => format!(
                "{address}: will follow deployment {id} ({from} to {to}), not seen to its end"
            ),
            None => format!(
                "{address}: will find and follow the deployment of {to} (from {from}), whose task id was not received"
            ),
        },
        DeliveryWork::Retry { record_id, failed, .. } => {
            let list: Vec<String> = failed
                .iter()
                .map(|r| match &r.error {
                    Some(e) => format!("{r}: {e}"),
                    None => format!("{r}: {}", r.status.name()),
                })
                .collect();
            let n = failed.len();
            format!(
                "{address}: will retry {n} failed deployment{} of deployment {record_id} ({})",
                if n == 1 { "" } else { "s" },
                list.join("; ")
            )
        }
        DeliveryWork::Export { path, reason } => {
            let hook = plan
                .change_of(address)
                .and_then(|c| c.delivery.exports.iter().find(|e| &e.path == path))
                .and_then(|e| e.on_change.as_deref())
                .map_or(String::new(), |cmd| format!(", then run: {cmd}"));
            format!("{address}: will export to {}{when} ({reason}){hook}", path.display())
        }
        DeliveryWork::Hook { path, error } => match error {
            Some(e) => format!(
                "{address}: will run the on_change hook of {} again (it failed: {e})",
                path.display()
            ),
            None => format!(
                "{address}: will run the on_change hook of {} (it has not run for the files in place)",
                path.display()
            ),
        },
    }
}

/// Renders what changed in the cloud outside certplan (what `refresh` shows), nothing else.
pub fn render_drift(plan: &Plan, color: bool) -> String {
    let mut out = Paint(color).bold("Objects have changed outside of certplan:");
    out.push_str("\n\n");
    for d in &plan.drift {
        let _ = writeln!(out, "  # {} ({}) {}", d.address, d.id, describe_drift(&d.kind));
    }
    out
}

fn describe_drift(kind: &DriftKind) -> String {
    let text = |v: &Option<String>| v.as_deref().map_or("(none)".to_owned(), |a| format!("{a:?}"));
    let number = |v: &Option<u64>| v.unwrap_or(0).to_string();
    match kind {
        DriftKind::Deleted => "was deleted".into(),
        DriftKind::Renewed { to } => {
            format!("was renewed outside certplan: {to} takes its place, without a new application")
        }
        DriftKind::Reissued { to } => {
            format!(
                "was reissued outside certplan: {to} takes its place, without a new application"
            )
        }
        DriftKind::Status { from, to } => format!("is now {to} (was {from})"),
        DriftKind::Alias { from, to } => {
            format!("alias changed from {} to {}", text(from), text(to))
        }
        DriftKind::Project { from, to } => {
            format!("project_id changed from {} to {}", number(from), number(to))
        }
    }
}

/// Says what to publish for a validation record.
pub fn describe_record(record: &ValidationRecord) -> String {
    match record {
        ValidationRecord::Dns { name, record_type, value } => {
            format!("add DNS record: {name}  {record_type}  {value}")
        }
        ValidationRecord::File { url, content } => {
            format!("serve {url} with the content: {content}")
        }
    }
}

fn render_change(out: &mut String, change: &ResourceChange, now: DateTime<Utc>, paint: Paint) {
    let (verb, symbol, code) = match change.action {
        Action::Create => ("will be created", "  +", GREEN),
        Action::Renew => ("will be renewed", "  ~", YELLOW),
        Action::Update => ("will be updated in place", "  ~", YELLOW),
        Action::Replace => ("must be replaced", "-/+", YELLOW),
        Action::Delete => ("will be destroyed", "  -", RED),
        Action::Forget => ("will be forgotten: certplan stops managing it", "  .", ""),
        Action::NoOp if change.importing.is_some() => ("will be imported", "   ", ""),
        Action::NoOp => return,
    };
    let name = match &change.deposed {
        Some(id) => format!("# {} (deposed certificate {id})", change.address),
        None => format!("# {}", change.address),
    };
    let _ = writeln!(out, "  {} {verb} ({})", paint.bold(&name), describe(&change.reason, now));
    if let Some(id) = change.importing.as_ref().filter(|_| change.action != Action::NoOp) {
        let _ = writeln!(out, "  # (imported from {id:?})");
    }
    if matches!(change.action, Action::Create | Action::Renew | Action::Replace)
        && let Some(args) = &change.after
        && let Some(acme) = &args.acme
    {
        let _ = writeln!(out, "  # {}", describe_order(&args.domain, acme));
    }
    // An imported certificate waiting for validation: what to publish, as for any other.
    if let Reason::Pending { records, automatic: false, .. } = &change.reason {
        for record in records {
            let _ = writeln!(out, "      {}", describe_record(record));
        }
    }
    if change.deposed.is_some() || change.action == Action::Forget {
        return;
    }
    let _ = writeln!(
        out,
        "{} resource \"{}\" \"{}\" {{",
        if code.is_empty() { symbol.to_owned() } else { paint.color(code, symbol) },
        change.address.resource_type,
        change.address.name
    );

    let before = change.before.as_ref();
    let before_attrs = change.before_attributes();
    let after_attrs = change.after_attributes();
    let forcing: &[Argument] = match &change.reason {
        Reason::ArgumentsChanged { forcing } => forcing,
        _ => &[],
    };

    let mut lines: Vec<Line> = Vec::new();
    match change.action {
        Action::Create => {
            lines.extend(after_attrs.iter().map(|(n, v)| Line::added(n, v.to_string())));
            lines.push(Line::added("id", KNOWN_AFTER_APPLY.into()));
            lines.push(Line::added("not_after", KNOWN_AFTER_APPLY.into()));
        }
        Action::Delete => {
            lines.extend(before_attrs.iter().map(|(n, v)| Line::removed(n, v.to_string())));
            if let Some(b) = before {
                lines.push(Line::removed("id", format!("{:?}", b.id)));
            }
        }
        Action::Renew | Action::Replace | Action::Update => {
            for (name, value) in &after_attrs {
                let old = before_attrs.iter().find(|(n, _)| n == name).map(|(_, v)| v);
                lines.push(match old {
                    Some(old) if old == value => Line::same(name, value.to_string()),
                    Some(old) => {
                        Line::changed(name, old, value, forcing.iter().any(|f| f.name() == *name))
                    }
                    None => Line::added(name, value.to_string())
                        .forcing(forcing.iter().any(|f| f.name() == *name)),
                });
            }
            for (name, value) in &before_attrs {
                if !after_attrs.iter().any(|(n, _)| n == name) {
                    lines.push(
                        Line::removed(name, value.to_string())
                            .forcing(forcing.iter().any(|f| f.name() == *name)),
                    );
                }
            }
            if let Some(b) = before.filter(|_| change.action == Action::Update) {
                lines.push(Line::same("id", format!("{:?}", b.id)));
            } else if let Some(b) = before {
                lines.push(Line::to_be_known("id", format!("{:?}", b.id)));
                if let Some(end) = b.not_after {
                    let end = end.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
                    lines.push(Line::to_be_known("not_after", format!("{end:?}")));
                }
            }
        }
        // An import alone: the certificate as it will be recorded.
        Action::NoOp => {
            lines.extend(before_attrs.iter().map(|(n, v)| Line::same(n, v.to_string())));
            if let Some(b) = before {
                lines.push(Line::same("id", format!("{:?}", b.id)));
            }
        }
        Action::Forget => {}
    }

    let width = lines.iter().map(|l| l.name.len()).max().unwrap_or(0);
    for line in lines {
        let (marker, code) = match line.kind {
            Kind::Same => (" ", ""),
            Kind::Added => ("+", GREEN),
            Kind::Removed => ("-", RED),
            Kind::Changed => ("~", YELLOW),
        };
        let note =
            if line.forces { paint.color(RED, " # forces replacement") } else { String::new() };
        let marker = if code.is_empty() { marker.to_owned() } else { paint.color(code, marker) };
        match line.diff {
            Some(diff) => {
                let _ = writeln!(out, "      {marker} {:width$} = <<-EOT{note}", line.name);
                for d in diff {
                    let _ = writeln!(out, "          {d}");
                }
                let _ = writeln!(out, "        EOT");
            }
            None => {
                let _ = writeln!(out, "      {marker} {:width$} = {}{note}", line.name, line.value);
            }
        }
    }
    out.push_str("    }\n");
}

const KNOWN_AFTER_APPLY: &str = "(known after apply)";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Same,
    Added,
    Removed,
    Changed,
}

#[derive(Debug)]
struct Line {
    name: String,
    kind: Kind,
    value: String,
    /// A line-by-line diff, for multi-line values.
    diff: Option<Vec<String>>,
    forces: bool,
}

impl Line {
    fn new(name: &str, kind: Kind, value: String) -> Self {
        Line { name: name.to_owned(), kind, value, diff: None, forces: false }
    }
    fn same(name: &str, value: String) -> Self {
        Line::new(name, Kind::Same, value)
    }
    fn added(name: &str, value: String) -> Self {
        Line::new(name, Kind::Added, value)
    }
    fn removed(name: &str, value: String) -> Self {
        Line::new(name, Kind::Removed, value)
    }
    fn to_be_known(name: &str, old: String) -> Self {
        Line::new(name, Kind::Changed, format!("{old} -> {KNOWN_AFTER_APPLY}"))
    }
    fn changed(name: &str, old: &AttributeValue, new: &AttributeValue, forces: bool) -> Self {
        let mut line = Line::new(name, Kind::Changed, format!("{old} -> {new}")).forcing(forces);
        if let (AttributeValue::Text(a), AttributeValue::Text(b)) = (old, new)
            && (a.contains('\n') || b.contains('\n'))
        {
            line.diff = Some(text_diff(a, b));
        }
        line
    }
    fn forcing(mut self, forces: bool) -> Self {
        self.forces = forces;
        self
    }
}

/// Diffs two multi-line values line by line, as `  same`, `- old`, `+ new`.
fn text_diff(old: &str, new: &str) -> Vec<String> {
    TextDiff::from_lines(old, new)
        .iter_all_changes()
        .map(|change| {
            let sign = match change.tag() {
                ChangeTag::Equal => ' ',
                ChangeTag::Delete => '-',
                ChangeTag::Insert => '+',
            };
            format!("{sign} {}", change.value().trim_end_matches('\n'))
        })
        .collect()
}

/// Explains a reason in words, with dates as `YYYY-MM-DD` (UTC).
/// How an ACME certificate will be obtained: "will be ordered from Let's Encrypt (dns-01 via
/// Tencent Cloud DNS, 2 records), then uploaded to the account".
pub fn describe_order(common_name: &str, acme: &certplan_core::AcmeArgs) -> String {
    let names = acme.names(common_name);
    let published = match &acme.challenge {
        certplan_core::Challenge::Dns { .. } => {
            let n = names.len();
            format!("{n} record{}", if n == 1 { "" } else { "s" })
        }
        certplan_core::Challenge::Http { .. } => {
            let n = names.len();
            format!("{n} file{}", if n == 1 { "" } else { "s" })
        }
    };
    format!(
        "will be ordered from {} ({}, {published}), then uploaded to the account",
        acme.ca_name(),
        acme.challenge
    )
}

pub(crate) fn describe(reason: &Reason, now: DateTime<Utc>) -> String {
    let date = |t: &DateTime<Utc>| t.format("%Y-%m-%d").to_string();
    match reason {
        Reason::NotInState => "not yet applied for".into(),
        Reason::Gone { id } => format!("certificate {id} no longer exists in the cloud"),
        Reason::Unusable { id, status } => format!("certificate {id} is {status} in the cloud"),
        Reason::ValidationTimedOut { id, deadline } => format!(
            "domain validation of certificate {id} was not completed by its deadline, {}",
            date(deadline)
        ),
        Reason::ValidationFailedRepeatedly { id, failures } => format!(
            "validation failed for {failures} certificates in a row (the last, {id}); certplan applies again only when asked: publish the record or fix the domain's DNS, then `certplan apply --replace ADDRESS`"
        ),
        Reason::ReplaceRequested => "replacement requested with --replace".into(),
        Reason::ArgumentsChanged { forcing } | Reason::AttributesChanged { changed: forcing } => {
            let names: Vec<&str> = forcing.iter().map(|a| a.name()).collect();
            format!("{} changed", names.join(", "))
        }
        Reason::Expired { not_after } => format!("expired on {}", date(not_after)),
        Reason::Expiring { not_after, days_left, renew_before } => format!(
            "expires {} on {}, renew_before = {renew_before}",
            in_days(*days_left),
            date(not_after)
        ),
        Reason::NotInConfig { gone: false } => "not in configuration".into(),
        Reason::NotInConfig { gone: true } => {
            "not in configuration; already deleted in the cloud, so it is only forgotten".into()
        }
        Reason::Removed { location } => {
            format!("removed block at {location}; the certificate stays in the cloud")
        }
        Reason::Deposed { since, last_error, gone, .. } => {
            let left = format!("left over from a replacement on {}", date(since));
            if *gone {
                format!("{left}; already deleted in the cloud, so it is only forgotten")
            } else {
                format!("{left}; the last delete failed: {last_error}")
            }
        }
        Reason::Pending { status, deadline, automatic, .. } => {
            let what = if *automatic {
                "waiting for automatic DNS validation".to_owned()
            } else {
                "waiting for domain validation".to_owned()
            };
            let what = match status {
                CertStatus::Pending | CertStatus::DnsRecordAdded => what,
                other => format!("{what} ({other})"),
            };
            match deadline {
                Some(d) => format!("{what}, due by {}", date(d)),
                None => what,
            }
        }
        Reason::UpToDate { not_after, renews_at } => format!(
            "expires {} ({}); renews from {}",
            date(not_after),
            in_days((*not_after - now).num_days()),
            date(renews_at)
        ),
        Reason::Waiting { status } => {
            format!("{status} in the cloud; nothing to do until that changes")
        }
        Reason::RateLimited { until } => format!(
            "the CA refuses to order it for its rate limits until {}",
            until.format("%Y-%m-%d %H:%M UTC")
        ),
        Reason::ReplacedAgain { id, because } => format!(
            "certificate {id} is {because} in the cloud before it was ever issued, as the one it replaced was: certplan does not apply again (see below)"
        ),
        Reason::DueAtIssuance { id, applied_at, not_after } => format!(
            "certificate {id}, applied for on {}, was issued expiring on {}: due from the start, so certplan does not apply again (see below)",
            date(applied_at),
            date(not_after)
        ),
    }
}

fn in_days(days: i64) -> String {
    match days {
        ..=0 => "in less than a day".into(),
        1 => "in 1 day".into(),
        n => format!("in {n} days"),
    }
}

const GREEN: &str = "32";
const YELLOW: &str = "33";
const RED: &str = "31";

#[derive(Debug, Clone, Copy)]
struct Paint(bool);

impl Paint {
    fn color(self, code: &str, text: &str) -> String {
        if self.0 { format!("\x1b[{code}m{text}\x1b[0m") } else { text.to_owned() }
    }
    fn bold(self, text: &str) -> String {
        self.color("1", text)
    }
}

/// One account's free quota, as the plan says it.
fn describe_quota(q: &certplan_core::FreeQuota) -> String {
    let whose = if q.provider.is_default() {
        "the account".to_owned()
    } else {
        format!("{}'s account", q.provider)
    };
    let limit = match q.limit_from.as_str() {
        "service" => format!("{} (the service's)", q.limit),
        "configured" => format!("{} (free_certificates_per_year)", q.limit),
        _ => format!("{} (the limit widely reported)", q.limit),
    };
    let verdict = if q.exceeded() { ": this plan passes it" } else { "" };
    format!(
        "Free certificates: {} applied for this year in {whose}, {} more in this plan, of {limit}{verdict}.",
        q.used, q.planned
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multi_line_values_are_diffed_line_by_line() {
        assert_eq!(text_diff("a\nb\nc", "a\nB\nc"), ["  a", "- b", "+ B", "  c"]);
    }

    #[test]
    fn day_counts_read_naturally() {
        assert_eq!(in_days(0), "in less than a day");
        assert_eq!(in_days(1), "in 1 day");
        assert_eq!(in_days(12), "in 12 days");
    }
}
