//! Loading a configuration directory: which files are configuration and which hold variable
//! values, read in Terraform's order, then handed to `parse`.
//!
//! This module reads files and says what is wrong with reading them; it parses nothing itself.

use std::path::{Path, PathBuf};

use crate::{CertplanBlock, Config, ConfigError, Diagnostic, Source, VarInput, parse};

/// The file name extension of configuration files.
pub const CONFIG_EXTENSION: &str = "hcl";

/// Where variable values come from besides the configuration directory's variables files.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LoadOptions {
    /// `CERTPLAN_VAR_<name>` environment variables, as `(name, value)`.
    pub env: Vec<(String, String)>,
    /// `--var NAME=VALUE` and `--var-file FILE`, in command-line order.
    pub flags: Vec<VarFlag>,
    /// Configuration not in a file of the directory yet, read with its files: what `import
    /// --generate-config` is about to write.
    pub extra: Vec<Source>,
}

/// One variable flag of the command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VarFlag {
    Assign { name: String, raw: String },
    File(PathBuf),
}

/// The variables file read automatically from the configuration directory; `*.auto.tfvars`
/// files are read after it. Neither ends in `.hcl`, so neither is read as configuration.
pub const VARIABLES_FILE: &str = "certplan.tfvars";

/// Reads every `*.hcl` file of `dir` (not recursing), in name order, as one configuration.
pub fn load_dir(dir: &Path) -> Result<Config, ConfigError> {
    load_dir_with(dir, &LoadOptions::default())
}

/// Reads the configuration of `dir` with variable values from `options` and the directory's
/// variables files, in Terraform's order of precedence.
pub fn load_dir_with(dir: &Path, options: &LoadOptions) -> Result<Config, ConfigError> {
    let mut sources = read_config_files(dir)?;
    sources.extend(options.extra.iter().cloned());
    if sources.is_empty() {
        return Err(no_configuration(dir));
    }
    let inputs = read_variables_files(dir, options, &mut sources)?;
    parse::parse_sources_with(sources, &inputs)
}

/// Reads only the settings of the configuration in `dir` — the `certplan` block, which says
/// where the state lives — for commands that must work while the rest of the configuration
/// does not (`certplan state list` when a required variable has no value).
///
/// The files are those [`load_dir_with`] reads (every `*.hcl` file of `dir`, the directory's
/// variables files and `options`), and the block is read by the same reader, so the settings
/// are the ones the full load would find. No other block is read. Specifically:
///
/// - no `*.hcl` file in `dir` gives [`CertplanBlock::default()`], not an error;
/// - a directory or file that cannot be read, or a syntax error in any `*.hcl` file, is an
///   error, as in the full load;
/// - so is every mistake in a `certplan` block (an unknown argument, an unsupported backend, a
///   `required_version` this certplan does not meet, a second `certplan` block), with the
///   full load's diagnostics (`file:line:col`, source line, help);
/// - the block's arguments are expressions evaluated as in the full load, with the built-in
///   functions, `var` and `local` — which is why it takes `options`: the path may depend on a
///   variable's value. Problems with variables and locals (a required variable without a value,
///   a local that cannot be evaluated, a variables file that does not parse) are ignored while
///   no `certplan` block mentions `var` or `local`; once one does, every such problem is an
///   error, as in the full load, even one about a variable the block does not use: a wrong
///   guess at where the state is would be worse than no answer.
pub fn load_settings(dir: &Path, options: &LoadOptions) -> Result<CertplanBlock, ConfigError> {
    let mut sources = read_config_files(dir)?;
    if sources.is_empty() {
        return Ok(CertplanBlock::default());
    }
    let inputs = read_variables_files(dir, options, &mut sources)?;
    parse::parse_settings(sources, &inputs)
}

/// The error of a directory without configuration files: one of Terraform's is recognised, and
/// the way to move its certificates shown.
fn no_configuration(dir: &Path) -> ConfigError {
    let terraform_files = std::fs::read_dir(dir)
        .map(|entries| {
            entries.filter_map(Result::ok).any(|e| e.path().extension().is_some_and(|x| x == "tf"))
        })
        .unwrap_or(false);
    let shown =
        if dir == Path::new(".") { "this directory".to_owned() } else { dir.display().to_string() };
    if terraform_files {
        return fail(
            format!(
                "no configuration files (*.{CONFIG_EXTENSION}) in {shown}: it holds Terraform files (*.tf), which certplan does not read"
            ),
            "certplan reads *.hcl files. To move your certificates from Terraform in one command, run \
             `certplan import --from-terraform terraform.tfstate --generate-config certificates.hcl` \
             (with a remote backend, `terraform state pull > terraform.tfstate` first): it writes a resource \
             block for each tencentcloud_ssl_free_certificate and adopts them without applying again. \
             Or copy the blocks into a .hcl file, then run the same import without --generate-config",
        );
    }
    fail(
        format!("no configuration files (*.{CONFIG_EXTENSION}) in {shown}"),
        "declare certificates in a .hcl file, e.g. examples/quickstart/main.hcl",
    )
}

/// Whether a file is left out of the configuration: a hidden file, as Terraform leaves it out
/// (such as `.terraform.lock.hcl`, which `terraform init` writes beside the configuration).
fn ignored(path: &Path) -> bool {
    path.file_name().is_some_and(|n| n.to_string_lossy().starts_with('.'))
}

/// Reads every `*.hcl` file of `dir` (not recursing), in name order; finding none is not an
/// error here.
fn read_config_files(dir: &Path) -> Result<Vec<Source>, ConfigError> {
    let entries = std::fs::read_dir(dir).map_err(|e| {
        fail(
            format!("cannot read the configuration directory {}: {e}", dir.display()),
            "run certplan in the directory holding your *.hcl files, or pass --chdir DIR",
        )
    })?;
    let mut paths: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        // Files of the current directory are shown as `main.hcl`, not `./main.hcl`.
        .map(|e| if dir == Path::new(".") { PathBuf::from(e.file_name()) } else { e.path() })
        .filter(|p| p.is_file() && p.extension().is_some_and(|e| e == CONFIG_EXTENSION))
        .filter(|p| !ignored(p))
        .collect();
    paths.sort();
    let mut sources = Vec::with_capacity(paths.len());
    for path in paths {
        let text = read(&dir.join(path.file_name().unwrap_or_default()))?;
        sources.push(Source::new(path, text));
    }
    Ok(sources)
}

/// Reads the variable values of the directory's variables files and of `options` onto
/// `sources`; returns where each value comes from, lowest precedence first.
fn read_variables_files(
    dir: &Path,
    options: &LoadOptions,
    sources: &mut Vec<Source>,
) -> Result<Vec<VarInput>, ConfigError> {
    // Variables files of the directory: certplan.tfvars, then *.auto.tfvars in lexical order.
    let mut names: Vec<std::ffi::OsString> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .map(|e| e.file_name())
                .filter(|n| n.to_string_lossy().ends_with(".auto.tfvars"))
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    if dir.join(VARIABLES_FILE).is_file() {
        names.insert(0, VARIABLES_FILE.into());
    }
    let mut inputs: Vec<VarInput> = options
        .env
        .iter()
        .map(|(name, raw)| VarInput::Env { name: name.clone(), raw: raw.clone() })
        .collect();
    for name in names {
        let shown = if dir == Path::new(".") { PathBuf::from(&name) } else { dir.join(&name) };
        let text = read(&dir.join(&name))?;
        inputs.push(VarInput::File { source: sources.len() });
        sources.push(Source::new(shown, text));
    }
    for flag in &options.flags {
        match flag {
            VarFlag::Assign { name, raw } => {
                inputs.push(VarInput::Flag { name: name.clone(), raw: raw.clone() });
            }
            VarFlag::File(path) => {
                let text = read(path)?;
                inputs.push(VarInput::File { source: sources.len() });
                sources.push(Source::new(path.clone(), text));
            }
        }
    }
    Ok(inputs)
}

/// Reads a configuration or variables file.
fn read(path: &Path) -> Result<String, ConfigError> {
    std::fs::read_to_string(path).map_err(|e| {
        fail(
            format!("cannot read {}: {e}", path.display()),
            "check the file's path, permissions and encoding (UTF-8)",
        )
    })
}

/// An error about reading the configuration rather than about its content: no source to point at.
fn fail(message: String, help: &str) -> ConfigError {
    ConfigError { sources: Vec::new(), diagnostics: vec![Diagnostic::error(message).help(help)] }
}
