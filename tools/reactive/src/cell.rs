//! One cell: one variant at one level (or over the workload's steps), what
//! it runs with, and how its measurements become a results.json entry.

use crate::brochure::{Impl, Mode, Variant};
use crate::load::{Counts, Load};
use crate::measure::Recorder;
use crate::mode::Resolved;
use crate::results::{Latency, Run, TimelinePoint};
use hdrhistogram::Histogram;
use microbatch::PressureLevel;
use std::path::PathBuf;

pub struct Cell {
    /// `<variant>/<level>` or `<variant>/steps`, unique in the brochure.
    pub name: String,
    pub variant: Variant,
    /// The level the cell aims at (its rate band), if any.
    pub level: Option<PressureLevel>,
    pub resolved: Resolved,
    pub load: Load,
    /// The constant offered rate, None when unscheduled or stepped.
    pub offered: Option<f64>,
    /// The measured steps as (events/s, seconds), when the workload has steps.
    pub steps: Vec<(f64, f64)>,
    pub timeline_ms: Option<u64>,
    /// Things a reader must know, joined into the run's note.
    pub notes: Vec<String>,
    /// Where the `.hgrm` file goes, and its name relative to the report.
    pub hgrm_path: PathBuf,
    pub hgrm_name: String,
}

impl Cell {
    pub fn implementation(&self) -> Impl {
        self.variant.implementation
    }

    /// Seconds the cell's load lasts (warm-up included), for the progress display.
    pub fn seconds(&self) -> f64 {
        self.load.end_s
    }

    pub fn level_name(&self) -> String {
        self.level.map_or_else(|| "auto".to_string(), |l| l.name().to_string())
    }

    pub fn mode_name(&self) -> &'static str {
        match self.variant.mode {
            Mode::Adaptive => "adaptive",
            Mode::Bulk => "bulk",
            Mode::Fixed => "fixed",
            Mode::Producer => "producer",
        }
    }
}

/// What an in-process cell measured.
pub struct Measured {
    pub run: Run,
    pub histogram: Histogram<u64>,
    pub timeline: Vec<TimelinePoint>,
}

/// The results.json entry of an in-process cell. `budget_pass` and
/// `ratio_to_bulk` are the report's to fill (`report::judge`).
pub fn entry(cell: &Cell, counts: &Counts, rec: &Recorder, cpu_ms: Option<f64>, wire_bytes: Option<f64>, mut notes: Vec<String>) -> Run {
    let measure_from_s = cell.load.measure_from_s;
    let last_s = rec.last_outcome_ns as f64 / 1e9;
    let measured_s = (cell.load.end_s - measure_from_s).max(last_s - measure_from_s).max(1e-3);
    let achieved = rec.delivered as f64 / measured_s;
    let pending = counts.submitted.saturating_sub(rec.delivered + rec.failed + counts.rejected);
    if pending > 0 {
        notes.push(format!("{pending} events had no outcome when the cell ended"));
    }
    let mut all_notes = cell.notes.clone();
    all_notes.extend(notes);
    Run {
        name: cell.name.clone(),
        implementation: cell.implementation().name().to_string(),
        variant: cell.variant.name.clone(),
        mode: cell.mode_name().to_string(),
        level: cell.level_name(),
        budget_us: cell.resolved.budget_us,
        event_bytes: cell.load.event_bytes,
        producers: cell.load.producers,
        offered_events_per_sec: cell.offered,
        achieved_events_per_sec: achieved,
        mb_per_sec: achieved * cell.load.event_bytes as f64 / 1e6,
        wire_bytes_per_sec: wire_bytes,
        cpu_ms_per_million: cpu_ms.filter(|_| rec.delivered > 0).map(|ms| ms * 1e6 / rec.delivered as f64),
        submitted: counts.submitted,
        delivered: rec.delivered,
        failed: rec.failed,
        rejected: counts.rejected,
        latency: latency_of(&rec.latency),
        schedule_delay_p50_us: Some(counts.delay.as_ref().map_or(0.0, |d| d.value_at_quantile(0.5) as f64)),
        budget_pass: true,
        ratio_to_bulk: None,
        hgrm: Some(cell.hgrm_name.clone()),
        note: (!all_notes.is_empty()).then(|| all_notes.join("; ")),
    }
}

/// Percentiles of a latency histogram in us.
pub fn latency_of(h: &Histogram<u64>) -> Latency {
    crate::report::latency_of(h)
}
