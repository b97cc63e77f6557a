//! nicsrs-batch: NicSRS certificate orders kept as YAML manifests reviewed in Git.
//!
//! The stages, each a module, data flowing one way:
//! read ([`manifest`], with [`manifest::yaml`]) -> validate ([`schema`], [`rules`], [`csr`], [`validate`])
//! -> expand ([`expand`]) -> plan ([`plan`], with [`lifecycle`] for renewals and reissues)
//! -> apply ([`apply`], over [`nicsrs::client`]) -> record ([`ledger`]); [`refresh`] collects what
//! NicSRS says of each certificate. [`cli`] is the command line, one file per command;
//! [`sandbox`] is the NicSRS-compatible API on loopback. Problems in manifests are
//! [`diagnostic::Diagnostic`]s; [`error::Error`] is for the program's own failures.

pub mod apply;
pub mod atomic;
pub mod bounded;
pub mod catalog;
pub mod cli;
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
pub mod nicsrs;
pub mod plan;
pub mod pointer;
pub mod pool;
pub mod private_key;
pub mod products;
pub mod random;
pub mod refresh;
pub mod report;
pub mod rules;
pub mod sandbox;
pub mod schema;
pub mod shown;
pub mod source;
pub mod validate;
