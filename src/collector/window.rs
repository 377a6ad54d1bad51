//! Pressure windows: what the collector did over each window, the level it
//! picks at the window's end, and the report it hands to calibration.
//!
//! * [`SendWatch`]: frames in flight per flush thread (flush-when-idle) and
//!   the wait from enqueue to acknowledgement, recorded by the sink's
//!   completion into the window's HDR histogram. The frame's oldest event
//!   stands for all of its events, so the percentiles are a conservative
//!   bound: no event of a frame waited longer than its oldest.
//! * [`Tally`]: frames, bytes, what closed them and busy time, counted by
//!   each flush thread and added to the shared [`SharedTally`] once per pass.
//! * [`Window`]: owned by flush thread 0. At the end of each window it
//!   measures the offered rate (events submitted, not drained, so a stalled
//!   sink does not read as low load), picks the level, sends a
//!   [`WindowReport`] to the calibration thread and applies the level's
//!   config. When calibration changes the current level's config (just
//!   after a window's report), it applies it and starts the window over, so
//!   every window measures one config for its whole length.
//! * The calibration thread does all SQLite work: it learns from each
//!   report and writes the next config into the level table (a trial for
//!   the level the collector stays at, the best config for a level it left
//!   or enters).
//!
//! Nothing here runs on the submit path.

use super::levels::{unpack, LevelTable};
use super::Core;
use crate::calibration::{Calibration, CloseReasons, Latency, WindowReport};
use crate::pressure::{PressureLevel, RateMeter};
use crossbeam_utils::CachePadded;
use hdrhistogram::Histogram;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, Sender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

/// Waits above this (about 71 minutes, the stamp clock's wrap) are recorded
/// as this.
const LATENCY_MAX_US: u64 = u32::MAX as u64;

/// Frames in flight and the wait to acknowledgement; see the module doc.
pub(crate) struct SendWatch {
    /// The stamp clock's origin (`Clock::start`).
    start: Instant,
    hist: Mutex<Histogram<u64>>,
    inflight: Box<[CachePadded<AtomicU64>]>,
}

impl SendWatch {
    pub(crate) fn new(start: Instant, flush_threads: usize) -> SendWatch {
        SendWatch {
            start,
            hist: Mutex::new(Histogram::new_with_bounds(1, LATENCY_MAX_US, 3).expect("valid histogram bounds")),
            inflight: (0..flush_threads.max(1)).map(|_| CachePadded::new(AtomicU64::new(0))).collect(),
        }
    }

    /// A frame of flush thread `source` went to the sink.
    pub(crate) fn sent(&self, source: u32) {
        if let Some(n) = self.inflight.get(source as usize) {
            n.fetch_add(1, Ordering::Relaxed);
        }
    }

    pub(crate) fn flush_threads(&self) -> u32 {
        self.inflight.len() as u32
    }

    /// Frames of flush thread `source` not yet acknowledged or failed.
    pub(crate) fn inflight(&self, source: u32) -> u64 {
        self.inflight.get(source as usize).map_or(0, |n| n.load(Ordering::Relaxed))
    }

    /// A frame of `source` whose oldest event was stamped `stamp` is done;
    /// `delivered` of its events were acknowledged (the rest failed and have
    /// no wait to acknowledgement).
    pub(crate) fn done(&self, source: u32, stamp: u32, delivered: u64) {
        if let Some(n) = self.inflight.get(source as usize) {
            n.fetch_sub(1, Ordering::Relaxed);
        }
        if delivered == 0 {
            return;
        }
        let now = self.start.elapsed().as_micros() as u32;
        let wait = now.wrapping_sub(stamp);
        // A stamp "after" now cannot be (stamps only lag); read it as 0.
        let wait = if wait >= 1 << 31 { 0 } else { wait as u64 };
        let mut h = self.hist.lock().unwrap_or_else(|e| e.into_inner());
        h.saturating_record_n(wait.max(1), delivered);
    }

    /// The window's percentiles; starts the next window's histogram.
    fn take_latency(&self) -> Latency {
        let mut h = self.hist.lock().unwrap_or_else(|e| e.into_inner());
        let l = Latency::of(&h);
        h.reset();
        l
    }
}

/// One flush thread's frames since its last publication.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Tally {
    pub frames: u64,
    pub events: u64,
    pub bytes: u64,
    pub by_count: u64,
    pub by_time: u64,
    pub by_bytes: u64,
    pub by_idle: u64,
    /// Time spent sealing and in the sink's `send`, ns.
    pub busy_ns: u64,
}

/// The flush threads' tallies of the current window.
#[derive(Default)]
pub(crate) struct SharedTally {
    frames: AtomicU64,
    events: AtomicU64,
    bytes: AtomicU64,
    by_count: AtomicU64,
    by_time: AtomicU64,
    by_bytes: AtomicU64,
    by_idle: AtomicU64,
    busy_ns: AtomicU64,
}

impl SharedTally {
    /// Adds a flush thread's tally (once per pass, when it sent something).
    pub(crate) fn add(&self, t: &Tally) {
        for (field, v) in self.fields().into_iter().zip([
            t.frames, t.events, t.bytes, t.by_count, t.by_time, t.by_bytes, t.by_idle, t.busy_ns,
        ]) {
            if v > 0 {
                field.fetch_add(v, Ordering::Relaxed);
            }
        }
    }

    fn take(&self) -> Tally {
        let [frames, events, bytes, by_count, by_time, by_bytes, by_idle, busy_ns] =
            self.fields().map(|f| f.swap(0, Ordering::Relaxed));
        Tally { frames, events, bytes, by_count, by_time, by_bytes, by_idle, busy_ns }
    }

    fn fields(&self) -> [&AtomicU64; 8] {
        [
            &self.frames,
            &self.events,
            &self.bytes,
            &self.by_count,
            &self.by_time,
            &self.by_bytes,
            &self.by_idle,
            &self.busy_ns,
        ]
    }
}

/// What status shows of windows and learning.
#[derive(Default)]
pub(crate) struct WindowStatus {
    pub p50_us: AtomicU64,
    pub p99_us: AtomicU64,
    pub p999_us: AtomicU64,
    pub max_us: AtomicU64,
    pub regressions: AtomicU64,
    pub calibration_errors: AtomicU64,
    pub calibration_windows: AtomicU64,
    /// 1 while the calibration store is open and writable.
    pub persistent: AtomicU32,
}

/// A window's report and the level the collector goes on at.
pub(crate) struct Report {
    pub report: WindowReport,
    pub next_level: PressureLevel,
}

/// The window owner's state (flush thread 0).
pub(crate) struct Window {
    meter: RateMeter,
    /// Submitted events the meter has counted.
    meter_submitted: u64,
    /// Start of the report's window, and the counters then.
    started: Instant,
    submitted0: u64,
    delivered0: u64,
    to_calibration: Option<Sender<Report>>,
}

impl Window {
    pub(crate) fn new(meter: RateMeter, core: &Core, to_calibration: Option<Sender<Report>>) -> Window {
        let submitted = core.gates.submitted();
        Window {
            meter,
            meter_submitted: submitted,
            started: Instant::now(),
            submitted0: submitted,
            delivered0: core.accounting.delivered(),
            to_calibration,
        }
    }

    fn restart(&mut self, core: &Core, now: Instant) {
        self.started = now;
        self.submitted0 = core.gates.submitted();
        self.delivered0 = core.accounting.delivered();
        core.tally.take();
        core.watch.take_latency();
    }

    /// Flush thread 0's turn, once per pass.
    pub(crate) fn pass(&mut self, core: &Core) {
        let now = Instant::now();
        let level = core.level();
        if core.table.word(level) != core.current.load(Ordering::Relaxed) {
            // Calibration chose another config for this level: the window
            // starts over, so its report (and the level it picks) covers
            // this config alone, for a whole window.
            core.apply(level);
            self.restart(core, now);
            self.meter.restart(now);
            self.meter_submitted = core.gates.submitted();
            return;
        }
        if !self.meter.due(now) {
            return;
        }
        let submitted = core.gates.submitted();
        let delivered = core.accounting.delivered();
        let next_level = self.meter.record(submitted - self.meter_submitted, now).unwrap_or(level);
        self.meter_submitted = submitted;
        core.rate_bits.store(self.meter.last_rate().to_bits(), Ordering::Relaxed);

        let secs = now.saturating_duration_since(self.started).as_secs_f64().max(1e-9);
        let tally = core.tally.take();
        let latency = core.watch.take_latency();
        let status = &core.window_status;
        status.p50_us.store(latency.p50_us, Ordering::Relaxed);
        status.p99_us.store(latency.p99_us, Ordering::Relaxed);
        status.p999_us.store(latency.p999_us, Ordering::Relaxed);
        status.max_us.store(latency.max_us, Ordering::Relaxed);
        if let Some(tx) = &self.to_calibration {
            let frames = tally.frames.max(1) as f64;
            let report = WindowReport {
                ts_ms: SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64),
                level,
                config: unpack(core.current.load(Ordering::Relaxed)),
                window_us: (secs * 1e6) as u64,
                offered_per_sec: (submitted - self.submitted0) as f64 / secs,
                delivered_per_sec: delivered.saturating_sub(self.delivered0) as f64 / secs,
                frames: tally.frames,
                closed_by: CloseReasons {
                    count: tally.by_count,
                    time: tally.by_time,
                    bytes: tally.by_bytes,
                    idle: tally.by_idle,
                },
                mean_frame_events: tally.events as f64 / frames,
                mean_frame_bytes: tally.bytes as f64 / frames,
                latency,
                busy_ns_per_event: if tally.events == 0 { 0.0 } else { tally.busy_ns as f64 / tally.events as f64 },
                flush_threads: core.watch.flush_threads(),
            };
            if tx.send(Report { report, next_level }).is_err() {
                // The calibration thread is gone (it only ends with the
                // collector, or by a panic): learning stops, delivery goes on.
                status.calibration_errors.fetch_add(1, Ordering::Relaxed);
                self.to_calibration = None;
            }
        }
        if next_level != level {
            core.apply(next_level);
        }
        self.restart(core, now);
    }
}

/// Starts the calibration thread; it ends when the window owner's sender is
/// dropped (the flush thread ends).
pub(crate) fn spawn_calibration(
    mut calibration: Calibration,
    table: Arc<LevelTable>,
    status: Arc<WindowStatus>,
    reports: Receiver<Report>,
) -> std::io::Result<JoinHandle<()>> {
    status.calibration_errors.store(calibration.errors(), Ordering::Relaxed);
    status.persistent.store(calibration.persistent() as u32, Ordering::Relaxed);
    std::thread::Builder::new().name("mb-calibration".into()).spawn(move || {
        for Report { report, next_level } in reports {
            let level = report.level;
            let outcome = calibration.observe(&report);
            if next_level == level {
                table.set(level, outcome.next);
            } else {
                // Leaving a level puts its best back; entering one loads its best.
                table.set(level, calibration.best_config(level));
                table.set(next_level, calibration.best_config(next_level));
            }
            if outcome.regression {
                eprintln!(
                    "microbatch: calibration: {level} config (N={}, T={} us, idle_flush={}) regressed: score {:.0}, more than 10% under its average",
                    report.config.batch_events, report.config.interval_us, report.config.idle_flush, outcome.score
                );
            }
            if outcome.scored {
                status.calibration_windows.fetch_add(1, Ordering::Relaxed);
            }
            status.regressions.store(calibration.regressions(), Ordering::Relaxed);
            status.calibration_errors.store(calibration.errors(), Ordering::Relaxed);
            status.persistent.store(calibration.persistent() as u32, Ordering::Relaxed);
        }
    })
}
