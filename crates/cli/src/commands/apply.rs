//! `certplan apply`: makes the plan (or applies a saved one exactly), asks, carries it out
//! through the engine, records the outputs and reports.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::bail;
use certplan_core::{Address, DvAuthMethod, EXIT_ATTENTION, Plan};
use certplan_engine::ApplyOptions as EngineOptions;
use certplan_parser::Config;
use certplan_state::StoredOutput;
use std::collections::BTreeMap;

use super::{EXIT_CHANGES, read_saved_plan};
use crate::project::Project;
use crate::settings::Settings;
use crate::{interrupt, stdout, ui};

/// What `certplan apply` was asked to do.
#[derive(Debug)]
pub struct ApplyOptions {
    /// A plan saved by `plan --out`, applied exactly or refused.
    pub plan_file: Option<PathBuf>,
    /// Which resources to plan (`--target`, `--exclude`) and replace (`--replace`).
    pub selection: certplan_planner::PlanOptions,
    pub auto_approve: bool,
    /// Whether it may ask (`--input=false` says no).
    pub input: bool,
    /// Exit 2 when changes were made.
    pub detailed_exitcode: bool,
    pub json: bool,
    pub parallelism: usize,
    /// Wait this long for issuance, whatever the configuration says.
    pub wait: Option<Duration>,
}

/// Applies, and tells the `notify` blocks' webhooks when the run itself fails: a run nobody
/// watches must not fail silently.
pub async fn apply(
    settings: Settings,
    config: Config,
    options: &ApplyOptions,
) -> anyhow::Result<ExitCode> {
    let blocks = config.notify.clone();
    let now = settings.plan_time(&config.providers);
    let result = run(settings, config, options).await;
    if let Err(error) = &result {
        crate::notify::send(&blocks, |_| crate::notify::run_failed(error), now).await;
    }
    result
}

async fn run(
    settings: Settings,
    config: Config,
    options: &ApplyOptions,
) -> anyhow::Result<ExitCode> {
    let output = settings.output;
    if options.plan_file.is_none() && options.json && !options.auto_approve {
        bail!(
            "apply --json cannot ask for confirmation: add --auto-approve, or apply a saved plan"
        );
    }
    let mut ws = Project::open(settings, config, Some("apply"))?;
    ws.check_targets(&options.selection)?;
    let (plan, observed) = match &options.plan_file {
        Some(file) => {
            let saved = read_saved_plan(file)?;
            if !ws.state.intents.is_empty() {
                bail!(
                    "saved plan {} cannot be applied: the state records certificate applications of an interrupted run. Run `{}` to settle them, then plan again",
                    file.display(),
                    ws.settings.hint("apply")
                );
            }
            // The accounts the credentials reach now, to compare with the plan's.
            ws.accounts().await?;
            let existing = ws.state_existed.then_some(&ws.state);
            if let Some(why) = saved.staleness(existing, &ws.config.digest(), &ws.clouds()) {
                bail!(
                    "saved plan {} is stale: {why}. Make a new one with `{}`",
                    file.display(),
                    ws.settings.hint(&format!("plan --out {}", file.display()))
                );
            }
            (saved.plan, None)
        }
        None => {
            ws.reconcile_with(true, true).await?;
            let observed = ws.refresh().await?;
            (ws.plan(observed.as_ref(), &options.selection).await?, observed)
        }
    };
    ui::announce_plan(&plan, options.json, output);
    let asks = options.plan_file.is_none() && !options.auto_approve;
    let unattended = ws.settings.hint("apply --auto-approve");
    let confirmation = ui::Confirmation {
        command: "apply",
        question: "Do you want to perform these actions?",
        unattended: &unattended,
        may_ask: options.input,
    };
    if asks && plan.has_changes() && !ui::confirm(&confirmation)? {
        eprintln!("Apply cancelled.");
        return Ok(ExitCode::from(1));
    }
    let engine_options = EngineOptions {
        parallelism: options.parallelism,
        wait: options.wait,
        timing: ws.settings.timing(&ws.config.providers),
    };
    // A wait for issuance (`--wait`, or configured) waits for certificates still validating
    // since an earlier apply, too: that is work even when nothing else is.
    let waits = certplan_engine::waits_for_earlier_applications(&plan, engine_options);
    if !plan.has_changes() && !waits {
        if options.plan_file.is_none() {
            let (state, store) = (&mut ws.state, ws.store.as_mut());
            certplan_engine::record_plan_basis(&plan, observed.as_ref(), state, store)?;
        }
        if options.json {
            ui::summarise_apply(&certplan_engine::Report::default(), true);
        }
        if options.plan_file.is_none() {
            record_outputs(&mut ws, options.json)?;
        }
        notify(&ws, &plan, &certplan_engine::Report::default(), &plan.attention).await;
        return Ok(if plan.attention.is_empty() {
            ExitCode::SUCCESS
        } else {
            // The plan ended with the section already; JSON gets its events.
            if options.json {
                ui::show_attention(&plan.attention, plan.created_at, true, output);
            }
            ExitCode::from(EXIT_ATTENTION)
        });
    }

    let accounts = ws.accounts().await?;
    let cancel = interrupt::watch();
    stdout::cancel_on_failure(&cancel);
    let events = ui::Events::new(&plan, options.json);
    let inputs = ws.inputs(&plan)?;
    let report = certplan_engine::apply(
        &plan,
        &inputs,
        observed.as_ref(),
        &mut ws.state,
        ws.store.as_mut(),
        &accounts,
        &cancel,
        engine_options,
        &|event| events.show(event),
    )
    .await?;
    events.finish();
    ui::summarise_apply(&report, options.json);
    if let Err(e) = learn_free_limits(&mut ws, &plan, &report) {
        eprintln!("warning: could not record the free quota the service gave: {}", ui::chain(&*e));
    }
    record_outputs(&mut ws, options.json)?;
    // A reader that went away ends the command without a word, as Unix tools do.
    if !stdout::closed() {
        let wait = ws.settings.hint("apply --wait");
        ui::report_unfinished(&report, |address| validates_itself(&plan, address), &wait);
    }
    let attention = report.attention(&plan);
    if !stdout::closed() {
        ui::show_attention(&attention, plan.created_at, options.json, output);
    }
    notify(&ws, &plan, &report, &attention).await;
    Ok(if !report.failed.is_empty() || !report.delivery.failed.is_empty() || report.interrupted {
        ExitCode::from(1)
    } else if !attention.is_empty() {
        ExitCode::from(EXIT_ATTENTION)
    } else if options.detailed_exitcode {
        ExitCode::from(EXIT_CHANGES)
    } else {
        ExitCode::SUCCESS
    })
}

/// Tells the `notify` blocks' webhooks what the apply ends with that needs a person.
async fn notify(
    ws: &Project,
    plan: &Plan,
    report: &certplan_engine::Report,
    attention: &[certplan_core::Attention],
) {
    // Now (a saved plan may be days old), as what was said today is counted.
    let now = ws.settings.plan_time(&ws.config.providers);
    let found = |block: &certplan_parser::NotifyConfig| {
        crate::notify::conditions(plan, report, attention, &ws.state, now, block.expiring_within)
    };
    crate::notify::send(&ws.config.notify, found, now).await;
}

/// Records the yearly limit of free certificates the service gave when it refused an
/// application for it, for the next plans to count against.
fn learn_free_limits(
    ws: &mut Project,
    plan: &Plan,
    report: &certplan_engine::Report,
) -> anyhow::Result<()> {
    let mut learnt = false;
    for (address, error) in &report.failed {
        let certplan_engine::ChangeError::Provider(e) = error else { continue };
        let Some(Some(limit)) = e.free_limit_reached() else { continue };
        let provider = plan.change_of(address).and_then(|c| c.after.as_ref()).map(|a| &a.provider);
        if let Some(cloud) = provider.and_then(|p| ws.state.clouds.get_mut(p))
            && cloud.free_limit != Some(limit)
        {
            cloud.free_limit = Some(limit);
            learnt = true;
        }
    }
    if learnt {
        ws.store.save(&mut ws.state)?;
    }
    Ok(())
}

/// Whether the certificate of `address` is validated without the user (automatic DNS).
fn validates_itself(plan: &Plan, address: &Address) -> bool {
    plan.change_of(address)
        .and_then(|c| c.after.as_ref())
        .is_some_and(|args| args.validated_by(DvAuthMethod::DnsAuto))
}

/// Records the configuration's outputs, evaluated against what is recorded now, and shows them.
fn record_outputs(ws: &mut Project, json: bool) -> anyhow::Result<()> {
    if ws.config.outputs.is_empty() && ws.state.outputs.is_empty() {
        return Ok(());
    }
    let mut outputs = BTreeMap::new();
    for (name, result) in certplan_planner::outputs(&ws.config, &ws.state) {
        let sensitive = ws.config.outputs.get(&name).is_some_and(|o| o.sensitive);
        match result.map(serde_json::to_value) {
            Ok(Ok(value)) => {
                outputs.insert(name, StoredOutput { value, sensitive });
            }
            Ok(Err(e)) => eprintln!("warning: output {name:?} cannot be stored: {e}"),
            Err(e) => eprintln!("warning: output {name:?} has no value yet: {e}"),
        }
    }
    if outputs != ws.state.outputs {
        ws.state.outputs = outputs;
        ws.store.save(&mut ws.state)?;
    }
    ui::show_outputs(&ws.state.outputs, json);
    Ok(())
}
