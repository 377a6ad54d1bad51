//! Acknowledged submits, all in one place: the tracking slots and their
//! tickets, waiting, the completion queue and ack callback, the accounting of
//! delivered and failed events, and [`Completion`], the one narrow interface
//! through which sinks report outcomes.
//!
//! A tracked event carries its slot number through the ring (a 4-byte tag),
//! the flush thread notes the event's index in its frame, and the frame's
//! [`Completion`] settles the slot. The outcome is then *reported*: handed to
//! the ack callback (if one is set) and pushed to the completion queue (if
//! `tracking.queue` is on). A slot returns to the free list exactly once,
//! when its outcome has been reported: at once without a queue, when drained
//! with one. Nobody has to wait for a ticket, so callers that hang up leak
//! nothing. A settled slot keeps its outcome until it is reissued (the free
//! list is FIFO, so that is as late as possible), and `wait` answers from
//! it; after the reissue, the old ticket is answered as expired.
//!
//! Fire-and-forget submits never touch any of this.

mod accounting;
mod completion;
pub mod queue;
pub mod slots;

pub use accounting::Accounting;
pub use completion::Completion;
pub use queue::AckEvent;
pub use slots::Ack;

use crate::error::{Code, Error, Result};
use crossbeam_queue::ArrayQueue;
use queue::{AckQueue, Drained};
use slots::{Look, Slots, DELIVERED};
use std::cell::RefCell;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Receives the outcomes of tracked events, a frame's worth at a time, on
/// the thread that learned them (a flush thread, or the Kafka client's
/// delivery thread). It must be quick and must not call back into the
/// collector's blocking functions.
pub type AckCallback = Arc<dyn Fn(&[AckEvent]) + Send + Sync>;

/// How a tracker reports outcomes.
#[derive(Clone, Default)]
pub struct Reporting {
    /// Keep outcomes in a completion queue until drained.
    pub queue: bool,
    /// Hand outcomes to this function as they are learned.
    pub callback: Option<AckCallback>,
}

/// The outcome of a tracked event, once known.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Pending,
    Delivered(Ack),
    Failed,
}

pub struct Tracker {
    slots: Slots,
    /// Slots free to issue, oldest released first.
    free: ArrayQueue<u32>,
    queue: Option<AckQueue>,
    callback: Option<AckCallback>,
    in_use: AtomicU64,
    high_water: AtomicU64,
    /// The message of the last failed delivery, for `wait`'s error.
    last_failure: Mutex<Option<String>>,
}

thread_local! {
    /// Scratch for one frame's reports, so reporting does not allocate per frame.
    static REPORT: RefCell<Vec<AckEvent>> = const { RefCell::new(Vec::new()) };
}

impl Tracker {
    pub fn new(slots: usize, reporting: Reporting) -> Tracker {
        let free = ArrayQueue::new(slots.max(1));
        for slot in 0..slots as u32 {
            let _ = free.push(slot);
        }
        Tracker {
            slots: Slots::new(slots),
            free,
            queue: reporting.queue.then(|| AckQueue::with_capacity(slots)),
            callback: reporting.callback,
            in_use: AtomicU64::new(0),
            high_water: AtomicU64::new(0),
            last_failure: Mutex::new(None),
        }
    }

    /// Takes a free slot and issues a ticket on it; returns (slot, ticket).
    pub fn acquire(&self) -> Result<(u32, u64)> {
        let Some(slot) = self.free.pop() else { return Err(self.exhausted()) };
        let in_use = self.in_use.fetch_add(1, Ordering::Relaxed) + 1;
        self.high_water.fetch_max(in_use, Ordering::Relaxed);
        Ok((slot, self.slots.issue(slot)))
    }

    #[cold]
    fn exhausted(&self) -> Error {
        let why = if self.queue.is_some() {
            "events awaiting acknowledgement or outcomes not yet drained with mb_collector_poll_acks"
        } else {
            "events awaiting acknowledgement"
        };
        Error::new(
            Code::MB_ERR_TRACKING_FULL,
            format!("all {} tracking slots hold {why}; raise tracking.slots or submit fire-and-forget", self.slots.len()),
        )
    }

    /// Returns a slot whose event never made it into a ring (its ticket was
    /// never handed out).
    pub fn unissue(&self, slot: u32) {
        self.release(slot);
    }

    /// Returns a slot to the free list; called exactly once per issue.
    fn release(&self, slot: u32) {
        self.in_use.fetch_sub(1, Ordering::Relaxed);
        let pushed = self.free.push(slot);
        debug_assert!(pushed.is_ok(), "slot {slot} released twice");
    }

    /// Notes the event's index in its frame (flush thread).
    pub fn set_index(&self, slot: u32, index: u32) {
        self.slots.set_index(slot, index);
    }

    /// Settles the tracked events of one frame, or one event of it (`index`
    /// overrides the frame index in record mode), and reports them.
    /// `tracked` holds (index in frame, slot) pairs; `position` is where the
    /// frame landed, None if it failed with `failure`.
    pub(crate) fn settle(
        &self,
        tracked: &[(u32, u32)],
        position: Option<(i32, i64)>,
        index: Option<u32>,
        failure: Option<&Error>,
    ) {
        if tracked.is_empty() {
            return;
        }
        if let Some(e) = failure {
            *self.last_failure.lock().unwrap_or_else(|e| e.into_inner()) = Some(e.message().to_string());
        }
        let needs_report = self.callback.is_some() || self.queue.is_some();
        REPORT.with(|scratch| {
            let mut report = scratch.borrow_mut();
            report.clear();
            for &(frame_index, slot) in tracked {
                let (ticket, state) = self.slots.settle(slot, position, index);
                if needs_report {
                    let (partition, offset) = position.unwrap_or((-1, -1));
                    report.push(AckEvent {
                        ticket,
                        result: if state == DELIVERED { Code::MB_OK } else { Code::MB_ERR_DELIVERY },
                        partition,
                        offset,
                        index: index.unwrap_or(frame_index),
                        reserved: 0,
                    });
                } else {
                    self.release(slot);
                }
            }
            if let Some(callback) = &self.callback {
                // A panicking Rust callback must not take the sink's thread
                // (or the outcome of the other events) with it.
                let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| callback(&report)));
            }
            match &self.queue {
                Some(queue) => queue.push(&report),
                None if needs_report => report.iter().for_each(|e| self.release(e.ticket as u32)),
                None => {}
            }
        });
    }

    /// What is known of `ticket` now. Asking never consumes the answer.
    pub fn poll(&self, ticket: u64) -> Result<Outcome> {
        self.answer(ticket, self.slots.look(ticket))
    }

    /// Waits until `ticket` is settled or `timeout` passes. Any number of
    /// threads may wait for the same ticket; only they are woken when it
    /// settles.
    pub fn wait(&self, ticket: u64, timeout: Duration) -> Result<Ack> {
        let look = self.slots.wait(ticket, Instant::now() + timeout);
        match self.answer(ticket, look)? {
            Outcome::Delivered(ack) => Ok(ack),
            Outcome::Failed => Err(Error::new(
                Code::MB_ERR_DELIVERY,
                self.last_failure
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .clone()
                    .unwrap_or_else(|| "delivery failed".into()),
            )),
            Outcome::Pending => Err(Error::new(
                Code::MB_ERR_TIMEOUT,
                format!("ticket {ticket} not acknowledged within {} ms; it stays valid: wait again", timeout.as_millis()),
            )),
        }
    }

    fn answer(&self, ticket: u64, look: Look) -> Result<Outcome> {
        match look {
            Look::Pending => Ok(Outcome::Pending),
            Look::Delivered(ack) => Ok(Outcome::Delivered(ack)),
            Look::Failed => Ok(Outcome::Failed),
            Look::Expired => Err(Error::new(
                Code::MB_ERR_UNKNOWN_TICKET,
                format!(
                    "ticket {ticket} expired: its outcome was reported and its slot has since been reused \
                     (outcomes are kept until then; collect them sooner, or raise tracking.slots)"
                ),
            )),
            Look::Unknown => Err(Error::new(
                Code::MB_ERR_UNKNOWN_TICKET,
                format!("ticket {ticket} was never issued by this collector"),
            )),
        }
    }

    /// Moves up to `out.len()` outcomes from the completion queue into `out`,
    /// waiting up to `timeout` for the first; returns how many. Ok(0) means
    /// none came in time; MB_ERR_CLOSED means none is left and none will
    /// come (the collector has closed). The drained events' slots are free
    /// again when this returns.
    pub fn poll_acks(&self, out: &mut [AckEvent], timeout: Duration) -> Result<usize> {
        let Some(queue) = &self.queue else {
            return Err(Error::invalid_config(
                "the completion queue is off: set tracking.queue=true to drain outcomes with mb_collector_poll_acks",
            ));
        };
        let deadline = Instant::now().checked_add(timeout).unwrap_or_else(|| Instant::now() + Duration::from_secs(1 << 32));
        match queue.drain(out, deadline, |drained| drained.iter().for_each(|e| self.release(e.ticket as u32))) {
            Drained::Some(n) => Ok(n),
            Drained::TimedOut => Ok(0),
            Drained::Closed => Err(Error::new(Code::MB_ERR_CLOSED, "the collector is closed and every outcome has been drained")),
        }
    }

    /// No more outcomes will be settled (the collector has finished closing):
    /// pollers that find the queue empty get MB_ERR_CLOSED.
    pub fn close(&self) {
        if let Some(queue) = &self.queue {
            queue.close();
        }
    }

    /// Whether outcomes are queued for `poll_acks`.
    pub fn has_queue(&self) -> bool {
        self.queue.is_some()
    }

    /// Slots issued and not yet released (awaiting acknowledgement, or
    /// reported to a queue and not yet drained).
    pub fn in_use(&self) -> u64 {
        self.in_use.load(Ordering::Relaxed)
    }

    /// The most slots ever in use at once.
    pub fn high_water(&self) -> u64 {
        self.high_water.load(Ordering::Relaxed)
    }

    pub fn capacity(&self) -> usize {
        self.slots.len()
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    fn delivered(tracker: &Tracker, slots: &[u32], at: (i32, i64)) {
        let tracked: Vec<(u32, u32)> = slots.iter().enumerate().map(|(i, &s)| (i as u32, s)).collect();
        tracker.settle(&tracked, Some(at), None, None);
    }

    #[test]
    fn without_a_queue_a_slot_is_free_once_settled() {
        let tracker = Tracker::new(2, Reporting::default());
        let (s1, t1) = tracker.acquire().unwrap();
        let (s2, _) = tracker.acquire().unwrap();
        assert_eq!(tracker.acquire().unwrap_err().code(), Code::MB_ERR_TRACKING_FULL);
        delivered(&tracker, &[s1, s2], (0, 5));
        assert_eq!(tracker.in_use(), 0);
        assert_eq!(tracker.high_water(), 2);
        // Nobody waited, yet the answer is still there until the slot is reused.
        assert_eq!(tracker.wait(t1, Duration::ZERO).unwrap(), Ack { partition: 0, offset: 5, index: 0 });
        assert_eq!(tracker.wait(t1, Duration::ZERO).unwrap(), Ack { partition: 0, offset: 5, index: 0 });
        let (_, _) = tracker.acquire().unwrap(); // reuses s1 (FIFO: released first)
        let err = tracker.wait(t1, Duration::ZERO).unwrap_err();
        assert_eq!(err.code(), Code::MB_ERR_UNKNOWN_TICKET);
        assert!(err.message().contains("expired"), "{}", err.message());
    }

    #[test]
    fn with_a_queue_a_slot_is_free_once_drained() {
        let tracker = Tracker::new(2, Reporting { queue: true, callback: None });
        let (s1, t1) = tracker.acquire().unwrap();
        tracker.settle(&[(4, s1)], None, None, Some(&Error::new(Code::MB_ERR_DELIVERY, "broker said no")));
        assert_eq!(tracker.in_use(), 1, "held until drained");
        let mut out = [AckEvent::EMPTY; 4];
        assert_eq!(tracker.poll_acks(&mut out, Duration::ZERO).unwrap(), 1);
        assert_eq!(out[0].ticket, t1);
        assert_eq!(out[0].result, Code::MB_ERR_DELIVERY);
        assert_eq!(out[0].index, 4);
        assert_eq!(tracker.in_use(), 0);
        assert_eq!(tracker.poll_acks(&mut out, Duration::from_millis(5)).unwrap(), 0);
        let err = tracker.wait(t1, Duration::ZERO).unwrap_err();
        assert_eq!(err.code(), Code::MB_ERR_DELIVERY);
        assert!(err.message().contains("broker said no"));
        tracker.close();
        assert_eq!(tracker.poll_acks(&mut out, Duration::from_secs(5)).unwrap_err().code(), Code::MB_ERR_CLOSED);
    }

    #[test]
    fn the_callback_sees_each_outcome_once() {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let sink = seen.clone();
        let callback: AckCallback = Arc::new(move |events: &[AckEvent]| sink.lock().unwrap().extend_from_slice(events));
        let tracker = Tracker::new(8, Reporting { queue: false, callback: Some(callback) });
        let issued: Vec<(u32, u64)> = (0..5).map(|_| tracker.acquire().unwrap()).collect();
        delivered(&tracker, &issued.iter().map(|&(s, _)| s).collect::<Vec<_>>(), (2, 77));
        let seen = seen.lock().unwrap();
        assert_eq!(seen.iter().map(|e| e.ticket).collect::<Vec<_>>(), issued.iter().map(|&(_, t)| t).collect::<Vec<_>>());
        assert!(seen.iter().enumerate().all(|(i, e)| e.index == i as u32 && e.offset == 77 && e.result == Code::MB_OK));
        assert_eq!(tracker.in_use(), 0);
    }
}
