//! `export` blocks: a directory of this machine that the PEM files are written to, and a
//! command to run when they change; and [`ExportPaths`], two instances exporting to one
//! directory across the configuration.

use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};

use certplan_core::{Address, DEFAULT_HOOK_TIMEOUT, ExportSpec, InstanceKey};
use hcl_edit::Span as _;
use hcl_edit::structure::Block;

use crate::eval::{Arguments, missing_argument};
use crate::{Diagnostic, Reader, ResourceConfig, Span};

const EXPORT_ARGUMENTS: &[&str] = &["path", "on_change", "on_change_timeout"];

/// Reads one `export` block: the export, with where its path is written. `None` (with
/// diagnostics pushed) when it is not usable.
pub(super) fn read(
    reader: &mut Reader<'_>,
    file: usize,
    block: &Block,
) -> Option<(ExportSpec, Span)> {
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
pub(super) fn same_place(path: &Path) -> PathBuf {
    path.components().filter(|c| !matches!(c, Component::CurDir)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn export_paths_are_compared_as_directories() {
        assert_eq!(same_place(Path::new("./certs/www/")), same_place(Path::new("certs/www")));
        assert_eq!(same_place(Path::new("/etc//certs")), same_place(Path::new("/etc/certs/.")));
        assert_ne!(same_place(Path::new("a/../b")), same_place(Path::new("b")));
        assert_ne!(same_place(Path::new("/certs")), same_place(Path::new("certs")));
    }
}
