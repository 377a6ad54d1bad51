//! [`Completion`]: how a sink reports one frame's outcome. The only way
//! outcomes enter the accounting and the tracking slots, so every sink
//! (Kafka, null, callback, any Rust sink) reports the same way.

use super::ledger::Mark;
use super::Accounting;
use crate::collector::SendWatch;
use crate::error::{Code, Error};
use std::sync::Arc;

/// The obligation to report one frame's outcome. Dropped without a report,
/// it counts the frame's events as failed, so no event can vanish from the
/// accounting.
pub struct Completion {
    accounting: Arc<Accounting>,
    events: u64,
    source: u32,
    /// (index in frame, tracking slot) of the frame's tracked events, by index.
    tracked: Vec<(u32, u32)>,
    /// The collector's send watch and the stamp of the frame's oldest
    /// event: the outcome ends the frame's flight and, if delivered, records
    /// its wait to acknowledgement.
    watch: Option<(Arc<SendWatch>, u32)>,
    /// The frame's places in the partitions' ledgers (see `ledger`).
    marks: Marks,
    done: bool,
}

/// An SPSC frame holds one partition's events; an MPSC frame may hold
/// several partitions' (its flush thread drains them all into it). Inline
/// for the common single-partition frame, so that costs no allocation.
enum Marks {
    None,
    One(Mark),
    Many(Vec<Mark>),
}

impl Completion {
    pub(crate) fn new(accounting: Arc<Accounting>, events: u32, source: u32, tracked: Vec<(u32, u32)>) -> Completion {
        Completion { accounting, events: events as u64, source, tracked, watch: None, marks: Marks::None, done: false }
    }

    /// Registers the frame in partition `partition`'s ledger as holding its
    /// events up to position `mark` (see `ledger`). Before the sink sees
    /// the frame, by the partition's flush thread, in mark order.
    pub(crate) fn mark(&mut self, partition: usize, mark: u64) {
        let m = self.accounting.ledger.sent(partition, mark);
        self.marks = match std::mem::replace(&mut self.marks, Marks::None) {
            Marks::None => Marks::One(m),
            Marks::One(first) => Marks::Many(vec![first, m]),
            Marks::Many(mut all) => {
                all.push(m);
                Marks::Many(all)
            }
        };
    }

    /// Marks the frame reported in the ledgers: after its counts, before
    /// flush waiters are notified.
    fn end_marks(&mut self) {
        let ledger = &self.accounting.ledger;
        match std::mem::replace(&mut self.marks, Marks::None) {
            Marks::None => {}
            Marks::One(m) => ledger.reported(m),
            Marks::Many(all) => all.into_iter().for_each(|m| ledger.reported(m)),
        }
    }

    /// Reports the outcome to `watch` too; `stamp` is the enqueue stamp of
    /// the frame's oldest event.
    pub(crate) fn watched(mut self, watch: Arc<SendWatch>, stamp: u32) -> Completion {
        watch.sent(self.source);
        self.watch = Some((watch, stamp));
        self
    }

    fn end_watch(&mut self, delivered: u64) {
        if let Some((watch, stamp)) = self.watch.take() {
            watch.done(self.source, stamp, delivered);
        }
    }

    /// Settles every tracked event of the frame that is still open.
    fn settle_tracked(&mut self, position: Option<(i32, i64)>, failure: Option<&Error>) {
        self.accounting.tracker.settle(&self.tracked, position, None, failure);
        self.tracked.clear();
    }

    /// Record mode: the event at `index` was delivered at `position` (or
    /// failed, with None). Only tracked events need this; counts are settled
    /// by `partially` once the whole frame is done. Each index is reported
    /// at most once.
    pub fn event_outcome(&self, index: u32, position: Option<(i32, i64)>, failure: Option<&Error>) {
        if let Ok(i) = self.tracked.binary_search_by_key(&index, |&(idx, _)| idx) {
            self.accounting.tracker.settle(&self.tracked[i..=i], position, Some(0), failure);
        }
    }

    /// Index of the flush thread that built the frame: frames of one source
    /// carry one set of partitions, in order.
    pub fn source(&self) -> u32 {
        self.source
    }

    /// Number of events in the frame.
    pub fn events(&self) -> u64 {
        self.events
    }

    /// The frame's events reached their destination (no position known).
    pub fn delivered(self) {
        self.delivered_at(-1, -1)
    }

    /// The frame was stored as one record at (partition, offset).
    pub fn delivered_at(mut self, partition: i32, offset: i64) {
        self.done = true;
        // The wait is recorded before anyone can see the events delivered.
        self.end_watch(self.events);
        self.accounting.count(self.events, Ok(()));
        self.settle_tracked(Some((partition, offset)), None);
        self.end_marks();
        self.accounting.notify();
    }

    /// The frame's events could not be delivered.
    pub fn failed(mut self, error: Error) {
        self.done = true;
        self.end_watch(0);
        self.accounting.count(self.events, Err(error.clone()));
        self.settle_tracked(None, Some(&error));
        self.end_marks();
        self.accounting.notify();
    }

    /// `failed` of the frame's events could not be delivered, the rest were.
    /// Tracked events must have been settled with `event_outcome`.
    pub fn partially(mut self, failed: u64, error: Option<Error>) {
        self.done = true;
        self.tracked.clear();
        let failed = failed.min(self.events);
        self.end_watch(self.events - failed);
        if self.events > failed {
            self.accounting.count(self.events - failed, Ok(()));
        }
        if failed > 0 {
            let error = error.unwrap_or_else(|| Error::new(Code::MB_ERR_DELIVERY, "delivery failed"));
            self.accounting.count(failed, Err(error));
        }
        self.end_marks();
        self.accounting.notify();
    }
}

impl Drop for Completion {
    fn drop(&mut self) {
        if !self.done {
            let error = Error::new(Code::MB_ERR_INTERNAL, "sink dropped a frame without reporting it");
            self.end_watch(0);
            self.accounting.count(self.events, Err(error.clone()));
            self.settle_tracked(None, Some(&error));
            self.end_marks();
            self.accounting.notify();
        }
    }
}
