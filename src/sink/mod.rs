//! Where flushed frames go. A sink receives each encoded frame together with a
//! [`Completion`] and reports the frame's outcome through it, now (null,
//! callback) or later from another thread (Kafka delivery reports).

pub mod callback;
#[cfg(feature = "kafka")]
pub mod kafka;
pub mod null;

pub use callback::{CallbackSink, FrameCallback};
#[cfg(feature = "kafka")]
pub use kafka::KafkaSink;
pub use null::NullSink;

use crate::error::{Error, Result};
use crate::stats::Accounting;
use std::sync::Arc;
use std::time::Duration;

/// A destination for frames.
pub trait Sink: Send + Sync + 'static {
    /// Takes one encoded frame of `events` events. The sink must eventually
    /// call [`Completion::delivered`] or [`Completion::failed`]; a completion
    /// dropped without either counts its events as failed, so no event can
    /// vanish from the accounting.
    fn send(&self, frame: &[u8], events: u32, completion: Completion);

    /// Blocks until every frame passed to `send` has been completed, or the
    /// timeout passes. Synchronous sinks have nothing to wait for.
    fn flush(&self, _timeout: Duration) -> Result<()> {
        Ok(())
    }

    /// Client-level errors seen so far (not tied to a frame, e.g. "all
    /// brokers down") and the last one's message.
    fn errors(&self) -> (u64, Option<String>) {
        (0, None)
    }

    /// A short name for status and errors.
    fn name(&self) -> &'static str;
}

/// The obligation to report one frame's outcome.
pub struct Completion {
    accounting: Arc<Accounting>,
    events: u64,
    source: u32,
    /// (index in frame, tracking slot) of the frame's tracked events, by index.
    tracked: Vec<(u32, u32)>,
    done: bool,
}

impl Completion {
    pub(crate) fn new(accounting: Arc<Accounting>, events: u32, source: u32, tracked: Vec<(u32, u32)>) -> Completion {
        Completion { accounting, events: events as u64, source, tracked, done: false }
    }

    /// Settles every tracked event of the frame that is still open.
    fn settle_tracked(&mut self, position: Option<(i32, i64)>) {
        for &(_, slot) in &self.tracked {
            self.accounting.tracker.complete(slot, position, None);
        }
        self.tracked.clear();
    }

    /// Record mode: the event at `index` was delivered at `position` (or
    /// failed, with None). Only tracked events need this; counts are settled
    /// by `partially` once the whole frame is done.
    pub fn event_outcome(&self, index: u32, position: Option<(i32, i64)>) {
        if let Ok(i) = self.tracked.binary_search_by_key(&index, |&(idx, _)| idx) {
            self.accounting.tracker.complete(self.tracked[i].1, position, Some(0));
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
        self.settle_tracked(Some((partition, offset)));
        self.accounting.complete(self.events, Ok(()));
    }

    /// The frame's events could not be delivered.
    pub fn failed(mut self, error: Error) {
        self.done = true;
        self.settle_tracked(None);
        self.accounting.complete(self.events, Err(error));
    }

    /// `failed` of the frame's events could not be delivered, the rest were.
    /// Tracked events must have been settled with `event_outcome`.
    pub fn partially(mut self, failed: u64, error: Option<Error>) {
        self.done = true;
        self.tracked.clear();
        let failed = failed.min(self.events);
        if self.events > failed {
            self.accounting.complete(self.events - failed, Ok(()));
        }
        if failed > 0 {
            let error = error.unwrap_or_else(|| Error::new(crate::error::Code::MB_ERR_DELIVERY, "delivery failed"));
            self.accounting.complete(failed, Err(error));
        }
    }
}

impl Drop for Completion {
    fn drop(&mut self) {
        if !self.done {
            self.settle_tracked(None);
            self.accounting.complete(
                self.events,
                Err(Error::new(crate::error::Code::MB_ERR_INTERNAL, "sink dropped a frame without reporting it")),
            );
        }
    }
}
