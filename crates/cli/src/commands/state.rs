//! `certplan state list|show|rm|mv`: works on the state alone.

use std::process::ExitCode;

use anyhow::{anyhow, bail};
use certplan_core::Address;
use certplan_state::{State, StateStore};
use chrono::{DateTime, Utc};

use crate::settings::Settings;
use crate::stdout::{out, outln};
use crate::workspace::StateAccess;

/// What `certplan state` was asked to do.
#[derive(Debug)]
pub enum StateOperation {
    List,
    Show(Address),
    Rm(Address),
    Mv { from: Address, to: Address },
}

pub fn state(settings: &Settings, operation: StateOperation) -> anyhow::Result<ExitCode> {
    let writer = match &operation {
        StateOperation::Rm(_) => Some("state rm"),
        StateOperation::Mv { .. } => Some("state mv"),
        StateOperation::List | StateOperation::Show(_) => None,
    };
    let mut access = StateAccess::open(settings, writer)?;
    let Some(state) = access.state.as_mut() else {
        bail!(
            "there is no state at {}: nothing has been applied here yet",
            settings.state_path.display()
        );
    };
    let missing = |address: &Address| anyhow!("{address} is not in the state");
    match operation {
        StateOperation::List => {
            for address in state.resources.keys() {
                outln!("{address}");
            }
        }
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
    Some(out)
}
