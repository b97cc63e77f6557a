//! `sandbox`: the NicSRS-compatible API on loopback, with optional faults.

use std::io::Write;
use std::path::PathBuf;

use clap::Args;

use crate::catalog::Catalog;
use crate::duration::parse_duration;
use crate::error::Error;
use crate::exit::Exit;
use crate::sandbox::faults::{Faults, Latency, parse_rate};

/// Options of `sandbox`.
#[derive(Debug, Args)]
pub struct SandboxCommand {
    /// Address to listen on; port 0 picks a free one (printed on the first line). Only a
    /// loopback address, unless --allow-remote is given.
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub listen: std::net::SocketAddr,
    /// Allow a non-loopback --listen address: anyone who can reach it can use the sandbox,
    /// over plain HTTP.
    #[arg(long)]
    pub allow_remote: bool,
    /// The `api_token` the sandbox accepts (a sandbox token, never a real one).
    #[arg(long, default_value = crate::sandbox::DEFAULT_TOKEN)]
    pub token: String,
    /// Delay before each answer: `50ms`, or a range `20ms..200ms`.
    #[arg(long, value_parser = clap::value_parser!(Latency))]
    pub latency: Option<Latency>,
    /// Probability of HTTP 500 before anything is stored.
    #[arg(long, default_value = "0", value_parser = parse_rate)]
    pub fail_rate: f64,
    /// Probability that an order is stored and the connection then closed without a reply.
    #[arg(long, default_value = "0", value_parser = parse_rate)]
    pub drop_rate: f64,
    /// Probability that an order is stored and the reply never sent.
    #[arg(long, default_value = "0", value_parser = parse_rate)]
    pub timeout_rate: f64,
    /// Probability of HTTP 429 with Retry-After.
    #[arg(long, default_value = "0", value_parser = parse_rate)]
    pub throttle_rate: f64,
    /// Probability that an order is stored and code -2 (unknown error) answered.
    #[arg(long, default_value = "0", value_parser = parse_rate)]
    pub unknown_rate: f64,
    /// Paid orders accepted before code -4 (insufficient credit).
    #[arg(long, value_name = "N")]
    pub credit: Option<u64>,
    /// Once the credit has run out, answer -2 (unknown error) instead of -4, storing nothing.
    #[arg(long, requires = "credit")]
    pub out_of_credit_unknown: bool,
    /// Store every paid call's order and never answer it (to try a crash mid-call).
    #[arg(long)]
    pub hold_paid: bool,
    /// Seed of the fault generator: the same seed repeats the same faults.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Time from order to issued certificate (collect says PENDING until then).
    #[arg(long, default_value = "0", value_parser = parse_duration)]
    pub issue_after: std::time::Duration,
    /// Orders placed now count as placed this long ago (`15d`): their first certificate is
    /// that old, to try a renewal or reissue wave without waiting.
    #[arg(long, default_value = "0", value_parser = parse_duration)]
    pub placed_age: std::time::Duration,
    /// Validity of issued certificates, in days.
    #[arg(long, default_value_t = 200)]
    pub validity_days: u32,
    /// Keep orders in this file (written atomically) so that a restart keeps them.
    #[arg(long, value_name = "FILE")]
    pub state: Option<PathBuf>,
    /// Product catalogue to sell instead of the built-in one.
    #[arg(long, value_name = "FILE")]
    pub catalog: Option<PathBuf>,
    /// Validate names as a CA does: an order stays PENDING until each name's DNS record
    /// (looked up through --resolver) or file (fetched over HTTP) is right; `dcvList` says
    /// which names are verified. EMAIL names count as verified.
    #[arg(long)]
    pub verify_dcv: bool,
    /// With --verify-dcv: the DNS resolver to ask [default: the first nameserver of /etc/resolv.conf].
    #[arg(long, value_name = "IP:PORT", requires = "verify_dcv")]
    pub resolver: Option<std::net::SocketAddr>,
    /// With --verify-dcv: fetch every file from this address instead of its name's (as
    /// curl's --connect-to).
    #[arg(long, value_name = "IP:PORT", requires = "verify_dcv")]
    pub connect_to: Option<std::net::SocketAddr>,
}

impl SandboxCommand {
    /// Runs the sandbox until Ctrl-C; the first line on stdout says where it listens.
    pub fn run(self) -> Result<Exit, Error> {
        let args = self;
        if !args.listen.ip().is_loopback() && !args.allow_remote {
            return Err(Error::Usage(format!(
                "--listen {}: the sandbox listens on loopback only (127.0.0.1, ::1); add --allow-remote to serve other hosts over plain HTTP",
                args.listen
            )));
        }
        let catalog = match &args.catalog {
            Some(path) => Catalog::from_file(path)?,
            None => Catalog::builtin(),
        };
        let config = crate::sandbox::Config {
            token: args.token,
            faults: Faults {
                latency: args.latency,
                fail_rate: args.fail_rate,
                drop_rate: args.drop_rate,
                timeout_rate: args.timeout_rate,
                throttle_rate: args.throttle_rate,
                unknown_rate: args.unknown_rate,
                credit: args.credit,
                out_of_credit_unknown: args.out_of_credit_unknown,
                hold_paid: args.hold_paid,
            },
            seed: args.seed,
            issue_after: args.issue_after,
            placed_age: args.placed_age,
            validity_days: args.validity_days,
            state: args.state,
            catalog,
            verify_dcv: args.verify_dcv.then(|| crate::sandbox::verify::Verify {
                resolver: args
                    .resolver
                    .unwrap_or_else(crate::dcv::dns::system_resolver),
                connect_to: args.connect_to,
            }),
        };
        super::runtime()?.block_on(async {
            let sandbox = crate::sandbox::Sandbox::start(config, args.listen).await?;
            let mut out = std::io::stdout().lock();
            writeln!(out, "listening on {}", sandbox.url()).map_err(Error::Output)?;
            out.flush().map_err(Error::Output)?;
            drop(out);
            eprintln!(
                "sandbox: token `{}`; GET {}/sandbox/stats for counts; Ctrl-C stops",
                sandbox.token(),
                sandbox.url()
            );
            let _ = tokio::signal::ctrl_c().await;
            sandbox.stop().await?;
            Ok(Exit::Ok)
        })
    }
}
