//! `apply` on a terminal, as a person sees it: run on a pseudo-terminal of a known size
//! (Python's `pty`), its output read as the terminal would draw it.

use std::path::Path;
use std::process::{Command, Output};

use nicsrs_batch::sandbox::Config;

mod common;

use common::root;
use common::server::{Server, manifest, text};

/// `nicsrs-batch ARGS` on a terminal of `columns` x 24 in `dir`; types `answer` after `prompt`.
fn on_terminal(dir: &Path, columns: usize, args: &[&str], prompt: &str, answer: &str) -> Output {
    Command::new("python3")
        .arg(root().join("tests/fixtures/pty/run.py"))
        .args([&columns.to_string(), "24", prompt, answer, "--"])
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
fn rows_drawn(raw: &str, columns: usize) -> Vec<String> {
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
                if row.chars().count() == columns {
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
    for columns in [60, 30] {
        let dir = common::scratch(&format!("terminal-run-{columns}"));
        orders(&dir);
        let server = Server::start(Config::default());
        let args = [
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
        ];
        let out = on_terminal(&dir, columns, &args, "", "");
        let raw = text(&out.stdout);
        assert_eq!(out.status.code(), Some(3), "{raw}");
        let rows = rows_drawn(&raw, columns);
        // The run itself, from the bar's first frame to the summary (the plan before it is
        // a table read before the run, and wraps like any table).
        let start = rows
            .iter()
            .position(|r| r.starts_with("0/12  ") || r.contains(" 0/12  "))
            .expect("a bar");
        let end = rows.iter().position(|r| r == "Summary").expect("a summary");
        assert!(end > start + 3, "{raw}");
        // Every row of the run is whole: the bar, or an outcome printed above it (wrapped,
        // indented, to show all of itself). A line wider than the terminal would go on in a
        // row of its own, which starts with none of these.
        for row in &rows[start..end] {
            let row = row.trim_end();
            assert!(
                row.is_empty()
                    || (row.contains("/12  ") && (row.contains("unknown") || row.contains("unk ")))
                    || row.starts_with("failed ")
                    || row.starts_with("unknown ")
                    || row.starts_with("           "),
                "a row cut by the terminal's width ({columns}): {row:?}\n{raw}"
            );
        }
        // The bar at 60 columns: drawn, labelled counts, one rate at most.
        if columns == 60 {
            assert!(
                rows.iter()
                    .any(|r| r.starts_with('[') && r.contains("placed") && r.contains("failed")),
                "no bar drawn:\n{raw}"
            );
        }
        let bars: Vec<&String> = rows.iter().filter(|r| r.contains("/12  ")).collect();
        assert!(
            bars.iter().all(|r| r.matches("/s").count() <= 1),
            "{bars:?}"
        );
        // Each failure above the bar as it happened, whole (its rows joined), and in the
        // summary.
        let run = rows[start..end].join("\n").replace("\n           ", " ");
        for key in ["site-0002", "site-0005", "site-0009"] {
            let i = key.chars().last().expect("digit");
            assert!(
                run.lines()
                    .any(|r| r.starts_with(&format!("failed   {key}  (-6) "))
                        && r.replace(' ', "")
                            .contains(&format!("s{i}.ca-refuses.example"))),
                "{key} not shown whole as it failed at {columns} columns:\n{raw}"
            );
            let summary = raw.split("Failed or unknown").nth(1).unwrap_or_default();
            assert!(summary.contains(key), "{key} not in the summary:\n{raw}");
        }
        assert_eq!(server.stats()["orders_placed"], 9);
    }
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
        let out = on_terminal(&dir, 60, &args, "Type `yes`", answer);
        let raw = text(&out.stdout);
        assert_eq!(out.status.code(), Some(1), "{answer:?}: {raw}");
        assert!(raw.contains("not applied"), "{answer:?}: {raw}");
        assert_eq!(server.stats()["orders_placed"], 0, "{answer:?}");
    }
    let out = on_terminal(&dir, 60, &args, "Type `yes`", "yes");
    let raw = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{raw}");
    assert_eq!(server.stats()["orders_placed"], 2, "{raw}");
}
