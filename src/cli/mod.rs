//! The command line: one file per command, each a `#[derive(Args)]` struct with its own
//! `run` and its output next to it (`status.rs`, `refresh.rs`, ...); the flags several
//! commands share are the flattened structs here; `target.rs` says where orders go.

mod apply;
mod catalog;
mod dcv;
mod expand;
mod flags;
mod plan;
mod products;
mod refresh;
mod sandbox;
mod schema;
mod shell;
mod status;
mod target;
mod validate;

use std::io::{IsTerminal, Write};
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::catalog::Catalog;
use crate::diagnostic::TextRenderer;
use crate::error::Error;
use crate::exit::Exit;
use crate::validate::Validated;

pub use apply::ApplyCommand;
pub use catalog::{CatalogCommand, CatalogFormat};
pub use dcv::{DcvCommand, DcvFormat};
pub use expand::ExpandCommand;
pub use plan::PlanCommand;
pub use products::ProductsCommand;
pub use refresh::RefreshCommand;
pub use sandbox::SandboxCommand;
pub use schema::{SchemaCommand, SchemaName};
pub use shell::{CompletionsCommand, ManCommand};
pub use status::StatusCommand;
pub use target::Target;
pub use validate::ValidateCommand;

/// Place, renew and reissue NicSRS certificate orders from YAML manifests reviewed in Git.
#[derive(Debug, Parser)]
#[command(name = "nicsrs-batch", version, about, max_term_width = 100)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check manifests against the schemas and rules; report every problem at once.
    Validate(ValidateCommand),
    /// Print each order as the exact request it becomes, one JSON object per line (an order
    /// adopting a certificate: its first renewal).
    Expand(ExpandCommand),
    /// Show what apply would do for each order, held against the ledger.
    Plan(PlanCommand),
    /// Place every order of the manifests exactly once, recording each in the ledger.
    Apply(ApplyCommand),
    /// Read the account's products from /ssl/productList into a catalogue for --catalog.
    Products(ProductsCommand),
    /// Collect every certificate that is not final; record status and dates in the ledger.
    Refresh(RefreshCommand),
    /// Each key's state from the ledger (certificate, expiry, next action), with counts.
    Status(StatusCommand),
    /// What each name needs for the CA to validate it: the DNS record, the file, the approver.
    Dcv(DcvCommand),
    /// Print one of the embedded JSON Schemas.
    Schema(SchemaCommand),
    /// Print the built-in product catalogue (the format `--catalog` takes).
    Catalog(CatalogCommand),
    /// Run a NicSRS-compatible sandbox API on loopback, with optional faults.
    Sandbox(SandboxCommand),
    /// Print the shell completion script for SHELL (e.g. `nicsrs-batch completions bash >
    /// /etc/bash_completion.d/nicsrs-batch`).
    Completions(CompletionsCommand),
    /// Print the manual page (roff; `man -l -` reads it), or write one page per command.
    Man(ManCommand),
}

/// Parses the arguments and runs the command. Bad arguments exit 1, like any failure to run.
pub fn main() -> Exit {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                Exit::Failure
            } else {
                Exit::Ok
            };
        }
    };
    match run(cli) {
        Ok(exit) => exit,
        // Output piped into `head` that stopped reading: the end of the output, quietly.
        Err(Error::Output(e)) if e.kind() == std::io::ErrorKind::BrokenPipe => Exit::Failure,
        Err(e) => {
            eprintln!("error: {e}");
            Exit::Failure
        }
    }
}

/// Runs a parsed command.
pub fn run(cli: Cli) -> Result<Exit, Error> {
    match cli.command {
        Command::Validate(c) => c.run(),
        Command::Expand(c) => c.run(),
        Command::Plan(c) => c.run(),
        Command::Apply(c) => c.run(),
        Command::Products(c) => c.run(),
        Command::Refresh(c) => c.run(),
        Command::Status(c) => c.run(),
        Command::Dcv(c) => c.run(),
        Command::Schema(c) => c.run(),
        Command::Catalog(c) => c.run(),
        Command::Sandbox(c) => c.run(),
        Command::Completions(c) => c.run(),
        Command::Man(c) => c.run(),
    }
}

/// Where orders go and where they are recorded.
#[derive(Debug, Args)]
pub struct ApiArgs {
    /// Use a sandbox started in this process (no account, no network) and its own ledger.
    #[arg(long)]
    pub sandbox: bool,
    /// API base URL [env: NICSRS_ENDPOINT; default https://portal.nicsrs.com]; http:// only to loopback.
    #[arg(long, value_name = "URL")]
    pub endpoint: Option<String>,
    /// The ledger file [default: nicsrs-ledger.csv, or nicsrs-ledger.sandbox.csv for a sandbox].
    #[arg(long, value_name = "PATH")]
    pub ledger: Option<PathBuf>,
}

impl ApiArgs {
    fn target(&self) -> Result<Target, Error> {
        Target::resolve(
            self.sandbox,
            self.endpoint.as_deref(),
            self.ledger.as_deref(),
        )
    }
}

/// The token's file, for the commands that call the API.
#[derive(Debug, Args)]
pub struct TokenArgs {
    /// Read the API token from FILE instead of NICSRS_API_TOKEN.
    #[arg(long, value_name = "FILE")]
    pub token_file: Option<PathBuf>,
}

/// How many calls a command makes at once, and how fast.
#[derive(Debug, Args)]
pub struct WorkerArgs {
    /// Calls in flight at most.
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u16).range(1..=512))]
    pub concurrency: u16,
    /// Calls per second at most, shared by all workers (`5` or `5/s`).
    #[arg(long, value_name = "R/s", value_parser = flags::parse_per_second)]
    pub rate: Option<f64>,
}

/// Options shared by the commands that read manifests.
#[derive(Debug, Args)]
pub struct ManifestArgs {
    /// Product catalogue to use instead of the built-in one (JSON, the shape of /ssl/productList).
    #[arg(long, value_name = "FILE")]
    pub catalog: Option<PathBuf>,
    /// Accept inline private keys with a warning instead of an error.
    #[arg(long)]
    pub allow_inline_secrets: bool,
    /// When to colour diagnostics.
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto)]
    pub color: ColorChoice,
}

/// Output formats of `apply`, `status` and `refresh`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// For people, on stdout (warnings and errors on stderr).
    Text,
    /// One JSON object per line on stdout (JSON Lines: read it line by line, e.g. `jq -c .`;
    /// not one document).
    Json,
}

/// Output formats of `validate` and `plan`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum DocFormat {
    /// For people: diagnostics on stderr (`plan`: the plan on stdout).
    Text,
    /// One JSON document on stdout (`plan`: the diagnostics of invalid manifests stay on
    /// stderr).
    Json,
    /// GitHub Actions annotations on stdout (`::error file=…,line=…,col=…::`), one per
    /// diagnostic, so that each shows on its line of the pull request (`plan`: also a notice
    /// on each order with work and a warning on each changed one); then what text prints.
    Github,
}

/// Writes one GitHub Actions annotation per diagnostic to stdout.
fn annotate(outcome: &Validated) -> Result<(), Error> {
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    for d in &outcome.diagnostics {
        let j = crate::diagnostic::JsonDiagnostic::new(&outcome.sources, d);
        let level = if d.is_error() { "error" } else { "warning" };
        let mut message = j.message.to_owned();
        if let Some(order) = &j.order {
            message.push_str(&format!(" (order `{order}`)"));
        }
        if let Some(hint) = j.hint {
            message.push_str(&format!("\nhelp: {hint}"));
        }
        let at = crate::shown::At {
            file: j.file,
            line: j.line,
            col: j.column,
        };
        let line = crate::shown::github_annotation(level, at, j.code, &message);
        writeln!(out, "{line}").map_err(Error::Output)?;
    }
    out.flush().map_err(Error::Output)
}

/// Colour choice.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    /// Colour on a terminal, unless NO_COLOR is set.
    Auto,
    /// Always colour.
    Always,
    /// Never colour.
    Never,
}

impl ColorChoice {
    /// Whether to colour, on this terminal.
    pub fn enabled(self) -> bool {
        match self {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            ColorChoice::Auto => {
                std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none()
            }
        }
    }
}

/// The runtime the commands that call the API run on.
fn runtime() -> Result<tokio::runtime::Runtime, Error> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(Error::Runtime)
}

/// Manifests a command may take: `Ok(None)` without paths, `Err(())` when they are invalid
/// (the diagnostics are on stderr).
fn load_optional(
    paths: &[PathBuf],
    common: &ManifestArgs,
) -> Result<Result<Option<Validated>, ()>, Error> {
    if paths.is_empty() {
        return Ok(Ok(None));
    }
    Ok(load_valid(paths, common)?.map(Some).ok_or(()))
}

/// Validates for a command that acts on the orders: diagnostics go to stderr, and an
/// invalid run gives `None` (nothing may be sent).
fn load_valid(paths: &[PathBuf], common: &ManifestArgs) -> Result<Option<Validated>, Error> {
    load_valid_watching(paths, common, &|_| {})
}

/// [`load_valid`], showing `each` every order that passes the checks it needs no other
/// order for, as soon as it does (from the validation's threads).
fn load_valid_watching(
    paths: &[PathBuf],
    common: &ManifestArgs,
    each: &crate::validate::Watcher<'_>,
) -> Result<Option<Validated>, Error> {
    let outcome = load_watching(paths, common, each)?;
    if !outcome.diagnostics.is_empty() {
        report_text(&outcome, common.color.enabled());
    }
    Ok(outcome.is_valid().then_some(outcome))
}

/// Validates the manifests with the catalogue and options of `common`.
fn load(paths: &[PathBuf], common: &ManifestArgs) -> Result<Validated, Error> {
    load_watching(paths, common, &|_| {})
}

/// [`load`], showing `each` every order that passes its own checks.
fn load_watching(
    paths: &[PathBuf],
    common: &ManifestArgs,
    each: &crate::validate::Watcher<'_>,
) -> Result<Validated, Error> {
    let catalog = match &common.catalog {
        Some(path) => Catalog::from_file(path)?,
        None => Catalog::builtin(),
    };
    let options = crate::validate::Options {
        catalog,
        allow_inline_secrets: common.allow_inline_secrets,
    };
    crate::validate::validate_watching(paths, &options, each)
}

/// Writes diagnostics and a summary line to stderr.
pub fn report_text(outcome: &Validated, color: bool) {
    let renderer = TextRenderer::new(&outcome.sources, color).hiding(&outcome.secrets);
    let mut err = std::io::BufWriter::new(std::io::stderr().lock());
    for d in &outcome.diagnostics {
        let _ = err.write_all(renderer.render(d).as_bytes());
    }
    let errors = outcome.diagnostics.iter().filter(|d| d.is_error()).count();
    let warnings = outcome.diagnostics.len() - errors;
    let files = outcome.sources.len();
    let plural = |n: usize, w: &str| crate::shown::counted(n as u64, w);
    let summary = if errors > 0 {
        format!(
            "invalid: {}, {} in {} ({})",
            plural(errors, "error"),
            plural(warnings, "warning"),
            plural(files, "file"),
            plural(outcome.order_count, "order")
        )
    } else {
        format!(
            "valid: {} in {}{}",
            plural(outcome.order_count, "order"),
            plural(files, "file"),
            if warnings > 0 {
                format!(", {}", plural(warnings, "warning"))
            } else {
                String::new()
            }
        )
    };
    let _ = writeln!(err, "{summary}");
    let _ = err.flush();
}
