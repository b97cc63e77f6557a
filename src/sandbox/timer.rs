//! A timer for injected latency that is accurate to well under a millisecond: tokio's timer
//! rounds every deadline up to the next millisecond, which turns `--latency 50ms` into about
//! 51 ms. One thread sleeps until the earliest deadline and wakes its waiter.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::oneshot;

struct Wake {
    at: Instant,
    seq: u64,
    wake: oneshot::Sender<()>,
}

impl PartialEq for Wake {
    fn eq(&self, other: &Self) -> bool {
        (self.at, self.seq) == (other.at, other.seq)
    }
}
impl Eq for Wake {}
impl PartialOrd for Wake {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Wake {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (self.at, self.seq).cmp(&(other.at, other.seq))
    }
}

#[derive(Default)]
struct Queue {
    heap: BinaryHeap<Reverse<Wake>>,
    seq: u64,
    closed: bool,
}

/// The timer; dropping the last handle stops its thread.
pub struct Timer {
    shared: Arc<(Mutex<Queue>, Condvar)>,
}

impl Timer {
    /// Starts the timer thread.
    pub fn start() -> std::io::Result<Timer> {
        let shared = Arc::new((Mutex::new(Queue::default()), Condvar::new()));
        let theirs = shared.clone();
        std::thread::Builder::new()
            .name("sandbox-timer".into())
            .spawn(move || run(&theirs))?;
        Ok(Timer { shared })
    }

    /// Waits until `at`.
    pub async fn sleep_until(&self, at: Instant) {
        if at <= Instant::now() {
            return;
        }
        let (tx, rx) = oneshot::channel();
        {
            let (lock, ready) = &*self.shared;
            let mut q = lock.lock().unwrap_or_else(|e| e.into_inner());
            q.seq += 1;
            let seq = q.seq;
            q.heap.push(Reverse(Wake { at, seq, wake: tx }));
            ready.notify_one();
        }
        // The thread only goes away with the timer; fall back to tokio's timer then.
        if rx.await.is_err() {
            tokio::time::sleep_until(at.into()).await;
        }
    }
}

impl Drop for Timer {
    fn drop(&mut self) {
        let (lock, ready) = &*self.shared;
        lock.lock().unwrap_or_else(|e| e.into_inner()).closed = true;
        ready.notify_one();
    }
}

fn run(shared: &(Mutex<Queue>, Condvar)) {
    let (lock, ready) = shared;
    let mut q = lock.lock().unwrap_or_else(|e| e.into_inner());
    loop {
        if q.closed {
            return;
        }
        let now = Instant::now();
        while q.heap.peek().is_some_and(|Reverse(d)| d.at <= now) {
            if let Some(Reverse(due)) = q.heap.pop() {
                let _ = due.wake.send(());
            }
        }
        let wait = q
            .heap
            .peek()
            .map(|Reverse(d)| d.at.saturating_duration_since(now));
        q = match wait {
            Some(w) => ready
                .wait_timeout(q, w.min(Duration::from_secs(1)))
                .map_or_else(|e| e.into_inner().0, |r| r.0),
            None => ready.wait(q).unwrap_or_else(|e| e.into_inner()),
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn sleeps_are_accurate_and_in_order() {
        let timer = Timer::start().expect("timer");
        let start = Instant::now();
        timer.sleep_until(start + Duration::from_millis(30)).await;
        let took = start.elapsed();
        assert!(took >= Duration::from_millis(30), "{took:?}");
    }
}
