//! The command line: arguments, and each command wired to the library.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::catalog::Catalog;
use crate::diagnostic::{JsonDiagnostic, TextRenderer};
use crate::duration::parse_duration;
use crate::error::Error;
use crate::exit::Exit;
use crate::sandbox::faults::{Faults, Latency, parse_rate};
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
        /// The options of every command that reads manifests.
        #[command(flatten)]
        common: ManifestArgs,
    },
    /// Print each order as the exact request it becomes, one JSON object per line (an order
    /// adopting a certificate: its first renewal).
    Expand {
        /// Manifest files, or directories searched for *.yaml and *.yml.
        #[arg(required = true, value_name = "FILE|DIR")]
        paths: Vec<PathBuf>,
        /// Print private keys instead of `<redacted>`.
        #[arg(long)]
        show_private_keys: bool,
        /// The options of every command that reads manifests.
        #[command(flatten)]
        common: ManifestArgs,
    },
    /// Show what apply would do for each order, held against the ledger.
    Plan {
        /// Manifest files, or directories searched for *.yaml and *.yml.
        #[arg(required = true, value_name = "FILE|DIR")]
        paths: Vec<PathBuf>,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
        /// Exit 4 when there is work to do, 0 when there is none.
        #[arg(long)]
        detailed_exitcode: bool,
        /// Collect the status of every certificate that is not final first (like `refresh`).
        #[arg(long)]
        refresh: bool,
        /// Read the API token from FILE instead of NICSRS_API_TOKEN (for --refresh).
        #[arg(long, value_name = "FILE")]
        token_file: Option<PathBuf>,
        /// Where orders go: the API, the sandbox, the ledger.
        #[command(flatten)]
        api: ApiArgs,
        /// The options of every command that reads manifests.
        #[command(flatten)]
        common: ManifestArgs,
    },
    /// Place every order of the manifests exactly once, recording each in the ledger.
    Apply {
        /// Manifest files, or directories searched for *.yaml and *.yml.
        #[arg(required = true, value_name = "FILE|DIR")]
        paths: Vec<PathBuf>,
        /// Go on without asking (required when standard input is not a terminal).
        #[arg(long)]
        yes: bool,
        /// Collect the status of every certificate that is not final first (like `refresh`).
        #[arg(long)]
        refresh: bool,
        /// Calls in flight at most.
        #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u16).range(1..=512))]
        concurrency: u16,
        /// Calls per second at most, shared by all workers (`5` or `5/s`).
        #[arg(long, value_name = "R/s", value_parser = parse_per_second)]
        rate: Option<f64>,
        /// Refuse a run that would place, renew, reissue or replace more than N orders.
        #[arg(long, value_name = "N")]
        max_orders: Option<usize>,
        /// Send new orders without first asking the API whether their refId was already
        /// placed. Saves one call per order; use it only when the ledger is known to be
        /// complete (a run that lost ledger rows would then buy them again).
        #[arg(long)]
        trust_ledger: bool,
        /// Output format: text, or one JSON object per outcome and a summary.
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
        /// Read the API token from FILE instead of NICSRS_API_TOKEN.
        #[arg(long, value_name = "FILE")]
        token_file: Option<PathBuf>,
        /// Time allowed to connect.
        #[arg(long, default_value = "10s", value_parser = parse_connect_timeout)]
        connect_timeout: std::time::Duration,
        /// Time allowed for a whole request, reply included (1s to 30m).
        #[arg(long, default_value = "60s", value_parser = parse_request_timeout)]
        request_timeout: std::time::Duration,
        /// Wait before asking the API about an unknown outcome.
        #[arg(long, default_value = "1s", value_parser = parse_reconcile_delay, hide = true)]
        reconcile_delay: std::time::Duration,
        /// Where orders go: the API, the sandbox, the ledger.
        #[command(flatten)]
        api: ApiArgs,
        /// The options of every command that reads manifests.
        #[command(flatten)]
        common: ManifestArgs,
    },
    /// Read the account's products from /ssl/productList into a catalogue for --catalog.
    Products {
        /// Vendor as NicSRS spells it: Sectigo, Digicert, Thawte, Certum, sslTrus (repeatable).
        #[arg(long = "vendor", required = true, value_name = "VENDOR")]
        vendors: Vec<String>,
        /// Write the catalogue here (and show a table); without it the JSON goes to stdout.
        #[arg(short, long, value_name = "FILE")]
        output: Option<PathBuf>,
        /// Read the API token from FILE instead of NICSRS_API_TOKEN.
        #[arg(long, value_name = "FILE")]
        token_file: Option<PathBuf>,
        /// Where orders go: the API, the sandbox, the ledger.
        #[command(flatten)]
        api: ApiArgs,
    },
    /// Collect every certificate that is not final; record status and dates in the ledger.
    Refresh {
        /// Manifests whose `renewalOf` certificates are adopted (collected for the first time).
        #[arg(value_name = "FILE|DIR")]
        paths: Vec<PathBuf>,
        /// Write each issued certificate to DIR/KEY/: cert.pem, chain.pem, fullchain.pem and
        /// (mode 0600) privkey.pem where NicSRS generated the key.
        #[arg(long, value_name = "DIR")]
        out_dir: Option<PathBuf>,
        /// Calls in flight at most.
        #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u16).range(1..=512))]
        concurrency: u16,
        /// Calls per second at most, shared by all workers (`5` or `5/s`).
        #[arg(long, value_name = "R/s", value_parser = parse_per_second)]
        rate: Option<f64>,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
        /// Read the API token from FILE instead of NICSRS_API_TOKEN.
        #[arg(long, value_name = "FILE")]
        token_file: Option<PathBuf>,
        /// Where orders go: the API, the sandbox, the ledger.
        #[command(flatten)]
        api: ApiArgs,
        /// The options of every command that reads manifests.
        #[command(flatten)]
        common: ManifestArgs,
    },
    /// Each key's state from the ledger (certificate, expiry, next action), with counts.
    Status {
        /// Manifests: the next action is then the plan's (with their renewBefore).
        #[arg(value_name = "FILE|DIR")]
        paths: Vec<PathBuf>,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
        /// Only certificates that expire within this long (`30d`), per the last refresh.
        #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
        expiring: Option<std::time::Duration>,
        /// Where orders go: the API, the sandbox, the ledger.
        #[command(flatten)]
        api: ApiArgs,
        /// The options of every command that reads manifests.
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
    /// Run a NicSRS-compatible sandbox API on loopback, with optional faults.
    Sandbox(SandboxArgs),
}

/// Options of `sandbox`.
#[derive(Debug, Args)]
pub struct SandboxArgs {
    /// Address to listen on; port 0 picks a free one (printed on the first line). Only a
    /// loopback address, unless --allow-remote is given.
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub listen: std::net::SocketAddr,
    /// Allow a non-loopback --listen address: anyone who can reach it can use the sandbox,
    /// over plain HTTP.
    #[arg(long)]
    pub allow_remote: bool,
    /// The `api_token` the sandbox accepts (a sandbox token, never a real one).
    #[arg(long, default_value = crate::sandbox::DEFAULT_TOKEN)]
    pub token: String,
    /// Delay before each answer: `50ms`, or a range `20ms..200ms`.
    #[arg(long, value_parser = clap::value_parser!(Latency))]
    pub latency: Option<Latency>,
    /// Probability of HTTP 500 before anything is stored.
    #[arg(long, default_value = "0", value_parser = parse_rate)]
    pub fail_rate: f64,
    /// Probability that an order is stored and the connection then closed without a reply.
    #[arg(long, default_value = "0", value_parser = parse_rate)]
    pub drop_rate: f64,
    /// Probability that an order is stored and the reply never sent.
    #[arg(long, default_value = "0", value_parser = parse_rate)]
    pub timeout_rate: f64,
    /// Probability of HTTP 429 with Retry-After.
    #[arg(long, default_value = "0", value_parser = parse_rate)]
    pub throttle_rate: f64,
    /// Probability that an order is stored and code -2 (unknown error) answered.
    #[arg(long, default_value = "0", value_parser = parse_rate)]
    pub unknown_rate: f64,
    /// Paid orders accepted before code -4 (insufficient credit).
    #[arg(long, value_name = "N")]
    pub credit: Option<u64>,
    /// Once the credit has run out, answer -2 (unknown error) instead of -4, storing nothing.
    #[arg(long, requires = "credit")]
    pub out_of_credit_unknown: bool,
    /// Store every paid call's order and never answer it (to try a crash mid-call).
    #[arg(long)]
    pub hold_paid: bool,
    /// Seed of the fault generator: the same seed repeats the same faults.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Time from order to issued certificate (collect says PENDING until then).
    #[arg(long, default_value = "0", value_parser = parse_duration)]
    pub issue_after: std::time::Duration,
    /// Orders placed now count as placed this long ago (`15d`): their first certificate is
    /// that old, to try a renewal or reissue wave without waiting.
    #[arg(long, default_value = "0", value_parser = parse_duration)]
    pub placed_age: std::time::Duration,
    /// Validity of issued certificates, in days.
    #[arg(long, default_value_t = 200)]
    pub validity_days: u32,
    /// Keep orders in this file (written atomically) so that a restart keeps them.
    #[arg(long, value_name = "FILE")]
    pub state: Option<PathBuf>,
    /// Product catalogue to sell instead of the built-in one.
    #[arg(long, value_name = "FILE")]
    pub catalog: Option<PathBuf>,
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
    fn target(&self) -> Result<crate::commands::Target, Error> {
        crate::commands::Target::resolve(
            self.sandbox,
            self.endpoint.as_deref(),
            self.ledger.as_deref(),
        )
    }
}

fn parse_per_second(s: &str) -> Result<f64, String> {
    let n = s.trim().trim_end_matches("/s");
    match n.parse::<f64>() {
        Ok(r) if (0.01..=10_000.0).contains(&r) => Ok(r),
        Ok(r) if r.is_finite() => Err(format!("`{s}`: a rate must be between 0.01/s and 10000/s")),
        _ => Err(format!("`{s}` is not a rate like 5/s")),
    }
}

/// A duration between `min` and `max`: zero or absurd values are refused (a zero timeout
/// makes every paid call's outcome unknown).
fn bounded_duration(
    s: &str,
    min: std::time::Duration,
    max: std::time::Duration,
) -> Result<std::time::Duration, String> {
    let d = parse_duration(s)?;
    if d < min || d > max {
        return Err(format!(
            "`{s}` is out of bounds: give between {} and {}",
            humane(min),
            humane(max)
        ));
    }
    Ok(d)
}

fn humane(d: std::time::Duration) -> String {
    let ms = d.as_millis();
    match ms {
        ms if ms % 60_000 == 0 => format!("{}m", ms / 60_000),
        ms if ms % 1000 == 0 => format!("{}s", ms / 1000),
        ms => format!("{ms}ms"),
    }
}

fn parse_connect_timeout(s: &str) -> Result<std::time::Duration, String> {
    use std::time::Duration;
    bounded_duration(s, Duration::from_millis(100), Duration::from_secs(300))
}

fn parse_request_timeout(s: &str) -> Result<std::time::Duration, String> {
    use std::time::Duration;
    bounded_duration(s, Duration::from_secs(1), Duration::from_secs(1800))
}

fn parse_reconcile_delay(s: &str) -> Result<std::time::Duration, String> {
    use std::time::Duration;
    bounded_duration(s, Duration::ZERO, Duration::from_secs(600))
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

/// Output formats (`validate` and `plan`: one JSON document; `apply`, `status` and
/// `refresh`: one JSON object per line).
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// For people: diagnostics on stderr, plans and reports on stdout.
    Text,
    /// For scripts, on stdout: one document (validate, plan) or one object per line
    /// (apply, status, refresh).
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
                    writeln!(std::io::stdout().lock(), "{doc:#}").map_err(Error::Output)?;
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
            let mut out = std::io::BufWriter::new(std::io::stdout().lock());
            for order in &outcome.orders {
                let (endpoint, form) = order.first_request(!show_private_keys);
                let line = serde_json::json!({
                    "key": order.key,
                    "endpoint": endpoint,
                    "form": form,
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
            std::io::stdout()
                .lock()
                .write_all(text.as_bytes())
                .map_err(Error::Output)?;
            Ok(Exit::Ok)
        }
        Command::Sandbox(args) => run_sandbox(args),
        Command::Plan {
            paths,
            format,
            detailed_exitcode,
            refresh,
            token_file,
            api,
            common,
        } => {
            let target = api.target()?;
            let Some(outcome) = load_valid(&paths, &common)? else {
                return Ok(Exit::Invalid);
            };
            if refresh {
                refresh_first(&target, &outcome, token_file.as_deref(), 8, None)?;
            }
            crate::commands::plan(&outcome, &target, format == Format::Json, detailed_exitcode)
        }
        Command::Apply {
            paths,
            yes,
            refresh,
            concurrency,
            rate,
            max_orders,
            trust_ledger,
            format,
            token_file,
            connect_timeout,
            request_timeout,
            reconcile_delay,
            api,
            common,
        } => {
            let target = api.target()?;
            let Some(outcome) = load_valid(&paths, &common)? else {
                return Ok(Exit::Invalid);
            };
            let args = crate::commands::ApplyArgs {
                target,
                token_file,
                concurrency: usize::from(concurrency),
                rate,
                max_orders,
                yes,
                json: format == Format::Json,
                timeouts: crate::client::Timeouts {
                    connect: connect_timeout,
                    request: request_timeout,
                },
                reconcile_delay,
                trust_ledger,
            };
            if refresh {
                refresh_first(
                    &args.target,
                    &outcome,
                    args.token_file.as_deref(),
                    args.concurrency,
                    args.rate,
                )?;
            }
            runtime()?.block_on(crate::commands::apply(&outcome, args))
        }
        Command::Products {
            vendors,
            output,
            token_file,
            api,
        } => {
            let target = api.target()?;
            runtime()?.block_on(crate::commands::products(
                &target,
                token_file.as_deref(),
                &vendors,
                output.as_deref(),
            ))
        }
        Command::Refresh {
            paths,
            out_dir,
            concurrency,
            rate,
            format,
            token_file,
            api,
            common,
        } => {
            let target = api.target()?;
            let Ok(manifests) = load_optional(&paths, &common)? else {
                return Ok(Exit::Invalid);
            };
            runtime()?.block_on(crate::commands::refresh(
                &target,
                manifests.as_ref(),
                crate::commands::RefreshArgs {
                    token_file: token_file.as_deref(),
                    out_dir: out_dir.as_deref(),
                    concurrency: usize::from(concurrency),
                    rate,
                    json: format == Format::Json,
                    to_stderr: false,
                },
            ))
        }
        Command::Status {
            paths,
            format,
            expiring,
            api,
            common,
        } => {
            let target = api.target()?;
            let Ok(manifests) = load_optional(&paths, &common)? else {
                return Ok(Exit::Invalid);
            };
            crate::commands::status(
                &target,
                manifests.as_ref(),
                format == Format::Json,
                expiring,
            )
        }
        Command::Catalog => {
            std::io::stdout()
                .lock()
                .write_all(crate::catalog::BUILTIN_JSON.as_bytes())
                .map_err(Error::Output)?;
            Ok(Exit::Ok)
        }
    }
}

/// `--refresh` of `plan` and `apply`: collect what is not final first, reporting on stderr.
/// A certificate that could not be collected is reported and does not stop the command.
fn refresh_first(
    target: &crate::commands::Target,
    manifests: &Outcome,
    token_file: Option<&std::path::Path>,
    concurrency: usize,
    rate: Option<f64>,
) -> Result<(), Error> {
    let exit = runtime()?.block_on(crate::commands::refresh(
        target,
        Some(manifests),
        crate::commands::RefreshArgs {
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

fn runtime() -> Result<tokio::runtime::Runtime, Error> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(Error::Runtime)
}

/// Runs the sandbox until Ctrl-C; the first line on stdout says where it listens.
fn run_sandbox(args: SandboxArgs) -> Result<Exit, Error> {
    if !args.listen.ip().is_loopback() && !args.allow_remote {
        return Err(Error::Usage(format!(
            "--listen {}: the sandbox listens on loopback only (127.0.0.1, ::1); add --allow-remote to serve other hosts over plain HTTP",
            args.listen
        )));
    }
    let catalog = match &args.catalog {
        Some(path) => Catalog::from_file(path)?,
        None => Catalog::builtin(),
    };
    let config = crate::sandbox::Config {
        token: args.token,
        faults: Faults {
            latency: args.latency,
            fail_rate: args.fail_rate,
            drop_rate: args.drop_rate,
            timeout_rate: args.timeout_rate,
            throttle_rate: args.throttle_rate,
            unknown_rate: args.unknown_rate,
            credit: args.credit,
            out_of_credit_unknown: args.out_of_credit_unknown,
            hold_paid: args.hold_paid,
        },
        seed: args.seed,
        issue_after: args.issue_after,
        placed_age: args.placed_age,
        validity_days: args.validity_days,
        state: args.state,
        catalog,
    };
    runtime()?.block_on(async {
        let sandbox = crate::sandbox::Sandbox::start(config, args.listen).await?;
        let mut out = std::io::stdout().lock();
        writeln!(out, "listening on {}", sandbox.url()).map_err(Error::Output)?;
        out.flush().map_err(Error::Output)?;
        drop(out);
        eprintln!(
            "sandbox: token `{}`; GET {}/sandbox/stats for counts; Ctrl-C stops",
            sandbox.token(),
            sandbox.url()
        );
        let _ = tokio::signal::ctrl_c().await;
        sandbox.stop().await?;
        Ok(Exit::Ok)
    })
}

/// Manifests a command may take: `Ok(None)` without paths, `Err(())` when they are invalid
/// (the diagnostics are on stderr).
fn load_optional(
    paths: &[PathBuf],
    common: &ManifestArgs,
) -> Result<Result<Option<Outcome>, ()>, Error> {
    if paths.is_empty() {
        return Ok(Ok(None));
    }
    Ok(load_valid(paths, common)?.map(Some).ok_or(()))
}

/// Validates for a command that acts on the orders: diagnostics go to stderr, and an
/// invalid run gives `None` (nothing may be sent).
fn load_valid(paths: &[PathBuf], common: &ManifestArgs) -> Result<Option<Outcome>, Error> {
    let outcome = load(paths, common)?;
    if !outcome.diagnostics.is_empty() {
        report_text(&outcome, common.color.enabled());
    }
    Ok(outcome.is_valid().then_some(outcome))
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
