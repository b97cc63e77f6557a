//! `plan`: what `apply` would do for each order, held against the ledger.

use std::io::Write;
use std::path::PathBuf;

use clap::Args;

use super::target::Target;
use super::{ApiArgs, DocFormat, ManifestArgs, TokenArgs};
use crate::error::Error;
use crate::exit::Exit;
use crate::plan;
use crate::validate::Validated;

/// The arguments of `plan`.
#[derive(Debug, Args)]
pub struct PlanCommand {
    /// Manifest files, or directories searched for *.yaml and *.yml.
    #[arg(required = true, value_name = "FILE|DIR")]
    pub paths: Vec<PathBuf>,
    /// Output format (json: one document).
    #[arg(long, value_enum, default_value_t = DocFormat::Text)]
    pub format: DocFormat,
    /// Also save the plan to PLAN (JSON), for `nicsrs-batch apply PLAN` to carry out
    /// exactly, refusing if a manifest, the catalogue or the ledger changed since.
    #[arg(long, value_name = "PLAN")]
    pub out: Option<PathBuf>,
    /// List the orders with nothing to do too (text; they are counted otherwise).
    #[arg(long)]
    pub show_unchanged: bool,
    /// Exit 4 when there is work to do, 0 when there is none.
    #[arg(long)]
    pub detailed_exitcode: bool,
    /// Collect the status of every certificate that is not final first (like `refresh`).
    #[arg(long)]
    pub refresh: bool,
    /// The token, for --refresh.
    #[command(flatten)]
    pub token: TokenArgs,
    /// Where orders go: the API, the sandbox, the ledger.
    #[command(flatten)]
    pub api: ApiArgs,
    /// The options of every command that reads manifests.
    #[command(flatten)]
    pub common: ManifestArgs,
}

impl PlanCommand {
    /// Shows the plan; exit 2 for invalid manifests, 4 for work with --detailed-exitcode.
    pub fn run(self) -> Result<Exit, Error> {
        let target = self.api.target()?;
        if let Some(out) = &self.out {
            check_out(out)?;
        }
        let outcome = super::load(&self.paths, &self.common)?;
        if self.format == DocFormat::Github {
            super::annotate(&outcome)?;
        }
        if !outcome.diagnostics.is_empty() {
            super::report_text(&outcome, self.common.color.enabled());
        }
        if !outcome.is_valid() {
            return Ok(Exit::Invalid);
        }
        if self.refresh {
            super::refresh::refresh_first(
                &target,
                &outcome,
                self.token.token_file.as_deref(),
                8,
                None,
            )?;
        }
        let catalog = match &self.common.catalog {
            Some(path) => crate::catalog::Catalog::from_file(path)?,
            None => crate::catalog::Catalog::builtin(),
        };
        show(&outcome, &target, &catalog, &self)
    }
}

/// `plan`: what apply would do. With `--detailed-exitcode`, exit 4 when there is work.
fn show(
    outcome: &Validated,
    target: &Target,
    catalog: &crate::catalog::Catalog,
    args: &PlanCommand,
) -> Result<Exit, Error> {
    // Only the manifests' keys are decided: the rest of a large ledger is never built.
    let contents = super::target::ledger_of(target, &outcome.orders)?;
    let mut plan = plan::make(&outcome.orders, &contents);
    // What each new order's names will need, listed under it.
    plan::with_dcv(&mut plan, catalog);
    let mut out = std::io::stdout().lock();
    match args.format {
        DocFormat::Json => writeln!(out, "{:#}", plan::to_json(&plan)).map_err(Error::Output)?,
        DocFormat::Github => {
            for line in plan::annotations(&plan, &outcome.sources) {
                writeln!(out, "{line}").map_err(Error::Output)?;
            }
            let text = plan::render(&plan, &outcome.sources, args.show_unchanged);
            write!(out, "{text}").map_err(Error::Output)?;
        }
        DocFormat::Text => {
            let text = plan::render(&plan, &outcome.sources, args.show_unchanged);
            write!(out, "{text}").map_err(Error::Output)?;
        }
    }
    if let Some(path) = &args.out {
        let origin = plan::saved::Origin {
            api: target.api,
            endpoint: target.endpoint.as_deref(),
            ledger: &target.ledger,
            paths: &args.paths,
            catalog: args.common.catalog.as_deref(),
        };
        plan::saved::Saved::new(&plan, &outcome.sources, &origin)?.write(path)?;
        eprintln!(
            "Saved the plan to {}: `nicsrs-batch apply {}` (with the same --sandbox, --endpoint, --ledger and --catalog) carries out exactly this, and refuses if a manifest, the catalogue or the ledger changes first.",
            crate::shown::bounded(&path.display().to_string(), 300),
            crate::shown::bounded(&path.display().to_string(), 300)
        );
    }
    Ok(if args.detailed_exitcode && plan.has_work() {
        Exit::Pending
    } else {
        Exit::Ok
    })
}

/// `--out PLAN` never replaces a manifest or any file that is not a saved plan, and is not
/// named as a manifest (a directory's next `plan` would read it).
fn check_out(out: &std::path::Path) -> Result<(), Error> {
    let shown = crate::shown::bounded(&out.display().to_string(), 300);
    let named_yaml = out
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("yaml") || e.eq_ignore_ascii_case("yml"));
    if named_yaml {
        return Err(Error::Usage(format!(
            "--out {shown}: a saved plan is JSON, not a manifest; name it e.g. `renewals.plan`"
        )));
    }
    if out.symlink_metadata().is_ok() && plan::saved::Saved::read_if_plan(out)?.is_none() {
        return Err(Error::Usage(format!(
            "--out {shown}: the file exists and is not a saved plan; it is not replaced"
        )));
    }
    Ok(())
}
