//! Reads a certplan configuration — every `*.hcl` file of a directory — into a validated
//! [`Config`]: the `provider "tencentcloud"` block and the `tencentcloud_ssl_free_certificate`
//! resources, with every argument typed and checked as the API would check it.
//!
//! Every problem is a [`Diagnostic`] with the file, line, column and source excerpt, and all of
//! them are reported at once. This crate reads the config files and nothing else: it knows
//! neither state nor the cloud.

mod diagnostic;
mod domain;
mod duration;
mod eval;
mod expr;
mod format;
mod functions;
mod locals;
mod resource;
mod sensitive;
mod variables;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use certplan_core::{Address, CertificateArgs, Sensitive};
use hcl_edit::Span as _;
use hcl_edit::structure::{Block, Body, Structure};

pub use diagnostic::{
    ConfigError, Diagnostic, Severity, Source, Span, diagnostics_json, render_diagnostics,
};
pub use duration::RenewBefore;
pub use format::format_source;
pub use variables::VarInput;

/// The configuration: what is declared.
#[derive(Debug, Clone)]
pub struct Config {
    pub sources: Vec<Source>,
    /// Problems that do not stop certplan, to show the user.
    pub warnings: Vec<Diagnostic>,
    pub provider: ProviderConfig,
    pub resources: BTreeMap<Address, ResourceConfig>,
    /// `removed { from = ADDR }` blocks: resources to stop managing.
    pub removed: BTreeMap<Address, Removed>,
    /// The value of every declared variable.
    pub variables: BTreeMap<String, hcl::Value>,
    /// `moved { from = ADDR  to = ADDR }` blocks: renames, in declaration order.
    pub moved: Vec<Moved>,
    /// `output` blocks, evaluated after apply against what was applied.
    pub outputs: BTreeMap<String, OutputConfig>,
    /// The evaluation context of outputs: the built-in functions, `var` and `local`.
    pub context: hcl::eval::Context<'static>,
    /// The `certplan { ... }` block's settings.
    pub settings: Settings,
}

/// The `certplan { required_version = "..."  backend "local" { path = "..." } }` block.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Settings {
    /// The local backend's state file, relative to the configuration directory.
    pub state_path: Option<String>,
}

/// An `output "name" { value, description, sensitive }` block.
#[derive(Debug, Clone)]
pub struct OutputConfig {
    pub value: hcl_edit::expr::Expression,
    pub description: Option<String>,
    pub sensitive: bool,
    pub location: String,
}

impl Config {
    /// Evaluates every output, with `resources` as the value of the resource type's name (an
    /// object of name => attributes, or of name => instances for `for_each`/`count`). Returns
    /// each output's value, or the reason it has none.
    pub fn evaluate_outputs(
        &self,
        resources: hcl::Value,
    ) -> BTreeMap<String, Result<hcl::Value, String>> {
        let mut ctx = self.context.clone();
        ctx.declare_var(certplan_core::RESOURCE_TYPE, resources);
        self.outputs
            .iter()
            .map(|(name, o)| {
                (name.clone(), expr::evaluate(&o.value, &ctx).map_err(|e| expr::describe(&e)))
            })
            .collect()
    }
}

/// A `moved` block: what state records as `from` is now `to` (no new application). Without
/// an instance key, every instance moves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Moved {
    pub from: Address,
    pub to: Address,
    pub location: String,
}

/// A `removed` block: stop managing a resource without deleting its certificate (unless
/// `lifecycle { destroy = true }`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Removed {
    pub destroy: bool,
    /// Where the block is: `file:line:col`.
    pub location: String,
}

impl Config {
    /// Digests every configuration file (name and content) and the variables' values, so that a
    /// saved plan can tell whether it is applied to the configuration it was made from.
    pub fn digest(&self) -> String {
        use sha2::{Digest, Sha256};
        let mut files: Vec<&Source> = self.sources.iter().collect();
        files.sort_by(|a, b| a.path.file_name().cmp(&b.path.file_name()));
        let mut hasher = Sha256::new();
        for f in files {
            let name =
                f.path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            for part in [name.as_bytes(), f.text.as_bytes()] {
                hasher.update((part.len() as u64).to_le_bytes());
                hasher.update(part);
            }
        }
        let variables = serde_json::to_vec(&self.variables).unwrap_or_default();
        hasher.update((variables.len() as u64).to_le_bytes());
        hasher.update(&variables);
        format!("sha256:{}", hex::encode(hasher.finalize()))
    }
}

/// The `provider "tencentcloud"` block.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProviderConfig {
    /// The API endpoint, with where it was set (`file:line:col`) for error messages.
    pub endpoint: Option<(String, String)>,
    /// How long apply waits for new certificates to be issued, unless a resource says otherwise.
    pub wait_for_issuance: Option<std::time::Duration>,
    /// Calls per second per action the account may make (the API documents 10).
    pub requests_per_second: Option<u32>,
    /// Credentials written in the block (discouraged: the environment or a tccli profile is
    /// the place for them): SecretId, SecretKey, token.
    pub credentials: Option<(String, Sensitive, Option<Sensitive>)>,
}

/// One declared certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceConfig {
    pub address: Address,
    pub args: CertificateArgs,
    /// The CSR key password itself; `args` holds only its digest.
    pub csr_key_password: Option<String>,
    pub lifecycle: Lifecycle,
    /// Where the resource is declared: `file:line:col`.
    pub location: String,
    /// The arguments whose values come from sensitive variables, shown as `(sensitive value)`.
    pub sensitive: std::collections::BTreeSet<String>,
}

/// A resource's `lifecycle` block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lifecycle {
    pub renew_before: RenewBefore,
    pub prevent_destroy: bool,
    /// How long apply waits for this certificate to be issued.
    pub wait_for_issuance: Option<std::time::Duration>,
}

impl Default for Lifecycle {
    fn default() -> Self {
        Lifecycle {
            renew_before: RenewBefore::DEFAULT,
            prevent_destroy: false,
            wait_for_issuance: None,
        }
    }
}

/// Points at a syntax error in `file`.
fn syntax_error(file: usize, e: &hcl_edit::parser::Error) -> Diagnostic {
    let offset = e.location().offset();
    Diagnostic::error(format!("invalid HCL syntax: {}", e.message()))
        .at(Span { file, range: offset..offset + 1 }, "here")
        .help("see https://github.com/hashicorp/hcl/blob/main/hclsyntax/spec.md")
}

/// The file name extension of configuration files.
pub const CONFIG_EXTENSION: &str = "hcl";

/// Where variable values come from besides the configuration directory's variables files.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LoadOptions {
    /// `CERTPLAN_VAR_<name>` environment variables, as `(name, value)`.
    pub env: Vec<(String, String)>,
    /// `--var NAME=VALUE` and `--var-file FILE`, in command-line order.
    pub flags: Vec<VarFlag>,
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
    let fail = |message: String, help: &str| ConfigError {
        sources: Vec::new(),
        diagnostics: vec![Diagnostic::error(message).help(help)],
    };
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
        .collect();
    paths.sort();
    if paths.is_empty() {
        return Err(fail(
            format!("no configuration files (*.{CONFIG_EXTENSION}) in {}", dir.display()),
            "declare certificates in a .hcl file, e.g. examples/quickstart/main.hcl",
        ));
    }
    let read = |path: &Path| {
        std::fs::read_to_string(path).map_err(|e| {
            fail(
                format!("cannot read {}: {e}", path.display()),
                "check the file's path, permissions and encoding (UTF-8)",
            )
        })
    };
    let mut sources = Vec::with_capacity(paths.len());
    for path in paths {
        let text = read(&dir.join(path.file_name().unwrap_or_default()))?;
        sources.push(Source::new(path, text));
    }
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
    parse_sources_with(sources, &inputs)
}

/// Parses and validates configuration files already read.
pub fn parse_sources(sources: Vec<Source>) -> Result<Config, ConfigError> {
    parse_sources_with(sources, &[])
}

/// Parses and validates configuration files already read; the sources that `inputs` name as
/// variables files are read as such, not as configuration.
pub fn parse_sources_with(
    sources: Vec<Source>,
    inputs: &[VarInput],
) -> Result<Config, ConfigError> {
    let variable_files: Vec<usize> = inputs
        .iter()
        .filter_map(|i| match i {
            VarInput::File { source } => Some(*source),
            _ => None,
        })
        .collect();
    let mut reader = Reader {
        sources: &sources,
        diagnostics: Vec::new(),
        ctx: hcl::eval::Context::new(),
        failed_locals: Default::default(),
        sensitivity: Default::default(),
    };
    let mut provider = ProviderConfig::default();
    let mut resources: BTreeMap<Address, ResourceConfig> = BTreeMap::new();
    let mut first_seen: BTreeMap<Address, Span> = BTreeMap::new();
    let mut provider_seen: Option<Span> = None;
    let mut removed: BTreeMap<Address, (Removed, Span)> = BTreeMap::new();
    let mut moved: Vec<Moved> = Vec::new();
    let mut outputs: BTreeMap<String, (OutputConfig, Span)> = BTreeMap::new();
    let mut settings: Option<(Settings, Span)> = None;

    let mut bodies = Vec::with_capacity(sources.len());
    for (file, source) in sources.iter().enumerate() {
        if variable_files.contains(&file) {
            continue;
        }
        match hcl_edit::parser::parse_body(&source.text) {
            Ok(body) => bodies.push((file, body)),
            Err(e) => reader.diagnostics.push(syntax_error(file, &e)),
        }
    }
    // Variables, then locals: every other expression may refer to them.
    let variables = variables::resolve(&mut reader, &bodies, inputs);
    let vars: hcl::Map<String, hcl::Value> = variables.clone().into_iter().collect();
    reader.ctx = locals::evaluate(&mut reader, &bodies, &vars);
    for (file, body) in &bodies {
        let file = *file;
        for structure in body.iter() {
            match structure {
                Structure::Attribute(attr) => reader.push(
                    Diagnostic::error(format!(
                        "unexpected argument \"{}\" at the top level",
                        attr.key.as_str()
                    ))
                    .at(reader.span(file, attr.key.span()), "arguments belong inside a block")
                    .help(SUPPORTED_BLOCKS),
                ),
                Structure::Block(block) => match block.ident.as_str() {
                    "locals" | "variable" => {}
                    "certplan" => {
                        let here = reader.header_span(file, block);
                        if let Some((_, first)) = &settings {
                            reader.push(Diagnostic::duplicate(
                                "two certplan blocks",
                                here,
                                first.clone(),
                                "keep one certplan block",
                            ));
                        } else {
                            let read = read_settings(&mut reader, file, block);
                            settings = Some((read, here));
                        }
                    }
                    "output" => {
                        let here = reader.header_span(file, block);
                        if let Some((name, output)) = read_output(&mut reader, file, block) {
                            let message = format!("output \"{name}\" is declared twice");
                            insert_once(
                                &mut reader,
                                &mut outputs,
                                name,
                                output,
                                here,
                                message,
                                "rename one of them",
                            );
                        }
                    }
                    "moved" => {
                        if let Some(m) = read_moved(&mut reader, file, block) {
                            if let Some(first) = moved.iter().find(|other| other.from == m.from) {
                                let here = reader.header_span(file, block);
                                reader.push(
                                    Diagnostic::error(format!("{} is moved twice", m.from))
                                        .at(here, "moved again here")
                                        .help(format!(
                                            "the first move is at {}; keep one",
                                            first.location
                                        )),
                                );
                            } else {
                                moved.push(m);
                            }
                        }
                    }
                    "resource" => {
                        if let Some((resource, instances)) =
                            resource::read(&mut reader, file, block)
                        {
                            let here = reader.header_span(file, block);
                            if let Some(first) = first_seen.get(&resource) {
                                reader.push(Diagnostic::duplicate(
                                    format!("duplicate resource {resource}"),
                                    here,
                                    first.clone(),
                                    "resource names must be unique within a configuration; rename one of them",
                                ));
                            } else {
                                first_seen.insert(resource, here);
                                for instance in instances {
                                    resources.insert(instance.address.clone(), instance);
                                }
                            }
                        }
                    }
                    "provider" => {
                        let here = reader.header_span(file, block);
                        if let Some(first) = &provider_seen {
                            reader.push(Diagnostic::duplicate(
                                "duplicate provider \"tencentcloud\" block",
                                here,
                                first.clone(),
                                "keep one provider \"tencentcloud\" block",
                            ));
                        } else if let Some(p) = read_provider(&mut reader, file, block) {
                            provider_seen = Some(here);
                            provider = p;
                        }
                    }
                    "removed" => {
                        if let Some((address, block_removed, here)) =
                            read_removed(&mut reader, file, block)
                        {
                            let message = format!("two removed blocks for {address}");
                            insert_once(
                                &mut reader,
                                &mut removed,
                                address,
                                block_removed,
                                here,
                                message,
                                "keep one of them",
                            );
                        }
                    }
                    other => {
                        let help = if other == "terraform" {
                            "certplan reads no terraform {} block: it needs no provider installation; remove the block"
                                .to_owned()
                        } else {
                            SUPPORTED_BLOCKS.to_owned()
                        };
                        reader.push(
                            Diagnostic::error(format!("unsupported block type \"{other}\""))
                                .at(
                                    reader.span(file, block.ident.span()),
                                    "not a block certplan reads",
                                )
                                .help(help),
                        );
                    }
                },
            }
        }
    }
    for (address, (_, here)) in &removed {
        if let Some(declared) = first_seen.get(&address.resource()) {
            reader.push(
                Diagnostic::error(format!("{address} is both declared and removed"))
                    .at(here.clone(), "removed here")
                    .also(declared.clone(), "still declared here")
                    .help("delete the resource block to stop managing it, or delete the removed block to keep it"),
            );
        }
    }
    let mut diagnostics = reader.diagnostics;
    reader.sensitivity.redact(&mut diagnostics);
    if diagnostics.iter().any(|d| d.severity == Severity::Error) {
        return Err(ConfigError { sources, diagnostics });
    }
    let removed = removed.into_iter().map(|(a, (r, _))| (a, r)).collect();
    let outputs = outputs.into_iter().map(|(n, (o, _))| (n, o)).collect();
    let context = reader.ctx;
    let settings = settings.map(|(s, _)| s).unwrap_or_default();
    Ok(Config {
        sources,
        warnings: diagnostics,
        provider,
        resources,
        removed,
        variables,
        moved,
        outputs,
        context,
        settings,
    })
}

/// Records `value` under `key` with where it was declared, unless the key is taken: then the
/// duplicate is reported, pointing at both places.
fn insert_once<K: Ord, V>(
    reader: &mut Reader<'_>,
    map: &mut BTreeMap<K, (V, Span)>,
    key: K,
    value: V,
    here: Span,
    message: String,
    help: &str,
) {
    match map.get(&key) {
        Some((_, first)) => {
            let first = first.clone();
            reader.push(Diagnostic::duplicate(message, here, first, help));
        }
        None => {
            map.insert(key, (value, here));
        }
    }
}

/// Reads `certplan { required_version = "..."  backend "local" { path = "..." } }`.
fn read_settings(reader: &mut Reader<'_>, file: usize, block: &Block) -> Settings {
    let mut settings = Settings::default();
    let mut args =
        eval::Arguments::read(reader, file, &block.body, &["required_version"], &["backend"]);
    if let Some((required, span)) = args.string(reader, "required_version") {
        let version = env!("CARGO_PKG_VERSION");
        // Terraform writes "~> 1.2" where semver writes "~1.2".
        match semver::VersionReq::parse(&required.replace("~>", "~")) {
            Ok(req)
                if req
                    .matches(&semver::Version::parse(version).expect("our version is semver")) => {}
            Ok(_) => reader.push(
                Diagnostic::error(format!(
                    "this configuration requires certplan {required}; this is {version}"
                ))
                .at(span, "required version")
                .help("install a certplan that matches, or change required_version"),
            ),
            Err(e) => reader.push(
                Diagnostic::error(format!("invalid required_version {required:?}: {e}"))
                    .at(span, "not a version constraint")
                    .help("e.g. required_version = \">= 0.1, < 2.0\""),
            ),
        }
    }
    for backend in blocks(&block.body, "backend") {
        let here = reader.header_span(file, backend);
        match backend.labels.first().map(|l| l.as_str()) {
            Some("local") => {
                let mut args = eval::Arguments::read(reader, file, &backend.body, &["path"], &[]);
                settings.state_path = args.string(reader, "path").map(|(p, _)| p);
            }
            other => reader.push(
                Diagnostic::error(format!("unsupported backend {:?}", other.unwrap_or("")))
                    .at(here, "not available")
                    .help("certplan has the local backend: backend \"local\" { path = \"certplan.state.json\" }"),
            ),
        }
    }
    settings
}

/// Reads `output "NAME" { value = EXPR  description = ".."  sensitive = bool }`.
fn read_output(
    reader: &mut Reader<'_>,
    file: usize,
    block: &Block,
) -> Option<(String, OutputConfig)> {
    let here = reader.header_span(file, block);
    let [label] = block.labels.as_slice() else {
        reader.push(
            Diagnostic::error("an output block takes one label, its name")
                .at(here, "expected `output \"NAME\"`"),
        );
        return None;
    };
    // The value refers to what was applied, known only after apply: it is kept unevaluated.
    let mut args = eval::Arguments::read_with_references(
        reader,
        file,
        &block.body,
        &["description", "sensitive"],
        &["value"],
        &[],
    );
    let description = args.string(reader, "description").map(|(d, _)| d);
    let sensitive = args.boolean(reader, "sensitive").is_some_and(|(s, _)| s);
    let Some(value) = block.body.get_attribute("value") else {
        reader.push(
            Diagnostic::error(format!("output \"{}\" needs a value", label.as_str()))
                .at(here, "no value")
                .help("add `value = ...`, e.g. tencentcloud_ssl_free_certificate.www.id"),
        );
        return None;
    };
    if reader.sensitivity.taints(&value.value) && !sensitive {
        reader.push(
            Diagnostic::error(format!("output \"{}\" refers to sensitive values", label.as_str()))
                .at(reader.span(file, value.value.span()), "derived from a sensitive variable")
                .help("add `sensitive = true` to the output: it is then shown only when asked for by name"),
        );
        return None;
    }
    let output = OutputConfig {
        value: value.value.clone(),
        description,
        sensitive,
        location: reader.location(&here),
    };
    Some((label.as_str().to_owned(), output))
}

/// Reads `moved { from = ADDR  to = ADDR }`.
fn read_moved(reader: &mut Reader<'_>, file: usize, block: &Block) -> Option<Moved> {
    let here = reader.header_span(file, block);
    let mut args =
        eval::Arguments::read_with_references(reader, file, &block.body, &[], &["from", "to"], &[]);
    let mut address = |reader: &mut Reader<'_>, name: &str| {
        let Some((text, span)) = args.reference(name) else {
            reader.push(
                Diagnostic::error(format!("a moved block needs \"{name}\""))
                    .at(here.clone(), "incomplete move")
                    .help("write `from = tencentcloud_ssl_free_certificate.OLD` and `to = tencentcloud_ssl_free_certificate.NEW`"),
            );
            return None;
        };
        match text.trim_matches('"').parse::<Address>() {
            Ok(a) if a.resource_type == certplan_core::RESOURCE_TYPE => Some(a),
            _ => {
                reader.push(
                    Diagnostic::error(format!(
                        "\"{name}\" must name a {} resource",
                        certplan_core::RESOURCE_TYPE
                    ))
                    .at(span, "not a certplan resource address"),
                );
                None
            }
        }
    };
    let (from, to) = (address(reader, "from"), address(reader, "to"));
    let (from, to) = (from?, to?);
    if from == to || from.key.is_none() != to.key.is_none() {
        reader.push(
            Diagnostic::error(format!("cannot move {from} to {to}"))
                .at(here, "this move")
                .help("move a resource to another resource, or an instance to another instance"),
        );
        return None;
    }
    Some(Moved { from, to, location: reader.location(&here) })
}

/// Reads `removed { from = ADDR  lifecycle { destroy = false } }`.
fn read_removed(
    reader: &mut Reader<'_>,
    file: usize,
    block: &Block,
) -> Option<(Address, Removed, Span)> {
    let here = reader.header_span(file, block);
    let mut args = eval::Arguments::read_with_references(
        reader,
        file,
        &block.body,
        &[],
        &["from"],
        &["lifecycle"],
    );
    let Some((text, span)) = args.reference("from") else {
        reader.push(
            Diagnostic::error("a removed block needs \"from\"")
                .at(here, "what is removed?")
                .help("add `from = tencentcloud_ssl_free_certificate.NAME`"),
        );
        return None;
    };
    let address = match text.trim_matches('"').parse::<Address>() {
        Ok(a) if a.resource_type == certplan_core::RESOURCE_TYPE => a,
        _ => {
            reader.push(
                Diagnostic::error(format!(
                    "\"from\" must name a {} resource",
                    certplan_core::RESOURCE_TYPE
                ))
                .at(span, "not a certplan resource address")
                .help("e.g. from = tencentcloud_ssl_free_certificate.www"),
            );
            return None;
        }
    };
    let mut destroy = false;
    for inner in blocks(&block.body, "lifecycle") {
        let mut lifecycle = eval::Arguments::read(reader, file, &inner.body, &["destroy"], &[]);
        if let Some((d, _)) = lifecycle.boolean(reader, "destroy") {
            destroy = d;
        }
    }
    let location = reader.location(&here);
    Some((address, Removed { destroy, location }, here))
}

const SUPPORTED_BLOCKS: &str = "certplan reads `resource \"tencentcloud_ssl_free_certificate\" \"NAME\" { ... }`, `provider \"tencentcloud\" { ... }`, `variable`, `locals { ... }` `output`, `certplan`, `removed { from = ... }` and `moved { from = ... to = ... }` blocks";

/// Collects diagnostics while walking the files.
pub(crate) struct Reader<'a> {
    pub(crate) sources: &'a [Source],
    pub(crate) diagnostics: Vec<Diagnostic>,
    /// What expressions are evaluated with: the built-in functions and `local`.
    pub(crate) ctx: hcl::eval::Context<'static>,
    /// Locals that could not be evaluated (already reported): expressions referring to them
    /// are not reported again.
    pub(crate) failed_locals: std::collections::BTreeSet<String>,
    /// Which variables and locals are sensitive.
    pub(crate) sensitivity: sensitive::Sensitivity,
}

impl Reader<'_> {
    pub(crate) fn push(&mut self, d: Diagnostic) {
        self.diagnostics.push(d);
    }

    pub(crate) fn span(&self, file: usize, range: Option<std::ops::Range<usize>>) -> Span {
        Span { file, range: range.unwrap_or(0..0) }
    }

    /// Spans a block's header: its type and labels, up to the opening brace.
    pub(crate) fn header_span(&self, file: usize, block: &Block) -> Span {
        let start = block.ident.span().map_or(0, |r| r.start);
        let end = block
            .labels
            .last()
            .and_then(|l| l.span())
            .or_else(|| block.ident.span())
            .map_or(start, |r| r.end);
        Span { file, range: start..end }
    }

    pub(crate) fn location(&self, span: &Span) -> String {
        ConfigError::location(self.sources, span)
    }
}

fn read_provider(reader: &mut Reader<'_>, file: usize, block: &Block) -> Option<ProviderConfig> {
    let header = reader.header_span(file, block);
    let name = match block.labels.as_slice() {
        [label] => label.as_str().to_owned(),
        _ => {
            reader.push(
                Diagnostic::error("a provider block takes one label, the provider's name")
                    .at(header, "expected `provider \"tencentcloud\"`"),
            );
            return None;
        }
    };
    if name != "tencentcloud" {
        reader.push(
            Diagnostic::error(format!("unsupported provider \"{name}\""))
                .at(header, "certplan talks to Tencent Cloud only")
                .help("use `provider \"tencentcloud\" { ... }`"),
        );
        return None;
    }
    let mut args = eval::Arguments::read(
        reader,
        file,
        &block.body,
        &[
            "endpoint",
            "region",
            "wait_for_issuance",
            "requests_per_second",
            "secret_id",
            "secret_key",
            "security_token",
        ],
        &[],
    );
    let endpoint = args.string(reader, "endpoint").map(|(value, span)| {
        let location = reader.location(&span);
        if !(value.starts_with("https://") || value.starts_with("http://")) {
            reader.push(
                Diagnostic::error(format!("endpoint {value:?} is not an http(s) URL"))
                    .at(span, "expected a URL")
                    .help("e.g. endpoint = \"https://ssl.intl.tencentcloudapi.com\""),
            );
        }
        (value, location)
    });
    // The SSL API is not regional; `region` is accepted so Terraform provider blocks read as-is.
    let _region = args.string(reader, "region");
    let wait_for_issuance = args.duration(reader, "wait_for_issuance").map(|(d, _)| d);
    let requests_per_second = args.integer(reader, "requests_per_second").and_then(|(n, span)| {
        match u32::try_from(n) {
            Ok(n @ 1..=1000) => Some(n),
            _ => {
                reader.push(
                    Diagnostic::error(format!("requests_per_second = {n} is out of range"))
                        .at(span, "expected 1 to 1000")
                        .help("the API documents 10 per second per action; raise it only if your account allows more"),
                );
                None
            }
        }
    });
    let secret_id = args.string(reader, "secret_id");
    let secret_key = args.string(reader, "secret_key");
    let token = args.string(reader, "security_token").map(|(t, _)| Sensitive::new(t));
    let credentials = match (secret_id, secret_key) {
        (Some((id, span)), Some((key, _))) => {
            reader.push(
                Diagnostic::warning("credentials in the configuration")
                    .at(span, "anyone who can read this file can use them")
                    .help("set TENCENTCLOUD_SECRET_ID and TENCENTCLOUD_SECRET_KEY, or use a tccli profile (--profile), and remove them from the file"),
            );
            Some((id, Sensitive::new(key), token))
        }
        (Some((_, span)), None) | (None, Some((_, span))) => {
            reader.push(
                Diagnostic::error("secret_id and secret_key go together")
                    .at(span, "the other one is missing")
                    .help("better: remove both and set TENCENTCLOUD_SECRET_ID / TENCENTCLOUD_SECRET_KEY"),
            );
            None
        }
        (None, None) => None,
    };
    Some(ProviderConfig { endpoint, wait_for_issuance, requests_per_second, credentials })
}

/// Lists the nested blocks of `body` named `name`.
pub(crate) fn blocks<'b>(body: &'b Body, name: &'b str) -> impl Iterator<Item = &'b Block> + 'b {
    body.blocks().filter(move |b| b.ident.as_str() == name)
}
