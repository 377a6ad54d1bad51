//! The learner: a pure function of observations.
//!
//! Fed one [`WindowReport`] per pressure window, it scores the window, keeps
//! an EMA of the score per (level, config) and the best config per level, and
//! answers the config to try next for that level:
//!
//! * with `calibration.explore=false`, always the best;
//! * otherwise, with probability `calibration.explore.ratio` (the seed's 20%)
//!   a config drawn at random from the level's grid, and else (80%) a local
//!   refinement: the best itself (a quarter of the time, so its EMA stays
//!   current and its regressions are seen) or a neighbour of it on the grid
//!   (one or two steps of N, T or both, or flush-when-idle switched),
//!   neighbours not seen yet first.
//!
//! Exploration never proposes a T that leaves no room for the send: T stays
//! at most 1/sqrt(2) of the budget and at most the budget minus 1.25 times
//! the send time seen at this level (the p99 wait beyond T).
//!
//! Regressions follow the seed: a window scoring more than 10% below its
//! config's EMA (once the EMA rests on two windows) is a regression. The best
//! config is demoted (replaced by the next best, or the bootstrap) after two
//! regressions in a row or at once when its p99 breaks the budget. A config
//! becomes best when it is seen with an EMA above the best's and its last
//! window kept the budget.

use super::score::score;
use super::{BatchConfig, Settings, SplitMix64, WindowReport};
use crate::pressure::PressureLevel;
use std::collections::HashMap;

/// EMA weight of the newest window.
pub const EMA_ALPHA: f64 = 0.3;
/// A window more than this far below its config's EMA is a regression.
pub const REGRESSION_DROP: f64 = 0.10;
/// Regressions in a row that demote a best config.
pub const DEMOTE_AFTER: u32 = 2;

/// The configs a level explores: N on powers of two up to the level's
/// bootstrap N (capped by `batch.max.events`), T on steps of sqrt(2) from
/// budget/sqrt(2) down to budget/1024 (at least 20 us), flush-when-idle on
/// or off. The learning benchmark's oracle sweeps the same grid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grid {
    /// Ascending.
    pub n: Vec<u64>,
    /// Ascending, microseconds.
    pub t_us: Vec<u64>,
}

impl Grid {
    pub fn for_level(level: PressureLevel, batch_max_events: u64) -> Grid {
        let n_cap = level.bootstrap(batch_max_events).max_events;
        let mut n: Vec<u64> = (0..63).map(|i| 1u64 << i).take_while(|&v| v < n_cap).collect();
        n.push(n_cap);
        let budget = (level.budget_ms() * 1000) as f64;
        let floor = (budget / 1024.0).max(20.0);
        let mut t_us: Vec<u64> = (1..)
            .map(|j| budget / 2f64.powf(j as f64 / 2.0))
            .take_while(|&t| t >= floor)
            .map(|t| t.round() as u64)
            .collect();
        t_us.reverse();
        t_us.dedup();
        Grid { n, t_us }
    }

    /// Every config of the grid.
    pub fn configs(&self) -> impl Iterator<Item = BatchConfig> + '_ {
        self.n.iter().flat_map(move |&n| {
            self.t_us.iter().flat_map(move |&t| {
                [false, true].into_iter().map(move |idle| BatchConfig { batch_events: n, interval_us: t, idle_flush: idle })
            })
        })
    }

    pub fn len(&self) -> usize {
        self.n.len() * self.t_us.len() * 2
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn nearest(values: &[u64], v: u64) -> usize {
        // Nearest on a log scale: the grids are geometric.
        let lv = (v.max(1) as f64).ln();
        (0..values.len())
            .min_by(|&a, &b| {
                let da = ((values[a].max(1) as f64).ln() - lv).abs();
                let db = ((values[b].max(1) as f64).ln() - lv).abs();
                da.total_cmp(&db)
            })
            .unwrap_or(0)
    }
}

/// What the learner knows of one (level, config): the `configs` table's row.
#[derive(Debug, Clone, PartialEq)]
pub struct ConfigStats {
    pub ema_score: f64,
    pub ema_p99_us: f64,
    pub observations: u64,
    pub regressions: u64,
    pub budget_violations: u64,
    pub last_ts_ms: i64,
    pub last_regression_ts_ms: Option<i64>,
    /// Whether its latest window broke the budget (not stored: a loaded
    /// config is judged by its EMA p99 against the budget).
    pub last_violated: bool,
}

impl ConfigStats {
    fn eligible(&self) -> bool {
        self.ema_score > 0.0 && !self.last_violated
    }
}

/// The best row of a level, as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct BestRow {
    pub config: BatchConfig,
    pub score: f64,
    pub demotions: u64,
    pub updated_ts_ms: i64,
}

/// What a store holds, handed to `Learner::load`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Snapshot {
    pub configs: Vec<(PressureLevel, BatchConfig, ConfigStats)>,
    pub best: Vec<(PressureLevel, BestRow)>,
}

/// One level's learning state.
#[derive(Debug, Clone)]
pub struct LevelState {
    pub grid: Grid,
    pub configs: HashMap<BatchConfig, ConfigStats>,
    pub best: Option<BatchConfig>,
    pub demotions: u64,
    pub best_updated_ts_ms: i64,
    /// Regressions of the best in a row.
    best_streak: u32,
    /// Decaying maximum of the p99 wait beyond T: the send time, roughly.
    send_us: f64,
}

/// What the learner made of one window.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    /// False for a window that carried no information (nothing delivered):
    /// nothing was learned or is to be recorded.
    pub scored: bool,
    pub score: f64,
    pub regression: bool,
    pub budget_violation: bool,
    /// The best config was demoted by this window.
    pub demoted: bool,
    /// The best config after this window.
    pub best: BatchConfig,
    /// The config to run next for this level.
    pub next: BatchConfig,
}

/// See the module documentation.
#[derive(Debug, Clone)]
pub struct Learner {
    levels: Vec<LevelState>,
    rng: SplitMix64,
    explore: bool,
    explore_ratio: f64,
    target_latency_us: u64,
    batch_max_events: u64,
}

impl Learner {
    pub fn new(settings: &Settings, batch_max_events: u64) -> Learner {
        let seed = settings.seed.unwrap_or_else(|| {
            let t = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
            t.as_nanos() as u64 ^ (std::process::id() as u64) << 32
        });
        Learner {
            levels: PressureLevel::ALL
                .iter()
                .map(|&l| LevelState {
                    grid: Grid::for_level(l, batch_max_events),
                    configs: HashMap::new(),
                    best: None,
                    demotions: 0,
                    best_updated_ts_ms: 0,
                    best_streak: 0,
                    send_us: 0.0,
                })
                .collect(),
            rng: SplitMix64::new(seed),
            explore: settings.explore,
            explore_ratio: settings.explore_ratio.clamp(0.0, 1.0),
            target_latency_us: settings.target_latency_us,
            batch_max_events,
        }
    }

    pub fn level(&self, level: PressureLevel) -> &LevelState {
        &self.levels[level.number() as usize - 1]
    }

    fn level_mut(&mut self, level: PressureLevel) -> &mut LevelState {
        &mut self.levels[level.number() as usize - 1]
    }

    pub fn target_latency_us(&self) -> u64 {
        self.target_latency_us
    }

    /// Takes over what a store held. Loaded configs whose EMA p99 broke the
    /// budget are never made best.
    pub fn load(&mut self, snapshot: &Snapshot) {
        for (level, config, stats) in &snapshot.configs {
            let budget_us = level.budget_ms() as f64 * 1000.0;
            let mut stats = stats.clone();
            stats.last_violated = stats.ema_p99_us > budget_us;
            self.level_mut(*level).configs.insert(*config, stats);
        }
        for (level, row) in &snapshot.best {
            let budget_us = level.budget_ms() as f64 * 1000.0;
            let ls = self.level_mut(*level);
            let acceptable = ls.configs.get(&row.config).map_or(row.score > 0.0, |s| s.ema_p99_us <= budget_us);
            if acceptable {
                ls.best = Some(row.config);
            }
            ls.demotions = row.demotions;
            ls.best_updated_ts_ms = row.updated_ts_ms;
            if let Some(stats) = ls.configs.get(&row.config) {
                ls.send_us = (stats.ema_p99_us - row.config.interval_us as f64).max(0.0);
            }
        }
    }

    /// The config to load when entering `level`: its best, else its bootstrap.
    pub fn best_config(&self, level: PressureLevel) -> BatchConfig {
        let mut c = self.level(level).best.unwrap_or_else(|| BatchConfig::bootstrap(level, self.batch_max_events));
        c.batch_events = c.batch_events.clamp(1, self.batch_max_events.max(1));
        c
    }

    /// The EMA score of the level's best config, if it has one.
    pub fn best_score(&self, level: PressureLevel) -> Option<f64> {
        let ls = self.level(level);
        ls.best.and_then(|b| ls.configs.get(&b)).map(|s| s.ema_score)
    }

    /// Learns from one window; see the module documentation.
    pub fn observe(&mut self, report: &WindowReport) -> Outcome {
        let level = report.level;
        let Some(s) = score(report, self.target_latency_us) else {
            return Outcome {
                scored: false,
                score: 0.0,
                regression: false,
                budget_violation: false,
                demoted: false,
                best: self.best_config(level),
                next: report.config,
            };
        };
        let budget_us = level.budget_ms() * 1000;
        let p99 = report.latency.p99_us;
        let violation = p99 > budget_us;
        let cfg = report.config;
        let ls = self.level_mut(level);

        let beyond_t = p99.saturating_sub(cfg.interval_us) as f64;
        ls.send_us = beyond_t.max(ls.send_us * 0.8);

        let st = ls.configs.entry(cfg).or_insert(ConfigStats {
            ema_score: s,
            ema_p99_us: p99 as f64,
            observations: 0,
            regressions: 0,
            budget_violations: 0,
            last_ts_ms: report.ts_ms,
            last_regression_ts_ms: None,
            last_violated: false,
        });
        let regression = st.observations >= 2 && s < (1.0 - REGRESSION_DROP) * st.ema_score;
        if st.observations > 0 {
            st.ema_score = EMA_ALPHA * s + (1.0 - EMA_ALPHA) * st.ema_score;
            st.ema_p99_us = EMA_ALPHA * p99 as f64 + (1.0 - EMA_ALPHA) * st.ema_p99_us;
        }
        st.observations += 1;
        st.last_ts_ms = report.ts_ms;
        st.last_violated = violation;
        if regression {
            st.regressions += 1;
            st.last_regression_ts_ms = Some(report.ts_ms);
        }
        if violation {
            st.budget_violations += 1;
        }
        let (eligible, ema) = (st.eligible(), st.ema_score);

        let mut demoted = false;
        if ls.best == Some(cfg) {
            ls.best_streak = if regression { ls.best_streak + 1 } else { 0 };
            if violation || ls.best_streak >= DEMOTE_AFTER {
                ls.best = ls
                    .configs
                    .iter()
                    .filter(|(c, st)| **c != cfg && st.eligible())
                    .max_by(|a, b| a.1.ema_score.total_cmp(&b.1.ema_score))
                    .map(|(c, _)| *c);
                ls.demotions += 1;
                ls.best_streak = 0;
                ls.best_updated_ts_ms = report.ts_ms;
                demoted = true;
            }
        } else if eligible && ls.best.and_then(|b| ls.configs.get(&b)).map_or(true, |b| ema > b.ema_score) {
            ls.best = Some(cfg);
            ls.best_streak = 0;
            ls.best_updated_ts_ms = report.ts_ms;
        }

        let next = self.propose(level);
        Outcome {
            scored: true,
            score: s,
            regression,
            budget_violation: violation,
            demoted,
            best: self.best_config(level),
            next,
        }
    }

    /// The largest T exploration may try at `level` (see the module doc).
    pub fn t_cap_us(&self, level: PressureLevel) -> u64 {
        let ls = self.level(level);
        let budget = (level.budget_ms() * 1000) as f64;
        (budget - 1.25 * ls.send_us).min(budget / std::f64::consts::SQRT_2).max(0.0).round() as u64
    }

    /// The next config to try at `level`.
    pub fn propose(&mut self, level: PressureLevel) -> BatchConfig {
        let best = self.best_config(level);
        if !self.explore {
            return best;
        }
        let t_cap = self.t_cap_us(level);
        let grid = self.level(level).grid.clone();
        // Indexes of T allowed under the cap (at least the smallest).
        let t_top = grid.t_us.iter().rposition(|&t| t <= t_cap).unwrap_or(0);
        let clamp_cfg = |n_i: usize, t_i: usize, idle: bool| BatchConfig {
            batch_events: grid.n[n_i.min(grid.n.len() - 1)].min(self.batch_max_events.max(1)),
            interval_us: grid.t_us[t_i.min(t_top)],
            idle_flush: idle,
        };
        if self.rng.next_f64() < self.explore_ratio {
            // A few draws, to prefer a config not seen yet.
            let mut c = best;
            for _ in 0..4 {
                let n_i = self.rng.below(grid.n.len());
                let t_i = self.rng.below(t_top + 1);
                let idle = self.rng.next_u64() & 1 == 1;
                c = clamp_cfg(n_i, t_i, idle);
                if !self.level(level).configs.contains_key(&c) {
                    break;
                }
            }
            return c;
        }
        if self.rng.next_f64() < 0.25 && best.interval_us <= t_cap.max(grid.t_us[0]) {
            return best;
        }
        let n0 = Grid::nearest(&grid.n, best.batch_events);
        let t0 = Grid::nearest(&grid.t_us, best.interval_us).min(t_top);
        let step = |rng: &mut SplitMix64, i: usize, len: usize, max_step: usize| -> usize {
            let d = 1 + rng.below(max_step);
            if rng.next_u64() & 1 == 1 {
                (i + d).min(len - 1)
            } else {
                i.saturating_sub(d)
            }
        };
        // Neighbours not seen yet first (a coordinate search), else the one
        // seen least.
        let mut pick: Option<(BatchConfig, u64)> = None;
        for _ in 0..12 {
            let (mut n_i, mut t_i, mut idle) = (n0, t0, best.idle_flush);
            match self.rng.below(4) {
                0 => n_i = step(&mut self.rng, n0, grid.n.len(), 3),
                1 => t_i = step(&mut self.rng, t0, t_top + 1, 2),
                2 => idle = !idle,
                _ => {
                    n_i = step(&mut self.rng, n0, grid.n.len(), 2);
                    t_i = step(&mut self.rng, t0, t_top + 1, 1);
                }
            }
            let c = clamp_cfg(n_i, t_i, idle);
            if c == best {
                continue;
            }
            let seen = self.level(level).configs.get(&c).map_or(0, |s| s.observations);
            if seen == 0 {
                return c;
            }
            if pick.map_or(true, |(_, n)| seen < n) {
                pick = Some((c, seen));
            }
        }
        pick.map_or(best, |(c, _)| c)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::calibration::{CloseReasons, Latency};
    use PressureLevel::*;

    fn settings(seed: u64) -> Settings {
        Settings { seed: Some(seed), path: ":memory:".into(), ..Settings::default() }
    }

    fn window(level: PressureLevel, config: BatchConfig, busy_ns_per_event: f64, p99_us: u64, ts: i64) -> WindowReport {
        WindowReport {
            ts_ms: ts,
            level,
            config,
            window_us: 10_000_000,
            offered_per_sec: 1000.0,
            delivered_per_sec: 1000.0,
            frames: 100,
            closed_by: CloseReasons { time: 100, ..CloseReasons::default() },
            mean_frame_events: 10.0,
            mean_frame_bytes: 1000.0,
            latency: Latency { p50_us: p99_us / 2, p99_us, p999_us: p99_us, max_us: p99_us },
            busy_ns_per_event,
            flush_threads: 1,
        }
    }

    fn cfg(n: u64, t: u64) -> BatchConfig {
        BatchConfig { batch_events: n, interval_us: t, idle_flush: false }
    }

    #[test]
    fn grids_stay_inside_the_budget_and_the_caps() {
        for level in PressureLevel::ALL {
            let g = Grid::for_level(level, 1_000_000);
            let budget = level.budget_ms() * 1000;
            assert!(g.t_us.windows(2).all(|w| w[0] < w[1]) && g.n.windows(2).all(|w| w[0] < w[1]));
            assert!(*g.t_us.last().unwrap() < budget * 3 / 4, "{level}: T leaves room for the send");
            assert!(g.t_us[0] >= 20);
            assert_eq!(*g.n.last().unwrap(), level.bootstrap(1_000_000).max_events);
            assert_eq!(g.n[0], 1);
            assert_eq!(g.configs().count(), g.len());
            // The bootstrap T (half the budget) is on the grid.
            assert!(g.t_us.contains(&(budget / 2)), "{level}");
        }
        assert_eq!(*Grid::for_level(L10Max, 5000).n.last().unwrap(), 5000);
    }

    #[test]
    fn without_observations_the_best_is_the_bootstrap() {
        let l = Learner::new(&settings(1), 1_000_000);
        for level in PressureLevel::ALL {
            assert_eq!(l.best_config(level), BatchConfig::bootstrap(level, 1_000_000));
        }
    }

    #[test]
    fn a_better_config_becomes_best_and_ema_smooths() {
        let mut l = Learner::new(&settings(1), 1_000_000);
        let a = cfg(64, 50_000);
        let b = cfg(128, 50_000);
        let o = l.observe(&window(L5Balanced, a, 1000.0, 60_000, 1));
        assert!(o.scored && o.score > 0.0);
        assert_eq!(o.best, a);
        let o = l.observe(&window(L5Balanced, b, 500.0, 60_000, 2));
        assert_eq!(o.best, b, "twice the capacity at the same latency");
        let before = l.level(L5Balanced).configs[&b].ema_score;
        l.observe(&window(L5Balanced, b, 600.0, 60_000, 3));
        let after = l.level(L5Balanced).configs[&b].ema_score;
        let s = score(&window(L5Balanced, b, 600.0, 60_000, 3), 5_000).unwrap();
        assert!((after - (EMA_ALPHA * s + (1.0 - EMA_ALPHA) * before)).abs() < 1e-9);
        assert_eq!(l.level(L5Balanced).configs[&b].observations, 2);
    }

    #[test]
    fn a_config_breaking_the_budget_is_never_best() {
        let mut l = Learner::new(&settings(1), 1_000_000);
        // Very cheap but 101 ms at a 100 ms budget.
        let o = l.observe(&window(L5Balanced, cfg(1024, 70_000), 1.0, 101_000, 1));
        assert!(o.budget_violation && o.score == 0.0);
        assert_eq!(o.best, BatchConfig::bootstrap(L5Balanced, 1_000_000));
        // The best breaking the budget is demoted at once.
        let good = cfg(64, 50_000);
        l.observe(&window(L5Balanced, good, 1000.0, 60_000, 2));
        let o = l.observe(&window(L5Balanced, good, 1000.0, 120_000, 3));
        assert!(o.demoted);
        assert_ne!(o.best, good);
    }

    #[test]
    fn regressions_are_counted_and_a_regressing_best_is_demoted() {
        let mut l = Learner::new(&settings(1), 1_000_000);
        let best = cfg(64, 50_000);
        let other = cfg(32, 50_000);
        l.observe(&window(L5Balanced, other, 2000.0, 60_000, 1));
        for ts in 2..5 {
            l.observe(&window(L5Balanced, best, 1000.0, 60_000, ts));
        }
        assert_eq!(l.best_config(L5Balanced), best);
        // 5% worse: noise, not a regression.
        let o = l.observe(&window(L5Balanced, best, 1050.0, 60_000, 5));
        assert!(!o.regression);
        // 30% worse, twice in a row: regression, then demotion.
        let o = l.observe(&window(L5Balanced, best, 1430.0, 60_000, 6));
        assert!(o.regression && !o.demoted);
        assert_eq!(o.best, best);
        let o = l.observe(&window(L5Balanced, best, 1900.0, 60_000, 7));
        assert!(o.regression && o.demoted);
        assert_eq!(o.best, other);
        let st = &l.level(L5Balanced).configs[&best];
        assert_eq!((st.regressions, st.last_regression_ts_ms), (2, Some(7)));
        assert_eq!(l.level(L5Balanced).demotions, 1);
    }

    #[test]
    fn exploration_is_reproducible_and_stays_on_the_grid_under_the_cap() {
        let run = |seed| {
            let mut l = Learner::new(&settings(seed), 1_000_000);
            (0..200).map(|_| l.propose(L4Moderate)).collect::<Vec<_>>()
        };
        let a = run(42);
        assert_eq!(a, run(42));
        assert_ne!(a, run(43));
        let l = Learner::new(&settings(42), 1_000_000);
        let g = &l.level(L4Moderate).grid;
        let cap = l.t_cap_us(L4Moderate);
        for c in &a {
            assert!(g.n.contains(&c.batch_events) && g.t_us.contains(&c.interval_us), "{c:?}");
            assert!(c.interval_us <= cap);
        }
        let distinct: std::collections::HashSet<_> = a.iter().collect();
        assert!(distinct.len() > 20, "explores: {} distinct configs", distinct.len());
        assert!(a.iter().any(|c| c.idle_flush) && a.iter().any(|c| !c.idle_flush));
    }

    #[test]
    fn the_send_time_seen_lowers_the_t_cap() {
        let mut l = Learner::new(&settings(3), 1_000_000);
        let before = l.t_cap_us(L3Low);
        assert_eq!(before, 7_071);
        // T = 2 ms and p99 = 6 ms: the send took about 4 ms.
        l.observe(&window(L3Low, cfg(16, 2_000), 1000.0, 6_000, 1));
        assert_eq!(l.t_cap_us(L3Low), 5_000);
        for _ in 0..100 {
            assert!(l.propose(L3Low).interval_us <= 5_000);
        }
    }

    #[test]
    fn explore_false_only_exploits() {
        let mut l = Learner::new(&Settings { explore: false, ..settings(1) }, 1_000_000);
        let good = cfg(64, 50_000);
        let o = l.observe(&window(L5Balanced, good, 1000.0, 60_000, 1));
        assert_eq!(o.next, good);
        for _ in 0..50 {
            assert_eq!(l.propose(L5Balanced), good);
        }
    }

    #[test]
    fn windows_without_deliveries_teach_nothing() {
        let mut l = Learner::new(&settings(1), 1_000_000);
        let mut w = window(L2Fast, cfg(4, 1000), 1000.0, 2_000, 1);
        w.delivered_per_sec = 0.0;
        let o = l.observe(&w);
        assert!(!o.scored);
        assert_eq!(o.next, w.config);
        assert!(l.level(L2Fast).configs.is_empty());
    }

    #[test]
    fn loading_restores_best_but_not_one_breaking_the_budget() {
        let mut a = Learner::new(&settings(1), 1_000_000);
        let good = cfg(64, 50_000);
        a.observe(&window(L5Balanced, good, 1000.0, 60_000, 1));
        let stats = a.level(L5Balanced).configs[&good].clone();
        let mut bad = stats.clone();
        bad.ema_p99_us = 2_000.0; // L1's budget is 1 ms
        let snapshot = Snapshot {
            configs: vec![(L5Balanced, good, stats.clone()), (L1Realtime, cfg(8, 500), bad)],
            best: vec![
                (L5Balanced, BestRow { config: good, score: stats.ema_score, demotions: 2, updated_ts_ms: 1 }),
                (L1Realtime, BestRow { config: cfg(8, 500), score: 10.0, demotions: 0, updated_ts_ms: 1 }),
            ],
        };
        let mut b = Learner::new(&settings(1), 1_000_000);
        b.load(&snapshot);
        assert_eq!(b.best_config(L5Balanced), good);
        assert_eq!(b.level(L5Balanced).demotions, 2);
        assert_eq!(b.best_config(L1Realtime), BatchConfig::bootstrap(L1Realtime, 1_000_000));
    }
}
