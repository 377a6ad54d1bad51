//! The score of one window: what a config is worth under the load it saw.
//!
//! ```text
//! busy_fraction = busy_ns / (window_ns * flush_threads)  (share of the flush side's time)
//! capacity = delivered_per_sec / busy_fraction          (events/s the flush side could sustain)
//!          = flush_threads * 1e9 / busy_ns_per_event
//! score    = 0                                          if p99 > budget
//!          = capacity * (1 - ALPHA * p99 / budget
//!                          - BETA * clamp((p99 - target) / (budget - target), 0, 1))
//! ```
//!
//! `busy_ns` is the flush and send busy time of all flush threads in the
//! window (the same definition as the Java library's `Score`). Why this
//! shape:
//!
//! * Under saturating load the flush side is busy all the time, so
//!   `busy_fraction` is 1 and `capacity` is the delivered rate: configs rank
//!   as delivered events/s ranks them (the seed's "best throughput").
//! * Under lighter load delivered events/s equals the offered rate whatever
//!   the config, but `capacity` still differs: it is the rate the flush side
//!   could sustain at this cost per event (sends per event, bytes, busy
//!   time), so the config that spends less per event wins, and the winner is
//!   also the one that leaves the most headroom.
//! * The level's budget bounds the wait from enqueue to acknowledgement: a
//!   window whose p99 breaks it scores 0, and the learner never makes such a
//!   config best.
//! * Inside the budget, latency is a bounded preference: ALPHA (5%) over the
//!   whole budget breaks ties between equally cheap configs in favour of the
//!   faster one (at L1..L3 a frame rarely holds two events, so waiting buys
//!   nothing and flush-when-idle should win); BETA (20%) applies between
//!   `calibration.target.latency.us` and the budget, so a config that uses the
//!   whole budget must be a third cheaper per event (1 / 0.75) than one that
//!   meets the target to beat it. With the target at or above the budget,
//!   only ALPHA applies.

use super::WindowReport;

/// Weight of latency across the whole budget (tie-breaker).
pub const ALPHA: f64 = 0.05;
/// Weight of latency between the target and the budget.
pub const BETA: f64 = 0.20;

/// The window's score, or None when it carries no information (nothing was
/// delivered or no busy time was measured).
pub fn score(report: &WindowReport, target_latency_us: u64) -> Option<f64> {
    let positive = |v: f64| v > 0.0; // false for NaN too
    if !positive(report.delivered_per_sec) || !positive(report.busy_ns_per_event) {
        return None;
    }
    let capacity = report.flush_threads.max(1) as f64 * 1e9 / report.busy_ns_per_event;
    Some(capacity * latency_factor(report.latency.p99_us, report.level.budget_ms() * 1000, target_latency_us))
}

/// The factor the latency term leaves of `capacity`: 0 past the budget,
/// between 0.75 and 1 inside it.
pub fn latency_factor(p99_us: u64, budget_us: u64, target_us: u64) -> f64 {
    if p99_us > budget_us {
        return 0.0;
    }
    let p99 = p99_us as f64;
    let budget = budget_us as f64;
    let mut f = 1.0 - ALPHA * p99 / budget;
    if target_us < budget_us {
        let over = (p99 - target_us as f64) / (budget - target_us as f64);
        f -= BETA * over.clamp(0.0, 1.0);
    }
    f
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::calibration::{BatchConfig, CloseReasons, Latency};
    use crate::pressure::PressureLevel;

    fn report(level: PressureLevel, delivered: f64, busy_ns_per_event: f64, p99_us: u64) -> WindowReport {
        WindowReport {
            ts_ms: 0,
            level,
            config: BatchConfig::bootstrap(level, u64::MAX),
            window_us: 1_000_000,
            offered_per_sec: delivered,
            delivered_per_sec: delivered,
            frames: 1,
            closed_by: CloseReasons::default(),
            mean_frame_events: 1.0,
            mean_frame_bytes: 100.0,
            latency: Latency { p50_us: p99_us / 2, p99_us, p999_us: p99_us, max_us: p99_us },
            busy_ns_per_event,
            flush_threads: 1,
        }
    }

    #[test]
    fn saturated_windows_rank_as_delivered_rate() {
        // Saturated: busy all the time, so busy_ns_per_event = 1e9 / delivered.
        let l = PressureLevel::L7High;
        let slow = score(&report(l, 100_000.0, 10_000.0, 200_000), 5_000).unwrap();
        let fast = score(&report(l, 150_000.0, 1e9 / 150_000.0, 200_000), 5_000).unwrap();
        assert!(fast > slow);
        assert!((fast / slow - 1.5).abs() < 1e-9, "same latency: the ratio of the rates");
        // Two threads busy all the time: 2e9 busy ns per second; the score
        // (before the latency factor) is the delivered rate.
        let mut two = report(l, 300_000.0, 2e9 / 300_000.0, 0);
        two.flush_threads = 2;
        assert!((score(&two, 5_000).unwrap() - 300_000.0).abs() < 1e-6);
    }

    #[test]
    fn light_load_prefers_the_cheaper_config() {
        // Same delivered rate (the offered one), different cost per event.
        let l = PressureLevel::L5Balanced;
        let costly = score(&report(l, 4_000.0, 50_000.0, 20_000), 5_000).unwrap();
        let cheap = score(&report(l, 4_000.0, 2_000.0, 20_000), 5_000).unwrap();
        assert!(cheap > 20.0 * costly);
    }

    #[test]
    fn the_budget_is_a_hard_limit() {
        let l = PressureLevel::L2Fast;
        assert_eq!(score(&report(l, 30.0, 1.0, 5_001), 5_000), Some(0.0));
        assert!(score(&report(l, 30.0, 1.0, 5_000), 5_000).unwrap() > 0.0);
    }

    #[test]
    fn latency_inside_the_budget_is_a_bounded_preference() {
        // Target below the budget: from 1 - ALPHA*t/b at the target to 0.75 at the budget.
        assert_eq!(latency_factor(0, 100_000, 5_000), 1.0);
        assert!((latency_factor(5_000, 100_000, 5_000) - (1.0 - ALPHA * 0.05)).abs() < 1e-12);
        assert!((latency_factor(100_000, 100_000, 5_000) - (1.0 - ALPHA - BETA)).abs() < 1e-12);
        // Target at or above the budget: only the tie-breaker.
        assert!((latency_factor(1_000, 1_000, 5_000) - (1.0 - ALPHA)).abs() < 1e-12);
        // Monotone: more latency never scores more.
        let mut last = f64::INFINITY;
        for p99 in (0..=100_000).step_by(1_000) {
            let f = latency_factor(p99, 100_000, 5_000);
            assert!(f <= last);
            last = f;
        }
    }

    #[test]
    fn empty_windows_carry_no_score() {
        let l = PressureLevel::L1Realtime;
        assert_eq!(score(&report(l, 0.0, 1_000.0, 0), 5_000), None);
        assert_eq!(score(&report(l, 5.0, 0.0, 10), 5_000), None);
        assert_eq!(score(&report(l, f64::NAN, 10.0, 10), 5_000), None);
    }
}
