//! The completion queue: outcomes of tracked events, pushed a frame at a time
//! by the thread that learns them and drained in batches by whoever serves
//! the callers (`mb_collector_poll_acks`), so one thread can answer thousands
//! of requests without a thread parked per request.
//!
//! An entry holds its tracking slot until it is drained, so the queue never
//! holds more than `tracking.slots` entries and its storage is allocated
//! once. A producer takes the lock once per frame; a poller once per drain,
//! and it sleeps on the condition variable only when the queue is empty, so
//! a push notifies only when a poller is actually asleep.

use crate::error::mb_result;
use std::collections::VecDeque;
use std::sync::{Condvar, Mutex};
use std::time::Instant;

/// One tracked event's outcome, as the completion queue and the ack callback
/// report it (`mb_ack_event` in C).
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AckEvent {
    /// The ticket returned by the tracked submit.
    pub ticket: u64,
    /// MB_OK: the sink holds the event (Kafka acknowledged its record);
    /// MB_ERR_DELIVERY: it could not be delivered.
    pub result: mb_result,
    /// Kafka partition of the record holding the event (-1 if failed or unknown).
    pub partition: i32,
    /// Offset of that record (-1 if failed or unknown).
    pub offset: i64,
    /// Index of the event inside its frame (0 in record mode).
    pub index: u32,
    /// Always 0; keeps the struct 32 bytes with no hidden padding.
    pub reserved: u32,
}

impl AckEvent {
    pub const EMPTY: AckEvent =
        AckEvent { ticket: 0, result: mb_result::MB_OK, partition: -1, offset: -1, index: 0, reserved: 0 };
}

struct Inner {
    events: VecDeque<AckEvent>,
    /// Pollers asleep on `ready`.
    sleepers: usize,
    /// No more events will be pushed (the collector has finished closing).
    closed: bool,
}

pub struct AckQueue {
    inner: Mutex<Inner>,
    ready: Condvar,
}

/// What a drain found.
pub enum Drained {
    /// This many events were copied out (at least one).
    Some(usize),
    /// None arrived before the deadline.
    TimedOut,
    /// None is left and none will come.
    Closed,
}

impl AckQueue {
    pub fn with_capacity(capacity: usize) -> AckQueue {
        AckQueue {
            inner: Mutex::new(Inner { events: VecDeque::with_capacity(capacity), sleepers: 0, closed: false }),
            ready: Condvar::new(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Appends one frame's outcomes. Never grows the storage: each entry holds
    /// a tracking slot, and there are no more entries than slots.
    pub fn push(&self, events: &[AckEvent]) {
        let mut inner = self.lock();
        inner.events.extend(events.iter().copied());
        if inner.sleepers > 0 {
            self.ready.notify_one();
        }
    }

    /// Moves up to `out.len()` events into `out`, waiting until `deadline`
    /// for the first. `then` runs on the drained events after the lock is
    /// dropped (it releases their slots).
    pub fn drain(&self, out: &mut [AckEvent], deadline: Instant, then: impl FnOnce(&[AckEvent])) -> Drained {
        let mut inner = self.lock();
        while inner.events.is_empty() {
            if inner.closed {
                return Drained::Closed;
            }
            let now = Instant::now();
            if now >= deadline || out.is_empty() {
                return Drained::TimedOut;
            }
            inner.sleepers += 1;
            inner = self.ready.wait_timeout(inner, deadline - now).unwrap_or_else(|e| e.into_inner()).0;
            inner.sleepers -= 1;
        }
        let n = out.len().min(inner.events.len());
        for (slot, event) in out.iter_mut().zip(inner.events.drain(..n)) {
            *slot = event;
        }
        // More left and another poller asleep: pass the baton.
        if !inner.events.is_empty() && inner.sleepers > 0 {
            self.ready.notify_one();
        }
        drop(inner);
        then(&out[..n]);
        Drained::Some(n)
    }

    /// Events waiting to be drained.
    pub fn len(&self) -> usize {
        self.lock().events.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// No more pushes will come: pollers finding it empty return `Closed`.
    pub fn close(&self) {
        self.lock().closed = true;
        self.ready.notify_all();
    }
}
