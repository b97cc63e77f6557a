//! Domain control validation: what `dcv` says each name needs, checked against values
//! worked out independently (openssl), through the sandbox, and with hostile ledgers.

use std::path::Path;
use std::process::Command;

use serde_json::Value;

mod common;

use common::{root, run, scratch};

/// MD5 and SHA-256 of a CSR's DER, upper-case hex, as openssl computes them.
fn openssl_hashes(dir: &Path, csr: &str) -> (String, String) {
    let der = dir.join(format!("{csr}.der"));
    let ok = Command::new("openssl")
        .args(["req", "-in"])
        .arg(root().join("examples/csr").join(csr))
        .args(["-outform", "DER", "-out"])
        .arg(&der)
        .status()
        .expect("openssl runs");
    assert!(ok.success(), "openssl req");
    let digest = |alg: &str| {
        let out = Command::new("openssl")
            .args(["dgst", alg, "-r"])
            .arg(&der)
            .output()
            .expect("openssl dgst");
        String::from_utf8_lossy(&out.stdout)
            .split_whitespace()
            .next()
            .expect("a digest")
            .to_ascii_uppercase()
    };
    (digest("-md5"), digest("-sha256"))
}

const HEAD: &str = "version: 1\nrefIdPrefix: dcv-\ndefaults:\n  years: 1\n  params:\n    server: nginx\n    Administrator: {job: Ops, firstName: Lee, lastName: Chen, email: lee@shop.example, mobile: '+44 20 7946 0000', organization: Shop Ltd, address: 1 Street, city: London, state: London, postCode: EC1A 1BB, country: GB}\norders:\n";

fn order(
    key: &str,
    product: &str,
    csr: &str,
    name: &str,
    method: &str,
    unique: Option<&str>,
) -> String {
    let unique = unique.map_or(String::new(), |u| format!("      uniqueValue: {u}\n"));
    format!(
        "  - key: {key}\n    productCode: {product}\n    params:\n      csr: {{ file: {root}/examples/csr/{csr} }}\n{unique}      domainInfo:\n        - {{ domainName: \"{name}\", dcvMethod: {method} }}\n",
        root = root().display()
    )
}

/// An HTTP_CSR_HASH order and a wildcard CNAME_CSR_HASH one, with their CSRs.
fn two_orders(dir: &Path) {
    let mut text = HEAD.to_owned();
    text.push_str(&order(
        "http",
        "comodo-positivessl",
        "shop-api.csr",
        "api.shop.example",
        "HTTP_CSR_HASH",
        None,
    ));
    text.push_str(&order(
        "cname",
        "comodo-positivessl-wildcard",
        "cdn-wildcard.csr",
        "*.cdn.shop.example",
        "CNAME_CSR_HASH",
        None,
    ));
    std::fs::write(dir.join("orders.yaml"), text).expect("manifest");
}

/// `apply` on the embedded sandbox, which must succeed.
fn apply(dir: &Path) {
    let out = run(
        dir,
        &[
            "apply",
            "orders.yaml",
            "--sandbox",
            "--ledger",
            "ledger.csv",
            "--yes",
        ],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
}

fn records(dir: &Path, args: &[&str]) -> Vec<Value> {
    let mut all = vec![
        "dcv",
        "orders.yaml",
        "--format",
        "json",
        "--sandbox",
        "--ledger",
        "ledger.csv",
    ];
    all.extend_from_slice(args);
    let out = run(dir, &all);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let doc: Value = serde_json::from_str(&out.stdout).expect("one JSON document");
    doc["records"].as_array().expect("records").clone()
}

#[test]
fn sectigo_records_are_the_hashes_of_the_csr_as_openssl_computes_them() {
    let dir = scratch("dcv-openssl");
    let cases = [
        (
            "cname",
            "comodo-positivessl",
            "shop-api.csr",
            "api.shop.example",
            "CNAME_CSR_HASH",
            None,
        ),
        (
            "cname-u",
            "comodo-positivessl",
            "shop-api.csr",
            "api.shop.example",
            "CNAME_CSR_HASH",
            Some("u7x9k2"),
        ),
        (
            "http",
            "comodo-positivessl",
            "shop-api.csr",
            "api.shop.example",
            "HTTP_CSR_HASH",
            None,
        ),
        (
            "https-u",
            "comodo-positivessl",
            "shop-api.csr",
            "api.shop.example",
            "HTTPS_CSR_HASH",
            Some("q1w2e3"),
        ),
        (
            "wild",
            "comodo-positivessl-wildcard",
            "cdn-wildcard.csr",
            "*.cdn.shop.example",
            "CNAME_CSR_HASH",
            None,
        ),
        (
            "wild-u",
            "comodo-positivessl-wildcard",
            "cdn-wildcard.csr",
            "*.cdn.shop.example",
            "CNAME_CSR_HASH",
            Some("z9"),
        ),
    ];
    let mut text = HEAD.to_owned();
    for (key, product, csr, name, method, unique) in cases {
        text.push_str(&order(key, product, csr, name, method, unique));
    }
    std::fs::write(dir.join("orders.yaml"), text).expect("manifest");
    let got = records(&dir, &[]);
    assert_eq!(got.len(), cases.len(), "{got:#?}");
    for ((key, _, csr, name, method, unique), r) in cases.iter().zip(&got) {
        let (md5, sha) = openssl_hashes(&dir, csr);
        let base = name.trim_start_matches("*.");
        let tail = unique.map_or(String::new(), |u| format!(".{u}"));
        assert_eq!(r["key"], *key);
        assert_eq!(r["source"], "csr", "{r}");
        assert_eq!(r["state"], "to-publish");
        if method.starts_with("CNAME") {
            assert_eq!(r["type"], "CNAME");
            assert_eq!(r["name"], format!("_{md5}.{base}"), "{key}");
            assert_eq!(
                r["value"],
                format!("{}.{}{tail}.sectigo.com", &sha[..32], &sha[32..]),
                "{key}"
            );
        } else {
            let scheme = if method.starts_with("HTTPS") {
                "https"
            } else {
                "http"
            };
            assert_eq!(r["type"], "FILE");
            assert_eq!(
                r["url"],
                format!("{scheme}://{base}/.well-known/pki-validation/{md5}.txt")
            );
            let content = match unique {
                Some(u) => format!("{sha}\nsectigo.com\n{u}"),
                None => format!("{sha}\nsectigo.com"),
            };
            assert_eq!(r["content"], content, "{key}");
        }
    }
    // The zone lines are the same records, absolute, ready for nsupdate.
    let zone = run(
        &dir,
        &[
            "dcv",
            "orders.yaml",
            "--format",
            "zone",
            "--sandbox",
            "--ledger",
            "ledger.csv",
            "--ttl",
            "60",
        ],
    );
    let (md5, sha) = openssl_hashes(&dir, "cdn-wildcard.csr");
    assert!(
        zone.stdout.contains(&format!(
            "_{md5}.cdn.shop.example. 60 IN CNAME {}.{}.sectigo.com.\n",
            &sha[..32],
            &sha[32..]
        )),
        "{}",
        zone.stdout
    );
    assert_eq!(
        zone.stdout.lines().count(),
        4,
        "DNS records only: {}",
        zone.stdout
    );
}

#[test]
fn placed_orders_show_what_the_api_said_and_the_webroot_gets_the_files() {
    let dir = scratch("dcv-placed");
    two_orders(&dir);
    let before = records(&dir, &[]);
    apply(&dir);
    let ledger = std::fs::read_to_string(dir.join("ledger.csv")).expect("ledger");
    assert!(
        ledger
            .lines()
            .next()
            .is_some_and(|h| h.ends_with(",request_fields,dcv"))
    );
    let after = records(&dir, &["--webroot", "www"]);
    assert_eq!(after.len(), 2);
    for (b, a) in before.iter().zip(&after) {
        assert_eq!(a["source"], "api", "{a}");
        for field in ["type", "name", "value", "url", "content"] {
            assert_eq!(
                a[field], b[field],
                "the API's record is the computed one: {field}"
            );
        }
    }
    let file = after[0]["url"]
        .as_str()
        .expect("url")
        .rsplit('/')
        .next()
        .expect("file");
    let written = std::fs::read_to_string(
        dir.join("www/api.shop.example/.well-known/pki-validation")
            .join(file),
    )
    .expect("the file is in the webroot");
    assert_eq!(written, after[0]["content"].as_str().expect("content"));
}

#[test]
fn a_hostile_dcv_cell_cannot_write_outside_the_webroot_nor_break_a_zone() {
    let dir = scratch("dcv-hostile");
    two_orders(&dir);
    apply(&dir);
    // Someone edits the ledger's cells: a file name that climbs, a record that injects.
    let ledger = std::fs::read_to_string(dir.join("ledger.csv")).expect("ledger");
    let evil = ledger
        .replace(
            r#"""file_name"":""8FF977F9BA764E122FDE2767DB71A4AE.txt"""#,
            r#"""file_name"":""../../../escaped.txt"""#,
        )
        .replace(
            r#"""dns_value"":""D3A"#,
            r#"""dns_value"":""x.example.\n@ 60 IN A 1.2.3.4 ; D3A"#,
        );
    assert_ne!(evil, ledger, "the cells were found");
    std::fs::write(dir.join("ledger.csv"), evil).expect("edit");
    let out = run(
        &dir,
        &[
            "dcv",
            "orders.yaml",
            "--sandbox",
            "--ledger",
            "ledger.csv",
            "--webroot",
            "www",
            "--format",
            "zone",
        ],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    // What the edited cells say is not taken: the records computed from the CSR are.
    assert!(!out.stderr.contains("escaped"), "{}", out.stderr);
    let written: Vec<_> = walk(&dir.join("www"));
    assert_eq!(written.len(), 1, "{written:?}");
    assert!(
        written[0].ends_with(
            "api.shop.example/.well-known/pki-validation/8FF977F9BA764E122FDE2767DB71A4AE.txt"
        ),
        "{written:?}"
    );
    assert!(
        !out.stdout.contains("IN A") && out.stdout.contains("sectigo.com."),
        "{}",
        out.stdout
    );
    let listed = records(&dir, &[]);
    assert!(listed.iter().all(|r| r["source"] == "csr"), "{listed:#?}");
}

fn walk(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p.display().to_string());
        }
    }
    out
}
