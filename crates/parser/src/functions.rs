//! The built-in functions of certplan's configuration language, with Terraform's semantics:
//! `toset tolist tomap keys values lookup merge concat distinct flatten length contains
//! coalesce format formatlist join split lower upper trimspace replace regex startswith
//! endswith`, and `try` and `can`, which evaluate their arguments lazily and so live in
//! [`crate::expr`]. Also, for shaping domain names and settings: `trim trimprefix trimsuffix
//! substr sort reverse zipmap element one setunion alltrue anytrue tostring tonumber tobool
//! jsonencode`.

use hcl::eval::{Context, FuncArgs, FuncDef, ParamType};
use hcl::{Map, Value};

/// Every function's name, for "did you mean" suggestions.
pub(crate) const NAMES: &[&str] = &[
    "toset",
    "tolist",
    "tomap",
    "keys",
    "values",
    "lookup",
    "merge",
    "concat",
    "distinct",
    "flatten",
    "length",
    "contains",
    "coalesce",
    "format",
    "formatlist",
    "join",
    "split",
    "lower",
    "upper",
    "trimspace",
    "replace",
    "regex",
    "startswith",
    "endswith",
    "try",
    "can",
    "trim",
    "trimprefix",
    "trimsuffix",
    "substr",
    "sort",
    "reverse",
    "zipmap",
    "element",
    "one",
    "setunion",
    "alltrue",
    "anytrue",
    "tostring",
    "tonumber",
    "tobool",
    "jsonencode",
];

/// Builds an evaluation context with every built-in function declared.
pub(crate) fn context<'a>() -> Context<'a> {
    use ParamType::{Any, Number as Num, String as Str};
    let list = || ParamType::array_of(Any);
    let map = || ParamType::object_of(Any);
    let mut ctx = Context::new();
    let mut declare = |name: &str, def: FuncDef| ctx.declare_func(name, def);
    declare("toset", FuncDef::builder().param(list()).build(toset));
    declare("tolist", FuncDef::builder().param(list()).build(|a| Ok(a[0].clone())));
    declare("tomap", FuncDef::builder().param(map()).build(|a| Ok(a[0].clone())));
    declare("keys", FuncDef::builder().param(map()).build(keys));
    declare("values", FuncDef::builder().param(map()).build(values));
    declare("lookup", FuncDef::builder().param(map()).param(Str).variadic_param(Any).build(lookup));
    declare("merge", FuncDef::builder().variadic_param(map()).build(merge));
    declare("concat", FuncDef::builder().variadic_param(list()).build(concat));
    declare("distinct", FuncDef::builder().param(list()).build(distinct));
    declare("flatten", FuncDef::builder().param(list()).build(flatten));
    declare("length", FuncDef::builder().param(Any).build(length));
    declare("contains", FuncDef::builder().param(list()).param(Any).build(contains));
    declare("coalesce", FuncDef::builder().variadic_param(Any).build(coalesce));
    declare("format", FuncDef::builder().param(Str).variadic_param(Any).build(format));
    declare("formatlist", FuncDef::builder().param(Str).variadic_param(Any).build(formatlist));
    declare("join", FuncDef::builder().param(Str).param(ParamType::array_of(Any)).build(join));
    declare("split", FuncDef::builder().param(Str).param(Str).build(split));
    declare(
        "lower",
        FuncDef::builder().param(Str).build(|a| Ok(Value::from(text(&a[0]).to_lowercase()))),
    );
    declare(
        "upper",
        FuncDef::builder().param(Str).build(|a| Ok(Value::from(text(&a[0]).to_uppercase()))),
    );
    declare(
        "trimspace",
        FuncDef::builder().param(Str).build(|a| Ok(Value::from(text(&a[0]).trim()))),
    );
    declare("replace", FuncDef::builder().param(Str).param(Str).param(Str).build(replace));
    declare("regex", FuncDef::builder().param(Str).param(Str).build(regex));
    declare(
        "startswith",
        FuncDef::builder()
            .param(Str)
            .param(Str)
            .build(|a| Ok(Value::Bool(text(&a[0]).starts_with(text(&a[1]))))),
    );
    declare(
        "endswith",
        FuncDef::builder()
            .param(Str)
            .param(Str)
            .build(|a| Ok(Value::Bool(text(&a[0]).ends_with(text(&a[1]))))),
    );
    declare(
        "trim",
        FuncDef::builder().param(Str).param(Str).build(|a| {
            let cutset = text(&a[1]);
            Ok(Value::from(text(&a[0]).trim_matches(|c| cutset.contains(c))))
        }),
    );
    declare(
        "trimprefix",
        FuncDef::builder().param(Str).param(Str).build(|a| {
            let (s, prefix) = (text(&a[0]), text(&a[1]));
            Ok(Value::from(s.strip_prefix(prefix).unwrap_or(s)))
        }),
    );
    declare(
        "trimsuffix",
        FuncDef::builder().param(Str).param(Str).build(|a| {
            let (s, suffix) = (text(&a[0]), text(&a[1]));
            Ok(Value::from(s.strip_suffix(suffix).unwrap_or(s)))
        }),
    );
    declare("substr", FuncDef::builder().param(Str).param(Num).param(Num).build(substr));
    declare("sort", FuncDef::builder().param(list()).build(sort));
    declare(
        "reverse",
        FuncDef::builder()
            .param(list())
            .build(|a| Ok(Value::Array(array(&a[0]).iter().rev().cloned().collect()))),
    );
    declare("zipmap", FuncDef::builder().param(list()).param(list()).build(zipmap));
    declare("element", FuncDef::builder().param(list()).param(Num).build(element));
    declare("one", FuncDef::builder().param(list()).build(one));
    declare("setunion", FuncDef::builder().variadic_param(list()).build(setunion));
    declare("alltrue", FuncDef::builder().param(list()).build(|a| all_bools(&a[0], true)));
    declare("anytrue", FuncDef::builder().param(list()).build(|a| all_bools(&a[0], false)));
    declare("tostring", FuncDef::builder().param(Any).build(tostring));
    declare("tonumber", FuncDef::builder().param(Any).build(tonumber));
    declare("tobool", FuncDef::builder().param(Any).build(tobool));
    declare(
        "jsonencode",
        FuncDef::builder()
            .param(Any)
            .build(|a| serde_json::to_string(&a[0]).map(Value::from).map_err(|e| e.to_string())),
    );
    crate::expr::declare_fail(&mut ctx);
    ctx
}

fn text(v: &Value) -> &str {
    v.as_str().unwrap_or_default()
}

fn array(v: &Value) -> &[Value] {
    v.as_array().map_or(&[], Vec::as_slice)
}

fn object(v: &Value) -> Map<String, Value> {
    v.as_object().cloned().unwrap_or_default()
}

/// Renders a value as `%v` and string interpolation do.
fn display(v: &Value) -> Result<String, String> {
    match v {
        Value::String(s) => Ok(s.clone()),
        Value::Number(n) => Ok(n.to_string()),
        Value::Bool(b) => Ok(b.to_string()),
        Value::Null => Ok("null".to_owned()),
        collection => serde_json::to_string(collection).map_err(|e| e.to_string()),
    }
}

/// Sorts values as Terraform orders a set of strings (lexically), others by their rendering.
fn sort_key(v: &Value) -> String {
    display(v).unwrap_or_default()
}

fn toset(a: FuncArgs) -> Result<Value, String> {
    let mut items = distinct_values(array(&a[0]));
    items.sort_by_key(sort_key);
    Ok(Value::Array(items))
}

/// The items without repeats, in first-seen order. Sets of strings (what `for_each` takes) are
/// deduplicated in linear time; other values, which have no hash, by comparison.
fn distinct_values(items: &[Value]) -> Vec<Value> {
    let mut out: Vec<Value> = Vec::with_capacity(items.len());
    let mut seen = std::collections::HashSet::new();
    for item in items {
        let new = match item {
            Value::String(s) => seen.insert(s.as_str()),
            other => !out.contains(other),
        };
        if new {
            out.push(item.clone());
        }
    }
    out
}

fn sorted_entries(v: &Value) -> Vec<(String, Value)> {
    let mut entries: Vec<(String, Value)> = object(v).into_iter().collect();
    entries.sort_by(|a, b| a.0.cmp(&b.0));
    entries
}

fn keys(a: FuncArgs) -> Result<Value, String> {
    Ok(Value::Array(sorted_entries(&a[0]).into_iter().map(|(k, _)| Value::from(k)).collect()))
}

fn values(a: FuncArgs) -> Result<Value, String> {
    Ok(Value::Array(sorted_entries(&a[0]).into_iter().map(|(_, v)| v).collect()))
}

fn lookup(a: FuncArgs) -> Result<Value, String> {
    let key = text(&a[1]);
    match (object(&a[0]).get(key), a.get(2)) {
        (Some(found), _) => Ok(found.clone()),
        (None, Some(default)) => Ok(default.clone()),
        (None, None) => Err(format!("the map has no key {key:?} and no default was given")),
    }
}

fn merge(a: FuncArgs) -> Result<Value, String> {
    let mut merged = Map::new();
    for m in a.iter() {
        merged.extend(object(m));
    }
    Ok(Value::Object(merged))
}

fn concat(a: FuncArgs) -> Result<Value, String> {
    Ok(Value::Array(a.iter().flat_map(|l| array(l).iter().cloned()).collect()))
}

fn distinct(a: FuncArgs) -> Result<Value, String> {
    Ok(Value::Array(distinct_values(array(&a[0]))))
}

fn flatten(a: FuncArgs) -> Result<Value, String> {
    fn walk(items: &[Value], out: &mut Vec<Value>) {
        for item in items {
            match item {
                Value::Array(inner) => walk(inner, out),
                other => out.push(other.clone()),
            }
        }
    }
    let mut out = Vec::new();
    walk(array(&a[0]), &mut out);
    Ok(Value::Array(out))
}

fn length(a: FuncArgs) -> Result<Value, String> {
    let n = match &a[0] {
        Value::String(s) => s.chars().count(),
        Value::Array(items) => items.len(),
        Value::Object(map) => map.len(),
        other => return Err(format!("length() takes a string, list or map, not {other}")),
    };
    Ok(Value::from(n as u64))
}

fn contains(a: FuncArgs) -> Result<Value, String> {
    Ok(Value::Bool(array(&a[0]).contains(&a[1])))
}

fn coalesce(a: FuncArgs) -> Result<Value, String> {
    a.iter()
        .find(|v| !v.is_null() && v.as_str() != Some(""))
        .cloned()
        .ok_or_else(|| "coalesce() found no non-null, non-empty argument".to_owned())
}

/// Terraform's `format` verbs: `%s`, `%d`, `%v`, `%q`, `%%`.
fn format_with(spec: &str, args: &[Value]) -> Result<String, String> {
    let mut out = String::with_capacity(spec.len());
    let mut args = args.iter();
    let mut chars = spec.chars();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let verb = chars.next().ok_or("format string ends with a lone %")?;
        if verb == '%' {
            out.push('%');
            continue;
        }
        let arg = args.next().ok_or_else(|| format!("too few arguments for %{verb}"))?;
        match verb {
            's' | 'v' => out.push_str(&display(arg)?),
            'd' => match arg {
                Value::Number(n) if n.is_i64() || n.is_u64() => out.push_str(&n.to_string()),
                other => return Err(format!("%d needs a whole number, not {other}")),
            },
            'q' => out.push_str(&format!("{:?}", display(arg)?)),
            other => return Err(format!("unsupported format verb %{other}")),
        }
    }
    if args.next().is_some() {
        return Err("too many arguments for the format string".to_owned());
    }
    Ok(out)
}

fn format(a: FuncArgs) -> Result<Value, String> {
    format_with(text(&a[0]), &a[1..]).map(Value::from)
}

fn formatlist(a: FuncArgs) -> Result<Value, String> {
    let lengths: Vec<usize> = a[1..].iter().filter_map(|v| v.as_array().map(Vec::len)).collect();
    let n = match lengths.first() {
        None => return format(a).map(|v| Value::Array(vec![v])),
        Some(&n) if lengths.iter().all(|&l| l == n) => n,
        Some(_) => return Err("formatlist() lists must all have the same length".to_owned()),
    };
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        let row: Vec<Value> = a[1..]
            .iter()
            .map(|v| match v {
                Value::Array(items) => items[i].clone(),
                scalar => scalar.clone(),
            })
            .collect();
        out.push(Value::from(format_with(text(&a[0]), &row)?));
    }
    Ok(Value::Array(out))
}

fn join(a: FuncArgs) -> Result<Value, String> {
    let parts: Result<Vec<String>, String> = array(&a[1]).iter().map(display).collect();
    Ok(Value::from(parts?.join(text(&a[0]))))
}

fn split(a: FuncArgs) -> Result<Value, String> {
    Ok(Value::Array(text(&a[1]).split(text(&a[0])).map(Value::from).collect()))
}

/// `replace(string, substring, replacement)`; a substring in slashes is a regular expression.
fn replace(a: FuncArgs) -> Result<Value, String> {
    let (s, find, with) = (text(&a[0]), text(&a[1]), text(&a[2]));
    match find.strip_prefix('/').and_then(|f| f.strip_suffix('/')) {
        Some(pattern) if !pattern.is_empty() => {
            let re = regex::Regex::new(pattern).map_err(|e| e.to_string())?;
            // Rust's replacement syntax ($1, ${name}) is Terraform's.
            Ok(Value::from(re.replace_all(s, with).into_owned()))
        }
        _ => Ok(Value::from(s.replace(find, with))),
    }
}

/// `regex(pattern, string)`: the first match; its groups as a list, or named groups as a map.
fn regex(a: FuncArgs) -> Result<Value, String> {
    let re = regex::Regex::new(text(&a[0])).map_err(|e| e.to_string())?;
    let caps = re.captures(text(&a[1])).ok_or("the pattern does not match")?;
    if re.captures_len() == 1 {
        return Ok(Value::from(caps.get(0).map_or("", |m| m.as_str())));
    }
    if re.capture_names().flatten().next().is_some() {
        let named: Map<String, Value> = re
            .capture_names()
            .flatten()
            .map(|name| {
                (name.to_owned(), caps.name(name).map_or(Value::Null, |m| Value::from(m.as_str())))
            })
            .collect();
        return Ok(Value::Object(named));
    }
    Ok(Value::Array(
        caps.iter().skip(1).map(|m| m.map_or(Value::Null, |m| Value::from(m.as_str()))).collect(),
    ))
}

/// `substr(string, offset, length)`: characters, not bytes; a negative offset counts from
/// the end, a length of -1 takes the rest.
fn substr(a: FuncArgs) -> Result<Value, String> {
    let chars: Vec<char> = text(&a[0]).chars().collect();
    let (offset, length) = (whole(&a[1])?, whole(&a[2])?);
    let len = chars.len() as i64;
    let start = if offset < 0 { (len + offset).max(0) } else { offset.min(len) };
    let end = if length < 0 { len } else { (start + length).min(len) };
    let (start, end) = (usize::try_from(start).unwrap_or(0), usize::try_from(end).unwrap_or(0));
    Ok(Value::from(chars[start..end.max(start)].iter().collect::<String>()))
}

fn whole(v: &Value) -> Result<i64, String> {
    v.as_i64().ok_or_else(|| format!("{v} is not a whole number"))
}

/// `sort(list)`: strings in lexical order (numbers sort by their text, as in Terraform).
fn sort(a: FuncArgs) -> Result<Value, String> {
    let mut items: Vec<Value> = array(&a[0]).to_vec();
    if let Some(other) = items.iter().find(|v| !matches!(v, Value::String(_) | Value::Number(_))) {
        return Err(format!("sort() takes a list of strings, not one holding {other}"));
    }
    items.sort_by_key(sort_key);
    Ok(Value::Array(items.iter().map(|v| Value::from(sort_key(v))).collect()))
}

fn zipmap(a: FuncArgs) -> Result<Value, String> {
    let (keys, values) = (array(&a[0]), array(&a[1]));
    if keys.len() != values.len() {
        return Err(format!(
            "zipmap() needs as many values ({}) as keys ({})",
            values.len(),
            keys.len()
        ));
    }
    let keys: Result<Vec<String>, String> = keys.iter().map(display).collect();
    Ok(Value::Object(keys?.into_iter().zip(values.iter().cloned()).collect()))
}

/// `element(list, index)`: the index wraps around, as in Terraform.
fn element(a: FuncArgs) -> Result<Value, String> {
    let items = array(&a[0]);
    let index = whole(&a[1])?;
    if items.is_empty() {
        return Err("element() cannot take an element of an empty list".to_owned());
    }
    if index < 0 {
        return Err(format!("element() needs an index of 0 or more, not {index}"));
    }
    let index = usize::try_from(index).unwrap_or(0) % items.len();
    Ok(items[index].clone())
}

/// `one(list)`: null for an empty list, the element of a list of one, an error otherwise.
fn one(a: FuncArgs) -> Result<Value, String> {
    match array(&a[0]) {
        [] => Ok(Value::Null),
        [only] => Ok(only.clone()),
        items => Err(format!("one() takes a list of at most one element, not {}", items.len())),
    }
}

fn setunion(a: FuncArgs) -> Result<Value, String> {
    let all: Vec<Value> = a.iter().flat_map(|s| array(s).iter().cloned()).collect();
    let mut items = distinct_values(&all);
    items.sort_by_key(sort_key);
    Ok(Value::Array(items))
}

/// `alltrue(list)` (`all` true) and `anytrue(list)` (`all` false): the strings "true" and
/// "false" count as bools.
fn all_bools(list: &Value, all: bool) -> Result<Value, String> {
    let mut bools = Vec::new();
    for item in array(list) {
        bools.push(match item {
            Value::Bool(b) => *b,
            Value::String(s) if s == "true" || s == "false" => s == "true",
            other => return Err(format!("expected a list of bools, found {other}")),
        });
    }
    Ok(Value::Bool(if all { bools.iter().all(|b| *b) } else { bools.iter().any(|b| *b) }))
}

fn tostring(a: FuncArgs) -> Result<Value, String> {
    match &a[0] {
        Value::Null => Ok(Value::Null),
        v @ (Value::String(_) | Value::Number(_) | Value::Bool(_)) => display(v).map(Value::from),
        other => Err(format!("tostring() cannot convert {other} to a string")),
    }
}

fn tonumber(a: FuncArgs) -> Result<Value, String> {
    match &a[0] {
        Value::Null => Ok(Value::Null),
        Value::Number(_) => Ok(a[0].clone()),
        Value::String(s) => {
            number_from(s).ok_or_else(|| format!("tonumber() cannot convert {s:?} to a number"))
        }
        other => Err(format!("tonumber() cannot convert {other} to a number")),
    }
}

/// A number written as a string, as Terraform converts one.
pub(crate) fn number_from(s: &str) -> Option<Value> {
    s.trim().parse::<f64>().ok().and_then(hcl::Number::from_f64).map(Value::Number)
}

fn tobool(a: FuncArgs) -> Result<Value, String> {
    match &a[0] {
        Value::Null | Value::Bool(_) => Ok(a[0].clone()),
        Value::String(s) if s == "true" || s == "false" => Ok(Value::Bool(s == "true")),
        other => Err(format!("tobool() cannot convert {other} to a bool")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eval(expr: &str) -> Result<Value, String> {
        let expr: hcl_edit::expr::Expression = expr.parse().map_err(|e| format!("{e}"))?;
        crate::expr::evaluate(&expr, &context()).map_err(|e| crate::expr::describe(&e))
    }

    fn json(expr: &str) -> String {
        match eval(expr) {
            Ok(v) => serde_json::to_string(&v).unwrap_or_else(|e| e.to_string()),
            Err(e) => format!("error: {e}"),
        }
    }

    #[test]
    fn every_function_as_terraform_defines_it() {
        let table = [
            (r#"toset(["b", "a", "b"])"#, r#"["a","b"]"#),
            (r#"tolist(["a"])"#, r#"["a"]"#),
            (r#"tomap({a = 1})"#, r#"{"a":1}"#),
            (r#"keys({b = 1, a = 2})"#, r#"["a","b"]"#),
            (r#"values({b = 1, a = 2})"#, "[2,1]"),
            (r#"lookup({a = "x"}, "a")"#, r#""x""#),
            (r#"lookup({a = "x"}, "b", "d")"#, r#""d""#),
            (r#"merge({a = 1, b = 1}, {b = 2})"#, r#"{"a":1,"b":2}"#),
            (r#"concat(["a"], ["b", "c"])"#, r#"["a","b","c"]"#),
            (r#"distinct(["a", "b", "a"])"#, r#"["a","b"]"#),
            (r#"flatten([["a"], [["b"]], "c"])"#, r#"["a","b","c"]"#),
            (r#"length("héllo")"#, "5"),
            (r#"length(["a", "b"])"#, "2"),
            (r#"length({a = 1})"#, "1"),
            (r#"contains(["a", "b"], "b")"#, "true"),
            (r#"contains(["a", "b"], "c")"#, "false"),
            (r#"coalesce(null, "", "x")"#, r#""x""#),
            (r#"format("%s-%d (%q) 100%%", "www", 3, "x")"#, r#""www-3 (\"x\") 100%""#),
            (r#"formatlist("%s.example.com", ["a", "b"])"#, r#"["a.example.com","b.example.com"]"#),
            (r#"join(", ", ["a", "b"])"#, r#""a, b""#),
            (r#"split(".", "www.example.com")"#, r#"["www","example","com"]"#),
            (r#"lower("WWW")"#, r#""www""#),
            (r#"upper("www")"#, r#""WWW""#),
            (r#"trimspace("  www \n")"#, r#""www""#),
            (r#"replace("a-b-c", "-", ".")"#, r#""a.b.c""#),
            (r#"replace("a1b22", "/[0-9]+/", "_")"#, r#""a_b_""#),
            (r#"regex("[a-z]+", "123abc456")"#, r#""abc""#),
            (r#"regex("(\\w+)\\.(\\w+)", "www.example")"#, r#"["www","example"]"#),
            (r#"regex("(?P<host>\\w+)\\.", "www.example")"#, r#"{"host":"www"}"#),
            (r#"startswith("www.example.com", "www.")"#, "true"),
            (r#"endswith("www.example.com", ".org")"#, "false"),
            (r#"trim("*.example.com.", "*.")"#, r#""example.com""#),
            (r#"trimprefix("*.example.com", "*.")"#, r#""example.com""#),
            (r#"trimsuffix("www.example.com", ".com")"#, r#""www.example""#),
            (r#"substr("héllo world", 1, 4)"#, r#""éllo""#),
            (r#"substr("hello", -3, -1)"#, r#""llo""#),
            (r#"substr("hello", 2, 99)"#, r#""llo""#),
            (r#"sort(["b", "a", 10, 9])"#, r#"["10","9","a","b"]"#),
            (r#"reverse(["a", "b"])"#, r#"["b","a"]"#),
            (r#"zipmap(["www", "api"], [1, 2])"#, r#"{"www":1,"api":2}"#),
            (r#"element(["a", "b"], 3)"#, r#""b""#),
            ("one([])", "null"),
            (r#"one(["x"])"#, r#""x""#),
            (r#"setunion(["b", "a"], ["a", "c"])"#, r#"["a","b","c"]"#),
            (r#"alltrue([true, "true"])"#, "true"),
            ("alltrue([])", "true"),
            ("anytrue([false, true])", "true"),
            ("tostring(42)", r#""42""#),
            (r#"tonumber("2.5")"#, "2.5"),
            (r#"tobool("false")"#, "false"),
            (r#"jsonencode({ a = [1, "x"] })"#, r#""{\"a\":[1,\"x\"]}""#),
        ];
        for (expr, expected) in table {
            assert_eq!(json(expr), expected, "{expr}");
        }
    }

    #[test]
    fn errors_say_what_is_wrong() {
        for (expr, expected) in [
            (r#"lookup({a = 1}, "b")"#, "no key \"b\""),
            (r#"coalesce(null, "")"#, "no non-null"),
            (r#"format("%d", "x")"#, "%d needs a whole number"),
            (r#"format("%s %s", "x")"#, "too few arguments"),
            (r#"regex("[0-9]+", "abc")"#, "does not match"),
            (r#"formatlist("%s%s", ["a"], ["b", "c"])"#, "same length"),
            (r#"zipmap(["a"], [])"#, "as many values"),
            ("element([], 0)", "empty list"),
            (r#"one(["a", "b"])"#, "at most one element"),
            (r#"sort([["a"]])"#, "list of strings"),
            (r#"tonumber("x")"#, "cannot convert"),
            ("tobool(1)", "cannot convert"),
            ("alltrue([1])", "list of bools"),
        ] {
            let got = json(expr);
            assert!(got.starts_with("error:") && got.contains(expected), "{expr}: {got}");
        }
    }
}
