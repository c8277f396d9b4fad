//! Evaluates a block's arguments with hcl-rs and converts them to the types certplan expects,
//! as Terraform converts them (a number where a string is expected is fine, and so on).

use std::collections::BTreeMap;

use hcl::Value;
use hcl_edit::Span as _;
use hcl_edit::structure::{Attribute, Body};

use crate::{Diagnostic, Reader, Span};

/// A block's evaluated arguments, taken one by one with their types checked.
pub(crate) struct Arguments {
    values: BTreeMap<String, (Value, Span)>,
    /// Arguments that name something (a resource address) rather than hold a value: their
    /// source text, unevaluated.
    references: BTreeMap<String, (String, Span)>,
    written: Vec<String>,
    /// Known arguments offered as "did you mean" for a misspelt one.
    suggested: Vec<String>,
}

impl Arguments {
    /// Evaluates every argument of `body`, reporting unknown arguments and nested blocks (with a
    /// suggestion when one is close), duplicates, and evaluation errors.
    pub(crate) fn read(
        reader: &mut Reader<'_>,
        file: usize,
        body: &Body,
        known_arguments: &[&str],
        known_blocks: &[&str],
    ) -> Self {
        Self::read_with_references(reader, file, body, known_arguments, &[], known_blocks)
    }

    /// Like [`Arguments::read`], with `references` kept as source text rather than evaluated.
    pub(crate) fn read_with_references(
        reader: &mut Reader<'_>,
        file: usize,
        body: &Body,
        known_arguments: &[&str],
        references: &[&str],
        known_blocks: &[&str],
    ) -> Self {
        let mut refs = BTreeMap::new();
        let mut values: BTreeMap<String, (Value, Span)> = BTreeMap::new();
        let mut keys: BTreeMap<String, Span> = BTreeMap::new();
        let mut suggested = Vec::new();
        for attr in body.attributes() {
            let name = attr.key.as_str();
            let key_span = reader.span(file, attr.key.span());
            if !known_arguments.contains(&name) && !references.contains(&name) {
                let mut d = Diagnostic::error(format!("unknown argument \"{name}\""))
                    .at(key_span, "not an argument of this block");
                d = match closest(name, known_arguments) {
                    Some(close) => {
                        suggested.push(close.to_owned());
                        d.help(format!("did you mean \"{close}\"?"))
                    }
                    None => {
                        d.help(format!("the arguments here are: {}", known_arguments.join(", ")))
                    }
                };
                reader.push(d);
                continue;
            }
            if let Some(first) = keys.get(name) {
                reader.push(Diagnostic::duplicate(
                    format!("argument \"{name}\" is set twice"),
                    key_span,
                    first.clone(),
                    "remove one of them",
                ));
                continue;
            }
            keys.insert(name.to_owned(), key_span);
            let value_span = reader.span(file, attr.value.span());
            if references.contains(&name) {
                let text = reader.sources[file].text.get(value_span.range.clone()).unwrap_or("");
                refs.insert(name.to_owned(), (text.trim().to_owned(), value_span));
                continue;
            }
            if let Some((value, span)) = evaluate_attribute(reader, file, attr) {
                values.insert(name.to_owned(), (value, span));
            }
        }
        for block in body.blocks() {
            let name = block.ident.as_str();
            if !known_blocks.contains(&name) {
                let mut d = Diagnostic::error(format!("unexpected block \"{name}\""))
                    .at(reader.header_span(file, block), "not a block allowed here");
                d = match closest(name, known_blocks).or_else(|| closest(name, known_arguments)) {
                    Some(close) => d.help(format!("did you mean \"{close}\"?")),
                    None if known_blocks.is_empty() => d.help("no nested blocks are allowed here"),
                    None => {
                        d.help(format!("the blocks allowed here are: {}", known_blocks.join(", ")))
                    }
                };
                reader.push(d);
            }
        }
        Arguments { values, references: refs, written: keys.into_keys().collect(), suggested }
    }

    /// Returns true when the block sets `name` (whether or not its value was usable), or sets a
    /// misspelling of it that was already reported.
    pub(crate) fn is_written(&self, name: &str) -> bool {
        self.written.iter().chain(&self.suggested).any(|w| w == name)
    }

    /// Takes an argument's value as it is, unconverted.
    pub(crate) fn take_value(&mut self, name: &str) -> Option<Value> {
        self.values.remove(name).map(|(v, _)| v)
    }

    /// Takes a reference argument's source text.
    pub(crate) fn reference(&mut self, name: &str) -> Option<(String, Span)> {
        self.references.remove(name)
    }

    /// Takes a duration argument such as "10m" or "1h 30m".
    pub(crate) fn duration(
        &mut self,
        reader: &mut Reader<'_>,
        name: &str,
    ) -> Option<(std::time::Duration, Span)> {
        let (text, span) = self.string(reader, name)?;
        match humantime::parse_duration(&text) {
            Ok(d) => Some((d, span)),
            Err(e) => {
                reader.push(
                    Diagnostic::error(format!("invalid {name} {text:?}: {e}"))
                        .at(span, "expected a duration")
                        .help("write a duration such as \"30s\", \"10m\" or \"2h\""),
                );
                None
            }
        }
    }

    /// Takes a string argument; numbers and bools convert, as in Terraform.
    pub(crate) fn string(&mut self, reader: &mut Reader<'_>, name: &str) -> Option<(String, Span)> {
        self.take(reader, name, "a string", as_string)
    }

    /// Takes a list (or set) of strings; numbers and bools in it convert, as for a string.
    pub(crate) fn strings(
        &mut self,
        reader: &mut Reader<'_>,
        name: &str,
    ) -> Option<(Vec<String>, Span)> {
        self.take(reader, name, "a list of strings", as_strings)
    }

    /// Takes a map (an object) argument, its values unconverted.
    pub(crate) fn map(
        &mut self,
        reader: &mut Reader<'_>,
        name: &str,
    ) -> Option<(hcl::Map<String, Value>, Span)> {
        self.take(reader, name, "a map", |value| match value {
            Value::Object(map) => Some(map.clone()),
            _ => None,
        })
    }

    /// Takes a non-negative integer argument; a string of digits converts.
    pub(crate) fn integer(&mut self, reader: &mut Reader<'_>, name: &str) -> Option<(u64, Span)> {
        self.take(reader, name, "a whole number ≥ 0", |value| match value {
            Value::Number(n) => n.as_u64(),
            Value::String(s) => s.trim().parse().ok(),
            _ => None,
        })
    }

    /// Takes a bool argument; the strings "true" and "false" convert.
    pub(crate) fn boolean(&mut self, reader: &mut Reader<'_>, name: &str) -> Option<(bool, Span)> {
        self.take(reader, name, "true or false", |value| match value {
            Value::Bool(b) => Some(*b),
            Value::String(s) => s.parse().ok(),
            _ => None,
        })
    }

    /// Takes an argument and converts it, reporting a value of the wrong type.
    fn take<T>(
        &mut self,
        reader: &mut Reader<'_>,
        name: &str,
        expected: &str,
        convert: impl Fn(&Value) -> Option<T>,
    ) -> Option<(T, Span)> {
        let (value, span) = self.values.remove(name)?;
        match convert(&value) {
            Some(converted) => Some((converted, span)),
            None => {
                reader.push(type_error(name, expected, &value, span));
                None
            }
        }
    }
}

/// Evaluates an attribute's value, reporting why it cannot be evaluated with what to do. An
/// expression that refers to a local which could not be evaluated is not reported again.
pub(crate) fn evaluate_attribute(
    reader: &mut Reader<'_>,
    file: usize,
    attr: &Attribute,
) -> Option<(Value, Span)> {
    let name = attr.key.as_str();
    let span = reader.span(file, attr.value.span());
    let e = match crate::expr::evaluate(&attr.value, &reader.ctx) {
        Ok(value) => return Some((value, span)),
        Err(e) => e,
    };
    if crate::expr::references(&attr.value, "local")
        .iter()
        .any(|l| reader.failed_locals.contains(l))
        || crate::expr::references(&attr.value, "var")
            .iter()
            .any(|v| reader.unset_variables.contains(v))
    {
        return None;
    }
    let text = reader.sources[file].text.get(span.range.clone()).unwrap_or("");
    let help = evaluation_help(&e, text);
    let d = Diagnostic::error(format!("cannot evaluate \"{name}\": {}", crate::expr::describe(&e)))
        .at(span, "in this expression");
    reader.push(match help {
        Some(help) => d.help(help),
        None => d,
    });
    None
}

/// What to do about an expression (`text` in the source) that cannot be evaluated; None when
/// the error says it already.
pub(crate) fn evaluation_help(e: &hcl::eval::Error, text: &str) -> Option<String> {
    if crate::expr::says_what_to_do(e) {
        return None;
    }
    Some(match e.kind() {
        hcl::eval::ErrorKind::UndefinedFunc(func) => {
            let called = func.to_string();
            match closest(&called, crate::functions::NAMES) {
                Some(close) => format!("did you mean {close}()?"),
                None => format!("the functions are: {}", crate::functions::NAMES.join(", ")),
            }
        }
        hcl::eval::ErrorKind::UndefinedVar(var) if var.as_str() == certplan_core::RESOURCE_TYPE => {
            "a certificate's attributes (id, status, cert_end_time, validation, ...) are known only after apply: refer to them in output blocks".to_owned()
        }
        hcl::eval::ErrorKind::UndefinedVar(var) => format!(
            "`{var}` is not defined: values come from `var.NAME` (variable blocks) and `local.NAME` (locals blocks)"
        ),
        hcl::eval::ErrorKind::NoSuchKey(key) => {
            if text.contains(&format!("var.{key}")) {
                format!("variable \"{key}\" is not declared: add `variable \"{key}\" {{}}`")
            } else if text.contains(&format!("local.{key}")) {
                format!("local \"{key}\" is not defined: add it to a locals block")
            } else {
                format!("there is no \"{key}\" here")
            }
        }
        _ => "check the expression".to_owned(),
    })
}

/// Converts a value to a string as Terraform does: numbers and bools convert.
pub(crate) fn as_string(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// Converts a list (or set) to strings, each element as [`as_string`] converts it.
pub(crate) fn as_strings(value: &Value) -> Option<Vec<String>> {
    match value {
        Value::Array(items) => items.iter().map(as_string).collect(),
        _ => None,
    }
}

/// Reports a required argument that `block` (named as the user reads it) does not set.
pub(crate) fn missing_argument(header: Span, block: &str, arg: &str, example: &str) -> Diagnostic {
    Diagnostic::error(format!("missing required argument \"{arg}\""))
        .at(header, format!("{block} needs \"{arg}\""))
        .help(format!("add `{arg} = {example}`"))
}

fn type_error(name: &str, expected: &str, found: &Value, span: Span) -> Diagnostic {
    Diagnostic::error(format!("\"{name}\" must be {expected}"))
        .at(span, format!("this is {}", kind_of(found)))
}

/// Names a value's kind as diagnostics say it: "a string", "a list", ...
pub(crate) fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a bool",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

/// Returns the accepted value that `value` most likely means: the same ignoring case, or the
/// closest misspelling.
pub(crate) fn suggestion<'c>(value: &str, allowed: &[&'c str]) -> Option<&'c str> {
    allowed
        .iter()
        .find(|a| a.eq_ignore_ascii_case(value))
        .copied()
        .or_else(|| closest(value, allowed))
}

/// Returns the candidate closest to `name`, if any is close enough to be a likely typo.
pub(crate) fn closest<'c>(name: &str, candidates: &[&'c str]) -> Option<&'c str> {
    candidates
        .iter()
        .map(|c| (strsim::jaro_winkler(name, c), *c))
        .filter(|(score, _)| *score >= 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| c)
}
