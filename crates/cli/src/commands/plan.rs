//! `certplan plan`: shows what apply would do and why, optionally saving it for apply.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context as _, bail};
use certplan_core::EXIT_ATTENTION;
use certplan_parser::Config;
use certplan_planner::SavedPlan;

use super::EXIT_CHANGES;
use crate::project::Project;
use crate::settings::Settings;
use crate::ui;

/// What `certplan plan` was asked to do.
#[derive(Debug)]
pub struct PlanOptions {
    /// Which resources to plan (`--target`, `--exclude`) and replace (`--replace`).
    pub selection: certplan_planner::PlanOptions,
    /// Exit 2 when there are changes.
    pub detailed_exitcode: bool,
    /// Save the plan here, for `certplan apply FILE`.
    pub out: Option<PathBuf>,
    pub json: bool,
}

pub async fn plan(
    settings: Settings,
    config: Config,
    options: &PlanOptions,
) -> anyhow::Result<ExitCode> {
    let output = settings.output;
    let mut ws = Project::open(settings, config, None)?;
    ws.check_targets(&options.selection)?;
    let live_writer = if ws.state.intents.is_empty() { None } else { ws.live_writer() };
    if let Some(writer) = &live_writer {
        let in_flight = ui::plural(ws.state.intents.len(), "certificate application");
        eprintln!(
            "note: {writer} is running now; its {in_flight} in flight are its own to record, and this plan may show them as still to do"
        );
        if options.out.is_some() {
            bail!("another run holds the state lock; save a plan once it has finished");
        }
    } else if !ws.state.intents.is_empty() {
        if options.out.is_some() {
            bail!(
                "the state records certificate applications of an interrupted run; run `{}` to settle them before saving a plan",
                ws.settings.hint("apply")
            );
        }
        if ws.settings.refresh {
            ws.reconcile(false).await?;
        } else {
            eprintln!(
                "warning: the state records certificate applications of an interrupted run; without refresh they cannot be checked, so this plan may apply for them again"
            );
        }
    }
    let observed = ws.refresh().await?;
    let plan = ws.plan(observed.as_ref(), &options.selection).await?;
    ui::print_plan(&plan, options.json, output);
    if let Some(out) = &options.out {
        // The accounts the plan is for, asked now if the refresh did not: it is applied in no
        // other.
        ws.accounts().await?;
        let existing = ws.state_existed.then_some(&ws.state);
        let saved = SavedPlan::new(plan.clone(), existing, ws.config.digest(), ws.clouds());
        certplan_state::write_atomically(out, &saved.to_json())
            .with_context(|| format!("cannot write the plan to {}", out.display()))?;
        eprintln!(
            "Saved the plan to {}. Apply exactly this plan with: {}",
            out.display(),
            ws.settings.hint(&format!("apply {}", out.display()))
        );
    }
    // What needs a person turns a scheduled job red; a certificate waiting for validation is
    // not "no changes" either: something outside certplan must still happen.
    Ok(if !options.detailed_exitcode {
        ExitCode::SUCCESS
    } else if !plan.attention.is_empty() {
        ExitCode::from(EXIT_ATTENTION)
    } else if plan.has_work_left() {
        ExitCode::from(EXIT_CHANGES)
    } else {
        ExitCode::SUCCESS
    })
}
