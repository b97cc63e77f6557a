//! `completions SHELL` and `man`: what a packager installs beside the binary.

use std::path::PathBuf;

use clap::{Args, CommandFactory};

use super::Cli;
use crate::error::Error;
use crate::exit::Exit;

/// The arguments of `completions`.
#[derive(Debug, Args)]
pub struct CompletionsCommand {
    /// The shell: bash, zsh, fish, elvish or powershell.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

impl CompletionsCommand {
    /// Prints the completion script on stdout.
    pub fn run(self) -> Result<Exit, Error> {
        let mut command = Cli::command();
        let mut out = Vec::new();
        clap_complete::generate(self.shell, &mut command, "nicsrs-batch", &mut out);
        std::io::Write::write_all(&mut std::io::stdout().lock(), &out).map_err(Error::Output)?;
        Ok(Exit::Ok)
    }
}

/// The arguments of `man`.
#[derive(Debug, Args)]
pub struct ManCommand {
    /// Write one page per command into DIR (`nicsrs-batch.1`, `nicsrs-batch-plan.1`, …)
    /// instead of printing the main page on stdout.
    #[arg(long, value_name = "DIR")]
    pub out_dir: Option<PathBuf>,
}

impl ManCommand {
    /// Prints `nicsrs-batch.1` (roff), or writes every page into the folder.
    pub fn run(self) -> Result<Exit, Error> {
        let command = Cli::command();
        match &self.out_dir {
            Some(dir) => {
                std::fs::create_dir_all(dir).map_err(|source| Error::Write {
                    path: dir.clone(),
                    source,
                })?;
                clap_mangen::generate_to(command, dir).map_err(|source| Error::Write {
                    path: dir.clone(),
                    source,
                })?;
                let mut pages: Vec<String> = std::fs::read_dir(dir)
                    .map_err(|source| Error::Read {
                        path: dir.clone(),
                        source,
                    })?
                    .flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .filter(|n| n.starts_with("nicsrs-batch") && n.ends_with(".1"))
                    .collect();
                pages.sort();
                println!(
                    "wrote {} pages into {}: {}",
                    pages.len(),
                    dir.display(),
                    pages.join(", ")
                );
            }
            None => {
                let mut out = Vec::new();
                clap_mangen::Man::new(command)
                    .render(&mut out)
                    .map_err(Error::Output)?;
                std::io::Write::write_all(&mut std::io::stdout().lock(), &out)
                    .map_err(Error::Output)?;
            }
        }
        Ok(Exit::Ok)
    }
}
