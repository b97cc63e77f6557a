//! `catalog`: the built-in product catalogue, as a table for people or as the JSON that
//! `--catalog` takes.

use std::io::Write;

use clap::{Args, ValueEnum};

use crate::catalog::Catalog;
use crate::error::Error;
use crate::exit::Exit;

/// Output formats of `catalog`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum CatalogFormat {
    /// A table for people: code, vendor, kind, validation, wildcards, several names, most
    /// names, most years, price of one year, name.
    Text,
    /// The catalogue as one JSON document (the format `--catalog` takes), exactly as built in.
    Json,
}

/// The arguments of `catalog`.
#[derive(Debug, Args)]
pub struct CatalogCommand {
    /// Output format.
    #[arg(long, value_enum, default_value_t = CatalogFormat::Text)]
    pub format: CatalogFormat,
}

impl CatalogCommand {
    /// Prints the catalogue.
    pub fn run(self) -> Result<Exit, Error> {
        let mut out = std::io::stdout().lock();
        match self.format {
            CatalogFormat::Json => out.write_all(crate::catalog::BUILTIN_JSON.as_bytes()),
            CatalogFormat::Text => out.write_all(table(&Catalog::builtin()).as_bytes()),
        }
        .map_err(Error::Output)?;
        Ok(Exit::Ok)
    }
}

/// One line per product, in the catalogue's order (the table `products` prints), then a count.
fn table(catalog: &Catalog) -> String {
    let products = catalog.products();
    let mut out = crate::products::table(products);
    out.push_str(&format!(
        "{} products. `--format json` gives the catalogue itself.\n",
        products.len()
    ));
    out
}
