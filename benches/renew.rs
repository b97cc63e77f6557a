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

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

mod common;

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
    let concurrency = CONCURRENCY.to_string();
    let mut rounds = common::Rounds::default();
    for _ in 0..ROUNDS {
        let _ = std::fs::remove_file(dir.join("ledger.csv"));
        let latency = format!("{LATENCY_MS}ms");
        let (mut sandbox, url) =
            common::sandbox(exe, &["--latency", &latency, "--validity-days", "20"]);
        let apply = [
            "apply",
            "orders.yaml",
            "--yes",
            "--concurrency",
            &concurrency,
        ];
        run(exe, &dir, &url, &apply);
        run(exe, &dir, &url, &["refresh", "--concurrency", &concurrency]);
        let mut cmd = common::Rounds::command(exe);
        cmd.current_dir(&dir)
            .args(apply)
            .args(["--endpoint", &url, "--ledger", "ledger.csv"])
            .env("NICSRS_API_TOKEN", "sandbox")
            .stdout(Stdio::piped());
        let out = rounds.run(&mut cmd);
        let _ = sandbox.kill();
        let _ = sandbox.wait();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(stdout.contains(&format!("{ORDERS} to renew")), "{stdout}");
    }
    let floor = Duration::from_millis(2 * ORDERS as u64 * LATENCY_MS / CONCURRENCY as u64);
    println!(
        "{}",
        rounds.summary(
            &format!(
                "renew {ORDERS} certificates, latency {LATENCY_MS} ms, concurrency {CONCURRENCY} (floor: lookup + renew)"
            ),
            floor
        )
    );
}
