//! nicsrs-batch: NicSRS certificate orders kept as YAML manifests reviewed in Git.
//!
//! The stages, each a module, data flowing one way:
//! read ([`manifest`], [`yaml`]) -> validate ([`schema`], [`rules`], [`csr`], [`validate`])
//! -> expand ([`expand`]) -> plan ([`plan`], with [`lifecycle`] for renewals and reissues)
//! -> apply ([`runner`], over [`client`]) -> record ([`ledger`]); [`refresh`] collects what
//! NicSRS says of each certificate. [`cli`] is the command line, one file per command;
//! [`sandbox`] is the NicSRS-compatible API on loopback. Problems in manifests are
//! [`diagnostic::Diagnostic`]s; [`error::Error`] is for the program's own failures.

pub mod atomic;
pub mod bounded;
pub mod catalog;
pub mod cli;
pub mod client;
pub mod csr;
pub mod csv;
pub mod dcv;
pub mod diagnostic;
pub mod duration;
pub mod error;
pub mod exit;
pub mod expand;
pub mod ledger;
pub mod lifecycle;
pub mod manifest;
pub mod pacer;
pub mod plan;
pub mod pointer;
pub mod pool;
pub mod private_key;
pub mod products;
pub mod random;
pub mod references;
pub mod refresh;
pub mod report;
pub mod rules;
pub mod runner;
pub mod sandbox;
pub mod schema;
pub mod shown;
pub mod source;
pub mod validate;
pub mod wire;
pub mod yaml;
