//! The acknowledging side of a cell: latency histograms, outcome counts,
//! timeline samples and the live figures the progress display shows.
//!
//! One thread owns a `Recorder` (the collector's ack poller, or the
//! producer's delivery callback under an uncontended lock), so nothing here
//! is shared per event.

use crate::results::TimelinePoint;
use hdrhistogram::Histogram;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

/// Histogram range: 1 us to 10 minutes, 3 significant digits.
pub fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 600_000_000, 3).expect("valid histogram bounds")
}

/// What the progress display reads while a cell runs (f64 bits).
#[derive(Default)]
pub struct Live {
    events_per_sec: AtomicU64,
    p99_us: AtomicU64,
}

impl Live {
    pub fn set(&self, events_per_sec: f64, p99_us: f64) {
        self.events_per_sec.store(events_per_sec.to_bits(), Ordering::Relaxed);
        self.p99_us.store(p99_us.to_bits(), Ordering::Relaxed);
    }

    pub fn get(&self) -> (f64, f64) {
        (f64::from_bits(self.events_per_sec.load(Ordering::Relaxed)), f64::from_bits(self.p99_us.load(Ordering::Relaxed)))
    }

    pub fn reset(&self) {
        self.set(0.0, 0.0);
    }
}

/// Outcomes as they arrive.
pub struct Recorder {
    origin: Instant,
    /// Events meant to be sent before this (ns after `origin`) are warm-up.
    measure_from_ns: u64,
    pub latency: Histogram<u64>,
    pub delivered: u64,
    pub failed: u64,
    /// Outcomes of every event, warm-up included (to know when all are in).
    pub outcomes: u64,
    /// When the last measured outcome arrived, ns after `origin`.
    pub last_outcome_ns: u64,
    live: std::sync::Arc<Live>,
    live_window: Histogram<u64>,
    live_count: u64,
    live_from_ns: u64,
    timeline_ns: Option<u64>,
    timeline_window: Histogram<u64>,
    timeline_count: u64,
    timeline_from_ns: u64,
    pub timeline: Vec<TimelinePoint>,
}

const LIVE_NS: u64 = 1_000_000_000;

impl Recorder {
    pub fn new(origin: Instant, measure_from_ns: u64, timeline_ms: Option<u64>, live: std::sync::Arc<Live>) -> Recorder {
        Recorder {
            origin,
            measure_from_ns,
            latency: histogram(),
            delivered: 0,
            failed: 0,
            outcomes: 0,
            last_outcome_ns: 0,
            live,
            live_window: histogram(),
            live_count: 0,
            live_from_ns: 0,
            timeline_ns: timeline_ms.map(|ms| ms.max(1) * 1_000_000),
            timeline_window: histogram(),
            timeline_count: 0,
            timeline_from_ns: measure_from_ns,
            timeline: Vec::new(),
        }
    }

    pub fn now_ns(&self) -> u64 {
        self.origin.elapsed().as_nanos() as u64
    }

    /// One event's outcome: meant to be sent at `intended_ns`, known at `now_ns`.
    #[inline]
    pub fn outcome(&mut self, intended_ns: u64, ok: bool, now_ns: u64) {
        self.outcomes += 1;
        let us = (now_ns.saturating_sub(intended_ns) / 1000).max(1);
        let _ = self.live_window.record(us);
        self.live_count += 1;
        if intended_ns < self.measure_from_ns {
            return;
        }
        self.last_outcome_ns = now_ns;
        if ok {
            self.delivered += 1;
            let _ = self.latency.record(us);
            if self.timeline_ns.is_some() {
                let _ = self.timeline_window.record(us);
                self.timeline_count += 1;
            }
        } else {
            self.failed += 1;
        }
    }

    /// Called often (every poll): closes the live second and the timeline
    /// interval when due. `offered` gives the scheduled rate at a time (s
    /// since the measured part began); `level` the collector's level now.
    pub fn tick(&mut self, now_ns: u64, offered: impl Fn(f64) -> Option<f64>, level: impl FnOnce() -> Option<u32>) {
        if now_ns >= self.live_from_ns + LIVE_NS {
            let secs = (now_ns - self.live_from_ns) as f64 / 1e9;
            self.live.set(self.live_count as f64 / secs, self.live_window.value_at_quantile(0.99) as f64);
            self.live_window.reset();
            self.live_count = 0;
            self.live_from_ns = now_ns;
        }
        if let Some(step) = self.timeline_ns {
            if now_ns >= self.timeline_from_ns + step && now_ns >= self.measure_from_ns {
                let secs = (now_ns - self.timeline_from_ns) as f64 / 1e9;
                let t_s = (now_ns - self.measure_from_ns) as f64 / 1e9;
                self.timeline.push(TimelinePoint {
                    t_s,
                    offered_events_per_sec: offered(t_s - secs / 2.0),
                    achieved_events_per_sec: self.timeline_count as f64 / secs,
                    p99_us: self.timeline_window.value_at_quantile(0.99) as f64,
                    level: level(),
                });
                self.timeline_window.reset();
                self.timeline_count = 0;
                self.timeline_from_ns = now_ns;
            }
        }
    }
}

/// Process CPU time (user + system) so far, ms.
pub fn process_cpu_ms() -> f64 {
    // SAFETY: getrusage fills the struct it is given; RUSAGE_SELF is valid.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    if unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) } != 0 {
        return 0.0;
    }
    let ms = |t: libc::timeval| t.tv_sec as f64 * 1e3 + t.tv_usec as f64 / 1e3;
    ms(usage.ru_utime) + ms(usage.ru_stime)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn warm_up_outcomes_count_toward_completion_only() {
        let mut r = Recorder::new(Instant::now(), 1_000_000_000, Some(100), Arc::new(Live::default()));
        r.outcome(500_000_000, true, 600_000_000);
        r.outcome(1_000_000_000, true, 1_002_000_000);
        r.outcome(1_100_000_000, false, 1_300_000_000);
        assert_eq!((r.outcomes, r.delivered, r.failed, r.latency.len()), (3, 1, 1, 1));
        assert_eq!(r.latency.max(), 2000, "from the intended time, in us");
        r.tick(1_150_000_000, |_| Some(7.0), || Some(3));
        assert_eq!(r.timeline.len(), 1);
        assert_eq!((r.timeline[0].offered_events_per_sec, r.timeline[0].level), (Some(7.0), Some(3)));
    }
}
