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

pub use crate::tracking::Completion;

use crate::error::Result;
use std::time::{Duration, Instant};

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

    /// The collector is closing and gives the sink until `deadline`: from
    /// then on, a frame the sink would have to wait for (room in a full
    /// queue, a broker) should be reported failed at once. Called before
    /// the flush threads hand over their last frames.
    fn closing(&self, _deadline: Instant) {}

    /// The collector has stopped waiting (close's `flush` timed out): report
    /// every frame not yet reported as failed, and return once that is
    /// done or `deadline` (a short margin) has passed.
    fn abandon(&self, _deadline: Instant) {}

    /// Client-level errors seen so far (not tied to a frame, e.g. "all
    /// brokers down") and the last one's message.
    fn errors(&self) -> (u64, Option<String>) {
        (0, None)
    }

    /// Bytes sent to the destination so far, after framing, batching and
    /// compression, when the sink knows them: the Kafka sink reports
    /// librdkafka's `tx_bytes` from its latest statistics, so only with
    /// `kafka.statistics.interval.ms` set, and as of that report.
    fn wire_bytes(&self) -> Option<u64> {
        None
    }

    /// A short name for status and errors.
    fn name(&self) -> &'static str;
}
