//! The apply stage: orders carried out with bounded concurrency, each exactly once.
//!
//! Workers never print and never write: every row goes over a channel to one writer
//! thread that owns the ledger and the progress display. A `submitting` row is written and
//! synced before each paid call; rows that arrive together share one sync.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

use crate::client::{CallOutcome, Client};
use crate::expand::ExpandedOrder;
use crate::ledger::{self, Api, Event, Row};
use crate::pacer::Pacer;
use crate::plan::{Action, NO_CSR_HELD, Op, Plan};
use crate::wire::read::{self, Paid};
use crate::wire::{Code, Reply};

/// Tries before a call that never left is given up (0.5 s, 1 s, 2 s, 4 s, 8 s apart).
const NOT_SENT_TRIES: u32 = 6;
/// 429/503 answers tolerated for one call before giving up (nothing was processed).
const THROTTLE_TRIES: u32 = 60;
/// Unknown outcomes of one order reconciled and resent within a run before giving up.
const UNKNOWN_ROUNDS: u32 = 3;
/// Lookups by refId tried before an outcome stays unknown.
const LOOKUP_TRIES: u32 = 6;
/// Workers start this far apart, so that their calls do not arrive at the API (and their
/// replies here) in waves that queue behind each other.
const RAMP_STEP: Duration = Duration::from_millis(1);
/// Placements in a row that answered -2 and were then not found by refId, after which no
/// new one is started: one client saw -2 answer every placement of an empty balance.
const UNKNOWN_NOT_FOUND_STREAK: u32 = 3;

/// One call to carry out: plain data, with a sequence number and its idempotency key
/// (the refId).
#[derive(Clone, Debug)]
pub struct Job {
    /// Position in the plan.
    pub seq: usize,
    /// The order's key.
    pub key: String,
    /// The refId sent, and looked up to reconcile.
    pub ref_id: String,
    /// Where to start.
    pub action: Action,
    /// The call: place, renew, reissue or replace.
    pub op: Op,
    /// Submissions recorded before this run.
    pub attempts: u32,
    /// `productCode` sent, or of the certificate renewed, reissued or replaced.
    pub product_code: String,
    /// `years` sent (place, renew), or of the certificate reissued or replaced.
    pub years: u32,
    /// `params` sent (canonical JSON); a reissue sends none.
    pub params: Option<Arc<str>>,
    /// A renewal of a certificate whose key NicSRS generated: the order, whose renewal is
    /// sent with the CSR NicSRS holds for the certificate (read by collect first).
    pub held_csr: Option<Box<ExpandedOrder>>,
    /// A reissue's `uniqueValue` form field.
    pub unique_value: Option<String>,
    /// The certId renewed (`renewId`), reissued or replaced (`certId`).
    pub of_cert: String,
    /// A reissue's `reason`.
    pub reason: String,
    /// Hash of those fields.
    pub request_sha256: String,
    /// The ledger's `request_fields` for the call's rows (a placement's are worked out when
    /// it is carried out).
    pub request_fields: String,
    /// The `request_fields` of the call as an earlier run sent it (reconcile).
    pub sent_fields: String,
    /// What a renewal's or replacement's `request_fields` are worked out from.
    pub fields_basis: Option<crate::plan::FieldsBasis>,
    /// Whether it may be sent again when its refId is not found (not after NicSRS answered
    /// success without a certId).
    pub resend: bool,
    /// The ledger's rows for the key disagree: looked up by refId even with
    /// `--trust-ledger`.
    pub must_look_up: bool,
    /// For the ledger, space-separated.
    pub domains: String,
    /// For the ledger.
    pub manifest: String,
}

impl Job {
    /// The jobs of a plan's work, in plan order.
    pub fn from_plan(plan: &Plan, sources: &crate::source::Sources) -> Vec<Job> {
        plan.steps
            .iter()
            .filter(|s| s.action.is_work())
            .enumerate()
            .map(|(seq, s)| Job {
                seq,
                key: s.order.key.clone(),
                ref_id: s.ref_id.clone(),
                action: s.action,
                op: s.op,
                attempts: s.attempts,
                product_code: s.product_code.clone(),
                years: s.years,
                params: s.params.clone(),
                held_csr: (s.op == Op::Renew && s.params.is_none())
                    .then(|| Box::new(s.order.clone())),
                unique_value: s.unique_value.clone(),
                of_cert: s.of_cert.clone(),
                reason: s.reason.clone(),
                request_sha256: s.request_sha256.clone(),
                request_fields: s.request_fields.clone(),
                resend: s.resend,
                must_look_up: s.must_look_up,
                sent_fields: s.sent_fields.clone(),
                fields_basis: s.fields_basis.clone(),
                domains: s.order.domains.join(" "),
                manifest: sources.get(s.order.file).display.clone(),
            })
            .collect()
    }

    /// The form fields of the call, without the token: exactly those NicSRS's page for
    /// the endpoint documents (see `docs/nicsrs-api.md`).
    fn fields<'j>(&'j self, years: &'j str) -> Vec<(&'static str, &'j str)> {
        let mut fields = match self.op {
            Op::Place => vec![
                ("productCode", self.product_code.as_str()),
                ("years", years),
            ],
            Op::Renew => vec![("renewId", self.of_cert.as_str()), ("years", years)],
            Op::Reissue => vec![
                ("certId", self.of_cert.as_str()),
                ("reason", self.reason.as_str()),
            ],
            Op::Replace => vec![("certId", self.of_cert.as_str())],
        };
        fields.push(("refId", self.ref_id.as_str()));
        if let Some(unique) = &self.unique_value {
            fields.push(("uniqueValue", unique));
        }
        if let Some(params) = &self.params {
            fields.push(("params", params));
        }
        fields
    }

    /// The row recording that the call's order exists as `cert_id`.
    fn done(&self, api: Api, attempt: u32, cert_id: &str, message: &str) -> Row {
        let code = Some(Code::Success.value());
        self.row(api, self.op.success(), attempt, code, cert_id, message)
    }

    /// A row about this job. Rows about a renewal or reissue that has no new certId yet
    /// name the certificate renewed or reissued.
    fn row(
        &self,
        api: Api,
        event: Event,
        attempt: u32,
        code: Option<i64>,
        cert_id: &str,
        message: &str,
    ) -> Row {
        let cert_id = if cert_id.is_empty() {
            &self.of_cert
        } else {
            cert_id
        };
        Row {
            time: ledger::now_rfc3339(),
            api,
            event,
            key: self.key.clone(),
            ref_id: self.ref_id.clone(),
            cert_id: cert_id.to_owned(),
            product_code: self.product_code.clone(),
            years: self.years,
            domains: self.domains.clone(),
            request_sha256: self.request_sha256.clone(),
            attempt,
            code,
            message: message.to_owned(),
            manifest: self.manifest.clone(),
            status: String::new(),
            not_before: String::new(),
            not_after: String::new(),
            due_date: String::new(),
            // Only the rows that say what was sent or what exists carry the fields.
            request_fields: if event.is_write_ahead() || event.is_success() {
                self.request_fields.clone()
            } else {
                String::new()
            },
        }
    }
}

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
}

/// Knobs of a run.
#[derive(Clone, Debug)]
pub struct Options {
    /// Calls in flight at most.
    pub concurrency: usize,
    /// Calls per second at most, shared by all workers.
    pub rate: Option<f64>,
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
    client: Client,
    tx: mpsc::UnboundedSender<Msg>,
    pacer: Pacer,
    options: Options,
    stop: Arc<Stop>,
    /// Jobs taken from the queue as the run stopped, never started.
    skipped: std::sync::atomic::AtomicU64,
    /// Placements in a row that answered -2 and were then not found.
    unknown_not_found: std::sync::atomic::AtomicU32,
}

impl Ctx {
    fn stopping(&self) -> bool {
        self.stop.set.load(Ordering::SeqCst)
    }

    fn stop_because(&self, reason: String) {
        self.stop.because(reason);
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

    /// Exponential backoff with jitter: `base * 2^n`, times 0.5 to 1.5.
    fn backoff(&self, base: Duration, n: u32) -> Duration {
        self.pacer.backoff(base, n)
    }
}

/// What a reconciliation found.
enum Lookup {
    Found(String),
    NotFound,
    Unclear(String),
}

/// What one paid call came to.
enum Sent {
    Placed(String),
    Refused {
        code: Option<i64>,
        message: String,
        stop_all: bool,
    },
    Unknown {
        code: Option<i64>,
        message: String,
    },
}

/// Carries out `jobs`: each worker takes the next job until none is left or the run stops.
pub async fn run(
    jobs: Vec<Job>,
    client: Client,
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
    let stop = Arc::new(Stop::default());
    let ctx = Arc::new(Ctx {
        client,
        tx,
        pacer: Pacer::new(options.rate),
        stop: stop.clone(),
        skipped: std::sync::atomic::AtomicU64::new(0),
        unknown_not_found: std::sync::atomic::AtomicU32::new(0),
        options,
    });
    let queue = Arc::new(Mutex::new(VecDeque::from(jobs)));
    let interrupted = Arc::new(AtomicBool::new(false));
    let watcher = {
        let (stop, interrupted) = (stop.clone(), interrupted.clone());
        tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                interrupted.store(true, Ordering::SeqCst);
                stop.because("interrupted: orders in flight finish and are recorded; Ctrl-C again exits at once".into());
                eprintln!(
                    "\ninterrupted: finishing the orders in flight (Ctrl-C again exits at once; the ledger stays safe)"
                );
                if tokio::signal::ctrl_c().await.is_ok() {
                    std::process::exit(130);
                }
            }
        })
    };
    let workers: Vec<_> = (0..ctx.options.concurrency.max(1))
        .map(|n| {
            let (ctx, queue) = (ctx.clone(), queue.clone());
            tokio::spawn(async move {
                tokio::time::sleep(RAMP_STEP * n as u32).await;
                loop {
                    if ctx.stopping() {
                        break;
                    }
                    let job = queue.lock().unwrap_or_else(|e| e.into_inner()).pop_front();
                    let Some(job) = job else { break };
                    if !carry_out(&ctx, job).await {
                        ctx.skipped.fetch_add(1, Ordering::Relaxed);
                    }
                }
            })
        })
        .collect();
    for w in workers {
        let _ = w.await;
    }
    watcher.abort();
    let not_started = queue.lock().unwrap_or_else(|e| e.into_inner()).len() as u64
        + ctx.skipped.load(Ordering::Relaxed);
    let stopped = stop
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

/// The writer thread: appends rows, syncs once per batch, then releases the workers
/// waiting on their `submitting` rows.
fn write_rows(
    mut rx: mpsc::UnboundedReceiver<Msg>,
    mut writer: ledger::Writer,
    mut reporter: Box<dyn Reporter>,
) -> (Summary, Option<ledger::LedgerError>) {
    let mut summary = Summary::default();
    let mut batch: Vec<Msg> = Vec::with_capacity(256);
    let mut unsynced = false;
    while let Some(first) = rx.blocking_recv() {
        batch.push(first);
        while batch.len() < 4096 {
            match rx.try_recv() {
                Ok(m) => batch.push(m),
                Err(_) => break,
            }
        }
        let mut result = Ok(());
        for m in &batch {
            if result.is_ok() {
                result = writer.append(&m.row);
            }
        }
        // Sync when a worker waits on it (a `submitting` row); outcome rows ride along
        // with the next sync, and the last ones are synced when the channel closes.
        if result.is_ok() && batch.iter().any(|m| m.synced.is_some()) {
            result = writer.sync();
            unsynced = false;
        } else {
            unsynced = true;
        }
        let ok = result.is_ok();
        for m in batch.drain(..) {
            if let Some(done) = m.synced {
                let _ = done.send(ok);
            }
            if let (true, Some(end)) = (ok, m.end) {
                match end {
                    Final::Placed => match m.row.event {
                        Event::Renewed => summary.renewed += 1,
                        Event::Reissued => summary.reissued += 1,
                        Event::Replaced => summary.replaced += 1,
                        _ => summary.placed += 1,
                    },
                    Final::Found => summary.found += 1,
                    Final::Failed => summary.failed += 1,
                    Final::Unknown => summary.unknown += 1,
                }
                reporter.outcome(&m.row, end);
            }
        }
        reporter.flush();
        if let Err(e) = result {
            reporter.notice(&format!("cannot write the ledger, stopping: {e}"));
            // Refuse every later sync request so that nothing more is sent.
            rx.close();
            while let Some(m) = rx.blocking_recv() {
                if let Some(done) = m.synced {
                    let _ = done.send(false);
                }
            }
            return (summary, Some(e));
        }
    }
    if unsynced && let Err(e) = writer.sync() {
        return (summary, Some(e));
    }
    (summary, None)
}

/// One job, start to end. Its last row carries its final outcome. Returns `false` when
/// the run stopped before the job started (it wrote nothing).
async fn carry_out(ctx: &Ctx, mut job: Job) -> bool {
    let api = ctx.options.api;
    // The `request_fields` of its rows, worked out here rather than in the plan: off the
    // path to the first call.
    if let Some(basis) = job.fields_basis.take() {
        job.request_fields = basis.cell();
    } else if job.op == Op::Place
        && job.request_fields.is_empty()
        && let Some(params) = &job.params
    {
        let fields = crate::expand::field_hashes(params, &job.product_code, job.years);
        job.request_fields = crate::expand::fields_cell(&fields);
    }
    let mut attempt = job.attempts;
    // Every new call is first looked up by its refId: the ledger lives in Git and can lose
    // rows (a push that was rejected), and a call it does not record may have gone through.
    // Asking costs one free call. An unknown outcome is always looked up.
    let mut reconcile =
        job.action == Action::Reconcile || !ctx.options.trust_ledger || job.must_look_up;
    // Whether the ledger already has this call's write-ahead row: every `failed` or
    // `unknown` row must follow one, which is how `plan` knows what call it was about.
    let mut opened = job.action == Action::Reconcile;
    let mut unknown_rounds = 0;
    // The last call answered -2: if the lookup then finds nothing, it counts towards
    // stopping the run.
    let mut after_minus_2 = false;
    // NicSRS answered success without a readable certId (this run or an earlier one): it
    // did something, so the call is never sent again on a "not found".
    let mut answered_success = !job.resend;
    loop {
        if reconcile {
            match lookup(ctx, &job.ref_id).await {
                Lookup::Found(cert_id) => {
                    ctx.unknown_not_found.store(0, Ordering::SeqCst);
                    let message = if opened {
                        "found by refId: the earlier call went through"
                    } else {
                        "found by refId before sending: an earlier call the ledger does not record went through"
                    };
                    if attempt == job.attempts && !job.sent_fields.is_empty() {
                        // Sent by an earlier run, perhaps from an older manifest.
                        job.request_fields = std::mem::take(&mut job.sent_fields);
                    } else if !opened && job.op != Op::Reissue {
                        // Made by a call the ledger lost: what it holds is read from NicSRS.
                        let (fields, names) = held_fields(ctx, &cert_id, &job).await;
                        job.request_fields = fields;
                        // Not known to be this request: compared field by field instead.
                        job.request_sha256 = String::new();
                        if let Some(names) = names {
                            job.domains = names;
                        }
                    }
                    let row = job.done(api, attempt, &cert_id, message);
                    return ctx.end(row, Final::Found).await;
                }
                Lookup::NotFound if answered_success => {
                    let row = job.row(
                        api,
                        Event::Unknown,
                        attempt,
                        Some(Code::Success.value()),
                        "",
                        "NicSRS answered success without a certId, and its refId is not found: not sent again; check the order in NicSRS's portal",
                    );
                    return ctx.end(row, Final::Unknown).await;
                }
                Lookup::NotFound => {
                    if after_minus_2 && job.op == Op::Place {
                        let streak = ctx.unknown_not_found.fetch_add(1, Ordering::SeqCst) + 1;
                        if streak >= UNKNOWN_NOT_FOUND_STREAK {
                            ctx.stop_because(format!(
                                "stopped: {streak} placements in a row answered -2 (unknown error) and were then not found by refId; NicSRS may be refusing orders (one client saw -2 for an empty balance): check the account, then run apply again"
                            ));
                        }
                    }
                }
                Lookup::Unclear(why) => {
                    let message = if opened {
                        format!("still unknown: {why}")
                    } else {
                        // Not sent: whether an earlier call went through could not be
                        // checked. The next run asks again before sending.
                        let open = job.row(api, job.op.write_ahead(), attempt, None, "", "");
                        ctx.record(open, None, false).await;
                        format!("not sent: the check by refId before sending failed: {why}")
                    };
                    let row = job.row(api, Event::Unknown, attempt, None, "", &message);
                    return ctx.end(row, Final::Unknown).await;
                }
            }
        }
        if ctx.stopping() {
            if reconcile && opened {
                // Known not placed, and no new call may start: leave it for the next run.
                let row = job.row(
                    api,
                    Event::Failed,
                    attempt,
                    None,
                    "",
                    "not placed (checked by refId); not sent again because the run stopped",
                );
                return ctx.end(row, Final::Failed).await;
            }
            return false;
        }
        if let Some(order) = job.held_csr.take() {
            // Renewed with the CSR NicSRS holds for a certificate whose key it generated.
            match read_held_csr(ctx, &job.of_cert, &order).await {
                Ok(csr) => {
                    let params = order.renewal_params_with(&csr);
                    job.request_sha256 = crate::expand::request_sha256(
                        "renew",
                        &[
                            ("params", &params),
                            ("refId", &job.ref_id),
                            ("renewId", &job.of_cert),
                            ("years", &job.years.to_string()),
                        ],
                    );
                    job.params = Some(params);
                }
                Err(message) => {
                    let open = job.row(api, job.op.write_ahead(), attempt, None, "", "");
                    ctx.record(open, None, false).await;
                    let row = job.row(api, Event::Failed, attempt, None, "", &message);
                    return ctx.end(row, Final::Failed).await;
                }
            }
        }
        attempt += 1;
        let submitting = job.row(api, job.op.write_ahead(), attempt, None, "", "");
        if !ctx.record(submitting, None, true).await {
            ctx.stop_because("the ledger cannot be written".into());
            return false;
        }
        opened = true;
        match send(ctx, &job).await {
            Sent::Placed(cert_id) => {
                ctx.unknown_not_found.store(0, Ordering::SeqCst);
                let row = job.done(api, attempt, &cert_id, "");
                return ctx.end(row, Final::Placed).await;
            }
            Sent::Refused {
                code,
                message,
                stop_all,
            } => {
                if stop_all {
                    ctx.stop_because(format!("stopped: {message}"));
                }
                let row = job.row(api, Event::Failed, attempt, code, "", &message);
                return ctx.end(row, Final::Failed).await;
            }
            Sent::Unknown { code, message } => {
                unknown_rounds += 1;
                after_minus_2 = code == Some(Code::Unknown.value());
                answered_success |= code == Some(Code::Success.value());
                let give_up = unknown_rounds >= UNKNOWN_ROUNDS;
                let row = job.row(api, Event::Unknown, attempt, code, "", &message);
                ctx.record(row, give_up.then_some(Final::Unknown), false)
                    .await;
                if give_up {
                    return true;
                }
                tokio::time::sleep(ctx.backoff(ctx.options.reconcile_delay, unknown_rounds - 1))
                    .await;
                reconcile = true;
            }
        }
    }
}

/// The `request_fields` of a certificate found by refId that the ledger did not record: the
/// job's own, with `csr` and `domainInfo` as NicSRS holds them (collect's `applyParams`), so
/// that a CSR or names changed since show as a change. When collect cannot answer, the
/// fields are left empty: unknown, never taken for the manifest's. Also returns the names
/// NicSRS holds, space-separated, for the ledger's `domains`.
async fn held_fields(ctx: &Ctx, cert_id: &str, job: &Job) -> (String, Option<String>) {
    match crate::refresh::collect(&ctx.client, &ctx.pacer, cert_id).await {
        Ok((_, c)) => crate::refresh::held_fields(&job.request_fields, &c),
        Err(_) => (String::new(), None),
    }
}

/// The CSR NicSRS holds for `cert_id` (collect's `applyParams.csr`), checked to be a CSR
/// for the order's names, or why it cannot be used: the message of the `failed` row
/// (nothing was sent).
async fn read_held_csr(ctx: &Ctx, cert_id: &str, order: &ExpandedOrder) -> Result<String, String> {
    let collected = crate::refresh::collect(&ctx.client, &ctx.pacer, cert_id)
        .await
        .map_err(|why| {
            format!("not sent: the CSR NicSRS holds for {cert_id} could not be read: {why}")
        })?;
    let Some(csr) = collected.1.apply_csr else {
        return Err(format!(
            "{NO_CSR_HELD} {cert_id} (collect's applyParams has none), and the order has none"
        ));
    };
    let info = crate::csr::inspect(&csr)
        .map_err(|e| format!("{NO_CSR_HELD} {cert_id}: the one it returned is unusable ({e})"))?;
    if let Some(problem) = crate::csr::key_problem(&info.key) {
        return Err(format!(
            "{NO_CSR_HELD} {cert_id}: the one it returned is unusable ({problem})"
        ));
    }
    let names = info.names();
    let mut wanted: Vec<String> = order
        .domains
        .iter()
        .map(|d| d.to_ascii_lowercase())
        .collect();
    wanted.sort();
    wanted.dedup();
    if names != wanted {
        return Err(format!(
            "{NO_CSR_HELD} {cert_id} for the order's names: it names {}, the order {}",
            names.join(" "),
            wanted.join(" ")
        ));
    }
    Ok(csr)
}

/// One paid call, resent only while it is certain that nothing was processed.
async fn send(ctx: &Ctx, job: &Job) -> Sent {
    let years = job.years.to_string();
    let fields = job.fields(&years);
    let (mut not_sent, mut throttled) = (0, 0);
    loop {
        ctx.pacer.wait().await;
        match ctx.client.call(job.op.endpoint(), &fields).await {
            CallOutcome::Reply(reply) => return judge(&reply),
            CallOutcome::NotSent(why) => {
                not_sent += 1;
                if not_sent >= NOT_SENT_TRIES {
                    return Sent::Refused {
                        code: None,
                        message: format!("not sent: {why}"),
                        stop_all: false,
                    };
                }
                tokio::time::sleep(ctx.backoff(Duration::from_millis(500), not_sent - 1)).await;
            }
            CallOutcome::Throttled(wait) => {
                throttled += 1;
                if throttled >= THROTTLE_TRIES {
                    return Sent::Refused {
                        code: None,
                        message: "not processed: the API kept answering 429/503".into(),
                        stop_all: false,
                    };
                }
                ctx.pacer.pause(
                    wait.unwrap_or_else(|| {
                        ctx.backoff(Duration::from_secs(1), throttled.min(5) - 1)
                    }),
                );
            }
            CallOutcome::Rejected(why) => {
                return Sent::Refused {
                    code: None,
                    message: format!("not processed: {why}"),
                    stop_all: true,
                };
            }
            CallOutcome::Ambiguous(why) => {
                return Sent::Unknown {
                    code: None,
                    message: why,
                };
            }
        }
    }
}

/// What a reply to a paid call means (see [`read::paid`]).
fn judge(reply: &Reply) -> Sent {
    match read::paid(reply) {
        Paid::Done(id) => Sent::Placed(id),
        Paid::Refused { stop_all } => Sent::Refused {
            code: Some(reply.code),
            message: reply.message(),
            stop_all,
        },
        Paid::Unknown if reply.known_code() == Some(Code::Success) => Sent::Unknown {
            code: Some(reply.code),
            message: "success without a certId".into(),
        },
        Paid::Unknown => Sent::Unknown {
            code: Some(reply.code),
            message: reply.message(),
        },
    }
}

/// Asks the API whether an order with `ref_id` exists. Lookups cost nothing, so every
/// transient failure is simply tried again.
async fn lookup(ctx: &Ctx, ref_id: &str) -> Lookup {
    let mut last = String::new();
    for n in 0..LOOKUP_TRIES {
        if n > 0 {
            tokio::time::sleep(ctx.backoff(Duration::from_millis(500), n - 1)).await;
        }
        ctx.pacer.wait().await;
        match ctx.client.call("certIdByrefId", &[("refId", ref_id)]).await {
            CallOutcome::Reply(reply) => match read::lookup(&reply) {
                read::Lookup::Found(id) => return Lookup::Found(id),
                read::Lookup::NotFound => return Lookup::NotFound,
                read::Lookup::Denied => {
                    ctx.stop_because(format!("stopped: {}", reply.message()));
                    return Lookup::Unclear(reply.message());
                }
                read::Lookup::Unclear if reply.known_code() == Some(Code::Success) => {
                    // A success of a shape nobody documents: asking again will not change it.
                    return Lookup::Unclear(
                        "the API answered success in a shape that does not tell whether the order exists".into(),
                    );
                }
                read::Lookup::Unclear => {
                    last = reply.message();
                    if last.is_empty() {
                        last = format!("code {}", reply.code);
                    }
                }
            },
            CallOutcome::Throttled(wait) => {
                ctx.pacer.pause(wait.unwrap_or(Duration::from_secs(1)));
                last = "throttled".into();
            }
            CallOutcome::NotSent(why)
            | CallOutcome::Ambiguous(why)
            | CallOutcome::Rejected(why) => last = why,
        }
    }
    Lookup::Unclear(last)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A worker that asks for its write-ahead row to be synced is answered only once the row
    /// is durable; outcome rows are synced at the latest when the run ends.
    #[test]
    fn a_write_ahead_row_is_durable_before_the_worker_goes_on() {
        let dir = std::env::temp_dir().join(format!("nicsrs-durable-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("dir");
        let (writer, _) = ledger::Writer::open(&dir.join("l.csv"), Api::Sandbox).expect("ledger");
        let durable = writer.durable_rows();
        let reporter: Box<dyn Reporter> = Box::new(crate::report::JsonReporter::default());
        let (tx, rx) = mpsc::unbounded_channel();
        let thread = std::thread::spawn(move || write_rows(rx, writer, reporter));
        let row = |event| Row {
            ref_id: "r-a".into(),
            ..Row::about(Api::Sandbox, event, "a")
        };
        let (done, synced) = oneshot::channel();
        let sent = tx.send(Msg {
            row: row(Event::Submitting),
            end: None,
            synced: Some(done),
        });
        assert!(sent.is_ok(), "sent");
        assert!(synced.blocking_recv().expect("answered"), "written");
        assert_eq!(
            durable.load(Ordering::SeqCst),
            1,
            "durable before the answer"
        );
        let sent = tx.send(Msg {
            row: row(Event::Placed),
            end: None,
            synced: None,
        });
        assert!(sent.is_ok(), "sent");
        drop(tx);
        let (_, failure) = thread.join().expect("writer");
        assert!(failure.is_none());
        assert_eq!(
            durable.load(Ordering::SeqCst),
            2,
            "the outcome synced at the end"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
