//! `certplan validate`: checks the configuration without credentials, state or network.

use std::path::Path;
use std::process::ExitCode;

use certplan_parser::{LoadOptions, Severity};

use crate::settings::Output;
use crate::stdout::outln;

pub fn validate(json: bool, vars: &LoadOptions, output: Output) -> anyhow::Result<ExitCode> {
    let (sources, diagnostics, valid) = match certplan_parser::load_dir_with(Path::new("."), vars) {
        Ok(config) => (config.sources, config.warnings, true),
        Err(e) => (e.sources, e.diagnostics, false),
    };
    if json {
        outln!("{}", certplan_parser::diagnostics_json(&sources, &diagnostics));
    } else {
        eprint!(
            "{}",
            certplan_parser::render_diagnostics(&sources, &diagnostics, output.stderr_color)
        );
        if valid {
            outln!("Success! The configuration is valid.");
        } else {
            let errors = diagnostics.iter().filter(|d| d.severity == Severity::Error).count();
            eprintln!("error: the configuration has {}", crate::ui::plural(errors, "error"));
        }
    }
    Ok(if valid { ExitCode::SUCCESS } else { ExitCode::from(1) })
}
