//! `deploy` blocks: the Tencent Cloud resources that take each new certificate over, by
//! resource type, with regions for the region-scoped types — and the instances named to put
//! a certificate on where none serves yet.

use std::collections::{BTreeMap, BTreeSet};

use certplan_core::{DeployTarget, Instances, ResourceType};
use hcl_edit::Span as _;
use hcl_edit::structure::Block;

use super::{element_spans, entries_of, listed_twice, value_of};
use crate::diagnostic::Severity;
use crate::eval::{Arguments, as_strings, kind_of, missing_argument, suggestion};
use crate::{Diagnostic, Reader, Span};

const DEPLOY_ARGUMENTS: &[&str] = &["resource_types", "regions", "instances"];

/// Reads one `deploy` block; `None` (with diagnostics pushed) when it is not usable.
pub(super) fn read(reader: &mut Reader<'_>, file: usize, block: &Block) -> Option<DeployTarget> {
    let errors_before = reader.diagnostics.len();
    let mut args = Arguments::read(reader, file, &block.body, DEPLOY_ARGUMENTS, &[]);
    let named = instances(reader, file, block, &mut args);
    let listed = if args.is_written("resource_types") {
        resource_types(reader, file, block, &mut args)
    } else {
        if !args.is_written("instances") {
            let header = reader.header_span(file, block);
            reader.push(missing_argument(header, "deploy", "resource_types", "[\"clb\", \"cdn\"]"));
        }
        Some(BTreeMap::new())
    };
    // The types of the instances named are deployed to as well: renewals move them.
    let listed = listed.map(|mut listed| {
        for (kind, _, here) in named.iter().flatten() {
            listed.entry(*kind).or_insert_with(|| here.clone());
        }
        listed
    });
    let regions = regions(reader, file, block, &mut args, listed.as_ref());
    let mut groups = Vec::new();
    for (kind, ids, here) in named.unwrap_or_default() {
        let region = match regions.get(&kind).map(|r| r.iter().collect::<Vec<_>>()) {
            _ if !kind.is_regional() => None,
            Some(one) if one.len() == 1 => Some(one[0].clone()),
            Some(several) => {
                reader.push(
                    Diagnostic::error(format!(
                        "the {kind} instances are deployed in one region, and this block lists {} for {kind}",
                        several.len()
                    ))
                    .at(here, "which region are they in?")
                    .help("write one deploy block per region, each with that region's instances"),
                );
                continue;
            }
            // Reported: a region-scoped type needs its region.
            None => continue,
        };
        groups.push(Instances { resource_type: kind, region, ids });
    }
    if reader.diagnostics.len() > errors_before {
        return None;
    }
    Some(DeployTarget { resource_types: listed?.into_keys().collect(), regions, instances: groups })
}

/// Takes `instances = { clb = ["lb-1|lbl-1"], cdn = ["www.example.com|on"] }`: the instances
/// of each type to put the certificate on where none serves yet, with where each type is
/// written.
fn instances(
    reader: &mut Reader<'_>,
    file: usize,
    block: &Block,
    args: &mut Arguments,
) -> Option<Vec<(ResourceType, BTreeSet<String>, Span)>> {
    let (map, span) = args.map(reader, "instances")?;
    let entries = entries_of(reader, file, value_of(block, "instances"));
    let mut named = Vec::new();
    for (name, value) in map {
        let (key_span, value_expr) = entries.get(&name).cloned().unwrap_or((span.clone(), None));
        let Some(kind) = ResourceType::parse(&name) else {
            reader.push(unknown_type(&name, key_span));
            continue;
        };
        let value_span = value_expr.map_or(key_span.clone(), |e| reader.span(file, e.span()));
        let ids = as_strings(&value).filter(|ids| {
            !ids.is_empty()
                && ids.iter().all(|id| !id.is_empty() && !id.contains(char::is_whitespace))
        });
        let Some(ids) = ids else {
            reader.push(
                Diagnostic::error(format!("the instances of \"{kind}\" must be a list of instance ids"))
                    .at(value_span, "not a list of ids")
                    .help("ids as the API takes them, e.g. clb = [\"lb-xxx|lbl-xxx\"] (with SNI: \"lb-xxx|lbl-xxx|www.example.com\"), cdn = [\"www.example.com|on\"], tke = [\"cls-xxx|namespace|secret\"]"),
            );
            continue;
        };
        named.push((kind, ids.into_iter().collect(), key_span));
    }
    Some(named)
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
                match crate::region::check(&name, here.clone()) {
                    Some(typo) if typo.severity == Severity::Error => reader.push(typo),
                    unknown => {
                        unknown.into_iter().for_each(|warning| reader.push(warning));
                        seen.insert(name, here);
                    }
                }
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
}
