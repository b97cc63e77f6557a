//! The program's own failures: the cases where a run cannot even start.
//! Problems in manifests are [`crate::diagnostic::Diagnostic`]s, not errors.

use std::path::PathBuf;

/// A failure that stops the command (exit code 1).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A path on the command line does not exist or cannot be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The path.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A directory given on the command line holds no manifests.
    #[error("{0}: no manifest (*.yaml or *.yml) found")]
    NoManifests(PathBuf),
    /// The catalogue given with `--catalog` is unusable.
    #[error(transparent)]
    Catalog(#[from] crate::catalog::CatalogError),
    /// The sandbox could not start or save its state.
    #[error(transparent)]
    Sandbox(#[from] crate::sandbox::SandboxError),
    /// The sandbox state could not be saved.
    #[error(transparent)]
    SandboxState(#[from] crate::sandbox::store::StoreError),
    /// The async runtime could not start.
    #[error("cannot start the runtime: {0}")]
    Runtime(std::io::Error),
    /// A flag combination or a refusal to go on.
    #[error("{0}")]
    Usage(String),
    /// The endpoint or token is unusable.
    #[error(transparent)]
    Client(#[from] crate::nicsrs::client::ClientError),
    /// The ledger is unusable.
    #[error(transparent)]
    Ledger(#[from] crate::ledger::LedgerError),
    /// The run stopped because the ledger could not be written.
    #[error(transparent)]
    Run(#[from] crate::apply::RunError),
    /// Writing the output failed.
    #[error("cannot write output: {0}")]
    Output(std::io::Error),
    /// A DNS server could not be reached or refused an update, or the TSIG key is unusable.
    #[error(transparent)]
    Dns(#[from] crate::dcv::dns::DnsError),
    /// A saved plan cannot be read, written, or carried out as it is.
    #[error(transparent)]
    Plan(#[from] crate::plan::saved::SavedError),
    /// A file the command writes (`dcv --webroot`) could not be written.
    #[error("cannot write {path}: {source}")]
    Write {
        /// The file or folder.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
}
