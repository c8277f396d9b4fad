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
        resolve(reader, &locals, name, vars, &mut state, &mut values);
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

/// A local being resolved: the references it makes, and how many of them are seen to.
struct Frame<'n> {
    name: &'n str,
    refs: Vec<String>,
    next: usize,
}

/// Evaluates `root` after the locals it refers to (depth first, on a stack of its own: a chain
/// of ten thousand locals is as deep as the walk goes), reporting cycles and references to
/// locals that do not exist.
fn resolve<'n>(
    reader: &mut Reader<'_>,
    locals: &'n BTreeMap<String, Local<'_>>,
    root: &'n str,
    vars: &hcl::Map<String, Value>,
    state: &mut BTreeMap<&'n str, Mark>,
    values: &mut hcl::Map<String, Value>,
) {
    if state.contains_key(root) {
        return;
    }
    let start = |name: &'n str, state: &mut BTreeMap<&'n str, Mark>| {
        state.insert(name, Mark::InProgress);
        let refs = crate::expr::references(locals[name].expr, "local");
        Frame { name, refs, next: 0 }
    };
    let mut stack = vec![start(root, state)];
    while let Some(frame) = stack.last_mut() {
        let Some(reference) = frame.refs.get(frame.next) else {
            let frame = stack.pop().expect("the frame just looked at");
            state.insert(frame.name, Mark::Done);
            evaluate_local(reader, frame.name, &locals[frame.name], &frame.refs, vars, values);
            continue;
        };
        frame.next += 1;
        let from = &locals[frame.name];
        let Some((key, _)) = locals.get_key_value(reference.as_str()) else {
            reader.push(
                Diagnostic::error(format!("local.{reference} is not defined"))
                    .at(from.value.clone(), "referenced here")
                    .help("define it in a locals block"),
            );
            continue;
        };
        match state.get(key.as_str()) {
            Some(Mark::Done) => {}
            Some(Mark::InProgress) => {
                let path: Vec<&str> = stack.iter().map(|f| f.name).collect();
                let first = path.iter().position(|n| *n == key).unwrap_or(0);
                let cycle: Vec<&str> =
                    path[first..].iter().copied().chain([key.as_str()]).collect();
                reader.push(
                    Diagnostic::error(format!(
                        "locals refer to each other in a cycle: {}",
                        cycle.join(" -> ")
                    ))
                    .at(locals[key].value.clone(), "this depends on itself")
                    .help("break the cycle: one of these values must not depend on the others"),
                );
            }
            None => stack.push(start(key, state)),
        }
    }
}

/// Evaluates one local whose references are resolved, with only those in its context.
fn evaluate_local(
    reader: &mut Reader<'_>,
    name: &str,
    local: &Local<'_>,
    refs: &[String],
    vars: &hcl::Map<String, Value>,
    values: &mut hcl::Map<String, Value>,
) {
    let referenced = refs.iter().filter_map(|r| Some((r.clone(), values.get(r)?.clone())));
    let ctx = context(vars, referenced.collect());
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
