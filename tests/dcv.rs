//! Domain control validation: what `dcv` says each name needs, checked against values
//! worked out independently (openssl), through the sandbox, and with hostile ledgers.

use std::path::Path;
use std::process::Command;

use serde_json::{Value, json};

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

/// `dcv orders.yaml --sandbox --ledger ledger.csv EXTRA...` in `dir`, however it ends.
fn dcv_run(dir: &Path, extra: &[&str]) -> common::Run {
    let mut all = vec!["dcv", "orders.yaml", "--sandbox", "--ledger", "ledger.csv"];
    all.extend_from_slice(extra);
    run(dir, &all)
}

/// [`dcv_run`], which must succeed.
fn dcv(dir: &Path, extra: &[&str]) -> common::Run {
    let out = dcv_run(dir, extra);
    assert_eq!(out.code, 0, "{}", out.stderr);
    out
}

/// The document `dcv --format json EXTRA...` prints.
fn document(dir: &Path, extra: &[&str]) -> Value {
    let mut all = vec!["--format", "json"];
    all.extend_from_slice(extra);
    serde_json::from_str(&dcv(dir, &all).stdout).expect("one JSON document")
}

fn records(dir: &Path, extra: &[&str]) -> Vec<Value> {
    document(dir, extra)["records"]
        .as_array()
        .expect("records")
        .clone()
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
    let zone = dcv(&dir, &["--format", "zone", "--ttl", "60"]);
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

/// An order without a CSR (NicSRS generates the key): nothing can be computed before it
/// is placed.
fn order_without_csr(key: &str, name: &str, method: &str) -> String {
    format!(
        "  - key: {key}\n    productCode: comodo-positivessl\n    params:\n      domainInfo:\n        - {{ domainName: \"{name}\", dcvMethod: {method} }}\n"
    )
}

/// The manifest of the placed-order tests: one order with a CSR, two without.
fn placed_manifest(dir: &Path) {
    let mut text = HEAD.to_owned();
    text.push_str(&order(
        "http",
        "comodo-positivessl",
        "shop-api.csr",
        "api.shop.example",
        "HTTP_CSR_HASH",
        None,
    ));
    text.push_str(&order_without_csr(
        "cname",
        "gen.shop.example",
        "CNAME_CSR_HASH",
    ));
    text.push_str(&order_without_csr(
        "genfile",
        "files.shop.example",
        "HTTP_CSR_HASH",
    ));
    std::fs::write(dir.join("orders.yaml"), text).expect("manifest");
}

#[test]
fn the_apis_records_are_recorded_and_shown_once_placed_and_the_webroot_gets_the_files() {
    let dir = scratch("dcv-placed");
    placed_manifest(&dir);
    let before = records(&dir, &[]);
    assert_eq!(before.len(), 1, "only what can be computed: {before:#?}");
    assert_eq!(before[0]["source"], "csr");
    let later = |dir: &Path| {
        let text = dcv(dir, &[]).stdout;
        (text, document(dir, &[])["known_once_placed"].clone())
    };
    let (text, count) = later(&dir);
    assert_eq!(
        count, 2,
        "the names of the two orders without a CSR are counted"
    );
    assert!(
        text.contains("2 more names of orders not placed yet: known once placed"),
        "{text}"
    );
    apply(&dir);
    let (text, count) = later(&dir);
    assert_eq!(count, 0);
    assert!(!text.contains("not placed yet"), "{text}");
    let ledger = std::fs::read_to_string(dir.join("ledger.csv")).expect("ledger");
    assert!(
        ledger
            .lines()
            .next()
            .is_some_and(|h| h.ends_with(",request_fields,dcv"))
    );
    let file = before[0]["url"]
        .as_str()
        .expect("url")
        .rsplit('/')
        .next()
        .expect("file");
    assert!(
        ledger.contains(&format!("\"\"file_name\"\":\"\"{file}\"\"")),
        "the API's record, the computed one, is in the ledger: {ledger}"
    );
    let after = records(&dir, &["--webroot", "www"]);
    assert_eq!(after.len(), 3, "{after:#?}");
    assert_eq!(after[0], before[0], "computed before and after");
    let (cname, genfile) = (&after[1], &after[2]);
    assert_eq!(
        (&cname["source"], &cname["type"], &cname["state"]),
        (&json!("api"), &json!("CNAME"), &json!("to-publish"))
    );
    let name = cname["name"].as_str().expect("name");
    assert!(
        name.starts_with('_') && name.ends_with(".gen.shop.example"),
        "{cname}"
    );
    assert!(
        cname["value"]
            .as_str()
            .is_some_and(|v| v.ends_with(".sectigo.com")),
        "{cname}"
    );
    assert_eq!(
        (&genfile["source"], &genfile["type"]),
        (&json!("api"), &json!("FILE"))
    );
    let url = genfile["url"].as_str().expect("url");
    assert!(
        url.starts_with("http://files.shop.example/.well-known/pki-validation/")
            && url.ends_with(".txt"),
        "{url}"
    );
    for r in [&after[0], genfile] {
        let host = r["domain"].as_str().expect("domain");
        let file = r["url"]
            .as_str()
            .expect("url")
            .rsplit('/')
            .next()
            .expect("file");
        let written = std::fs::read_to_string(
            dir.join("www")
                .join(host)
                .join(".well-known/pki-validation")
                .join(file),
        )
        .expect("the file is in the webroot");
        assert_eq!(written, r["content"].as_str().expect("content"));
    }
}

/// Sets `field` of every name in every `dcv` cell of a ledger's text to `value`.
fn set_field(ledger: &str, field: &str, value: &str) -> String {
    let start = format!("\"\"{field}\"\":\"\"");
    let mut out = String::new();
    let mut rest = ledger;
    while let Some(at) = rest.find(&start) {
        let from = at + start.len();
        out.push_str(&rest[..from]);
        out.push_str(value);
        let end = rest[from..].find("\"\"").expect("the value ends");
        rest = &rest[from + end..];
    }
    out.push_str(rest);
    out
}

#[test]
fn a_hostile_dcv_cell_writes_no_file_and_no_record_that_a_ca_would_not_ask_for() {
    let dir = scratch("dcv-hostile");
    placed_manifest(&dir);
    apply(&dir);
    // Someone edits the ledger's cells: a web shell, a file name that climbs, a CNAME of a
    // live name to their host, a zone line injected.
    let ledger = std::fs::read_to_string(dir.join("ledger.csv")).expect("ledger");
    for (field, value) in [
        ("file_name", "shell.php"),
        ("file_name", "../../../escaped.txt"),
        ("dns_name", "gen.shop.example"),
        ("dns_value", "x.example.\\n@ 60 IN A 1.2.3.4"),
        ("dns_value", "attacker.example"),
        ("dns_name", "_x.other.example"),
    ] {
        let evil = set_field(&ledger, field, value);
        assert_ne!(evil, ledger, "{field} was found");
        std::fs::write(dir.join("ledger.csv"), evil).expect("edit");
        let _ = std::fs::remove_dir_all(dir.join("www"));
        let out = dcv(&dir, &["--webroot", "www", "--format", "zone"]);
        let written = walk(&dir.join("www"));
        // The file computed from the CSR, and the API's file unless its cell was edited:
        // what an edited cell says is not taken.
        let files = usize::from(!field.starts_with("file")) + 1;
        assert_eq!(written.len(), files, "{field}={value}: {written:?}");
        assert!(written.iter().any(|w| w.ends_with(
            "api.shop.example/.well-known/pki-validation/8FF977F9BA764E122FDE2767DB71A4AE.txt"
        )));
        assert!(
            written.iter().all(|w| w.contains("/www/api.shop.example/")
                || w.contains("/www/files.shop.example/.well-known/pki-validation/")),
            "{written:?}"
        );
        assert!(
            !out.stdout.contains("IN A")
                && !out.stdout.contains("attacker")
                && !out.stdout.contains("other.example"),
            "{field}={value}: {}",
            out.stdout
        );
        assert!(
            out.stderr
                .contains("the ledger's `dcv` record is not one a CA's validation uses"),
            "the refusal is said: {}",
            out.stderr
        );
        let listed = records(&dir, &[]);
        let edited = if field.starts_with("file") {
            &listed[2]
        } else {
            &listed[1]
        };
        assert_eq!(
            (&edited["state"], &edited["source"]),
            (&json!("unknown"), &json!("")),
            "{field}={value}: {edited}"
        );
    }
    assert!(!dir.join("escaped.txt").exists());
    // A folder of the webroot that is a link to elsewhere is not written through.
    std::fs::write(dir.join("ledger.csv"), &ledger).expect("restore");
    let _ = std::fs::remove_dir_all(dir.join("www"));
    std::fs::create_dir_all(dir.join("www")).expect("www");
    std::fs::create_dir_all(dir.join("elsewhere")).expect("elsewhere");
    std::os::unix::fs::symlink(dir.join("elsewhere"), dir.join("www/api.shop.example"))
        .expect("link");
    let out = dcv_run(&dir, &["--webroot", "www"]);
    assert_eq!(
        out.code, 1,
        "a file not written is a failure: {}",
        out.stderr
    );
    assert!(out.stderr.contains("symbolic link"), "{}", out.stderr);
    assert!(walk(&dir.join("elsewhere")).is_empty());
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

/// How many calls `server` received at `endpoint`.
fn calls(server: &common::server::Server, endpoint: &str) -> u64 {
    server.stats()["requests"][endpoint].as_u64().unwrap_or(0)
}

#[test]
fn a_changed_method_of_a_pending_order_sends_one_update_dcv_per_changed_name_and_places_nothing() {
    use common::server::{Server, run_on};
    let dir = scratch("dcv-update");
    let server = Server::start(nicsrs_batch::sandbox::Config {
        // Orders stay pending: validation has not happened.
        issue_after: std::time::Duration::from_secs(3600),
        ..nicsrs_batch::sandbox::Config::default()
    });
    let write = |www: &str, shop: &str| {
        let manifest = format!(
            "{HEAD}  - key: multi\n    productCode: comodo-positive-multi-domain\n    params:\n      csr: {{ file: {root}/examples/csr/shop-www.csr }}\n      domainInfo:\n        - {{ domainName: shop.example, {shop} }}\n        - {{ domainName: www.shop.example, {www} }}\n  - key: single\n    productCode: comodo-positivessl\n    params:\n      csr: {{ file: {root}/examples/csr/shop-api.csr }}\n      domainInfo:\n        - {{ domainName: api.shop.example, dcvMethod: CNAME_CSR_HASH }}\n",
            root = root().display()
        );
        std::fs::write(dir.join("orders.yaml"), manifest).expect("manifest");
    };
    let ok = |args: &[&str]| {
        let out = run_on(&dir, &server, "sandbox", args);
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        assert_eq!(
            out.status.code(),
            Some(0),
            "{text}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        text
    };
    write("dcvMethod: HTTP_CSR_HASH", "dcvMethod: CNAME_CSR_HASH");
    ok(&["apply", "orders.yaml", "--yes"]);
    assert_eq!(calls(&server, "place"), 2);

    // One name of one order changes its method, the other name of it its approver.
    write(
        "dcvMethod: CNAME_CSR_HASH",
        "dcvMethod: EMAIL, dcvEmail: admin@shop.example",
    );
    let plan = ok(&["plan", "orders.yaml"]);
    assert!(
        plan.contains("update-dcv multi"),
        "the plan shows the step:\n{plan}"
    );
    assert!(
        plan.contains("www.shop.example CNAME_CSR_HASH")
            && plan.contains("shop.example EMAIL admin@shop.example"),
        "{plan}"
    );
    assert!(plan.contains("0 to place"), "{plan}");
    ok(&["apply", "orders.yaml", "--yes"]);
    assert_eq!(calls(&server, "updateDCV"), 2, "one call per changed name");
    assert_eq!(calls(&server, "place"), 2, "nothing placed again");
    // NicSRS holds them now.
    let found = server.call("certIdByrefId", &[("refId", "dcv-multi")]);
    let cert = found["data"]["certId"].as_str().expect("certId");
    let held = server.call("collect", &[("certId", cert)]);
    let list = held["data"]["dcvList"].as_array().expect("dcvList");
    let method = |name: &str| {
        list.iter()
            .find(|d| d["domainName"] == name)
            .map(|d| (d["dcvMethod"].clone(), d["dcvEmail"].clone()))
    };
    assert_eq!(
        method("www.shop.example"),
        Some((json!("CNAME_CSR_HASH"), json!("")))
    );
    assert_eq!(
        method("shop.example"),
        Some((json!("EMAIL"), json!("admin@shop.example")))
    );
    let ledger = std::fs::read_to_string(dir.join("ledger.csv")).expect("ledger");
    let rows: Vec<&str> = ledger
        .lines()
        .filter(|l| l.contains(",update-dcv,"))
        .collect();
    assert_eq!(rows.len(), 2, "each call has its row:\n{ledger}");

    // Converged: the next plan and apply have nothing to do, and no warning of a change.
    let plan = ok(&["plan", "orders.yaml"]);
    assert!(!plan.contains("update-dcv"), "{plan}");
    assert!(!plan.contains("warning"), "{plan}");
    ok(&["apply", "orders.yaml", "--yes"]);
    assert_eq!(calls(&server, "updateDCV"), 2);
    assert_eq!(calls(&server, "place"), 2);

    // The ledger loses every row of `multi` but its update-dcv ones: those name its
    // certificate, so it is looked up before anything is sent, even with --trust-ledger.
    let lost: String = ledger
        .lines()
        .enumerate()
        .filter(|(i, l)| *i == 0 || l.contains(",update-dcv,") || l.contains(",single,"))
        .map(|(_, l)| format!("{l}\n"))
        .collect();
    std::fs::write(dir.join("ledger.csv"), lost).expect("lose rows");
    ok(&["apply", "orders.yaml", "--yes", "--trust-ledger"]);
    assert_eq!(calls(&server, "place"), 2, "nothing bought again");
    // The same, with those rows under another key (a key renamed): its refId is known.
    let renamed: String = ledger
        .lines()
        .enumerate()
        .filter(|(i, l)| *i == 0 || l.contains(",update-dcv,") || l.contains(",single,"))
        .map(|(_, l)| {
            format!(
                "{}\n",
                l.replace(",update-dcv,multi,", ",update-dcv,renamed,")
            )
        })
        .collect();
    assert!(renamed.contains(",renamed,"));
    std::fs::write(dir.join("ledger.csv"), renamed).expect("rename");
    ok(&["apply", "orders.yaml", "--yes", "--trust-ledger"]);
    assert_eq!(
        calls(&server, "place"),
        2,
        "nothing bought again under a new key"
    );
}

/// A web server that answers each host with something hostile, for `dcv --check`.
fn hostile_web_server() -> std::net::SocketAddr {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut request = Vec::new();
            let mut buf = [0u8; 1024];
            while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                match stream.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => request.extend_from_slice(&buf[..n]),
                }
            }
            let request = String::from_utf8_lossy(&request).to_ascii_lowercase();
            let reply: Vec<u8> = if request.contains("host: api.shop.example") {
                b"HTTP/1.1 302 Found\r\nLocation: http://127.0.0.1:9/elsewhere\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".to_vec()
            } else if request.contains("host: shop.example") {
                let body = "A".repeat(1 << 20);
                format!(
                    "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                )
                .into_bytes()
            } else {
                let body = "\x1b]0;pwned\x07\x1b[2J\u{202e}evil";
                format!(
                    "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                )
                .into_bytes()
            };
            let _ = stream.write_all(&reply);
        }
    });
    addr
}

#[test]
fn dcv_check_reports_hostile_answers_bounded_and_escaped_and_follows_no_redirect() {
    let dir = scratch("dcv-check-hostile");
    let mut text = HEAD.to_owned();
    text.push_str(&order(
        "api",
        "comodo-positivessl",
        "shop-api.csr",
        "api.shop.example",
        "HTTP_CSR_HASH",
        None,
    ));
    text.push_str(&format!(
        "  - key: shop\n    productCode: comodo-positive-multi-domain\n    params:\n      csr: {{ file: {root}/examples/csr/shop-www.csr }}\n      domainInfo:\n        - {{ domainName: shop.example, dcvMethod: HTTP_CSR_HASH }}\n        - {{ domainName: www.shop.example, dcvMethod: HTTP_CSR_HASH }}\n",
        root = root().display()
    ));
    std::fs::write(dir.join("orders.yaml"), text).expect("manifest");
    let web = hostile_web_server().to_string();
    let out = dcv_run(
        &dir,
        &["--check", "--resolver", "127.0.0.1:9", "--connect-to", &web],
    );
    assert_eq!(
        out.code, 3,
        "not all right: exit 3\n{}{}",
        out.stdout, out.stderr
    );
    assert!(
        out.stdout.contains("WRONG: found HTTP 302 to http://127.0.0.1:9/elsewhere (the CA may not follow redirects)"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout
            .contains("WRONG: found a file of more than 8192 bytes"),
        "{}",
        out.stdout
    );
    assert!(
        !out.stdout.contains('\x1b') && !out.stdout.contains('\u{202e}'),
        "escapes are shown escaped: {:?}",
        out.stdout
    );
    assert!(out.stdout.contains("\\u{001b}]0;pwned"), "{}", out.stdout);
    assert!(
        out.stdout.len() < 4096,
        "bounded output: {} bytes",
        out.stdout.len()
    );
}

#[test]
fn a_webroot_that_cannot_be_written_is_reported_and_the_records_are_still_shown() {
    let dir = scratch("dcv-webroot-file");
    let mut text = HEAD.to_owned();
    text.push_str(&order(
        "api",
        "comodo-positivessl",
        "shop-api.csr",
        "api.shop.example",
        "HTTP_CSR_HASH",
        None,
    ));
    std::fs::write(dir.join("orders.yaml"), text).expect("manifest");
    std::fs::write(dir.join("www"), "a file, not a folder").expect("file");
    let out = dcv_run(&dir, &["--webroot", "www"]);
    assert_eq!(out.code, 1, "{}{}", out.stdout, out.stderr);
    assert!(
        out.stderr
            .contains("error: cannot write www/api.shop.example"),
        "{}",
        out.stderr
    );
    assert!(
        out.stdout.contains("8FF977F9BA764E122FDE2767DB71A4AE.txt"),
        "the records are shown: {}",
        out.stdout
    );
}

#[test]
fn a_record_planted_in_the_ledger_that_would_validate_someone_elses_order_is_never_published() {
    let dir = scratch("dcv-planted");
    placed_manifest(&dir);
    apply(&dir);
    let ledger = std::fs::read_to_string(dir.join("ledger.csv")).expect("ledger");
    // An ACME challenge, a site verification, a DKIM key: shaped like nothing the CA
    // family asks for, so not even listed.
    for (field, value) in [
        ("dns_name", "_acme-challenge.gen.shop.example"),
        ("dns_value", "google-site-verification=abc"),
    ] {
        std::fs::write(dir.join("ledger.csv"), set_field(&ledger, field, value)).expect("edit");
        let out = dcv(&dir, &["--format", "zone"]);
        assert!(
            !out.stdout.contains("acme") && !out.stdout.contains("google"),
            "{field}={value}: {}",
            out.stdout
        );
    }
    // A record of the very shape the CA asks for, but for another CSR (the attacker's own
    // order): listed as the ledger says, never written before the API confirms it.
    let other_md5 = "0123456789ABCDEF0123456789ABCDEF";
    let evil = set_field(&ledger, "file_name", &format!("{other_md5}.txt"));
    std::fs::write(dir.join("ledger.csv"), &evil).expect("edit");
    let listed = records(&dir, &[]);
    assert!(
        listed
            .iter()
            .any(|r| r["url"].as_str().is_some_and(|u| u.contains(other_md5))),
        "{listed:#?}"
    );
    let _ = std::fs::remove_dir_all(dir.join("www"));
    let out = dcv_run(&dir, &["--webroot", "www"]);
    assert_eq!(
        out.code, 1,
        "a record left out fails the run: {}",
        out.stderr
    );
    assert!(
        out.stderr.contains(
            "files.shop.example: the ledger's record is not what NicSRS says now; not published"
        ),
        "{}",
        out.stderr
    );
    let written = walk(&dir.join("www"));
    assert!(
        written.iter().all(|w| !w.contains(other_md5)),
        "{written:?}"
    );
    assert!(
        !written
            .iter()
            .any(|w| w.contains("/www/files.shop.example/")),
        "the planted file is not written: {written:?}"
    );
    // The certId of another order of the account put on the key's rows: its records are
    // not this key's, whatever collect says of that certificate.
    let cert_of = |key: &str| {
        ledger
            .lines()
            .find(|l| l.contains(&format!(",placed,{key},")))
            .and_then(|l| l.split(',').nth(5))
            .expect("a placed row")
            .to_owned()
    };
    let (ours, theirs) = (cert_of("genfile"), cert_of("cname"));
    let swapped: String = ledger
        .lines()
        .map(|l| {
            if l.contains(",genfile,") {
                format!("{}\n", l.replace(&ours, &theirs))
            } else {
                format!("{l}\n")
            }
        })
        .collect();
    std::fs::write(dir.join("ledger.csv"), swapped).expect("swap");
    let _ = std::fs::remove_dir_all(dir.join("www"));
    let out = dcv_run(&dir, &["--webroot", "www"]);
    assert!(
        out.stderr
            .contains("genfile: its certificate in the ledger is not the one its refId finds"),
        "{}",
        out.stderr
    );
    assert!(
        !walk(&dir.join("www"))
            .iter()
            .any(|w| w.contains("/www/files.shop.example/"))
    );
    // With the ledger as the API left it, the file is confirmed and written.
    std::fs::write(dir.join("ledger.csv"), &ledger).expect("restore");
    let _ = std::fs::remove_dir_all(dir.join("www"));
    dcv(&dir, &["--webroot", "www"]);
    assert!(
        walk(&dir.join("www"))
            .iter()
            .any(|w| w.contains("/www/files.shop.example/"))
    );
}

#[test]
fn a_placed_order_whose_csr_changed_is_validated_with_the_csr_it_was_sent_with() {
    let dir = scratch("dcv-new-csr");
    let mut text = HEAD.to_owned();
    text.push_str(&order(
        "api",
        "comodo-positivessl",
        "shop-api.csr",
        "api.shop.example",
        "CNAME_CSR_HASH",
        None,
    ));
    std::fs::write(dir.join("orders.yaml"), &text).expect("manifest");
    apply(&dir);
    let (sent_md5, _) = openssl_hashes(&dir, "shop-api.csr");
    // A new key for the same name, before the certificate is issued.
    let ok = Command::new("openssl")
        .args([
            "req",
            "-new",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
        ])
        .args(["-nodes", "-subj", "/CN=api.shop.example"])
        .args(["-addext", "subjectAltName=DNS:api.shop.example"])
        .args(["-keyout", "new.key", "-out", "new.csr"])
        .current_dir(&dir)
        .output()
        .expect("openssl");
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    let new = text.replace(
        &format!("{}/examples/csr/shop-api.csr", root().display()),
        "new.csr",
    );
    assert_ne!(new, text);
    std::fs::write(dir.join("orders.yaml"), new).expect("manifest");
    let listed = records(&dir, &[]);
    assert_eq!(listed.len(), 1, "{listed:#?}");
    assert_eq!(listed[0]["source"], "api", "{listed:#?}");
    assert_eq!(
        listed[0]["name"],
        format!("_{sent_md5}.api.shop.example"),
        "the record of the CSR NicSRS holds"
    );
}
