//! `catalog`: the built-in product catalogue, as a table for people or as the JSON that
//! `--catalog` takes.

use std::io::Write;

use clap::{Args, ValueEnum};

use crate::catalog::{Catalog, Kind, ValidationType};
use crate::error::Error;
use crate::exit::Exit;

/// Output formats of `catalog`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum CatalogFormat {
    /// A table for people: code, kind, validation, names, years, price of one year.
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

/// One line per product, sorted as the catalogue lists them.
fn table(catalog: &Catalog) -> String {
    let products = catalog.products();
    let width = products
        .iter()
        .map(|p| p.code.len())
        .max()
        .unwrap_or(4)
        .max(4);
    let mut out = format!(
        "{:<width$}  {:<8}  {:<4}  {:<8}  {:>5}  {:>5}  {:>8}  {}\n",
        "code", "kind", "type", "vendor", "names", "years", "1y price", "name"
    );
    for p in products {
        let kind = match p.kind {
            Kind::Ssl => "ssl",
            Kind::Codesign => "codesign",
            Kind::Smime => "smime",
        };
        let validation = match p.validation_type {
            ValidationType::Dv => "DV",
            ValidationType::Ov => "OV",
            ValidationType::Ev => "EV",
        };
        let mut names = p.max_domain.to_string();
        if p.support_wildcard {
            names.push('*');
        }
        let price = p
            .price(1)
            .map_or_else(|| "-".to_owned(), |v| format!("{v:.2}"));
        let mut name = p.product_name.clone();
        if p.unconfirmed {
            name.push_str(" (unconfirmed)");
        }
        out.push_str(&format!(
            "{:<width$}  {kind:<8}  {validation:<4}  {:<8}  {names:>5}  {:>5}  {price:>8}  {name}\n",
            p.code,
            crate::shown::bounded(&p.vendor, 8),
            p.max_year,
        ));
    }
    out.push_str(&format!(
        "{} products; names: most per order (* wildcards allowed). `--format json` gives the catalogue itself.\n",
        products.len()
    ));
    out
}
