//! Validates a generated 10,000-order manifest and reports the median time.
//!
//! Run with `cargo bench --bench validate` (release build). Each round reads, parses,
//! checks against both schemas and the rules, verifies CSRs and expands every order.
//! One order in ten references a CSR file, the rest let NicSRS generate the key.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use nicsrs_batch::catalog::Catalog;
use nicsrs_batch::validate::{Options, validate};

const ORDERS: usize = 10_000;
const ROUNDS: usize = 9;

fn manifest() -> String {
    let mut s = String::from(
        "version: 1\nrefIdPrefix: bench-\ndefaults:\n  productCode: comodo-positivessl\n  years: 1\n  params:\n    server: nginx\n    Administrator:\n      job: Operations\n      firstName: Sam\n      lastName: Ortega\n      email: ops@hosting.example\n      mobile: \"+1 415 555 0100\"\n      organization: Example Hosting Inc.\n      address: 500 Market Street\n      city: San Francisco\n      state: California\n      postCode: \"94105\"\n      country: US\norders:\n",
    );
    for i in 0..ORDERS {
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
    let options = Options {
        catalog: Catalog::builtin(),
        allow_inline_secrets: false,
    };
    // Rounds alternate between the bare parse and the whole validation, so that both see
    // the same machine load.
    let mut times: Vec<Duration> = Vec::with_capacity(ROUNDS);
    let mut floor: Vec<Duration> = Vec::with_capacity(ROUNDS);
    for _ in 0..ROUNDS {
        let start = Instant::now();
        let read = std::fs::read_to_string(&path).expect("read");
        let bare: serde_json::Value = serde_saphyr::from_str(&read).expect("bare parse");
        floor.push(start.elapsed());
        assert!(bare.get("orders").is_some());
        drop(bare);

        let start = Instant::now();
        let outcome = validate(std::slice::from_ref(&path), &options).expect("validate runs");
        times.push(start.elapsed());
        assert!(outcome.is_valid(), "{:?}", outcome.diagnostics.first());
        assert_eq!(outcome.orders.len(), ORDERS);
    }
    times.sort();
    floor.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let median = times[ROUNDS / 2];
    let parse = floor[ROUNDS / 2];
    println!(
        "validate {ORDERS} orders ({:.1} MB, {} with CSRs): median {:.0} ms, min {:.0} ms, max {:.0} ms over {ROUNDS} rounds",
        text.len() as f64 / 1e6,
        ORDERS / 10,
        ms(median),
        ms(times[0]),
        ms(times[ROUNDS - 1]),
    );
    println!(
        "bare parse of the same file (serde-saphyr into serde_json::Value): median {:.0} ms; validate / bare parse = {:.2}x (goal <= 1.50x), validate <= 150 ms: {}",
        ms(parse),
        median.as_secs_f64() / parse.as_secs_f64(),
        if median <= Duration::from_millis(150) {
            "yes"
        } else {
            "no"
        },
    );
}
