//! A simulated sink with a known cost model, run in virtual time: the
//! learner's tests and the learning benchmark drive it instead of Kafka.
//!
//! The model (one flush thread, events of `event_bytes` arriving evenly at
//! `rate` per second):
//!
//! * a frame of k events is `B(k) = 8 + k (4 + event_bytes)` bytes, and at
//!   most `batch_max_bytes`, so at most `K_b` events;
//! * it is closed when it holds N events (or `K_b`), when its oldest event
//!   waited T, or, with flush-when-idle, as soon as no send is in flight;
//!   and only once the flush thread is free;
//! * sending it keeps the flush thread busy `c + d B(k)` (a fixed cost per
//!   send plus a cost per byte) and it is acknowledged
//!   `c + d B(k) + L0 + l B(k)` after it was closed (a send latency that grows
//!   with the frame), acknowledgements in order;
//! * every event of a frame is taken to wait as long as its oldest (the same
//!   conservative bound the collector measures).
//!
//! A window runs `FRAMES` frames from an empty queue. If the backlog still
//! grows over its second half, the offered rate outruns this config and its
//! wait has no bound: the window reports a p99 of ten budgets.
//!
//! Closed form, without flush-when-idle and while the flush thread keeps up
//! (`c + d B(k) <= D + 1/r`): with `k_cap = min(N, K_b)`, every frame holds
//! `k = min(k_cap, floor(r T) + 1)` events and stays open
//! `D = min((k_cap - 1) / r, T)`, so
//!
//! ```text
//! capacity = 1e9 k / (c + d B(k))                       events per busy second
//! p99      = D + c + d B(k) + L0 + l B(k)
//! score    = capacity * latency_factor(p99, budget, target)
//! ```
//!
//! `capacity` grows with k (the fixed cost per send is shared by more
//! events) and k grows with T until it reaches `k_cap`; the latency factor
//! costs at most 25% over the whole budget. So while k is bound by T the
//! optimum is the largest T whose p99 stays inside the budget (a longer T
//! raises capacity about in proportion, far more than the factor takes
//! away); once `floor(r T) + 1 >= k_cap` a longer T buys nothing and the
//! factor prefers the shortest T that still fills the frame. Where
//! `r (c + L0) < 1` (L1..L3 here) a frame rarely holds a second event, every
//! config costs one send per event, and the factor alone ranks them:
//! flush-when-idle (no wait at all) is best. The tests check the simulation
//! against this closed form and take the optimum as the best score over the
//! level's grid.

use super::score::score;
use super::{BatchConfig, CloseReasons, Latency, SplitMix64, WindowReport};
use crate::pressure::PressureLevel;

/// Frames simulated per window.
pub const FRAMES: usize = 4000;

/// The cost model; see the module documentation.
#[derive(Debug, Clone, PartialEq)]
pub struct Model {
    /// Offered events per second.
    pub rate: f64,
    pub event_bytes: u64,
    pub batch_max_bytes: u64,
    /// c: flush thread busy time per send, ns.
    pub busy_fixed_ns: f64,
    /// d: flush thread busy time per byte, ns.
    pub busy_per_byte_ns: f64,
    /// L0: acknowledgement latency per send beyond the busy time, us.
    pub ack_fixed_us: f64,
    /// l: acknowledgement latency per byte, ns.
    pub ack_per_byte_ns: f64,
    /// Each window's busy costs are scaled by a factor drawn from
    /// [1 - noise, 1 + noise] (none without an RNG).
    pub noise: f64,
}

impl Model {
    /// A Kafka-like sink on a local broker at the geometric middle of the
    /// level's rate band (L1: 5/s, L10: 10M/s), 100-byte events.
    pub fn for_level(level: PressureLevel) -> Model {
        let rate = match level.number() {
            1 => 5.0,
            10 => 10_000_000.0,
            n => {
                let lo = level.min_rate();
                let hi = PressureLevel::from_number(n + 1).unwrap().min_rate();
                (lo * hi).sqrt()
            }
        };
        Model {
            rate,
            event_bytes: 100,
            batch_max_bytes: 983_040,
            busy_fixed_ns: 30_000.0,
            busy_per_byte_ns: 0.5,
            ack_fixed_us: 400.0,
            ack_per_byte_ns: 2.0,
            noise: 0.05,
        }
    }

    /// B(k).
    pub fn frame_bytes(&self, k: u64) -> u64 {
        8 + k * (4 + self.event_bytes)
    }

    /// K_b: the most events a frame of `batch_max_bytes` holds.
    pub fn max_events_by_bytes(&self) -> u64 {
        ((self.batch_max_bytes - 8) / (4 + self.event_bytes)).max(1)
    }

    /// Runs one window of `config` at `level`. With `rng`, the busy costs
    /// carry this window's noise.
    pub fn run_window(&self, level: PressureLevel, config: BatchConfig, ts_ms: i64, rng: Option<&mut SplitMix64>) -> WindowReport {
        let scale = match rng {
            Some(r) => 1.0 + self.noise * (2.0 * r.next_f64() - 1.0),
            None => 1.0,
        };
        let gap_us = 1e6 / self.rate;
        let arrival = |i: u64| i as f64 * gap_us;
        // Events arrived by time t (microseconds): indexes 0..=floor(t / gap).
        let arrived_by = |t: f64| (t / gap_us + 1e-9).floor() as u64 + 1;
        let k_bytes = self.max_events_by_bytes();
        let k_cap = config.batch_events.max(1).min(k_bytes);
        let t = config.interval_us as f64;
        let budget_us = level.budget_ms() * 1000;

        let mut hist = hdrhistogram::Histogram::<u64>::new_with_bounds(1, 100 * budget_us.max(1000), 3).expect("bounds");
        let (mut next, mut t_free, mut inflight_until, mut last_ack) = (0u64, 0.0f64, 0.0f64, 0.0f64);
        let (mut busy_ns, mut bytes_total, mut closed_by) = (0.0f64, 0u64, CloseReasons::default());
        let (mut backlog_mid, mut end) = (0u64, 0.0f64);
        for f in 0..FRAMES {
            let a0 = arrival(next);
            let by_count = arrival(next + k_cap - 1);
            let by_time = a0 + t;
            let by_idle = if config.idle_flush { a0.max(inflight_until) } else { f64::INFINITY };
            let mut close = by_count.min(by_time).min(by_idle);
            let reason = if close == by_idle {
                &mut closed_by.idle
            } else if close == by_count {
                if k_cap == k_bytes && k_bytes < config.batch_events {
                    &mut closed_by.bytes
                } else {
                    &mut closed_by.count
                }
            } else {
                &mut closed_by.time
            };
            *reason += 1;
            close = close.max(t_free);
            let k = (arrived_by(close) - next).clamp(1, k_cap);
            let bytes = self.frame_bytes(k);
            let busy = (self.busy_fixed_ns + self.busy_per_byte_ns * bytes as f64) * scale;
            t_free = close + busy / 1000.0;
            let ack = (t_free + self.ack_fixed_us + self.ack_per_byte_ns * bytes as f64 / 1000.0).max(last_ack);
            last_ack = ack;
            inflight_until = ack;
            let wait = (ack - a0).max(1.0) as u64;
            hist.saturating_record_n(wait, k);
            busy_ns += busy;
            bytes_total += bytes;
            next += k;
            end = close;
            if f == FRAMES / 2 {
                backlog_mid = arrived_by(close).saturating_sub(next);
            }
        }
        let backlog_end = arrived_by(end).saturating_sub(next);
        let mut latency = Latency::of(&hist);
        if backlog_end > backlog_mid + 2 * k_cap {
            // Falling behind: the wait grows without bound.
            let unbounded = 10 * budget_us;
            latency = Latency { p50_us: unbounded, p99_us: unbounded, p999_us: unbounded, max_us: unbounded };
        }
        let secs = (end / 1e6).max(1e-9);
        WindowReport {
            ts_ms,
            level,
            config,
            window_us: end as u64,
            offered_per_sec: self.rate,
            delivered_per_sec: next as f64 / secs,
            frames: FRAMES as u64,
            closed_by,
            mean_frame_events: next as f64 / FRAMES as f64,
            mean_frame_bytes: bytes_total as f64 / FRAMES as f64,
            latency,
            busy_ns_per_event: busy_ns / next as f64,
            flush_threads: 1,
        }
    }

    /// The noise-free score of `config` and its p99.
    pub fn true_score(&self, level: PressureLevel, config: BatchConfig, target_latency_us: u64) -> (f64, u64) {
        let r = self.run_window(level, config, 0, None);
        (score(&r, target_latency_us).unwrap_or(0.0), r.latency.p99_us)
    }

    /// The best noise-free score over `configs` (the oracle) and its config.
    pub fn oracle(
        &self,
        level: PressureLevel,
        configs: impl Iterator<Item = BatchConfig>,
        target_latency_us: u64,
    ) -> (BatchConfig, f64) {
        configs
            .map(|c| (c, self.true_score(level, c, target_latency_us).0))
            .max_by(|a, b| a.1.total_cmp(&b.1))
            .expect("a grid is never empty")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::calibration::score::latency_factor;
    use crate::calibration::{Calibration, Grid, Learner, Settings};
    use PressureLevel::*;

    const TARGET: u64 = 5_000;

    /// The closed form of the module documentation.
    fn closed_form(m: &Model, level: PressureLevel, c: BatchConfig) -> (f64, f64) {
        let r = m.rate;
        let k_cap = c.batch_events.min(m.max_events_by_bytes()) as f64;
        let t_s = c.interval_us as f64 / 1e6;
        let k = k_cap.min((r * t_s + 1e-9).floor() + 1.0);
        let d_s = ((k_cap - 1.0) / r).min(t_s);
        let b = m.frame_bytes(k as u64) as f64;
        let busy_ns = m.busy_fixed_ns + m.busy_per_byte_ns * b;
        let p99_us = d_s * 1e6 + busy_ns / 1000.0 + m.ack_fixed_us + m.ack_per_byte_ns * b / 1000.0;
        let capacity = 1e9 * k / busy_ns;
        (capacity * latency_factor(p99_us as u64, level.budget_ms() * 1000, TARGET), p99_us)
    }

    #[test]
    fn the_simulation_matches_the_closed_form() {
        for level in [L4Moderate, L5Balanced, L6Throughput, L7High] {
            let m = Model::for_level(level);
            let grid = Grid::for_level(level, 1_000_000);
            let mut checked = 0;
            for c in grid.configs().filter(|c| !c.idle_flush) {
                let (cf_score, cf_p99) = closed_form(&m, level, c);
                let k = (c.batch_events.min(m.max_events_by_bytes()) as f64)
                    .min((m.rate * c.interval_us as f64 / 1e6).floor() + 1.0);
                let busy_s = (m.busy_fixed_ns + m.busy_per_byte_ns * m.frame_bytes(k as u64) as f64) / 1e9;
                let open_s = ((c.batch_events.min(m.max_events_by_bytes()) as f64 - 1.0) / m.rate).min(c.interval_us as f64 / 1e6);
                if busy_s > open_s + 1.0 / m.rate || cf_p99 > (level.budget_ms() * 1000) as f64 {
                    continue; // outside the closed form's regime
                }
                let (s, p99) = m.true_score(level, c, TARGET);
                assert!((p99 as f64 - cf_p99).abs() <= cf_p99 * 0.002 + 1.0, "{level} {c:?}: p99 {p99} vs {cf_p99}");
                assert!((s - cf_score).abs() <= cf_score * 0.01, "{level} {c:?}: score {s} vs {cf_score}");
                checked += 1;
            }
            assert!(checked > 20, "{level}: only {checked} configs in the closed form's regime");
        }
    }

    #[test]
    fn a_config_that_cannot_keep_up_breaks_the_budget() {
        let m = Model::for_level(L10Max);
        let c = BatchConfig { batch_events: 1, interval_us: 1_000, idle_flush: false };
        let r = m.run_window(L10Max, c, 0, None);
        assert!(r.latency.p99_us > 30_000_000);
        assert!(r.delivered_per_sec < m.rate / 100.0);
    }

    #[test]
    fn flush_when_idle_sends_lone_events_at_once() {
        let m = Model::for_level(L2Fast);
        let idle = BatchConfig { batch_events: 1000, interval_us: 2_500, idle_flush: true };
        let r = m.run_window(L2Fast, idle, 0, None);
        assert_eq!(r.closed_by.idle, FRAMES as u64);
        assert!(r.latency.p99_us < 500, "no wait beyond the send: {}", r.latency.p99_us);
        let timed = m.run_window(L2Fast, BatchConfig { idle_flush: false, ..idle }, 0, None);
        assert!(timed.latency.p99_us > 2_500);
    }

    fn learn(level: PressureLevel, seed: u64, windows: usize) -> (Learner, Vec<BatchConfig>) {
        let settings = Settings { seed: Some(seed), path: ":memory:".into(), ..Settings::default() };
        let mut learner = Learner::new(&settings, 1_000_000);
        let m = Model::for_level(level);
        let mut noise = SplitMix64::new(seed ^ 0xA5A5);
        let mut config = learner.best_config(level);
        let mut bests = Vec::new();
        for w in 0..windows {
            let report = m.run_window(level, config, w as i64, Some(&mut noise));
            config = learner.observe(&report).next;
            bests.push(learner.best_config(level));
        }
        (learner, bests)
    }

    #[test]
    fn the_learner_gets_within_10_percent_of_the_optimum_in_30_windows_at_every_level() {
        for level in PressureLevel::ALL {
            let m = Model::for_level(level);
            let grid = Grid::for_level(level, 1_000_000);
            let (opt_config, optimum) = m.oracle(level, grid.configs(), TARGET);
            assert!(optimum > 0.0, "{level}: some config keeps the budget");
            let (learner, bests) = learn(level, 7, 30);
            let best = learner.best_config(level);
            let (s, p99) = m.true_score(level, best, TARGET);
            assert!(
                s >= 0.9 * optimum,
                "{level}: learned {best:?} scores {s:.0}, optimum {opt_config:?} {optimum:.0}"
            );
            assert!(p99 <= level.budget_ms() * 1000, "{level}: learned best breaks the budget");
            // Never settles on a config breaking the budget: whatever was
            // best after any window keeps it.
            for b in bests {
                let (_, p99) = m.true_score(level, b, TARGET);
                assert!(p99 <= level.budget_ms() * 1000, "{level}: {b:?} was best with p99 {p99} us");
            }
        }
    }

    #[test]
    fn learning_is_deterministic_for_a_seed() {
        let (_, a) = learn(L6Throughput, 11, 30);
        let (_, b) = learn(L6Throughput, 11, 30);
        assert_eq!(a, b);
    }

    #[test]
    fn the_bootstrap_leaves_room_for_the_send() {
        for level in PressureLevel::ALL {
            let m = Model::for_level(level);
            let (_, p99) = m.true_score(level, BatchConfig::bootstrap(level, 1_000_000), TARGET);
            assert!(p99 <= level.budget_ms() * 1000, "{level}: bootstrap p99 {p99} us");
        }
    }

    #[test]
    fn a_restart_on_the_same_file_starts_from_the_learned_best() {
        let dir = std::env::temp_dir().join(format!("mb-calib-{}-sim-restart", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let path = dir.join("c.db");
        let settings = Settings { seed: Some(3), path: path.to_str().unwrap().into(), ..Settings::default() };
        let level = L6Throughput;
        let m = Model::for_level(level);
        let learned = {
            let mut cal = Calibration::open(&settings, 1_000_000);
            let mut config = cal.best_config(level);
            let mut noise = SplitMix64::new(1);
            for w in 0..30 {
                config = cal.observe(&m.run_window(level, config, w, Some(&mut noise))).next;
            }
            assert_eq!(cal.errors(), 0, "{:?}", cal.last_error());
            cal.best_config(level)
        };
        assert_ne!(learned, BatchConfig::bootstrap(level, 1_000_000));
        let cal = Calibration::open(&settings, 1_000_000);
        assert_eq!(cal.errors(), 0, "{:?}", cal.last_error());
        assert_eq!(cal.best_config(level), learned);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
