//! `plan` and `status` over a ledger of 1,000,000 rows, end to end with the release
//! binary: the median time and peak RSS of each.
//!
//! Run with `cargo bench --bench ledger`. The ledger is that of 50,000 certificates, each
//! with the 20 rows of a long life: placed (`submitting`, `placed`), collected twice
//! (`PENDING`, `COMPLETE`), then four reissue waves, each a `reissuing`/`reissued` pair
//! and two collects, each row of a certificate carrying its `dcv` cell as this version
//! writes it (the placement's DNS record; each collect's names, verified or not): 443 MB
//! (327 MB without the cells). `plan` reads it against a manifest of 1,000 of those
//! orders; `status` reports all 50,000 keys. Memory grows with the keys, not with the rows: only
//! the rows a decision can need are kept.

#[path = "common/mod.rs"]
mod common;

use std::io::Write;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use nicsrs_batch::ledger::{Api, COLUMNS, Event, Row};

const KEYS: usize = 50_000;
const ROWS_PER_KEY: usize = 20;
const MANIFEST_ORDERS: usize = 1_000;
const ROUNDS: usize = 5;

fn time(t: u64) -> String {
    // 2026-01-01T00:00:00Z plus `t` seconds.
    nicsrs_batch::nicsrs::wire::format_utc(1_767_225_600 + t as i64, 'T', "Z")
}

fn ledger(path: &Path) {
    let file = std::fs::File::create(path).expect("ledger");
    let mut out = std::io::BufWriter::with_capacity(1 << 20, file);
    out.write_all(nicsrs_batch::csv::line(COLUMNS.iter().copied()).as_bytes())
        .expect("header");
    let mut rows = 0;
    // Wave by wave, as the rows of nightly runs follow each other.
    for step in 0..ROWS_PER_KEY {
        for k in 0..KEYS {
            let key = format!("site-{k:05}");
            let base = format!("bench-site-{k:05}");
            let t = (step * KEYS + k) as u64;
            let wave = step / 4; // 0: the placement; 1..=4: reissues
            let cert = |w: usize| format!("SBX{k:07}W{w}");
            let (event, ref_id, cert_id, status) = match (wave, step % 4) {
                (0, 0) => (Event::Submitting, base.clone(), String::new(), ""),
                (0, 1) => (Event::Placed, base.clone(), cert(0), ""),
                (w, 0) => (Event::Reissuing, format!("{base}-i{w}"), cert(w - 1), ""),
                (w, 1) => (Event::Reissued, format!("{base}-i{w}"), cert(w), ""),
                (w, 2) => (Event::Status, base.clone(), cert(w), "PENDING"),
                (w, _) => (Event::Status, base.clone(), cert(w), "COMPLETE"),
            };
            let complete = status == "COMPLETE";
            let name = format!("www.customer{k:05}.example");
            let dcv = match event {
                Event::Placed | Event::Reissued => format!(
                    r#"[{{"domain":"{name}","method":"CNAME_CSR_HASH","dns_name":"_{md5:032X}.{name}","dns_type":"CNAME","dns_value":"{sha:032X}.{sha:032X}.sectigo.com"}}]"#,
                    md5 = k,
                    sha = k * 7 + wave
                ),
                Event::Status => format!(
                    r#"[{{"domain":"{name}","method":"CNAME_CSR_HASH","verified":{complete}}}]"#
                ),
                _ => String::new(),
            };
            let row = Row {
                time: time(t),
                ref_id,
                cert_id,
                product_code: "comodo-positivessl".into(),
                years: 1,
                domains: format!("www.customer{k:05}.example"),
                request_sha256: format!("{:064x}", k),
                attempt: 1,
                code: (event != Event::Submitting).then_some(1),
                manifest: "orders.yaml".into(),
                status: status.into(),
                not_before: if complete { time(t) } else { String::new() },
                not_after: if complete { time(t + 199 * 86_400) } else { String::new() },
                due_date: if complete { time(t + 365 * 86_400) } else { String::new() },
                request_fields: "productCode=b772150c years=6b86b273 domainInfo=ec49ee9d server=723886a6 Administrator=d4fa30ee".into(),
                dcv,
                ..Row::about(Api::Sandbox, event, &key)
            };
            out.write_all(row.to_line().as_bytes()).expect("row");
            rows += 1;
        }
    }
    out.flush().expect("flush");
    assert_eq!(rows, KEYS * ROWS_PER_KEY);
}

fn manifest(path: &Path) {
    let mut s = String::from(
        "version: 1\nrefIdPrefix: bench-\ndefaults:\n  productCode: comodo-positivessl\n  years: 1\n  params:\n    server: nginx\n    Administrator:\n      job: Operations\n      firstName: Sam\n      lastName: Ortega\n      email: ops@hosting.example\n      mobile: \"+1 415 555 0100\"\n      organization: Example Hosting Inc.\n      address: 500 Market Street\n      city: San Francisco\n      state: California\n      postCode: \"94105\"\n      country: US\norders:\n",
    );
    for k in 0..MANIFEST_ORDERS {
        s.push_str(&format!(
            "  - key: site-{k:05}\n    params:\n      domainInfo:\n        - {{ domainName: www.customer{k:05}.example, dcvMethod: HTTP_CSR_HASH }}\n"
        ));
    }
    std::fs::write(path, s).expect("manifest");
}

fn main() {
    let exe = env!("CARGO_BIN_EXE_nicsrs-batch");
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/bench-ledger");
    std::fs::create_dir_all(&dir).expect("dir");
    let ledger_path = dir.join("ledger.csv");
    ledger(&ledger_path);
    manifest(&dir.join("orders.yaml"));
    let size = std::fs::metadata(&ledger_path).map_or(0, |m| m.len());
    println!(
        "ledger: {} rows, {KEYS} keys, {:.0} MB",
        KEYS * ROWS_PER_KEY,
        size as f64 / 1e6
    );
    for (what, args) in [
        (
            "plan of 1,000 orders",
            &["plan", "orders.yaml", "--sandbox", "--ledger", "ledger.csv"][..],
        ),
        (
            "status of 50,000 keys",
            &["status", "--sandbox", "--ledger", "ledger.csv"][..],
        ),
    ] {
        let mut rounds = common::Rounds::default();
        for _ in 0..ROUNDS {
            let mut cmd = common::Rounds::command(exe);
            cmd.current_dir(&dir).args(args).stdout(Stdio::null());
            rounds.run(&mut cmd);
        }
        println!(
            "{}",
            rounds.summary(
                &format!("{what} over the 1,000,000-row ledger (goal 2 s, 200 MB)"),
                Duration::from_secs(2)
            )
        );
    }
}
