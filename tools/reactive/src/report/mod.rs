//! The reporting side of a brochure run: `.hgrm` percentile files, the
//! verdict on budgets and on the baseline, `results.json`, `report.md`, the
//! SVG charts and the terminal's side-by-side table.
//!
//! The runner measures and fills `Results`; everything a reader sees about a
//! run is decided here, so the terminal, the report and the exit code agree.

mod charts;
mod compare;
mod hgrm;
mod markdown;
mod table;

use compare::{compare, Comparison};
// The runner's API; `read_hgrm` is there for scripts and tools that plot
// a cell's file, whether or not the command calls it.
#[allow(unused_imports)]
pub use hgrm::{latency_of, read_hgrm, write_hgrm};
pub use table::side_by_side_table;

use crate::brochure::Thresholds;
use crate::results::{Results, Run, SCHEMA_VERSION};
use std::path::{Path, PathBuf};

/// What a run concluded: `bench brochure run` exits non-zero when `failures`
/// is not empty.
#[derive(Debug, Clone, Default)]
pub struct Verdict {
    /// Every failed check, one sentence each: budgets (when the brochure's
    /// thresholds check them) and regressions against the baseline.
    pub failures: Vec<String>,
    /// The regressions alone (also in `failures`).
    pub regressions: Vec<String>,
    /// The `report.md` written.
    pub report: PathBuf,
    /// The SVG charts written.
    pub charts: Vec<PathBuf>,
}

/// Fills each run's `budget_pass` (p99 within `budget_us`; true without a
/// budget; false for a cell with a budget and no latency sample) and
/// `ratio_to_bulk` (achieved events/s over the achieved events/s of the run
/// with mode `bulk`, same implementation and level; None when there is no
/// such run or it delivered nothing).
pub fn judge(results: &mut Results) {
    let bulk: Vec<(String, String, f64)> = results
        .runs
        .iter()
        .filter(|r| r.mode == "bulk")
        .map(|r| (r.implementation.clone(), r.level.clone(), r.achieved_events_per_sec))
        .collect();
    for run in &mut results.runs {
        run.budget_pass = within_budget(run);
        run.ratio_to_bulk = bulk
            .iter()
            .find(|(implementation, level, _)| *implementation == run.implementation && *level == run.level)
            .and_then(|(_, _, achieved)| (*achieved > 0.0).then(|| run.achieved_events_per_sec / achieved));
    }
}

fn within_budget(run: &Run) -> bool {
    match run.budget_us {
        Some(_) if unmeasured(run) => false,
        Some(budget) => run.latency.p99_us <= budget as f64,
        None => true,
    }
}

/// A cell with no latency sample: its budget cannot be said to hold.
pub(crate) fn unmeasured(run: &Run) -> bool {
    run.latency.count == 0 && run.latency.p99_us == 0.0
}

/// Loads a `results.json`; one written under another schema version is an
/// error that says which (its fields may mean something else).
pub fn load_results(path: &Path) -> Result<Results, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let value: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| format!("{}: not JSON: {e}", path.display()))?;
    match value.get("schema_version").and_then(|v| v.as_u64()) {
        Some(v) if v == SCHEMA_VERSION as u64 => {}
        Some(v) => {
            return Err(format!(
                "{}: schema_version {v}, this reactive reads {SCHEMA_VERSION}; run the brochure again for a comparable baseline",
                path.display()
            ))
        }
        None => return Err(format!("{}: no schema_version: not a brochure's results.json", path.display())),
    }
    serde_json::from_value(value).map_err(|e| format!("{}: {e}", path.display()))
}

/// The failed checks of `results` (already judged) and of the comparison.
fn verdict_lines(results: &Results, comparison: Option<&Comparison>, thresholds: &Thresholds) -> (Vec<String>, Vec<String>) {
    let mut failures = Vec::new();
    if thresholds.budget {
        for run in results.runs.iter().filter(|r| !r.budget_pass) {
            if unmeasured(run) {
                failures.push(format!("{} ({}): no latency measured, its budget cannot be checked", run.name, run.implementation));
                continue;
            }
            failures.push(format!(
                "{} ({}): p99 {} over its budget {}",
                run.name,
                run.implementation,
                table::micros(run.latency.p99_us),
                table::micros(run.budget_us.unwrap_or(0) as f64)
            ));
        }
    }
    let regressions: Vec<String> = comparison.map(|c| c.regressions()).unwrap_or_default();
    failures.extend(regressions.iter().cloned());
    (failures, regressions)
}

/// Writes `results.json`, `report.md` and `charts/*.svg` into `dir` (created
/// when missing), comparing with `baseline` when given, and returns the
/// verdict. The results are judged again here, so the files agree with the
/// verdict even when the caller did not call `judge`.
pub fn write_report(
    results: &Results,
    dir: &Path,
    baseline: Option<&Results>,
    thresholds: &Thresholds,
) -> Result<Verdict, String> {
    write_report_with_failed_cells(results, dir, baseline, thresholds, &[])
}

/// `write_report` for a run some of whose cells could not run at all (one
/// message each, e.g. "adaptive/L3_LOW (java): the JVM exited with 1"):
/// they open the checks table as failures and join `Verdict::failures`, so
/// report.md and the exit code agree.
pub fn write_report_with_failed_cells(
    results: &Results,
    dir: &Path,
    baseline: Option<&Results>,
    thresholds: &Thresholds,
    failed_cells: &[String],
) -> Result<Verdict, String> {
    let mut results = results.clone();
    finite_only(&mut results);
    judge(&mut results);
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;

    let json = serde_json::to_string_pretty(&results).map_err(|e| format!("results.json: {e}"))?;
    let json_path = dir.join("results.json");
    std::fs::write(&json_path, json + "\n").map_err(|e| format!("cannot write {}: {e}", json_path.display()))?;

    let comparison = baseline.map(|b| compare(b, &results, thresholds));
    remove_old_charts(dir)?;
    let drawn = charts::draw_all(&results, dir)?;
    let (mut failures, regressions) = verdict_lines(&results, comparison.as_ref(), thresholds);
    failures.splice(0..0, failed_cells.iter().map(|e| format!("cell failed: {e}")));

    let report = dir.join("report.md");
    let text = markdown::render(&results, comparison.as_ref(), thresholds, &drawn, failed_cells);
    std::fs::write(&report, text).map_err(|e| format!("cannot write {}: {e}", report.display()))?;

    Ok(Verdict { failures, regressions, report, charts: drawn.charts.iter().map(|c| dir.join(&c.file)).collect() })
}

/// A previous run's charts (its levels may have been others): the folder
/// holds only this run's.
fn remove_old_charts(dir: &Path) -> Result<(), String> {
    let charts = dir.join("charts");
    let Ok(entries) = std::fs::read_dir(&charts) else { return Ok(()) };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.extension().is_some_and(|e| e == "svg") {
            std::fs::remove_file(&path).map_err(|e| format!("cannot remove {}: {e}", path.display()))?;
        }
    }
    Ok(())
}

/// JSON has no NaN or infinity (serde_json writes them as null, which then
/// does not read back): a figure that is not finite (a rate over a zero
/// duration) becomes 0, or absent when optional, and the cell's note says so.
fn finite_only(results: &mut Results) {
    for run in &mut results.runs {
        let mut fixed: Vec<&str> = Vec::new();
        let mut zero = |v: &mut f64, name: &'static str| {
            if !v.is_finite() {
                *v = 0.0;
                fixed.push(name);
            }
        };
        zero(&mut run.achieved_events_per_sec, "achieved_events_per_sec");
        zero(&mut run.mb_per_sec, "mb_per_sec");
        let l = &mut run.latency;
        for (v, name) in [
            (&mut l.p50_us, "p50_us"),
            (&mut l.p90_us, "p90_us"),
            (&mut l.p99_us, "p99_us"),
            (&mut l.p999_us, "p999_us"),
            (&mut l.p9999_us, "p9999_us"),
            (&mut l.max_us, "max_us"),
        ] {
            zero(v, name);
        }
        for (v, name) in [
            (&mut run.offered_events_per_sec, "offered_events_per_sec"),
            (&mut run.wire_bytes_per_sec, "wire_bytes_per_sec"),
            (&mut run.cpu_ms_per_million, "cpu_ms_per_million"),
            (&mut run.schedule_delay_p50_us, "schedule_delay_p50_us"),
            (&mut run.ratio_to_bulk, "ratio_to_bulk"),
        ] {
            if v.is_some_and(|x| !x.is_finite()) {
                *v = None;
                fixed.push(name);
            }
        }
        if !fixed.is_empty() {
            let said = format!("not finite, left out: {}", fixed.join(", "));
            run.note = Some(match run.note.take() {
                Some(n) => format!("{n}; {said}"),
                None => said,
            });
        }
    }
    for t in &mut results.timelines {
        t.points.retain(|p| p.t_s.is_finite() && p.achieved_events_per_sec.is_finite() && p.p99_us.is_finite());
        for p in &mut t.points {
            if p.offered_events_per_sec.is_some_and(|x| !x.is_finite()) {
                p.offered_events_per_sec = None;
            }
        }
    }
}

/// The order rows are shown in: by level number (L1 first), then anything
/// without a level (steps, `auto`) in the order the runs came.
pub(crate) fn level_number(level: &str) -> Option<u32> {
    microbatch::pressure::PressureLevel::parse(level).map(|l| l.number())
}

/// A cell's row: the part of its name after the variant (`L5_HIGH`, a step's
/// name), or its level when the name has no `/`.
pub(crate) fn row_key(run: &Run) -> String {
    match run.name.split_once('/') {
        Some((_, rest)) if !rest.is_empty() => rest.to_string(),
        _ => run.level.clone(),
    }
}

/// The distinct row keys of `runs`, ordered by level then first appearance.
pub(crate) fn row_keys(runs: &[Run]) -> Vec<String> {
    let mut keys: Vec<(String, Option<u32>, usize)> = Vec::new();
    for (i, run) in runs.iter().enumerate() {
        let key = row_key(run);
        if !keys.iter().any(|(k, _, _)| *k == key) {
            keys.push((key.clone(), level_number(&key).or_else(|| level_number(&run.level)), i));
        }
    }
    keys.sort_by_key(|(_, level, first)| (level.is_none(), level.unwrap_or(0), *first));
    keys.into_iter().map(|(k, _, _)| k).collect()
}

/// The distinct (impl, variant) series of `runs`, in run order.
pub(crate) fn series(runs: &[Run]) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for run in runs {
        let s = (run.implementation.clone(), run.variant.clone());
        if !out.contains(&s) {
            out.push(s);
        }
    }
    out
}

#[cfg(test)]
pub(crate) mod fixture;

#[cfg(test)]
mod tests;
