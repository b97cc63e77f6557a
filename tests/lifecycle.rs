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

use common::server::{Server, apply, apply_until_done, kill_9_after, nicsrs, run_on, text};

/// How long the first sandbox takes to issue a certificate (collect says PENDING until then).
const ISSUE_AFTER: Duration = Duration::from_secs(2);

const CONTACT: &str = "    Administrator:\n      job: Ops\n      firstName: Sam\n      lastName: Ortega\n      email: ops@hosting.example\n      mobile: \"+1 415 555 0100\"\n      organization: Example Hosting Inc.\n      address: 500 Market Street\n      city: San Francisco\n      state: California\n      postCode: \"94105\"\n      country: US\n";

/// One order of a test manifest, and the key pair of its CSR.
struct Site {
    key: String,
    pair: rcgen::KeyPair,
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
        let pair = rcgen::KeyPair::generate().expect("key pair");
        let mut params = rcgen::CertificateParams::new(vec![name.clone()]).expect("params");
        params.distinguished_name = rcgen::DistinguishedName::new();
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, name.clone());
        let csr = params
            .serialize_request(&pair)
            .expect("CSR")
            .pem()
            .expect("PEM");
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
/// and `reissue-NNNN` orders with the default 30 days.
fn wave(renewals: usize, reissues: usize) -> Vec<(String, String)> {
    let mut orders: Vec<(String, String)> = (0..renewals)
        .map(|i| (format!("renew-{i:04}"), "    renewBefore: 400d\n".into()))
        .collect();
    orders.extend((0..reissues).map(|i| (format!("reissue-{i:04}"), String::new())));
    orders
}

/// A sandbox keeping its orders in `state`, issuing certificates valid for `days`
/// `issue_after` an order.
fn sandbox(state: &Path, days: u32, issue_after: Duration, faults: Faults) -> Server {
    Server::start(Config {
        state: Some(state.to_owned()),
        validity_days: days,
        issue_after,
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
    ledger::read(&dir.join("ledger.csv"), Api::Sandbox)
        .expect("ledger")
        .rows
        .into_iter()
        .filter(|r| r.event == event)
        .collect()
}

fn assert_each_once(server: &Server, renewed: usize, reissued: usize) {
    let st = server.stats();
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

    // Placed (the adopted certificate is not) and refreshed: every certificate is issued for
    // 20 days, so each order is in its window.
    let out = apply(&dir, &server, &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("Plan: 60 to place, 0 to renew"),
        "{}",
        text(&out.stdout)
    );
    assert_eq!(server.stats()["orders_placed"], 61, "60 + the legacy one");
    let report = refresh(&dir, &server, &["orders.yaml"]);
    assert!(
        report.ends_with("Refreshed: 61 PENDING.\n"),
        "the adopted certificate is read too: {report}"
    );
    let doc = plan_json(&dir, &server);
    assert_eq!(doc["summary"]["nothing"], 61, "waiting for issuance");
    assert_eq!(
        doc["steps"][0]["detail"], "waiting for issuance (PENDING)",
        "{doc}"
    );
    std::thread::sleep(ISSUE_AFTER + Duration::from_millis(1100));
    let report = refresh(&dir, &server, &["orders.yaml"]);
    assert!(report.ends_with("Refreshed: 61 COMPLETE.\n"), "{report}");

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
        "within renewBefore 30d; the subscription runs to ",
        "  renew     adopted       lc-adopted-r1",
        &format!("renews {legacy_id}"),
        "Plan: 0 to place, 31 to renew, 30 to reissue, 0 to retry, 0 to reconcile, 0 with nothing to do, 0 blocked. List price of the 31 renewals: 186.00.",
    ] {
        assert!(plan.contains(expected), "`{expected}` in\n{plan}");
    }
    let doc = plan_json(&dir, &server);
    assert_eq!(doc["summary"]["renew"], 31);
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
            "the plan would place, renew or reissue 61 orders, more than --max-orders 60"
        ),
        "{}",
        text(&refused.stderr)
    );
    let before_wave = std::fs::read(dir.join("ledger.csv")).expect("ledger");
    apply_until_done(&dir, &server, "16", 8);
    assert_each_once(&server, 31, 30);
    let faults = &server.stats()["faults"];
    for f in ["dropped", "timed_out", "failed", "throttled", "unknown"] {
        assert!(
            faults[f].as_u64().unwrap_or(0) > 0,
            "{f} happened: {faults}"
        );
    }
    let renewed = rows_of(&dir, Event::Renewed);
    assert_eq!(renewed.len(), 31, "one renewed row per key");
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
    assert_each_once(&server, 31, 30);
    let found = rows_of(&dir, Event::Renewed)
        .into_iter()
        .chain(rows_of(&dir, Event::Reissued))
        .filter(|r| r.message.starts_with("found by refId"))
        .count();
    assert_eq!(found, 61, "each found, none sent again");
    std::fs::write(dir.join("ledger.csv"), &after_wave).expect("restore");

    let report = refresh(&dir, &server, &["--out-dir", "certs"]);
    assert!(report.ends_with("Refreshed: 61 COMPLETE.\n"), "{report}");
    let (code, plan) = plan_text(&dir, &server);
    assert_eq!(code, Some(0), "{plan}");
    assert!(
        plan.contains(
            "0 to renew, 0 to reissue, 0 to retry, 0 to reconcile, 61 with nothing to do"
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
        let crt = dir.join("certs").join(format!("{}.crt", site.key));
        let pem = std::fs::read_to_string(&crt).expect("certificate written");
        let (_, pem) = x509_parser::pem::parse_x509_pem(pem.as_bytes()).expect("PEM");
        let cert = pem.parse_x509().expect("X.509");
        assert_eq!(
            cert.public_key().subject_public_key.data.as_ref(),
            rcgen::PublicKeyData::der_bytes(&site.pair),
            "{}: the certificate is for the CSR's key",
            site.key
        );
        assert!(!dir.join("certs").join(format!("{}.key", site.key)).exists());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&crt).expect("meta").permissions().mode() & 0o777;
            assert_eq!(mode, 0o644, "certificates are public");
        }
    }
    let status = run_on(&dir, &server, "", &["status", "orders.yaml"]);
    let s = text(&status.stdout);
    assert!(
        s.contains("renewed    adopted") && s.contains("next: nothing"),
        "{s}"
    );
    assert!(
        s.ends_with("61 keys in ledger.csv: 30 reissued, 31 renewed\n"),
        "{s}"
    );
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
    for delay_ms in [150u64, 60, 250, 100, 40] {
        kill_9_after(&dir, &server, "4", Duration::from_millis(delay_ms));
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
        p.request_sha256 = outcome
            .orders
            .iter()
            .find(|o| o.key == key)
            .map(|o| o.request_sha256())
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
    let old = |n: usize| format!("SBX{n:010}");
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
    let contents = ledger::Contents::from_rows(rows);
    let plan = nicsrs_batch::plan::make_at(&outcome.orders, &contents, NOW);
    let text = nicsrs_batch::plan::render(&plan, &outcome.sources);
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
    assert_eq!(plan.paid_orders(), 4, "place, renew, reissue, retry");
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
