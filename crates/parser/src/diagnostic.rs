//! Diagnostics about configuration files, rendered like rustc's: the message, `--> file:line:col`,
//! the source line with the span underlined, and help.

use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};

use annotate_snippets::{Level, Renderer, Snippet};

/// One configuration file's text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    /// The path as the user should see it (relative to the working directory when possible).
    pub path: PathBuf,
    pub text: String,
    /// Byte offsets where lines start, so positions are found in O(log n).
    line_starts: Vec<usize>,
}

impl Source {
    pub fn new(path: impl Into<PathBuf>, text: impl Into<String>) -> Self {
        let text = text.into();
        let line_starts =
            std::iter::once(0).chain(text.match_indices('\n').map(|(i, _)| i + 1)).collect();
        Source { path: path.into(), text, line_starts }
    }

    /// Replaces the text in `range` (whole characters) with `*`, keeping every byte offset and
    /// line where it was, so that diagnostics still point at the same places.
    pub(crate) fn mask(&mut self, range: std::ops::Range<usize>) {
        let masked: String = self.text[range.clone()]
            .chars()
            .map(|c| if c == '\n' { "\n".to_owned() } else { "*".repeat(c.len_utf8()) })
            .collect();
        self.text.replace_range(range, &masked);
    }

    /// Returns the 1-based line and column (in characters) of a byte offset.
    pub fn line_col(&self, offset: usize) -> (usize, usize) {
        let offset = floor_char_boundary(&self.text, offset);
        let line = self.line_starts.partition_point(|&start| start <= offset);
        let line_start = self.line_starts[line - 1];
        (line, self.text[line_start..offset].chars().count() + 1)
    }
}

fn floor_char_boundary(text: &str, offset: usize) -> usize {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    offset
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    Error,
    Warning,
}

/// A place in a configuration file: which source and which bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Span {
    pub file: usize,
    pub range: Range<usize>,
}

/// A problem found in the configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub severity: Severity,
    pub message: String,
    /// Where the problem is, with a short label under the span.
    pub primary: Option<(Span, String)>,
    /// Other places that explain it (the first definition of a duplicate, ...).
    pub secondary: Vec<(Span, String)>,
    pub help: Option<String>,
}

impl Diagnostic {
    pub fn error(message: impl Into<String>) -> Self {
        Diagnostic {
            severity: Severity::Error,
            message: message.into(),
            primary: None,
            secondary: Vec::new(),
            help: None,
        }
    }

    pub fn warning(message: impl Into<String>) -> Self {
        Diagnostic { severity: Severity::Warning, ..Diagnostic::error(message) }
    }

    /// Points the diagnostic at `span`, with `label` under it.
    pub fn at(mut self, span: Span, label: impl Into<String>) -> Self {
        self.primary = Some((span, label.into()));
        self
    }

    /// Adds another place that explains the problem.
    pub fn also(mut self, span: Span, label: impl Into<String>) -> Self {
        self.secondary.push((span, label.into()));
        self
    }

    /// Reports something declared twice, pointing at both places.
    pub fn duplicate(message: impl Into<String>, again: Span, first: Span, help: &str) -> Self {
        Diagnostic::error(message)
            .at(again, "declared again here")
            .also(first, "first declared here")
            .help(help)
    }

    pub fn help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }
}

/// Why a configuration could not be loaded: every problem found, with the sources to show them.
#[derive(Debug, Clone)]
pub struct ConfigError {
    pub sources: Vec<Source>,
    pub diagnostics: Vec<Diagnostic>,
}

/// Renders diagnostics (warnings of a valid configuration, say) against their sources, each
/// followed by a blank line.
pub fn render_diagnostics(sources: &[Source], diagnostics: &[Diagnostic], color: bool) -> String {
    let renderer = if color { Renderer::styled() } else { Renderer::plain() };
    diagnostics.iter().map(|d| format!("{}\n\n", render_one(&renderer, sources, d))).collect()
}

/// Renders diagnostics as `certplan validate --json` prints them, in the shape of
/// `terraform validate -json`: `valid`, `error_count`, `warning_count`, `diagnostics[]` with
/// `severity`, `summary`, `detail` and `range{filename, start{line, column, byte}, end}`.
pub fn diagnostics_json(sources: &[Source], diagnostics: &[Diagnostic]) -> serde_json::Value {
    let count = |severity| diagnostics.iter().filter(|d| d.severity == severity).count();
    let errors = count(Severity::Error);
    let position = |source: &Source, byte: usize| {
        let (line, column) = source.line_col(byte);
        serde_json::json!({ "line": line, "column": column, "byte": byte })
    };
    let entries: Vec<serde_json::Value> = diagnostics
        .iter()
        .map(|d| {
            let range = d.primary.as_ref().and_then(|(span, _)| {
                let source = sources.get(span.file)?;
                Some(serde_json::json!({
                    "filename": source.path.display().to_string(),
                    "start": position(source, span.range.start),
                    "end": position(source, span.range.end),
                }))
            });
            let detail = [d.primary.as_ref().map(|(_, label)| label.clone()), d.help.clone()]
                .into_iter()
                .flatten()
                .filter(|t| !t.is_empty())
                .collect::<Vec<_>>()
                .join("; ");
            serde_json::json!({
                "severity": match d.severity { Severity::Error => "error", Severity::Warning => "warning" },
                "summary": d.message,
                "detail": detail,
                "range": range,
            })
        })
        .collect();
    serde_json::json!({
        "format_version": "1.0",
        "valid": errors == 0,
        "error_count": errors,
        "warning_count": count(Severity::Warning),
        "diagnostics": entries,
    })
}

impl ConfigError {
    /// Renders every diagnostic; `color` adds ANSI styling (for terminals only).
    pub fn render(&self, color: bool) -> String {
        let mut out = render_diagnostics(&self.sources, &self.diagnostics, color);
        let errors = self.error_count();
        out.push_str(&match errors {
            1 => "error: the configuration has 1 error".to_owned(),
            n => format!("error: the configuration has {n} errors"),
        });
        out
    }

    pub fn error_count(&self) -> usize {
        self.diagnostics.iter().filter(|d| d.severity == Severity::Error).count()
    }

    /// Returns `file:line:col` of a span, for messages outside a rendered diagnostic.
    pub fn location(sources: &[Source], span: &Span) -> String {
        let source = &sources[span.file];
        let (line, col) = source.line_col(span.range.start);
        format!("{}:{line}:{col}", source.path.display())
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.render(false))
    }
}

impl std::error::Error for ConfigError {}

fn render_one(renderer: &Renderer, sources: &[Source], d: &Diagnostic) -> String {
    let level = match d.severity {
        Severity::Error => Level::Error,
        Severity::Warning => Level::Warning,
    };
    let origins: Vec<String> = sources.iter().map(|s| display_path(&s.path)).collect();
    let mut message = level.title(&d.message);
    let mut places: Vec<(&Span, &str, Level)> = Vec::new();
    if let Some((span, label)) = &d.primary {
        places.push((span, label, level));
    }
    places.extend(d.secondary.iter().map(|(s, l)| (s, l.as_str(), Level::Note)));
    // One snippet per file, primary file first, so `-->` names the place of the problem.
    let mut files: Vec<usize> = Vec::new();
    for (span, _, _) in &places {
        if !files.contains(&span.file) {
            files.push(span.file);
        }
    }
    for file in files {
        let source = &sources[file];
        let annotations =
            places.iter().filter(|(s, _, _)| s.file == file).map(|(s, label, lvl)| {
                let range = clamp(&source.text, &s.range);
                lvl.span(range).label(label)
            });
        message = message.snippet(
            Snippet::source(&source.text)
                .origin(&origins[file])
                .fold(true)
                .annotations(annotations),
        );
    }
    if let Some(help) = &d.help {
        message = message.footer(Level::Help.title(help));
    }
    renderer.render(message).to_string()
}

/// Keeps a span inside the text and non-empty where possible, so the caret has something to sit on.
fn clamp(text: &str, range: &Range<usize>) -> Range<usize> {
    let start = floor_char_boundary(text, range.start);
    let end = floor_char_boundary(text, range.end.max(start));
    if end > start {
        start..end
    } else {
        let next = text[start..].chars().next().map_or(start, |c| start + c.len_utf8());
        start..next
    }
}

fn display_path(path: &Path) -> String {
    path.display().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_and_column_count_characters() {
        let s = Source::new("a.hcl", "ab\ncé d\n");
        assert_eq!(s.line_col(0), (1, 1));
        assert_eq!(s.line_col(3), (2, 1));
        assert_eq!(s.line_col(7), (2, 4));
        assert_eq!(s.line_col(999), (3, 1));
    }
}
