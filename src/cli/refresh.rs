//! `refresh`: `/ssl/collect` every certificate that is not final, record what NicSRS says,
//! and with `--out-dir` write each issued certificate to `DIR/KEY/`.

use std::io::Write;
use std::path::{Path, PathBuf};

use clap::Args;

use super::target::{Target, connect, token_for, warn_ledger};
use super::{ApiArgs, Format, ManifestArgs, TokenArgs, WorkerArgs};
use crate::error::Error;
use crate::exit::Exit;
use crate::ledger;
use crate::nicsrs::client::Timeouts;
use crate::validate::Validated;

/// The arguments of `refresh`.
#[derive(Debug, Args)]
pub struct RefreshCommand {
    /// Manifests whose `renewalOf` certificates are adopted (collected for the first time).
    #[arg(value_name = "FILE|DIR")]
    pub paths: Vec<PathBuf>,
    /// Write each issued certificate to DIR/KEY/: cert.pem, chain.pem, fullchain.pem and
    /// (mode 0600) privkey.pem where NicSRS generated the key.
    #[arg(long, value_name = "DIR")]
    pub out_dir: Option<PathBuf>,
    /// Calls in flight and per second.
    #[command(flatten)]
    pub workers: WorkerArgs,
    /// Output format (json: one object per certificate per line, then a summary object).
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// The token.
    #[command(flatten)]
    pub token: TokenArgs,
    /// Where orders go: the API, the sandbox, the ledger.
    #[command(flatten)]
    pub api: ApiArgs,
    /// The options of every command that reads manifests.
    #[command(flatten)]
    pub common: ManifestArgs,
}

impl RefreshCommand {
    /// Refreshes; exit 3 when a certificate could not be collected or written.
    pub fn run(self) -> Result<Exit, Error> {
        let target = self.api.target()?;
        let Ok(manifests) = super::load_optional(&self.paths, &self.common)? else {
            return Ok(Exit::Invalid);
        };
        super::runtime()?.block_on(collect(
            &target,
            manifests.as_ref(),
            Settings {
                token_file: self.token.token_file.as_deref(),
                out_dir: self.out_dir.as_deref(),
                concurrency: usize::from(self.workers.concurrency),
                rate: self.workers.rate,
                json: self.format == Format::Json,
                to_stderr: false,
            },
        ))
    }
}

/// `--refresh` of `plan` and `apply`: collect what is not final first, reporting on stderr.
/// A certificate that could not be collected is reported and does not stop the command.
pub(super) fn refresh_first(
    target: &Target,
    manifests: &Validated,
    token_file: Option<&std::path::Path>,
    concurrency: usize,
    rate: Option<f64>,
) -> Result<(), Error> {
    let exit = super::runtime()?.block_on(collect(
        target,
        Some(manifests),
        Settings {
            token_file,
            out_dir: None,
            concurrency,
            rate,
            json: false,
            to_stderr: true,
        },
    ))?;
    if exit != Exit::Ok {
        eprintln!(
            "warning: some certificates could not be refreshed; the plan uses what the ledger knew"
        );
    }
    Ok(())
}

/// What `refresh` is asked to do, resolved.
#[derive(Clone, Copy, Debug)]
pub(super) struct Settings<'a> {
    /// The token file, when not from the environment.
    pub(super) token_file: Option<&'a Path>,
    /// Where to write certificates and generated keys.
    pub(super) out_dir: Option<&'a Path>,
    /// Calls in flight.
    pub(super) concurrency: usize,
    /// Calls per second.
    pub(super) rate: Option<f64>,
    /// JSON lines instead of text.
    pub(super) json: bool,
    /// Report on stderr (the first step of `plan`/`apply --refresh`).
    pub(super) to_stderr: bool,
}

/// `refresh`: collect every certificate that is not final, record what NicSRS says, and
/// with `out_dir` write the issued certificates and generated keys. Exit 3 when a collect
/// failed.
pub(super) async fn collect(
    target: &Target,
    manifests: Option<&Validated>,
    args: Settings<'_>,
) -> Result<Exit, Error> {
    let Settings {
        token_file,
        out_dir,
        concurrency,
        rate,
        json,
        to_stderr,
    } = args;
    let (mut writer, contents) = ledger::Writer::open(&target.ledger, target.api)?;
    warn_ledger(&target.ledger, &contents.warnings);
    let adopt = manifests.map_or(&[][..], |m| m.orders.as_slice());
    let jobs = crate::refresh::jobs(&contents, target.api, out_dir, adopt, |o| {
        manifests.map_or(String::new(), |m| m.sources.get(o.file).display.clone())
    });
    if jobs.is_empty() {
        if json {
            let line = serde_json::json!({"summary": {}, "ledger": target.ledger});
            if to_stderr {
                eprintln!("{line}");
            } else {
                println!("{line}");
            }
        } else {
            let line = format!(
                "Nothing to refresh: every certificate in {} is final.",
                target.ledger.display()
            );
            if to_stderr {
                eprintln!("{line}");
            } else {
                println!("{line}");
            }
        }
        return Ok(Exit::Ok);
    }
    let width = jobs
        .iter()
        .map(|j| j.row.key.len())
        .max()
        .unwrap_or(0)
        .min(40);
    let token = token_for(target, token_file)?;
    let (client, embedded) = connect(target, token, Timeouts::default()).await?;
    let mut results = crate::refresh::spawn(client, jobs, concurrency, rate);
    let mut counts = std::collections::BTreeMap::<String, usize>::new();
    let mut failures = 0;
    // As the first step of `plan`/`apply --refresh`, the report goes to stderr so that their
    // own output (possibly JSON) stays clean.
    let mut out: Box<dyn Write> = if to_stderr {
        Box::new(std::io::BufWriter::new(std::io::stderr()))
    } else {
        Box::new(std::io::BufWriter::new(std::io::stdout()))
    };
    while let Some(mut done) = results.recv().await {
        let mut row = crate::refresh::status_row(&done.job, &done.result);
        writer.append(&row)?;
        if let Some(found) = done.found.take() {
            // A reissue or replacement the ledger lost: recorded, and what collect says of
            // the new certificate is this key's report (and its files).
            let [call, status] = crate::refresh::found_rows(&done.job, &found);
            writer.append(&call)?;
            writer.append(&status)?;
            row = status;
            done.result = found.result;
        }
        let mut files = Vec::new();
        let mut error: Option<String> = None;
        match &done.result {
            Ok((_, collected)) => {
                *counts.entry(collected.status.clone()).or_default() += 1;
                if let Some(dir) = out_dir {
                    match crate::refresh::write_files(dir, &row.key, &row.cert_id, collected) {
                        Ok(written) => files = written,
                        Err(e) => {
                            failures += 1;
                            *counts.entry("not written".into()).or_default() += 1;
                            let message = crate::shown::bounded(
                                &format!("cannot write its files: {e}"),
                                crate::shown::MESSAGE_CHARS,
                            );
                            eprintln!("error: {}: {message}", row.key);
                            error = Some(message);
                        }
                    }
                }
            }
            Err(_) => {
                failures += 1;
                *counts.entry("error".into()).or_default() += 1;
                error = Some(row.message.clone());
            }
        }
        // Each name's validation, as collect's `dcvList` said it.
        let names = crate::dcv::names::parse_cell(&row.dcv);
        if json {
            let dcv: Vec<serde_json::Value> = names
                .iter()
                .map(|n| serde_json::json!({"domain": n.domain, "method": n.method, "verified": n.verified == Some(true)}))
                .collect();
            let line = serde_json::json!({"key": row.key, "cert_id": row.cert_id, "status": row.status,
                "not_before": row.not_before, "not_after": row.not_after, "due_date": row.due_date,
                "message": row.message, "files": files, "error": error, "dcv": dcv});
            writeln!(out, "{line}").map_err(Error::Output)?;
        } else {
            let mut detail = match (&done.result, crate::refresh::days_left(&row.not_after)) {
                (Err(_), _) => row.message.clone(),
                (Ok(_), Some(days)) => {
                    format!("{}  expires {} ({days} days)", row.cert_id, row.not_after)
                }
                (Ok(_), None) => row.cert_id.clone(),
            };
            if names.iter().any(|n| n.verified.is_some()) {
                let verified = names.iter().filter(|n| n.verified == Some(true)).count();
                detail.push_str(&format!("  names: {verified}/{} verified", names.len()));
            }
            let status = if row.status.is_empty() {
                "error"
            } else {
                row.status.as_str()
            };
            writeln!(out, "{status:<10} {:<width$}  {detail}", row.key).map_err(Error::Output)?;
            // Where its files went: the folder once, then the files in it.
            if let Some(first) = files.first() {
                let folder = first
                    .parent()
                    .map(|p| p.display().to_string())
                    .unwrap_or_default();
                let names: Vec<String> = files
                    .iter()
                    .filter_map(|f| f.file_name().map(|n| n.to_string_lossy().into_owned()))
                    .filter(|n| !n.starts_with('.'))
                    .collect();
                writeln!(
                    out,
                    "{:<10} {:<width$}  wrote {}/: {}",
                    "",
                    "",
                    crate::shown::bounded(&folder, 300),
                    names.join(", ")
                )
                .map_err(Error::Output)?;
            }
        }
    }
    writer.sync()?;
    if let Some(s) = embedded {
        s.stop().await?;
    }
    let list: Vec<String> = counts.iter().map(|(k, n)| format!("{n} {k}")).collect();
    if json {
        writeln!(
            out,
            "{}",
            serde_json::json!({"summary": counts, "ledger": target.ledger})
        )
        .map_err(Error::Output)?;
    } else {
        writeln!(out, "Refreshed: {}.", list.join(", ")).map_err(Error::Output)?;
    }
    out.flush().map_err(Error::Output)?;
    Ok(if failures > 0 {
        Exit::Incomplete
    } else {
        Exit::Ok
    })
}
