//! `plan`, `apply` and `status` as a user runs them, against a sandbox over real HTTP:
//! every order placed exactly once through faults, kills and re-runs.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use nicsrs_batch::sandbox::Config;
use nicsrs_batch::sandbox::faults::{Faults, Latency};
use serde_json::Value;

mod common;

use common::server::{
    Server, apply, apply_until_done, kill_9_after_rows, ledger_states, manifest, nicsrs,
    open_calls, run_on, spawn_apply, text, wait_for_placed,
};

fn assert_exactly_once(server: &Server, dir: &Path, n: usize) {
    let st = server.stats();
    assert_eq!(
        st["undocumented_fields"],
        serde_json::json!({}),
        "every call sends only what its NicSRS page documents"
    );
    assert_eq!(
        st["duplicate_ref_ids"],
        serde_json::json!([]),
        "no order placed twice: {}",
        st["faults"]
    );
    assert_eq!(
        st["orders_placed"], n,
        "every order placed: {}",
        st["faults"]
    );
    let states = ledger_states(dir);
    assert_eq!(states.len(), n);
    assert!(
        states.values().all(|e| e == "placed"),
        "every key ends placed"
    );
    // And with the certId the sandbox holds for its refId (its own record, read from its
    // stats: a lookup by refId would meet the faults injected into these tests).
    let contents =
        nicsrs_batch::ledger::read(&dir.join("ledger.csv"), nicsrs_batch::ledger::Api::Sandbox)
            .expect("ledger");
    for (key, state) in contents.states() {
        let row = state.current.expect("placed");
        assert_eq!(
            st["cert_ids_per_ref_id"][&row.ref_id],
            serde_json::json!([row.cert_id]),
            "{key}"
        );
    }
}

#[test]
fn a_clean_run_places_every_order_and_a_second_run_sends_nothing() {
    let dir = common::scratch("apply-clean");
    manifest(&dir, 20);
    let server = Server::start(Config::default());
    let out = apply(&dir, &server, &[]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    let stdout = text(&out.stdout);
    assert!(stdout.contains("Plan: 20 to place"), "{stdout}");
    assert!(
        stdout.contains("placed now                         20"),
        "{stdout}"
    );
    assert_exactly_once(&server, &dir, 20);
    let ledger = std::fs::read_to_string(dir.join("ledger.csv")).expect("ledger");
    assert!(ledger.starts_with("time,api,event,key,ref_id,cert_id,product_code,years,domains,request_sha256,attempt,code,message,manifest,status,not_before,not_after,due_date,request_fields,dcv\r\n"));
    assert_eq!(
        ledger.matches(",submitting,").count(),
        20,
        "a submitting row before each call"
    );

    let out = apply(&dir, &server, &[]);
    assert_eq!(out.status.code(), Some(0));
    assert!(text(&out.stdout).contains("Nothing to do."));
    assert_eq!(
        server.stats()["requests"]["place"],
        20,
        "the second run sent nothing"
    );

    let plan = run_on(
        &dir,
        &server,
        "",
        &["plan", "orders.yaml", "--detailed-exitcode"],
    );
    assert_eq!(
        plan.status.code(),
        Some(0),
        "nothing pending: {}",
        text(&plan.stderr)
    );
    let status = run_on(&dir, &server, "", &["status"]);
    assert!(
        text(&status.stdout).ends_with("20 keys in ledger.csv: 20 placed\n"),
        "{}",
        text(&status.stdout)
    );
}

#[test]
fn plan_shows_the_work_and_warns_about_changed_orders() {
    let dir = common::scratch("apply-plan");
    let path = manifest(&dir, 3);
    let server = Server::start(Config::default());
    let plan = |extra: &[&str]| {
        nicsrs(&dir, "")
            .args([
                "plan",
                "orders.yaml",
                "--ledger",
                "ledger.csv",
                "--endpoint",
                &server.url,
            ])
            .args(extra)
            .output()
            .expect("plan")
    };
    let out = plan(&["--detailed-exitcode"]);
    assert_eq!(out.status.code(), Some(4), "work pending");
    let out = plan(&["--format", "json"]);
    let doc: Value = serde_json::from_slice(&out.stdout).expect("plan JSON");
    assert_eq!(doc["summary"]["place"], 3);
    assert_eq!(doc["steps"][0]["action"], "place");
    assert_eq!(doc["steps"][0]["ref_id"], "t-site-0000");
    assert_eq!(apply(&dir, &server, &[]).status.code(), Some(0));

    let changed = std::fs::read_to_string(&path)
        .expect("manifest")
        .replace("www.site0001.example", "shop.site0001.example");
    std::fs::write(&path, changed).expect("edit");
    let out = plan(&["--detailed-exitcode"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "a changed order is never placed again silently"
    );
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("warning: `site-0001` (orders.yaml:"),
        "{stdout}"
    );
    assert!(
        stdout.contains(
            "~ domainInfo: -www.site0001.example +shop.site0001.example  (other names: NicSRS replaces only with a CSR for them; add `params.csr`)"
        ),
        "the change is shown field by field: {stdout}"
    );
    assert!(
        stdout.contains("NicSRS replaces a certificate only with a CSR for the new names"),
        "an order without a CSR cannot be replaced: {stdout}"
    );
    let out = apply(&dir, &server, &[]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(server.stats()["orders_placed"], 3);
    // Once issued, it stays blocked: nothing is placed or replaced by itself.
    let out = run_on(&dir, &server, "sandbox", &["refresh"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let out = plan(&["--detailed-exitcode"]);
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("  blocked   site-0001") && stdout.contains("add `params.csr`"),
        "{stdout}"
    );
    let out = apply(&dir, &server, &[]);
    assert_eq!(out.status.code(), Some(3), "blocked: {}", text(&out.stdout));
    let st = server.stats();
    assert_eq!(
        (st["orders_placed"].as_u64(), st["orders_replaced"].as_u64()),
        (Some(3), Some(0))
    );
}

#[test]
fn drops_timeouts_500s_429s_and_unknown_errors_end_with_every_order_placed_once() {
    let dir = common::scratch("apply-faults");
    let n = 500;
    manifest(&dir, n);
    let server = Server::with_faults(
        Faults {
            drop_rate: 0.2,
            timeout_rate: 0.2,
            fail_rate: 0.2,
            throttle_rate: 0.2,
            unknown_rate: 0.2,
            ..Faults::default()
        },
        "sandbox",
    );
    apply_until_done(&dir, &server, "48", 6);
    assert_exactly_once(&server, &dir, n);
    let faults = &server.stats()["faults"];
    for f in ["dropped", "timed_out", "failed", "throttled", "unknown"] {
        assert!(
            faults[f].as_u64().unwrap_or(0) > 20,
            "{f} happened: {faults}"
        );
    }
    // On paid calls, after the order was stored: the faults that could buy twice.
    for f in ["dropped_after_storing", "timed_out_after_storing"] {
        assert!(
            faults[f].as_u64().unwrap_or(0) > 10,
            "{f} happened: {faults}"
        );
    }
}

#[test]
fn kill_9_at_any_moment_then_re_runs_never_place_twice() {
    let dir = common::scratch("apply-kill");
    let n = 300;
    manifest(&dir, n);
    let server = Server::with_faults(
        Faults {
            latency: Some(Latency::Range(
                Duration::from_millis(2),
                Duration::from_millis(30),
            )),
            drop_rate: 0.05,
            ..Faults::default()
        },
        "sandbox",
    );
    let mut mid_call = 0;
    for (rows, delay_ms) in [
        (1, 0u64),
        (30, 5),
        (12, 40),
        (60, 0),
        (5, 20),
        (90, 10),
        (3, 60),
    ] {
        let killed = kill_9_after_rows(&dir, &server, "16", rows, Duration::from_millis(delay_ms));
        assert!(killed.running, "each kill hit a running apply");
        // The guard: a kill that left no call open proves nothing about crashes mid-call.
        mid_call += usize::from(killed.open > 0);
    }
    assert!(
        mid_call >= 4,
        "at most 3 of the 7 kills may miss a call in flight; {mid_call} hit one"
    );
    let interrupted = std::fs::read_to_string(dir.join("ledger.csv"))
        .expect("ledger")
        .lines()
        .filter(|l| l.contains(",submitting,"))
        .count();
    assert!(
        interrupted < n + 7 * 16,
        "no more calls in flight than the kills could leave"
    );
    apply_until_done(&dir, &server, "16", 4);
    assert_exactly_once(&server, &dir, n);
}

#[test]
fn a_lost_or_cut_ledger_never_buys_twice_even_under_faults() {
    let dir = common::scratch("apply-lost-ledger");
    let n = 120;
    manifest(&dir, n);
    let server = Server::with_faults(
        Faults {
            drop_rate: 0.1,
            timeout_rate: 0.1,
            fail_rate: 0.1,
            throttle_rate: 0.1,
            unknown_rate: 0.1,
            ..Faults::default()
        },
        "sandbox",
    );
    apply_until_done(&dir, &server, "32", 6);
    assert_exactly_once(&server, &dir, n);
    let ledger = dir.join("ledger.csv");
    let whole = std::fs::read_to_string(&ledger).expect("ledger");

    // The last rows never reached Git (a rejected push): every order is found, none bought.
    let lines: Vec<&str> = whole.split_inclusive("\r\n").collect();
    std::fs::write(&ledger, lines[..lines.len() / 3].concat()).expect("cut");
    apply_until_done(&dir, &server, "32", 6);
    assert_exactly_once(&server, &dir, n);

    // The ledger is gone altogether.
    std::fs::remove_file(&ledger).expect("delete");
    let placements = server.stats()["requests"]["place"].clone();
    let plan = run_on(&dir, &server, "", &["plan", "orders.yaml"]);
    assert!(
        text(&plan.stdout).contains(&format!("Plan: {n} to place")),
        "the plan cannot know: {}",
        text(&plan.stdout)
    );
    apply_until_done(&dir, &server, "32", 6);
    assert_exactly_once(&server, &dir, n);
    let rows = std::fs::read_to_string(&ledger).expect("ledger");
    // Each found by its refId: before sending, or (when a lookup failed under the faults
    // and the order was left unsent) by the next run's reconciliation.
    assert_eq!(
        rows.matches("found by refId").count(),
        n,
        "each found by its refId: {rows}"
    );
    assert_eq!(
        server.stats()["requests"]["place"],
        placements,
        "no placement was sent"
    );
}

#[test]
fn trust_ledger_skips_the_lookups_and_the_default_pays_one_per_order() {
    let dir = common::scratch("apply-trust-ledger");
    let n = 10;
    manifest(&dir, n);
    let server = Server::start(Config::default());
    let out = apply(&dir, &server, &["--trust-ledger"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let st = server.stats();
    assert_eq!(st["requests"]["place"], n);
    assert!(st["requests"].get("certIdByrefId").is_none(), "{st}");
    assert_exactly_once(&server, &dir, n);

    let dir = common::scratch("apply-lookups");
    manifest(&dir, n);
    let server = Server::start(Config::default());
    assert_eq!(apply(&dir, &server, &[]).status.code(), Some(0));
    let st = server.stats();
    assert_eq!(
        (
            st["requests"]["certIdByrefId"].as_u64(),
            st["requests"]["place"].as_u64()
        ),
        (Some(n as u64), Some(n as u64)),
        "one lookup before each placement"
    );
}

#[test]
fn placements_answering_minus_2_and_not_found_stop_the_run_after_three_in_a_row() {
    let dir = common::scratch("apply-minus-2");
    manifest(&dir, 20);
    let server = Server::with_faults(
        Faults {
            credit: Some(5),
            out_of_credit_unknown: true,
            ..Faults::default()
        },
        "sandbox",
    );
    let out = apply(&dir, &server, &["--concurrency", "1"]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stdout));
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("stopped: 3 placements in a row answered -2 (unknown error) and were then not found by refId"),
        "{stdout}"
    );
    let st = server.stats();
    assert_eq!(st["orders_placed"], 5);
    assert_eq!(st["duplicate_ref_ids"], serde_json::json!([]));
    assert!(
        st["requests"]["place"].as_u64().unwrap_or(0) <= 5 + 4,
        "not resent into it: {st}"
    );
    let states = ledger_states(&dir);
    assert_eq!(states.values().filter(|e| *e == "placed").count(), 5);
    assert!(states.len() < 20, "the rest were not started: {states:?}");
}

#[test]
fn running_out_of_credit_stops_the_run_and_leaves_the_rest_pending() {
    let dir = common::scratch("apply-credit");
    manifest(&dir, 30);
    let server = Server::with_faults(
        Faults {
            credit: Some(10),
            ..Faults::default()
        },
        "sandbox",
    );
    let out = apply(&dir, &server, &["--concurrency", "2"]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stdout));
    assert!(
        text(&out.stdout).contains("stopped: insufficient credit"),
        "{}",
        text(&out.stdout)
    );
    let st = server.stats();
    assert_eq!(st["orders_placed"], 10);
    assert!(
        st["requests"]["place"].as_u64().unwrap_or(99) <= 12,
        "no order started after -4: {st}"
    );
    let plan = run_on(
        &dir,
        &server,
        "",
        &["plan", "orders.yaml", "--format", "json"],
    );
    let doc: Value = serde_json::from_slice(&plan.stdout).expect("JSON");
    assert_eq!(doc["summary"]["nothing"], 10);
    assert_eq!(
        doc["summary"]["place"].as_u64().unwrap_or(0)
            + doc["summary"]["retry"].as_u64().unwrap_or(0),
        20
    );
}

#[test]
fn a_second_apply_on_the_same_ledger_stops_at_once() {
    let dir = common::scratch("apply-lock");
    manifest(&dir, 40);
    let server = Server::with_faults(
        Faults {
            latency: Some(Latency::Fixed(Duration::from_millis(100))),
            ..Faults::default()
        },
        "sandbox",
    );
    let mut first = spawn_apply(&dir, &server, &["--concurrency", "1"], Stdio::null);
    wait_for_placed(&dir, 1);
    let second = apply(&dir, &server, &[]);
    let _ = first.kill();
    let _ = first.wait();
    assert_eq!(second.status.code(), Some(1));
    assert!(
        text(&second.stderr).contains("is in use by another nicsrs-batch process"),
        "{}",
        text(&second.stderr)
    );
}

#[test]
fn the_token_never_appears_in_output_or_ledger() {
    let token = "sb-VERY-SECRET-token-7734";
    let dir = common::scratch("apply-token");
    manifest(&dir, 12);
    let server = Server::with_faults(
        Faults {
            unknown_rate: 0.3,
            drop_rate: 0.2,
            ..Faults::default()
        },
        token,
    );
    let mut outputs = Vec::new();
    for format in ["text", "json"] {
        let out = nicsrs(&dir, token)
            .args([
                "apply",
                "orders.yaml",
                "--yes",
                "--endpoint",
                &server.url,
                "--ledger",
                "ledger.csv",
                "--format",
                format,
                "--reconcile-delay",
                "50ms",
            ])
            .output()
            .expect("apply");
        outputs.push(out);
    }
    let wrong = nicsrs(&dir, "not-the-token")
        .args([
            "apply",
            "orders.yaml",
            "--yes",
            "--endpoint",
            &server.url,
            "--ledger",
            "other.csv",
        ])
        .output()
        .expect("apply");
    assert_eq!(
        wrong.status.code(),
        Some(3),
        "a refused token fails the run"
    );
    assert!(
        text(&wrong.stdout).contains("permission denied"),
        "{}",
        text(&wrong.stdout)
    );
    outputs.push(wrong);
    for out in &outputs {
        assert!(!text(&out.stdout).contains(token) && !text(&out.stderr).contains(token));
    }
    for file in ["ledger.csv", "other.csv"] {
        assert!(
            !std::fs::read_to_string(dir.join(file))
                .expect("ledger")
                .contains(token)
        );
    }
}

#[test]
fn apply_refuses_without_yes_off_a_terminal_and_above_max_orders() {
    let dir = common::scratch("apply-refuse");
    manifest(&dir, 5);
    let server = Server::start(Config::default());
    let out = nicsrs(&dir, "sandbox")
        .args([
            "apply",
            "orders.yaml",
            "--endpoint",
            &server.url,
            "--ledger",
            "ledger.csv",
        ])
        .output()
        .expect("apply");
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("refusing to apply without --yes"),
        "{}",
        text(&out.stderr)
    );
    let out = apply(&dir, &server, &["--max-orders", "4"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains(
            "refusing: the plan would place, renew, reissue or replace 5 orders, more than --max-orders 4"
        ),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(
        server.stats()["requests"],
        serde_json::json!({}),
        "nothing was sent, not even a lookup"
    );
    assert!(
        !dir.join("ledger.csv").exists(),
        "a refused run leaves no ledger it created"
    );
    // Exactly at the limit is allowed.
    let out = apply(&dir, &server, &["--max-orders", "5"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_exactly_once(&server, &dir, 5);
}

#[test]
fn sandbox_and_live_ledgers_never_mix() {
    let dir = common::scratch("apply-kinds");
    manifest(&dir, 3);
    let out = nicsrs(&dir, "")
        .args(["apply", "orders.yaml", "--sandbox", "--yes"])
        .output()
        .expect("apply");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        dir.join("nicsrs-ledger.sandbox.csv").exists() && !dir.join("nicsrs-ledger.csv").exists()
    );
    let out = nicsrs(&dir, "live-token")
        .args([
            "apply",
            "orders.yaml",
            "--yes",
            "--ledger",
            "nicsrs-ledger.sandbox.csv",
            "--endpoint",
            "https://portal.nicsrs.com",
        ])
        .output()
        .expect("apply");
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("records sandbox orders; this run uses the live API"),
        "{}",
        text(&out.stderr)
    );
    let out = nicsrs(&dir, "")
        .args(["apply", "orders.yaml", "--sandbox", "--yes"])
        .output()
        .expect("apply");
    assert!(
        text(&out.stdout).contains("Nothing to do."),
        "the embedded sandbox keeps its orders beside its ledger"
    );
}

#[test]
fn invalid_manifests_send_nothing_and_exit_2() {
    let dir = common::scratch("apply-invalid");
    let path = manifest(&dir, 2);
    let bad = std::fs::read_to_string(&path)
        .expect("m")
        .replace("country: US", "country: USA");
    std::fs::write(&path, bad).expect("write");
    let server = Server::start(Config::default());
    let out = apply(&dir, &server, &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("error[invalid-country]"));
    assert!(!dir.join("ledger.csv").exists());
}

/// Submitting rows of `ledger.csv`.
fn submitting_rows(dir: &Path) -> usize {
    std::fs::read_to_string(dir.join("ledger.csv"))
        .map(|l| l.matches(",submitting,").count())
        .unwrap_or(0)
}

#[test]
fn ctrl_c_finishes_what_is_in_flight_and_exits_130() {
    let dir = common::scratch("apply-interrupt");
    manifest(&dir, 60);
    let server = Server::with_faults(
        Faults {
            latency: Some(Latency::Fixed(Duration::from_millis(150))),
            ..Faults::default()
        },
        "sandbox",
    );
    let child = spawn_apply(&dir, &server, &["--concurrency", "4"], Stdio::piped);
    // Interrupt once orders are flowing (the handler is installed by then), not at a guess.
    wait_for_placed(&dir, 4);
    let open = open_calls(&dir);
    let before = submitting_rows(&dir);
    assert!(
        open <= 4,
        "never more calls in flight than --concurrency: {open}"
    );
    let _ = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status();
    let out = child.wait_with_output().expect("wait");
    assert_eq!(out.status.code(), Some(130), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("interrupted: finishing the orders in flight"),
        "{}",
        text(&out.stderr)
    );
    let states = ledger_states(&dir);
    assert!(
        states.values().all(|e| e == "placed"),
        "no submission left open: {states:?}"
    );
    let placed = server.stats()["orders_placed"].as_u64().unwrap_or(0);
    assert_eq!(placed as usize, states.len());
    assert!((4..60).contains(&placed), "it stopped early: {placed}");
    // Only what was in flight (or being taken) at the signal was still sent after it.
    let after = submitting_rows(&dir) - before;
    assert!(after <= 4, "{after} calls started after Ctrl-C");
}

/// Waits up to 30 s for `child` to end; kills it and fails the test otherwise.
fn wait_or_fail(child: &mut std::process::Child, what: &str) -> std::process::ExitStatus {
    let started = std::time::Instant::now();
    loop {
        if let Some(status) = child.try_wait().expect("wait") {
            return status;
        }
        if started.elapsed() > Duration::from_secs(30) {
            let _ = child.kill();
            panic!("{what}: still running after 30 s");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// A sandbox that stores every paid call's order and never answers it, keeping its orders in
/// `state` so that a healthy sandbox started on the same file knows them.
fn holding(state: &Path) -> Server {
    Server::start(Config {
        state: Some(state.to_owned()),
        faults: Faults {
            hold_paid: true,
            ..Faults::default()
        },
        ..Config::default()
    })
}

/// Starts `apply` on `held` with `k` workers and waits until exactly `k` paid calls are in
/// flight: stored by the sandbox, never answered, a `submitting` row each.
fn k_calls_in_flight(dir: &Path, held: &Server, k: usize) -> std::process::Child {
    let mut child = spawn_apply(
        dir,
        held,
        &["--concurrency", &k.to_string(), "--request-timeout", "5m"],
        Stdio::piped,
    );
    let started = std::time::Instant::now();
    loop {
        let held_calls = held.stats()["faults"]["held"].as_u64().unwrap_or(0) as usize;
        if held_calls == k && submitting_rows(dir) == k {
            break;
        }
        assert!(
            child.try_wait().expect("wait").is_none(),
            "apply ended before its calls were held"
        );
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "{held_calls} calls held, {} submitting rows after 30 s",
            submitting_rows(dir)
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    child
}

/// After a crash with `k` calls in flight: the ledger has exactly `k` open rows; a re-run on
/// a healthy sandbox finds each of them by refId, buys nothing twice, and records for every
/// key the certId the sandbox has for its refId.
fn reconciles_cleanly(dir: &Path, state: &Path, n: usize, k: usize) {
    let states = ledger_states(dir);
    assert_eq!(states.len(), k, "{states:?}");
    assert_eq!(open_calls(dir), k, "k open submitting rows: {states:?}");
    let healthy = Server::start(Config {
        state: Some(state.to_owned()),
        ..Config::default()
    });
    assert_eq!(
        healthy.stats()["orders_placed"],
        k,
        "the held orders were stored"
    );
    let out = apply(dir, &healthy, &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains(&format!(
            "Plan: {} to place, 0 to renew, 0 to reissue, 0 to replace, 0 to retry, {k} to reconcile",
            n - k
        )),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!("{:<29} {k:>7}", "found done (reconciled)")),
        "each in-flight call found by refId: {stdout}"
    );
    assert_eq!(
        healthy.stats()["requests"]["place"],
        n - k,
        "only the orders never sent were placed"
    );
    assert_exactly_once(&healthy, dir, n);
}

/// The deterministic crash: a sandbox that never answers paid calls, and a `kill -9` once
/// exactly k calls are in flight.
#[test]
fn kill_9_with_k_calls_in_flight_then_a_re_run_finds_each_by_ref_id() {
    let dir = common::scratch("apply-kill-in-flight");
    let state = dir.join("sandbox.json");
    let (n, k) = (10, 4);
    manifest(&dir, n);
    let held = holding(&state);
    let mut child = k_calls_in_flight(&dir, &held, k);
    let _ = child.kill(); // SIGKILL, with k calls in flight
    let _ = child.wait();
    drop(held);
    reconciles_cleanly(&dir, &state, n, k);
}

/// A second Ctrl-C exits at once, even with calls that will never be answered in flight;
/// the next run reconciles them.
#[test]
fn a_second_ctrl_c_exits_at_once_and_the_next_run_reconciles() {
    let dir = common::scratch("apply-interrupt-twice");
    let state = dir.join("sandbox.json");
    let (n, k) = (10, 3);
    manifest(&dir, n);
    let held = holding(&state);
    let mut child = k_calls_in_flight(&dir, &held, k);
    let pid = child.id().to_string();
    let interrupt = || {
        let _ = Command::new("kill").args(["-INT", &pid]).status();
    };
    interrupt();
    // The first Ctrl-C waits for the calls in flight, which never end.
    std::thread::sleep(Duration::from_millis(500));
    assert!(
        child.try_wait().expect("wait").is_none(),
        "one Ctrl-C waits for the calls in flight"
    );
    interrupt();
    let status = wait_or_fail(&mut child, "apply after a second Ctrl-C");
    assert_eq!(status.code(), Some(130));
    let mut stderr = String::new();
    use std::io::Read;
    let _ = child
        .stderr
        .take()
        .expect("stderr")
        .read_to_string(&mut stderr);
    assert!(stderr.contains("Ctrl-C again exits at once"), "{stderr}");
    drop(held);
    reconciles_cleanly(&dir, &state, n, k);
}

#[test]
fn json_output_for_ci_and_a_shared_rate_limit() {
    let dir = common::scratch("apply-json");
    manifest(&dir, 10);
    let server = Server::start(Config::default());
    let started = std::time::Instant::now();
    let out = apply(
        &dir,
        &server,
        &["--format", "json", "--rate", "20/s", "--concurrency", "8"],
    );
    let took = started.elapsed();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        took >= Duration::from_millis(450),
        "10 calls at 20/s take at least 9 intervals: {took:?}"
    );
    let lines: Vec<Value> = text(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect();
    assert_eq!(
        lines.len(),
        12,
        "the plan, one object per outcome, the summary"
    );
    assert_eq!(lines[0]["plan"]["summary"]["place"], 10);
    assert!(
        lines[1..11].iter().all(|l| l["outcome"] == "placed"
            && l["cert_id"].as_str().is_some_and(|c| c.starts_with("SBX")))
    );
    let summary = &lines[11]["summary"];
    assert_eq!(
        (
            summary["placed"].as_u64(),
            summary["failed"].as_u64(),
            summary["unknown"].as_u64()
        ),
        (Some(10), Some(0), Some(0))
    );

    // A second run has nothing to do, and still ends with its summary for the script.
    let again = apply(&dir, &server, &["--format", "json"]);
    assert_eq!(again.status.code(), Some(0));
    let last: Value = text(&again.stdout)
        .lines()
        .last()
        .and_then(|l| serde_json::from_str(l).ok())
        .expect("a last JSON line");
    assert_eq!(last["summary"]["already"], 10, "{last}");

    let status = run_on(&dir, &server, "", &["status", "--format", "json"]);
    let lines: Vec<Value> = text(&status.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON"))
        .collect();
    assert_eq!(lines.len(), 11);
    assert_eq!(lines[0]["state"], "placed");
    assert_eq!(lines[10]["counts"]["placed"], 10);
}

#[test]
fn products_writes_the_catalogue_that_catalog_takes_and_plan_shows_prices() {
    let dir = common::scratch("products");
    let server = Server::start(Config::default());
    let out = nicsrs(&dir, "sandbox")
        .args([
            "products",
            "--endpoint",
            &server.url,
            "--vendor",
            "Sectigo",
            "--vendor",
            "Digicert",
            "-o",
            "catalog.json",
        ])
        .output()
        .expect("products");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let table = text(&out.stdout);
    assert!(
        table.contains("sectigo-ov")
            && table.contains("digicert-secure-site-ov-flex")
            && !table.contains("thawte-ov-flex"),
        "{table}"
    );
    let catalog =
        nicsrs_batch::catalog::Catalog::from_file(&dir.join("catalog.json")).expect("a catalogue");
    assert!(
        catalog
            .get("rapidssl")
            .is_some_and(|p| p.vendor == "Digicert" && p.price(1).is_some())
    );
    let ov = common::root().join("examples/ov.yaml");
    let ov = ov.to_str().expect("path");
    let valid = nicsrs(&dir, "")
        .args(["validate", ov, "--catalog", "catalog.json"])
        .output()
        .expect("validate");
    assert_eq!(valid.status.code(), Some(0), "{}", text(&valid.stderr));
    let out = nicsrs(&dir, "sandbox")
        .args(["products", "--endpoint", &server.url, "--vendor", "sectigo"])
        .output()
        .expect("products");
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("unknown vendor sectigo"),
        "{}",
        text(&out.stderr)
    );

    manifest(&dir, 4);
    let plan = run_on(
        &dir,
        &server,
        "",
        &["plan", "orders.yaml", "--format", "json"],
    );
    let doc: Value = serde_json::from_slice(&plan.stdout).expect("JSON");
    assert_eq!(doc["steps"][0]["price"], 6.0, "comodo-positivessl, 1 year");
    assert_eq!(doc["summary"]["price"], 24.0);
    let plan = run_on(&dir, &server, "", &["plan", "orders.yaml"]);
    assert!(
        text(&plan.stdout).contains("List price of the 4 orders to place: 24.00."),
        "{}",
        text(&plan.stdout)
    );
}

#[test]
fn refresh_records_status_and_writes_certificates_and_keys() {
    let dir = common::scratch("refresh");
    manifest(&dir, 3);
    let server = Server::start(Config::default());
    assert_eq!(apply(&dir, &server, &[]).status.code(), Some(0));
    let refresh = |extra: &[&str]| {
        nicsrs(&dir, "sandbox")
            .args([
                "refresh",
                "--endpoint",
                &server.url,
                "--ledger",
                "ledger.csv",
            ])
            .args(extra)
            .output()
            .expect("refresh")
    };
    let out = refresh(&["--out-dir", "certs"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).ends_with("Refreshed: 3 COMPLETE.\n"),
        "{}",
        text(&out.stdout)
    );
    let certs = dir.join("certs");
    let cert_pem = std::fs::read_to_string(certs.join("site-0001/cert.pem")).expect("certificate");
    let chain_pem = std::fs::read_to_string(certs.join("site-0001/chain.pem")).expect("chain");
    assert!(chain_pem.contains("BEGIN CERTIFICATE"));
    assert_eq!(
        std::fs::read_to_string(certs.join("site-0001/fullchain.pem")).expect("full chain"),
        format!("{}\n{}", cert_pem.trim_end(), chain_pem.trim_start()),
        "the full chain is the certificate, then the CA's"
    );
    let key_pem =
        std::fs::read_to_string(certs.join("site-0001/privkey.pem")).expect("generated key");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(certs.join("site-0001/privkey.pem"))
            .expect("meta")
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(mode, 0o600, "keys are readable by their owner only");
    }
    let (_, pem) = x509_parser::pem::parse_x509_pem(cert_pem.as_bytes()).expect("PEM");
    let cert = pem.parse_x509().expect("X.509");
    let key = rcgen::KeyPair::from_pem(&key_pem).expect("key");
    assert_eq!(
        cert.public_key().subject_public_key.data.as_ref(),
        rcgen::PublicKeyData::der_bytes(&key),
        "the key is the certificate's"
    );
    let ledger = std::fs::read_to_string(dir.join("ledger.csv")).expect("ledger");
    assert!(
        !ledger.contains("PRIVATE KEY") && !ledger.contains("BEGIN"),
        "no key material in the ledger"
    );
    assert_eq!(
        ledger
            .lines()
            .skip(1)
            .filter(|l| l.contains(",status,"))
            .count(),
        3
    );

    let out = refresh(&[]);
    assert!(
        text(&out.stdout).starts_with("Nothing to refresh"),
        "COMPLETE is final: {}",
        text(&out.stdout)
    );
    let status = run_on(&dir, &server, "", &["status"]);
    let s = text(&status.stdout);
    assert!(
        s.contains("COMPLETE  expires ") && s.ends_with("3 keys in ledger.csv: 3 placed\n"),
        "{s}"
    );
    let plan = run_on(
        &dir,
        &server,
        "",
        &["plan", "orders.yaml", "--detailed-exitcode"],
    );
    assert_eq!(plan.status.code(), Some(0), "status rows do not make work");
}

/// Keys may hold dots: `a` and `a.chain` are two keys, and neither's files are the other's.
#[test]
fn refresh_out_dir_gives_every_key_its_own_files() {
    let dir = common::scratch("refresh-prefix");
    let path = manifest(&dir, 2);
    let text_of = std::fs::read_to_string(&path).expect("manifest");
    std::fs::write(
        &path,
        text_of
            .replace("key: site-0000", "key: a")
            .replace("key: site-0001", "key: a.chain"),
    )
    .expect("manifest");
    let server = Server::start(Config::default());
    assert_eq!(apply(&dir, &server, &[]).status.code(), Some(0));
    let out = run_on(&dir, &server, "sandbox", &["refresh", "--out-dir", "certs"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let names_in = |file: &str| {
        let pem = std::fs::read_to_string(dir.join("certs").join(file)).expect(file);
        let (_, pem) = x509_parser::pem::parse_x509_pem(pem.as_bytes()).expect("PEM");
        let cert = pem.parse_x509().expect("X.509");
        cert.subject().to_string()
    };
    assert!(names_in("a/cert.pem").contains("www.site0000.example"));
    assert!(names_in("a.chain/cert.pem").contains("www.site0001.example"));
    for key in ["a", "a.chain"] {
        for file in ["cert.pem", "chain.pem", "fullchain.pem", "privkey.pem"] {
            assert!(
                dir.join("certs").join(key).join(file).is_file(),
                "{key}/{file}"
            );
        }
    }
    // A folder holding another certificate than the key's current one (collected since by
    // a refresh without --out-dir) is written again.
    let marker = dir.join("certs/a/.cert-id");
    let current = std::fs::read_to_string(&marker).expect("the folder's certId");
    std::fs::write(&marker, "SBX-an-older-one\n").expect("marker");
    let out = run_on(&dir, &server, "sandbox", &["refresh", "--out-dir", "certs"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("Refreshed: 1 COMPLETE."),
        "{}",
        text(&out.stdout)
    );
    assert_eq!(std::fs::read_to_string(&marker).ok(), Some(current));
}

#[test]
fn refresh_of_pending_orders_keeps_asking() {
    let dir = common::scratch("refresh-pending");
    manifest(&dir, 2);
    let server = Server::start(Config {
        issue_after: Duration::from_secs(3600),
        ..Config::default()
    });
    assert_eq!(apply(&dir, &server, &[]).status.code(), Some(0));
    for _ in 0..2 {
        let out = nicsrs(&dir, "sandbox")
            .args([
                "refresh",
                "--endpoint",
                &server.url,
                "--ledger",
                "ledger.csv",
                "--format",
                "json",
            ])
            .output()
            .expect("refresh");
        assert_eq!(out.status.code(), Some(0));
        let last: Value =
            serde_json::from_str(text(&out.stdout).lines().last().expect("summary")).expect("JSON");
        assert_eq!(last["summary"]["PENDING"], 2, "{last}");
    }
    assert_eq!(server.stats()["requests"]["collect"], 4);
}

#[test]
fn plan_and_apply_refresh_first_and_keep_their_output_clean() {
    let dir = common::scratch("plan-refresh");
    manifest(&dir, 2);
    let server = Server::start(Config::default());
    assert_eq!(apply(&dir, &server, &[]).status.code(), Some(0));
    let out = run_on(
        &dir,
        &server,
        "sandbox",
        &["plan", "orders.yaml", "--refresh", "--format", "json"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let doc: Value =
        serde_json::from_slice(&out.stdout).expect("stdout is still one JSON document");
    assert_eq!(doc["summary"]["nothing"], 2);
    assert!(
        text(&out.stderr).contains("Refreshed: 2 COMPLETE."),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(server.stats()["requests"]["collect"], 2);
    let out = apply(&dir, &server, &["--refresh"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(
        text(&out.stderr).contains("Nothing to refresh"),
        "COMPLETE is final: {}",
        text(&out.stderr)
    );
    assert_eq!(server.stats()["requests"]["collect"], 2);
}

/// `value` with what changes from run to run (times, dates, durations) replaced by its
/// kind, so that every other field can be pinned.
fn steady(value: Value) -> Value {
    const VOLATILE: &[&str] = &[
        "time",
        "seconds",
        "not_before",
        "not_after",
        "due_date",
        "days_left",
        "due_from",
    ];
    match value {
        Value::Object(map) => Value::Object(
            map.into_iter()
                .map(|(k, v)| {
                    let blank = v.is_null() || v == "";
                    let v = if VOLATILE.contains(&k.as_str()) && !blank {
                        Value::String(format!("<{k}>"))
                    } else {
                        steady(v)
                    };
                    (k, v)
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.into_iter().map(steady).collect()),
        Value::String(text) => Value::String(undated(&text)),
        other => other,
    }
}

/// `text` with its dates (`2027-05-20`) and day counts (`(200 days)`) replaced.
fn undated(text: &str) -> String {
    let b = text.as_bytes();
    let digits = |from: usize, n: usize| {
        b.get(from..from + n)
            .is_some_and(|d| d.iter().all(u8::is_ascii_digit))
    };
    let mut out = String::new();
    let mut i = 0;
    while i < b.len() {
        if digits(i, 4)
            && b.get(i + 4) == Some(&b'-')
            && digits(i + 5, 2)
            && b.get(i + 7) == Some(&b'-')
            && digits(i + 8, 2)
        {
            out.push_str("<date>");
            i += 10;
        } else if b[i] == b'(' && b.get(i + 1).is_some_and(u8::is_ascii_digit) {
            let end = b[i + 1..]
                .iter()
                .position(|c| !c.is_ascii_digit())
                .map_or(b.len(), |p| i + 1 + p);
            if text[end..].starts_with(" days)") {
                out.push_str("(<n> days)");
                i = end + " days)".len();
            } else {
                out.push('(');
                i += 1;
            }
        } else {
            let c = text[i..].chars().next().unwrap_or(' ');
            out.push(c);
            i += c.len_utf8();
        }
    }
    out
}

/// Each line of `out` as JSON, made steady, one per line.
fn steady_lines(out: &[u8]) -> String {
    text(out)
        .lines()
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}"));
            format!("{}\n", steady(v))
        })
        .collect()
}

/// Every field of every JSON line that `apply`, `plan`, `status` and `refresh` print, for
/// CI scripts that read them, pinned in `tests/fixtures/json/`.
#[test]
fn every_field_of_every_json_output_is_pinned() {
    let dir = common::scratch("apply-json-pinned");
    manifest(&dir, 2);
    let server = Server::start(Config::default());
    let fixtures = common::root().join("tests/fixtures/json");
    let mut failures = Vec::new();
    let mut pin = |name: &str, output: &std::process::Output, code: i32| {
        if output.status.code() != Some(code) {
            failures.push(format!(
                "{name}: exit {:?}: {}",
                output.status.code(),
                text(&output.stderr)
            ));
        }
        // `.json`: one document (plan, validate); `.jsonl`: one object per line.
        let shown = if name.ends_with(".jsonl") {
            steady_lines(&output.stdout)
        } else {
            match serde_json::from_slice::<Value>(&output.stdout) {
                Ok(doc) => format!("{:#}\n", steady(doc)),
                Err(e) => format!("not one JSON document: {e}\n{}", text(&output.stdout)),
            }
        };
        if let Err(e) = common::expect_file(&fixtures.join(name), &shown) {
            failures.push(e);
        }
    };
    let json = ["--format", "json"];
    pin(
        "plan.json",
        &run_on(
            &dir,
            &server,
            "",
            &["plan", "orders.yaml", "--format", "json"],
        ),
        0,
    );
    // One worker, so that the outcomes come in the manifest's order with the same certIds.
    let first = apply(&dir, &server, &["--format", "json", "--concurrency", "1"]);
    pin("apply.jsonl", &first, 0);
    // Nothing to do: still the plan and a summary.
    pin("apply-nothing-to-do.jsonl", &apply(&dir, &server, &json), 0);
    pin(
        "status.jsonl",
        &run_on(&dir, &server, "", &["status", "--format", "json"]),
        0,
    );
    let refresh = run_on(
        &dir,
        &server,
        "sandbox",
        &["refresh", "--format", "json", "--concurrency", "1"],
    );
    pin("refresh.jsonl", &refresh, 0);
    pin(
        "status-after-refresh.jsonl",
        &run_on(
            &dir,
            &server,
            "",
            &["status", "orders.yaml", "--format", "json"],
        ),
        0,
    );
    let invalid = common::root().join("tests/fixtures/invalid");
    let validate = nicsrs(&invalid, "")
        .args(["validate", "--format", "json", "domain-validation.yaml"])
        .output()
        .expect("validate");
    pin("validate.json", &validate, 2);
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn lookups_sent_ahead_never_let_an_invalid_run_pay_or_touch_the_ledger() {
    let dir = common::scratch("apply-invalid-ahead");
    manifest(&dir, 3);
    let server = Server::start(Config::default());
    assert_eq!(apply(&dir, &server, &[]).status.code(), Some(0));
    // A torn last row, which a valid run would cut off: an invalid one leaves it.
    let mut before = std::fs::read(dir.join("ledger.csv")).expect("ledger");
    before.extend_from_slice(b"2026-12-01T06:53:13Z,sandbox,submitting,site-0");
    std::fs::write(dir.join("ledger.csv"), &before).expect("torn ledger");
    // Enough orders that the first are checked (and looked up) while the file is still
    // read; the last one is invalid.
    let path = manifest(&dir, 2000);
    let bad = std::fs::read_to_string(&path)
        .expect("m")
        .replace("www.site1999.example", "www.site1999..example");
    std::fs::write(&path, bad).expect("write");
    let out = apply(&dir, &server, &[]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("site-1999"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(server.stats()["requests"]["place"], 3, "no placement sent");
    assert_eq!(
        std::fs::read(dir.join("ledger.csv")).expect("ledger"),
        before,
        "the ledger is as it was"
    );
    // Valid again: the lookups ahead are taken, and each order placed once.
    manifest(&dir, 2000);
    let out = apply(&dir, &server, &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_exactly_once(&server, &dir, 2000);
    let st = server.stats();
    assert_eq!(st["requests"]["place"], 2000, "{st}");
}
