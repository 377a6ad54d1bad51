//! Where flushed frames go. A sink receives each encoded frame together with a
//! [`Completion`] and reports the frame's outcome through it, now (null,
//! callback) or later from another thread (Kafka delivery reports).

pub mod callback;
pub mod kafka;
pub mod null;

pub use callback::{CallbackSink, FrameCallback};
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
    done: bool,
}

impl Completion {
    pub(crate) fn new(accounting: Arc<Accounting>, events: u32, source: u32) -> Completion {
        Completion { accounting, events: events as u64, source, done: false }
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

    /// The frame's events reached their destination.
    pub fn delivered(mut self) {
        self.done = true;
        self.accounting.complete(self.events, Ok(()));
    }

    /// The frame's events could not be delivered.
    pub fn failed(mut self, error: Error) {
        self.done = true;
        self.accounting.complete(self.events, Err(error));
    }

    /// `failed` of the frame's events could not be delivered, the rest were.
    pub fn partially(mut self, failed: u64, error: Option<Error>) {
        self.done = true;
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
            self.accounting.complete(
                self.events,
                Err(Error::new(crate::error::Code::MB_ERR_INTERNAL, "sink dropped a frame without reporting it")),
            );
        }
    }
}
