//! `products`: the account's catalogue from `/ssl/productList`, for `--catalog`.

use std::path::{Path, PathBuf};

use clap::Args;

use super::target::{Target, connect, token_for};
use super::{ApiArgs, TokenArgs};
use crate::error::Error;
use crate::exit::Exit;
use crate::nicsrs::client::Timeouts;

/// The arguments of `products`.
#[derive(Debug, Args)]
pub struct ProductsCommand {
    /// Vendor as NicSRS spells it: Sectigo, Digicert, Thawte, Certum, sslTrus (repeatable).
    #[arg(long = "vendor", required = true, value_name = "VENDOR")]
    pub vendors: Vec<String>,
    /// Write the catalogue here (and show a table); without it the JSON goes to stdout.
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// The token.
    #[command(flatten)]
    pub token: TokenArgs,
    /// Where orders go: the API, the sandbox, the ledger.
    #[command(flatten)]
    pub api: ApiArgs,
}

impl ProductsCommand {
    /// Reads the catalogue and writes it.
    pub fn run(self) -> Result<Exit, Error> {
        let target = self.api.target()?;
        super::runtime()?.block_on(fetch(
            &target,
            self.token.token_file.as_deref(),
            &self.vendors,
            self.output.as_deref(),
        ))
    }
}

/// `products`: the account's catalogue from `/ssl/productList`.
async fn fetch(
    target: &Target,
    token_file: Option<&Path>,
    vendors: &[String],
    output: Option<&Path>,
) -> Result<Exit, Error> {
    let token = token_for(target, token_file)?;
    let (client, embedded) = connect(target, token, Timeouts::default()).await?;
    let fetched = crate::products::fetch(&client, vendors).await;
    if let Some(s) = embedded {
        s.stop().await?;
    }
    let products = fetched.map_err(|e| Error::Usage(e.to_string()))?;
    let json = serde_json::to_string_pretty(&products).map_err(|e| Error::Usage(e.to_string()))?;
    match output {
        Some(path) => {
            crate::atomic::write(path, format!("{json}\n").as_bytes(), 0o644).map_err(
                |source| Error::Read {
                    path: path.to_owned(),
                    source,
                },
            )?;
            print!("{}", crate::products::table(&products));
            println!(
                "{} products written to {} (use it with --catalog)",
                products.len(),
                path.display()
            );
        }
        None => println!("{json}"),
    }
    Ok(Exit::Ok)
}
