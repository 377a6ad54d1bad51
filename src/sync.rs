//! Atomics and threads, swapped for loom's under `--cfg loom` so the model
//! checker explores every interleaving of the ring, gate and tracking-slot
//! protocols.

#[cfg(loom)]
pub use loom::sync::atomic::{fence, AtomicI32, AtomicI64, AtomicU32, AtomicU64, AtomicUsize, Ordering};

#[cfg(not(loom))]
pub use std::sync::atomic::{fence, AtomicI32, AtomicI64, AtomicU32, AtomicU64, AtomicUsize, Ordering};
