//! The certificate lifecycle as a user runs it against a sandbox over real HTTP: orders
//! placed, refreshed, moved into their `renewBefore` window (the sandbox issues short-lived
//! certificates), planned, renewed and reissued exactly once through faults and `kill -9`,
//! refreshed again, and planned again with nothing to do.

use std::path::Path;
use std::time::Duration;

use nicsrs_batch::ledger::{self, Api, Event};
use nicsrs_batch::sandbox::Config;
use nicsrs_batch::sandbox::faults::{Faults, Latency};
use serde_json::Value;

mod common;

use common::server::{Server, apply, apply_until_done, kill_9_after_rows, nicsrs, run_on, text};

/// How long the first sandbox takes to issue a certificate (collect says PENDING until then).
const ISSUE_AFTER: Duration = Duration::from_secs(2);

const CONTACT: &str = "    Administrator:\n      job: Ops\n      firstName: Sam\n      lastName: Ortega\n      email: ops@hosting.example\n      mobile: \"+1 415 555 0100\"\n      organization: Example Hosting Inc.\n      address: 500 Market Street\n      city: San Francisco\n      state: California\n      postCode: \"94105\"\n      country: US\n";

/// One order of a test manifest, and the key pair of its CSR.
struct Site {
    key: String,
    pair: rcgen::KeyPair,
}

/// A key pair and a CSR (PEM) for `name`.
fn new_csr(name: &str) -> (rcgen::KeyPair, String) {
    let pair = rcgen::KeyPair::generate().expect("key pair");
    let mut params = rcgen::CertificateParams::new(vec![name.to_owned()]).expect("params");
    params.distinguished_name = rcgen::DistinguishedName::new();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, name);
    let csr = params
        .serialize_request(&pair)
        .expect("CSR")
        .pem()
        .expect("PEM");
    (pair, csr)
}

/// Writes `orders.yaml` (or `file`) in `dir`: for each `(key, extra)` a DV order with a CSR
/// of its own (written under `csr/`), `extra` added to the order as written.
fn manifest_with_csrs(dir: &Path, file: &str, orders: &[(String, String)]) -> Vec<Site> {
    std::fs::create_dir_all(dir.join("csr")).expect("csr dir");
    let mut s = format!(
        "version: 1\nrefIdPrefix: lc-\ndefaults:\n  productCode: comodo-positivessl\n  years: 1\n  params:\n    server: nginx\n{CONTACT}orders:\n"
    );
    let mut sites = Vec::new();
    for (key, extra) in orders {
        let name = format!("www.{key}.example");
        let (pair, csr) = new_csr(&name);
        std::fs::write(dir.join(format!("csr/{key}.csr")), csr).expect("write CSR");
        s.push_str(&format!(
            "  - key: {key}\n{extra}    params:\n      csr: {{ file: csr/{key}.csr }}\n      domainInfo:\n        - {{ domainName: {name}, dcvMethod: HTTP_CSR_HASH }}\n"
        ));
        sites.push(Site {
            key: key.clone(),
            pair,
        });
    }
    std::fs::write(dir.join(file), s).expect("manifest");
    sites
}

/// `renew-NNNN` orders with a window of 400 days (a 1-year subscription is due at once)
/// and `reissue-NNNN` orders with a third of the certificate's lifetime.
fn wave(renewals: usize, reissues: usize) -> Vec<(String, String)> {
    let mut orders: Vec<(String, String)> = (0..renewals)
        .map(|i| (format!("renew-{i:04}"), "    renewBefore: 400d\n".into()))
        .collect();
    orders.extend(
        (0..reissues).map(|i| (format!("reissue-{i:04}"), "    renewBefore: 33%\n".into())),
    );
    orders
}

/// An order of `orders.yaml` without a CSR: NicSRS generates its key.
const GENERATED: &str = "  - key: generated\n    renewBefore: 400d\n    params:\n      domainInfo:\n        - { domainName: www.generated.example, dcvMethod: HTTP_CSR_HASH }\n";

/// The public key (SubjectPublicKeyInfo's key bits) of a PEM certificate.
fn cert_key(path: &Path) -> Vec<u8> {
    let pem = std::fs::read_to_string(path).expect("certificate written");
    let (_, pem) = x509_parser::pem::parse_x509_pem(pem.as_bytes()).expect("PEM");
    let cert = pem.parse_x509().expect("X.509");
    cert.public_key().subject_public_key.data.to_vec()
}

/// How long ago the sandbox counts orders placed now as placed: their first certificates
/// (20 days) have 5 days left, inside every window of the wave, while the certificates the
/// wave brings are new.
const PLACED_AGE: Duration = Duration::from_secs(15 * 86_400);

/// A sandbox keeping its orders in `state`, issuing certificates valid for `days`
/// `issue_after` an order, orders placed now counted as placed [`PLACED_AGE`] ago.
fn sandbox(state: &Path, days: u32, issue_after: Duration, faults: Faults) -> Server {
    Server::start(Config {
        state: Some(state.to_owned()),
        validity_days: days,
        issue_after,
        placed_age: PLACED_AGE,
        faults,
        seed: 7,
        ..Config::default()
    })
}

fn plan_json(dir: &Path, server: &Server) -> Value {
    let out = run_on(
        dir,
        server,
        "",
        &["plan", "orders.yaml", "--format", "json"],
    );
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("plan JSON: {e}\n{}{}", text(&out.stdout), text(&out.stderr)))
}

/// `plan --detailed-exitcode`: its exit code and text.
fn plan_text(dir: &Path, server: &Server) -> (Option<i32>, String) {
    let out = run_on(
        dir,
        server,
        "",
        &["plan", "orders.yaml", "--detailed-exitcode"],
    );
    (out.status.code(), text(&out.stdout))
}

/// `refresh EXTRA`, which must succeed; its report.
fn refresh(dir: &Path, server: &Server, extra: &[&str]) -> String {
    let out = run_on(dir, server, "sandbox", &[&["refresh"], extra].concat());
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    text(&out.stdout)
}

/// Every key's rows of `event`.
fn rows_of(dir: &Path, event: Event) -> Vec<ledger::Row> {
    ledger::all_rows(&dir.join("ledger.csv"), Api::Sandbox)
        .expect("ledger")
        .into_iter()
        .filter(|r| r.event == event)
        .collect()
}

fn assert_each_once(server: &Server, renewed: usize, reissued: usize) {
    let st = server.stats();
    assert_eq!(
        st["undocumented_fields"],
        serde_json::json!({}),
        "every call sends only what its NicSRS page documents"
    );
    assert_eq!(st["duplicate_ref_ids"], serde_json::json!([]), "{st}");
    assert_eq!(
        st["renewed_or_reissued_twice"],
        serde_json::json!([]),
        "{st}"
    );
    assert_eq!(st["orders_renewed"], renewed, "{}", st["faults"]);
    assert_eq!(st["orders_reissued"], reissued, "{}", st["faults"]);
}

#[test]
fn a_renewal_wave_is_planned_applied_once_through_faults_and_then_there_is_nothing_to_do() {
    let dir = common::scratch("lifecycle-wave");
    let state = dir.join("sandbox.json");
    let server = sandbox(&state, 20, ISSUE_AFTER, Faults::default());
    // A certificate bought outside the tool (an older script with its own ledger).
    manifest_with_csrs(&dir, "portal.yaml", &[("legacy".to_owned(), String::new())]);
    let out = nicsrs(&dir, "sandbox")
        .args(["apply", "portal.yaml", "--yes", "--ledger", "portal.csv"])
        .args(["--endpoint", &server.url])
        .output()
        .expect("apply");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let legacy = ledger::read(&dir.join("portal.csv"), Api::Sandbox).expect("ledger");
    let legacy_id = legacy.states()["legacy"]
        .current
        .expect("placed")
        .cert_id
        .clone();
    // Adopted by the manifest under a key of its own, with a CSR for the renewal.
    let mut orders = wave(30, 30);
    orders.push((
        "adopted".into(),
        format!("    renewalOf: {legacy_id}\n    renewBefore: 400d\n"),
    ));
    let sites = manifest_with_csrs(&dir, "orders.yaml", &orders);
    let mut manifest = std::fs::read_to_string(dir.join("orders.yaml")).expect("manifest");
    manifest.push_str(GENERATED);
    std::fs::write(dir.join("orders.yaml"), manifest).expect("manifest");

    // Placed (the adopted certificate is not) and refreshed: every certificate was issued
    // for 20 days, 15 days ago, so each order is in its window.
    let out = apply(&dir, &server, &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("Plan: 61 to place, 0 to renew"),
        "{}",
        text(&out.stdout)
    );
    assert_eq!(server.stats()["orders_placed"], 62, "61 + the legacy one");
    let report = refresh(&dir, &server, &["orders.yaml"]);
    assert!(
        report.ends_with("Refreshed: 62 PENDING.\n"),
        "the adopted certificate is read too: {report}"
    );
    let doc = plan_json(&dir, &server);
    assert_eq!(doc["summary"]["nothing"], 62, "waiting for issuance");
    assert_eq!(
        doc["steps"][0]["detail"], "waiting for issuance (PENDING)",
        "{doc}"
    );
    std::thread::sleep(ISSUE_AFTER + Duration::from_millis(1100));
    let report = refresh(&dir, &server, &["orders.yaml", "--out-dir", "certs"]);
    assert!(report.ends_with("Refreshed: 62 COMPLETE.\n"), "{report}");
    let generated_key =
        std::fs::read_to_string(dir.join("certs/generated/privkey.pem")).expect("key");

    // The plan lists the wave with its reasons, before anything is spent.
    let (code, plan) = plan_text(&dir, &server);
    assert_eq!(code, Some(4), "work pending");
    for expected in [
        "  renew     renew-0000",
        "lc-renew-0000-r1",
        "^ subscription ends ",
        "within renewBefore 400d",
        "  reissue   reissue-0000",
        "lc-reissue-0000-i1",
        "^ certificate expires ",
        "(4 days), within renewBefore 33% (6 days); the subscription runs to ",
        "  renew     adopted       lc-adopted-r1",
        &format!("renews {legacy_id}"),
        "  renew     generated     lc-generated-r1",
        "with the CSR NicSRS holds for it",
        "Plan: 0 to place, 32 to renew, 30 to reissue, 0 to replace, 0 to retry, 0 to reconcile, 0 with nothing to do, 0 blocked. List price of the 32 renewals: 192.00.",
    ] {
        assert!(plan.contains(expected), "`{expected}` in\n{plan}");
    }
    let doc = plan_json(&dir, &server);
    assert_eq!(doc["summary"]["renew"], 32);
    assert_eq!(doc["summary"]["reissue"], 30);

    // Applied under every fault the sandbox has: each renewal and reissue happens once.
    drop(server);
    let server = sandbox(
        &state,
        20,
        Duration::ZERO,
        Faults {
            drop_rate: 0.15,
            timeout_rate: 0.15,
            fail_rate: 0.15,
            throttle_rate: 0.15,
            unknown_rate: 0.15,
            ..Faults::default()
        },
    );
    let refused = apply(&dir, &server, &["--max-orders", "60"]);
    assert_eq!(
        refused.status.code(),
        Some(1),
        "renewals count for --max-orders"
    );
    assert!(
        text(&refused.stderr).contains(
            "the plan would place, renew, reissue or replace 62 orders, more than --max-orders 60"
        ),
        "{}",
        text(&refused.stderr)
    );
    let before_wave = std::fs::read(dir.join("ledger.csv")).expect("ledger");
    apply_until_done(&dir, &server, "16", 8);
    assert_each_once(&server, 32, 30);
    let faults = &server.stats()["faults"];
    for f in ["dropped", "timed_out", "failed", "throttled", "unknown"] {
        assert!(
            faults[f].as_u64().unwrap_or(0) > 0,
            "{f} happened: {faults}"
        );
    }
    let renewed = rows_of(&dir, Event::Renewed);
    assert_eq!(renewed.len(), 32, "one renewed row per key");
    assert!(
        renewed
            .iter()
            .any(|r| r.key == "adopted" && r.ref_id == "lc-adopted-r1")
    );
    assert_eq!(rows_of(&dir, Event::Reissued).len(), 30);
    assert!(
        rows_of(&dir, Event::Renewing)
            .iter()
            .all(|r| r.cert_id.starts_with("SBX")),
        "a renewing row names the certificate renewed"
    );

    // Time passes: the new certificates are issued for long, and nothing is left to do.
    drop(server);
    let server = sandbox(&state, 1000, Duration::ZERO, Faults::default());
    // A ledger that lost the wave's rows (a commit that never reached Git) plans it again,
    // and apply finds every renewal and reissue by refId instead of sending it twice.
    let after_wave = std::fs::read(dir.join("ledger.csv")).expect("ledger");
    std::fs::write(dir.join("ledger.csv"), &before_wave).expect("lose the rows");
    apply_until_done(&dir, &server, "16", 8);
    assert_each_once(&server, 32, 30);
    let found = rows_of(&dir, Event::Renewed)
        .into_iter()
        .chain(rows_of(&dir, Event::Reissued))
        .filter(|r| r.message.starts_with("found by refId"))
        .count();
    assert_eq!(found, 62, "each found, none sent again");
    std::fs::write(dir.join("ledger.csv"), &after_wave).expect("restore");

    let report = refresh(&dir, &server, &["--out-dir", "certs"]);
    assert!(report.ends_with("Refreshed: 62 COMPLETE.\n"), "{report}");
    let (code, plan) = plan_text(&dir, &server);
    assert_eq!(code, Some(0), "{plan}");
    assert!(
        plan.contains(
            "0 to renew, 0 to reissue, 0 to replace, 0 to retry, 0 to reconcile, 62 with nothing to do"
        ),
        "{plan}"
    );
    let before = server.stats()["requests"].clone();
    let out = apply(&dir, &server, &[]);
    assert_eq!(out.status.code(), Some(0));
    assert!(text(&out.stdout).contains("Nothing to do."));
    assert_eq!(server.stats()["requests"], before, "nothing was sent");

    // The certificates on disk are for the keys of the CSRs; no key file for them.
    for site in &sites {
        let crt = dir.join("certs").join(&site.key).join("cert.pem");
        assert_eq!(
            cert_key(&crt),
            rcgen::PublicKeyData::der_bytes(&site.pair),
            "{}: the certificate is for the CSR's key",
            site.key
        );
        assert!(
            !dir.join("certs")
                .join(&site.key)
                .join("privkey.pem")
                .exists()
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&crt).expect("meta").permissions().mode() & 0o777;
            assert_eq!(mode, 0o644, "certificates are public");
        }
    }
    // Renewed with the CSR NicSRS held for it: NicSRS kept the key it generated.
    let key = std::fs::read_to_string(dir.join("certs/generated/privkey.pem")).expect("key");
    assert_eq!(key, generated_key, "the same key");
    let pair = rcgen::KeyPair::from_pem(&key).expect("key");
    assert_eq!(
        cert_key(&dir.join("certs/generated/cert.pem")),
        rcgen::PublicKeyData::der_bytes(&pair),
        "the renewed certificate is for the key NicSRS generated"
    );
    let status = run_on(&dir, &server, "", &["status", "orders.yaml"]);
    let s = text(&status.stdout);
    assert!(
        s.contains("renewed    adopted") && s.contains("next: nothing"),
        "{s}"
    );
    assert!(
        s.ends_with("62 keys in ledger.csv: 30 reissued, 32 renewed\n"),
        "{s}"
    );

    // A new key for one order: one replacement, free, and then nothing to do.
    let (pair, csr) = new_csr("www.reissue-0000.example");
    std::fs::write(dir.join("csr/reissue-0000.csr"), csr).expect("new CSR");
    let (code, plan) = plan_text(&dir, &server);
    assert_eq!(code, Some(4), "{plan}");
    assert!(
        plan.contains("  replace   reissue-0000  lc-reissue-0000-x1")
            && plan.contains("~ csr: ")
            && plan.contains("0 to renew, 0 to reissue, 1 to replace"),
        "{plan}"
    );
    let out = apply(&dir, &server, &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let st = server.stats();
    assert_eq!(st["orders_replaced"], 1, "{st}");
    assert_eq!(st["requests"]["replace"], 1, "one call");
    assert_each_once(&server, 32, 30);
    let report = refresh(&dir, &server, &["--out-dir", "certs"]);
    assert!(report.ends_with("Refreshed: 1 COMPLETE.\n"), "{report}");
    assert_eq!(
        cert_key(&dir.join("certs/reissue-0000/cert.pem")),
        rcgen::PublicKeyData::der_bytes(&pair),
        "the replacement is for the new key"
    );
    let (code, plan) = plan_text(&dir, &server);
    assert_eq!(code, Some(0), "nothing left: {plan}");
}

#[test]
fn kill_9_in_the_middle_of_a_wave_then_re_runs_renew_and_reissue_each_once() {
    let dir = common::scratch("lifecycle-kill");
    let state = dir.join("sandbox.json");
    let (renewals, reissues) = (40, 40);
    manifest_with_csrs(&dir, "orders.yaml", &wave(renewals, reissues));
    let server = sandbox(&state, 20, Duration::ZERO, Faults::default());
    assert_eq!(apply(&dir, &server, &[]).status.code(), Some(0));
    refresh(&dir, &server, &[]);
    drop(server);

    let server = sandbox(
        &state,
        20,
        Duration::ZERO,
        Faults {
            latency: Some(Latency::Range(
                Duration::from_millis(20),
                Duration::from_millis(80),
            )),
            drop_rate: 0.05,
            ..Faults::default()
        },
    );
    let mut interrupted = 0;
    for (rows, delay_ms) in [(1, 0u64), (4, 30), (9, 5), (6, 60), (2, 15)] {
        let killed = kill_9_after_rows(&dir, &server, "4", rows, Duration::from_millis(delay_ms));
        assert!(killed.running, "the kill hit a running apply");
        // A call killed in flight is reconciled by refId before anything is sent again.
        interrupted += plan_json(&dir, &server)["summary"]["reconcile"]
            .as_u64()
            .unwrap_or(0);
    }
    assert!(
        interrupted > 0,
        "some kill landed while a call was in flight"
    );
    let doc = plan_json(&dir, &server);
    let pending = doc["summary"]["renew"].as_u64().unwrap_or(0)
        + doc["summary"]["reissue"].as_u64().unwrap_or(0)
        + doc["summary"]["reconcile"].as_u64().unwrap_or(0)
        + doc["summary"]["retry"].as_u64().unwrap_or(0);
    assert!(pending > 0, "the kills left work: {}", doc["summary"]);
    apply_until_done(&dir, &server, "16", 4);
    assert_each_once(&server, renewals, reissues);
    let doc = plan_json(&dir, &server);
    assert_eq!(doc["summary"]["nothing"], 80, "{}", doc["summary"]);
}

/// A ledger row about `key` for the plan test.
fn row(key: &str, event: Event, cert_id: &str, ref_id: &str) -> ledger::Row {
    ledger::Row {
        time: "2027-01-01T00:00:00Z".into(),
        ref_id: ref_id.into(),
        cert_id: cert_id.into(),
        product_code: "comodo-positivessl".into(),
        years: 1,
        domains: "api.shop.example".into(),
        attempt: 1,
        manifest: "orders.yaml".into(),
        ..ledger::Row::about(Api::Sandbox, event, key)
    }
}

#[test]
fn the_plan_explains_every_lifecycle_decision() {
    use nicsrs_batch::lifecycle::format_date;
    const NOW: i64 = 1_800_000_000; // 2027-01-15 08:00:00 UTC
    let day = |d: i64| format_date(NOW + d * 86_400);
    let fixtures = common::root().join("tests/fixtures/lifecycle");
    let options = nicsrs_batch::validate::Options {
        catalog: nicsrs_batch::catalog::Catalog::builtin(),
        allow_inline_secrets: false,
    };
    let outcome =
        nicsrs_batch::validate::validate(&[fixtures.join("orders.yaml")], &options).expect("read");
    assert!(outcome.is_valid());

    let mut rows = Vec::new();
    let mut placed = |key: &str, n: usize, status: &str, not_after: i64, due: i64| {
        let cert = format!("SBX{n:010}");
        rows.push(row(key, Event::Submitting, "", key));
        let mut p = row(key, Event::Placed, &cert, key);
        p.code = Some(1);
        let order = outcome.orders.iter().find(|o| o.key == key);
        p.request_sha256 = order
            .map(|o| o.request_sha256().to_owned())
            .unwrap_or_default();
        p.request_fields = order
            .map(|o| nicsrs_batch::expand::fields_cell(&o.field_hashes()))
            .unwrap_or_default();
        rows.push(p);
        let mut s = row(key, Event::Status, &cert, key);
        s.status = status.into();
        if status == "COMPLETE" {
            s.not_before = day(-100);
            s.not_after = day(not_after);
            s.due_date = day(due);
        }
        rows.push(s);
    };
    placed("renew-due", 1, "COMPLETE", 20, 20);
    placed("reissue-due", 2, "COMPLETE", 20, 700);
    placed("no-csr", 3, "COMPLETE", 20, 20);
    placed("cancelled", 4, "CANCELLED", 0, 0);
    placed("pending", 5, "PENDING", 0, 0);
    placed("later", 6, "COMPLETE", 100, 100);
    placed("valid", 7, "COMPLETE", 150, 700);
    placed("renew-refused", 8, "COMPLETE", 10, 10);
    placed("renew-lost", 9, "COMPLETE", 10, 10);
    placed("reissue-retry", 10, "COMPLETE", 10, 400);
    placed("renewed-pending", 11, "COMPLETE", 10, 10);
    placed("replace-csr", 13, "COMPLETE", 150, 700);
    placed("replace-names", 14, "COMPLETE", 150, 700);
    placed("clamped", 15, "COMPLETE", 5, 700);
    placed("percent", 16, "COMPLETE", 30, 700);
    placed("refused-then-refreshed", 17, "COMPLETE", 10, 400);
    placed("refused-not-refreshed", 18, "COMPLETE", 10, 400);
    placed("no-csr-held", 19, "COMPLETE", 20, 20);
    placed("failed-at-ca", 20, "FAILED", 0, 0);
    placed("reissued-elsewhere", 21, "REISSUED", 0, 0);
    placed("second-renewal", 22, "COMPLETE", 300, 300);
    placed("second-reissue", 24, "COMPLETE", 300, 700);
    placed("dates-unknown", 26, "COMPLETE", 0, 0);
    placed("names-no-csr", 27, "COMPLETE", 150, 700);
    placed("retired", 28, "COMPLETE", 150, 700);
    for r in rows.iter_mut() {
        match (r.key.as_str(), r.event) {
            // Placed with another key, and for other names, than the manifest has now.
            ("replace-csr", Event::Placed) => {
                r.request_sha256 = "0".repeat(64);
                r.request_fields = r.request_fields.replace(
                    &r.request_fields[r.request_fields.find("csr=").unwrap_or(0)..][..12],
                    "csr=0badc0de",
                );
            }
            // Collected, but with no dates.
            ("dates-unknown", Event::Status) => {
                r.not_before.clear();
                r.not_after.clear();
                r.due_date.clear();
            }
            ("names-no-csr", Event::Placed) => {
                r.request_sha256 = "3".repeat(64);
                r.domains = "www.shop.example api.shop.example".into();
            }
            ("replace-names", Event::Placed) => {
                r.request_sha256 = "1".repeat(64);
                r.domains = "www.shop.example api.shop.example".into();
            }
            // A 20-day certificate with `renewBefore: 45d`, and a 100-day one with `33%`.
            ("clamped", Event::Status) => r.not_before = day(-15),
            ("percent", Event::Status) => r.not_before = day(-70),
            _ => {}
        }
    }
    let old = |n: usize| format!("SBX{n:010}");
    // A reissue refused for the certificate's state (-7): decided again once `refresh` has
    // recorded the state, blocked until then.
    for (key, n) in [
        ("refused-then-refreshed", 17),
        ("refused-not-refreshed", 18),
    ] {
        let ref_id = format!("{key}-i1");
        rows.push(row(key, Event::Reissuing, &old(n), &ref_id));
        let mut failed = row(key, Event::Failed, &old(n), &ref_id);
        failed.code = Some(-7);
        failed.message = "certificate status error: the certificate is not issued".into();
        rows.push(failed);
    }
    let mut again = row(
        "refused-then-refreshed",
        Event::Status,
        &old(17),
        "refused-then-refreshed",
    );
    again.status = "COMPLETE".into();
    again.not_before = day(-100);
    again.not_after = day(10);
    again.due_date = day(400);
    rows.push(again);
    // A placement answered with success but no certId: looked up, never sent again.
    rows.push(row(
        "success-without-cert-id",
        Event::Submitting,
        "",
        "success-without-cert-id",
    ));
    let mut odd = row(
        "success-without-cert-id",
        Event::Unknown,
        "",
        "success-without-cert-id",
    );
    odd.code = Some(1);
    odd.message = "success without a certId".into();
    rows.push(odd);
    // A renewal not sent because NicSRS holds no CSR for a key it generated.
    rows.push(row(
        "no-csr-held",
        Event::Renewing,
        &old(19),
        "no-csr-held-r1",
    ));
    let mut no_csr = row("no-csr-held", Event::Failed, &old(19), "no-csr-held-r1");
    no_csr.message = format!(
        "{} {} (collect's applyParams has none), and the order has none",
        nicsrs_batch::plan::NO_CSR_HELD,
        old(19)
    );
    rows.push(no_csr);
    rows.push(row(
        "renew-refused",
        Event::Renewing,
        &old(8),
        "renew-refused-r1",
    ));
    let mut refused = row("renew-refused", Event::Failed, &old(8), "renew-refused-r1");
    refused.code = Some(-1);
    refused.message = "renewId: the certificate expires in 120 days".into();
    rows.push(refused);
    rows.push(row("renew-lost", Event::Renewing, &old(9), "renew-lost-r1"));
    rows.push(row(
        "reissue-retry",
        Event::Reissuing,
        &old(10),
        "reissue-retry-i1",
    ));
    let mut not_sent = row("reissue-retry", Event::Failed, &old(10), "reissue-retry-i1");
    not_sent.message = "not sent: connection refused".into();
    rows.push(not_sent);
    rows.push(row(
        "renewed-pending",
        Event::Renewing,
        &old(11),
        "renewed-pending-r1",
    ));
    let mut renewed = row(
        "renewed-pending",
        Event::Renewed,
        "SBX0000000012",
        "renewed-pending-r1",
    );
    renewed.code = Some(1);
    rows.push(renewed);

    let mut unreadable = row("adopt-wrong", Event::Status, "8888", "adopt-wrong");
    unreadable.message =
        "collect failed: parameter validation failed: certId: no certificate 8888".into();
    rows.push(unreadable);
    // Refused when it was first placed; now it adopts a certificate bought elsewhere.
    rows.push(row(
        "adopt-after-refusal",
        Event::Submitting,
        "",
        "adopt-after-refusal",
    ));
    let mut refused_place = row(
        "adopt-after-refusal",
        Event::Failed,
        "",
        "adopt-after-refusal",
    );
    refused_place.code = Some(-1);
    refused_place.message = "params.domainInfo: required".into();
    rows.push(refused_place);
    // Renewed once and reissued once already: the next calls are `-r2` and `-i2`.
    for (key, event, done, n, not_after, due) in [
        (
            "second-renewal",
            Event::Renewing,
            Event::Renewed,
            22,
            20,
            20,
        ),
        (
            "second-reissue",
            Event::Reissuing,
            Event::Reissued,
            24,
            20,
            700,
        ),
    ] {
        let suffix = if event == Event::Renewing { "r1" } else { "i1" };
        let ref_id = format!("{key}-{suffix}");
        rows.push(row(key, event, &old(n), &ref_id));
        let mut made = row(key, done, &old(n + 1), &ref_id);
        made.code = Some(1);
        rows.push(made);
        let mut s = row(key, Event::Status, &old(n + 1), &ref_id);
        s.status = "COMPLETE".into();
        s.not_before = day(-345);
        s.not_after = day(not_after);
        s.due_date = day(due);
        rows.push(s);
    }
    // A placement whose outcome is unknown (-2): looked up by refId before anything else.
    rows.push(row(
        "unknown-outcome",
        Event::Submitting,
        "",
        "unknown-outcome",
    ));
    let mut unknown = row("unknown-outcome", Event::Unknown, "", "unknown-outcome");
    unknown.code = Some(-2);
    unknown.message = "unknown error".into();
    rows.push(unknown);
    // A placement refused (-1): blocked while the order is as it was refused, retried once
    // it has changed.
    for (key, sha) in [
        ("refused-placement", String::new()),
        ("changed-retry", "2".repeat(64)),
    ] {
        rows.push(row(key, Event::Submitting, "", key));
        let mut refused = row(key, Event::Failed, "", key);
        refused.code = Some(-1);
        refused.message =
            "parameter validation failed: params.Administrator.mobile: invalid".into();
        refused.request_sha256 = sha;
        rows.push(refused);
    }
    let contents = ledger::Contents::from_rows(rows);
    let plan = nicsrs_batch::plan::make_at(&outcome.orders, &contents, NOW);
    // Paths as a user sees them from the fixtures' folder, whatever the clone's path.
    let text = nicsrs_batch::plan::render(&plan, &outcome.sources, true)
        .replace(&format!("{}/", fixtures.display()), "");
    if let Err(diff) = common::expect_file(&fixtures.join("plan.txt"), &text) {
        panic!("{diff}");
    }
    let doc = nicsrs_batch::plan::to_json(&plan);
    let step = |key: &str| {
        doc["steps"]
            .as_array()
            .and_then(|s| s.iter().find(|s| s["key"] == key))
            .cloned()
            .unwrap_or_default()
    };
    assert_eq!(step("renew-due")["call"], "renew");
    assert_eq!(step("renew-due")["of_cert_id"], "SBX0000000001");
    assert_eq!(step("renew-due")["price"], 6.0);
    assert_eq!(
        step("reissue-due")["price"],
        Value::Null,
        "reissues are free"
    );
    assert_eq!(step("renew-lost")["action"], "reconcile");
    assert_eq!(step("renew-lost")["ref_id"], "renew-lost-r1");
    assert_eq!(step("reissue-retry")["ref_id"], "reissue-retry-i1");
    assert_eq!(step("adopt")["cert_id"], "9999");
    assert_eq!(
        step("adopt-after-refusal")["action"],
        "nothing",
        "an order that now adopts a certificate is never placed"
    );
    assert_eq!(
        step("no-csr")["action"],
        "renew",
        "with the CSR NicSRS holds"
    );
    assert_eq!(step("no-csr-held")["action"], "blocked");
    assert_eq!(step("replace-csr")["call"], "replace");
    assert_eq!(step("replace-csr")["ref_id"], "replace-csr-x1");
    assert_eq!(
        step("replace-csr")["price"],
        Value::Null,
        "replacements are free"
    );
    assert_eq!(
        step("replace-csr")["changes"][0],
        serde_json::json!({"field": "csr", "from": "0badc0de", "to": step("replace-csr")["changes"][0]["to"],
            "carried_by": "replace", "advice": "a new key: replaced free of charge"})
    );
    assert_eq!(
        step("replace-names")["changes"][0]["from"],
        "-www.shop.example"
    );
    assert_eq!(step("clamped")["window_clamped"], true);
    assert_eq!(step("clamped")["action"], "reissue");
    assert_eq!(step("percent")["action"], "reissue");
    assert_eq!(step("refused-then-refreshed")["action"], "reissue");
    assert_eq!(
        step("refused-then-refreshed")["ref_id"],
        "refused-then-refreshed-i1"
    );
    assert_eq!(step("refused-not-refreshed")["action"], "blocked");
    assert_eq!(step("success-without-cert-id")["action"], "reconcile");
    assert_eq!(
        plan.paid_orders(),
        13,
        "place, 3 renewals, 5 reissues, 2 replacements, 2 retries"
    );
    assert_eq!(step("second-renewal")["ref_id"], "second-renewal-r2");
    assert_eq!(step("second-renewal")["of_cert_id"], "SBX0000000023");
    assert_eq!(step("second-reissue")["ref_id"], "second-reissue-i2");
    assert_eq!(step("unknown-outcome")["action"], "reconcile");
    assert_eq!(step("refused-placement")["action"], "blocked");
    assert_eq!(step("changed-retry")["action"], "retry");
    assert_eq!(step("failed-at-ca")["action"], "blocked");
    assert_eq!(step("reissued-elsewhere")["action"], "blocked");
    assert_eq!(step("names-no-csr")["action"], "blocked");
    assert_eq!(doc["gone"], serde_json::json!(["retired"]));
    // Every field of the JSON plan, for every decision.
    let json = format!("{doc:#}\n").replace(&format!("{}/", fixtures.display()), "");
    if let Err(diff) = common::expect_file(&fixtures.join("plan.json"), &json) {
        panic!("{diff}");
    }
}

#[test]
fn expand_shows_an_adopted_certificate_as_its_first_renewal() {
    let fixtures = common::root().join("tests/fixtures/lifecycle");
    let r = common::run(&fixtures, &["expand", "orders.yaml"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let lines: Vec<Value> = r
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON line"))
        .collect();
    let adopt = lines.iter().find(|l| l["key"] == "adopt").expect("adopt");
    assert_eq!(adopt["endpoint"], "renew");
    assert_eq!(adopt["form"]["renewId"], "9999");
    assert_eq!(adopt["form"]["refId"], "adopt-r1");
    assert!(adopt["form"]["params"]["csr"].is_string());
    assert_eq!(adopt["form"]["params"]["server"], "nginx");
    assert!(adopt["form"]["params"].get("Administrator").is_none());
    let new = lines.iter().find(|l| l["key"] == "new").expect("new");
    assert_eq!(new["endpoint"], "place");
    assert!(
        lines
            .iter()
            .all(|l| l["form"].get("renewBefore").is_none() && l["form"].get("renewalOf").is_none()),
        "the tool's own fields are never sent"
    );
}

#[test]
fn a_deleted_ledger_finds_every_call_and_a_refusal_for_state_is_collected_again() {
    let dir = common::scratch("lifecycle-deleted-ledger");
    let state = dir.join("sandbox.json");
    let orders: Vec<(String, String)> = ["a", "b", "c"]
        .iter()
        .map(|k| ((*k).to_owned(), "    renewBefore: 33%\n".to_owned()))
        .collect();
    manifest_with_csrs(&dir, "orders.yaml", &orders);
    let server = sandbox(&state, 20, Duration::ZERO, Faults::default());
    assert_eq!(apply(&dir, &server, &[]).status.code(), Some(0));
    refresh(&dir, &server, &[]);
    let out = apply(&dir, &server, &[]);
    assert!(
        text(&out.stdout).contains("3 to reissue"),
        "{}",
        text(&out.stdout)
    );
    assert_each_once(&server, 0, 3);

    // The ledger is lost, and one order gets a new key meanwhile.
    std::fs::remove_file(dir.join("ledger.csv")).expect("delete");
    let (_, csr) = new_csr("www.a.example");
    std::fs::write(dir.join("csr/a.csr"), csr).expect("new CSR");
    let out = apply(&dir, &server, &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(server.stats()["orders_placed"], 3, "nothing bought again");
    // refresh finds the reissues the ledger lost by their refIds.
    let report = refresh(&dir, &server, &[]);
    assert!(report.ends_with("Refreshed: 3 COMPLETE.\n"), "{report}");
    assert_eq!(rows_of(&dir, Event::Reissued).len(), 3, "{report}");
    // The new key is not lost: the order NicSRS holds has the old one.
    let (code, plan) = plan_text(&dir, &server);
    assert_eq!(code, Some(4), "{plan}");
    assert!(
        plan.contains("  replace   a ")
            && plan.contains("~ csr: ")
            && plan.contains("1 to replace"),
        "{plan}"
    );
    assert!(plan.contains("2 with nothing to do"), "{plan}");
    assert_eq!(apply(&dir, &server, &[]).status.code(), Some(0));
    assert_eq!(server.stats()["orders_replaced"], 1);
    assert_each_once(&server, 0, 3);

    // Cancelled at NicSRS behind the ledger's back: the replacement is refused for the
    // certificate's state (-7), and `refresh` collects it again to find out why.
    refresh(&dir, &server, &[]);
    let b = ledger::read(&dir.join("ledger.csv"), Api::Sandbox)
        .expect("ledger")
        .states()["b"]
        .current
        .expect("b")
        .cert_id
        .clone();
    let cancelled = server.call("cancel", &[("certId", &b), ("reason", "test")]);
    assert_eq!(cancelled["code"], 1, "{cancelled}");
    let (_, csr) = new_csr("www.b.example");
    std::fs::write(dir.join("csr/b.csr"), csr).expect("new CSR");
    let out = apply(&dir, &server, &[]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stdout));
    let (_, plan) = plan_text(&dir, &server);
    assert!(
        plan.contains("  blocked   b")
            && plan.contains("`refresh` records the certificate's state"),
        "{plan}"
    );
    let report = refresh(&dir, &server, &[]);
    assert!(report.contains("CANCELLED  b"), "{report}");
    let (_, plan) = plan_text(&dir, &server);
    assert!(plan.contains("  cancelled b"), "{plan}");
}
