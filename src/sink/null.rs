//! A sink that only counts: for measuring the collector without any I/O.

use super::{Completion, Sink};
use std::sync::atomic::{AtomicU64, Ordering};

#[derive(Default)]
pub struct NullSink {
    frames: AtomicU64,
    bytes: AtomicU64,
}

impl NullSink {
    pub fn frames(&self) -> u64 {
        self.frames.load(Ordering::Relaxed)
    }
    pub fn bytes(&self) -> u64 {
        self.bytes.load(Ordering::Relaxed)
    }
}

impl Sink for NullSink {
    fn send(&self, frame: &[u8], _events: u32, completion: Completion) {
        self.frames.fetch_add(1, Ordering::Relaxed);
        self.bytes.fetch_add(frame.len() as u64, Ordering::Relaxed);
        completion.delivered();
    }

    fn name(&self) -> &'static str {
        "null"
    }
}
