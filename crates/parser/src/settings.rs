//! The `certplan { required_version = "..."  backend "local" { path = "..." } }` block: the
//! settings of certplan itself, read into [`CertplanBlock`].
//!
//! The one reader of the block, for the full load and for [`load_settings`](crate::load_settings)
//! alike, so that both find the state in the same place. Its arguments are evaluated like any
//! other, with the built-in functions, `var` and `local`. It reads the block and nothing else:
//! what the settings mean for the state file is the caller's business.

use hcl_edit::expr::Expression;
use hcl_edit::structure::Block;
use hcl_edit::visit::Visit;

use certplan_core::{Backend, Sensitive};

use crate::{CertplanBlock, Diagnostic, Reader, Span, blocks, eval};

/// Reads a `certplan` block into `read`, unless a block was read already: one is allowed.
pub(crate) fn read(
    reader: &mut Reader<'_>,
    file: usize,
    block: &Block,
    read: &mut Option<(CertplanBlock, Span)>,
) {
    let here = reader.header_span(file, block);
    if let Some((_, first)) = read {
        reader.push(Diagnostic::duplicate(
            "two certplan blocks",
            here,
            first.clone(),
            "keep one certplan block",
        ));
    } else {
        *read = Some((read_block(reader, file, block), here));
    }
}

/// Returns true when an expression anywhere in the block mentions `var` or `local`.
pub(crate) fn uses_values(block: &Block) -> bool {
    struct Finder(bool);
    impl Visit for Finder {
        fn visit_expr(&mut self, expr: &Expression) {
            if let Expression::Variable(name) = expr
                && matches!(name.as_str(), "var" | "local")
            {
                self.0 = true;
            }
            hcl_edit::visit::visit_expr(self, expr);
        }
    }
    let mut finder = Finder(false);
    finder.visit_block(block);
    finder.0
}

/// Reads `certplan { required_version = "..."  backend "local" { path = "..." } }`.
fn read_block(reader: &mut Reader<'_>, file: usize, block: &Block) -> CertplanBlock {
    let mut settings = CertplanBlock::default();
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
    let mut first: Option<Span> = None;
    for backend in blocks(&block.body, "backend") {
        let here = reader.header_span(file, backend);
        if let Some(first) = &first {
            reader.push(Diagnostic::duplicate(
                "two backend blocks",
                here,
                first.clone(),
                "state lives in one backend: keep one block",
            ));
            continue;
        }
        first = Some(here.clone());
        match backend.labels.first().map(|l| l.as_str()) {
            Some("local") => {
                let mut args = eval::Arguments::read(reader, file, &backend.body, &["path"], &[]);
                if let Some((path, _)) = args.string(reader, "path") {
                    settings.backend = Backend::Local { path: path.into() };
                }
            }
            Some("pg") => {
                let mut args = eval::Arguments::read(
                    reader,
                    file,
                    &backend.body,
                    &["conn_str", "schema_name"],
                    &[],
                );
                let conn_str = args.string(reader, "conn_str").map(|(c, _)| Sensitive::new(c));
                let schema_name = args.string(reader, "schema_name").map(|(s, _)| s);
                settings.backend = Backend::Pg { conn_str, schema_name };
            }
            other => reader.push(
                Diagnostic::error(format!("unsupported backend {:?}", other.unwrap_or("")))
                    .at(here, "not available")
                    .help("certplan keeps state in a local file, backend \"local\" { path = \"certplan.state.json\" }, or in PostgreSQL, backend \"pg\" { conn_str = \"postgres://...\" }"),
            ),
        }
    }
    settings
}
