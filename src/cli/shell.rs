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
                let mut command = command;
                command.build();
                let mut pages = Vec::new();
                for (name, page) in pages_of(&command)? {
                    let path = dir.join(&name);
                    // Written beside its place and renamed into it: a link planted in the
                    // folder is replaced, never followed.
                    crate::atomic::write(&path, &page, 0o644)
                        .map_err(|source| Error::Write { path, source })?;
                    pages.push(name);
                }
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

/// Every page: the command's, then each subcommand's (`nicsrs-batch-plan.1`), as
/// clap_mangen names them.
fn pages_of(command: &clap::Command) -> Result<Vec<(String, Vec<u8>)>, Error> {
    let mut out = Vec::new();
    let mut page = Vec::new();
    clap_mangen::Man::new(command.clone())
        .render(&mut page)
        .map_err(Error::Output)?;
    let name = command
        .get_display_name()
        .unwrap_or_else(|| command.get_name())
        .to_owned();
    out.push((format!("{name}.1"), page));
    for sub in command
        .get_subcommands()
        .filter(|s| !s.is_hide_set() && s.get_name() != "help")
    {
        out.extend(pages_of(sub)?);
    }
    Ok(out)
}
