//! Delivery accounting shared by the collector and its sink.
//!
//! `submitted` is counted per partition at submit time (see
//! `collector::Gate`); everything after that is counted here, once per frame,
//! never per event. At any quiescent point
//! `submitted == delivered + failed + pending`, with pending derived.

use crate::error::Error;
use super::ledger::Ledger;
use super::{Reporting, Tracker};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Instant;

pub struct Accounting {
    pub(crate) tracker: Arc<Tracker>,
    /// How far each partition is reported, for `flush` (see `ledger`).
    pub(crate) ledger: Ledger,
    delivered: AtomicU64,
    failed: AtomicU64,
    rejected: AtomicU64,
    flushed_batches: AtomicU64,
    /// Threads blocked in `wait_until`; completions notify only when > 0, so
    /// the common case costs no syscall.
    waiters: AtomicUsize,
    lock: Mutex<()>,
    changed: Condvar,
    last_error: Mutex<Option<Error>>,
}

impl Accounting {
    pub fn new(tracking_slots: usize, partitions: usize, reporting: Reporting) -> Accounting {
        Accounting {
            tracker: Arc::new(Tracker::new(tracking_slots, partitions, reporting)),
            ledger: Ledger::new(partitions),
            delivered: AtomicU64::new(0),
            failed: AtomicU64::new(0),
            rejected: AtomicU64::new(0),
            flushed_batches: AtomicU64::new(0),
            waiters: AtomicUsize::new(0),
            lock: Mutex::new(()),
            changed: Condvar::new(),
            last_error: Mutex::new(None),
        }
    }

    pub fn delivered(&self) -> u64 {
        // Acquire: pairs with the Release in `complete`, so a reader that
        // sees N delivered also sees the submits that preceded them.
        self.delivered.load(Ordering::Acquire)
    }
    pub fn failed(&self) -> u64 {
        self.failed.load(Ordering::Acquire)
    }
    pub fn completed(&self) -> u64 {
        self.delivered() + self.failed()
    }
    pub fn rejected(&self) -> u64 {
        self.rejected.load(Ordering::Relaxed)
    }
    pub fn flushed_batches(&self) -> u64 {
        self.flushed_batches.load(Ordering::Relaxed)
    }
    pub fn count_rejected(&self) {
        self.rejected.fetch_add(1, Ordering::Relaxed);
    }
    pub fn count_batch(&self) {
        self.flushed_batches.fetch_add(1, Ordering::Relaxed);
    }

    /// The last delivery error the sink reported, if any.
    pub fn last_error(&self) -> Option<Error> {
        self.last_error.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Records the outcome of `events` events and wakes flush waiters.
    pub fn complete(&self, events: u64, outcome: Result<(), Error>) {
        self.count(events, outcome);
        self.notify();
    }

    /// Counts the outcome of `events` events without waking anyone: a
    /// completion counts, then settles its tickets, then notifies, so a
    /// ticket's waiter sees the counts and a flush waiter sees the tickets.
    pub fn count(&self, events: u64, outcome: Result<(), Error>) {
        match outcome {
            Ok(()) => self.delivered.fetch_add(events, Ordering::Release),
            Err(e) => {
                *self.last_error.lock().unwrap_or_else(|e| e.into_inner()) = Some(e);
                self.failed.fetch_add(events, Ordering::Release)
            }
        };
    }

    /// Wakes flush waiters after `count`.
    pub fn notify(&self) {
        // SeqCst pairs with the SeqCst increment in `wait_until`: either the
        // waiter sees our counter update on its re-check, or we see it waiting.
        if self.waiters.load(Ordering::SeqCst) > 0 {
            let _guard = self.lock.lock().unwrap_or_else(|e| e.into_inner());
            self.changed.notify_all();
        }
    }

    /// Wakes every waiter so it re-evaluates its condition (used on close).
    pub fn wake_all(&self) {
        let _guard = self.lock.lock().unwrap_or_else(|e| e.into_inner());
        self.changed.notify_all();
    }

    /// Blocks until `done()` is true or `deadline` passes; returns `done()`.
    pub fn wait_until(&self, deadline: Instant, mut done: impl FnMut() -> bool) -> bool {
        self.waiters.fetch_add(1, Ordering::SeqCst);
        let mut guard = self.lock.lock().unwrap_or_else(|e| e.into_inner());
        let ok = loop {
            if done() {
                break true;
            }
            let now = Instant::now();
            if now >= deadline {
                break false;
            }
            // Bounded wait: a safety net against any missed wake-up.
            let slice = (deadline - now).min(std::time::Duration::from_millis(50));
            guard = self.changed.wait_timeout(guard, slice).unwrap_or_else(|e| e.into_inner()).0;
        };
        drop(guard);
        self.waiters.fetch_sub(1, Ordering::SeqCst);
        ok
    }
}

impl Drop for Accounting {
    /// The collector and every frame's [`super::Completion`] are gone: no
    /// outcome can be settled any more, so pollers of the completion queue
    /// may learn that it has ended.
    fn drop(&mut self) {
        self.tracker.close();
    }
}
