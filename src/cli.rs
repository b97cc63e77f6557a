//! The command line: arguments, and each command wired to the library.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::catalog::Catalog;
use crate::diagnostic::{JsonDiagnostic, TextRenderer};
use crate::error::Error;
use crate::exit::Exit;
use crate::schema::{MANIFEST_SCHEMA, ORDER_SCHEMA};
use crate::validate::{self, Outcome};

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
    Validate {
        /// Manifest files, or directories searched for *.yaml and *.yml.
        #[arg(required = true, value_name = "FILE|DIR")]
        paths: Vec<PathBuf>,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
        #[command(flatten)]
        common: ManifestArgs,
    },
    /// Print each order as the exact request it becomes, one JSON object per line.
    Expand {
        /// Manifest files, or directories searched for *.yaml and *.yml.
        #[arg(required = true, value_name = "FILE|DIR")]
        paths: Vec<PathBuf>,
        /// Print private keys instead of `<redacted>`.
        #[arg(long)]
        show_private_keys: bool,
        #[command(flatten)]
        common: ManifestArgs,
    },
    /// Print one of the embedded JSON Schemas.
    Schema {
        /// `manifest` (the file as written) or `order` (one expanded order).
        #[arg(value_enum, default_value_t = SchemaName::Manifest)]
        which: SchemaName,
    },
    /// Print the built-in product catalogue (the format `--catalog` takes).
    Catalog,
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

/// Output formats of `validate`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// rustc-style diagnostics on stderr.
    Text,
    /// One JSON document on stdout.
    Json,
}

/// The embedded schemas.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum SchemaName {
    /// order-manifest.schema.json
    Manifest,
    /// order.schema.json
    Order,
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
    fn enabled(self) -> bool {
        match self {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            ColorChoice::Auto => {
                std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none()
            }
        }
    }
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
        Err(e) => {
            eprintln!("error: {e}");
            Exit::Failure
        }
    }
}

/// Runs a parsed command.
pub fn run(cli: Cli) -> Result<Exit, Error> {
    let mut stdout = std::io::stdout().lock();
    match cli.command {
        Command::Validate {
            paths,
            format,
            common,
        } => {
            let outcome = load(&paths, &common)?;
            match format {
                Format::Text => report_text(&outcome, common.color.enabled()),
                Format::Json => {
                    let doc = serde_json::json!({
                        "valid": outcome.is_valid(),
                        "orders": outcome.order_count,
                        "diagnostics": outcome
                            .diagnostics
                            .iter()
                            .map(|d| JsonDiagnostic::new(&outcome.sources, d))
                            .collect::<Vec<_>>(),
                    });
                    writeln!(stdout, "{doc:#}").map_err(Error::Output)?;
                }
            }
            Ok(if outcome.is_valid() {
                Exit::Ok
            } else {
                Exit::Invalid
            })
        }
        Command::Expand {
            paths,
            show_private_keys,
            common,
        } => {
            let outcome = load(&paths, &common)?;
            if !outcome.is_valid() {
                report_text(&outcome, common.color.enabled());
                return Ok(Exit::Invalid);
            }
            if !outcome.diagnostics.is_empty() {
                report_text(&outcome, common.color.enabled());
            }
            let mut out = std::io::BufWriter::new(stdout);
            for order in &outcome.orders {
                let line = serde_json::json!({
                    "key": order.key,
                    "endpoint": "place",
                    "form": order.form(!show_private_keys),
                });
                writeln!(out, "{line}").map_err(Error::Output)?;
            }
            out.flush().map_err(Error::Output)?;
            Ok(Exit::Ok)
        }
        Command::Schema { which } => {
            let text = match which {
                SchemaName::Manifest => MANIFEST_SCHEMA,
                SchemaName::Order => ORDER_SCHEMA,
            };
            stdout.write_all(text.as_bytes()).map_err(Error::Output)?;
            Ok(Exit::Ok)
        }
        Command::Catalog => {
            stdout
                .write_all(crate::catalog::BUILTIN_JSON.as_bytes())
                .map_err(Error::Output)?;
            Ok(Exit::Ok)
        }
    }
}

fn load(paths: &[PathBuf], common: &ManifestArgs) -> Result<Outcome, Error> {
    let catalog = match &common.catalog {
        Some(path) => Catalog::from_file(path)?,
        None => Catalog::builtin(),
    };
    let options = validate::Options {
        catalog,
        allow_inline_secrets: common.allow_inline_secrets,
    };
    validate::validate(paths, &options)
}

/// Writes diagnostics and a summary line to stderr.
pub fn report_text(outcome: &Outcome, color: bool) {
    let renderer = TextRenderer::new(&outcome.sources, color).hiding(&outcome.secrets);
    let mut err = std::io::BufWriter::new(std::io::stderr().lock());
    for d in &outcome.diagnostics {
        let _ = err.write_all(renderer.render(d).as_bytes());
    }
    let errors = outcome.diagnostics.iter().filter(|d| d.is_error()).count();
    let warnings = outcome.diagnostics.len() - errors;
    let files = outcome.sources.len();
    let plural = |n: usize, w: &str| format!("{n} {w}{}", if n == 1 { "" } else { "s" });
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
