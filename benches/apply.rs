//! `apply` of 10,000 orders against a sandbox answering in 50 ms, at concurrency 64, in both
//! ways it can run:
//!
//! - by default, each placement is first looked up by its refId (so that a ledger that lost
//!   rows never buys twice): two calls per order, a floor of 10,000 × 2 × 50 ms / 64 ≈ 15.6 s;
//! - with `--trust-ledger`, one call per order: a floor of ≈ 7.8 s.
//!
//! Run with `cargo bench --bench apply`; the tool should come within 5 % of each floor. The
//! sandbox runs as its own process, the release binary is timed end to end (validation,
//! plan, ledger, HTTP), and its peak RSS is read with `/usr/bin/time` where that exists.
//! The time to the first call is from starting the binary to the sandbox receiving its
//! first request: by default the lookups by refId start while the manifest is still being
//! validated; with `--trust-ledger` the first call is a paid one, which waits for the
//! whole run to be valid.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

mod common;

const ORDERS: usize = 10_000;
const CONCURRENCY: usize = 64;
const LATENCY_MS: u64 = 50;
const ROUNDS: usize = 3;

fn manifest(path: &Path) {
    let mut s = String::from(
        "version: 1\nrefIdPrefix: bench-\ndefaults:\n  productCode: comodo-positivessl\n  years: 1\n  params:\n    server: nginx\n    Administrator:\n      job: Ops\n      firstName: Sam\n      lastName: Ortega\n      email: ops@hosting.example\n      mobile: \"+1 415 555 0100\"\n      organization: Example Hosting Inc.\n      address: 500 Market Street\n      city: San Francisco\n      state: California\n      postCode: \"94105\"\n      country: US\norders:\n",
    );
    for i in 0..ORDERS {
        s.push_str(&format!("  - key: site-{i:05}\n    params:\n      domainInfo:\n        - {{ domainName: www.site{i:05}.example, dcvMethod: HTTP_CSR_HASH }}\n"));
    }
    std::fs::write(path, s).expect("manifest");
}

fn main() {
    let exe = env!("CARGO_BIN_EXE_nicsrs-batch");
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/bench-apply");
    std::fs::create_dir_all(&dir).expect("dir");
    manifest(&dir.join("orders.yaml"));
    let per_order =
        |calls: u64| Duration::from_millis(calls * ORDERS as u64 * LATENCY_MS / CONCURRENCY as u64);
    for (mode, extra, calls) in [
        ("lookup + place", None, 2),
        ("--trust-ledger: place only", Some("--trust-ledger"), 1),
    ] {
        let mut rounds = common::Rounds::default();
        let mut first_call_ms = Vec::new();
        for round in 0..ROUNDS {
            // A new sandbox each round: every order is new to it, as in a first apply.
            let (mut sandbox, url) =
                common::sandbox(exe, &["--latency", &format!("{LATENCY_MS}ms")]);
            let ledger = dir.join(format!("ledger-{calls}-{round}.csv"));
            let _ = std::fs::remove_file(&ledger);
            let mut cmd = common::Rounds::command(exe);
            cmd.current_dir(&dir)
                .args(["apply", "orders.yaml", "--yes", "--endpoint", &url])
                .args(["--concurrency", &CONCURRENCY.to_string()])
                .args(extra)
                .arg("--ledger")
                .arg(&ledger)
                .env("NICSRS_API_TOKEN", "sandbox")
                .stdout(Stdio::null());
            let started = common::unix_ms();
            rounds.run(&mut cmd);
            let first = common::stats(&url)["first_request_unix_ms"]
                .as_u64()
                .expect("the sandbox saw a request");
            first_call_ms.push(first.saturating_sub(started));
            let _ = sandbox.kill();
            let _ = sandbox.wait();
        }
        println!(
            "{}; first call after {} ms (median)",
            rounds.summary(
                &format!(
                    "apply {ORDERS} orders ({mode}), latency {LATENCY_MS} ms, concurrency {CONCURRENCY}"
                ),
                per_order(calls)
            ),
            common::median(&mut first_call_ms)
        );
    }
}
