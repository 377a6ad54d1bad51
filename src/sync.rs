//! Atomics and threads, swapped for loom's under `--cfg loom` so the model
//! checker explores every interleaving of the ring protocols.

#[cfg(loom)]
pub use loom::sync::atomic::{AtomicU32, AtomicU64, AtomicUsize, Ordering};

#[cfg(not(loom))]
pub use std::sync::atomic::{AtomicU32, AtomicU64, AtomicUsize, Ordering};
