//! The guards that keep money safe and the promises the README makes of the command line,
//! each tried as a user meets it: no token, a refused token, refusals that block an order
//! until it is edited, calls never sent, a torn ledger, the expiry filter, a refresh that
//! cannot write, and a sandbox killed with `kill -9`.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use nicsrs_batch::catalog::Catalog;
use nicsrs_batch::sandbox::Config;
use serde_json::{Value, json};

mod common;

use common::server::{Server, apply, ledger_states, manifest, nicsrs, run_on, text};

/// The ledger's rows as `(event, key, code)`.
fn rows(dir: &Path) -> Vec<(String, String, String)> {
    let ledger = std::fs::read_to_string(dir.join("ledger.csv")).expect("ledger");
    ledger
        .lines()
        .skip(1)
        .map(|l| {
            let cells: Vec<&str> = l.split(',').collect();
            (
                cells[2].to_owned(),
                cells[3].to_owned(),
                cells[11].to_owned(),
            )
        })
        .collect()
}

/// Every key's order placed once, with the certId the sandbox has for its refId.
fn placed_once(server: &Server, dir: &Path, n: usize) {
    let st = server.stats();
    assert_eq!(st["duplicate_ref_ids"], json!([]), "no order placed twice");
    assert_eq!(st["orders_placed"], n, "{st}");
    let contents =
        nicsrs_batch::ledger::read(&dir.join("ledger.csv"), nicsrs_batch::ledger::Api::Sandbox)
            .expect("ledger");
    let states = contents.states();
    assert_eq!(states.len(), n);
    for (key, state) in states {
        let row = state.current.expect("placed");
        let found = server.call("certIdByrefId", &[("refId", &row.ref_id)]);
        assert_eq!(
            found["data"]["certId"].as_str(),
            Some(row.cert_id.as_str()),
            "{key}: the ledger's certId is the sandbox's answer for its refId"
        );
    }
}

#[test]
fn without_a_token_nothing_is_sent_and_nothing_written() {
    let dir = common::scratch("guard-no-token");
    manifest(&dir, 3);
    let server = Server::start(Config::default());
    for args in [
        &["apply", "orders.yaml", "--yes"][..],
        &["products", "--vendor", "Sectigo"],
    ] {
        let out = nicsrs(&dir, "")
            .env_remove("NICSRS_API_TOKEN")
            .args(args)
            .args(["--endpoint", &server.url, "--ledger", "ledger.csv"])
            .output()
            .expect("runs");
        assert_eq!(
            out.status.code(),
            Some(1),
            "{args:?}: {}",
            text(&out.stderr)
        );
        assert!(
            text(&out.stderr).contains("NICSRS_API_TOKEN"),
            "{args:?}: the message says where the token comes from: {}",
            text(&out.stderr)
        );
        assert!(!dir.join("ledger.csv").exists(), "{args:?} wrote a ledger");
    }
    assert_eq!(server.stats()["requests"], json!({}), "no call was made");
}

#[test]
fn a_refused_token_stops_the_run_at_once_and_nothing_is_lost() {
    let dir = common::scratch("guard-400");
    let n = 20;
    let wrong = "not-the-token-of-this-account";
    // With the lookup by refId first, and with `--trust-ledger` (the paid call first).
    for trust in [false, true] {
        let dir = dir.join(if trust { "trusted" } else { "default" });
        std::fs::create_dir_all(&dir).expect("dir");
        manifest(&dir, n);
        let server = Server::start(Config::default());
        let mut extra = vec!["--concurrency", "4"];
        if trust {
            extra.push("--trust-ledger");
        }
        let out = nicsrs(&dir, wrong)
            .args(["apply", "orders.yaml", "--yes", "--endpoint", &server.url])
            .args(["--ledger", "ledger.csv"])
            .args(&extra)
            .output()
            .expect("apply");
        let stdout = text(&out.stdout);
        assert_eq!(out.status.code(), Some(3), "{stdout}{}", text(&out.stderr));
        assert!(
            stdout.contains("stopped: "),
            "the reason is given: {stdout}"
        );
        assert!(!stdout.contains(wrong) && !text(&out.stderr).contains(wrong));
        let st = server.stats();
        // Each worker's call in flight when the first 400 came back, and nothing after.
        let calls = if trust { "place" } else { "certIdByrefId" };
        let sent = st["requests"][calls].as_u64().unwrap_or(0);
        assert!((1..=4).contains(&sent), "{st}");
        assert_eq!(st["orders_placed"], 0);
        // What was refused is recorded; with the right token everything is placed, once.
        let recorded = rows(&dir);
        // By default the lookups go ahead while the manifest is validated: a job takes the
        // refusal if it started before the stop, and no job starts after it.
        let started = recorded
            .iter()
            .map(|(_, key, _)| key)
            .collect::<std::collections::HashSet<_>>()
            .len() as u64;
        assert!(
            if trust {
                started == sent
            } else {
                started <= sent
            },
            "{recorded:?}"
        );
        assert!(
            stdout.contains(&format!("{:<29} {:>7}", "not started", n as u64 - started)),
            "the rest were never started: {stdout}"
        );
        assert!(
            recorded
                .iter()
                .all(|(e, _, code)| (e == "submitting" && code.is_empty())
                    || (e == "failed" && code == "400")
                    || e == "unknown"),
            "{recorded:?}"
        );
        let out = apply(&dir, &server, &[]);
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));
        placed_once(&server, &dir, n);
    }
}

/// A sandbox whose catalogue allows `comodo-ssl` one year only and has no `rapidssl`: the
/// tool's built-in catalogue allows both, so the API refuses them (-1, -3).
fn narrower_catalogue(dir: &Path) -> Catalog {
    let out = nicsrs(dir, "")
        .args(["catalog", "--format", "json"])
        .output()
        .expect("catalog");
    let mut products: Vec<Value> = serde_json::from_slice(&out.stdout).expect("catalogue");
    products.retain(|p| p["code"] != "rapidssl");
    for p in &mut products {
        if p["code"] == "comodo-ssl" {
            p["maxYear"] = json!(1);
        }
    }
    let path = dir.join("sandbox-catalog.json");
    std::fs::write(&path, serde_json::to_vec(&products).expect("JSON")).expect("catalogue");
    Catalog::from_file(&path).expect("catalogue")
}

#[test]
fn refusals_block_an_order_until_it_is_edited_then_it_is_retried() {
    let dir = common::scratch("guard-refusals");
    let server = Server::start(Config {
        catalog: narrower_catalogue(&dir),
        ..Config::default()
    });
    let path = manifest(&dir, 4);
    let good = std::fs::read_to_string(&path).expect("manifest");
    let refused = good
        .replace(
            "  - key: site-0000\n    params:",
            "  - key: site-0000\n    productCode: comodo-ssl\n    years: 2\n    params:",
        )
        .replace(
            "  - key: site-0001\n    params:",
            "  - key: site-0001\n    productCode: rapidssl\n    params:",
        )
        .replace("www.site0002.example", "www.ca-refuses.example");
    std::fs::write(&path, &refused).expect("manifest");
    let out = apply(&dir, &server, &[]);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(3), "{stdout}{}", text(&out.stderr));
    let mut failed: Vec<(String, String)> = rows(&dir)
        .into_iter()
        .filter(|(e, _, _)| e == "failed")
        .map(|(_, k, c)| (k, c))
        .collect();
    failed.sort();
    let expected: Vec<(String, String)> = [
        ("site-0000", "-1"),
        ("site-0001", "-3"),
        ("site-0002", "-6"),
    ]
    .iter()
    .map(|(k, c)| (k.to_string(), c.to_string()))
    .collect();
    assert_eq!(failed, expected, "each refusal recorded with its code");
    assert_eq!(
        server.stats()["requests"]["place"],
        4,
        "a refusal is final for that request: never sent again"
    );
    // The plan blocks each refused order, with the API's reason, and sends nothing again.
    let plan = run_on(&dir, &server, "", &["plan", "orders.yaml"]);
    let shown = text(&plan.stdout);
    for key in ["site-0000", "site-0001", "site-0002"] {
        assert!(
            shown
                .lines()
                .any(|l| l.trim_start().starts_with("blocked") && l.contains(key)),
            "{key} blocked: {shown}"
        );
    }
    assert!(
        shown.contains("the CA refused www.ca-refuses.example"),
        "{shown}"
    );
    let out = apply(&dir, &server, &[]);
    assert_eq!(
        out.status.code(),
        Some(3),
        "blocked orders leave the run incomplete"
    );
    assert_eq!(server.stats()["requests"]["place"], 4, "nothing sent again");
    // Edited, each is retried, and placed once.
    std::fs::write(&path, &good).expect("manifest");
    let plan = run_on(&dir, &server, "", &["plan", "orders.yaml"]);
    assert!(
        text(&plan.stdout).contains("0 to reconcile, 1 with nothing to do, 0 blocked")
            && text(&plan.stdout).contains("3 to retry"),
        "{}",
        text(&plan.stdout)
    );
    let out = apply(&dir, &server, &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));
    placed_once(&server, &dir, 4);
}

/// A reconcile sends its call again when NicSRS has no such order: `--max-orders` counts
/// it, and a refusal still ends `--format json` with a summary saying why.
#[test]
fn max_orders_counts_the_reconciles_that_may_buy_and_a_refusal_ends_json_with_a_summary() {
    use nicsrs_batch::ledger::{Api, Event, Row, Writer};
    let dir = common::scratch("guard-max-reconcile");
    manifest(&dir, 3);
    let server = Server::start(Config::default());
    // Calls interrupted before NicSRS stored them (a crash after the write-ahead row).
    {
        let (mut writer, _) = Writer::open(&dir.join("ledger.csv"), Api::Sandbox).expect("ledger");
        for i in 0..2 {
            let key = format!("site-{i:04}");
            writer
                .append(&Row {
                    ref_id: format!("t-{key}"),
                    product_code: "comodo-positivessl".into(),
                    years: 1,
                    attempt: 1,
                    manifest: "orders.yaml".into(),
                    ..Row::about(Api::Sandbox, Event::Submitting, &key)
                })
                .expect("row");
        }
        writer.sync().expect("sync");
    }
    let out = apply(&dir, &server, &["--max-orders", "2", "--format", "json"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stdout));
    assert!(
        text(&out.stderr).contains(
            "refusing: the plan would place, renew, reissue or replace 3 orders (2 of them reconciles, which send their call again if NicSRS has no such order), more than --max-orders 2"
        ),
        "{}",
        text(&out.stderr)
    );
    let last: Value = text(&out.stdout)
        .lines()
        .last()
        .and_then(|l| serde_json::from_str(l).ok())
        .expect("a JSON line");
    assert_eq!(last["summary"]["not_started"], 3, "{last}");
    assert!(
        last["summary"]["stopped"]
            .as_str()
            .is_some_and(|s| s.starts_with("refusing: ")),
        "{last}"
    );
    assert_eq!(server.stats()["requests"], json!({}), "nothing was sent");
    let out = apply(&dir, &server, &["--max-orders", "3"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    placed_once(&server, &dir, 3);
}

#[test]
fn calls_never_sent_are_retried_then_failed_then_retried_by_the_next_run() {
    let dir = common::scratch("guard-not-sent");
    let n = 2;
    manifest(&dir, n);
    // A port nothing listens on: every connection is refused, so no call is ever sent.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("port");
    let url = format!("http://{}", closed.local_addr().expect("addr"));
    drop(closed);
    let out = nicsrs(&dir, "sandbox")
        .args([
            "apply",
            "orders.yaml",
            "--yes",
            "--trust-ledger",
            "--endpoint",
            &url,
        ])
        .args(["--ledger", "ledger.csv", "--request-timeout", "2s"])
        .output()
        .expect("apply");
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stdout));
    // Each call was written ahead, tried again within the run, and recorded as failed:
    // never sent, so nothing was bought and nothing needs reconciling.
    let events: Vec<(String, String)> = rows(&dir).into_iter().map(|(e, k, _)| (e, k)).collect();
    assert_eq!(events.iter().filter(|(e, _)| e == "submitting").count(), n);
    assert_eq!(events.iter().filter(|(e, _)| e == "failed").count(), n);
    let ledger = std::fs::read_to_string(dir.join("ledger.csv")).expect("ledger");
    assert_eq!(ledger.matches(",not sent: ").count(), n, "{ledger}");
    let healthy = Server::start(Config::default());
    let plan = run_on(&dir, &healthy, "", &["plan", "orders.yaml"]);
    assert!(
        text(&plan.stdout).contains(&format!("{n} to retry, 0 to reconcile")),
        "{}",
        text(&plan.stdout)
    );
    let out = apply(&dir, &healthy, &["--trust-ledger"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));
    placed_once(&healthy, &dir, n);
}

#[test]
fn a_torn_last_line_is_warned_about_on_the_command_line_and_nothing_is_lost() {
    let dir = common::scratch("guard-torn");
    manifest(&dir, 3);
    let server = Server::start(Config::default());
    assert_eq!(apply(&dir, &server, &[]).status.code(), Some(0));
    let ledger = dir.join("ledger.csv");
    let mut bytes = std::fs::read(&ledger).expect("ledger");
    bytes.extend_from_slice(b"2027-01-01T00:00:00Z,sandbox,plac");
    std::fs::write(&ledger, &bytes).expect("ledger");
    for args in [&["plan", "orders.yaml"][..], &["status"]] {
        let out = run_on(&dir, &server, "", args);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{args:?}: {}",
            text(&out.stderr)
        );
        let stderr = text(&out.stderr);
        assert!(
            stderr.starts_with("warning: ledger ledger.csv: ")
                && stderr.contains("line 8: the last line is incomplete"),
            "{args:?}: {stderr}"
        );
    }
    let out = apply(&dir, &server, &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("Nothing to do."));
    assert_eq!(ledger_states(&dir).len(), 3);
    assert_eq!(server.stats()["orders_placed"], 3);
}

#[test]
fn status_expiring_keeps_only_what_expires_within_the_window() {
    let dir = common::scratch("guard-expiring");
    manifest(&dir, 3);
    let server = Server::start(Config {
        validity_days: 20,
        ..Config::default()
    });
    assert_eq!(apply(&dir, &server, &[]).status.code(), Some(0));
    let out = run_on(&dir, &server, "sandbox", &["refresh"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let keys = |window: &str| -> Vec<String> {
        let out = run_on(
            &dir,
            &server,
            "",
            &["status", "--expiring", window, "--format", "json"],
        );
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
        text(&out.stdout)
            .lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .filter_map(|v| v["key"].as_str().map(str::to_owned))
            .collect()
    };
    assert_eq!(keys("30d"), ["site-0000", "site-0001", "site-0002"]);
    assert_eq!(keys("10d"), Vec::<String>::new());
    let out = run_on(&dir, &server, "", &["status", "--expiring", "30d"]);
    assert!(
        text(&out.stdout).contains("(20 days)") || text(&out.stdout).contains("(19 days)"),
        "{}",
        text(&out.stdout)
    );
}

#[test]
fn refresh_exits_3_when_a_certificate_cannot_be_written() {
    let dir = common::scratch("guard-refresh-3");
    manifest(&dir, 2);
    let server = Server::start(Config::default());
    assert_eq!(apply(&dir, &server, &[]).status.code(), Some(0));
    std::fs::write(dir.join("certs"), "a file, not a folder").expect("file");
    let out = run_on(&dir, &server, "sandbox", &["refresh", "--out-dir", "certs"]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stdout));
    assert!(
        text(&out.stderr).contains("site-0000") || text(&out.stdout).contains("site-0000"),
        "the key is named: {}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
}

/// `nicsrs-batch sandbox --state FILE` as a process, and the URL it listens on.
fn sandbox_process(dir: &Path) -> (std::process::Child, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_nicsrs-batch"))
        .args([
            "sandbox",
            "--listen",
            "127.0.0.1:0",
            "--state",
            "state.json",
        ])
        .current_dir(dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("sandbox");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("listening line");
    let url = line
        .trim()
        .strip_prefix("listening on ")
        .expect("listening on URL")
        .to_owned();
    (child, url)
}

#[test]
fn the_sandbox_keeps_its_orders_through_a_kill_9_of_itself() {
    let dir = common::scratch("guard-sandbox-kill");
    manifest(&dir, 5);
    let apply_on = |url: &str| {
        nicsrs(&dir, "sandbox")
            .args(["apply", "orders.yaml", "--yes", "--endpoint", url])
            .args(["--ledger", "ledger.csv", "--request-timeout", "5s"])
            .output()
            .expect("apply")
    };
    let (mut sandbox, url) = sandbox_process(&dir);
    let out = apply_on(&url);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    sandbox.kill().expect("kill -9"); // SIGKILL: no chance to save on the way out
    let _ = sandbox.wait();
    std::thread::sleep(Duration::from_millis(50));
    // The ledger is lost too: only the sandbox's own state can say the orders exist.
    std::fs::remove_file(dir.join("ledger.csv")).expect("ledger");
    let (mut sandbox, url) = sandbox_process(&dir);
    let out = apply_on(&url);
    let _ = sandbox.kill();
    let _ = sandbox.wait();
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}{}", text(&out.stderr));
    assert!(
        stdout.contains(&format!("{:<29} {:>7}", "found done (reconciled)", 5))
            && stdout.contains(&format!("{:<29} {:>7}", "placed now", 0)),
        "every order found by refId after the restart: {stdout}"
    );
}

/// A disk that fills up in the middle of a run (the ledger may grow to `limit` bytes; the
/// write past it fails with EFBIG, as on a full disk), at every point of a row: the
/// ledger's row before a paid call is written first, so that no call is sent that the
/// ledger could not record, and the next run on a disk with room finds every order.
#[test]
fn a_full_disk_sends_no_call_the_ledger_could_not_record() {
    let n = 12;
    let mut stopped_on_a_write_ahead_row = 0;
    // From the second row to the tenth, in steps shorter than a row.
    for limit in (600..3600).step_by(150) {
        let dir = common::scratch(&format!("guard-full-disk-{limit}"));
        manifest(&dir, n);
        let server = Server::start(Config::default());
        let out = apply_with_file_limit(&dir, &server, limit);
        let stderr = text(&out.stderr);
        assert_ne!(out.status.code(), Some(0), "{limit}: {stderr}");
        assert!(
            stderr.contains("ledger.csv: File too large"),
            "{limit}: {stderr}"
        );
        let ledger = std::fs::read(dir.join("ledger.csv")).expect("ledger");
        assert!(ledger.len() as u64 <= limit);
        let written = String::from_utf8_lossy(&ledger);
        // Whole submitting rows: a torn last one is no record.
        let whole: Vec<&str> = written.split("\r\n").collect();
        let recorded = whole[..whole.len() - 1]
            .iter()
            .filter(|l| l.contains(",submitting,"))
            .count();
        stopped_on_a_write_ahead_row +=
            usize::from(whole[whole.len() - 1].contains(",submitting,"));
        let sent = server.stats()["requests"]["place"].as_u64().unwrap_or(0) as usize;
        assert!(sent < n, "{limit}: the run stopped: {sent} calls");
        assert!(
            sent <= recorded,
            "{limit}: {sent} paid calls sent, but only {recorded} written ahead in the ledger"
        );
        let out = apply(&dir, &server, &[]);
        assert_eq!(out.status.code(), Some(0), "{limit}: {}", text(&out.stderr));
        placed_once(&server, &dir, n);
    }
    assert!(
        stopped_on_a_write_ahead_row > 0,
        "some limit fell in the middle of a write-ahead row"
    );
}

/// `apply` with files limited to `limit` bytes (RLIMIT_FSIZE, SIGXFSZ ignored): a write
/// past it fails with EFBIG, as on a full disk.
fn apply_with_file_limit(dir: &Path, server: &Server, limit: u64) -> std::process::Output {
    use std::os::unix::process::CommandExt;
    let mut command = nicsrs(dir, "sandbox");
    command
        .args(["apply", "orders.yaml", "--yes", "--endpoint", &server.url])
        .args(["--ledger", "ledger.csv", "--concurrency", "2"]);
    let limit = limit as libc::rlim_t;
    // SAFETY: only async-signal-safe calls between fork and exec.
    unsafe {
        command.pre_exec(move || {
            libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
            let rl = libc::rlimit {
                rlim_cur: limit,
                rlim_max: limit,
            };
            if libc::setrlimit(libc::RLIMIT_FSIZE, &rl) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    command.output().expect("apply")
}

/// Runs `command`, reads one line of its output, then closes the pipe, as `head -1` does:
/// that line, and how the command ended.
fn head_1(mut command: Command) -> (String, std::process::Output) {
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starts");
    let stdout = child.stdout.take().expect("stdout");
    let mut first = String::new();
    BufReader::new(stdout)
        .read_line(&mut first)
        .expect("a line");
    (first, child.wait_with_output().expect("ends"))
}

/// `apply … | head -1`: the reader goes away; the run still places and records every
/// order, and ends without a panic or an error about the pipe.
#[test]
fn a_closed_stdout_ends_the_output_quietly_and_the_run_completes() {
    let dir = common::scratch("closed-stdout");
    manifest(&dir, 3);
    let server = Server::start(Config::default());
    let mut apply = nicsrs(&dir, "sandbox");
    apply
        .args(["apply", "orders.yaml", "--yes", "--endpoint", &server.url])
        .args(["--ledger", "ledger.csv"]);
    let (_, out) = head_1(apply);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(!stderr.contains("Broken pipe"), "{stderr}");
    assert_ne!(out.status.code(), Some(101), "{stderr}");
    assert_eq!(server.stats()["requests"]["place"], 3, "every order placed");
    let states = ledger_states(&dir);
    assert_eq!(states.len(), 3, "and recorded");
}

/// `plan … | head -1` on a long plan: no "cannot write output: Broken pipe".
#[test]
fn a_reader_that_stops_early_gets_no_error_about_the_pipe() {
    let dir = common::scratch("closed-stdout-plan");
    manifest(&dir, 3000);
    let mut plan = nicsrs(&dir, "sandbox");
    plan.args(["plan", "orders.yaml", "--sandbox", "--ledger", "ledger.csv"]);
    let (first, out) = head_1(plan);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(first.contains("place"), "{first}");
    assert!(
        !stderr.contains("Broken pipe") && !stderr.contains("panicked"),
        "{stderr}"
    );
}

/// `status` with manifests and no ledger yet: it says the ledger does not exist, and lists
/// every order as not started, with what apply would do.
#[test]
fn status_says_the_ledger_does_not_exist_and_lists_the_orders_not_started() {
    let dir = common::scratch("status-no-ledger");
    manifest(&dir, 2);
    let out = nicsrs(&dir, "sandbox")
        .args(["status", "orders.yaml", "--sandbox", "--ledger", "none.csv"])
        .output()
        .expect("status runs");
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("none.csv does not exist yet"), "{stderr}");
    assert!(
        stdout.contains("not-started site-0000")
            && stdout.contains("not-started site-0001")
            && stdout.contains("2 keys in none.csv: 2 not-started"),
        "{stdout}"
    );
    let out = nicsrs(&dir, "sandbox")
        .args(["status", "orders.yaml", "--sandbox", "--ledger", "none.csv"])
        .args(["--format", "json"])
        .output()
        .expect("status runs");
    let lines: Vec<Value> = text(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON line"))
        .collect();
    assert_eq!(lines[0]["state"], "not-started");
    assert_eq!(lines[0]["next"], "place");
    assert_eq!(lines[2]["counts"], json!({"not-started": 2}));
}
