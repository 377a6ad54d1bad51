//! microbatch: adaptive microbatching for Kafka.
//!
//! Many threads [`Collector::submit`] small events; they land in
//! pre-allocated lock-free rings (one per partition), and flush threads send
//! them on in frames of N events, or once the oldest has waited T. N and T
//! follow one of ten [`pressure`] levels chosen from the observed event rate.
//!
//! Layout, one module per concept:
//! * [`pressure`]: the ten levels, their budgets and rate bands, the rate meter.
//! * [`ring`]: the SPSC and MPSC byte rings.
//! * [`collector`]: partitions, gates, flush threads and the flush rule.
//! * [`frame`]: the batch frame format (encoder and decoder).
//! * [`sink`]: where frames go (Kafka, null, C callback).
//! * [`config`]: string keys, validated at set time.
//! * [`tracking`]: acknowledged submits: tickets, waiting, the completion
//!   queue, delivery accounting, and the sinks' [`sink::Completion`].
//! * [`calibration`]: learning the best (N, T) per level, kept in SQLite.
//! * [`handle`]: stale-safe handles for foreign callers.
//! * `ffi`: the C ABI (`include/microbatch.h`), a thin layer over the above.
//! * `jni`: the Java bridge (`NativeBridge`'s native methods), as thin.
//!
//! Unsafe code is held to one standard everywhere: every unsafe operation,
//! also inside an `unsafe fn`, sits in its own `unsafe` block, and every
//! block and `unsafe impl` carries a `SAFETY:` comment saying why it is
//! sound (the ring protocols, the gate's exclusivity, the C and Java
//! callers' pointer contracts); every public `unsafe fn` has a `# Safety`
//! section. The lints below enforce it (clippy's in `scripts/test.sh`).

#![deny(unsafe_op_in_unsafe_fn, clippy::undocumented_unsafe_blocks, clippy::missing_safety_doc)]

pub mod calibration;
pub mod collector;
pub mod config;
pub mod error;
pub mod frame;
pub mod handle;
pub mod pressure;
pub mod ring;
pub mod sink;
pub mod tracking;
mod sync;

pub mod ffi;
#[cfg(feature = "jni")]
mod jni;

pub use collector::{Collector, Status, CLOSE_MARGIN};
pub use config::Config;
pub use error::{Code, Error, Result};
pub use pressure::PressureLevel;
