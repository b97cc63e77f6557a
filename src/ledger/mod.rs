//! The ledger: an append-only CSV file (RFC 4180) committed next to the manifests, in which
//! every order gets a row before each paid call and another after it. A key's state is its
//! last row. One process writes at a time; a torn last line from a crash is reported and
//! dropped, never a reason to refuse the file.

mod read;
mod row;
mod state;
mod write;

pub use row::{Api, Event, Row, now_rfc3339};
pub use write::{Locked, Writer};

use std::path::PathBuf;

use crate::csv::{line, record};

pub use read::{Contents, all_rows, read, read_unbuilt};
pub use state::KeyState;

mod columns;

/// The columns (one table, `columns.rs`), in the order a new ledger is written. Each row of
/// an existing ledger is written in the order of that file's own header; the first
/// [`REQUIRED_COLUMNS`] must be in every ledger, the rest were added later and may be
/// missing from older files.
pub use columns::{COLUMNS, Column, REQUIRED_COLUMNS, TABLE};

/// The default ledger file for the live API.
pub const DEFAULT_PATH: &str = "nicsrs-ledger.csv";
/// The default ledger file for the sandbox, kept apart from the live one.
pub const DEFAULT_SANDBOX_PATH: &str = "nicsrs-ledger.sandbox.csv";

/// Why a ledger cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    /// Reading or writing failed.
    #[error("ledger {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// Another process holds the ledger.
    #[error(
        "ledger {0} is in use by another nicsrs-batch process; wait for it to finish (only one apply may write a ledger)"
    )]
    Locked(PathBuf),
    /// The file is not a ledger.
    #[error("{path} is not a nicsrs-batch ledger: {message}")]
    NotALedger {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// Rows that cannot be read: nothing is decided from a ledger with such rows.
    #[error(
        "ledger {path}: {} row(s) cannot be read, so nothing is planned or sent:\n  {}\nfix or remove these rows (`git log -p -- {}` shows who wrote them); a row is never skipped, since it could record an order that was paid for",
        problems.len(),
        problems.join("\n  "),
        path.display()
    )]
    BadRows {
        /// The file.
        path: PathBuf,
        /// What is wrong, line by line.
        problems: Vec<String>,
    },
    /// The ledger holds rows of the other API.
    #[error(
        "ledger {path} records {found} orders; this run uses the {wanted} API, and the two never share a ledger: {}",
        other_api_hint(found)
    )]
    OtherApi {
        /// The file.
        path: PathBuf,
        /// What the file holds.
        found: &'static str,
        /// What this run uses.
        wanted: &'static str,
    },
}

/// How to read a ledger of the other API: the fix for what its rows are.
fn other_api_hint(found: &str) -> &'static str {
    if found == "sandbox" {
        "add --sandbox (the embedded sandbox) or --endpoint with your sandbox's URL to use it; for live orders, use another --ledger"
    } else {
        "drop --sandbox and --endpoint to use it with the live API; for sandbox orders, use another --ledger"
    }
}

/// Codes by which NicSRS refuses a call because of the order's or certificate's state
/// (-5 order status, -7 certificate status, -8 already cancelled): nothing was done, and
/// the call is decided again once `refresh` has recorded the state.
pub fn is_state_refusal(code: i64) -> bool {
    matches!(code, -5 | -7 | -8)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(key: &str, event: Event, message: &str) -> Row {
        Row {
            ref_id: format!("r-{key}"),
            product_code: "comodo-ssl".into(),
            years: 1,
            domains: "a.example b.example".into(),
            request_sha256: "ab".repeat(32),
            attempt: 1,
            code: Some(-1),
            message: message.into(),
            manifest: "orders/a.yaml".into(),
            ..Row::about(Api::Sandbox, event, key)
        }
    }

    fn at(mut r: Row, time: &str, ref_id: &str, cert_id: &str) -> Row {
        r.time = time.into();
        r.ref_id = ref_id.into();
        r.cert_id = cert_id.into();
        r
    }

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("nicsrs-ledger-{name}-{}", std::process::id()));
        let _ = std::fs::create_dir_all(&dir);
        let path = dir.join("ledger.csv");
        let _ = std::fs::remove_file(&path);
        path
    }

    #[test]
    fn a_torn_last_line_is_reported_and_dropped_by_the_writer() {
        let path = scratch("torn");
        {
            let (mut w, c) = Writer::open(&path, Api::Sandbox).expect("open");
            assert!(c.is_empty());
            w.append(&row("a", Event::Submitting, "")).expect("append");
            w.append(&row("a", Event::Failed, "=HYPERLINK(\"x\")"))
                .expect("append");
            w.sync().expect("sync");
        }
        let whole = std::fs::read(&path).expect("read");
        let torn = row("b", Event::Submitting, "").to_line();
        std::fs::write(&path, [whole.as_slice(), &torn.as_bytes()[..40]].concat()).expect("tear");
        let c = read(&path, Api::Sandbox).expect("read");
        assert_eq!(c.rows, 2);
        let last = c.states()["a"].last.clone();
        assert_eq!(last.message, "=HYPERLINK(\"x\")");
        assert_eq!(last.code, Some(-1));
        assert!(c.warnings[0].contains("incomplete"), "{:?}", c.warnings);
        let (mut w, c) = Writer::open(&path, Api::Sandbox).expect("reopen");
        assert_eq!(c.rows, 2);
        let mut placed = row("c", Event::Placed, "");
        placed.cert_id = "C1".into();
        w.append(&placed).expect("append");
        drop(w);
        let c = read(&path, Api::Sandbox).expect("read");
        let mut keys: Vec<&str> = c.states().keys().copied().collect();
        keys.sort_unstable();
        assert_eq!(keys, ["a", "c"]);
        assert!(c.warnings.is_empty());
        assert_eq!(c.states()["a"].last.event, Event::Failed);
        assert!(matches!(
            read(&path, Api::Live),
            Err(LedgerError::OtherApi { .. })
        ));
        let (_held, _) = Writer::open(&path, Api::Sandbox).expect("lock");
        assert!(matches!(
            Writer::open(&path, Api::Sandbox),
            Err(LedgerError::Locked(_))
        ));
    }

    #[test]
    fn a_ledger_from_before_request_fields_gains_the_column_and_keeps_its_rows() {
        let path = scratch("old");
        let old_header = line(COLUMNS[..REQUIRED_COLUMNS].iter().copied());
        let old_row = |key: &str| {
            let cells = at(
                row(key, Event::Placed, ""),
                "2026-01-01T00:00:00Z",
                "r",
                "C",
            )
            .cells();
            line(cells[..REQUIRED_COLUMNS].iter().map(String::as_str))
        };
        let text = format!("\u{feff}{old_header}{}{}", old_row("a"), old_row("b"));
        std::fs::write(&path, &text).expect("old ledger");
        let (mut w, c) = Writer::open(&path, Api::Sandbox).expect("open");
        assert_eq!(c.rows, 2);
        let mut new = at(
            row("c", Event::Placed, ""),
            "2026-01-01T00:00:01Z",
            "r",
            "C",
        );
        new.request_fields = "csr=0badc0de".into();
        w.append(&new).expect("append");
        drop(w);
        let upgraded = std::fs::read_to_string(&path).expect("read");
        assert!(
            upgraded
                .lines()
                .next()
                .is_some_and(|h| h.ends_with(",due_date,request_fields,dcv"))
        );
        assert!(upgraded.contains(&old_row("a")), "old rows as they were");
        let c = read(&path, Api::Sandbox).expect("read");
        assert!(c.warnings.is_empty(), "{:?}", c.warnings);
        assert_eq!(c.rows, 3);
        assert_eq!(c.states()["c"].last.request_fields, "csr=0badc0de");
        // A row short of a required column is refused, with its line.
        std::fs::write(&path, format!("{upgraded}a,b,c\r\n")).expect("write");
        let e = read(&path, Api::Sandbox).expect_err("bad row").to_string();
        assert!(e.contains("line 5: 3 cells where the header has 20"), "{e}");
    }

    #[test]
    fn a_locked_ledger_is_written_to_only_once_it_becomes_the_writer() {
        let path = scratch("locked");
        assert!(
            Writer::lock_existing(&path, Api::Sandbox)
                .expect("lock")
                .is_none()
        );
        assert!(!path.exists(), "no ledger is created by locking");
        let whole = [
            line(COLUMNS.iter().copied()),
            row("a", Event::Submitting, "").to_line(),
        ]
        .concat();
        let torn = format!("{whole}2026-01-01T00:00:00Z,sandbox,submitting,b");
        std::fs::write(&path, &torn).expect("write");
        let locked = Writer::lock_existing(&path, Api::Sandbox)
            .expect("lock")
            .expect("a ledger");
        assert!(locked.contents().knows("a") && !locked.contents().knows("b"));
        assert!(
            matches!(
                Writer::open(&path, Api::Sandbox),
                Err(LedgerError::Locked(_))
            ),
            "the lock is held"
        );
        assert_eq!(
            std::fs::read_to_string(&path).expect("read"),
            torn,
            "nothing written"
        );
        drop(locked.into_writer().expect("writer"));
        assert_eq!(
            std::fs::read_to_string(&path).expect("read"),
            whole,
            "the torn row is cut by the writer"
        );
    }

    #[test]
    fn a_large_ledger_is_built_only_for_the_keys_asked_for() {
        let path = scratch("unbuilt");
        let t = |s: u32| format!("2026-01-01T00:00:{s:02}Z");
        let text = [
            line(COLUMNS.iter().copied()),
            at(row("a", Event::Submitting, ""), &t(1), "r-a", "").to_line(),
            at(row("a", Event::Placed, ""), &t(2), "r-a", "CA").to_line(),
            at(row("b", Event::Submitting, ""), &t(3), "r-b", "").to_line(),
            at(
                row("b", Event::Placed, "a, quoted message"),
                &t(4),
                "r-b",
                "CB",
            )
            .to_line(),
        ]
        .concat();
        std::fs::write(&path, text).expect("write");
        let mut c = read_unbuilt(&path, Api::Sandbox).expect("read");
        c.build_only(|k| k == "a");
        assert_eq!(c.states().len(), 1);
        assert_eq!(
            c.take_state("b", |s| s.current.map(|r| r.cert_id.clone()))
                .flatten(),
            Some("CB".into()),
            "a key left unbuilt is built when it is taken"
        );
        let mut c = read_unbuilt(&path, Api::Sandbox).expect("read");
        c.build_only(|k| k == "a");
        c.forget_unbuilt();
        let states = c.states();
        assert_eq!(states.len(), 1);
        assert_eq!(states["a"].current.map(|r| r.cert_id.as_str()), Some("CA"));
        assert_eq!(
            states["a"].current.map(|r| r.domains.as_str()),
            Some("a.example b.example")
        );
        drop(states);
        let mut keys: Vec<&str> = c.keys().collect();
        keys.sort_unstable();
        assert_eq!(keys, ["a", "b"], "unbuilt keys stay known");
        let mut c = read_unbuilt(&path, Api::Sandbox).expect("read");
        let b = c.take_state("b", |s| {
            s.current.map(|r| (r.cert_id.clone(), r.message.clone()))
        });
        assert_eq!(b.flatten(), Some(("CB".into(), "a, quoted message".into())));
        let a = c.take_state("a", |s| s.current.map(|r| r.request_sha256.clone()));
        assert_eq!(a.flatten(), Some("ab".repeat(32)));
    }

    #[test]
    fn quoted_rows_are_read_back_as_written() {
        let path = scratch("quoted");
        let t = |s: u32| format!("2026-01-01T00:00:{s:02}Z");
        let dcv = r#"[{"domain":"a.example","method":"CNAME_CSR_HASH","dns_value":"x,y"}]"#;
        let mut placed = at(
            row("a", Event::Placed, "two\nlines, and a comma"),
            &t(2),
            "r-a",
            "CA",
        );
        placed.dcv = dcv.into();
        let mut odd = at(row("b", Event::Placed, ""), &t(4), "r,\"b\"", "CB");
        odd.dcv = dcv.into();
        let text = [
            line(COLUMNS.iter().copied()),
            at(row("a", Event::Submitting, ""), &t(1), "r-a", "").to_line(),
            placed.to_line(),
            at(row("b", Event::Submitting, ""), &t(3), "r,\"b\"", "").to_line(),
            odd.to_line(),
        ]
        .concat();
        std::fs::write(&path, text).expect("write");
        let c = read(&path, Api::Sandbox).expect("read");
        let states = c.states();
        let a = states["a"].current.expect("a placed");
        assert_eq!(
            (a.cert_id.as_str(), a.dcv.as_str(), a.message.as_str()),
            ("CA", dcv, "two\nlines, and a comma")
        );
        assert!(
            states["a"].open_call().is_none(),
            "its submission is closed"
        );
        let b = states["b"].current.expect("b placed");
        assert_eq!((b.ref_id.as_str(), b.dcv.as_str()), ("r,\"b\"", dcv));
        assert!(states["b"].open_call().is_none());
        assert!(!states["a"].disordered && !states["b"].disordered);
    }

    #[test]
    fn row_times_are_read_as_unix_seconds() {
        assert_eq!(read::unix_time("2026-01-01T00:00:00Z"), Some(1_767_225_600));
        assert_eq!(read::unix_time("2024-02-29T23:59:59Z"), Some(1_709_251_199));
        assert_eq!(read::unix_time("2026-01-01T25:00:00Z"), None);
        assert_eq!(read::unix_time("2026-01-01 00:00:00Z"), None);
        assert_eq!(read::unix_time("2026-01-01T00:00:00+01:00"), None);
    }

    #[test]
    fn rows_that_do_not_parse_stop_the_read_with_their_lines() {
        let path = scratch("strict");
        let good = at(
            row("a", Event::Submitting, ""),
            "2026-01-01T00:00:00Z",
            "r-a",
            "",
        );
        let mut empty_ref = good.clone();
        empty_ref.ref_id.clear();
        let mut bad_time = good.clone();
        bad_time.time = "2026-01-01T25:99:99Z".into();
        let text = [
            line(COLUMNS.iter().copied()),
            good.to_line(),
            empty_ref.to_line(),
            bad_time.to_line(),
            good.to_line().replace(",submitting,", ",bought,"),
        ]
        .concat();
        std::fs::write(&path, &text).expect("write");
        let e = read(&path, Api::Sandbox).expect_err("bad rows").to_string();
        for expected in [
            "3 row(s) cannot be read",
            "line 3: the `ref_id` cell of a `submitting` row is empty",
            "line 4: the `time` cell is `2026-01-01T25:99:99Z`",
            "line 5: the `event` cell is `bought`",
        ] {
            assert!(e.contains(expected), "{expected}: {e}");
        }
        // A row short of a cell after a full row lost one (only rows written before a
        // column was added are short).
        let short = good.to_line().replacen(",comodo-ssl,", ",", 1);
        std::fs::write(
            &path,
            [line(COLUMNS.iter().copied()), good.to_line(), short].concat(),
        )
        .expect("write");
        let e = read(&path, Api::Sandbox)
            .expect_err("short row")
            .to_string();
        assert!(
            e.contains("line 3: 19 cells where the header has 20"),
            "{e}"
        );
        // A header whose names were swapped is refused before any row is read into a
        // decision.
        let swapped = text.replacen("time,api,event", "time,event,api", 1);
        std::fs::write(&path, swapped).expect("write");
        let e = read(&path, Api::Sandbox).expect_err("swapped").to_string();
        assert!(e.contains("line 2: the `api` cell is `submitting`"), "{e}");
        std::fs::write(&path, text.replacen("time,", "when,", 1)).expect("write");
        let e = read(&path, Api::Sandbox)
            .expect_err("unknown column")
            .to_string();
        assert!(e.contains("a column `when`"), "{e}");
    }

    #[test]
    fn a_failed_or_unknown_row_belongs_to_the_call_opened_before_it() {
        let t = |s: u32| format!("2026-01-01T00:00:{s:02}Z");
        let rows = vec![
            at(row("a", Event::Submitting, ""), &t(1), "r-a", ""),
            at(row("a", Event::Placed, ""), &t(2), "r-a", "C1"),
            at(
                row("a", Event::Unknown, "a row no call opened"),
                &t(3),
                "r-a",
                "",
            ),
        ];
        let c = Contents::from_rows(rows.clone());
        let s = c.states()["a"];
        assert!(s.open_call().is_none(), "nothing open after the success");
        assert_eq!(s.current.map(|r| r.cert_id.as_str()), Some("C1"));

        let more = vec![
            at(row("a", Event::Renewing, ""), &t(4), "r-a-r1", "C1"),
            at(row("a", Event::Failed, "no"), &t(5), "r-a-r1", "C1"),
        ];
        let c = Contents::from_rows([rows, more].concat());
        let s = c.states()["a"];
        assert_eq!(s.open_call().map(|r| r.event), Some(Event::Renewing));
        assert_eq!(s.current.map(|r| r.event), Some(Event::Placed));
        assert!(s.disordered, "an outcome recorded after the call's success");
    }

    /// Every order of a key's rows gives the same decision-relevant state; rows that
    /// contradict each other mark the key so that the API is asked first.
    #[test]
    fn a_key_state_does_not_depend_on_the_order_of_its_rows() {
        let t = |s: u32| format!("2026-01-01T00:00:{s:02}Z");
        // Branch A placed the order; branch B's run found the API down (not sent). A
        // union merge can interleave them any way.
        let rows = [
            at(row("a", Event::Submitting, ""), &t(1), "r-a", ""),
            at(row("a", Event::Placed, ""), &t(2), "r-a", "C1"),
            at(row("a", Event::Submitting, ""), &t(3), "r-a", ""),
            at(
                row("a", Event::Failed, "not sent: refused"),
                &t(4),
                "r-a",
                "",
            ),
        ];
        let mut order: Vec<usize> = (0..rows.len()).collect();
        let mut seen = 0;
        // Every permutation (Heap's algorithm, iteratively).
        let mut c = vec![0; order.len()];
        let mut check = |order: &[usize]| {
            let c = Contents::from_rows(order.iter().map(|&i| rows[i].clone()).collect());
            let s = c.states()["a"];
            assert!(s.open_call().is_none(), "{order:?}");
            assert_eq!(
                s.current.map(|r| r.cert_id.as_str()),
                Some("C1"),
                "{order:?}"
            );
            assert!(!s.holds_no_order());
            seen += 1;
        };
        check(&order);
        let mut i = 0;
        while i < order.len() {
            if c[i] < i {
                if i % 2 == 0 {
                    order.swap(0, i);
                } else {
                    order.swap(c[i], i);
                }
                check(&order);
                c[i] += 1;
                i = 0;
            } else {
                c[i] = 0;
                i += 1;
            }
        }
        assert_eq!(seen, 24);
        // Out of time order, or one call with two certIds: marked.
        let swapped = Contents::from_rows(vec![rows[1].clone(), rows[0].clone()]);
        assert!(swapped.states()["a"].disordered);
        let mut other = rows[1].clone();
        other.cert_id = "C2".into();
        let two = Contents::from_rows(vec![rows[0].clone(), rows[1].clone(), other]);
        assert!(two.states()["a"].disordered);
        let fine = Contents::from_rows(rows[..2].to_vec());
        assert!(!fine.states()["a"].disordered);
    }
}
