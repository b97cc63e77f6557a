//! A renewal wave: `apply` of 5,000 renewals against a sandbox answering in 50 ms, at
//! concurrency 64.
//!
//! Run with `cargo bench --bench renew`. Each round places 5,000 orders (each with a CSR of
//! its own) on a sandbox issuing 20-day certificates, refreshes them, and then times the
//! release binary applying the renewal wave end to end (validation, plan, ledger, HTTP).
//! Every renewal is looked up by refId before it is sent, so the floor is two calls per
//! renewal: 5,000 × 2 × 50 ms / 64 ≈ 7.8 s. The sandbox keeps its orders in memory (a state
//! file would time the sandbox's own saving). Peak RSS is read with `/usr/bin/time` where
//! that exists.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const ORDERS: usize = 5_000;
const CONCURRENCY: usize = 64;
const LATENCY_MS: u64 = 50;
const ROUNDS: usize = 3;

/// The manifest, with one CSR file per order under `csr/`.
fn manifest(dir: &Path) {
    std::fs::create_dir_all(dir.join("csr")).expect("csr dir");
    let mut s = String::from(
        "version: 1\nrefIdPrefix: bench-\ndefaults:\n  productCode: comodo-positivessl\n  years: 1\n  renewBefore: 400d\n  params:\n    server: nginx\n    Administrator:\n      job: Ops\n      firstName: Sam\n      lastName: Ortega\n      email: ops@hosting.example\n      mobile: \"+1 415 555 0100\"\n      organization: Example Hosting Inc.\n      address: 500 Market Street\n      city: San Francisco\n      state: California\n      postCode: \"94105\"\n      country: US\norders:\n",
    );
    for i in 0..ORDERS {
        let name = format!("www.site{i:05}.example");
        let path = dir.join(format!("csr/{i:05}.csr"));
        if !path.exists() {
            let pair = rcgen::KeyPair::generate().expect("key");
            let mut params = rcgen::CertificateParams::new(vec![name.clone()]).expect("params");
            params.distinguished_name = rcgen::DistinguishedName::new();
            params
                .distinguished_name
                .push(rcgen::DnType::CommonName, name.clone());
            let csr = params.serialize_request(&pair).expect("CSR");
            std::fs::write(&path, csr.pem().expect("PEM")).expect("write CSR");
        }
        s.push_str(&format!(
            "  - key: site-{i:05}\n    params:\n      csr: {{ file: csr/{i:05}.csr }}\n      domainInfo:\n        - {{ domainName: {name}, dcvMethod: HTTP_CSR_HASH }}\n"
        ));
    }
    std::fs::write(dir.join("orders.yaml"), s).expect("manifest");
}

/// A sandbox process on a free port; its URL.
fn sandbox(exe: &str) -> (Child, String) {
    let mut child = Command::new(exe)
        .args([
            "sandbox",
            "--listen",
            "127.0.0.1:0",
            "--validity-days",
            "20",
        ])
        .args(["--latency", &format!("{LATENCY_MS}ms")])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("sandbox");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("listening line");
    (
        child,
        line.trim().trim_start_matches("listening on ").to_owned(),
    )
}

fn run(exe: &str, dir: &Path, url: &str, args: &[&str]) -> std::process::Output {
    let out = Command::new(exe)
        .current_dir(dir)
        .args(args)
        .args(["--endpoint", url, "--ledger", "ledger.csv"])
        .env("NICSRS_API_TOKEN", "sandbox")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .expect("run");
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn main() {
    let exe = env!("CARGO_BIN_EXE_nicsrs-batch");
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/bench-renew");
    std::fs::create_dir_all(&dir).expect("dir");
    manifest(&dir);
    let timer = Path::new("/usr/bin/time").exists();
    let concurrency = CONCURRENCY.to_string();
    let mut times = Vec::new();
    let mut rss_kb = Vec::new();
    for _ in 0..ROUNDS {
        let _ = std::fs::remove_file(dir.join("ledger.csv"));
        let (mut sandbox, url) = sandbox(exe);
        let apply = [
            "apply",
            "orders.yaml",
            "--yes",
            "--concurrency",
            &concurrency,
        ];
        run(exe, &dir, &url, &apply);
        run(exe, &dir, &url, &["refresh", "--concurrency", &concurrency]);
        let mut cmd = if timer {
            let mut c = Command::new("/usr/bin/time");
            c.args(["-f", "%M", exe]);
            c
        } else {
            Command::new(exe)
        };
        cmd.current_dir(&dir)
            .args(apply)
            .args(["--endpoint", &url, "--ledger", "ledger.csv"])
            .env("NICSRS_API_TOKEN", "sandbox")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let started = Instant::now();
        let out = cmd.output().expect("apply");
        times.push(started.elapsed());
        let _ = sandbox.kill();
        let _ = sandbox.wait();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success() && stdout.contains(&format!("{ORDERS} to renew")),
            "{stdout}{}",
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
    times.sort();
    let median = times[ROUNDS / 2];
    let floor = Duration::from_millis(2 * ORDERS as u64 * LATENCY_MS / CONCURRENCY as u64);
    rss_kb.sort_unstable();
    println!(
        "renew {ORDERS} certificates, latency {LATENCY_MS} ms, concurrency {CONCURRENCY}: median {:.2} s over {ROUNDS} rounds (min {:.2}, max {:.2}); floor (lookup + renew) {:.2} s; ratio {:.3}; peak RSS {}",
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
