//! The read stage: find manifest files, read them safely, parse them into node trees
//! ([`yaml`]), and resolve their `{file:}`/`{env:}` references ([`references`]).

pub mod references;
pub mod yaml;

use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};

use crate::diagnostic::Diagnostic;
use crate::diagnostic::DiagnosticCode;
use crate::error::Error;
use crate::source::{FileId, SourceFile, Sources, Span};
use yaml::{MAX_FILE_BYTES, Node};

/// A manifest that parsed as YAML.
#[derive(Debug)]
pub struct Manifest {
    /// Its file.
    pub file: FileId,
    /// Its document.
    pub root: Node,
}

/// The manifest files named by `paths`: files as given; for a directory, the `*.yaml` and
/// `*.yml` files directly in it (not in subdirectories, as Terraform reads a directory;
/// hidden files skipped), in name order.
pub fn discover(paths: &[PathBuf]) -> Result<Vec<PathBuf>, Error> {
    let mut found = Vec::new();
    for path in paths {
        let meta = fs::metadata(path).map_err(|source| Error::Read {
            path: path.clone(),
            source,
        })?;
        if meta.is_dir() {
            let before = found.len();
            walk(path, &mut found)?;
            if found.len() == before {
                return Err(Error::NoManifests(path.clone()));
            }
        } else {
            found.push(path.clone());
        }
    }
    // A file named twice (`orders/ orders/a.yaml`) is one file of the run.
    let mut seen = std::collections::HashSet::new();
    found.retain(|p| seen.insert(fs::canonicalize(p).unwrap_or_else(|_| p.clone())));
    Ok(found)
}

fn walk(dir: &Path, found: &mut Vec<PathBuf>) -> Result<(), Error> {
    let read_err = |source| Error::Read {
        path: dir.to_owned(),
        source,
    };
    let mut entries: Vec<_> = fs::read_dir(dir)
        .map_err(read_err)?
        .collect::<Result<_, _>>()
        .map_err(read_err)?;
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let name = entry.file_name();
        if name.to_string_lossy().starts_with('.') {
            continue;
        }
        let path = entry.path();
        if !matches!(
            path.extension().and_then(|e| e.to_str()),
            Some("yaml" | "yml")
        ) {
            continue;
        }
        // A manifest that is not a regular file (a FIFO, a device, a dangling link, a
        // directory) is an error, not silently left out of the run.
        match fs::metadata(&path) {
            Ok(meta) if meta.is_file() => found.push(path),
            Ok(_) => {
                return Err(Error::Read {
                    path,
                    source: std::io::Error::other("it is not a regular file"),
                });
            }
            Err(source) => return Err(Error::Read { path, source }),
        }
    }
    Ok(())
}

/// Reads each file into `sources`, returning the ids of those to parse. A file that is too
/// large or not UTF-8 becomes a diagnostic and the others are still read; a file that cannot
/// be opened is an [`Error`].
pub fn read(
    files: &[PathBuf],
    sources: &mut Sources,
    diagnostics: &mut Vec<Diagnostic>,
) -> Result<Vec<FileId>, Error> {
    let mut read = Vec::with_capacity(files.len());
    for path in files {
        let read_err = |source| Error::Read {
            path: path.clone(),
            source,
        };
        let file = crate::bounded::open_regular(path).map_err(read_err)?;
        let declared = file.metadata().map_err(read_err)?.len();
        let mut bytes = Vec::new();
        if declared <= MAX_FILE_BYTES {
            // Room for what the file says it holds, and the byte that tells it ended: the
            // text is read once, not copied as the buffer grows.
            bytes.reserve_exact(usize::try_from(declared).unwrap_or(0).saturating_add(1));
            // `take` also bounds what a pipe or a growing file can deliver.
            file.take(MAX_FILE_BYTES + 1)
                .read_to_end(&mut bytes)
                .map_err(read_err)?;
        }
        if declared > MAX_FILE_BYTES || bytes.len() as u64 > MAX_FILE_BYTES {
            let id = sources.add(SourceFile::new(path.clone(), String::new()));
            diagnostics.push(
                Diagnostic::error(
                    DiagnosticCode::FileTooLarge,
                    format!("the file is larger than {} MiB", MAX_FILE_BYTES >> 20),
                )
                .at(id, None)
                .hint("split the orders over several manifests in one directory"),
            );
            continue;
        }
        let text = match String::from_utf8(bytes) {
            Ok(text) => text,
            Err(e) => {
                let valid = e.utf8_error().valid_up_to();
                let lossy = String::from_utf8_lossy(e.as_bytes()).into_owned();
                // Point at the first bad byte, which sits at the same line in the lossy text.
                let prefix = String::from_utf8_lossy(&e.as_bytes()[..valid]).len();
                let id = sources.add(SourceFile::new(path.clone(), lossy));
                diagnostics.push(
                    Diagnostic::error(
                        DiagnosticCode::NotUtf8,
                        format!("the file is not UTF-8 (invalid byte at offset {valid})"),
                    )
                    .at(id, Some(Span::new(prefix, prefix + 3)))
                    .hint("save the manifest as UTF-8"),
                );
                continue;
            }
        };
        let text = text
            .strip_prefix('\u{feff}')
            .map(str::to_owned)
            .unwrap_or(text);
        read.push(sources.add(SourceFile::new(path.clone(), text)));
    }
    Ok(read)
}

/// The diagnostic for a file that is not a YAML document this tool can read.
pub fn not_yaml(file: FileId, e: yaml::YamlError) -> Diagnostic {
    let hint = e
        .message
        .contains("tab")
        .then_some("YAML indents with spaces; replace the tabs");
    Diagnostic::error(
        DiagnosticCode::YamlSyntax,
        format!("not valid YAML: {}", e.message),
    )
    .at(file, e.span)
    .maybe_hint(hint.map(str::to_owned))
}
