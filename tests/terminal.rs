//! `apply` on a terminal, as a person sees it: run on a pseudo-terminal of a known size
//! (Python's `pty`), its output read as the terminal would draw it.

use std::path::Path;
use std::process::{Command, Output};

use nicsrs_batch::sandbox::Config;

mod common;

use common::root;
use common::server::{Server, manifest, text};

const COLUMNS: usize = 60;

/// `nicsrs-batch ARGS` on a terminal of COLUMNS x 24 in `dir`; types `answer` after `prompt`.
fn on_terminal(dir: &Path, args: &[&str], prompt: &str, answer: &str) -> Output {
    Command::new("python3")
        .arg(root().join("tests/fixtures/pty/run.py"))
        .args([&COLUMNS.to_string(), "24", prompt, answer, "--"])
        .arg(env!("CARGO_BIN_EXE_nicsrs-batch"))
        .args(args)
        .current_dir(dir)
        .env("NICSRS_API_TOKEN", "sandbox")
        .env("NO_COLOR", "1")
        .env_remove("NICSRS_ENDPOINT")
        .output()
        .expect("python3 runs")
}

/// What the terminal shows: each row drawn, escape sequences removed, a carriage return
/// starting the row again, and a row that reaches the last column going on in the next one
/// (as a terminal wraps).
fn rows_drawn(raw: &str) -> Vec<String> {
    let mut rows = Vec::new();
    for line in raw.split('\n') {
        for segment in line.split('\r') {
            let mut row = String::new();
            let mut chars = segment.chars().peekable();
            while let Some(c) = chars.next() {
                if c == '\u{1b}' {
                    // CSI: ESC [ parameters final-byte
                    if chars.peek() == Some(&'[') {
                        chars.next();
                        for d in chars.by_ref() {
                            if ('@'..='~').contains(&d) {
                                break;
                            }
                        }
                    }
                    continue;
                }
                if row.chars().count() == COLUMNS {
                    rows.push(std::mem::take(&mut row));
                }
                row.push(c);
            }
            rows.push(row);
        }
    }
    rows
}

/// 12 orders; 3 of them name hosts the sandbox's CA refuses (-6).
fn orders(dir: &Path) {
    let path = manifest(dir, 12);
    let mut text = std::fs::read_to_string(&path).expect("manifest");
    for i in [2, 5, 9] {
        text = text.replace(
            &format!("www.site{i:04}.example"),
            &format!("s{i}.ca-refuses.example"),
        );
    }
    std::fs::write(&path, text).expect("manifest");
}

#[test]
fn a_terminal_run_shows_every_failed_key_and_never_exceeds_the_terminal() {
    let dir = common::scratch("terminal-run");
    orders(&dir);
    let server = Server::start(Config::default());
    let out = on_terminal(
        &dir,
        &[
            "apply",
            "orders.yaml",
            "--yes",
            "--endpoint",
            &server.url,
            "--ledger",
            "ledger.csv",
            "--concurrency",
            "2",
            "--rate",
            "20/s",
        ],
        "",
        "",
    );
    let raw = text(&out.stdout);
    assert_eq!(out.status.code(), Some(3), "{raw}");
    let rows = rows_drawn(&raw);
    // The run itself, from the bar's first frame to the summary (the plan before it is a
    // table read before the run, and wraps like any table).
    let start = rows
        .iter()
        .position(|r| r.starts_with("[-") && r.contains(" 0/12 "))
        .expect("a bar");
    let end = rows.iter().position(|r| r == "Summary").expect("a summary");
    assert!(end > start + 3, "{raw}");
    // Every row of the run is whole: the bar, or an outcome printed above it (wrapped,
    // indented, to show all of itself). A line wider than the terminal would go on in a row
    // of its own, which starts with none of these.
    for row in &rows[start..end] {
        let row = row.trim_end();
        assert!(
            row.is_empty()
                || (row.contains("/12  placed ") && row.contains("unknown"))
                || row.starts_with("failed ")
                || row.starts_with("unknown ")
                || row.starts_with("           "),
            "a row cut by the terminal's width ({COLUMNS}): {row:?}\n{raw}"
        );
    }
    // The bar: labelled counts, one rate, an ETA.
    assert!(
        rows.iter()
            .any(|r| r.starts_with('[') && r.contains("placed") && r.contains("failed")),
        "no bar drawn:\n{raw}"
    );
    let bars: Vec<&String> = rows.iter().filter(|r| r.contains("/12")).collect();
    assert!(
        bars.iter().all(|r| r.matches("/s").count() <= 1),
        "{bars:?}"
    );
    // Each failure above the bar as it happened, with its code, and in the summary.
    for key in ["site-0002", "site-0005", "site-0009"] {
        assert!(
            rows.iter()
                .any(|r| r.starts_with("failed") && r.contains(key) && r.contains("(-6)")),
            "{key} not shown as it failed:\n{raw}"
        );
        let summary = raw.split("Failed or unknown").nth(1).unwrap_or_default();
        assert!(summary.contains(key), "{key} not in the summary:\n{raw}");
    }
    assert_eq!(server.stats()["orders_placed"], 9);
}

#[test]
fn the_prompt_goes_on_only_for_exactly_yes() {
    let dir = common::scratch("terminal-prompt");
    manifest(&dir, 2);
    let server = Server::start(Config::default());
    let args = [
        "apply",
        "orders.yaml",
        "--endpoint",
        &server.url,
        "--ledger",
        "ledger.csv",
    ];
    for answer in ["y", "YES", "yes please", " yes", "yes ", ""] {
        let out = on_terminal(&dir, &args, "Type `yes`", answer);
        let raw = text(&out.stdout);
        assert_eq!(out.status.code(), Some(1), "{answer:?}: {raw}");
        assert!(raw.contains("not applied"), "{answer:?}: {raw}");
        assert_eq!(server.stats()["orders_placed"], 0, "{answer:?}");
    }
    let out = on_terminal(&dir, &args, "Type `yes`", "yes");
    let raw = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{raw}");
    assert_eq!(server.stats()["orders_placed"], 2, "{raw}");
}
