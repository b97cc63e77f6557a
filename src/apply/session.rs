//! The API as one run uses it: one client, one pacer and one stop for every call, and the
//! lookups by refId sent ahead, while the manifests are still being validated.
//!
//! A new order is looked up by its refId before it is placed (the ledger may have lost the
//! row of a call that went through). Those lookups are free and change nothing, so they
//! need not wait for the whole run to be valid: as each order passes its own checks, its
//! lookup is started, and the job takes the answer when its turn comes. Paid calls still
//! wait for every manifest to be valid, the plan and the `--max-orders` check.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::sync::{OnceCell, mpsc};
use tokio::time::Instant;

use super::call::Lookup;
use super::{LOOKUP, Stop};
use crate::nicsrs::client::{CallOutcome, Client};
use crate::nicsrs::pacer::Pacer;
use crate::nicsrs::wire::Code;
use crate::nicsrs::wire::read;

/// How old a lookup sent ahead may be when its order's turn comes; an older one is asked
/// again, so that "not placed" is never taken from further back than a fresh lookup's.
const FRESH: Duration = Duration::from_secs(10);

/// A lookup sent ahead: when it was answered, and what it found.
type Answer = (Instant, Lookup);

/// The API as one run uses it.
pub struct Session {
    pub(super) client: Client,
    pub(super) pacer: Pacer,
    pub(super) stop: Stop,
    /// Lookups sent ahead, by refId, until the run takes them.
    ahead: Mutex<HashMap<String, Arc<OnceCell<Answer>>>>,
    /// Lookups waiting to be sent ahead, for the senders; taken when the first is queued.
    queue: Mutex<Option<Queue>>,
    /// How many senders send lookups ahead: the run's concurrency.
    senders: usize,
    /// Whether lookups may still be sent ahead (until the run starts).
    open: AtomicBool,
    /// The senders' tasks, which the run waits for before its jobs start.
    sending: Mutex<Vec<tokio::task::JoinHandle<()>>>,
}

/// The lookups waiting to be sent ahead: the senders' end is shared by them.
struct Queue {
    tx: mpsc::UnboundedSender<(String, Arc<OnceCell<Answer>>)>,
    rx: Option<mpsc::UnboundedReceiver<(String, Arc<OnceCell<Answer>>)>>,
}

impl Session {
    /// A session of `client`, at most `rate` calls per second, sending at most
    /// `concurrency` lookups ahead at a time.
    pub fn new(client: Client, rate: Option<f64>, concurrency: usize) -> Arc<Session> {
        Arc::new(Session {
            client,
            pacer: Pacer::new(rate),
            stop: Stop::default(),
            ahead: Mutex::default(),
            queue: Mutex::new(Some({
                let (tx, rx) = mpsc::unbounded_channel();
                Queue { tx, rx: Some(rx) }
            })),
            senders: concurrency.max(1),
            open: AtomicBool::new(true),
            sending: Mutex::default(),
        })
    }

    /// Whether no new call may start.
    pub(super) fn stopping(&self) -> bool {
        self.stop.set.load(Ordering::SeqCst)
    }

    /// Starts looking `ref_id` up on `runtime`, unless it already is or lookups ahead have
    /// ended. Called from any thread (the validation's).
    pub fn look_ahead(self: &Arc<Self>, runtime: &tokio::runtime::Handle, ref_id: &str) {
        if !self.open.load(Ordering::SeqCst) || self.stopping() {
            return;
        }
        let cell = {
            let mut ahead = self.ahead.lock().unwrap_or_else(PoisonError::into_inner);
            if ahead.contains_key(ref_id) {
                return;
            }
            let cell = Arc::new(OnceCell::new());
            ahead.insert(ref_id.to_owned(), cell.clone());
            cell
        };
        let mut queue = self.queue.lock().unwrap_or_else(PoisonError::into_inner);
        let Some(queue) = queue.as_mut() else {
            return;
        };
        if let Some(rx) = queue.rx.take() {
            self.start_senders(runtime, rx);
        }
        let _ = queue.tx.send((ref_id.to_owned(), cell));
    }

    /// Starts the tasks that send the queued lookups ahead, at most `senders` at a time,
    /// until the run starts.
    fn start_senders(
        self: &Arc<Self>,
        runtime: &tokio::runtime::Handle,
        rx: mpsc::UnboundedReceiver<(String, Arc<OnceCell<Answer>>)>,
    ) {
        let rx = Arc::new(tokio::sync::Mutex::new(rx));
        let mut sending = self.sending.lock().unwrap_or_else(PoisonError::into_inner);
        for _ in 0..self.senders {
            let (session, rx) = (self.clone(), rx.clone());
            sending.push(runtime.spawn(async move {
                loop {
                    let next = rx.lock().await.recv().await;
                    let Some((ref_id, cell)) = next else { break };
                    // Once the run has started, its jobs send their own lookups.
                    if !session.open.load(Ordering::SeqCst) || session.stopping() {
                        break;
                    }
                    cell.get_or_init(|| answer(&session, &ref_id)).await;
                }
            }));
        }
    }

    /// Sends no more lookups ahead, and waits for those in flight: the run starts, and its
    /// jobs look up what was not. Waiting (at most one lookup's time) keeps the lookups in
    /// flight at `--concurrency`, and a refusal of the token among them stops the run
    /// before any job starts.
    pub async fn end_look_ahead(&self) {
        self.open.store(false, Ordering::SeqCst);
        // The senders find the queue closed, or the run started, and end.
        self.queue
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        let sending =
            std::mem::take(&mut *self.sending.lock().unwrap_or_else(PoisonError::into_inner));
        for sender in sending {
            let _ = sender.await;
        }
    }

    /// A job's first lookup of `ref_id`: the one sent ahead if there is one (waiting for it
    /// if it is in flight), it is fresh and it tells; else a new one.
    pub(super) async fn first_lookup(&self, ref_id: &str) -> Lookup {
        let sent = self
            .ahead
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(ref_id);
        if let Some(cell) = sent {
            // In flight: waited for. Still queued: asked now, by this job.
            let (at, found) = cell.get_or_init(|| answer(self, ref_id)).await;
            // Only an answer that says whether the order exists is taken: one that could
            // not tell (the API was unreachable a while ago) is asked again.
            if at.elapsed() <= FRESH && !matches!(found, Lookup::Unclear(_)) {
                return found.clone();
            }
        }
        lookup(self, ref_id).await
    }
}

/// A lookup and when it was answered.
async fn answer(session: &Session, ref_id: &str) -> Answer {
    let found = lookup(session, ref_id).await;
    (Instant::now(), found)
}

/// Asks the API whether an order with `ref_id` exists. Lookups cost nothing, so every
/// transient failure is simply tried again.
pub(super) async fn lookup(session: &Session, ref_id: &str) -> Lookup {
    let mut last = String::new();
    for attempt in LOOKUP.attempts() {
        LOOKUP.before(attempt, &session.pacer).await;
        match session
            .client
            .call("certIdByrefId", &[("refId", ref_id)])
            .await
        {
            CallOutcome::Reply(reply) => match read::lookup(&reply) {
                read::Lookup::Found(id) => return Lookup::Found(id),
                read::Lookup::NotFound => return Lookup::NotFound,
                read::Lookup::Denied => {
                    session
                        .stop
                        .because(format!("stopped: {}", reply.message()));
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
                session.pacer.pause(wait.unwrap_or(Duration::from_secs(1)));
                last = "throttled".into();
            }
            CallOutcome::NotSent(why)
            | CallOutcome::Ambiguous(why)
            | CallOutcome::Rejected(why) => last = why,
        }
    }
    Lookup::Unclear(last)
}
