//! Problems found in manifests, and how they are shown: rustc-style text or JSON.

use annotate_snippets::{AnnotationKind, Group, Level, Origin, Renderer, Snippet};
use serde::Serialize;

use crate::shown;
use crate::source::{FileId, Sources, Span};

mod code;

pub use code::DiagnosticCode;

/// Most characters of a source line shown under a diagnostic.
const SNIPPET_CHARS: usize = 160;

/// How bad a problem is: errors make a run invalid, warnings do not.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// The manifest cannot be used as it is.
    Error,
    /// Worth a look; the run may go on.
    Warning,
}

/// A place in a file that a diagnostic points at.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Place {
    /// The file.
    pub file: FileId,
    /// The bytes to underline (empty: the whole file).
    pub span: Option<Span>,
}

/// One problem, with where it is and what to do about it.
#[derive(Clone, Debug)]
pub struct Diagnostic {
    /// Error or warning.
    pub severity: Severity,
    /// The kind of problem, with its stable kebab-case name (listed in the README).
    pub code: DiagnosticCode,
    /// One-line description.
    pub message: String,
    /// Where the offending value (or the mapping missing a field) is written.
    pub place: Option<Place>,
    /// Short text under the caret.
    pub label: Option<String>,
    /// JSON pointer of the value inside its file, e.g. `/orders/3/params/server`.
    pub pointer: String,
    /// Key of the order the problem belongs to, when it belongs to one.
    pub order: Option<String>,
    /// Context, e.g. that a value was inherited from `defaults`.
    pub notes: Vec<String>,
    /// A suggestion for the fix.
    pub hint: Option<String>,
    /// A second place that explains the first (the earlier definition, say).
    pub related: Option<(Place, String)>,
}

impl Diagnostic {
    /// An error of kind `code`.
    pub fn error(code: DiagnosticCode, message: impl Into<String>) -> Self {
        Diagnostic {
            severity: Severity::Error,
            code,
            message: shown::bounded_lines(&message.into(), shown::MESSAGE_CHARS),
            place: None,
            label: None,
            pointer: String::new(),
            order: None,
            notes: Vec::new(),
            hint: None,
            related: None,
        }
    }

    /// A warning of kind `code`.
    pub fn warning(code: DiagnosticCode, message: impl Into<String>) -> Self {
        Diagnostic {
            severity: Severity::Warning,
            ..Diagnostic::error(code, message)
        }
    }

    /// Points the diagnostic at `span` in `file`.
    pub fn at(mut self, file: FileId, span: Option<Span>) -> Self {
        self.place = Some(Place { file, span });
        self
    }

    /// Sets the JSON pointer of the value in its file.
    pub fn pointer(mut self, pointer: impl Into<String>) -> Self {
        self.pointer = pointer.into();
        self
    }

    /// Names the order the problem belongs to.
    pub fn order(mut self, key: Option<&str>) -> Self {
        self.order = key.map(str::to_owned);
        self
    }

    /// Adds a label under the caret.
    pub fn label(mut self, label: impl Into<String>) -> Self {
        self.label = Some(shown::bounded(&label.into(), shown::QUOTE_CHARS));
        self
    }

    /// Adds a hint.
    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(shown::bounded_lines(&hint.into(), shown::MESSAGE_CHARS));
        self
    }

    /// Adds a hint when there is one.
    pub fn maybe_hint(mut self, hint: Option<String>) -> Self {
        if let Some(hint) = hint {
            self = self.hint(hint);
        }
        self
    }

    /// Adds a note.
    pub fn note(mut self, note: impl Into<String>) -> Self {
        self.notes
            .push(shown::bounded_lines(&note.into(), shown::MESSAGE_CHARS));
        self
    }

    /// Adds a second, explanatory place.
    pub fn related(mut self, file: FileId, span: Span, label: impl Into<String>) -> Self {
        self.related = Some((
            Place {
                file,
                span: Some(span),
            },
            label.into(),
        ));
        self
    }

    /// Whether this is an error.
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

/// Orders diagnostics by file, then position, so output is stable run to run.
pub fn sort(diagnostics: &mut [Diagnostic]) {
    diagnostics.sort_by(|a, b| {
        let place = |d: &Diagnostic| {
            d.place
                .map(|p| (p.file, p.span.unwrap_or_default()))
                .unwrap_or((usize::MAX, Span::default()))
        };
        place(a)
            .cmp(&place(b))
            .then_with(|| a.severity.cmp(&b.severity))
            .then_with(|| a.code.name().cmp(b.code.name()))
            .then_with(|| a.message.cmp(&b.message))
    });
}

/// Renders diagnostics the way rustc does: title, `--> file:line:col`, the line, a caret.
pub struct TextRenderer<'s> {
    sources: &'s Sources,
    renderer: Renderer,
    secrets: &'s [(FileId, Span)],
}

impl<'s> TextRenderer<'s> {
    /// A renderer over `sources`, with colour when `color` is set.
    pub fn new(sources: &'s Sources, color: bool) -> Self {
        let renderer = if color {
            Renderer::styled()
        } else {
            Renderer::plain()
        };
        TextRenderer {
            sources,
            renderer,
            secrets: &[],
        }
    }

    /// Never prints these bytes (secrets written in manifests) when showing a line.
    pub fn hiding(mut self, secrets: &'s [(FileId, Span)]) -> Self {
        self.secrets = secrets;
        self
    }

    /// One diagnostic as text, ending in a blank line.
    pub fn render(&self, d: &Diagnostic) -> String {
        let level = match d.severity {
            Severity::Error => Level::ERROR,
            Severity::Warning => Level::WARNING,
        };
        let mut group =
            Group::with_title(level.primary_title(d.message.as_str()).id(d.code.name()));
        if let Some(place) = d.place {
            group = group.element(self.snippet(place, d.label.as_deref(), true));
        }
        if let Some((place, label)) = &d.related {
            group = group.element(self.snippet(*place, Some(label), false));
        }
        if let Some(order) = &d.order {
            group = group.element(Level::NOTE.message(format!("in order {}", shown::quote(order))));
        }
        for note in &d.notes {
            group = group.element(Level::NOTE.message(note.as_str()));
        }
        if let Some(hint) = &d.hint {
            group = group.element(Level::HELP.message(hint.as_str()));
        }
        let mut out = self.renderer.render(&[group]);
        out.push_str("\n\n");
        out
    }

    /// The line holding `place`, annotated. Only that line is handed to the renderer, so
    /// rendering stays cheap however long the file is.
    fn snippet<'a>(
        &'a self,
        place: Place,
        label: Option<&'a str>,
        primary: bool,
    ) -> annotate_snippets::Element<'a> {
        let file = self.sources.get(place.file);
        let Some(span) = place.span else {
            return Origin::path(file.display.as_str()).into();
        };
        let line = file.line_range(span.start);
        let (line_no, _) = file.line_col(span.start);
        let mut text = std::borrow::Cow::Borrowed(&file.text[line.clone()]);
        let mut start = (span.start as usize).clamp(line.start, line.end) - line.start;
        let mut end = (span.end as usize).clamp(line.start, line.end) - line.start;
        // Hide secrets on this line, right to left so earlier offsets stay valid.
        let mut hidden: Vec<(usize, usize)> = self
            .secrets
            .iter()
            .filter(|(f, s)| {
                *f == place.file && (s.start as usize) < line.end && (s.end as usize) > line.start
            })
            .map(|(_, s)| {
                let from = (s.start as usize).clamp(line.start, line.end) - line.start;
                let to = (s.end as usize).clamp(line.start, line.end) - line.start;
                (from, to)
            })
            .collect();
        hidden.sort_unstable();
        for &(from, to) in hidden.iter().rev() {
            if from < to && text.is_char_boundary(from) && text.is_char_boundary(to) {
                text =
                    std::borrow::Cow::Owned(format!("{}<redacted>{}", &text[..from], &text[to..]));
                if start >= to {
                    start = start + 10 - (to - from);
                    end = end + 10 - (to - from);
                } else if end > from {
                    end = (from + 10).max(start);
                }
            }
        }
        let end = end.min(text.len());
        let start = start.min(end);
        // However long the line, only a window around the value is shown, escaped.
        let (text, start, end) = shown::window(&text, start, end, SNIPPET_CHARS);
        let kind = if primary {
            AnnotationKind::Primary
        } else {
            AnnotationKind::Context
        };
        Snippet::source(text)
            .line_start(line_no)
            .path(file.display.as_str())
            .fold(false)
            .annotation(kind.span(start..end).label(label))
            .into()
    }
}

/// The machine-readable form of one diagnostic (`--format json`).
#[derive(Serialize)]
pub struct JsonDiagnostic<'a> {
    /// `error` or `warning`.
    pub severity: Severity,
    /// The diagnostic's code.
    pub code: &'a str,
    /// The message.
    pub message: &'a str,
    /// The file, as given (escaped).
    pub file: Option<&'a str>,
    /// 1-based line.
    pub line: Option<usize>,
    /// 1-based column, in characters.
    pub column: Option<usize>,
    /// JSON pointer of the value in its file (bounded, escaped).
    pub pointer: String,
    /// The order's key (bounded, escaped).
    pub order: Option<String>,
    /// The hint, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hint: Option<&'a str>,
}

impl<'a> JsonDiagnostic<'a> {
    /// The JSON form of `d`.
    pub fn new(sources: &'a Sources, d: &'a Diagnostic) -> Self {
        let file = d.place.map(|p| sources.get(p.file));
        let (line, column) = match d.place.and_then(|p| p.span.map(|s| (p.file, s))) {
            Some((f, span)) => {
                let (l, c) = sources.get(f).line_col(span.start);
                (Some(l), Some(c))
            }
            None => (None, None),
        };
        JsonDiagnostic {
            severity: d.severity,
            code: d.code.name(),
            message: &d.message,
            file: file.map(|f| f.display.as_str()),
            line,
            column,
            pointer: shown::bounded(&d.pointer, 300),
            order: d
                .order
                .as_deref()
                .map(|o| shown::bounded(o, shown::QUOTE_CHARS)),
            hint: d.hint.as_deref(),
        }
    }
}

/// The closest candidates to `wrong`, for "did you mean" hints.
pub fn nearest<'a>(wrong: &str, candidates: impl IntoIterator<Item = &'a str>) -> Vec<&'a str> {
    let lower = wrong.to_ascii_lowercase();
    let mut scored: Vec<(f64, &str)> = candidates
        .into_iter()
        .filter_map(|c| {
            if c.eq_ignore_ascii_case(wrong) {
                return Some((2.0, c));
            }
            let score = strsim::jaro_winkler(&lower, &c.to_ascii_lowercase());
            (score > 0.8).then_some((score, c))
        })
        .collect();
    scored.sort_by(|a, b| b.0.total_cmp(&a.0).then_with(|| a.1.cmp(b.1)));
    scored.into_iter().take(3).map(|(_, c)| c).collect()
}

/// "did you mean `a`?" / "did you mean `a` or `b`?", when anything is near.
pub fn did_you_mean<'a>(
    wrong: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<String> {
    let near = nearest(wrong, candidates);
    match near.as_slice() {
        [] => None,
        [one] => Some(format!("did you mean `{one}`?")),
        [init @ .., last] => Some(format!(
            "did you mean {} or `{last}`?",
            init.iter()
                .map(|c| format!("`{c}`"))
                .collect::<Vec<_>>()
                .join(", ")
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggestions_prefer_case_insensitive_matches() {
        assert_eq!(
            did_you_mean("dcvMetod", ["dcvMethod", "dcvEmail", "domainName"]).as_deref(),
            Some("did you mean `dcvMethod`?")
        );
        assert_eq!(
            did_you_mean("NGINX", ["nginx", "iis7"]).as_deref(),
            Some("did you mean `nginx`?")
        );
        assert_eq!(did_you_mean("zzz", ["nginx", "iis7"]), None);
    }
}
