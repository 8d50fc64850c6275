//! Group commit for directory fsyncs.
//!
//! Every delivery must make its link in `new/` durable (`fsync(new/)`)
//! before the 250. When several sessions finish at once, one fsync of the
//! directory covers every link made before it started, so they share it:
//! the first waiter becomes the leader and fsyncs for everybody queued at
//! that moment; those who arrive meanwhile wait for the next round, which
//! one of them leads. Each waiter gets the result of the fsync that
//! covered its own link, so a 250 still means durable.

use std::io;
use std::os::fd::BorrowedFd;
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::Thread;

/// Not yet covered by a finished fsync (otherwise 0 or an errno).
const PENDING: i32 = -1;

/// A finished round's outcome (0 or an errno) as a result.
fn as_result(outcome: i32) -> io::Result<()> {
    match outcome {
        0 => Ok(()),
        errno => Err(io::Error::from_raw_os_error(errno)),
    }
}

/// One delivery waiting for its link to be made durable.
struct Waiter {
    outcome: AtomicI32,
    thread: Thread,
}

#[derive(Default)]
struct Queue {
    /// Waiters whose links are made, not yet covered by a started fsync.
    waiting: Vec<Arc<Waiter>>,
    /// An fsync is running (its leader holds the waiters it covers).
    syncing: bool,
}

/// Shares fsyncs of one directory among concurrent deliveries.
///
/// Waiters sleep with `park`, and each is woken only when it has its
/// result or must lead the next round: no thundering herd when many
/// sessions wait on one directory.
#[derive(Default)]
pub struct GroupSync {
    queue: Mutex<Queue>,
}

impl GroupSync {
    /// Makes durable every entry created in the directory before this
    /// call: returns once an fsync that started after the call has
    /// succeeded (or with its error). `dir` is any descriptor of the
    /// directory; `fsync` is the function that syncs it (a seam for tests).
    pub fn sync(
        &self,
        dir: BorrowedFd<'_>,
        fsync: impl Fn(BorrowedFd<'_>) -> io::Result<()>,
    ) -> io::Result<()> {
        let me = Arc::new(Waiter {
            outcome: AtomicI32::new(PENDING),
            thread: std::thread::current(),
        });
        let mut q = self.queue.lock().unwrap_or_else(|p| p.into_inner());
        q.waiting.push(Arc::clone(&me));
        loop {
            match me.outcome.load(Ordering::Acquire) {
                PENDING => {}
                done => return as_result(done),
            }
            if q.syncing {
                // Woken (unpark) with our result, or to lead the next
                // round; a spurious wake-up just looks again.
                drop(q);
                std::thread::park();
                q = self.queue.lock().unwrap_or_else(|p| p.into_inner());
                continue;
            }
            // Lead a round for everyone queued now (including us).
            q.syncing = true;
            let batch = std::mem::take(&mut q.waiting);
            drop(q);
            let outcome = match fsync(dir) {
                Ok(()) => 0,
                Err(e) => e.raw_os_error().filter(|&n| n > 0).unwrap_or(libc::EIO),
            };
            for w in &batch {
                w.outcome.store(outcome, Ordering::Release);
            }
            q = self.queue.lock().unwrap_or_else(|p| p.into_inner());
            q.syncing = false;
            // The first of those who queued meanwhile leads the next round.
            let next = q.waiting.first().map(|w| w.thread.clone());
            drop(q);
            for w in batch.iter().filter(|w| !Arc::ptr_eq(w, &me)) {
                w.thread.unpark();
            }
            if let Some(t) = next {
                t.unpark();
            }
            // Our own link was in the batch.
            return as_result(outcome);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsFd;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    #[test]
    fn concurrent_callers_share_fsyncs_and_all_are_covered() {
        let g = Arc::new(GroupSync::default());
        let calls = Arc::new(AtomicUsize::new(0));
        // One clock orders every caller's write and every fsync's start;
        // `finished` holds the start time of each fsync that has returned.
        let clock = Arc::new(AtomicUsize::new(0));
        let finished = Arc::new(Mutex::new(Vec::new()));
        let covered = Arc::new(AtomicUsize::new(0));
        let dir = std::fs::File::open(std::env::temp_dir()).unwrap();
        let dir = Arc::new(dir);
        let threads: Vec<_> = (0..16)
            .map(|_| {
                let (g, calls, dir) = (Arc::clone(&g), Arc::clone(&calls), Arc::clone(&dir));
                let (clock, finished) = (Arc::clone(&clock), Arc::clone(&finished));
                let covered = Arc::clone(&covered);
                std::thread::spawn(move || {
                    for _ in 0..20 {
                        let wrote = clock.fetch_add(1, Ordering::SeqCst);
                        g.sync(dir.as_fd(), |_| {
                            let began = clock.fetch_add(1, Ordering::SeqCst);
                            calls.fetch_add(1, Ordering::SeqCst);
                            std::thread::sleep(Duration::from_millis(2));
                            finished.lock().unwrap().push(began);
                            Ok(())
                        })
                        .unwrap();
                        // This caller's write is durable only if an fsync
                        // that began after it has finished.
                        let done = finished.lock().unwrap();
                        assert!(
                            done.iter().any(|&began| began > wrote),
                            "write at {wrote} returned before an fsync that began after it: {done:?}"
                        );
                        covered.fetch_add(1, Ordering::SeqCst);
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(
            covered.load(Ordering::SeqCst),
            320,
            "every caller was covered"
        );
        let n = calls.load(Ordering::SeqCst);
        // 320 requests; concurrent ones shared a round.
        assert!(n < 320, "{n} fsyncs for 320 requests");
        assert!(n >= 20, "each thread's requests are sequential: {n}");
    }

    #[test]
    fn an_fsync_error_reaches_every_waiter_it_covered() {
        let g = GroupSync::default();
        let dir = std::fs::File::open(std::env::temp_dir()).unwrap();
        let err = g
            .sync(dir.as_fd(), |_| {
                Err(io::Error::from_raw_os_error(libc::EIO))
            })
            .unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::EIO));
        // The next round is independent.
        assert!(g.sync(dir.as_fd(), |_| Ok(())).is_ok());
    }

    #[test]
    fn a_waiter_is_covered_only_by_an_fsync_that_started_after_it() {
        // The leader's fsync blocks until a second caller has queued; the
        // second must not take the leader's (earlier) result.
        let g = Arc::new(GroupSync::default());
        let dir = Arc::new(std::fs::File::open(std::env::temp_dir()).unwrap());
        let rounds = Arc::new(AtomicUsize::new(0));
        let (g1, d1, r1) = (Arc::clone(&g), Arc::clone(&dir), Arc::clone(&rounds));
        let (tx, rx) = std::sync::mpsc::channel::<()>();
        let leader = std::thread::spawn(move || {
            g1.sync(d1.as_fd(), |_| {
                r1.fetch_add(1, Ordering::SeqCst);
                rx.recv_timeout(Duration::from_secs(10)).unwrap();
                Ok(())
            })
        });
        while rounds.load(Ordering::SeqCst) == 0 {
            std::thread::yield_now();
        }
        let (g2, d2, r2) = (Arc::clone(&g), Arc::clone(&dir), Arc::clone(&rounds));
        let second = std::thread::spawn(move || {
            g2.sync(d2.as_fd(), |_| {
                r2.fetch_add(1, Ordering::SeqCst);
                Ok(())
            })
        });
        // Release the leader once the second caller is queued behind it.
        while g.queue.lock().unwrap().waiting.is_empty() {
            std::thread::yield_now();
        }
        tx.send(()).unwrap();
        leader.join().unwrap().unwrap();
        second.join().unwrap().unwrap();
        assert_eq!(
            rounds.load(Ordering::SeqCst),
            2,
            "the second caller needed its own round"
        );
    }
}
