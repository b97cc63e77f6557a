//! A saved plan, as Terraform has: `plan --out PLAN` writes what would be done with the
//! hashes of what it was decided from (every manifest, the catalogue, the ledger, and each
//! order's request, CSR included); `apply PLAN` carries out exactly that and refuses when
//! any of them changed, or when the plan made now would differ (a renewal window opened
//! since, a certificate found issued): what was reviewed is what is paid for.

use std::io::Read;
use std::path::{Path, PathBuf};

use ring::digest::{Context, SHA256};
use serde::{Deserialize, Serialize};

use super::{Plan, render::to_json};
use crate::source::Sources;

/// The `format` field that tells a saved plan from a manifest.
pub const FORMAT: &str = "nicsrs-batch-plan";
/// The version of the file's shape.
const VERSION: u32 = 1;
/// A saved plan larger than this is not read (10,000 orders make about 12 MB).
const MAX_BYTES: u64 = 256 << 20;

/// Why a saved plan cannot be carried out.
#[derive(Debug, thiserror::Error)]
pub enum SavedError {
    /// The file cannot be read or written.
    #[error("cannot {what} the plan {path}: {source}")]
    Io {
        /// Read or write.
        what: &'static str,
        /// The plan file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A file the plan is made from cannot be read to hash it.
    #[error("cannot read {path} to save the plan: {source}")]
    Input {
        /// The ledger or the catalogue.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// It is not a plan this version can carry out.
    #[error("{path} is not a plan this version of nicsrs-batch can apply: {why}")]
    Unusable {
        /// The plan file.
        path: PathBuf,
        /// What is wrong.
        why: String,
    },
    /// It was made for another API, endpoint, ledger or catalogue than this run's.
    #[error("refusing: the plan {path} {why}")]
    Elsewhere {
        /// The plan file.
        path: PathBuf,
        /// Where it was made for, and where this run goes.
        why: String,
    },
    /// Something it was made from changed since.
    #[error(
        "refusing: {what} since the plan {path} was made, so it is not what was reviewed; make and review the plan again (`nicsrs-batch plan … --out {path}`)"
    )]
    Stale {
        /// The plan file.
        path: PathBuf,
        /// What changed.
        what: String,
    },
    /// The plan made now differs from the saved one.
    #[error(
        "refusing: the plan made now differs from the saved plan {path} ({what}), so it is not what was reviewed; make and review the plan again (`nicsrs-batch plan … --out {path}`)"
    )]
    Differs {
        /// The plan file.
        path: PathBuf,
        /// The first difference.
        what: String,
    },
}

/// One file the plan was decided from.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Input {
    /// Its path, as it was read.
    pub path: String,
    /// SHA-256 of its text, hex.
    pub sha256: String,
}

/// One order's step, as it must be again when the plan is applied.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct SavedStep {
    /// The order's key.
    pub key: String,
    /// What apply does.
    pub action: String,
    /// The refId it sends or looks up.
    pub ref_id: String,
    /// The request's hash.
    pub request_sha256: String,
    /// The certificate it renews, reissues or replaces.
    pub of_cert_id: String,
}

/// A saved plan.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Saved {
    /// [`FORMAT`].
    pub format: String,
    /// [`VERSION`].
    pub version: u32,
    /// The version of nicsrs-batch that made it.
    pub tool_version: String,
    /// `live` or `sandbox`.
    pub api: String,
    /// The API base URL; `None` for the embedded sandbox.
    pub endpoint: Option<String>,
    /// The ledger.
    pub ledger: PathBuf,
    /// SHA-256 of the ledger's bytes; `None` when it did not exist.
    pub ledger_sha256: Option<String>,
    /// The manifest paths given to `plan`.
    pub paths: Vec<PathBuf>,
    /// The `--catalog` given, if any.
    pub catalog: Option<PathBuf>,
    /// Every manifest and referenced file read, and the catalogue.
    pub inputs: Vec<Input>,
    /// One per order, in manifest order.
    pub steps: Vec<SavedStep>,
    /// The plan's counts and price, as `plan` printed them.
    pub summary: String,
    /// The whole plan, as `plan --format json` gives it, for people and scripts to read.
    pub plan: serde_json::Value,
}

/// Where a plan was made: what `Saved::new` records besides the plan itself.
pub struct Origin<'a> {
    /// Live or sandbox.
    pub api: crate::ledger::Api,
    /// The endpoint.
    pub endpoint: Option<&'a str>,
    /// The ledger.
    pub ledger: &'a Path,
    /// The manifest paths given.
    pub paths: &'a [PathBuf],
    /// The `--catalog` given.
    pub catalog: Option<&'a Path>,
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// SHA-256 of a file's bytes, read in pieces; `None` when it does not exist.
fn file_sha256(path: &Path) -> std::io::Result<Option<String>> {
    let mut file = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    let mut ctx = Context::new(&SHA256);
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        ctx.update(&buf[..n]);
    }
    Ok(Some(hex(ctx.finish().as_ref())))
}

/// The inputs read: every source file's text, then the catalogue's bytes.
fn inputs(sources: &Sources, catalog: Option<&Path>) -> Result<Vec<Input>, SavedError> {
    let mut out: Vec<Input> = (0..sources.len())
        .map(|id| {
            let file = sources.get(id);
            Input {
                path: file.path.display().to_string(),
                sha256: hex(ring::digest::digest(&SHA256, file.text.as_bytes()).as_ref()),
            }
        })
        .collect();
    if let Some(path) = catalog {
        out.push(Input {
            path: path.display().to_string(),
            sha256: file_sha256(path)
                .map_err(|source| SavedError::Input {
                    path: path.to_owned(),
                    source,
                })?
                .unwrap_or_default(),
        });
    }
    Ok(out)
}

fn steps(plan: &Plan<'_>) -> Vec<SavedStep> {
    plan.steps
        .iter()
        .map(|s| SavedStep {
            key: s.order.key.clone(),
            action: s.action.as_str().to_owned(),
            ref_id: s.ref_id.clone(),
            request_sha256: s.request_sha256.clone(),
            of_cert_id: s.of_cert.clone(),
        })
        .collect()
}

impl Saved {
    /// The plan `plan` made from `sources`, with the hashes of its inputs.
    pub fn new(
        plan: &Plan<'_>,
        sources: &Sources,
        origin: &Origin<'_>,
    ) -> Result<Saved, SavedError> {
        Ok(Saved {
            format: FORMAT.into(),
            version: VERSION,
            tool_version: env!("CARGO_PKG_VERSION").into(),
            api: origin.api.as_str().into(),
            endpoint: origin.endpoint.map(str::to_owned),
            ledger: origin.ledger.to_owned(),
            ledger_sha256: file_sha256(origin.ledger).map_err(|source| SavedError::Input {
                path: origin.ledger.to_owned(),
                source,
            })?,
            paths: origin.paths.to_vec(),
            catalog: origin.catalog.map(Path::to_owned),
            inputs: inputs(sources, origin.catalog)?,
            steps: steps(plan),
            summary: plan.summary_line(),
            plan: to_json(plan),
        })
    }

    /// Writes it to `path` (whole or not at all).
    pub fn write(&self, path: &Path) -> Result<(), SavedError> {
        let io = |source| SavedError::Io {
            what: "write",
            path: path.to_owned(),
            source,
        };
        let mut bytes = serde_json::to_vec_pretty(self).map_err(|e| io(e.into()))?;
        bytes.push(b'\n');
        crate::atomic::write(path, &bytes, 0o644).map_err(io)
    }

    /// The saved plan at `path`, or `None` when `path` is not a saved plan (a manifest, a
    /// directory).
    pub fn read_if_plan(path: &Path) -> Result<Option<Saved>, SavedError> {
        let io = |source| SavedError::Io {
            what: "read",
            path: path.to_owned(),
            source,
        };
        let Ok(meta) = std::fs::metadata(path) else {
            return Ok(None);
        };
        if !meta.is_file() {
            return Ok(None);
        }
        let mut head = [0u8; 64];
        let file = std::fs::File::open(path).map_err(io)?;
        let n = file.take(64).read(&mut head).map_err(io)?;
        let head = String::from_utf8_lossy(&head[..n]);
        if !head.trim_start().starts_with('{') || !head.contains(FORMAT) {
            return Ok(None);
        }
        let unusable = |why: String| SavedError::Unusable {
            path: path.to_owned(),
            why,
        };
        if meta.len() > MAX_BYTES {
            return Err(unusable(format!("larger than {} MB", MAX_BYTES >> 20)));
        }
        let bytes = std::fs::read(path).map_err(io)?;
        // serde's message may quote a value of the file: bounded and escaped.
        let saved: Saved = serde_json::from_slice(&bytes)
            .map_err(|e| unusable(crate::shown::bounded(&e.to_string(), 300)))?;
        if saved.format != FORMAT || saved.version != VERSION {
            return Err(unusable(format!(
                "format {} version {} (this version reads {FORMAT} version {VERSION})",
                crate::shown::bounded(&saved.format, 40),
                saved.version
            )));
        }
        Ok(Some(saved))
    }

    /// Refuses when a manifest or the catalogue is not as it was, or a manifest was added or
    /// dropped (a referenced file that changed changes its order's request: `check_steps`).
    pub fn check_inputs(&self, plan_path: &Path, sources: &Sources) -> Result<(), SavedError> {
        let stale = |what: String| SavedError::Stale {
            path: plan_path.to_owned(),
            what,
        };
        let now = inputs(sources, self.catalog.as_deref())
            .map_err(|e| stale(format!("the catalogue cannot be read again ({e})")))?;
        for input in &now {
            match self.inputs.iter().find(|i| i.path == input.path) {
                None => return Err(stale(format!("`{}` was added", shown(&input.path)))),
                Some(i) if i.sha256 != input.sha256 => {
                    return Err(stale(format!("`{}` changed", shown(&input.path))));
                }
                Some(_) => {}
            }
        }
        if let Some(gone) = self
            .inputs
            .iter()
            .find(|i| !now.iter().any(|n| n.path == i.path))
        {
            return Err(stale(format!("`{}` is no longer read", shown(&gone.path))));
        }
        Ok(())
    }

    /// Refuses when the ledger is not as it was (call it with the ledger locked).
    pub fn check_ledger(&self, plan_path: &Path) -> Result<(), SavedError> {
        let now = file_sha256(&self.ledger).map_err(|source| SavedError::Io {
            what: "check the ledger of",
            path: plan_path.to_owned(),
            source,
        })?;
        let header_only = || {
            std::fs::read_to_string(&self.ledger)
                .is_ok_and(|t| t.lines().filter(|l| !l.trim().is_empty()).count() <= 1)
        };
        let same = match (&self.ledger_sha256, &now) {
            (a, b) if a == b => true,
            // Opening a ledger that did not exist writes its header.
            (None, Some(_)) => header_only(),
            _ => false,
        };
        if same {
            Ok(())
        } else {
            Err(SavedError::Stale {
                path: plan_path.to_owned(),
                what: format!(
                    "the ledger `{}` changed",
                    shown(&self.ledger.display().to_string())
                ),
            })
        }
    }

    /// Refuses when the plan made now is not the saved one, step by step.
    pub fn check_steps(&self, plan_path: &Path, plan: &Plan<'_>) -> Result<(), SavedError> {
        let now = steps(plan);
        let differs = |what: String| SavedError::Differs {
            path: plan_path.to_owned(),
            what,
        };
        for (i, step) in now.iter().enumerate() {
            let Some(was) = self.steps.get(i) else {
                return Err(differs(format!("`{}` is new", shown(&step.key))));
            };
            if was != step {
                return Err(differs(if was.key != step.key {
                    format!("`{}` in place of `{}`", shown(&step.key), shown(&was.key))
                } else if was.action != step.action {
                    format!(
                        "`{}` is `{}` now, `{}` in the saved plan",
                        shown(&step.key),
                        step.action,
                        was.action
                    )
                } else {
                    format!(
                        "`{}`'s request is not the one reviewed: its order or a file it references (its CSR) changed",
                        shown(&step.key)
                    )
                }));
            }
        }
        if let Some(was) = self.steps.get(now.len()) {
            return Err(differs(format!("`{}` is gone", shown(&was.key))));
        }
        Ok(())
    }
}

fn shown(s: &str) -> String {
    crate::shown::bounded(s, 200)
}

/// Whether two paths name the same file as given, `.` components aside (`./ledger.csv` is
/// `ledger.csv`).
pub fn same_path(a: &Path, b: &Path) -> bool {
    let plain = |p: &Path| -> Vec<std::ffi::OsString> {
        p.components()
            .filter(|c| !matches!(c, std::path::Component::CurDir))
            .map(|c| c.as_os_str().to_owned())
            .collect()
    };
    plain(a) == plain(b)
}
