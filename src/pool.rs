//! The one worker pool: tasks that take jobs from a shared queue, in order, until it is
//! empty or the run stops; each worker starts a little after the one before, so that their
//! first calls do not arrive together.

use std::collections::VecDeque;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Jobs not taken yet, shared by the workers.
pub type Queue<J> = Arc<Mutex<VecDeque<J>>>;

/// Starts `workers` tasks (at least one), the n-th `ramp * n` after the first. Each takes
/// the next job while `stopping()` is false and gives it to `work`; a worker ends when the
/// queue is empty, when the run stops, or when `work` returns `false`. Returns the tasks
/// and the queue, which holds what was never taken once they have ended.
pub fn spawn<J, W, F>(
    jobs: Vec<J>,
    workers: usize,
    ramp: Duration,
    stopping: impl Fn() -> bool + Send + Sync + 'static,
    work: W,
) -> (Vec<tokio::task::JoinHandle<()>>, Queue<J>)
where
    J: Send + 'static,
    W: Fn(J) -> F + Send + Sync + 'static,
    F: Future<Output = bool> + Send,
{
    let queue: Queue<J> = Arc::new(Mutex::new(VecDeque::from(jobs)));
    let shared = Arc::new((stopping, work));
    let tasks = (0..workers.max(1))
        .map(|n| {
            let (queue, shared) = (queue.clone(), shared.clone());
            tokio::spawn(async move {
                if n > 0 && !ramp.is_zero() {
                    tokio::time::sleep(ramp * n as u32).await;
                }
                loop {
                    if (shared.0)() {
                        break;
                    }
                    let job = queue.lock().unwrap_or_else(|e| e.into_inner()).pop_front();
                    let Some(job) = job else { break };
                    if !(shared.1)(job).await {
                        break;
                    }
                }
            })
        })
        .collect();
    (tasks, queue)
}

/// How many jobs the queue still holds.
pub fn left<J>(queue: &Queue<J>) -> usize {
    queue.lock().unwrap_or_else(|e| e.into_inner()).len()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[tokio::test]
    async fn every_job_is_taken_once_and_a_stop_leaves_the_rest() {
        let done = Arc::new(AtomicUsize::new(0));
        let counted = done.clone();
        let (tasks, queue) = spawn(
            (0..100).collect(),
            8,
            Duration::ZERO,
            || false,
            move |_: i32| {
                let counted = counted.clone();
                async move {
                    counted.fetch_add(1, Ordering::SeqCst);
                    true
                }
            },
        );
        for t in tasks {
            t.await.expect("worker");
        }
        assert_eq!(done.load(Ordering::SeqCst), 100);
        assert_eq!(left(&queue), 0);

        let (tasks, queue) = spawn(
            (0..100).collect(),
            4,
            Duration::ZERO,
            || true,
            |_: i32| async { true },
        );
        for t in tasks {
            t.await.expect("worker");
        }
        assert_eq!(left(&queue), 100, "nothing is taken once the run stops");
    }
}
