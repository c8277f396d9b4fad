//! `certplan refresh`: records what the cloud reports (status, dates) without changing anything
//! there, and says what changed outside certplan.

use std::process::ExitCode;

use anyhow::bail;
use certplan_core::Plan;
use certplan_parser::Config;

use crate::project::Project;
use crate::settings::Settings;
use crate::stdout::{out, outln};

pub async fn refresh(
    settings: Settings,
    config: Config,
    selection: &certplan_planner::PlanOptions,
) -> anyhow::Result<ExitCode> {
    let output = settings.output;
    let mut ws = Project::open(settings, config, Some("refresh"))?;
    ws.check_targets(selection)?;
    ws.reconcile(true).await?;
    let Some(observed) = ws.refresh().await? else {
        bail!("refresh reads the cloud; --refresh=false leaves it nothing to do");
    };
    // Drift is all a refresh records: where certificates are bound is a plan's question.
    let plan = ws.plan_only(Some(&observed), selection).await?;
    let drift_only = Plan { changes: Vec::new(), moved: Vec::new(), ..plan };
    let (state, store) = (&mut ws.state, ws.store.as_mut());
    let updated = certplan_engine::record_plan_basis(&drift_only, Some(&observed), state, store)?;
    match (drift_only.drift.is_empty(), updated) {
        (true, false) => outln!("The cloud matches the state."),
        // Issuance, dates: what certplan expects to happen, recorded, not drift.
        (true, true) => outln!(
            "Nothing changed outside certplan; the state now records what the cloud reports (statuses, dates)."
        ),
        (false, updated) => {
            out!("{}", certplan_planner::render_drift(&drift_only, output.stdout_color));
            if updated {
                eprintln!("State updated from the cloud.");
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
