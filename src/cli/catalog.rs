//! `catalog`: print the built-in product catalogue (the format `--catalog` takes).

use std::io::Write;

use clap::Args;

use crate::error::Error;
use crate::exit::Exit;

/// The arguments of `catalog` (none).
#[derive(Debug, Args)]
pub struct CatalogCommand {}

impl CatalogCommand {
    /// Prints the catalogue.
    pub fn run(self) -> Result<Exit, Error> {
        std::io::stdout()
            .lock()
            .write_all(crate::catalog::BUILTIN_JSON.as_bytes())
            .map_err(Error::Output)?;
        Ok(Exit::Ok)
    }
}
