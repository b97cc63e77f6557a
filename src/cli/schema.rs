//! `schema`: print one of the embedded JSON Schemas.

use std::io::Write;

use clap::{Args, ValueEnum};

use crate::error::Error;
use crate::exit::Exit;
use crate::schema::{MANIFEST_SCHEMA, ORDER_SCHEMA};

/// The arguments of `schema`.
#[derive(Debug, Args)]
pub struct SchemaCommand {
    /// `manifest` (the file as written) or `order` (one expanded order).
    #[arg(value_enum, default_value_t = SchemaName::Manifest)]
    pub which: SchemaName,
}

/// The embedded schemas.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum SchemaName {
    /// order-manifest.schema.json
    Manifest,
    /// order.schema.json
    Order,
}

impl SchemaCommand {
    /// Prints the schema.
    pub fn run(self) -> Result<Exit, Error> {
        let text = match self.which {
            SchemaName::Manifest => MANIFEST_SCHEMA,
            SchemaName::Order => ORDER_SCHEMA,
        };
        std::io::stdout()
            .lock()
            .write_all(text.as_bytes())
            .map_err(Error::Output)?;
        Ok(Exit::Ok)
    }
}
