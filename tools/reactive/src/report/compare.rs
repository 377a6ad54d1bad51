//! A run against its baseline (the previous `results.json` of the same
//! brochure, or a named one): per cell, the change in achieved events/s and
//! in p99, flagged beyond the brochure's noise thresholds.

use crate::brochure::Thresholds;
use crate::results::{Results, Run};

/// One cell present in both runs.
#[derive(Debug, Clone)]
pub struct CellChange {
    pub name: String,
    pub implementation: String,
    pub baseline_events_per_sec: f64,
    pub events_per_sec: f64,
    /// Change in achieved events/s, percent (negative: slower). None when
    /// the baseline delivered nothing.
    pub events_change_pct: Option<f64>,
    pub baseline_p99_us: f64,
    pub p99_us: f64,
    /// Change in p99, percent (positive: slower). None when the baseline's
    /// p99 was zero.
    pub p99_change_pct: Option<f64>,
    /// Throughput fell by more than `regression_pct`.
    pub throughput_regressed: bool,
    /// p99 rose by more than `latency_regression_pct`.
    pub latency_regressed: bool,
}

/// The whole comparison.
#[derive(Debug, Clone)]
pub struct Comparison {
    /// The baseline's commit and start time, for the report's text.
    pub baseline_commit: Option<String>,
    pub baseline_started_at: String,
    /// The two runs differ in `--quick`: figures are not like for like.
    pub quick_differs: bool,
    /// The thresholds the changes were judged against.
    pub regression_pct: f64,
    pub latency_regression_pct: f64,
    pub cells: Vec<CellChange>,
    /// `name (impl)` of cells only the new run has.
    pub only_in_run: Vec<String>,
    /// `name (impl)` of cells only the baseline has.
    pub only_in_baseline: Vec<String>,
}

impl Comparison {
    /// One sentence per regressed cell (a cell can regress in both ways).
    pub fn regressions(&self) -> Vec<String> {
        let mut out = Vec::new();
        for c in &self.cells {
            if c.throughput_regressed {
                out.push(format!(
                    "{} ({}): events/s {} -> {} ({}), beyond the -{}% threshold",
                    c.name,
                    c.implementation,
                    super::table::rate(c.baseline_events_per_sec),
                    super::table::rate(c.events_per_sec),
                    pct(c.events_change_pct),
                    self.regression_pct
                ));
            }
            if c.latency_regressed {
                out.push(format!(
                    "{} ({}): p99 {} -> {} ({}), beyond the +{}% threshold",
                    c.name,
                    c.implementation,
                    super::table::micros(c.baseline_p99_us),
                    super::table::micros(c.p99_us),
                    pct(c.p99_change_pct),
                    self.latency_regression_pct
                ));
            }
        }
        out
    }
}

/// A signed percentage, or "n/a".
pub(crate) fn pct(change: Option<f64>) -> String {
    match change {
        Some(p) => format!("{p:+.1}%"),
        None => "n/a".into(),
    }
}

fn change_pct(before: f64, after: f64) -> Option<f64> {
    (before > 0.0).then(|| (after - before) / before * 100.0)
}

fn key(run: &Run) -> (&str, &str) {
    (run.name.as_str(), run.implementation.as_str())
}

/// Matches cells by name and implementation; cells in only one run are
/// listed, never failed.
pub fn compare(baseline: &Results, run: &Results, thresholds: &Thresholds) -> Comparison {
    let mut cells = Vec::new();
    let mut only_in_run = Vec::new();
    for new in &run.runs {
        let Some(old) = baseline.runs.iter().find(|b| key(b) == key(new)) else {
            only_in_run.push(format!("{} ({})", new.name, new.implementation));
            continue;
        };
        let events_change_pct = change_pct(old.achieved_events_per_sec, new.achieved_events_per_sec);
        let p99_change_pct = change_pct(old.latency.p99_us, new.latency.p99_us);
        cells.push(CellChange {
            name: new.name.clone(),
            implementation: new.implementation.clone(),
            baseline_events_per_sec: old.achieved_events_per_sec,
            events_per_sec: new.achieved_events_per_sec,
            events_change_pct,
            baseline_p99_us: old.latency.p99_us,
            p99_us: new.latency.p99_us,
            p99_change_pct,
            throughput_regressed: events_change_pct.is_some_and(|p| p < -thresholds.regression_pct),
            latency_regressed: p99_change_pct.is_some_and(|p| p > thresholds.latency_regression_pct),
        });
    }
    let only_in_baseline = baseline
        .runs
        .iter()
        .filter(|b| !run.runs.iter().any(|r| key(r) == key(b)))
        .map(|b| format!("{} ({})", b.name, b.implementation))
        .collect();
    Comparison {
        baseline_commit: baseline.environment.commit.clone(),
        baseline_started_at: baseline.started_at.clone(),
        quick_differs: baseline.quick != run.quick,
        regression_pct: thresholds.regression_pct,
        latency_regression_pct: thresholds.latency_regression_pct,
        cells,
        only_in_run,
        only_in_baseline,
    }
}
