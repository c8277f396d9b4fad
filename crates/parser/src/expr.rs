//! Evaluates expressions with hcl-rs, adding what hcl-rs cannot do: `try` and `can`, whose
//! arguments must be evaluated one at a time, catching errors.
//!
//! hcl-rs evaluates every function argument before calling the function, so `try` and `can`
//! cannot be ordinary functions. Before hcl-rs sees an expression, each `try(...)`/`can(...)`
//! call is evaluated here and replaced by its result. A call inside a `for` expression needs the
//! loop variables, which only exist while the loop runs, so a `for` expression that contains one
//! is evaluated here too, element by element, each in a scope with its loop variables.
//!
//! Evaluation here is lazy in the way hcl-rs's is: a failure found while replacing a call becomes
//! a call that fails when evaluated, so a branch of a conditional that is not taken never
//! reports an error (as in Terraform).
//!
//! As in Terraform, `try` and `can` catch only errors of evaluation: a call to an unknown
//! function, an undefined name, or a reference to an undeclared variable or local is a mistake in
//! the configuration and is reported, not caught.

use hcl::Value;
use hcl::eval::{Context, Error, ErrorKind, Evaluate, FuncDef, ParamType};
use hcl_edit::expr::{
    Expression, ForExpr, FuncArgs, FuncCall, FuncName, Traversal, TraversalOperator,
};
use hcl_edit::template::ForTemplateExpr;
use hcl_edit::visit::Visit;
use hcl_edit::visit_mut::VisitMut;
use hcl_edit::{Decorated, Ident};

/// The namespace and name of the function that stands for a failure found while replacing a
/// `try`/`can` call: it fails with its argument as the message.
const FAIL: [&str; 2] = ["certplan", "failed"];

/// Declares the function that failures found while resolving `try`/`can` calls become.
pub(crate) fn declare_fail(ctx: &mut Context<'_>) {
    ctx.declare_func(
        hcl::expr::FuncName::new(FAIL[1]).with_namespace([FAIL[0]]),
        FuncDef::builder()
            .param(ParamType::String)
            .build(|args| Err(args[0].as_str().unwrap_or_default().to_owned())),
    );
}

/// Evaluates `expr` in `ctx`, with `try` and `can`.
pub(crate) fn evaluate(expr: &Expression, ctx: &Context<'_>) -> Result<Value, Error> {
    if !calls_try_or_can(expr) {
        return hcl::Expression::from(expr.clone()).evaluate(ctx);
    }
    let mut resolved = expr.clone();
    Resolver { ctx }.visit_expr_mut(&mut resolved);
    hcl::Expression::from(resolved).evaluate(ctx)
}

/// Says what went wrong, without the wrapping of the internal failure function.
pub(crate) fn describe(error: &Error) -> String {
    match error.kind() {
        ErrorKind::FuncCall(name, message) if is_fail(name) => message.clone(),
        kind => kind.to_string(),
    }
}

/// Returns true when [`describe`] already says what to do (the failures of `try` and `can`).
pub(crate) fn says_what_to_do(error: &Error) -> bool {
    matches!(error.kind(), ErrorKind::FuncCall(name, _) if is_fail(name))
}

fn is_fail(name: &hcl::expr::FuncName) -> bool {
    name.name.as_str() == FAIL[1]
        && name.namespace.len() == 1
        && name.namespace[0].as_str() == FAIL[0]
}

/// Returns true when `expr` calls `try` or `can` anywhere.
fn calls_try_or_can(expr: &Expression) -> bool {
    let mut finder = Finder(false);
    finder.visit_expr(expr);
    finder.0
}

fn lazy_function(call: &FuncCall) -> Option<&str> {
    let name = call.name.name.as_str();
    (call.name.namespace.is_empty() && matches!(name, "try" | "can")).then_some(name)
}

struct Finder(bool);

impl Visit for Finder {
    fn visit_func_call(&mut self, node: &FuncCall) {
        self.0 |= lazy_function(node).is_some();
        hcl_edit::visit::visit_func_call(self, node);
    }

    fn visit_for_template_expr(&mut self, node: &ForTemplateExpr) {
        // hcl-edit's default walk skips the collection.
        self.visit_expr(&node.collection_expr);
        hcl_edit::visit::visit_for_template_expr(self, node);
    }
}

/// Replaces every `try`/`can` call with its result, and every `for` expression that contains
/// one with its value.
struct Resolver<'c, 'a> {
    ctx: &'c Context<'a>,
}

impl VisitMut for Resolver<'_, '_> {
    fn visit_expr_mut(&mut self, expr: &mut Expression) {
        match expr {
            Expression::FuncCall(call) if lazy_function(call).is_some() => {
                *expr = self.call(call);
            }
            Expression::ForExpr(for_expr) if body_calls_try_or_can(for_expr) => {
                *expr = match evaluate_for(for_expr, self.ctx) {
                    Ok(value) => literal(value),
                    Err(e) => fail(&describe(&e)),
                };
            }
            _ => hcl_edit::visit_mut::visit_expr_mut(self, expr),
        }
    }

    fn visit_for_template_expr_mut(&mut self, node: &mut ForTemplateExpr) {
        self.visit_expr_mut(&mut node.collection_expr);
        // The body needs the directive's loop variables, which exist only while hcl-rs renders
        // the template.
        Unsupported.visit_template_mut(&mut node.template);
    }
}

/// Returns true when the part of a `for` expression that runs with the loop variables (key,
/// value, condition) calls `try` or `can`.
fn body_calls_try_or_can(for_expr: &ForExpr) -> bool {
    calls_try_or_can(&for_expr.value_expr)
        || for_expr.key_expr.as_ref().is_some_and(calls_try_or_can)
        || for_expr.cond.as_ref().is_some_and(|c| calls_try_or_can(&c.expr))
}

impl Resolver<'_, '_> {
    /// The result of a `try(...)` or `can(...)` call, as an expression.
    fn call(&mut self, call: &FuncCall) -> Expression {
        let name = lazy_function(call).unwrap_or_default();
        let args: Vec<&Expression> = call.args.iter().collect();
        if call.args.expand_final() {
            return fail(&format!("{name}() does not take expanded arguments (...)"));
        }
        match (name, args.len()) {
            ("try", 0) => return fail("try() needs at least one argument"),
            ("can", n) if n != 1 => return fail("can() takes exactly one argument"),
            _ => {}
        }
        if let Some(message) = undeclared(&args, self.ctx) {
            return fail(&message);
        }
        let mut errors = Vec::new();
        for arg in args {
            match evaluate(arg, self.ctx) {
                Ok(_) if name == "can" => return literal(Value::Bool(true)),
                Ok(value) => return literal(value),
                // A mistake, not caught: left for hcl-rs to report with its usual diagnostic.
                Err(e)
                    if matches!(
                        e.kind(),
                        ErrorKind::UndefinedFunc(_) | ErrorKind::UndefinedVar(_)
                    ) =>
                {
                    let mut arg = arg.clone();
                    self.visit_expr_mut(&mut arg);
                    return arg;
                }
                Err(e) => errors.push(describe(&e)),
            }
        }
        if name == "can" {
            return literal(Value::Bool(false));
        }
        let tried: Vec<String> =
            errors.iter().enumerate().map(|(i, e)| format!("({}) {e}", i + 1)).collect();
        fail(&format!(
            "no argument of try() succeeded: {}; end it with one that cannot fail, such as a \
             default value",
            tried.join("; ")
        ))
    }
}

/// Says what to do about a `var.X` or `local.X` among `args` whose X is not declared.
fn undeclared(args: &[&Expression], ctx: &Context<'_>) -> Option<String> {
    for root in ["var", "local"] {
        for name in args.iter().flat_map(|arg| references(arg, root)) {
            let reference = hcl::expr::Traversal::builder(hcl::expr::Variable::unchecked(root))
                .attr(name.as_str())
                .build();
            let result = hcl::Expression::from(reference).evaluate(ctx);
            if let Err(ErrorKind::NoSuchKey(_)) = result.map_err(Error::into_kind) {
                return Some(if root == "var" {
                    format!("var.{name} is not declared: add `variable \"{name}\" {{}}`")
                } else {
                    format!("local.{name} is not defined: add it to a locals block")
                });
            }
        }
    }
    None
}

/// Replaces `try`/`can` calls that cannot be evaluated where they are with failures.
struct Unsupported;

impl VisitMut for Unsupported {
    fn visit_expr_mut(&mut self, expr: &mut Expression) {
        match expr {
            Expression::FuncCall(call) if lazy_function(call).is_some() => {
                *expr = fail(
                    "try() and can() cannot be used inside a %{for} template directive: build \
                     the text with a for expression and join()",
                );
            }
            _ => hcl_edit::visit_mut::visit_expr_mut(self, expr),
        }
    }
}

/// Evaluates a `for` expression as hcl-rs does (same results, same errors), with each element's
/// body evaluated by [`evaluate`] in a scope holding the loop variables.
pub(crate) fn evaluate_for(for_expr: &ForExpr, ctx: &Context<'_>) -> Result<Value, Error> {
    let intro = &for_expr.intro;
    let items: Vec<(Value, Value)> = match evaluate(&intro.collection_expr, ctx)? {
        Value::Array(array) => array.into_iter().enumerate().map(|(i, v)| (i.into(), v)).collect(),
        Value::Object(object) => object.into_iter().map(|(k, v)| (k.into(), v)).collect(),
        other => return Err(ErrorKind::Unexpected(other, "an array or object").into()),
    };
    let mut scope = ctx.clone();
    let mut list = Vec::new();
    let mut object = hcl::Map::new();
    for (key, value) in items {
        if let Some(key_var) = &intro.key_var {
            scope.declare_var(key_var.as_str(), key);
        }
        scope.declare_var(intro.value_var.as_str(), value);
        if let Some(cond) = &for_expr.cond {
            match evaluate(&cond.expr, &scope)? {
                Value::Bool(true) => {}
                Value::Bool(false) => continue,
                other => return Err(ErrorKind::Unexpected(other, "a boolean").into()),
            }
        }
        let Some(key_expr) = &for_expr.key_expr else {
            list.push(evaluate(&for_expr.value_expr, &scope)?);
            continue;
        };
        let key = match evaluate(key_expr, &scope)? {
            Value::String(s) => s,
            Value::Bool(b) => b.to_string(),
            Value::Number(n) => n.to_string(),
            other => {
                return Err(ErrorKind::Unexpected(other, "a string, boolean or number").into());
            }
        };
        let value = evaluate(&for_expr.value_expr, &scope)?;
        if for_expr.grouping {
            if let Value::Array(group) = object.entry(key).or_insert_with(|| Value::Array(vec![])) {
                group.push(value);
            }
        } else if object.contains_key(&key) {
            return Err(ErrorKind::KeyExists(key).into());
        } else {
            object.insert(key, value);
        }
    }
    Ok(if for_expr.key_expr.is_some() { Value::Object(object) } else { Value::Array(list) })
}

fn literal(value: Value) -> Expression {
    Expression::from(hcl::Expression::from(value))
}

/// A call that fails with `message` when evaluated.
fn fail(message: &str) -> Expression {
    let name = FuncName {
        namespace: vec![Decorated::new(Ident::new(FAIL[0]))],
        name: Decorated::new(Ident::new(FAIL[1])),
    };
    let mut args = FuncArgs::new();
    args.push(message);
    Expression::from(FuncCall::new(name, args))
}

/// Whether `body`'s argument `name` is written as a value in the file rather than taken from
/// a variable or a local: a secret written so is readable by whoever reads the file.
pub(crate) fn written_in_file(body: &hcl_edit::structure::Body, name: &str) -> bool {
    body.get_attribute(name)
        .is_some_and(|a| ["var", "local"].iter().all(|root| references(&a.value, root).is_empty()))
}

/// The names an expression takes from `root`: `local.NAME...` gives NAME for root `local`.
pub(crate) fn references(expr: &Expression, root: &str) -> Vec<String> {
    let mut refs = References { root, names: Vec::new() };
    refs.visit_expr(expr);
    refs.names
}

struct References<'r> {
    root: &'r str,
    names: Vec<String>,
}

impl Visit for References<'_> {
    fn visit_traversal(&mut self, node: &Traversal) {
        if let Expression::Variable(root) = &node.expr
            && root.as_str() == self.root
            && let Some(TraversalOperator::GetAttr(name)) =
                node.operators.first().map(|o| o.value())
        {
            self.names.push(name.as_str().to_owned());
        }
        hcl_edit::visit::visit_traversal(self, node);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The built-in functions, with `var` and `local` as a configuration would have them.
    fn context() -> Context<'static> {
        let mut ctx = crate::functions::context();
        let var: Value = serde_json::from_str(
            r#"{"domains": ["a.example.com", "b.example.com"],
                "sites": {"www": {"alias": "W"}, "api": {}},
                "names": ["abc", "ABC", "a1"]}"#,
        )
        .expect("json");
        ctx.declare_var("var", var);
        ctx.declare_var("local", Value::Object(hcl::Map::from_iter([("n".into(), 1.into())])));
        ctx
    }

    fn eval(text: &str) -> Result<String, String> {
        let expr: Expression = text.parse().map_err(|e| format!("{e}"))?;
        evaluate(&expr, &context())
            .map(|v| serde_json::to_string(&v).expect("json"))
            .map_err(|e| describe(&e))
    }

    #[test]
    fn try_and_can_as_terraform_defines_them() {
        let table = [
            (r#"try(var.sites.api.alias, "none")"#, r#""none""#),
            (r#"try(var.sites.www.alias, "none")"#, r#""W""#),
            (r#"try(var.sites.api.alias, var.sites.api.name, "last")"#, r#""last""#),
            ("try(1)", "1"),
            (r#"try(var.domains[5], var.domains[1])"#, r#""b.example.com""#),
            (r#"try(try(var.sites.api.alias), "outer")"#, r#""outer""#),
            (r#"can(regex("^[a-z]+$", "abc"))"#, "true"),
            (r#"can(regex("^[a-z]+$", "ABC"))"#, "false"),
            ("can(var.sites.api.alias)", "false"),
            (r#"upper(try(var.sites.api.alias, "x"))"#, r#""X""#),
            // In a for expression, with the loop variables in scope.
            (r#"[for k, s in var.sites : try(s.alias, k)]"#, r#"["W","api"]"#),
            (
                r#"{for k, s in var.sites : k => try(s.alias, upper(k))}"#,
                r#"{"www":"W","api":"API"}"#,
            ),
            (r#"[for n in var.names : n if can(regex("^[a-z]+$", n))]"#, r#"["abc"]"#),
            (
                r#"[for k, s in var.sites : [for d in var.domains : try(s.alias, d)]]"#,
                r#"[["W","W"],["a.example.com","b.example.com"]]"#,
            ),
            (
                r#"{for n in var.names : lower(n) => try(n, 0)...}"#,
                r#"{"abc":["abc","ABC"],"a1":["a1"]}"#,
            ),
            (
                r#"[for d in try(var.sites.api.list, var.domains) : upper(d)]"#,
                r#"["A.EXAMPLE.COM","B.EXAMPLE.COM"]"#,
            ),
            // In templates.
            (r#""${try(var.sites.api.alias, "none")}-x""#, r#""none-x""#),
            (r#""%{ if true }${try(var.sites.www.alias, "")}%{ endif }""#, r#""W""#),
            // A failure in a branch not taken is not an error.
            (r#"true ? "ok" : try(var.sites.api.alias)"#, r#""ok""#),
            (r#"false ? [for s in var.sites : try(s.alias)] : []"#, "[]"),
        ];
        for (expr, expected) in table {
            assert_eq!(eval(expr).as_deref(), Ok(expected), "{expr}");
        }
    }

    #[test]
    fn try_reports_mistakes_and_total_failure() {
        for (expr, expected) in [
            (
                r#"try(var.sites.api.alias, var.sites.api.name)"#,
                "no argument of try() succeeded: (1) no such key: `alias`; (2) no such key: `name`",
            ),
            ("false ? 1 : try(var.sites.api.alias)", "no argument of try() succeeded"),
            ("try()", "try() needs at least one argument"),
            ("can(1, 2)", "can() takes exactly one argument"),
            ("try(var.domains...)", "does not take expanded arguments"),
            // Mistakes in the configuration are reported, not caught.
            (r#"try(nosuch(1), 2)"#, "undefined function `nosuch`"),
            (r#"can(nosuch(1))"#, "undefined function `nosuch`"),
            (r#"try(var.undeclared, 2)"#, "var.undeclared is not declared"),
            (r#"try(2, local.undeclared)"#, "local.undeclared is not defined"),
            (r#"try(local.undeclared.x, 2)"#, "local.undeclared is not defined"),
            (r#"try(each.value, 2)"#, "undefined variable `each`"),
            (r#"{for n in var.names : lower(n) => try(n, 0)}"#, "key `abc` already exists"),
            (
                r#""%{ for d in var.domains }${try(d, "")}%{ endfor }""#,
                "cannot be used inside a %{for} template directive",
            ),
        ] {
            match eval(expr) {
                Err(e) => assert!(e.contains(expected), "{expr}: {e}"),
                Ok(v) => panic!("{expr}: expected an error containing {expected:?}, got {v}"),
            }
        }
    }

    /// `for` expressions holding a `try` are evaluated here rather than by hcl-rs: the two must
    /// agree on every result and every failure.
    #[test]
    fn for_expressions_evaluate_as_hcl_rs_does() {
        let ctx = context();
        for text in [
            "[for d in var.domains : upper(d)]",
            "[for i, d in var.domains : i]",
            "[for k, s in var.sites : k]",
            "{for k, s in var.sites : k => length(s)}",
            "{for i, d in var.domains : i => d}",
            "{for n in var.names : lower(n) => n...}",
            "{for n in var.names : lower(n) => n}",
            "[for n in var.names : n if n != \"ABC\"]",
            "[for n in var.names : n if 1]",
            "[for n in 5 : n]",
            "{for n in var.names : [n] => n}",
            "{for n in [true, 1] : n => n}",
            "[for n in var.names : var.nope]",
            "[for n in [] : n]",
            "[for a in var.domains : [for b in var.names : \"${a}/${b}\"]]",
        ] {
            let Ok(Expression::ForExpr(for_expr)) = text.parse::<Expression>() else {
                panic!("{text} is not a for expression");
            };
            let ours = evaluate_for(&for_expr, &ctx).map_err(|e| e.kind().clone());
            let theirs = hcl::Expression::from(Expression::ForExpr(for_expr.clone()))
                .evaluate(&ctx)
                .map_err(|e| e.kind().clone());
            assert_eq!(ours, theirs, "{text}");
        }
    }
}
