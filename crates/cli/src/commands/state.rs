//! `certplan state list|show|rm|mv|pull|push` and `certplan force-unlock`: work on the state
//! alone, in whichever backend keeps it.

use std::process::ExitCode;

use std::path::Path;

use anyhow::{Context as _, anyhow, bail};
use certplan_core::Address;
use certplan_state::State;
use chrono::{DateTime, Utc};

use crate::project::StateAccess;
use crate::settings::Settings;
use crate::stdout::{out, outln};
use crate::ui;

/// What `certplan state` was asked to do.
#[derive(Debug)]
pub enum StateOperation {
    List,
    Show(Address),
    Rm(Address),
    Mv { from: Address, to: Address },
    Pull,
}

pub fn state(settings: &Settings, operation: StateOperation) -> anyhow::Result<ExitCode> {
    let writer = match &operation {
        StateOperation::Rm(_) => Some("state rm"),
        StateOperation::Mv { .. } => Some("state mv"),
        StateOperation::List | StateOperation::Show(_) | StateOperation::Pull => None,
    };
    let mut access = StateAccess::open(settings, writer)?;
    let Some(state) = access.state.as_mut() else {
        bail!(
            "there is no state in {}: nothing has been applied here yet",
            access.store.describe()
        );
    };
    let missing = |address: &Address| anyhow!("{address} is not in the state");
    match operation {
        StateOperation::List => {
            for address in state.resources.keys() {
                outln!("{address}");
            }
        }
        StateOperation::Pull => out!("{}", String::from_utf8_lossy(&state.to_json())),
        StateOperation::Show(address) => {
            out!("{}", show(state, &address).ok_or_else(|| missing(&address))?);
        }
        StateOperation::Rm(address) => {
            let r = state.resources.remove(&address).ok_or_else(|| missing(&address))?;
            access.store.save(state)?;
            outln!(
                "Removed {address} from the state. Certificate {} stays in the cloud; certplan no longer manages it.",
                r.certificate_id
            );
        }
        StateOperation::Mv { from, to } => {
            if state.resources.contains_key(&to) {
                bail!("{to} is already in the state; remove it first");
            }
            if !state.rename(&from, &to) {
                return Err(missing(&from));
            }
            access.store.save(state)?;
            outln!("Moved {from} to {to}.");
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Stores the state file `file` in the backend: refused over a state of another lineage, of
/// the same lineage and a higher serial (it would lose what was recorded since), or different
/// with the same serial (two copies changed apart), unless `force`.
pub fn push(settings: &Settings, file: &Path, force: bool) -> anyhow::Result<ExitCode> {
    let mut access = StateAccess::open(settings, Some("state push"))?;
    let bytes = std::fs::read(file)
        .with_context(|| format!("cannot read state file {}", file.display()))?;
    let pushed = State::from_json(&bytes)
        .map_err(|problem| anyhow!("cannot push {}: {problem}", file.display()))?;
    access.store.push(&pushed, force)?;
    let intents = match pushed.intents.len() {
        0 => String::new(),
        n => format!(
            ", and {} of an interrupted run, which the next run settles",
            crate::ui::plural(n, "certificate application")
        ),
    };
    outln!(
        "Pushed {} ({}{intents}) to {}.",
        file.display(),
        crate::ui::plural(pushed.resources.len(), "resource"),
        access.store.describe()
    );
    Ok(ExitCode::SUCCESS)
}

/// Releases the lock whose id is `lock_id` that a run left behind: the local lock file's
/// note, or the PostgreSQL session that holds the lock (a live run's work stops with it).
/// A lock held by another than the one named is refused, untouched.
pub fn force_unlock(settings: &Settings, lock_id: &str, force: bool) -> anyhow::Result<ExitCode> {
    let store = crate::project::open_store(settings)?;
    if let Some(holder) = store.live_holder() {
        let holder = holder.map_or("a run".to_owned(), |h| h.to_string());
        eprintln!(
            "The lock of {} is held by {holder}, which is still connected: releasing it ends that run where it is (the next run settles what it left in flight).",
            store.describe()
        );
    }
    let unattended = format!("certplan force-unlock -force {lock_id}");
    let confirmation = ui::Confirmation {
        command: "force-unlock",
        question: "Do you really want to release the lock? A run that still holds it stops.",
        unattended: &unattended,
        may_ask: true,
    };
    if !force && !ui::confirm(&confirmation)? {
        eprintln!("force-unlock cancelled.");
        return Ok(ExitCode::from(1));
    }
    match store.force_unlock(lock_id)? {
        Some(holder) => outln!("Released the lock of {} held by {holder}.", store.describe()),
        None => outln!("{} was not locked.", store.describe()),
    }
    Ok(ExitCode::SUCCESS)
}

fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// One resource's record, as `name = value` lines; `None` when it is not in the state.
fn show(state: &State, address: &Address) -> Option<String> {
    let r = state.resources.get(address)?;
    let time = |t: Option<DateTime<Utc>>| t.map_or("(unknown)".to_owned(), |t| t.to_rfc3339());
    let mut lines = vec![
        ("certificate_id", format!("{:?}", r.certificate_id)),
        ("status", r.status.to_string()),
        ("not_before", time(r.not_before)),
        ("not_after", time(r.not_after)),
    ];
    if !r.renewed_from.is_empty() {
        lines.push(("renewed_from", format!("{:?}", r.renewed_from)));
    }
    lines.extend(
        r.args.attributes_hiding(&r.sensitive).into_iter().map(|(n, v)| (n, v.to_string())),
    );
    let width = lines.iter().map(|(name, _)| name.len()).max().unwrap_or(0);
    let mut out = format!("# {address}\n");
    for (name, value) in lines {
        out.push_str(&format!("{name:width$} = {value}\n"));
    }
    for d in &r.deployments {
        let task = d.record_id.map_or("task id not received".to_owned(), |id| format!("task {id}"));
        let state = match (d.finished_at, d.resources.is_empty()) {
            (None, _) => "in progress".to_owned(),
            (Some(_), true) => "nothing to deploy".to_owned(),
            (Some(t), false) => format!("finished {}", rfc3339(t)),
        };
        out.push_str(&format!(
            "\n# deployed from {} to {} ({}; {task}; {state})\n",
            d.from, d.to, d.target
        ));
        for res in &d.resources {
            let error = res.error.as_deref().map(|e| format!(": {e}")).unwrap_or_default();
            out.push_str(&format!("  {res}: {}{error}\n", res.status.name()));
        }
    }
    for e in &r.exports {
        out.push_str(&format!(
            "\n# exported to {} (certificate {}, sha256 {}, written {})\n",
            e.path.display(),
            e.certificate_id,
            e.fingerprint,
            rfc3339(e.written_at)
        ));
        if let Some(h) = &e.hook {
            let ran = rfc3339(h.ran_at);
            out.push_str(&match &h.error {
                None => format!("  on_change ran {ran}\n"),
                Some(err) => format!("  on_change failed {ran}: {err}\n"),
            });
        }
    }
    Some(out)
}
