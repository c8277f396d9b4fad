//! From configuration text to a [`Config`]: parses each file, evaluates variables and locals,
//! then hands every top-level block to the reader of its kind and assembles what they read.
//!
//! This module dispatches and assembles; it reads no block's arguments itself (each kind of
//! block has its module) and reads no file (`load` does).

use std::collections::BTreeMap;

use certplan_core::Address;
use hcl_edit::Span as _;
use hcl_edit::structure::{Body, Structure};

use crate::{
    CertplanBlock, Config, ConfigError, Diagnostic, Reader, ResourceConfig, Severity, Source, Span,
    VarInput, acme, blocks, delivery, imports, locals, moves, notify, output, provider, resource,
    settings, variables,
};

const SUPPORTED_BLOCKS: &str = "certplan reads `resource \"tencentcloud_ssl_free_certificate\" \"NAME\" { ... }`, `resource \"acme_certificate\"` and `resource \"acme_registration\"`, `provider \"tencentcloud\" { ... }` (one per account, with an `alias`), `provider \"acme\"`, `variable`, `locals { ... }`, `output`, `certplan`, `removed { from = ... }`, `moved { from = ... to = ... }`, `import { to = ... id = ... }` and `notify { webhook = ... }` blocks";

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
    let mut reader = Reader::new(&sources);
    let mut resources: BTreeMap<Address, ResourceConfig> = BTreeMap::new();
    let mut first_seen: BTreeMap<Address, Span> = BTreeMap::new();
    let mut export_paths = delivery::ExportPaths::default();
    let mut providers = BTreeMap::new();
    let mut removed = BTreeMap::new();
    let mut moved = Vec::new();
    let mut imports = Vec::new();
    let mut outputs = BTreeMap::new();
    let mut settings = None;
    let mut acme_provider = None;
    let mut registrations = BTreeMap::new();
    let mut notify = Vec::new();

    let bodies = parse_bodies(&mut reader, inputs);
    let variables = evaluate_values(&mut reader, &bodies, inputs);
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
                    "certplan" => settings::read(&mut reader, file, block, &mut settings),
                    "output" => output::read(&mut reader, file, block, &mut outputs),
                    "moved" => moves::read_moved(&mut reader, file, block, &mut moved),
                    "import" => imports::read(&mut reader, file, block, &mut imports),
                    "resource" if is_registration(block) => {
                        let name = block.labels.get(1).map_or("", |l| l.as_str());
                        acme::read_registration(&mut reader, file, block, name, &mut registrations);
                    }
                    "provider" if label(block) == Some("acme") => {
                        acme::read_provider(&mut reader, file, block, &mut acme_provider);
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
                                for resource::Instance { config, export_spans } in instances {
                                    export_paths.claim(&mut reader, &config, &export_spans);
                                    resources.insert(config.address.clone(), config);
                                }
                            }
                        }
                    }
                    "provider" => provider::read(&mut reader, file, block, &mut providers),
                    "removed" => moves::read_removed(&mut reader, file, block, &mut removed),
                    "notify" => notify::read(&mut reader, file, block, &mut notify),
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
    let acme = acme::AcmeConfig {
        server_url: acme_provider
            .map_or_else(|| certplan_core::LETS_ENCRYPT.to_owned(), |(u, _)| u),
        registrations: registrations.into_iter().map(|(n, (r, _))| (n, r)).collect(),
    };
    let providers = crate::Providers::from_blocks(providers.into_iter().map(|(p, (c, _))| (p, c)));
    provider::check_references(&mut reader, &providers);
    acme::complete(&mut reader, &acme, &mut resources, &first_seen);
    moves::check_removed_are_not_declared(&mut reader, &removed, &first_seen);
    imports::check(&mut reader, &imports, &resources);
    let mut diagnostics = reader.diagnostics;
    reader.sensitivity.redact(&mut diagnostics);
    if diagnostics.iter().any(|d| d.severity == Severity::Error) {
        let sensitivity = std::mem::take(&mut reader.sensitivity);
        return Err(failed(sources, diagnostics, &sensitivity, inputs));
    }
    let removed = removed.into_iter().map(|(a, (r, _))| (a, r)).collect();
    let outputs = outputs.into_iter().map(|(n, (o, _))| (n, o)).collect();
    let context = reader.ctx;
    let settings = settings.map(|(s, _)| s).unwrap_or_default();
    Ok(Config {
        sources,
        warnings: diagnostics,
        providers,
        resources,
        removed,
        variables,
        moved,
        imports: imports.into_iter().map(|(i, _)| i).collect(),
        outputs,
        context,
        settings,
        acme,
        notify,
    })
}

/// The first label of a block: a provider's name.
fn label(block: &hcl_edit::structure::Block) -> Option<&str> {
    block.labels.first().map(|l| l.as_str())
}

/// Returns true for `resource "acme_registration" "NAME"`: an account, not a certificate.
fn is_registration(block: &hcl_edit::structure::Block) -> bool {
    label(block) == Some(acme::REGISTRATION_TYPE) && block.labels.len() == 2
}

/// Reads only the `certplan` blocks of configuration files already read, with the same reader
/// as [`parse_sources_with`]. Every other block is skipped unread, and what is wrong with the
/// variables and locals matters only when a `certplan` block takes a value from them.
pub(crate) fn parse_settings(
    sources: Vec<Source>,
    inputs: &[VarInput],
) -> Result<CertplanBlock, ConfigError> {
    let mut reader = Reader::new(&sources);
    let bodies = parse_bodies(&mut reader, inputs);
    let values_from = reader.diagnostics.len();
    evaluate_values(&mut reader, &bodies, inputs);
    let values_to = reader.diagnostics.len();
    let mut settings = None;
    let mut uses_values = false;
    for (file, body) in &bodies {
        for block in blocks(body, "certplan") {
            uses_values |= settings::uses_values(block);
            settings::read(&mut reader, *file, block, &mut settings);
        }
    }
    let mut diagnostics = reader.diagnostics;
    // A path taken from a variable without a valid value, or from a local that failed (whose
    // use is not reported again), would quietly name another state file: then the variables'
    // and locals' problems are the settings' problems too.
    if !uses_values {
        diagnostics.drain(values_from..values_to);
    }
    reader.sensitivity.redact(&mut diagnostics);
    if diagnostics.iter().any(|d| d.severity == Severity::Error) {
        let sensitivity = std::mem::take(&mut reader.sensitivity);
        return Err(failed(sources, diagnostics, &sensitivity, inputs));
    }
    Ok(settings.map(|(s, _)| s).unwrap_or_default())
}

/// The error of a configuration that did not load, its sources masked where an excerpt could
/// show a sensitive value.
fn failed(
    mut sources: Vec<Source>,
    diagnostics: Vec<Diagnostic>,
    sensitivity: &crate::sensitive::Sensitivity,
    inputs: &[VarInput],
) -> ConfigError {
    sensitivity.mask_sources(&mut sources, &variables_files(inputs));
    ConfigError { sources, diagnostics }
}

/// The sources that `inputs` name as variables files.
fn variables_files(inputs: &[VarInput]) -> Vec<usize> {
    inputs
        .iter()
        .filter_map(|input| match input {
            VarInput::File { source } => Some(*source),
            _ => None,
        })
        .collect()
}

/// Parses every configuration file among the reader's sources (not the variables files
/// `inputs` name), reporting syntax errors.
fn parse_bodies(reader: &mut Reader<'_>, inputs: &[VarInput]) -> Vec<(usize, Body)> {
    let variable_files = variables_files(inputs);
    let mut bodies = Vec::with_capacity(reader.sources.len());
    for (file, source) in reader.sources.iter().enumerate() {
        if variable_files.contains(&file) {
            continue;
        }
        match hcl_edit::parser::parse_body(&source.text) {
            Ok(body) => bodies.push((file, body)),
            Err(e) => reader.diagnostics.push(syntax_error(file, &source.text, &e)),
        }
    }
    bodies
}

/// Resolves the variables and evaluates the locals into the reader's context, for every other
/// expression to refer to; returns the variables' values.
fn evaluate_values(
    reader: &mut Reader<'_>,
    bodies: &[(usize, Body)],
    inputs: &[VarInput],
) -> BTreeMap<String, hcl::Value> {
    // Variables, then locals: every other expression may refer to them.
    let variables = variables::resolve(reader, bodies, inputs);
    let vars: hcl::Map<String, hcl::Value> = variables.clone().into_iter().collect();
    reader.ctx = locals::evaluate(reader, bodies, &vars);
    variables
}

/// Points at a syntax error in `file` (whose text is `text`). A string left open on an
/// earlier line is what the parser trips over a line or more later: it is named where it opens.
pub(crate) fn syntax_error(file: usize, text: &str, e: &hcl_edit::parser::Error) -> Diagnostic {
    let offset = e.location().offset();
    if let Some(open) = unclosed_string(&text[..offset.min(text.len())]) {
        return Diagnostic::error("invalid HCL syntax: a string is not closed on its line")
            .at(Span { file, range: open..open + 1 }, "this quote opens a string that never closes")
            .help("close it with \" on the same line; a value over several lines is a heredoc (<<EOT ... EOT)");
    }
    Diagnostic::error(format!("invalid HCL syntax: {}", e.message()))
        .at(Span { file, range: offset..offset + 1 }, "here")
        .help("see https://github.com/hashicorp/hcl/blob/main/hclsyntax/spec.md")
}

/// Returns the offset of the first quote in `text` that opens a string its line does not
/// close, outside comments and heredocs (`${...}` inside a string may hold quotes of its own).
fn unclosed_string(text: &str) -> Option<usize> {
    let mut heredoc: Option<String> = None;
    let mut line_start = 0;
    for line in text.split_inclusive('\n') {
        let start = line_start;
        line_start += line.len();
        if let Some(end) = &heredoc {
            if line.trim() == end {
                heredoc = None;
            }
            continue;
        }
        let (mut open, mut depth, mut escaped) = (None::<usize>, 0usize, false);
        let bytes = line.as_bytes();
        let mut i = 0;
        while i < bytes.len() {
            let b = bytes[i];
            match open {
                Some(_) if escaped => escaped = false,
                Some(_) if b == b'\\' => escaped = true,
                Some(_) if b == b'$' && bytes.get(i + 1) == Some(&b'{') => {
                    depth += 1;
                    i += 1;
                }
                Some(_) if b == b'}' && depth > 0 => depth -= 1,
                Some(_) if b == b'"' && depth == 0 => open = None,
                Some(_) => {}
                None if b == b'#' || (b == b'/' && bytes.get(i + 1) == Some(&b'/')) => break,
                None if b == b'<' && line[i..].starts_with("<<") => {
                    let marker = line[i + 2..].trim_start_matches('-').trim();
                    heredoc = Some(marker.to_owned());
                    break;
                }
                None if b == b'"' => open = Some(start + i),
                None => {}
            }
            i += 1;
        }
        if let Some(at) = open
            && line_start <= text.len()
            && line.ends_with('\n')
        {
            return Some(at);
        }
    }
    None
}
