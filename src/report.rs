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

/// Progress for people: on a terminal (stdout and stderr both), a bar on stderr with the
/// failures and unknown outcomes printed above it as they happen; otherwise (`| tee`, a
/// file, CI) one line per finished order on stdout.
pub struct TextReporter {
    bar: Option<ProgressBar>,
    started: std::time::Instant,
    counts: [u64; 4],
    total: u64,
    out: std::io::BufWriter<std::io::Stdout>,
    width: usize,
}

impl TextReporter {
    /// A reporter for `total` jobs whose longest key has `width` characters; `terminal`
    /// draws a bar on stderr instead of writing a line per order.
    pub fn new(total: usize, width: usize, terminal: bool) -> Self {
        let bar = terminal.then(|| {
            let bar =
                ProgressBar::with_draw_target(Some(total as u64), ProgressDrawTarget::stderr());
            if let Ok(style) = ProgressStyle::with_template("{msg}") {
                bar.set_style(style);
            }
            bar.enable_steady_tick(Duration::from_millis(250));
            bar
        });
        let reporter = TextReporter {
            bar,
            started: std::time::Instant::now(),
            counts: [0; 4],
            total: total as u64,
            out: std::io::BufWriter::new(std::io::stdout()),
            width: width.min(40),
        };
        reporter.redraw();
        reporter
    }

    fn redraw(&self) {
        if let Some(bar) = &self.bar {
            let [placed, found, failed, unknown] = self.counts;
            let progress = Progress {
                total: self.total,
                placed: placed + found,
                failed,
                unknown,
                elapsed: self.started.elapsed(),
            };
            bar.set_message(bar_line(&progress, terminal_width()));
        }
    }
}

/// The counts the bar shows.
#[derive(Clone, Copy, Debug)]
pub struct Progress {
    /// Orders in the run.
    pub total: u64,
    /// Placed, renewed, reissued or replaced now, or found done.
    pub placed: u64,
    /// Failed.
    pub failed: u64,
    /// Outcome unknown.
    pub unknown: u64,
    /// Since the run started.
    pub elapsed: Duration,
}

/// `4m 05s`, `45s`, `1h 02m`.
fn short_duration(secs: f64) -> String {
    let s = secs.round().max(0.0) as u64;
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m {:02}s", s / 60, s % 60),
        _ => format!("{}h {:02}m", s / 3600, s % 3600 / 60),
    }
}

/// The bar's line, at most `columns - 2` characters (a terminal may wrap a line that
/// fills its last column, and the bar's drawing adds a space): `[#####-----] 7/2000  placed 5  failed 1  unknown 1  3.2/s  eta 10m 23s`.
/// The rate is of the orders finished so far, and the ETA is the orders left at that rate,
/// shown once there is a rate to go by. What does not fit is left out: the rate, the ETA,
/// then the bar (kept while 10 columns are left for it).
pub fn bar_line(p: &Progress, columns: usize) -> String {
    let max = columns.saturating_sub(2).max(1);
    let done = p.placed + p.failed + p.unknown;
    let secs = p.elapsed.as_secs_f64();
    let rate = (done > 0 && secs >= 0.5).then(|| done as f64 / secs);
    let count = format!("{done}/{}", p.total);
    let long = format!(
        "placed {}  failed {}  unknown {}",
        p.placed, p.failed, p.unknown
    );
    let short = format!("ok {} fail {} unk {}", p.placed, p.failed, p.unknown);
    let speed = rate.map(|r| format!("{r:.1}/s")).unwrap_or_default();
    let eta = match rate {
        _ if done >= p.total => String::new(),
        Some(r) => format!("eta {}", short_duration((p.total - done) as f64 / r)),
        None => "eta -".into(),
    };
    let choices = [
        vec![count.as_str(), &long, &speed, &eta],
        vec![count.as_str(), &long, &eta],
        vec![count.as_str(), &long],
        vec![count.as_str(), &short],
        vec![count.as_str()],
    ];
    let texts: Vec<String> = choices
        .iter()
        .map(|parts| {
            let parts: Vec<&str> = parts.iter().copied().filter(|s| !s.is_empty()).collect();
            parts.join("  ")
        })
        .collect();
    // The richest text with the labelled counts that leaves room for a bar of 10 (30 at
    // most); else the richest that fits without a bar.
    let bar = |text: &str| {
        let room = max.saturating_sub(text.chars().count() + 1);
        let inner = room.min(32).saturating_sub(2);
        let filled = (inner as u64 * done)
            .checked_div(p.total)
            .map_or(inner, |f| (f as usize).min(inner));
        format!(
            "[{}{}] {text}",
            "#".repeat(filled),
            "-".repeat(inner - filled)
        )
    };
    // The bar only beside the labelled counts: the counts matter more than the bar.
    if let Some(text) = texts[..3].iter().find(|t| t.chars().count() + 11 <= max) {
        return bar(text);
    }
    texts
        .iter()
        .find(|t| t.chars().count() <= max)
        .cloned()
        .unwrap_or_else(|| count.chars().take(max).collect())
}

/// The width of the terminal on stderr (80 when it cannot be told).
fn terminal_width() -> usize {
    #[cfg(unix)]
    {
        // SAFETY: TIOCGWINSZ writes a `winsize` into the zeroed one it is given; the
        // descriptor is the process's stderr.
        let mut ws: libc::winsize = unsafe { std::mem::zeroed() };
        let ok = unsafe { libc::ioctl(libc::STDERR_FILENO, libc::TIOCGWINSZ, &mut ws) } == 0;
        if ok && ws.ws_col > 0 {
            return usize::from(ws.ws_col);
        }
    }
    80
}

/// `s` in rows of at most `max` characters, the rows after the first indented by `indent`
/// spaces: an outcome printed above the bar shows all of itself and no row is wider than
/// the terminal.
fn wrapped(s: &str, max: usize, indent: usize) -> String {
    let max = max.max(indent + 10);
    let chars: Vec<char> = s.chars().collect();
    let mut rows = Vec::new();
    let mut at = 0;
    let mut width = max;
    while at < chars.len() {
        let mut end = (at + width).min(chars.len());
        // Break after the last space of the row, if it has one.
        if end < chars.len()
            && let Some(space) = chars[at..end].iter().rposition(|c| *c == ' ')
            && space > 0
        {
            end = at + space + 1;
        }
        let row: String = chars[at..end]
            .iter()
            .collect::<String>()
            .trim_end()
            .to_owned();
        rows.push(if rows.is_empty() {
            row
        } else {
            format!("{}{row}", " ".repeat(indent))
        });
        at = end;
        while chars.get(at) == Some(&' ') {
            at += 1;
        }
        width = max - indent;
    }
    rows.join("\n")
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
        let line = format!(
            "{:<8} {:<w$}  {}",
            word(row, end),
            crate::shown::bounded(&row.key, 200),
            crate::shown::bounded(&detail, 500),
            w = self.width
        );
        match &self.bar {
            Some(bar) => {
                // Failures and unknown outcomes as they happen, above the bar: the key not
                // padded (no column to line up with), the rest wrapped at spaces.
                if matches!(end, Final::Failed | Final::Unknown) {
                    let line = format!(
                        "{:<8} {}  {}",
                        word(row, end),
                        crate::shown::bounded(&row.key, 200),
                        crate::shown::bounded(&detail, 500)
                    );
                    bar.println(wrapped(&line, terminal_width().saturating_sub(2), 11));
                }
                self.redraw();
            }
            None => {
                let _ = writeln!(self.out, "{line}");
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
        "  took {secs:.1} s ({:.1} orders/s); ledger {ledger}\n",
        if secs > 0.0 { done as f64 / secs } else { 0.0 }
    ));
    if let Some(why) = &s.stopped {
        out.push_str(&format!("  {why}\n"));
    }
    if !s.problems.is_empty() {
        out.push_str("\nFailed or unknown (each is in the ledger; `plan` says what comes next):\n");
        const SHOWN: usize = 50;
        let width = s
            .problems
            .iter()
            .take(SHOWN)
            .map(|p| p.key.len())
            .max()
            .unwrap_or(0)
            .min(40);
        for p in s.problems.iter().take(SHOWN) {
            let code = p.code.map(|c| format!("({c}) ")).unwrap_or_default();
            out.push_str(&format!(
                "  {:<8} {:<width$}  {code}{}\n",
                p.outcome,
                crate::shown::bounded(&p.key, 200),
                crate::shown::bounded(&p.message, 300)
            ));
        }
        if s.problems.len() > SHOWN {
            out.push_str(&format!(
                "  … and {} more (`nicsrs-batch status` lists every key)\n",
                s.problems.len() - SHOWN
            ));
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_outcome_above_the_bar_is_wrapped_at_spaces_and_never_cut() {
        let line = "failed   site-0002  (-6) CA request failed: domainInfo: the CA refused s2.ca-refuses.example";
        let rows = wrapped(line, 30, 11);
        assert_eq!(
            rows,
            "failed   site-0002  (-6) CA\n           request failed:\n           domainInfo: the CA\n           refused\n           s2.ca-refuses.examp\n           le"
        );
        assert!(rows.lines().all(|r| r.chars().count() <= 30));
        let letters = |s: &str| s.chars().filter(|c| !c.is_whitespace()).collect::<String>();
        assert_eq!(letters(&rows), letters(line), "nothing lost");
    }

    #[test]
    fn the_bar_line_never_fills_the_terminal_and_labels_its_counts() {
        let p = Progress {
            total: 2000,
            placed: 5,
            failed: 1,
            unknown: 1,
            elapsed: Duration::from_secs(2),
        };
        assert_eq!(
            bar_line(&p, 120),
            "[------------------------------] 7/2000  placed 5  failed 1  unknown 1  3.5/s  eta 9m 29s"
        );
        for columns in 10..200 {
            for done in [0u64, 1, 7, 999, 2000] {
                let p = Progress {
                    total: 2000,
                    placed: done,
                    failed: 0,
                    unknown: 0,
                    elapsed: Duration::from_secs(3),
                };
                let line = bar_line(&p, columns);
                assert!(
                    line.chars().count() + 1 < columns,
                    "{columns} columns: {line:?}"
                );
            }
        }
        // No rate yet: no ETA made up.
        let start = Progress {
            total: 10,
            placed: 0,
            failed: 0,
            unknown: 0,
            elapsed: Duration::from_millis(10),
        };
        assert_eq!(
            bar_line(&start, 80),
            "[------------------------------] 0/10  placed 0  failed 0  unknown 0  eta -"
        );
    }
}
