//! `apply` of 10,000 orders against a sandbox answering in 50 ms, at concurrency 64.
//!
//! Run with `cargo bench --bench apply`. The floor is 10,000 × 50 ms / 64 ≈ 7.8 s; the tool
//! should come within 10 % of it. The sandbox runs as its own process, the release binary
//! is timed end to end (validation, plan, ledger, HTTP), and its peak RSS is read with
//! `/usr/bin/time` where that exists.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

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
    let mut sandbox = Command::new(exe)
        .args([
            "sandbox",
            "--listen",
            "127.0.0.1:0",
            "--latency",
            &format!("{LATENCY_MS}ms"),
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("sandbox");
    let mut line = String::new();
    BufReader::new(sandbox.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("listening line");
    let url = line.trim().trim_start_matches("listening on ").to_owned();
    let timer = Path::new("/usr/bin/time").exists();
    let mut times = Vec::new();
    let mut rss_kb = Vec::new();
    for round in 0..ROUNDS {
        let ledger = dir.join(format!("ledger-{round}.csv"));
        let _ = std::fs::remove_file(&ledger);
        let mut cmd = if timer {
            let mut c = Command::new("/usr/bin/time");
            c.args(["-f", "%M", exe]);
            c
        } else {
            Command::new(exe)
        };
        cmd.current_dir(&dir)
            .args([
                "apply",
                "orders.yaml",
                "--yes",
                "--endpoint",
                &url,
                "--concurrency",
                &CONCURRENCY.to_string(),
            ])
            .arg("--ledger")
            .arg(&ledger)
            .env("NICSRS_API_TOKEN", "sandbox")
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let started = Instant::now();
        let out = cmd.output().expect("apply");
        times.push(started.elapsed());
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        if let Some(kb) = String::from_utf8_lossy(&out.stderr)
            .lines()
            .last()
            .and_then(|l| l.trim().parse::<u64>().ok())
        {
            rss_kb.push(kb);
        }
    }
    let _ = sandbox.kill();
    let _ = sandbox.wait();
    times.sort();
    let median = times[ROUNDS / 2];
    let floor = Duration::from_millis(ORDERS as u64 * LATENCY_MS / CONCURRENCY as u64);
    rss_kb.sort_unstable();
    println!(
        "apply {ORDERS} orders, latency {LATENCY_MS} ms, concurrency {CONCURRENCY}: median {:.2} s over {ROUNDS} rounds (min {:.2}, max {:.2}); floor {:.2} s; ratio {:.3}; peak RSS {}",
        median.as_secs_f64(),
        times[0].as_secs_f64(),
        times[ROUNDS - 1].as_secs_f64(),
        floor.as_secs_f64(),
        median.as_secs_f64() / floor.as_secs_f64(),
        rss_kb
            .get(rss_kb.len() / 2)
            .map_or("n/a (no /usr/bin/time)".into(), |kb| format!(
                "{:.1} MB",
                *kb as f64 / 1024.0
            )),
    );
}
