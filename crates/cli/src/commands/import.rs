//! `certplan import ADDR ID`: records an existing certificate as a declared resource, without a
//! new application. The next plan shows any difference from the configuration.

use std::process::ExitCode;

use anyhow::bail;
use certplan_core::Address;
use certplan_engine::Declared;
use certplan_parser::{Config, ResourceConfig};

use crate::project::Project;
use crate::settings::Settings;
use crate::stdout::outln;

/// What the configuration declares of a certificate, as an import records it.
pub fn declared(resource: &ResourceConfig) -> Declared {
    Declared {
        args: resource.args.clone(),
        prevent_destroy: resource.lifecycle.prevent_destroy,
        sensitive: resource.sensitive.clone(),
    }
}

pub async fn import(
    settings: Settings,
    config: Config,
    address: &Address,
    id: &str,
) -> anyhow::Result<ExitCode> {
    let mut ws = Project::open(settings, config, Some("import"))?;
    let Some(resource) = ws.config.resources.get(address) else {
        if let Some(first) = ws.config.resources.keys().find(|a| a.resource() == *address) {
            bail!(
                "{address} has several instances (count or for_each): import into one of them, e.g. '{first}'"
            );
        }
        bail!(
            "{address} is not declared: add its resource block to the configuration first, then import"
        );
    };
    let declared = declared(resource);
    if let Some(existing) = ws.state.resources.get(address) {
        bail!(
            "{address} already has certificate {} in the state; `{}` first to replace it",
            existing.certificate_id,
            ws.settings.hint(&format!("state rm '{address}'"))
        );
    }
    if let Some((other, r)) = ws.state.resources.iter().find(|(_, r)| r.holds(id)) {
        if r.certificate_id != id {
            bail!(
                "certificate {id} was renewed or replaced by {}, which {other} holds: both addresses would manage that one; nothing was imported",
                r.certificate_id
            );
        }
        eprintln!(
            "warning: certificate {id} is already recorded as {other}; both addresses would manage it — `{}` if it moved",
            ws.settings.hint(&format!("state rm '{other}'"))
        );
    }
    if let Some(d) = ws.state.deposed.iter().find(|d| d.certificate_id == id) {
        bail!(
            "certificate {id} is one {} no longer uses, which certplan is to delete (deposed); nothing was imported",
            d.address
        );
    }
    // An interrupted run's applications are settled first: one may have created the
    // certificate this address is to keep.
    ws.reconcile(true).await?;
    if ws.state.resources.contains_key(address) {
        bail!(
            "{address} holds a certificate since the interrupted run was settled; see `{}`",
            ws.settings.hint(&format!("state show '{address}'"))
        );
    }
    let accounts = ws.accounts().await?;
    let remote = certplan_engine::import(
        &accounts.get(&declared.args.provider)?.ssl,
        &mut ws.state,
        ws.store.as_mut(),
        address,
        &id.into(),
        &declared,
    )
    .await?;
    outln!("Imported certificate {id} ({}, {}) as {address}.", remote.domain, remote.status);
    outln!("Run `{}` to see how it compares with the configuration.", ws.settings.hint("plan"));
    Ok(ExitCode::SUCCESS)
}
