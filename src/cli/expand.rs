//! `expand`: each order as the exact request it becomes, one JSON object per line.

use std::io::Write;
use std::path::PathBuf;

use clap::Args;

use super::ManifestArgs;
use crate::error::Error;
use crate::exit::Exit;

/// The arguments of `expand`.
#[derive(Debug, Args)]
pub struct ExpandCommand {
    /// Manifest files, or directories searched for *.yaml and *.yml.
    #[arg(required = true, value_name = "FILE|DIR")]
    pub paths: Vec<PathBuf>,
    /// Print private keys instead of `<redacted>`.
    #[arg(long)]
    pub show_private_keys: bool,
    /// The options of every command that reads manifests.
    #[command(flatten)]
    pub common: ManifestArgs,
}

impl ExpandCommand {
    /// Prints the requests of valid manifests; exit 2 for invalid ones.
    pub fn run(self) -> Result<Exit, Error> {
        let outcome = super::load(&self.paths, &self.common)?;
        if !outcome.is_valid() {
            super::report_text(&outcome, self.common.color.enabled());
            return Ok(Exit::Invalid);
        }
        if !outcome.diagnostics.is_empty() {
            super::report_text(&outcome, self.common.color.enabled());
        }
        let mut out = std::io::BufWriter::new(std::io::stdout().lock());
        for order in &outcome.orders {
            let (endpoint, form) = order.first_request(!self.show_private_keys);
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
}
