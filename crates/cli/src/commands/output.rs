//! `certplan output [NAME] [--json]`: the outputs recorded by the last apply.

use std::process::ExitCode;

use anyhow::bail;

use crate::project::StateAccess;
use crate::settings::Settings;
use crate::stdout::outln;
use crate::ui;

pub fn output(settings: &Settings, name: Option<&str>, json: bool) -> anyhow::Result<ExitCode> {
    let state = StateAccess::open(settings, None)?.state.unwrap_or_default();
    if let Some(name) = name
        && !state.outputs.contains_key(name)
    {
        bail!("no output {name:?} is recorded; outputs are recorded by apply");
    }
    match (name, json) {
        // As `terraform output -json NAME`: a named output is its value alone.
        (Some(name), true) => outln!("{}", state.outputs[name].value),
        (None, true) => outln!("{}", ui::outputs_json(&state.outputs)),
        (Some(name), false) => outln!("{}", ui::shown_output(&state.outputs[name], true)),
        (None, false) => {
            for (n, o) in &state.outputs {
                outln!("{n} = {}", ui::shown_output(o, false));
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
