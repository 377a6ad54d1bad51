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
pub(crate) mod ledger;
pub mod queue;
pub mod slots;

pub use accounting::Accounting;
pub use completion::Completion;
pub use queue::AckEvent;
pub use slots::Ack;

use crate::error::{Code, Error, Result};
use crossbeam_utils::CachePadded;
use queue::{AckQueue, Drained};
use slots::{Look, Slots, DELIVERED};
use std::cell::{RefCell, UnsafeCell};
use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
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

/// Most free slots a partition keeps at hand (see [`SlotCache`]).
const CACHE_MAX: usize = 64;

/// Free slots taken from the shared free list in one batch, for one
/// partition's submitters, which hold that partition's gate while they
/// issue tickets: a tracked submit then takes a slot with no atomic
/// read-modify-write and no shared cache line, and the shared list is
/// locked once per batch. Used with SPSC rings, whose gate is exclusive.
struct SlotCache {
    slots: UnsafeCell<[u32; CACHE_MAX]>,
    /// Next slot to issue and end of the batch (`next..end` are at hand).
    next: UnsafeCell<usize>,
    end: UnsafeCell<usize>,
    /// `end - next`, for `in_use` on other threads.
    held: AtomicUsize,
}

// SAFETY: the cells are only touched by the holder of the partition's
// exclusive SPSC gate (the contract of `Tracker::acquire_in`), one thread at
// a time, and each holder's writes reach the next through the gate's
// Release exit and Acquire entry; `held` is atomic.
unsafe impl Sync for SlotCache {}

impl SlotCache {
    fn new() -> SlotCache {
        SlotCache {
            slots: UnsafeCell::new([0; CACHE_MAX]),
            next: UnsafeCell::new(0),
            end: UnsafeCell::new(0),
            held: AtomicUsize::new(0),
        }
    }
}

pub struct Tracker {
    slots: Slots,
    /// Slots free to issue, oldest released first, so a released slot (and
    /// the outcome it keeps for late waiters) is reissued as late as possible.
    free: Mutex<VecDeque<u32>>,
    /// Per-partition batches taken from `free` (see [`SlotCache`]).
    caches: Box<[CachePadded<SlotCache>]>,
    /// Slots per batch: small enough that the batches at hand can strand at
    /// most an eighth of the slots.
    batch: usize,
    queue: Option<AckQueue>,
    callback: Option<AckCallback>,
    /// The most slots in use at once, as of the last release. Slots in use
    /// only grow between releases, so the peak is always seen just before
    /// one (or now): recording it there keeps atomics off the acquire path.
    high_water: AtomicU64,
    /// The message of the last failed delivery, for `wait`'s error.
    last_failure: Mutex<Option<String>>,
}

thread_local! {
    /// Scratch for one frame's reports, so reporting does not allocate per frame.
    static REPORT: RefCell<Vec<AckEvent>> = const { RefCell::new(Vec::new()) };
}

impl Tracker {
    /// A tracker of `slots` slots for a collector of `partitions` partitions.
    pub fn new(slots: usize, partitions: usize, reporting: Reporting) -> Tracker {
        let partitions = partitions.max(1);
        Tracker {
            slots: Slots::new(slots),
            free: Mutex::new((0..slots as u32).collect()),
            caches: (0..partitions).map(|_| CachePadded::new(SlotCache::new())).collect(),
            batch: (slots / (8 * partitions)).clamp(1, CACHE_MAX),
            queue: reporting.queue.then(|| AckQueue::with_capacity(slots)),
            callback: reporting.callback,
            high_water: AtomicU64::new(0),
            last_failure: Mutex::new(None),
        }
    }

    fn free_list(&self) -> std::sync::MutexGuard<'_, VecDeque<u32>> {
        self.free.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Takes a free slot and issues a ticket on it; returns (slot, ticket).
    pub fn acquire(&self) -> Result<(u32, u64)> {
        let Some(slot) = self.free_list().pop_front() else { return Err(self.exhausted()) };
        Ok((slot, self.slots.issue(slot)))
    }

    /// `acquire` from partition `p`'s batch, refilled from the shared list
    /// when empty.
    ///
    /// # Safety
    /// The caller holds partition `p`'s exclusive (SPSC) gate, so no other
    /// thread touches that partition's batch; `p` < partitions.
    pub unsafe fn acquire_in(&self, p: usize) -> Result<(u32, u64)> {
        let cache = &self.caches[p];
        // SAFETY: the caller holds partition `p`'s exclusive gate (contract),
        // so no other reference to this batch's cells exists while these
        // borrows live (they end with this call).
        let (next, end) = unsafe { (&mut *cache.next.get(), &mut *cache.end.get()) };
        if *next == *end {
            let mut free = self.free_list();
            let n = free.len().min(self.batch);
            if n == 0 {
                drop(free);
                return Err(self.exhausted());
            }
            // SAFETY: as above; the only borrow of the batch's slots.
            let batch = unsafe { &mut *cache.slots.get() };
            for (dst, src) in batch.iter_mut().zip(free.drain(..n)) {
                *dst = src;
            }
            (*next, *end) = (0, n);
        }
        // SAFETY: as above; `batch`, if taken, is no longer used.
        let slot = unsafe { (*cache.slots.get())[*next] };
        *next += 1;
        // Relaxed: only read by `in_use`, a snapshot.
        cache.held.store(*end - *next, Ordering::Relaxed);
        Ok((slot, self.slots.issue(slot)))
    }

    #[cold]
    fn exhausted(&self) -> Error {
        self.note_high_water();
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
        self.note_high_water();
        self.release(slot);
    }

    /// Returns a slot to the free list; called exactly once per issue, after
    /// `note_high_water` for its batch.
    fn release(&self, slot: u32) {
        self.release_all(std::iter::once(slot));
    }

    /// Returns slots to the free list under one lock.
    fn release_all(&self, slots: impl IntoIterator<Item = u32>) {
        let mut free = self.free_list();
        free.extend(slots);
        debug_assert!(free.len() <= self.slots.len(), "a slot was released twice");
    }

    /// Records the slots in use now as the high-water mark if higher; called
    /// before each batch of releases (see `high_water`).
    fn note_high_water(&self) {
        let in_use = self.in_use();
        if in_use > self.high_water.load(Ordering::Relaxed) {
            self.high_water.fetch_max(in_use, Ordering::Relaxed);
        }
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
        if !needs_report {
            self.note_high_water();
        }
        REPORT.with(|scratch| {
            let mut report = scratch.borrow_mut();
            report.clear();
            for &(frame_index, slot) in tracked {
                let (ticket, state) = self.slots.settle(slot, position, index);
                // Without a report to make, the outcome is reported once it
                // is in the slot: the slot goes back below, in one batch.
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
                }
            }
            if !needs_report {
                self.release_all(tracked.iter().map(|&(_, slot)| slot));
            }
            if let Some(callback) = &self.callback {
                // A panicking Rust callback must not take the sink's thread
                // (or the outcome of the other events) with it.
                let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| callback(&report)));
            }
            match &self.queue {
                Some(queue) => queue.push(&report),
                None if needs_report => {
                    self.note_high_water();
                    self.release_all(report.iter().map(|e| e.ticket as u32))
                }
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
        let release = |drained: &[AckEvent]| {
            self.note_high_water();
            self.release_all(drained.iter().map(|e| e.ticket as u32))
        };
        match queue.drain(out, deadline, release) {
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
        let at_hand: usize = self.caches.iter().map(|c| c.held.load(Ordering::Relaxed)).sum();
        self.slots.len().saturating_sub(self.free_list().len() + at_hand) as u64
    }

    /// The most slots ever in use at once.
    pub fn high_water(&self) -> u64 {
        self.high_water.load(Ordering::Relaxed).max(self.in_use())
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
        let tracker = Tracker::new(2, 1, Reporting::default());
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
        let tracker = Tracker::new(2, 1, Reporting { queue: true, callback: None });
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
        let tracker = Tracker::new(8, 1, Reporting { queue: false, callback: Some(callback) });
        let issued: Vec<(u32, u64)> = (0..5).map(|_| tracker.acquire().unwrap()).collect();
        delivered(&tracker, &issued.iter().map(|&(s, _)| s).collect::<Vec<_>>(), (2, 77));
        let seen = seen.lock().unwrap();
        assert_eq!(seen.iter().map(|e| e.ticket).collect::<Vec<_>>(), issued.iter().map(|&(_, t)| t).collect::<Vec<_>>());
        assert!(seen.iter().enumerate().all(|(i, e)| e.index == i as u32 && e.offset == 77 && e.result == Code::MB_OK));
        assert_eq!(tracker.in_use(), 0);
    }
}
