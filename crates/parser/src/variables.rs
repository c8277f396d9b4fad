//! `variable "name" { type, default, description, sensitive, nullable, validation { ... } }`
//! blocks and their values, from (lowest to highest precedence) defaults, `CERTPLAN_VAR_<name>`,
//! `certplan.tfvars`, `*.auto.tfvars` in lexical order, then `--var` and `--var-file` in
//! command-line order — Terraform's order. Type constraints convert and check values.

use std::collections::{BTreeMap, BTreeSet};

use hcl::Value;
use hcl::eval::{Context, Evaluate};
use hcl_edit::Span as _;
use hcl_edit::expr::Expression;
use hcl_edit::structure::Body;

use crate::eval::Arguments;
use crate::{Diagnostic, Reader, Span, blocks};

/// Where a variable's value comes from, lowest precedence first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VarInput {
    /// `CERTPLAN_VAR_<name>=<raw>` from the environment.
    Env { name: String, raw: String },
    /// A variables file (`certplan.tfvars`, `*.auto.tfvars`, `--var-file`): the index of its
    /// source among the configuration's sources.
    File { source: usize },
    /// `--var name=raw` on the command line.
    Flag { name: String, raw: String },
}

/// A type constraint.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Type {
    Any,
    String,
    Number,
    Bool,
    List(Box<Type>),
    Set(Box<Type>),
    Map(Box<Type>),
    Object(BTreeMap<String, Field>),
}

/// An attribute of an object type.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Field {
    ty: Type,
    /// For `optional(T)` and `optional(T, DEFAULT)`: the value an absent or null attribute takes
    /// (null without a default).
    default: Option<Value>,
}

struct Declared<'b> {
    ty: Type,
    default: Option<Value>,
    nullable: bool,
    sensitive: bool,
    validations: Vec<(&'b Expression, String, Span)>,
    header: Span,
}

/// Reads the variable blocks, resolves their values from `inputs`, checks types and
/// validation rules; returns the values by name.
pub(crate) fn resolve(
    reader: &mut Reader<'_>,
    bodies: &[(usize, Body)],
    inputs: &[VarInput],
) -> BTreeMap<String, Value> {
    let declared = declarations(reader, bodies);
    let mut given = given_values(reader, &declared, inputs);
    // What sensitive variables were given, converted or not, is never quoted in a diagnostic.
    let sensitive: BTreeSet<String> =
        declared.iter().filter(|(_, d)| d.sensitive).map(|(name, _)| name.clone()).collect();
    let raw: Vec<Value> =
        sensitive.iter().filter_map(|name| given.get(name)).map(|(v, _)| v.clone()).collect();
    let resolved = convert_values(reader, &declared, &mut given);
    validate_values(reader, &declared, &resolved);
    let converted = sensitive.iter().filter_map(|name| resolved.get(name));
    reader.sensitivity =
        crate::sensitive::Sensitivity::new(sensitive.clone(), raw.iter().chain(converted));
    resolved
}

/// A value as given, with where it was written (`None`: a default, the environment or the
/// command line, reported at the declaration).
type Given = (Value, Option<Span>);

/// Collects each declared variable's value from its default, then `inputs` in order (a later
/// one wins), reporting values that cannot be read and values for undeclared variables.
fn given_values(
    reader: &mut Reader<'_>,
    declared: &BTreeMap<String, Declared<'_>>,
    inputs: &[VarInput],
) -> BTreeMap<String, Given> {
    let mut values: BTreeMap<String, Given> = declared
        .iter()
        .filter_map(|(name, d)| Some((name.clone(), (d.default.clone()?, None))))
        .collect();
    for input in inputs {
        match input {
            VarInput::Env { name, raw } | VarInput::Flag { name, raw } => {
                let Some(d) = declared.get(name) else {
                    if matches!(input, VarInput::Flag { .. }) {
                        reader.push(undeclared(name, None, declared.keys()));
                    }
                    continue;
                };
                match parse_raw(raw, &d.ty) {
                    Ok(v) => {
                        values.insert(name.clone(), (v, None));
                    }
                    Err(e) => {
                        // What failed to parse is the value itself: never quote a secret.
                        let why = if d.sensitive {
                            format!(
                                "it is not {} (the value is sensitive, so it is not shown)",
                                describe(&d.ty)
                            )
                        } else {
                            e
                        };
                        reader.push(
                            Diagnostic::error(format!("invalid value for variable \"{name}\": {why}"))
                                .at(d.header.clone(), "declared here")
                                .help("a value that is not a string is written in HCL, e.g. [\"a\", \"b\"] or { a = 1 }"),
                        )
                    }
                }
            }
            VarInput::File { source } => values.extend(file_values(reader, declared, *source)),
        }
    }
    values
}

/// Reads the values a variables file (`*.tfvars`, `--var-file`) gives.
fn file_values(
    reader: &mut Reader<'_>,
    declared: &BTreeMap<String, Declared<'_>>,
    source: usize,
) -> Vec<(String, Given)> {
    let Ok(body) = hcl_edit::parser::parse_body(&reader.sources[source].text) else {
        reader.push(
            Diagnostic::error("invalid HCL syntax in a variables file")
                .at(Span { file: source, range: 0..1 }, "in this file"),
        );
        return Vec::new();
    };
    let ctx = crate::functions::context();
    let mut values = Vec::new();
    for attr in body.attributes() {
        let name = attr.key.as_str().to_owned();
        let span = reader.span(source, attr.value.span());
        if !declared.contains_key(&name) {
            // As in Terraform: a stray value in a file is a warning, on the command line an
            // error.
            let key = reader.span(source, attr.key.span());
            let mut d = undeclared(&name, Some(key), declared.keys());
            d.severity = crate::Severity::Warning;
            reader.push(d);
            continue;
        }
        match crate::expr::evaluate(&attr.value, &ctx) {
            Ok(v) => values.push((name, (v, Some(span)))),
            Err(e) => reader.push(
                Diagnostic::error(format!(
                    "cannot evaluate variable \"{name}\": {}",
                    crate::expr::describe(&e)
                ))
                .at(span, "in this value"),
            ),
        }
    }
    values
}

/// Converts each declared variable's value to its type; reports a variable without a value
/// (and records it as unset), a null that is not allowed, and a value of the wrong type.
fn convert_values(
    reader: &mut Reader<'_>,
    declared: &BTreeMap<String, Declared<'_>>,
    given: &mut BTreeMap<String, Given>,
) -> BTreeMap<String, Value> {
    let mut resolved = BTreeMap::new();
    for (name, d) in declared {
        let Some((value, origin)) = given.remove(name) else {
            reader.unset_variables.insert(name.clone());
            reader.push(
                Diagnostic::error(format!("variable \"{name}\" has no value"))
                    .at(d.header.clone(), "declared here without a default")
                    .help(format!(
                        "set CERTPLAN_VAR_{name}, pass --var {name}=VALUE, or add `{name} = ...` to certplan.tfvars"
                    )),
            );
            continue;
        };
        let at = origin.unwrap_or_else(|| d.header.clone());
        if value.is_null() {
            if !d.nullable {
                reader.push(
                    Diagnostic::error(format!("variable \"{name}\" must not be null"))
                        .at(at, "null here")
                        .help("it is declared with nullable = false"),
                );
            }
            resolved.insert(name.clone(), value);
            continue;
        }
        match convert(&value, &d.ty) {
            Ok(v) => {
                resolved.insert(name.clone(), v);
            }
            Err(e) => reader.push(
                Diagnostic::error(format!("invalid value for variable \"{name}\": {e}"))
                    .at(at, "this value"),
            ),
        }
    }
    resolved
}

/// Checks the `validation` blocks of every variable that has a value.
fn validate_values(
    reader: &mut Reader<'_>,
    declared: &BTreeMap<String, Declared<'_>>,
    resolved: &BTreeMap<String, Value>,
) {
    let mut ctx = crate::functions::context();
    ctx.declare_var("var", Value::Object(resolved.clone().into_iter().collect()));
    for (name, d) in declared.iter().filter(|(name, _)| resolved.contains_key(*name)) {
        for (condition, message, span) in &d.validations {
            match crate::expr::evaluate(condition, &ctx) {
                Ok(Value::Bool(true)) => {}
                Ok(Value::Bool(false)) => reader.push(
                    Diagnostic::error(format!("invalid value for variable \"{name}\": {message}"))
                        .at(span.clone(), "this validation failed"),
                ),
                Ok(other) => reader.push(
                    Diagnostic::error(format!(
                        "the validation condition must be true or false, not {other}"
                    ))
                    .at(span.clone(), "this condition"),
                ),
                Err(e) => reader.push(
                    Diagnostic::error(format!(
                        "cannot evaluate the validation condition: {}",
                        crate::expr::describe(&e)
                    ))
                    .at(span.clone(), "this condition"),
                ),
            }
        }
    }
}

fn undeclared<'n>(
    name: &str,
    at: Option<Span>,
    known: impl Iterator<Item = &'n String>,
) -> Diagnostic {
    let known: Vec<&str> = known.map(String::as_str).collect();
    let mut d = Diagnostic::error(format!(
        "a value is given for variable \"{name}\", which is not declared"
    ));
    if let Some(at) = at {
        d = d.at(at, "not declared");
    }
    match crate::eval::closest(name, &known) {
        Some(close) => d.help(format!("did you mean \"{close}\"?")),
        None => d.help(format!("declare it: variable \"{name}\" {{}}")),
    }
}

fn declarations<'b>(
    reader: &mut Reader<'_>,
    bodies: &'b [(usize, Body)],
) -> BTreeMap<String, Declared<'b>> {
    let mut declared: BTreeMap<String, Declared<'b>> = BTreeMap::new();
    for (file, body) in bodies {
        for block in blocks(body, "variable") {
            let header = reader.header_span(*file, block);
            let [label] = block.labels.as_slice() else {
                reader.push(
                    Diagnostic::error("a variable block takes one label, its name")
                        .at(header, "expected `variable \"NAME\"`"),
                );
                continue;
            };
            let name = label.as_str().to_owned();
            if let Some(first) = declared.get(&name) {
                reader.push(Diagnostic::duplicate(
                    format!("variable \"{name}\" is declared twice"),
                    header,
                    first.header.clone(),
                    "remove or rename one of them",
                ));
                continue;
            }
            let ty = match block.body.get_attribute("type") {
                Some(attr) => match parse_type(&attr.value) {
                    Ok(ty) => ty,
                    Err(e) => {
                        reader.push(
                            Diagnostic::error(format!("invalid type for variable \"{name}\": {e}"))
                                .at(reader.span(*file, attr.value.span()), "this type")
                                .help("use string, number, bool, any, list(T), set(T), map(T) or object({ name = T })"),
                        );
                        Type::Any
                    }
                },
                None => Type::Any,
            };
            let mut args = Arguments::read_with_references(
                reader,
                *file,
                &block.body,
                &["default", "description", "sensitive", "nullable"],
                &["type"],
                &["validation"],
            );
            let _ = args.reference("type");
            let _description = args.string(reader, "description");
            let sensitive = args.boolean(reader, "sensitive").is_some_and(|(s, _)| s);
            let nullable = args.boolean(reader, "nullable").is_none_or(|(n, _)| n);
            let default = args.take_value("default");
            let mut validations = Vec::new();
            for v in blocks(&block.body, "validation") {
                let condition = v.body.get_attribute("condition");
                let message = v.body.get_attribute("error_message");
                match (condition, message) {
                    (Some(c), Some(m)) => {
                        let text = crate::expr::evaluate(&m.value, &crate::functions::context())
                            .ok()
                            .and_then(|v| v.as_str().map(str::to_owned))
                            .unwrap_or_else(|| "the value is not valid".to_owned());
                        validations.push((&c.value, text, reader.span(*file, c.value.span())));
                    }
                    _ => reader.push(
                        Diagnostic::error("a validation block needs condition and error_message")
                            .at(reader.header_span(*file, v), "incomplete validation"),
                    ),
                }
            }
            declared
                .insert(name, Declared { ty, default, nullable, sensitive, validations, header });
        }
    }
    declared
}

/// Parses a type constraint: `string`, `list(string)`, `object({ name = string })`, ...
fn parse_type(expr: &Expression) -> Result<Type, String> {
    match expr {
        Expression::Variable(v) => match v.as_str() {
            "string" => Ok(Type::String),
            "number" => Ok(Type::Number),
            "bool" => Ok(Type::Bool),
            "any" => Ok(Type::Any),
            other => Err(format!("unknown type {other:?}")),
        },
        Expression::FuncCall(call) => {
            let name = call.name.name.as_str();
            let args: Vec<&Expression> = call.args.iter().collect();
            let [arg] = args.as_slice() else {
                return Err(if name == "optional" {
                    "optional(...) is only for an attribute of object({ ... })".to_owned()
                } else {
                    format!("{name}(...) takes one argument")
                });
            };
            match name {
                "list" => Ok(Type::List(Box::new(parse_type(arg)?))),
                "set" => Ok(Type::Set(Box::new(parse_type(arg)?))),
                "map" => Ok(Type::Map(Box::new(parse_type(arg)?))),
                "object" => {
                    let Expression::Object(object) = arg else {
                        return Err("object(...) takes { name = type, ... }".to_owned());
                    };
                    let mut fields = BTreeMap::new();
                    for (key, value) in object.iter() {
                        let key = match key {
                            hcl_edit::expr::ObjectKey::Ident(i) => i.as_str().to_owned(),
                            hcl_edit::expr::ObjectKey::Expression(Expression::String(s)) => {
                                s.as_str().to_owned()
                            }
                            _ => {
                                return Err("object attribute names must be plain names".to_owned());
                            }
                        };
                        fields.insert(key, parse_field(value.expr())?);
                    }
                    Ok(Type::Object(fields))
                }
                "optional" => {
                    Err("optional(...) is only for an attribute of object({ ... })".to_owned())
                }
                other => Err(format!("unknown type constructor {other}(...)")),
            }
        }
        _ => Err("not a type".to_owned()),
    }
}

/// Parses an object type's attribute: a type, or `optional(TYPE)` / `optional(TYPE, DEFAULT)`.
fn parse_field(expr: &Expression) -> Result<Field, String> {
    let Expression::FuncCall(call) = expr else {
        return Ok(Field { ty: parse_type(expr)?, default: None });
    };
    if call.name.name.as_str() != "optional" {
        return Ok(Field { ty: parse_type(expr)?, default: None });
    }
    let args: Vec<&Expression> = call.args.iter().collect();
    let (ty, default) = match args.as_slice() {
        [ty] => (parse_type(ty)?, Value::Null),
        [ty, default] => {
            let ty = parse_type(ty)?;
            let default = hcl::Expression::from((*default).clone())
                .evaluate(&Context::new())
                .map_err(|e| format!("the default of optional(...) must be a constant: {e}"))?;
            let default = convert(&default, &ty)
                .map_err(|e| format!("the default of optional(...) does not fit its type: {e}"))?;
            (ty, default)
        }
        _ => return Err("optional(...) takes a type and, optionally, a default".to_owned()),
    };
    Ok(Field { ty, default: Some(default) })
}

/// Reads a value given as text (environment, `--var`): a string as it is for `string` (and
/// untyped) variables, HCL for the others.
fn parse_raw(raw: &str, ty: &Type) -> Result<Value, String> {
    match ty {
        Type::String | Type::Any => Ok(Value::from(raw)),
        _ => {
            let expr: hcl::Expression = raw.parse().map_err(|e: hcl::Error| e.to_string())?;
            expr.evaluate(&Context::new()).map_err(|e| e.to_string())
        }
    }
}

/// Converts `value` to `ty` as Terraform does (numbers and bools to strings and back, lists to
/// sets, ...), or says why it cannot.
fn convert(value: &Value, ty: &Type) -> Result<Value, String> {
    match (ty, value) {
        (Type::Any, v) => Ok(v.clone()),
        (Type::String, Value::String(_)) => Ok(value.clone()),
        (Type::String, Value::Number(n)) => Ok(Value::from(n.to_string())),
        (Type::String, Value::Bool(b)) => Ok(Value::from(b.to_string())),
        (Type::Number, Value::Number(_)) => Ok(value.clone()),
        (Type::Number, Value::String(s)) => {
            crate::functions::number_from(s).ok_or_else(|| format!("{s:?} is not a number"))
        }
        (Type::Bool, Value::Bool(_)) => Ok(value.clone()),
        (Type::Bool, Value::String(s)) if s == "true" || s == "false" => {
            Ok(Value::Bool(s == "true"))
        }
        (Type::List(item), Value::Array(items)) => {
            items.iter().map(|i| convert(i, item)).collect::<Result<_, _>>().map(Value::Array)
        }
        (Type::Set(item), Value::Array(items)) => {
            let mut out: Vec<Value> = Vec::new();
            for i in items {
                let v = convert(i, item)?;
                if !out.contains(&v) {
                    out.push(v);
                }
            }
            out.sort_by_key(|v| v.to_string());
            Ok(Value::Array(out))
        }
        (Type::Map(item), Value::Object(map)) => map
            .iter()
            .map(|(k, v)| convert(v, item).map(|v| (k.clone(), v)))
            .collect::<Result<_, _>>()
            .map(Value::Object),
        (Type::Object(fields), Value::Object(map)) => {
            let mut out = hcl::Map::new();
            for (name, field) in fields {
                let v = match (map.get(name).filter(|v| !v.is_null()), &field.default) {
                    (Some(v), _) => convert(v, &field.ty).map_err(|e| format!("{name}: {e}"))?,
                    (None, Some(default)) => default.clone(),
                    (None, None) if map.contains_key(name) => Value::Null,
                    (None, None) => return Err(format!("attribute \"{name}\" is required")),
                };
                out.insert(name.clone(), v);
            }
            Ok(Value::Object(out))
        }
        // As in Terraform, an element or attribute may be null whatever its type.
        (_, Value::Null) => Ok(Value::Null),
        (ty, v) => Err(format!("expected {}, found {}", describe(ty), crate::eval::kind_of(v))),
    }
}

fn describe(ty: &Type) -> String {
    match ty {
        Type::Any => "any value".to_owned(),
        Type::String => "a string".to_owned(),
        Type::Number => "a number".to_owned(),
        Type::Bool => "a bool".to_owned(),
        Type::List(t) => format!("a list of {}", describe(t)),
        Type::Set(t) => format!("a set of {}", describe(t)),
        Type::Map(t) => format!("a map of {}", describe(t)),
        Type::Object(_) => "an object".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ty(text: &str) -> Type {
        let expr: Expression = text.parse().expect("expression");
        parse_type(&expr).expect("type")
    }

    fn value(text: &str) -> Value {
        let expr: hcl::Expression = text.parse().expect("expression");
        expr.evaluate(&Context::new()).expect("value")
    }

    #[test]
    fn every_type_constraint_converts_and_checks() {
        let ok = [
            ("string", "42", "\"42\""),
            ("string", "true", "\"true\""),
            ("number", "\"7\"", "7"),
            ("bool", "\"false\"", "false"),
            ("list(string)", "[1, \"a\"]", "[\"1\",\"a\"]"),
            ("set(string)", "[\"b\", \"a\", \"b\"]", "[\"a\",\"b\"]"),
            ("map(number)", "{ a = \"1\" }", "{\"a\":1}"),
            (
                "object({ domain = string, ecc = bool })",
                "{ domain = \"x\", ecc = true, extra = 1 }",
                "{\"domain\":\"x\",\"ecc\":true}",
            ),
            ("any", "[1]", "[1]"),
            (
                r#"map(object({ ecc = optional(bool, true), alias = optional(string) }))"#,
                r#"{ a = {}, b = { ecc = false, alias = "B" }, c = { ecc = null } }"#,
                r#"{"a":{"alias":null,"ecc":true},"b":{"alias":"B","ecc":false},"c":{"alias":null,"ecc":true}}"#,
            ),
            ("object({ n = optional(number, \"3\") })", "{}", r#"{"n":3}"#),
            ("list(string)", "[null, \"a\"]", r#"[null,"a"]"#),
        ];
        for (t, v, expected) in ok {
            let got = convert(&value(v), &ty(t)).unwrap_or_else(|e| panic!("{t} {v}: {e}"));
            assert_eq!(serde_json::to_string(&got).expect("json"), expected, "{t} {v}");
        }
        let bad = [
            ("number", "\"seven\"", "is not a number"),
            ("bool", "\"yes\"", "expected a bool"),
            ("list(number)", "[\"a\"]", "is not a number"),
            ("object({ domain = string })", "{ other = 1 }", "\"domain\" is required"),
            ("string", "[1]", "expected a string, found a list"),
            ("object({ n = optional(number) })", "{ n = \"x\" }", "n: \"x\" is not a number"),
        ];
        for (t, v, expected) in bad {
            let err = convert(&value(v), &ty(t)).expect_err(t);
            assert!(err.contains(expected), "{t} {v}: {err}");
        }
        for (t, expected) in [
            ("optional(string)", "only for an attribute of object"),
            ("object({ n = optional(number, \"x\") })", "does not fit its type"),
            ("object({ n = optional(number, var.x) })", "must be a constant"),
            ("object({ n = optional() })", "takes a type and, optionally, a default"),
        ] {
            let expr: Expression = t.parse().expect("expression");
            let err = parse_type(&expr).err().unwrap_or_else(|| panic!("{t} is not a type"));
            assert!(err.contains(expected), "{t}: {err}");
        }
    }

    #[test]
    fn raw_values_are_strings_unless_typed() {
        assert_eq!(parse_raw("[\"a\"]", &Type::String), Ok(Value::from("[\"a\"]")));
        assert_eq!(parse_raw("[\"a\"]", &Type::List(Box::new(Type::String))), Ok(value("[\"a\"]")));
    }
}
