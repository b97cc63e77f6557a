//! The apply stage: orders carried out with bounded concurrency, each exactly once.
//!
//! Workers never print and never write: every row goes over a channel to one writer
//! thread that owns the ledger and the progress display. A `submitting` row is written and
//! synced before each paid call; rows that arrive together share one sync.

mod call;
mod job;
mod session;
mod update_dcv;
mod writer;

use call::carry_out;
use session::lookup;
use writer::write_rows;

pub use job::Job;
pub use session::Session;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

use crate::expand::ExpandedOrder;
use crate::ledger::{self, Api, Event, Row};
use crate::nicsrs::client::CallOutcome;
use crate::nicsrs::pacer::Retry;
use crate::nicsrs::wire::read::{self, Paid};
use crate::nicsrs::wire::{Code, Reply};
use crate::plan::{Action, NO_CSR_HELD, Op, Plan};

/// A paid call that never left: tried 6 times in all (0.5 s, 1 s, 2 s, 4 s, 8 s apart,
/// jittered) before it is given up.
const NOT_SENT: Retry = Retry {
    tries: 6,
    base: Duration::from_millis(500),
};
/// A paid call answered 429/503 (nothing was processed): tolerated 60 times; without a
/// `Retry-After`, every call is held back 1 s, 2 s, … 16 s (jittered).
const THROTTLED: Retry = Retry {
    tries: 60,
    base: Duration::from_secs(1),
};
/// Unknown outcomes of one order reconciled and resent within a run before giving up.
const UNKNOWN_ROUNDS: u32 = 3;
/// A lookup by refId (free): tried 6 times, 0.5 s, 1 s, … apart, before an outcome stays
/// unknown.
const LOOKUP: Retry = Retry {
    tries: 6,
    base: Duration::from_millis(500),
};
/// Workers start this far apart, so that their calls do not arrive at the API (and their
/// replies here) in waves that queue behind each other.
const RAMP_STEP: Duration = Duration::from_millis(1);
/// Placements in a row that answered -2 and were then not found by refId, after which no
/// new one is started: one client saw -2 answer every placement of an empty balance.
const UNKNOWN_NOT_FOUND_STREAK: u32 = 3;

/// How a job ended, for the progress display and the summary.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Final {
    /// Placed, renewed, reissued or replaced by this run (the row's event says which).
    Placed,
    /// Found done by an earlier call (reconciled).
    Found,
    /// Refused, or never sent.
    Failed,
    /// Still unknown: reconcile next run.
    Unknown,
}

/// Receives each finished row; owned by the writer thread.
pub trait Reporter: Send {
    /// A job ended with `row`.
    fn outcome(&mut self, row: &Row, end: Final);
    /// A notice for the user (the run is stopping, say).
    fn notice(&mut self, text: &str);
    /// The end of a batch of rows: show what is buffered.
    fn flush(&mut self) {}
}

/// Counts at the end of a run.
#[derive(Clone, Debug, Default)]
pub struct Summary {
    /// Placed by this run.
    pub placed: u64,
    /// Renewed by this run.
    pub renewed: u64,
    /// Reissued by this run.
    pub reissued: u64,
    /// Replaced by this run.
    pub replaced: u64,
    /// Pending orders whose names' validation was changed (`/ssl/updateDCV`) by this run.
    pub dcv_updated: u64,
    /// New orders held back by `--require-dcv`: their records do not check out yet.
    pub awaiting_dcv: u64,
    /// Found done by reconciliation (placed, renewed or reissued by an earlier call).
    pub found: u64,
    /// Refused or never sent.
    pub failed: u64,
    /// CallOutcome still unknown.
    pub unknown: u64,
    /// Not started because the run stopped early.
    pub not_started: u64,
    /// Why the run stopped early, if it did.
    pub stopped: Option<String>,
    /// Whether Ctrl-C stopped it.
    pub interrupted: bool,
    /// How long it took.
    pub elapsed: Duration,
    /// Each order that failed or whose outcome is unknown, in the order they ended.
    pub problems: Vec<Problem>,
}

/// An order that failed or whose outcome is unknown, for the summary.
#[derive(Clone, Debug)]
pub struct Problem {
    /// The order's key.
    pub key: String,
    /// `failed` or `unknown`.
    pub outcome: &'static str,
    /// The API's code, if it answered one.
    pub code: Option<i64>,
    /// What was said.
    pub message: String,
}

/// Knobs of a run.
#[derive(Clone, Debug)]
pub struct Options {
    /// Calls in flight at most.
    pub concurrency: usize,
    /// The API, for the rows.
    pub api: Api,
    /// Wait before asking about an unknown outcome.
    pub reconcile_delay: Duration,
    /// Skip the lookup by refId before a new call (`--trust-ledger`): only when the
    /// ledger is known to be complete. Unknown outcomes are always looked up.
    pub trust_ledger: bool,
}

/// Why a run could not go on.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The ledger could not be written: nothing more is sent.
    #[error(transparent)]
    Ledger(#[from] ledger::LedgerError),
}

struct Msg {
    row: Row,
    end: Option<Final>,
    synced: Option<oneshot::Sender<bool>>,
}

/// Once set, no new paid call is started (credit, token, Ctrl-C, a ledger failure).
#[derive(Default)]
struct Stop {
    set: AtomicBool,
    reason: Mutex<Option<String>>,
}

impl Stop {
    fn because(&self, reason: String) {
        let mut r = self.reason.lock().unwrap_or_else(|e| e.into_inner());
        if r.is_none() {
            *r = Some(reason);
        }
        self.set.store(true, Ordering::SeqCst);
    }
}

struct Ctx {
    session: Arc<Session>,
    tx: mpsc::UnboundedSender<Msg>,
    options: Options,
    /// Jobs taken from the queue as the run stopped, never started.
    skipped: std::sync::atomic::AtomicU64,
    /// Placements in a row that answered -2 and were then not found.
    unknown_not_found: std::sync::atomic::AtomicU32,
}

impl Ctx {
    fn stopping(&self) -> bool {
        self.session.stopping()
    }

    fn stop_because(&self, reason: String) {
        self.session.stop.because(reason);
    }

    /// Sends a row to the writer; with `sync`, waits until it is on disk.
    async fn record(&self, row: Row, end: Option<Final>, sync: bool) -> bool {
        let (tx, rx) = oneshot::channel();
        let msg = Msg {
            row,
            end,
            synced: sync.then_some(tx),
        };
        if self.tx.send(msg).is_err() {
            return false;
        }
        !sync || rx.await.unwrap_or(false)
    }

    /// Records a job's last row, which carries its outcome; the job has started.
    async fn end(&self, row: Row, end: Final) -> bool {
        self.record(row, Some(end), false).await;
        true
    }
}

/// Carries out `jobs` through `session`: each worker takes the next job until none is left
/// or the run stops. Lookups sent ahead end here.
pub async fn run(
    jobs: Vec<Job>,
    session: Arc<Session>,
    writer: ledger::Writer,
    reporter: Box<dyn Reporter>,
    options: Options,
) -> Result<Summary, RunError> {
    let started = Instant::now();
    let (tx, rx) = mpsc::unbounded_channel();
    let writer_thread = std::thread::Builder::new()
        .name("ledger-writer".into())
        .spawn(move || write_rows(rx, writer, reporter))
        .map_err(|e| {
            RunError::Ledger(ledger::LedgerError::Io {
                path: "ledger writer".into(),
                source: e,
            })
        })?;
    session.end_look_ahead().await;
    let ctx = Arc::new(Ctx {
        session: session.clone(),
        tx,
        skipped: std::sync::atomic::AtomicU64::new(0),
        unknown_not_found: std::sync::atomic::AtomicU32::new(0),
        options,
    });
    let interrupted = Arc::new(AtomicBool::new(false));
    let watcher = {
        let (session, interrupted) = (session.clone(), interrupted.clone());
        tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                interrupted.store(true, Ordering::SeqCst);
                session.stop.because("interrupted: orders in flight finish and are recorded; Ctrl-C again exits at once".into());
                eprintln!(
                    "\ninterrupted: finishing the orders in flight (Ctrl-C again exits at once; the ledger stays safe)"
                );
                if tokio::signal::ctrl_c().await.is_ok() {
                    std::process::exit(130);
                }
            }
        })
    };
    let (workers, queue) = crate::pool::spawn(
        jobs,
        ctx.options.concurrency,
        RAMP_STEP,
        {
            let ctx = ctx.clone();
            move || ctx.stopping()
        },
        {
            let ctx = ctx.clone();
            move |job| {
                let ctx = ctx.clone();
                async move {
                    if !carry_out(&ctx, job).await {
                        ctx.skipped.fetch_add(1, Ordering::Relaxed);
                    }
                    true
                }
            }
        },
    );
    for w in workers {
        let _ = w.await;
    }
    watcher.abort();
    let not_started = crate::pool::left(&queue) as u64 + ctx.skipped.load(Ordering::Relaxed);
    let stopped = session
        .stop
        .reason
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone();
    drop(ctx); // the last sender: the writer drains what is left and ends
    let joined = tokio::task::spawn_blocking(move || writer_thread.join()).await;
    let (mut summary, failure) = joined.ok().and_then(Result::ok).unwrap_or_else(|| {
        (
            Summary::default(),
            Some(ledger::LedgerError::Io {
                path: "ledger writer".into(),
                source: std::io::Error::other("the ledger writer stopped"),
            }),
        )
    });
    if let Some(e) = failure {
        return Err(RunError::Ledger(e));
    }
    summary.not_started = not_started;
    summary.stopped = stopped;
    summary.interrupted = interrupted.load(Ordering::SeqCst);
    summary.elapsed = started.elapsed();
    Ok(summary)
}
