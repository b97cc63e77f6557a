//! What a run shows: a progress bar on a terminal, one line per order otherwise, or one
//! JSON object per outcome; and the summary at the end.

use std::io::Write;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde_json::json;

use crate::apply::{Final, Reporter, Summary};
use crate::ledger::Row;

fn word(row: &Row, end: Final) -> &'static str {
    match end {
        Final::Placed => row.event.as_str(),
        Final::Found => "found",
        Final::Failed => "failed",
        Final::Unknown => "unknown",
    }
}

/// Progress for people: a bar on a terminal, else a line per finished order on stdout.
pub struct TextReporter {
    bar: Option<ProgressBar>,
    started: std::time::Instant,
    counts: [u64; 4],
    out: std::io::BufWriter<std::io::Stdout>,
    width: usize,
}

impl TextReporter {
    /// A reporter for `total` jobs whose longest key has `width` characters; `terminal`
    /// draws a bar on stderr.
    pub fn new(total: usize, width: usize, terminal: bool) -> Self {
        let bar = terminal.then(|| {
            let bar =
                ProgressBar::with_draw_target(Some(total as u64), ProgressDrawTarget::stderr());
            if let Ok(style) =
                ProgressStyle::with_template("{bar:30} {pos}/{len}  {msg}  {per_sec}  eta {eta}")
            {
                bar.set_style(style);
            }
            bar.enable_steady_tick(Duration::from_millis(200));
            bar
        });
        TextReporter {
            bar,
            started: std::time::Instant::now(),
            counts: [0; 4],
            out: std::io::BufWriter::new(std::io::stdout()),
            width: width.min(40),
        }
    }
}

impl Reporter for TextReporter {
    fn outcome(&mut self, row: &Row, end: Final) {
        self.counts[end as usize] += 1;
        let detail = if row.cert_id.is_empty() {
            match row.code {
                Some(code) => format!("({code}) {}", row.message),
                None => row.message.clone(),
            }
        } else {
            row.cert_id.clone()
        };
        match &self.bar {
            Some(bar) => {
                bar.inc(1);
                let [placed, found, failed, unknown] = self.counts;
                let done = placed + found + failed + unknown;
                let rate = done as f64 / self.started.elapsed().as_secs_f64().max(0.001);
                bar.set_message(format!(
                    "done {} failed {failed} unknown {unknown}  {rate:.1}/s",
                    placed + found
                ));
                if matches!(end, Final::Failed | Final::Unknown) {
                    bar.println(format!(
                        "{:<8} {:<w$}  {detail}",
                        word(row, end),
                        row.key,
                        w = self.width
                    ));
                }
            }
            None => {
                let _ = writeln!(
                    self.out,
                    "{:<8} {:<w$}  {detail}",
                    word(row, end),
                    row.key,
                    w = self.width
                );
            }
        }
    }

    fn notice(&mut self, text: &str) {
        match &self.bar {
            Some(bar) => bar.println(text),
            None => eprintln!("{text}"),
        }
    }

    fn flush(&mut self) {
        let _ = self.out.flush();
    }
}

impl Drop for TextReporter {
    fn drop(&mut self) {
        let _ = self.out.flush();
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

/// One JSON object per outcome on stdout, for CI.
pub struct JsonReporter {
    out: std::io::BufWriter<std::io::Stdout>,
}

impl Default for JsonReporter {
    fn default() -> Self {
        JsonReporter {
            out: std::io::BufWriter::new(std::io::stdout()),
        }
    }
}

impl Reporter for JsonReporter {
    fn flush(&mut self) {
        let _ = self.out.flush();
    }

    fn outcome(&mut self, row: &Row, end: Final) {
        let line = json!({
            "key": row.key,
            "outcome": word(row, end),
            "ref_id": row.ref_id,
            "cert_id": row.cert_id,
            "attempt": row.attempt,
            "code": row.code,
            "message": row.message,
        });
        let _ = writeln!(self.out, "{line}");
    }

    fn notice(&mut self, text: &str) {
        eprintln!("{text}");
    }
}

/// The summary table.
pub fn summary_text(s: &Summary, already: usize, blocked: usize, ledger: &str) -> String {
    let secs = s.elapsed.as_secs_f64();
    let done = s.placed
        + s.renewed
        + s.reissued
        + s.replaced
        + s.dcv_updated
        + s.found
        + s.failed
        + s.unknown;
    let mut out = String::from("\nSummary\n");
    for (label, n) in [
        ("placed now", s.placed),
        ("renewed now", s.renewed),
        ("reissued now", s.reissued),
        ("replaced now", s.replaced),
        ("dcv updated now", s.dcv_updated),
        ("found done (reconciled)", s.found),
        ("nothing to do", already as u64),
        ("failed", s.failed),
        ("unknown (reconcile next run)", s.unknown),
        ("blocked or cancelled", blocked as u64),
        ("not started", s.not_started),
        ("awaiting dcv (--require-dcv)", s.awaiting_dcv),
    ] {
        if n == 0 && matches!(label, "dcv updated now" | "awaiting dcv (--require-dcv)") {
            continue; // shown only when a run has any
        }
        out.push_str(&format!("  {label:<29} {n:>7}\n"));
    }
    out.push_str(&format!(
        "  took {secs:.1} s ({:.1} calls/s); ledger {ledger}\n",
        if secs > 0.0 { done as f64 / secs } else { 0.0 }
    ));
    if let Some(why) = &s.stopped {
        out.push_str(&format!("  {why}\n"));
    }
    out
}

/// The summary as JSON.
pub fn summary_json(
    s: &Summary,
    already: usize,
    blocked: usize,
    ledger: &str,
) -> serde_json::Value {
    json!({"summary": {
        "placed": s.placed,
        "renewed": s.renewed,
        "reissued": s.reissued,
        "replaced": s.replaced,
        "dcv_updated": s.dcv_updated,
        "awaiting_dcv": s.awaiting_dcv,
        "found": s.found,
        "already": already,
        "failed": s.failed,
        "unknown": s.unknown,
        "blocked": blocked,
        "not_started": s.not_started,
        "interrupted": s.interrupted,
        "stopped": s.stopped,
        "seconds": s.elapsed.as_secs_f64(),
        "ledger": ledger,
    }})
}
