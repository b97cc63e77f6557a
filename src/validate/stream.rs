//! Checking a file's orders while the file is still being parsed: the parser hands each
//! order over as soon as it is read, the other cores check it, and it is not kept.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError, mpsc};

use super::file::{OrderDone, frame_parts};
use super::*;
use crate::manifest::yaml::{OrderStream, YamlError};

/// One file's root, its `orders` taken out, and what was found in each order.
pub(super) type Parsed = (Node, Vec<Box<OrderDone>>);

/// What a worker returns: orders checked, orders kept to check once the file is whole
/// (when no `defaults` was written before `orders`, one may follow them), and how many
/// orders it received in all (the rest it dropped, the file being read again).
type WorkerResult = (Vec<(usize, Box<OrderDone>)>, Vec<(usize, Node)>, usize);

impl Run<'_> {
    /// Parses one file, checking each order on the other cores as soon as it is read,
    /// against the `defaults` and `refIdPrefix` written before `orders`.
    ///
    /// A file with no `defaults` before its `orders` keeps its orders until it is whole,
    /// since a `defaults` may follow them. Should a `refIdPrefix` (or a first `defaults`)
    /// follow orders already checked, the file is parsed again and checked once whole.
    pub(super) fn parse_checking(&self, file: FileId) -> Result<Parsed, YamlError> {
        let text = self.sources.get(file).text.as_str();
        let frame: Arc<OnceLock<Vec<yaml::Entry>>> = Arc::default();
        let stale: Arc<AtomicBool> = Arc::default();
        let (sender, receiver) = mpsc::channel::<(usize, Node)>();
        let receiver = Mutex::new(receiver);
        let workers = threads().saturating_sub(1).max(1);
        let (parsed, mut done, kept, received) = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..workers)
                .map(|_| scope.spawn(|| self.check_streamed(file, &frame, &stale, &receiver)))
                .collect();
            // The file's own schema is needed once the file is whole: compiled meanwhile.
            scope.spawn(Schema::manifest);
            let stream = OrderStream {
                frame: Arc::clone(&frame),
                orders: sender,
                stale: Arc::clone(&stale),
            };
            let parsed = yaml::parse_streaming(text, stream);
            // The parser's core, now free, checks what the workers have not reached yet.
            let mine = self.check_streamed(file, &frame, &stale, &receiver);
            let (mut done, mut kept, mut received) = mine;
            for handle in handles {
                let (d, k, r) = handle
                    .join()
                    .unwrap_or_else(|e| std::panic::resume_unwind(e));
                done.extend(d);
                kept.extend(k);
                received += r;
            }
            (parsed, done, kept, received)
        });
        let root = parsed?;
        let checked_with = frame_parts(frame.get().map_or(&[], Vec::as_slice));
        let whole = frame_parts(match &root.value {
            Value::Map(entries) => entries,
            _ => &[],
        });
        let holds = !stale.load(Ordering::Relaxed)
            && checked_with.0.map(|d| d.span) == whole.0.map(|d| d.span)
            && checked_with.1 == whole.1;
        // Every order received is either checked against the file's own frame or kept to
        // be; otherwise (checked against another frame, or dropped) the file is read again.
        let all_here = done.len() + kept.len() == received;
        if !all_here || (!holds && !done.is_empty()) {
            drop((done, kept));
            return self.parse_then_check(file);
        }
        let (defaults, prefix) = whole;
        done.extend(par_map(kept, |(index, item)| {
            (index, self.order_done(file, index, item, defaults, prefix))
        }));
        Ok((root, in_order(done)))
    }

    /// Parses one file whole, then checks its orders.
    fn parse_then_check(&self, file: FileId) -> Result<Parsed, YamlError> {
        let mut root = yaml::parse(&self.sources.get(file).text)?;
        let items = match root.get_mut("orders").map(|o| &mut o.value) {
            Some(Value::Seq(items)) => std::mem::take(items),
            _ => Vec::new(),
        };
        let (defaults, prefix) = frame_parts(match &root.value {
            Value::Map(entries) => entries,
            _ => &[],
        });
        let done = par_map(items.into_iter().enumerate().collect(), |(index, item)| {
            self.order_done(file, index, item, defaults, prefix)
        });
        Ok((root, done))
    }

    /// A worker: checks orders as they arrive, until the parser closes the stream. With
    /// no `defaults` before `orders`, it keeps them instead; once a `defaults` or
    /// `refIdPrefix` turns up after `orders`, it drops them (the file is read again).
    fn check_streamed(
        &self,
        file: FileId,
        frame: &OnceLock<Vec<yaml::Entry>>,
        stale: &AtomicBool,
        receiver: &Mutex<mpsc::Receiver<(usize, Node)>>,
    ) -> WorkerResult {
        let (mut done, mut kept, mut received) = (Vec::new(), Vec::new(), 0);
        loop {
            let next = receiver
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .recv();
            let Ok((index, item)) = next else {
                return (done, kept, received);
            };
            received += 1;
            // The frame is set before the first order is sent.
            let (defaults, prefix) = frame_parts(frame.get().map_or(&[], Vec::as_slice));
            if defaults.is_none() {
                kept.push((index, item));
            } else if !stale.load(Ordering::Relaxed) {
                done.push((index, self.order_done(file, index, item, defaults, prefix)));
            }
        }
    }
}

/// The orders by their index in the file: each is moved once.
#[expect(clippy::vec_box, reason = "orders move as pointers (see `order_done`)")]
fn in_order(mut done: Vec<(usize, Box<OrderDone>)>) -> Vec<Box<OrderDone>> {
    let n = done.len();
    if done.iter().any(|(index, _)| *index >= n) {
        done.sort_unstable_by_key(|d| d.0);
        return done.into_iter().map(|(_, order)| order).collect();
    }
    let mut slots: Vec<Option<Box<OrderDone>>> = std::iter::repeat_with(|| None).take(n).collect();
    for (index, order) in done {
        slots[index] = Some(order);
    }
    slots.into_iter().flatten().collect()
}
