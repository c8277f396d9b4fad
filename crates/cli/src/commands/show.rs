//! `certplan show PLANFILE`: renders a saved plan.

use std::path::Path;
use std::process::ExitCode;

use super::read_saved_plan;
use crate::settings::Output;
use crate::ui;

pub fn show(file: &Path, json: bool, output: Output) -> anyhow::Result<ExitCode> {
    let saved = read_saved_plan(file)?;
    ui::print_plan(&saved.plan, json, output);
    Ok(ExitCode::SUCCESS)
}
