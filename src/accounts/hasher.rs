//! Where bcrypt runs: one dedicated thread per core at the lowest CPU priority (SCHED_IDLE),
//! fed through a queue.
//!
//! bcrypt at cost 12 takes about 0.3 s of one core, by design. On tokio's blocking pool every
//! login in flight got a thread of its own at normal priority, so a login storm ran as many
//! hashes at once as there were logins, took every core, and starved everything else:
//! `bench/run` (2 cores, 32 connections logging in) measured the catalog API's p99 going from
//! 5.5 ms to 247 ms and its rate falling ninefold. Here hashes run only on CPU time nothing else
//! wants: a SCHED_IDLE thread is preempted as soon as any normal thread (a request, the worker,
//! PostgreSQL) becomes runnable, so a storm no longer slows the shop (the same measurement:
//! p99 3.3 ms → 4.7 ms, rate unchanged). Threads at nice 10 instead still held the CPU for a
//! scheduler slice at a time (p99 ×3.4). Logins beyond one per core wait in the queue — in
//! memory, without a thread each — and, when the machine is saturated by other work, wait for
//! idle CPU (up to the request timeout). A queued hash whose request is gone is skipped.

use std::panic::AssertUnwindSafe;
use std::sync::{Arc, LazyLock, Mutex, PoisonError, mpsc};

type Job = Box<dyn FnOnce() + Send>;

static QUEUE: LazyLock<mpsc::Sender<Job>> = LazyLock::new(start);

/// How many hashes may run at once: one per core (they only use idle CPU).
pub fn threads() -> usize {
    std::thread::available_parallelism().map_or(1, std::num::NonZero::get)
}

fn start() -> mpsc::Sender<Job> {
    let (sender, receiver) = mpsc::channel::<Job>();
    let receiver = Arc::new(Mutex::new(receiver));
    for i in 0..threads() {
        let receiver = receiver.clone();
        let spawned = std::thread::Builder::new()
            .name(format!("bcrypt-{i}"))
            .spawn(move || {
                lower_priority();
                loop {
                    let job = receiver
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .recv();
                    let Ok(job) = job else { return };
                    // A panic ends this job (its caller gets an error), not the thread.
                    let _ = std::panic::catch_unwind(AssertUnwindSafe(job));
                }
            });
        if let Err(err) = spawned {
            tracing::error!("password hashing thread not started: {err}");
        }
    }
    sender
}

/// Lowers the calling thread's scheduling priority to SCHED_IDLE (Linux; per thread). Best
/// effort: hashing still works where it fails.
fn lower_priority() {
    #[cfg(target_os = "linux")]
    {
        let param = libc::sched_param { sched_priority: 0 };
        // SAFETY: `param` outlives the call; pid 0 is the calling thread; the call changes only
        // this thread's scheduling policy.
        let failed = unsafe { libc::sched_setscheduler(0, libc::SCHED_IDLE, &param) != 0 };
        if failed {
            tracing::debug!(
                "could not lower the password hashing thread's priority: {}",
                std::io::Error::last_os_error()
            );
        }
    }
}

/// Runs `work` (bcrypt) on a hashing thread and waits for it without holding an async thread.
pub async fn run<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> anyhow::Result<T> {
    let (done, result) = tokio::sync::oneshot::channel();
    QUEUE
        .send(Box::new(move || {
            // Nobody waits any more (the client went away, or the request timed out): a queued
            // hash would only burn CPU.
            if done.is_closed() {
                return;
            }
            let _ = done.send(work());
        }))
        .map_err(|_| anyhow::anyhow!("no password hashing thread is running"))?;
    result
        .await
        .map_err(|_| anyhow::anyhow!("password hashing failed (the hashing thread panicked)"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn work_runs_on_a_hashing_thread_and_a_panic_is_an_error() {
        let name = run(|| std::thread::current().name().map(str::to_owned))
            .await
            .unwrap();
        assert!(name.unwrap().starts_with("bcrypt-"));
        assert!(run(|| -> u8 { panic!("boom") }).await.is_err());
        // The thread survived the panic.
        assert_eq!(run(|| 2 + 2).await.unwrap(), 4);
    }

    #[test]
    fn at_least_one_thread() {
        assert!(threads() >= 1);
    }
}
