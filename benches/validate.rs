//! `nicsrs-batch validate` of a generated 10,000-order manifest, against a bare parse of
//! the same file, and of a 100,000-order one for its memory.
//!
//! Run with `cargo bench --bench validate` (release build). Each round runs the release
//! binary end to end: it reads, parses, checks against both schemas and the rules,
//! verifies CSRs and expands every order. One order in ten references a CSR file, the
//! rest let NicSRS generate the key. The bare parse is serde-saphyr into a
//! `serde_json::Value` in this process, with the binary's allocator: what the checks are
//! measured against.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

mod common;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const ORDERS: usize = 10_000;
const ROUNDS: usize = 15;

fn manifest() -> String {
    manifest_of(ORDERS)
}

fn manifest_of(orders: usize) -> String {
    let mut s = String::from(
        "version: 1\nrefIdPrefix: bench-\ndefaults:\n  productCode: comodo-positivessl\n  years: 1\n  params:\n    server: nginx\n    Administrator:\n      job: Operations\n      firstName: Sam\n      lastName: Ortega\n      email: ops@hosting.example\n      mobile: \"+1 415 555 0100\"\n      organization: Example Hosting Inc.\n      address: 500 Market Street\n      city: San Francisco\n      state: California\n      postCode: \"94105\"\n      country: US\norders:\n",
    );
    for i in 0..orders {
        if i % 10 == 0 {
            s.push_str(&format!(
                "  - key: site-{i:05}\n    productCode: sectigo-multi-domain\n    params:\n      csr: {{ file: csr/shop-www.csr }}\n      domainInfo:\n        - {{ domainName: www.shop.example, dcvMethod: EMAIL, dcvEmail: admin@shop.example }}\n        - {{ domainName: shop.example, dcvMethod: HTTP_CSR_HASH }}\n"
            ));
        } else {
            s.push_str(&format!(
                "  - key: site-{i:05}\n    params:\n      domainInfo:\n        - {{ domainName: www.customer{i:05}.example, dcvMethod: HTTP_CSR_HASH }}\n"
            ));
        }
    }
    s
}

fn main() {
    let exe = env!("CARGO_BIN_EXE_nicsrs-batch");
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let dir = root.join("target/bench-validate");
    std::fs::create_dir_all(dir.join("csr")).expect("bench dir");
    std::fs::copy(
        root.join("examples/csr/shop-www.csr"),
        dir.join("csr/shop-www.csr"),
    )
    .expect("csr");
    let path = dir.join("orders-10000.yaml");
    let text = manifest();
    std::fs::write(&path, &text).expect("manifest");
    let validate = |rounds: &mut common::Rounds, path: &std::path::Path| {
        let mut cmd = common::Rounds::command(exe);
        cmd.arg("validate").arg(path).stdout(Stdio::null());
        rounds.run(&mut cmd);
    };
    // Files just written (this one, and cargo's build of the binary) are flushed to disk
    // first, and one round of each is run unmeasured: the rounds measure the work, not the
    // machine settling.
    let _ = std::process::Command::new("sync").status();
    let warm: serde_json::Value =
        serde_saphyr::from_str(&std::fs::read_to_string(&path).expect("read")).expect("parse");
    drop(warm);
    validate(&mut common::Rounds::default(), &path);
    // Rounds alternate between the bare parse and the whole validation, so that both see
    // the same machine load.
    let mut rounds = common::Rounds::default();
    let mut floor: Vec<Duration> = Vec::with_capacity(ROUNDS);
    for _ in 0..ROUNDS {
        let start = Instant::now();
        let read = std::fs::read_to_string(&path).expect("read");
        let bare: serde_json::Value = serde_saphyr::from_str(&read).expect("bare parse");
        floor.push(start.elapsed());
        assert!(bare.get("orders").is_some());
        drop(bare);
        validate(&mut rounds, &path);
    }
    floor.sort();
    let parse = floor[ROUNDS / 2];
    let summary = rounds.against(parse);
    println!(
        "validate {ORDERS} orders ({:.1} MB, {} with CSRs): {}",
        text.len() as f64 / 1e6,
        ORDERS / 10,
        summary.line
    );
    println!(
        "bare parse of the same file (serde-saphyr into serde_json::Value): median {:.0} ms; validate / bare parse = {:.2}x (goal <= 1.50x); validate <= 150 ms: {}",
        parse.as_secs_f64() * 1000.0,
        summary.ratio,
        if summary.median <= Duration::from_millis(150) {
            "yes"
        } else {
            "no"
        },
    );

    let big = dir.join("orders-100000.yaml");
    std::fs::write(&big, manifest_of(100_000)).expect("manifest");
    let mut rounds = common::Rounds::default();
    for _ in 0..3 {
        validate(&mut rounds, &big);
    }
    let summary = rounds.against(Duration::from_secs(1));
    println!(
        "validate 100000 orders: {} (goal: under 1 GB)",
        summary.line
    );
}
