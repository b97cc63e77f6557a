//! `dcv`: for every name of every order not issued yet, what must be done for the CA to
//! validate it (a DNS record, a file, an approver's click), as text, JSON, CSV or BIND
//! zone lines; and with `--webroot`, the files written where a web server serves them.

use std::fmt::Write as _;
use std::io::Write;
use std::path::{Path, PathBuf};

use clap::{Args, ValueEnum};

use super::{ApiArgs, ManifestArgs};
use crate::catalog::Catalog;
use crate::dcv::records::{self, Record, is_dns_name, is_file_name, is_txt};
use crate::error::Error;
use crate::exit::Exit;

/// What `dcv` prints.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum DcvFormat {
    /// For a person: each order's names and what to do for each.
    Text,
    /// One JSON document: `{"records": [...]}`.
    Json,
    /// One CSV record per name, with a header: for handing a customer their records.
    Csv,
    /// BIND zone-file lines (`NAME TTL IN TYPE VALUE`, absolute names) of the DNS records.
    Zone,
}

/// The arguments of `dcv`.
#[derive(Debug, Args)]
pub struct DcvCommand {
    /// Manifest files, or directories searched for *.yaml and *.yml.
    #[arg(required = true, value_name = "FILE|DIR")]
    pub paths: Vec<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = DcvFormat::Text)]
    pub format: DcvFormat,
    /// The TTL of `--format zone` lines, in seconds (at most 2147483647, RFC 2181).
    #[arg(long, default_value_t = 300, value_name = "SECONDS",
          value_parser = clap::value_parser!(u32).range(0..=2_147_483_647))]
    pub ttl: u32,
    /// Write each file to DIR/<domain>/.well-known/pki-validation/<file>.
    #[arg(long, value_name = "DIR")]
    pub webroot: Option<PathBuf>,
    /// Where orders go: the API, the sandbox, the ledger.
    #[command(flatten)]
    pub api: ApiArgs,
    /// The options of every command that reads manifests.
    #[command(flatten)]
    pub common: ManifestArgs,
}

impl DcvCommand {
    /// Lists (and with `--webroot` writes) what each name needs.
    pub fn run(self) -> Result<Exit, Error> {
        let target = self.api.target()?;
        let Some(outcome) = super::load_valid(&self.paths, &self.common)? else {
            return Ok(Exit::Invalid);
        };
        let catalog = match &self.common.catalog {
            Some(path) => Catalog::from_file(path)?,
            None => Catalog::builtin(),
        };
        let contents = super::target::ledger_of(&target, &outcome.orders)?;
        let found = records::of_orders(&outcome.orders, &contents, &catalog);
        let records = &found.records;
        if let Some(root) = &self.webroot {
            write_webroot(root, records)?;
        }
        let text = match self.format {
            DcvFormat::Text => text(records, found.later),
            DcvFormat::Json => format!(
                "{:#}\n",
                serde_json::json!({ "records": records, "known_once_placed": found.later })
            ),
            DcvFormat::Csv => csv(records),
            DcvFormat::Zone => zone(records, self.ttl),
        };
        std::io::stdout()
            .lock()
            .write_all(text.as_bytes())
            .map_err(Error::Output)?;
        Ok(Exit::Ok)
    }
}

/// For a person: each order, then each name and what to do.
fn text(records: &[Record], later: usize) -> String {
    let shown = |s: &str| crate::shown::bounded(s, 200);
    let mut out = String::new();
    let mut key = None;
    for r in records {
        if key != Some(&r.key) {
            let _ = writeln!(out, "{}", shown(&r.key));
            key = Some(&r.key);
        }
        let what = match r.kind.as_str() {
            "CNAME" | "TXT" => format!("{} {} {}", shown(&r.name), r.kind, shown(&r.value)),
            "FILE" => format!(
                "{} containing {}",
                shown(&r.url),
                shown(&r.content.replace('\n', " / "))
            ),
            "EMAIL" => format!("the CA mails {}: the approver clicks", shown(&r.value)),
            _ => "not known yet: the API tells it once the order is placed (`refresh` reads it)"
                .into(),
        };
        let _ = writeln!(
            out,
            "  {}  {}  {what}  [{}{}]",
            shown(&r.domain),
            shown(&r.method),
            r.state,
            match r.source.as_str() {
                "csr" => ", computed from the CSR",
                "api" => ", as the API said",
                _ => "",
            }
        );
    }
    let count = |state: &str| records.iter().filter(|r| r.state == state).count();
    let _ = writeln!(
        out,
        "{}: {} to publish, {} to approve, {} verified, {} unknown",
        crate::shown::counted(records.len() as u64, "name"),
        count("to-publish"),
        count("to-approve"),
        count("verified"),
        count("unknown")
    );
    if later > 0 {
        let _ = writeln!(
            out,
            "{} of orders not placed yet: known once placed (no CSR to compute them from, or a CA that issues its own tokens)",
            crate::shown::counted(later as u64, "more name")
        );
    }
    out
}

/// One CSV record per name, with a header; formula cells neutralised.
fn csv(records: &[Record]) -> String {
    let header = [
        "key", "domain", "method", "type", "name", "value", "url", "content", "source", "state",
    ];
    let mut out = crate::csv::line(header.iter().copied());
    for r in records {
        let cells = [
            &r.key, &r.domain, &r.method, &r.kind, &r.name, &r.value, &r.url, &r.content,
            &r.source, &r.state,
        ];
        out.push_str(&crate::csv::line(cells.iter().map(|c| c.as_str())));
    }
    out
}

/// BIND zone-file lines of the DNS records; a name or value that could break the line
/// (whitespace, quotes, control characters) is left out with a comment.
fn zone(records: &[Record], ttl: u32) -> String {
    let mut out = String::new();
    for r in records.iter().filter(|r| r.is_dns()) {
        let name_ok = is_dns_name(&r.name);
        let value = match r.kind.as_str() {
            "CNAME" if is_dns_name(&r.value) => Some(format!("{}.", r.value)),
            "TXT" if is_txt(&r.value) => Some(format!("\"{}\"", r.value)),
            _ => None,
        };
        match value {
            Some(value) if name_ok => {
                let _ = writeln!(out, "{}. {ttl} IN {} {value}", r.name, r.kind);
            }
            _ => {
                let _ = writeln!(
                    out,
                    "; {}: left out, its record is not a plain DNS name and value",
                    crate::shown::bounded(&r.domain, 100)
                );
            }
        }
    }
    out
}

/// Writes each file record to `root/<domain>/.well-known/pki-validation/<file>`. A domain
/// or file name that is not plain (it could climb out of the folder) is refused.
fn write_webroot(root: &Path, records: &[Record]) -> Result<(), Error> {
    let mut err = std::io::stderr().lock();
    for r in records.iter().filter(|r| r.kind == "FILE") {
        let host = r.domain.trim_start_matches("*.").to_ascii_lowercase();
        let file = r.file_name().unwrap_or("");
        if !is_dns_name(&host) || !is_file_name(file) {
            let _ = writeln!(
                err,
                "warning: {} not written: its file name {} is not a plain name",
                crate::shown::bounded(&r.domain, 100),
                crate::shown::quote(file)
            );
            continue;
        }
        let dir = root.join(&host).join(".well-known/pki-validation");
        // A folder below the webroot that is a link could send the file anywhere.
        let linked = [
            root.join(&host),
            root.join(&host).join(".well-known"),
            dir.clone(),
        ]
        .iter()
        .any(|p| std::fs::symlink_metadata(p).is_ok_and(|m| m.file_type().is_symlink()));
        if linked {
            let _ = writeln!(
                err,
                "warning: {} not written: a folder of its path under {} is a symbolic link",
                crate::shown::bounded(&r.domain, 100),
                root.display()
            );
            continue;
        }
        let io = |source| Error::Write {
            path: dir.clone(),
            source,
        };
        std::fs::create_dir_all(&dir).map_err(io)?;
        let path = dir.join(file);
        crate::atomic::write(&path, r.content.as_bytes(), 0o644).map_err(|source| {
            Error::Write {
                path: path.clone(),
                source,
            }
        })?;
        let _ = writeln!(err, "wrote {}", path.display());
    }
    Ok(())
}
