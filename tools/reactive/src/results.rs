//! `results.json`: what a brochure run measured, one entry per cell.
//!
//! The shape is a contract (reports, the comparison with the previous run and
//! anyone's scripts read it); change it only by adding optional fields, or by
//! raising `SCHEMA_VERSION`.

use serde::{Deserialize, Serialize};

/// Raised when a field changes meaning or disappears.
pub const SCHEMA_VERSION: u32 = 1;

/// One brochure run.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Results {
    pub schema_version: u32,
    /// The brochure's name (its file name without `.toml`).
    pub brochure: String,
    /// RFC 3339 UTC time the run started.
    pub started_at: String,
    /// `--quick` shortens warm-up and durations: figures are indicative only.
    pub quick: bool,
    pub environment: Environment,
    /// One entry per cell (variant x level or variant x step), in run order.
    pub runs: Vec<Run>,
    /// Per-interval samples of cells that asked for a timeline (mixed-load).
    #[serde(default)]
    pub timelines: Vec<Timeline>,
}

/// Where the figures come from.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Environment {
    /// `git rev-parse HEAD`, with `-dirty` when the tree has changes.
    pub commit: Option<String>,
    pub cpus: usize,
    pub os: String,
    /// `rustc --version`.
    pub rustc: Option<String>,
    /// `java -version`'s first line, when a Java cell ran.
    pub jdk: Option<String>,
    /// `mock` (each implementation's embedded default) or the bootstrap address.
    pub broker: String,
}

/// One cell: one variant at one level (or one step of a workload).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Run {
    /// `<variant>/<level or step>`, unique within the run.
    pub name: String,
    /// `rust` or `java`.
    #[serde(rename = "impl")]
    pub implementation: String,
    /// The variant's name in the brochure (`adaptive`, `bulk`, `linger-5ms`, ...).
    pub variant: String,
    /// `adaptive`, `bulk`, `fixed` or `producer` (see brochure.rs `Mode`).
    pub mode: String,
    /// The level the cell targets (`L5_HIGH`), or `auto`.
    pub level: String,
    /// The level's latency budget in microseconds, when the cell has one.
    pub budget_us: Option<u64>,
    pub event_bytes: u32,
    pub producers: u32,
    /// Events per second the schedule offered; None for "as fast as possible".
    pub offered_events_per_sec: Option<f64>,
    /// Events acknowledged per second over the measured part.
    pub achieved_events_per_sec: f64,
    pub mb_per_sec: f64,
    /// Bytes per second sent to the broker, after framing and compression,
    /// when the client reports it.
    pub wire_bytes_per_sec: Option<f64>,
    /// Process CPU (user + system) per million events, milliseconds.
    pub cpu_ms_per_million: Option<f64>,
    pub submitted: u64,
    pub delivered: u64,
    pub failed: u64,
    /// Submits refused (ring or tracking full after `submit.block.ms`).
    pub rejected: u64,
    /// Wait from the intended submit time to the acknowledgement, microseconds
    /// (coordinated omission corrected when the load is scheduled).
    pub latency: Latency,
    /// Median lateness of the submitting threads against the schedule, µs
    /// (0 when the load is unscheduled).
    pub schedule_delay_p50_us: Option<f64>,
    /// p99 within the budget (true when the cell has no budget).
    pub budget_pass: bool,
    /// achieved / the same implementation's BULK cell at the same level.
    pub ratio_to_bulk: Option<f64>,
    /// The `.hgrm` percentile file, relative to the report folder.
    pub hgrm: Option<String>,
    /// Anything a reader must know (e.g. "Java against MockProducer").
    #[serde(default)]
    pub note: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Latency {
    pub p50_us: f64,
    pub p90_us: f64,
    pub p99_us: f64,
    pub p999_us: f64,
    pub p9999_us: f64,
    pub max_us: f64,
    /// Samples recorded.
    pub count: u64,
}

/// Per-interval samples of one cell, for the rate and p99 over time charts.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Timeline {
    /// The run's `name`.
    pub run: String,
    pub interval_ms: u64,
    pub points: Vec<TimelinePoint>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TimelinePoint {
    /// Seconds since the cell's measured part began.
    pub t_s: f64,
    pub offered_events_per_sec: Option<f64>,
    pub achieved_events_per_sec: f64,
    pub p99_us: f64,
    /// The level the collector ran at, when known.
    pub level: Option<u32>,
}
