//! `plan`: what `apply` would do for each order, held against the ledger.

use std::io::Write;
use std::path::PathBuf;

use clap::Args;

use super::target::Target;
use super::{ApiArgs, Format, ManifestArgs, TokenArgs};
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
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
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
        let Some(outcome) = super::load_valid(&self.paths, &self.common)? else {
            return Ok(Exit::Invalid);
        };
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
        show(
            &outcome,
            &target,
            &catalog,
            self.format == Format::Json,
            self.detailed_exitcode,
        )
    }
}

/// `plan`: what apply would do. With `detailed`, exit 4 when there is work.
fn show(
    outcome: &Validated,
    target: &Target,
    catalog: &crate::catalog::Catalog,
    json: bool,
    detailed: bool,
) -> Result<Exit, Error> {
    // Only the manifests' keys are decided: the rest of a large ledger is never built.
    let contents = super::target::ledger_of(target, &outcome.orders)?;
    let mut plan = plan::make(&outcome.orders, &contents);
    // What each new order's names will need, listed under it.
    plan::with_dcv(&mut plan, catalog);
    let mut out = std::io::stdout().lock();
    if json {
        writeln!(out, "{:#}", plan::to_json(&plan)).map_err(Error::Output)?;
    } else {
        write!(out, "{}", plan::render(&plan, &outcome.sources)).map_err(Error::Output)?;
    }
    Ok(if detailed && plan.has_work() {
        Exit::Pending
    } else {
        Exit::Ok
    })
}
