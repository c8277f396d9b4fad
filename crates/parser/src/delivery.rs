//! A resource's `deploy` and `export` blocks: where each new certificate goes once issued.
//! `deploy` names the Tencent Cloud resources that take the new certificate over from the one
//! it replaces (the resource types of `UpdateCertificateInstance`, with regions for the
//! region-scoped ones); `export` names a directory of this machine that the PEM files are
//! written to, and a command to run when they change.
//!
//! This module reads and checks what is declared, into [`certplan_core::Delivery`], per
//! resource instance; [`ExportPaths`] finds two instances exporting to one directory across
//! the configuration. It deploys nothing, writes no file and runs no command.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Component, Path, PathBuf};

use certplan_core::{
    Address, DEFAULT_HOOK_TIMEOUT, Delivery, DeployTarget, EXPORT_FILES, ExportSpec, InstanceKey,
    ResourceType,
};
use hcl_edit::Span as _;
use hcl_edit::expr::{Expression, ObjectKey};
use hcl_edit::structure::Block;

use crate::eval::{Arguments, as_strings, kind_of, missing_argument, suggestion};
use crate::{Diagnostic, Reader, ResourceConfig, Span, blocks};

const DEPLOY_ARGUMENTS: &[&str] = &["resource_types", "regions"];
const EXPORT_ARGUMENTS: &[&str] = &["path", "on_change", "on_change_timeout"];

/// Reads the `deploy` and `export` blocks of one resource instance, with `count`/`each`
/// already in the context. Returns the delivery, and where each export's `path` is written
/// (in the order of `exports`).
pub(crate) fn read(reader: &mut Reader<'_>, file: usize, block: &Block) -> (Delivery, Vec<Span>) {
    let mut delivery = Delivery::default();
    for inner in blocks(&block.body, "deploy") {
        if let Some(target) = read_deploy(reader, file, inner) {
            // Every block goes into one deployment: the API runs one deployment task per
            // certificate at a time, so a task per block would wait for, or be refused
            // because of, the one before it.
            match &mut delivery.deploy {
                Some(deploy) => deploy.merge(target),
                None => delivery.deploy = Some(target),
            }
        }
    }
    let mut export_spans: Vec<Span> = Vec::new();
    let mut seen: BTreeMap<PathBuf, Span> = BTreeMap::new();
    for inner in blocks(&block.body, "export") {
        let Some((export, here)) = read_export(reader, file, inner) else { continue };
        let place = same_place(&export.path);
        if let Some(first) = seen.get(&place) {
            reader.push(Diagnostic::duplicate(
                format!("two export blocks write to \"{}\"", export.path.display()),
                here,
                first.clone(),
                &format!(
                    "each export writes {} into a directory of its own: remove one block, or give it another path",
                    EXPORT_FILES.join(", ")
                ),
            ));
            continue;
        }
        seen.insert(place, here.clone());
        delivery.exports.push(export);
        export_spans.push(here);
    }
    (delivery, export_spans)
}

/// Reads one `deploy` block; `None` (with diagnostics pushed) when it is not usable.
fn read_deploy(reader: &mut Reader<'_>, file: usize, block: &Block) -> Option<DeployTarget> {
    let errors_before = reader.diagnostics.len();
    let mut args = Arguments::read(reader, file, &block.body, DEPLOY_ARGUMENTS, &[]);
    if !args.is_written("resource_types") {
        let header = reader.header_span(file, block);
        reader.push(missing_argument(header, "deploy", "resource_types", "[\"clb\", \"cdn\"]"));
    }
    let listed = resource_types(reader, file, block, &mut args);
    let regions = regions(reader, file, block, &mut args, listed.as_ref());
    if reader.diagnostics.len() > errors_before {
        return None;
    }
    Some(DeployTarget { resource_types: listed?.into_keys().collect(), regions })
}

/// Takes `resource_types`: each type with where it is listed. `None` when it is not set or
/// not all valid, so that `regions` is not checked against a list the user must fix first.
fn resource_types(
    reader: &mut Reader<'_>,
    file: usize,
    block: &Block,
    args: &mut Arguments,
) -> Option<BTreeMap<ResourceType, Span>> {
    let (types, span) = args.strings(reader, "resource_types")?;
    if types.is_empty() {
        reader.push(
            Diagnostic::error("resource_types is empty")
                .at(span, "no resource types")
                .help("list the types of the cloud resources that take each new certificate over, e.g. [\"clb\", \"cdn\"], or remove the deploy block"),
        );
        return None;
    }
    let spans = element_spans(reader, file, value_of(block, "resource_types"), &span, types.len());
    let errors_before = reader.diagnostics.len();
    let mut listed: BTreeMap<ResourceType, Span> = BTreeMap::new();
    for (name, here) in types.into_iter().zip(spans) {
        match ResourceType::parse(&name) {
            None => reader.push(unknown_type(&name, here)),
            Some(kind) if listed.contains_key(&kind) => {
                let message = format!("resource type \"{kind}\" is listed twice");
                reader.push(listed_twice(message, here, listed[&kind].clone()));
            }
            Some(kind) => {
                listed.insert(kind, here);
            }
        }
    }
    (reader.diagnostics.len() == errors_before).then_some(listed)
}

/// Takes `regions`: the regions of each region-scoped type `listed` (when it is valid), which
/// must all be there, and of no other type.
fn regions(
    reader: &mut Reader<'_>,
    file: usize,
    block: &Block,
    args: &mut Arguments,
    listed: Option<&BTreeMap<ResourceType, Span>>,
) -> BTreeMap<ResourceType, BTreeSet<String>> {
    let mut regions = BTreeMap::new();
    let written = args.is_written("regions");
    let Some((map, span)) = args.map(reader, "regions") else {
        // A `regions` that could not be read was reported: which entries it lacks is unknown.
        if !written && let Some(listed) = listed {
            require_regions(reader, listed, &BTreeSet::new(), false);
        }
        return regions;
    };
    let entries = entries_of(reader, file, value_of(block, "regions"));
    let present: BTreeSet<ResourceType> =
        map.keys().filter_map(|name| ResourceType::parse(name)).collect();
    for (name, value) in map {
        let (key_span, value_expr) = entries.get(&name).cloned().unwrap_or((span.clone(), None));
        let Some(kind) = ResourceType::parse(&name) else {
            reader.push(unknown_type(&name, key_span));
            continue;
        };
        if !kind.is_regional() {
            let regional: Vec<&str> = ResourceType::REGIONAL.iter().map(|t| t.name()).collect();
            reader.push(
                Diagnostic::error(format!("resource type \"{kind}\" takes no regions"))
                    .at(key_span, "not region-scoped")
                    .help(format!(
                        "remove this entry: regions are for the region-scoped types ({})",
                        regional.join(", ")
                    )),
            );
            continue;
        }
        if let Some(listed) = listed
            && !listed.contains_key(&kind)
        {
            reader.push(
                Diagnostic::error(format!(
                    "regions has an entry for \"{kind}\", which resource_types does not list"
                ))
                .at(key_span, "not deployed to by this block")
                .help(format!("add \"{kind}\" to resource_types, or remove this entry")),
            );
            continue;
        }
        let value_span = value_expr.map_or(key_span, |e| reader.span(file, e.span()));
        let Some(names) = as_strings(&value) else {
            reader.push(
                Diagnostic::error(format!("the regions of \"{kind}\" must be a list of strings"))
                    .at(value_span, format!("this is {}", kind_of(&value)))
                    .help(format!("e.g. {kind} = [\"ap-guangzhou\", \"ap-shanghai\"]")),
            );
            continue;
        };
        if names.is_empty() {
            reader.push(
                Diagnostic::error(format!("no regions for \"{kind}\""))
                    .at(value_span, "an empty list")
                    .help(format!(
                        "list the regions of the {kind} resources to deploy to, e.g. {kind} = [\"ap-guangzhou\"]"
                    )),
            );
            continue;
        }
        let spans = element_spans(reader, file, value_expr, &value_span, names.len());
        let mut seen: BTreeMap<String, Span> = BTreeMap::new();
        for (name, here) in names.into_iter().zip(spans) {
            if !is_region_name(&name) {
                reader.push(invalid_region(&name, here));
            } else if let Some(first) = seen.get(&name) {
                let message = format!("region \"{name}\" is listed twice for \"{kind}\"");
                reader.push(listed_twice(message, here, first.clone()));
            } else {
                seen.insert(name, here);
            }
        }
        regions.insert(kind, seen.into_keys().collect());
    }
    if let Some(listed) = listed {
        require_regions(reader, listed, &present, true);
    }
    regions
}

/// Reports each region-scoped type of `listed` without an entry among `present`.
fn require_regions(
    reader: &mut Reader<'_>,
    listed: &BTreeMap<ResourceType, Span>,
    present: &BTreeSet<ResourceType>,
    regions_written: bool,
) {
    for (kind, here) in listed {
        if !kind.is_regional() || present.contains(kind) {
            continue;
        }
        let entry = format!("{kind} = [\"ap-guangzhou\"]");
        let help = if regions_written {
            format!("add `{entry}` to regions, with the regions of the {kind} resources")
        } else {
            format!("add `regions = {{ {entry} }}`, with the regions of the {kind} resources")
        };
        reader.push(
            Diagnostic::error(format!("resource type \"{kind}\" needs regions"))
                .at(here.clone(), "region-scoped: deployed region by region")
                .help(help),
        );
    }
}

/// Reads one `export` block: the export, with where its path is written. `None` (with
/// diagnostics pushed) when it is not usable.
fn read_export(reader: &mut Reader<'_>, file: usize, block: &Block) -> Option<(ExportSpec, Span)> {
    let errors_before = reader.diagnostics.len();
    let in_clear = [
        (
            "path",
            "the path is shown in plans and kept in state as written: take it from a value that is not sensitive",
        ),
        (
            "on_change",
            "the command is shown in plans and kept in state as written: keep the secret out of it, and let the command read it from a file or from its environment",
        ),
    ];
    for (name, help) in in_clear {
        if let Some(attr) = block.body.get_attribute(name)
            && reader.sensitivity.taints(&attr.value)
        {
            reader.push(
                Diagnostic::error(format!("export {name} cannot use sensitive values"))
                    .at(reader.span(file, attr.value.span()), "derived from a sensitive variable")
                    .help(help),
            );
        }
    }
    let mut args = Arguments::read(reader, file, &block.body, EXPORT_ARGUMENTS, &[]);
    if !args.is_written("path") {
        let header = reader.header_span(file, block);
        reader.push(missing_argument(header, "export", "path", "\"/etc/nginx/certs/www\""));
    }
    let path = args.string(reader, "path").filter(|(path, span)| {
        let empty = path.trim().is_empty();
        if empty {
            reader.push(
                Diagnostic::error("export path is empty")
                    .at(span.clone(), "no directory")
                    .help("name the directory the certificate files are written to, e.g. path = \"/etc/nginx/certs/www\""),
            );
        }
        !empty
    });
    let on_change = args.string(reader, "on_change").filter(|(command, span)| {
        let empty = command.trim().is_empty();
        if empty {
            reader.push(
                Diagnostic::error("on_change is empty")
                    .at(span.clone(), "no command")
                    .help("write the command to run once the files changed, e.g. on_change = \"systemctl reload nginx\", or remove the argument"),
            );
        }
        !empty
    });
    let timeout = args.duration(reader, "on_change_timeout").filter(|(timeout, span)| {
        if timeout.is_zero() {
            reader.push(
                Diagnostic::error("on_change_timeout must be longer than zero")
                    .at(span.clone(), "no time to run")
                    .help(format!(
                        "give the command time to finish, e.g. \"30s\", or leave the argument out for the default, {}",
                        humantime::format_duration(DEFAULT_HOOK_TIMEOUT)
                    )),
            );
        }
        !timeout.is_zero()
    });
    if reader.diagnostics.len() > errors_before {
        return None;
    }
    let (path, span) = path?;
    let export = ExportSpec {
        path: PathBuf::from(path),
        on_change: on_change.map(|(command, _)| command),
        on_change_timeout: timeout.map_or(DEFAULT_HOOK_TIMEOUT, |(timeout, _)| timeout),
    };
    Some((export, span))
}

/// The export directories of the configuration's instances read so far, with the instance
/// that writes to each and where: two certificates exporting to one directory would
/// overwrite each other's files, whichever was written last winning.
#[derive(Debug, Default)]
pub(crate) struct ExportPaths {
    claimed: BTreeMap<PathBuf, (Address, Span)>,
    /// The pairs of places already reported (where the path is written again, and first): a
    /// block with `count = 10` and one path for all is one mistake, not nine.
    reported: Vec<(Span, Span)>,
}

impl ExportPaths {
    /// Records the directories `config` exports to (`spans`: where each path is written),
    /// reporting one that another instance already exports to.
    pub(crate) fn claim(
        &mut self,
        reader: &mut Reader<'_>,
        config: &ResourceConfig,
        spans: &[Span],
    ) {
        for (export, here) in config.delivery.exports.iter().zip(spans) {
            let place = same_place(&export.path);
            let Some((other, first)) = self.claimed.get(&place) else {
                self.claimed.insert(place, (config.address.clone(), here.clone()));
                continue;
            };
            let places = (here.clone(), first.clone());
            if !self.reported.contains(&places) {
                let d =
                    shared_path(&export.path, &config.address, here.clone(), other, first.clone());
                reader.push(d);
                self.reported.push(places);
            }
        }
    }
}

/// Reports `address` exporting to `path`, where `other` exports already.
fn shared_path(
    path: &Path,
    address: &Address,
    here: Span,
    other: &Address,
    first: Span,
) -> Diagnostic {
    let message = format!("{other} and {address} both export to \"{}\"", path.display());
    let overwrite = "each would overwrite the other's certificate files";
    if here == first {
        // Two instances of one block: the path does not depend on the instance.
        let key = match address.key {
            Some(InstanceKey::Index(_)) => "${count.index}",
            _ => "${each.key}",
        };
        return Diagnostic::error(message)
            .at(here, "the same directory for more than one instance")
            .help(format!(
                "{overwrite}: make the path differ from one instance to the next, e.g. end it with /{key}"
            ));
    }
    Diagnostic::error(message)
        .at(here, format!("{address} exports here"))
        .also(first, format!("{other} exports here"))
        .help(format!("{overwrite}: give each certificate a directory of its own"))
}

/// Returns the form two export paths are compared in: `certs`, `./certs` and `certs/` are one
/// directory. `..` is kept: past a symbolic link it need not lead back where it came from.
fn same_place(path: &Path) -> PathBuf {
    path.components().filter(|c| !matches!(c, Component::CurDir)).collect()
}

/// Returns true for a region name of Tencent Cloud's form, `^[a-z]{2,}(-[a-z0-9]+)+$`:
/// `ap-guangzhou`, `na-siliconvalley`, `eu-frankfurt`, `ap-shanghai-fsi`.
fn is_region_name(name: &str) -> bool {
    let Some((area, rest)) = name.split_once('-') else { return false };
    area.len() >= 2
        && area.bytes().all(|b| b.is_ascii_lowercase())
        && rest.split('-').all(|part| {
            !part.is_empty() && part.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        })
}

fn invalid_region(name: &str, span: Span) -> Diagnostic {
    let form = "a region is named by its area and city in lower case, joined by hyphens: \"ap-guangzhou\", \"na-siliconvalley\", \"eu-frankfurt\", \"ap-shanghai-fsi\"";
    let d =
        Diagnostic::error(format!("invalid region name \"{name}\"")).at(span, "not a region name");
    let fixed = name.trim().to_ascii_lowercase().replace(['_', ' '], "-");
    if is_region_name(&fixed) {
        d.help(format!("did you mean \"{fixed}\"? ({form})"))
    } else {
        d.help(form)
    }
}

fn unknown_type(kind: &str, span: Span) -> Diagnostic {
    let names: Vec<&str> = ResourceType::ALL.iter().map(|t| t.name()).collect();
    let types: Vec<String> = names.iter().map(|t| format!("\"{t}\"")).collect();
    let types = types.join(", ");
    let d = Diagnostic::error(format!("unknown deploy resource type \"{kind}\""))
        .at(span, "not a type certplan deploys to");
    match suggestion(kind, &names) {
        Some(close) => d.help(format!("did you mean \"{close}\"? (the types are {types})")),
        None => d.help(format!("the types are {types}")),
    }
}

/// Reports a list element given twice: at both when the list is written out, else at the list.
fn listed_twice(message: String, again: Span, first: Span) -> Diagnostic {
    if again == first {
        return Diagnostic::error(message)
            .at(again, "in this list")
            .help("remove the duplicate; toset(...) removes those of a computed list");
    }
    Diagnostic::duplicate(message, again, first, "remove one of them")
}

fn value_of<'b>(block: &'b Block, name: &str) -> Option<&'b Expression> {
    block.body.get_attribute(name).map(|attr| &attr.value)
}

/// Spans each of the `n` elements of a list: each element when the list is written out as
/// `[a, b]`, else the whole value (the elements of a computed list have no place of their own).
fn element_spans(
    reader: &Reader<'_>,
    file: usize,
    expr: Option<&Expression>,
    whole: &Span,
    n: usize,
) -> Vec<Span> {
    match expr {
        Some(Expression::Array(items)) if items.len() == n => {
            items.iter().map(|item| reader.span(file, item.span())).collect()
        }
        _ => vec![whole.clone(); n],
    }
}

/// Spans the key of each entry of a map written out as `{ key = value }`, with its value's
/// expression; empty for a computed map.
fn entries_of<'b>(
    reader: &Reader<'_>,
    file: usize,
    expr: Option<&'b Expression>,
) -> BTreeMap<String, (Span, Option<&'b Expression>)> {
    let Some(Expression::Object(object)) = expr else { return BTreeMap::new() };
    object
        .iter()
        .filter_map(|(key, value)| {
            let name = match key {
                ObjectKey::Ident(ident) => ident.as_str(),
                ObjectKey::Expression(Expression::String(s)) => s.as_str(),
                ObjectKey::Expression(_) => return None,
            };
            Some((name.to_owned(), (reader.span(file, key.span()), Some(value.expr()))))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn region_names_have_tencents_form() {
        for good in
            ["ap-guangzhou", "na-siliconvalley", "eu-frankfurt", "ap-shanghai-fsi", "ap-beijing-1"]
        {
            assert!(is_region_name(good), "{good}");
        }
        for bad in [
            "",
            "ap",
            "guangzhou",
            "a-guangzhou",
            "AP-Guangzhou",
            "ap_guangzhou",
            "ap-",
            "ap--x",
            "-ap-x",
            "ap guangzhou",
        ] {
            assert!(!is_region_name(bad), "{bad}");
        }
    }

    #[test]
    fn misspelt_regions_are_corrected_when_the_fix_is_obvious() {
        let span = Span { file: 0, range: 0..1 };
        let help = |name| invalid_region(name, span.clone()).help.unwrap_or_default();
        assert!(
            help("AP_Guangzhou").starts_with("did you mean \"ap-guangzhou\"?"),
            "{}",
            help("AP_Guangzhou")
        );
        assert!(help("guangzhou").starts_with("a region is named"), "{}", help("guangzhou"));
    }

    #[test]
    fn resource_type_typos_are_suggested() {
        let span = Span { file: 0, range: 0..1 };
        let help = |kind| unknown_type(kind, span.clone()).help.unwrap_or_default();
        assert!(help("CLB").starts_with("did you mean \"clb\"?"), "{}", help("CLB"));
        assert!(help("ecdn").starts_with("did you mean \"cdn\"?"), "{}", help("ecdn"));
        assert!(
            help("loadbalancer").starts_with("the types are \"clb\""),
            "{}",
            help("loadbalancer")
        );
    }

    #[test]
    fn export_paths_are_compared_as_directories() {
        assert_eq!(same_place(Path::new("./certs/www/")), same_place(Path::new("certs/www")));
        assert_eq!(same_place(Path::new("/etc//certs")), same_place(Path::new("/etc/certs/.")));
        assert_ne!(same_place(Path::new("a/../b")), same_place(Path::new("b")));
        assert_ne!(same_place(Path::new("/certs")), same_place(Path::new("certs")));
    }
}
