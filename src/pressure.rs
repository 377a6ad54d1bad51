//! The ten pressure levels: latency budgets, the event-rate bands that select
//! them, the bootstrap (N, T) per level, and the windowed rate meter.
//!
//! A level says how long an event may wait before it is flushed. Under light
//! load the budget is small (1 ms) so callers get fast answers; under heavy
//! load the budget grows (up to 30 s) so batches grow and Kafka is used at its
//! most efficient.

use std::fmt;
use std::time::Duration;

/// One of the ten pressure levels, L1 (lowest latency) to L10 (highest
/// throughput). The discriminant is the level number used in status and C.
#[repr(u8)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PressureLevel {
    L1Realtime = 1,
    L2Fast = 2,
    L3Low = 3,
    L4Moderate = 4,
    L5Balanced = 5,
    L6Throughput = 6,
    L7High = 7,
    L8Aggressive = 8,
    L9Extreme = 9,
    L10Max = 10,
}

use PressureLevel::*;

impl PressureLevel {
    /// All levels, lowest first.
    pub const ALL: [PressureLevel; 10] = [
        L1Realtime,
        L2Fast,
        L3Low,
        L4Moderate,
        L5Balanced,
        L6Throughput,
        L7High,
        L8Aggressive,
        L9Extreme,
        L10Max,
    ];

    /// The level a collector starts at before it has measured a rate.
    pub const DEFAULT: PressureLevel = L5Balanced;

    /// The latency budget in milliseconds.
    pub const fn budget_ms(self) -> u64 {
        match self {
            L1Realtime => 1,
            L2Fast => 5,
            L3Low => 10,
            L4Moderate => 50,
            L5Balanced => 100,
            L6Throughput => 500,
            L7High => 1_000,
            L8Aggressive => 5_000,
            L9Extreme => 15_000,
            L10Max => 30_000,
        }
    }

    /// The latency budget.
    pub const fn budget(self) -> Duration {
        Duration::from_millis(self.budget_ms())
    }

    /// Lowest event rate (events per second, inclusive) of this level's band;
    /// the band ends where the next level's begins.
    pub const fn min_rate(self) -> f64 {
        match self {
            L1Realtime => 0.0,
            L2Fast => 10.0,
            L3Low => 100.0,
            L4Moderate => 500.0,
            L5Balanced => 2_000.0,
            L6Throughput => 10_000.0,
            L7High => 50_000.0,
            L8Aggressive => 200_000.0,
            L9Extreme => 1_000_000.0,
            L10Max => 5_000_000.0,
        }
    }

    /// The level whose rate band holds `events_per_sec`.
    pub fn from_rate(events_per_sec: f64) -> PressureLevel {
        // NaN or negative rates mean "no information": the calmest level.
        let mut level = L1Realtime;
        for candidate in Self::ALL {
            if events_per_sec >= candidate.min_rate() {
                level = candidate;
            }
        }
        level
    }

    /// The level numbered 1..=10.
    pub fn from_number(n: u32) -> Option<PressureLevel> {
        Self::ALL.get((n as usize).wrapping_sub(1)).copied()
    }

    pub const fn number(self) -> u32 {
        self as u32
    }

    /// The seed's name, e.g. "L5_BALANCED".
    pub const fn name(self) -> &'static str {
        match self {
            L1Realtime => "L1_REALTIME",
            L2Fast => "L2_FAST",
            L3Low => "L3_LOW",
            L4Moderate => "L4_MODERATE",
            L5Balanced => "L5_BALANCED",
            L6Throughput => "L6_THROUGHPUT",
            L7High => "L7_HIGH",
            L8Aggressive => "L8_AGGRESSIVE",
            L9Extreme => "L9_EXTREME",
            L10Max => "L10_MAX",
        }
    }

    /// Parses "1".."10" or a name such as "L9_EXTREME" (case-insensitive).
    pub fn parse(s: &str) -> Option<PressureLevel> {
        if let Ok(n) = s.trim().parse::<u32>() {
            return Self::from_number(n);
        }
        Self::ALL.into_iter().find(|l| l.name().eq_ignore_ascii_case(s.trim()))
    }

    /// The highest level whose budget does not exceed `latency_max`, or None
    /// if even L1's budget exceeds it.
    pub fn ceiling_for(latency_max: Duration) -> Option<PressureLevel> {
        Self::ALL.into_iter().rev().find(|l| l.budget() <= latency_max)
    }

    /// The bootstrap configuration: the seed's N = budget_ms x 1000 events
    /// (capped by `batch.max.events`), and T = half the budget.
    ///
    /// The budget bounds the wait from enqueue to the sink's acknowledgement,
    /// so T must leave room for the send: with the seed's T = budget, a lone
    /// event at L2_FAST (5 ms) was acknowledged after 5.09 ms. Half is a
    /// starting point that keeps every level inside its budget against a
    /// local broker; calibration then learns the T each level can afford.
    pub fn bootstrap(self, batch_max_events: u64) -> BatchParams {
        BatchParams {
            max_events: (self.budget_ms() * 1000).min(batch_max_events).max(1),
            max_wait: self.budget() / 2,
        }
    }
}

impl fmt::Display for PressureLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The flush rule's two knobs: flush when a batch holds `max_events` or its
/// oldest event has waited `max_wait`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchParams {
    pub max_events: u64,
    pub max_wait: Duration,
}

/// Measures the event rate over fixed windows and picks a level at the end of
/// each window, never above `ceiling`.
#[derive(Debug)]
pub struct RateMeter {
    window: Duration,
    ceiling: PressureLevel,
    forced: Option<PressureLevel>,
    window_start: std::time::Instant,
    events_in_window: u64,
    last_rate: f64,
    level: PressureLevel,
}

impl RateMeter {
    pub fn new(window: Duration, ceiling: PressureLevel, forced: Option<PressureLevel>) -> Self {
        let level = forced.unwrap_or(PressureLevel::DEFAULT).min(ceiling);
        RateMeter {
            window,
            ceiling,
            forced,
            window_start: std::time::Instant::now(),
            events_in_window: 0,
            last_rate: 0.0,
            level,
        }
    }

    pub fn level(&self) -> PressureLevel {
        self.level
    }

    /// The rate measured over the last complete window (events per second).
    pub fn last_rate(&self) -> f64 {
        self.last_rate
    }

    /// Whether the window running at `now` is complete (the next `record`
    /// ends it), so a caller can count events only when it matters.
    pub fn due(&self, now: std::time::Instant) -> bool {
        now.saturating_duration_since(self.window_start) >= self.window
    }

    /// Starts the window over at `now`, forgetting what it counted: the
    /// collector does so when the flush config changes mid-window, so that
    /// every window measures one config for its whole length.
    pub fn restart(&mut self, now: std::time::Instant) {
        self.window_start = now;
        self.events_in_window = 0;
    }

    /// Counts `events` taken at `now`. Returns the new level when a window
    /// just ended (whether or not the level changed), otherwise None.
    pub fn record(&mut self, events: u64, now: std::time::Instant) -> Option<PressureLevel> {
        self.events_in_window += events;
        let elapsed = now.saturating_duration_since(self.window_start);
        if elapsed < self.window {
            return None;
        }
        self.last_rate = self.events_in_window as f64 / elapsed.as_secs_f64();
        self.events_in_window = 0;
        self.window_start = now;
        self.level = match self.forced {
            Some(level) => level,
            None => PressureLevel::from_rate(self.last_rate).min(self.ceiling),
        };
        Some(self.level)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    #[test]
    fn budgets_match_the_seed() {
        let budgets: Vec<u64> = PressureLevel::ALL.iter().map(|l| l.budget_ms()).collect();
        assert_eq!(budgets, [1, 5, 10, 50, 100, 500, 1_000, 5_000, 15_000, 30_000]);
    }

    #[test]
    fn every_band_boundary_maps_to_the_right_level() {
        // (rate just below the boundary, rate at the boundary, level at/above it)
        let boundaries = [
            (10.0, L2Fast),
            (100.0, L3Low),
            (500.0, L4Moderate),
            (2_000.0, L5Balanced),
            (10_000.0, L6Throughput),
            (50_000.0, L7High),
            (200_000.0, L8Aggressive),
            (1_000_000.0, L9Extreme),
            (5_000_000.0, L10Max),
        ];
        for (rate, level) in boundaries {
            let below = PressureLevel::from_number(level.number() - 1).unwrap();
            assert_eq!(PressureLevel::from_rate(rate - 0.001), below, "just below {rate}");
            assert_eq!(PressureLevel::from_rate(rate), level, "at {rate}");
            assert_eq!(PressureLevel::from_rate(rate + 0.001), level, "just above {rate}");
        }
        assert_eq!(PressureLevel::from_rate(0.0), L1Realtime);
        assert_eq!(PressureLevel::from_rate(-1.0), L1Realtime);
        assert_eq!(PressureLevel::from_rate(f64::NAN), L1Realtime);
        assert_eq!(PressureLevel::from_rate(1e12), L10Max);
    }

    #[test]
    fn names_and_numbers_round_trip() {
        for level in PressureLevel::ALL {
            assert_eq!(PressureLevel::parse(level.name()), Some(level));
            assert_eq!(PressureLevel::parse(&level.number().to_string()), Some(level));
            assert_eq!(PressureLevel::parse(&level.name().to_lowercase()), Some(level));
        }
        assert_eq!(PressureLevel::parse("0"), None);
        assert_eq!(PressureLevel::parse("11"), None);
        assert_eq!(PressureLevel::parse("L11_MORE"), None);
    }

    #[test]
    fn bootstrap_is_budget_times_1000_capped_and_waits_half_the_budget() {
        assert_eq!(
            L5Balanced.bootstrap(u64::MAX),
            BatchParams { max_events: 100_000, max_wait: Duration::from_millis(50) }
        );
        assert_eq!(L1Realtime.bootstrap(u64::MAX).max_wait, Duration::from_micros(500));
        for level in PressureLevel::ALL {
            assert!(level.bootstrap(u64::MAX).max_wait < level.budget(), "{level}: T leaves room for the send");
        }
        assert_eq!(L1Realtime.bootstrap(u64::MAX).max_events, 1_000);
        assert_eq!(L10Max.bootstrap(u64::MAX).max_events, 30_000_000);
        assert_eq!(L10Max.bootstrap(10_000).max_events, 10_000);
    }

    #[test]
    fn ceiling_is_the_highest_level_within_the_budget() {
        assert_eq!(PressureLevel::ceiling_for(Duration::from_secs(30)), Some(L10Max));
        assert_eq!(PressureLevel::ceiling_for(Duration::from_millis(29_999)), Some(L9Extreme));
        assert_eq!(PressureLevel::ceiling_for(Duration::from_millis(100)), Some(L5Balanced));
        assert_eq!(PressureLevel::ceiling_for(Duration::from_millis(1)), Some(L1Realtime));
        assert_eq!(PressureLevel::ceiling_for(Duration::from_micros(999)), None);
    }

    #[test]
    fn meter_picks_a_level_at_the_end_of_each_window() {
        let start = Instant::now();
        let mut meter = RateMeter::new(Duration::from_secs(10), L10Max, None);
        assert_eq!(meter.level(), L5Balanced);
        meter.window_start = start;
        assert_eq!(meter.record(1_000_000, start + Duration::from_secs(5)), None);
        // 3M events over 10 s = 300K/s: L8.
        assert_eq!(meter.record(2_000_000, start + Duration::from_secs(10)), Some(L8Aggressive));
        assert!((meter.last_rate() - 300_000.0).abs() < 1.0);
        // An idle window falls back to L1.
        assert_eq!(meter.record(0, start + Duration::from_secs(20)), Some(L1Realtime));
    }

    #[test]
    fn a_restarted_window_runs_its_full_length_again() {
        let start = Instant::now();
        let mut meter = RateMeter::new(Duration::from_secs(10), L10Max, None);
        meter.window_start = start;
        assert_eq!(meter.record(500, start + Duration::from_secs(6)), None);
        meter.restart(start + Duration::from_secs(6));
        assert!(!meter.due(start + Duration::from_secs(15)));
        assert!(meter.due(start + Duration::from_secs(16)));
        // The 500 events before the restart are forgotten: 900 over 10 s.
        assert_eq!(meter.record(900, start + Duration::from_secs(16)), Some(L2Fast));
    }

    #[test]
    fn meter_never_exceeds_the_ceiling_and_honours_a_forced_level() {
        let start = Instant::now();
        let mut capped = RateMeter::new(Duration::from_secs(1), L3Low, None);
        assert_eq!(capped.level(), L3Low, "starts at L5 capped to the ceiling");
        capped.window_start = start;
        assert_eq!(capped.record(100_000_000, start + Duration::from_secs(1)), Some(L3Low));

        let mut forced = RateMeter::new(Duration::from_secs(1), L10Max, Some(L9Extreme));
        assert_eq!(forced.level(), L9Extreme);
        forced.window_start = start;
        assert_eq!(forced.record(1, start + Duration::from_secs(1)), Some(L9Extreme));
    }
}
