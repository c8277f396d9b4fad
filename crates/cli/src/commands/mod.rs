//! The commands, one module each, in the manner of cargo: an options value built from the
//! command line, one operation, and rendering through [`crate::ui`].

pub mod apply;
pub mod certificates;
pub mod fmt;
pub mod hooks;
pub mod import;
pub mod output;
pub mod plan;
pub mod refresh;
pub mod sandbox;
pub mod show;
pub mod state;
pub mod terraform;
pub mod validate;

use std::path::Path;

use anyhow::Context as _;
use certplan_planner::SavedPlan;

/// Exit code of `--detailed-exitcode` when there are changes.
pub const EXIT_CHANGES: u8 = 2;

/// Reads a plan saved by `plan --out`.
fn read_saved_plan(file: &Path) -> anyhow::Result<SavedPlan> {
    let bytes =
        std::fs::read(file).with_context(|| format!("cannot read plan file {}", file.display()))?;
    SavedPlan::from_json(&bytes).map_err(|why| anyhow::anyhow!("{} is {why}", file.display()))
}
