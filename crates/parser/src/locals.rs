//! `locals { name = expr }` blocks: named values, evaluated in the order their references
//! require (a cycle is an error naming it), then offered to every other expression as
//! `local.<name>`.

use std::collections::BTreeMap;

use hcl::Value;
use hcl::eval::Context;
use hcl_edit::Span as _;
use hcl_edit::expr::Expression;
use hcl_edit::structure::Body;

use crate::{Diagnostic, Reader, Span, blocks};

struct Local<'b> {
    expr: &'b Expression,
    key: Span,
    value: Span,
}

/// Evaluates every `locals` block of `bodies`; returns the evaluation context for the rest
/// of the configuration (the built-in functions and `local`).
pub(crate) fn evaluate(
    reader: &mut Reader<'_>,
    bodies: &[(usize, Body)],
    vars: &hcl::Map<String, Value>,
) -> Context<'static> {
    let mut locals: BTreeMap<String, Local<'_>> = BTreeMap::new();
    for (file, body) in bodies {
        for block in blocks(body, "locals") {
            for attr in block.body.attributes() {
                let name = attr.key.as_str().to_owned();
                let key = reader.span(*file, attr.key.span());
                if let Some(first) = locals.get(&name) {
                    reader.push(Diagnostic::duplicate(
                        format!("local \"{name}\" is defined twice"),
                        key,
                        first.key.clone(),
                        "give one of them another name",
                    ));
                    continue;
                }
                let value = reader.span(*file, attr.value.span());
                locals.insert(name, Local { expr: &attr.value, key, value });
            }
            for nested in block.body.blocks() {
                reader.push(
                    Diagnostic::error("a locals block holds only name = value lines")
                        .at(reader.header_span(*file, nested), "a block here")
                        .help("write `name = value`"),
                );
            }
        }
    }

    let mut values: hcl::Map<String, Value> = hcl::Map::new();
    let mut state: BTreeMap<&str, Mark> = BTreeMap::new();
    let names: Vec<&String> = locals.keys().collect();
    for name in names {
        let mut path = Vec::new();
        resolve(reader, &locals, name, vars, &mut state, &mut path, &mut values);
    }
    let exprs: Vec<(&str, &Expression)> =
        locals.iter().map(|(name, local)| (name.as_str(), local.expr)).collect();
    reader.sensitivity.add_locals(&exprs, &values);
    reader.failed_locals = locals.into_keys().filter(|name| !values.contains_key(name)).collect();
    context(vars, values)
}

/// The evaluation context: the built-in functions, `var` and `local`.
fn context(vars: &hcl::Map<String, Value>, locals: hcl::Map<String, Value>) -> Context<'static> {
    let mut ctx = crate::functions::context();
    ctx.declare_var("var", Value::Object(vars.clone()));
    ctx.declare_var("local", Value::Object(locals));
    ctx
}

/// Where a local is in the depth-first walk.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Mark {
    InProgress,
    Done,
}

/// Evaluates `name` after the locals it refers to (depth first), reporting cycles and
/// references to locals that do not exist.
fn resolve<'n>(
    reader: &mut Reader<'_>,
    locals: &'n BTreeMap<String, Local<'_>>,
    name: &'n str,
    vars: &hcl::Map<String, Value>,
    state: &mut BTreeMap<&'n str, Mark>,
    path: &mut Vec<&'n str>,
    values: &mut hcl::Map<String, Value>,
) {
    match state.get(name) {
        Some(Mark::Done) => return,
        Some(Mark::InProgress) => {
            let start = path.iter().position(|n| *n == name).unwrap_or(0);
            let cycle: Vec<&str> = path[start..].iter().copied().chain([name]).collect();
            if let Some(local) = locals.get(name) {
                reader.push(
                    Diagnostic::error(format!(
                        "locals refer to each other in a cycle: {}",
                        cycle.join(" -> ")
                    ))
                    .at(local.value.clone(), "this depends on itself")
                    .help("break the cycle: one of these values must not depend on the others"),
                );
            }
            return;
        }
        None => {}
    }
    let Some(local) = locals.get(name) else { return };
    state.insert(name, Mark::InProgress);
    path.push(name);
    let refs = crate::expr::references(local.expr, "local");
    for reference in &refs {
        match locals.get_key_value(reference.as_str()) {
            Some((key, _)) => resolve(reader, locals, key, vars, state, path, values),
            None => reader.push(
                Diagnostic::error(format!("local.{reference} is not defined"))
                    .at(local.value.clone(), "referenced here")
                    .help("define it in a locals block"),
            ),
        }
    }
    path.pop();
    state.insert(name, Mark::Done);
    let ctx = context(vars, values.clone());
    match crate::expr::evaluate(local.expr, &ctx) {
        Ok(value) => {
            values.insert(name.to_owned(), value);
        }
        // A reference to a local that failed, or to a variable without a value, is reported
        // once, where that local or variable is.
        Err(_) if refs.iter().any(|r| !values.contains_key(r)) => {}
        Err(_)
            if crate::expr::references(local.expr, "var")
                .iter()
                .any(|v| reader.unset_variables.contains(v)) => {}
        Err(e) => {
            let text = reader.sources[local.value.file].text.get(local.value.range.clone());
            let help = crate::eval::evaluation_help(&e, text.unwrap_or(""));
            let d = Diagnostic::error(format!(
                "cannot evaluate local \"{name}\": {}",
                crate::expr::describe(&e)
            ))
            .at(local.value.clone(), "in this expression");
            reader.push(match help {
                Some(help) => d.help(help),
                None => d,
            });
        }
    }
}
