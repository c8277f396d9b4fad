//! `certplan fmt`: rewrites a configuration or variables file in the canonical style — the
//! style of `terraform fmt` — keeping every comment.
//!
//! The formatter works on tokens, as Terraform's (hclwrite's) does: it keeps the line
//! structure, re-indents each line by two spaces per bracket level, puts single spaces between
//! tokens by the same rules, and aligns the `=` of consecutive single-line arguments and the
//! trailing comments of consecutive lines. Strings, heredocs and comments are kept byte for
//! byte. hcl-edit reads the file first (a file that is not valid HCL is reported, not
//! formatted) and reads the result again: if the two do not mean the same (the same blocks,
//! arguments and expressions), formatting fails and the file is left alone.

use crate::{ConfigError, Diagnostic, Source, Span};

/// Formats a file's text. Fails with a diagnostic when the text is not valid HCL.
pub fn format_source(source: &Source) -> Result<String, ConfigError> {
    let fail =
        |diagnostic| ConfigError { sources: vec![source.clone()], diagnostics: vec![diagnostic] };
    let before = hcl_edit::parser::parse_body(&source.text)
        .map_err(|e| fail(crate::parse::syntax_error(0, &source.text, &e)))?;
    let formatted = format_text(&source.text);
    let after = hcl_edit::parser::parse_body(&formatted).map(hcl::Body::from);
    match after {
        Ok(after) if after == hcl::Body::from(before) => Ok(formatted),
        _ => Err(fail(
            Diagnostic::error("certplan fmt cannot format this file without changing its meaning")
                .at(Span { file: 0, range: 0..0 }, "this file")
                .help("the file is left as it is; please report this as a bug in certplan, with the file"),
        )),
    }
}

/// Formats text that is valid HCL.
fn format_text(text: &str) -> String {
    let tokens = lex(text);
    let mut lines: Vec<Line<'_>> = tokens
        .split(|t| t.kind == Kind::Newline)
        .map(|tokens| Line::new(tokens.to_vec()))
        .collect();
    indent(&mut lines);
    align(
        &mut lines,
        |l| l.assign.as_ref().map(|_| l.indent + width(&l.lead)),
        |l, pad| l.assign_pad = pad,
    );
    align(
        &mut lines,
        |l| {
            l.comment.as_ref().map(|_| {
                l.indent
                    + width(&l.lead)
                    + l.assign.as_ref().map_or(0, |a| l.assign_pad + 1 + width(a))
            })
        },
        |l, pad| l.comment_pad = pad,
    );
    let rendered: Vec<String> = lines.iter().map(Line::render).collect();
    let body = rendered.join("\n");
    let body = body.trim_matches('\n');
    if body.is_empty() { String::new() } else { format!("{body}\n") }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// An identifier or a keyword.
    Ident,
    Number,
    /// A quoted string or template, a heredoc: kept as written.
    Text,
    Comment,
    Punct,
    Newline,
}

#[derive(Debug, Clone, Copy)]
struct Token<'a> {
    kind: Kind,
    text: &'a str,
}

impl Token<'_> {
    fn is(&self, punct: &str) -> bool {
        self.kind == Kind::Punct && self.text == punct
    }

    /// How the token changes the bracket depth.
    fn brackets(&self) -> i32 {
        match (self.kind, self.text) {
            (Kind::Punct, "(" | "[" | "{") => 1,
            (Kind::Punct, ")" | "]" | "}") => -1,
            _ => 0,
        }
    }

    fn is_multiline(&self) -> bool {
        self.text.contains('\n')
    }
}

/// Splits valid HCL into tokens. Strings, heredocs and comments are single tokens.
fn lex(text: &str) -> Vec<Token<'_>> {
    let bytes = text.as_bytes();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let rest = &text[i..];
        let (kind, len) = match bytes[i] {
            b' ' | b'\t' | b'\r' => {
                i += 1;
                continue;
            }
            b'\n' => (Kind::Newline, 1),
            b'#' => (Kind::Comment, rest.find('\n').unwrap_or(rest.len())),
            b'/' if rest.starts_with("//") => {
                (Kind::Comment, rest.find('\n').unwrap_or(rest.len()))
            }
            b'/' if rest.starts_with("/*") => {
                (Kind::Comment, rest[2..].find("*/").map_or(rest.len(), |end| end + 4))
            }
            b'"' => (Kind::Text, quoted(bytes, i) - i),
            b'<' if rest.starts_with("<<") => (Kind::Text, heredoc(rest)),
            b'0'..=b'9' => (Kind::Number, number(rest)),
            _ if rest.starts_with(|c: char| c.is_alphabetic() || c == '_') => (
                Kind::Ident,
                rest.find(|c: char| !(c.is_alphanumeric() || c == '_' || c == '-'))
                    .unwrap_or(rest.len()),
            ),
            _ => {
                let len = ["...", "==", "!=", "<=", ">=", "&&", "||", "=>", "::"]
                    .iter()
                    .find(|p| rest.starts_with(*p))
                    .map_or_else(|| rest.chars().next().map_or(1, char::len_utf8), |p| p.len());
                (Kind::Punct, len)
            }
        };
        let token = &text[i..i + len];
        let token = if kind == Kind::Comment && !token.starts_with("/*") {
            token.trim_end()
        } else {
            token
        };
        tokens.push(Token { kind, text: token });
        i += len;
    }
    tokens
}

/// The end (exclusive) of the quoted template starting at `start`, interpolations included.
fn quoted(bytes: &[u8], start: usize) -> usize {
    let mut i = start + 1;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => i += 2,
            b'"' => return i + 1,
            b'$' | b'%'
                if bytes.get(i + 1) == Some(&bytes[i]) && bytes.get(i + 2) == Some(&b'{') =>
            {
                i += 3;
            }
            b'$' | b'%' if bytes.get(i + 1) == Some(&b'{') => i = interpolation(bytes, i + 2),
            _ => i += 1,
        }
    }
    bytes.len()
}

/// The end (exclusive) of an interpolation or directive whose body starts at `start`.
fn interpolation(bytes: &[u8], start: usize) -> usize {
    let mut depth = 1;
    let mut i = start;
    while i < bytes.len() {
        match bytes[i] {
            b'"' => {
                i = quoted(bytes, i);
                continue;
            }
            b'{' => depth += 1,
            b'}' => {
                depth -= 1;
                if depth == 0 {
                    return i + 1;
                }
            }
            _ => {}
        }
        i += 1;
    }
    bytes.len()
}

/// The length of the heredoc at the start of `rest`, up to the end of its closing delimiter.
fn heredoc(rest: &str) -> usize {
    let header_end = rest.find('\n').unwrap_or(rest.len());
    let delimiter = rest[..header_end].trim_start_matches("<<").trim_start_matches('-').trim();
    let mut offset = header_end + 1;
    while offset < rest.len() {
        let line_end = rest[offset..].find('\n').map_or(rest.len(), |e| offset + e);
        if rest[offset..line_end].trim() == delimiter {
            return line_end;
        }
        offset = line_end + 1;
    }
    rest.len()
}

/// The length of the number at the start of `rest`: digits, a fraction, an exponent.
fn number(rest: &str) -> usize {
    let digits = |s: &str| s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let mut len = digits(rest);
    if rest[len..].starts_with('.') && rest[len + 1..].starts_with(|c: char| c.is_ascii_digit()) {
        len += 1 + digits(&rest[len + 1..]);
    }
    if rest[len..].starts_with(['e', 'E']) {
        let sign = usize::from(rest[len + 1..].starts_with(['+', '-']));
        let exponent = digits(&rest[len + 1 + sign..]);
        if exponent > 0 {
            len += 1 + sign + exponent;
        }
    }
    len
}

/// One line of the file, in hclwrite's cells: what comes before an argument's `=`, the `=` and
/// its value, and a trailing comment.
struct Line<'a> {
    lead: Vec<Token<'a>>,
    assign: Option<Vec<Token<'a>>>,
    comment: Option<Token<'a>>,
    indent: usize,
    /// Spaces added before the `=` to align it with its neighbours'.
    assign_pad: usize,
    /// Spaces added before the comment to align it with its neighbours'.
    comment_pad: usize,
}

impl<'a> Line<'a> {
    fn new(mut lead: Vec<Token<'a>>) -> Self {
        let comment = match lead.last() {
            Some(last) if last.kind == Kind::Comment && lead.len() > 1 => lead.pop(),
            _ => None,
        };
        // An argument whose value is whole on this line (not the opening of a multi-line
        // value) is aligned with its neighbours.
        let mut assign = None;
        if let Some(at) = lead.iter().position(|t| t.is("="))
            && at > 0
            && lead[at..].iter().map(Token::brackets).sum::<i32>() == 0
        {
            assign = Some(lead.split_off(at));
        }
        Line { lead, assign, comment, indent: 0, assign_pad: 0, comment_pad: 0 }
    }

    fn tokens(&self) -> impl Iterator<Item = &Token<'a>> {
        self.lead.iter().chain(self.assign.iter().flatten())
    }

    fn is_multiline(&self) -> bool {
        self.tokens().chain(&self.comment).any(Token::is_multiline)
    }

    fn render(&self) -> String {
        if self.lead.is_empty() {
            return String::new();
        }
        let mut out = " ".repeat(self.indent);
        out.push_str(&join(&self.lead));
        if let Some(assign) = &self.assign {
            out.push_str(&" ".repeat(self.assign_pad + 1));
            out.push_str(&join(assign));
        }
        if let Some(comment) = &self.comment {
            out.push_str(&" ".repeat(self.comment_pad + 1));
            out.push_str(comment.text);
        }
        out
    }
}

/// Indents each line by two spaces per level: a line that opens brackets (however many) opens
/// one level, closed by the line that closes them.
fn indent(lines: &mut [Line<'_>]) {
    let mut levels: Vec<i32> = Vec::new();
    for line in lines {
        let net: i32 = line.tokens().map(Token::brackets).sum();
        if net < 0 {
            let mut closed = 0;
            while closed < -net {
                let Some(level) = levels.pop() else { break };
                closed += level;
            }
        }
        line.indent = 2 * levels.len();
        if net > 0 {
            levels.push(net);
        }
    }
}

/// Aligns a cell across runs of consecutive lines that have it: `column` is where the cell
/// would start on a line without padding (None when the line has no such cell), `pad` sets the
/// padding.
fn align(
    lines: &mut [Line<'_>],
    column: impl Fn(&Line<'_>) -> Option<usize>,
    pad: impl Fn(&mut Line<'_>, usize),
) {
    let mut start = 0;
    while start < lines.len() {
        let chained = |l: &Line<'_>| column(l).is_some() && !l.is_multiline();
        if !chained(&lines[start]) {
            start += 1;
            continue;
        }
        let end = (start..lines.len()).find(|&i| !chained(&lines[i])).unwrap_or(lines.len());
        let widest = lines[start..end].iter().filter_map(&column).max().unwrap_or(0);
        for line in &mut lines[start..end] {
            let spaces = widest - column(line).unwrap_or(widest);
            pad(line, spaces);
        }
        start = end;
    }
}

/// The width of tokens joined on one line.
fn width(tokens: &[Token<'_>]) -> usize {
    join(tokens).chars().count()
}

/// Joins tokens with the spaces canonical style puts between them.
fn join(tokens: &[Token<'_>]) -> String {
    let mut out = String::new();
    for (i, token) in tokens.iter().enumerate() {
        if i > 0 && space_between(i.checked_sub(2).map(|b| &tokens[b]), &tokens[i - 1], token) {
            out.push(' ');
        }
        out.push_str(token.text);
    }
    out
}

/// Whether a space separates `subject` from `after` (`before` precedes `subject`): hclwrite's
/// rules.
fn space_between(before: Option<&Token<'_>>, subject: &Token<'_>, after: &Token<'_>) -> bool {
    // `in [1, 2]` and `if (x)`: a keyword is not a function called or a value indexed.
    let keyword = subject.kind == Kind::Ident
        && matches!(subject.text, "for" | "in" | "if")
        && !before.is_some_and(|b| b.is("."));
    if keyword && (after.is("(") || after.is("[")) {
        return true;
    }
    match () {
        _ if subject.kind == Kind::Ident && after.is("(") => false,
        _ if subject.is("::") || after.is("::") => false,
        _ if subject.is(".") || after.is(".") => false,
        _ if after.is(",") || after.is("...") => false,
        _ if subject.is(",") => true,
        _ if subject.is("-") => {
            // Negation takes no space; subtraction does.
            !before.is_none_or(|b| {
                b.kind == Kind::Punct && !matches!(b.text, ")" | "]" | "}")
                    || b.kind == Kind::Ident && matches!(b.text, "in" | "if")
            })
        }
        _ if subject.is("{") || after.is("}") => !(subject.is("{") && after.is("}")),
        _ if after.is("[")
            && (matches!(subject.kind, Kind::Ident | Kind::Number) || subject.brackets() < 0) =>
        {
            false
        }
        _ if subject.brackets() > 0 || after.brackets() < 0 => false,
        _ if subject.is("!") => false,
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fmt(text: &str) -> String {
        format_source(&Source::new("t.hcl", text)).unwrap_or_else(|e| panic!("{}", e.render(false)))
    }

    #[test]
    fn canonical_style() {
        let cases = [
            // Spaces around `=` and between tokens; indentation by nesting.
            ("a=1\n", "a = 1\n"),
            (
                "resource  \"t\"   \"n\"{\nx=1\n  yyy   =  \"v\"\n}\n",
                "resource \"t\" \"n\" {\n  x   = 1\n  yyy = \"v\"\n}\n",
            ),
            // Alignment stops at a blank line, a block, a multi-line value.
            ("a = 1\n\nbbb = 2\n", "a = 1\n\nbbb = 2\n"),
            (
                "a = 1\nbb = {\nc = 1\ndddd = [1,2]\n}\neee = 3\n",
                "a = 1\nbb = {\n  c    = 1\n  dddd = [1, 2]\n}\neee = 3\n",
            ),
            // Expressions.
            ("x = f( a ,b... )\n", "x = f(a, b...)\n"),
            ("x = [ for k,v in var.m : v if !v.x ]\n", "x = [for k, v in var.m : v if !v.x]\n"),
            ("x = {for k , v in var.m : k => v...}\n", "x = { for k, v in var.m : k => v... }\n"),
            ("x = a-1\ny = a - -1\nz = [-1, - 2]\n", "x = a-1\ny = a - -1\nz = [-1, -2]\n"),
            (
                "x = var.list [0] . name\ny = var.l[*].id\n",
                "x = var.list[0].name\ny = var.l[*].id\n",
            ),
            ("x = c ? -1 : 1.5e3\n", "x = c ? -1 : 1.5e3\n"),
            ("x = {}\ny = { }\nb {}\n", "x = {}\ny = {}\nb {}\n"),
            ("x = provider :: p :: f(1)\n", "x = provider::p::f(1)\n"),
            ("x = [for d in (var.l) : d]\n", "x = [for d in (var.l) : d]\n"),
            (
                "x = [for in in [1] : in ]\ny = local.in [0]\n",
                "x = [for in in [1] : in]\ny = local.in[0]\n",
            ),
            // Strings and heredocs are kept byte for byte.
            (
                "x   = \"a  ${ b  }  %{ if c }\\\"{\\\"%{ endif }\"\n",
                "x = \"a  ${ b  }  %{ if c }\\\"{\\\"%{ endif }\"\n",
            ),
            (
                "b {\nx = <<-EOT\n    keep   this\n      as is\n    EOT\ny = 1\n}\n",
                "b {\n  x = <<-EOT\n    keep   this\n      as is\n    EOT\n  y = 1\n}\n",
            ),
            // Comments are kept, re-indented, and trailing ones aligned.
            (
                "# top\nb {\n# inside\na = 1 # one\nbbb = 2    // two\n/* block\n   comment */\n}\n",
                "# top\nb {\n  # inside\n  a   = 1 # one\n  bbb = 2 // two\n  /* block\n   comment */\n}\n",
            ),
            // Nested `deploy`/`export` blocks: a one-line map, a multi-line one, arguments
            // aligned per block.
            (
                "resource \"t\" \"n\" {\ndeploy {\nresource_types=[\"clb\",\"cdn\"]\nregions={clb=[\"ap-guangzhou\"]}\n}\ndeploy {\nresource_types = [\"waf\"]\nregions = {\nwaf=[\"ap-guangzhou\"]\nteo = []\n}\n}\nexport {\npath=\"/etc/certs/${each.key}\" # dir\non_change = \"systemctl reload nginx\"\non_change_timeout=\"5m\" # optional\n}\n}\n",
                "resource \"t\" \"n\" {\n  deploy {\n    resource_types = [\"clb\", \"cdn\"]\n    regions        = { clb = [\"ap-guangzhou\"] }\n  }\n  deploy {\n    resource_types = [\"waf\"]\n    regions = {\n      waf = [\"ap-guangzhou\"]\n      teo = []\n    }\n  }\n  export {\n    path              = \"/etc/certs/${each.key}\" # dir\n    on_change         = \"systemctl reload nginx\"\n    on_change_timeout = \"5m\" # optional\n  }\n}\n",
            ),
            // Trailing whitespace and blank lines at the ends go.
            ("\n\na = 1   \n\n\n", "a = 1\n"),
            ("", ""),
        ];
        for (input, expected) in cases {
            let got = fmt(input);
            assert_eq!(got, expected, "formatting {input:?}");
            assert_eq!(fmt(&got), got, "formatting is idempotent on {got:?}");
        }
    }

    #[test]
    fn invalid_hcl_is_reported_not_formatted() {
        let e = format_source(&Source::new("bad.hcl", "a = {\n")).expect_err("invalid");
        let text = e.render(false);
        assert!(text.contains("invalid HCL syntax") && text.contains("bad.hcl:"), "{text}");
    }
}
