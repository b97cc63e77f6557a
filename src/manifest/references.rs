//! `{file: PATH}` and `{env: NAME}` references of `csr` and `privateKey`, resolved.

use std::path::Path;

use crate::diagnostic::DiagnosticCode;
use crate::manifest::yaml::{Node, Value};
use crate::source::Span;

/// Largest file a `{file: ...}` reference may name (a CSR or key is a few KB).
pub const MAX_REFERENCED_FILE_BYTES: u64 = 1024 * 1024;

/// What a `csr` or `privateKey` value turned out to be.
#[derive(Debug)]
pub enum Resolution {
    /// Text written inline.
    Inline,
    /// A reference, read: the text, and where the path or variable name is written.
    Resolved {
        /// The file's content or the variable's value.
        text: String,
        /// The span of the path or variable name.
        span: Span,
    },
    /// A reference that could not be read.
    Failed {
        /// `file-not-found` or `env-not-set`.
        code: DiagnosticCode,
        /// What went wrong.
        message: String,
        /// `file` or `env`: the pointer segment under the field.
        via: &'static str,
        /// A hint.
        hint: Option<&'static str>,
    },
    /// Not a string nor a well-formed reference: the manifest schema reports it.
    Malformed,
}

/// Resolves `node` (the value of `csr` or `privateKey`); `base` is the manifest's directory.
pub fn resolve(node: &Node, base: &Path) -> Resolution {
    match &node.value {
        Value::Str(_) => Resolution::Inline,
        Value::Map(entries) if entries.len() == 1 => {
            if let Some(path_node) = node.get("file") {
                let Some(path) = path_node.as_str() else {
                    return Resolution::Malformed;
                };
                let full = base.join(path);
                match read_small(&full) {
                    Ok(text) => Resolution::Resolved {
                        text,
                        span: path_node.span,
                    },
                    Err(e) => {
                        let shown = if full == Path::new(path) {
                            String::new()
                        } else {
                            format!(" ({})", full.display())
                        };
                        Resolution::Failed {
                            code: DiagnosticCode::FileNotFound,
                            message: format!("cannot read `{path}`{shown}: {e}"),
                            via: "file",
                            hint: Some("`file:` paths are relative to the manifest"),
                        }
                    }
                }
            } else if let Some(var_node) = node.get("env") {
                let Some(var) = var_node.as_str() else {
                    return Resolution::Malformed;
                };
                match std::env::var(var) {
                    Ok(text) => Resolution::Resolved {
                        text,
                        span: var_node.span,
                    },
                    Err(_) => Resolution::Failed {
                        code: DiagnosticCode::EnvNotSet,
                        message: format!("environment variable `{var}` is not set"),
                        via: "env",
                        hint: None,
                    },
                }
            } else {
                Resolution::Malformed
            }
        }
        _ => Resolution::Malformed,
    }
}

/// How a reference is written, for messages: `{file: PATH}` or `{env: NAME}` (bounded and
/// escaped); `None` for an inline value.
pub fn written(node: &Node) -> Option<String> {
    let (via, value) = match (node.get("file"), node.get("env")) {
        (Some(p), None) => ("file", p.as_str()?),
        (None, Some(v)) => ("env", v.as_str()?),
        _ => return None,
    };
    Some(format!(
        "`{{{via}: {}}}`",
        crate::shown::bounded(value, 120)
    ))
}

fn read_small(path: &Path) -> std::io::Result<String> {
    let read = crate::bounded::read_regular(path, MAX_REFERENCED_FILE_BYTES)?;
    // Never quote what was read: it may be anything the path named.
    String::from_utf8(read.bytes).map_err(|_| std::io::Error::other("it is not UTF-8 text"))
}
