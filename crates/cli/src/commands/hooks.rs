//! `certplan run-hooks [ADDRESS]...`: runs the `on_change` hooks of the exports now, for the
//! files in place and with the variables of their last write, without a renewal — to test a
//! hook. It changes nothing: not the files, not the state.

use std::process::ExitCode;

use anyhow::bail;
use certplan_core::Address;
use certplan_parser::Config;

use crate::project::StateAccess;
use crate::settings::Settings;
use crate::ui;
use certplan_engine::Event;

pub async fn run_hooks(
    settings: &Settings,
    config: &Config,
    addresses: &[Address],
) -> anyhow::Result<ExitCode> {
    let state = StateAccess::open(settings, None)?.state.unwrap_or_default();
    let (mut ran, mut failed) = (0, 0);
    let chosen = |a: &Address| addresses.is_empty() || addresses.iter().any(|c| c.covers(a));
    for (address, desired) in config.resources.iter().filter(|(a, _)| chosen(a)) {
        for spec in desired.delivery.exports.iter().filter(|s| s.on_change.is_some()) {
            let path = spec.path.display();
            let written = state
                .resources
                .get(address)
                .and_then(|r| Some((r, r.exports.iter().find(|e| e.path == spec.path)?)));
            let Some((record, export)) = written else {
                eprintln!("{address}: {path} is not exported yet; its hook runs once it is");
                continue;
            };
            let Some(hook) = certplan_engine::export_hook(address, record, spec, export) else {
                continue;
            };
            eprintln!("{address}: running the on_change hook of {path}...");
            let on_line = |stream, line: &str| {
                eprintln!("{}", ui::describe_event(Event::HookOutput { address, stream, line }));
            };
            ran += 1;
            let error =
                certplan_engine::run_hook(&hook, &on_line).await.err().map(|e| e.to_string());
            failed += usize::from(error.is_some());
            let ran = Event::HookRan { address, path: &spec.path, error: error.as_deref() };
            eprintln!("{}", ui::describe_event(ran));
        }
    }
    if ran == 0 {
        bail!(
            "no hook to run: no exported certificate{} has an export with on_change",
            if addresses.is_empty() { "" } else { " of those named" }
        );
    }
    Ok(if failed > 0 { ExitCode::from(1) } else { ExitCode::SUCCESS })
}
