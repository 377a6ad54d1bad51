//! `report.md`: the verdict first (k6 style, one row per check), then the
//! figures, the comparison with the baseline, the charts and the environment.

use super::charts::Drawn;
use super::compare::{pct, Comparison};
use super::table::{micros, rate};
use super::{row_keys, row_key};
use crate::brochure::Thresholds;
use crate::results::{Results, Run};
use std::fmt::Write as _;

const PASS: &str = "✓";
const FAIL: &str = "✗";

fn opt<T>(v: Option<T>, f: impl Fn(T) -> String) -> String {
    v.map(f).unwrap_or_else(|| "-".into())
}

/// Text made safe for a Markdown table cell (an error message may hold `|`
/// or a line break).
fn cell(text: &str) -> String {
    text.replace('|', "\\|").replace('\n', " ")
}

/// Bytes per second in MB/s (10^6, as kafka-producer-perf-test prints).
fn mb(bytes_per_sec: f64) -> String {
    format!("{:.2}", bytes_per_sec / 1e6)
}

/// Runs in the table's order: by level (or step), then run order.
fn ordered(results: &Results) -> Vec<&Run> {
    let keys = row_keys(&results.runs);
    let mut runs: Vec<&Run> = results.runs.iter().collect();
    runs.sort_by_key(|r| keys.iter().position(|k| *k == row_key(r)));
    runs
}

/// The report's text.
pub fn render(results: &Results, comparison: Option<&Comparison>, thresholds: &Thresholds, drawn: &Drawn, failed_cells: &[String]) -> String {
    let mut md = String::new();
    let _ = writeln!(md, "# Brochure `{}`\n", results.brochure);
    let _ = writeln!(
        md,
        "Run started {} on commit `{}`, broker `{}`{}.\n",
        results.started_at,
        results.environment.commit.as_deref().unwrap_or("unknown"),
        results.environment.broker,
        if results.quick { ", **quick** (shortened warm-up and durations: figures are indicative only)" } else { "" }
    );
    checks(&mut md, results, comparison, thresholds, failed_cells);
    figures(&mut md, results);
    baseline(&mut md, comparison);
    chart_links(&mut md, drawn);
    environment(&mut md, results);
    md
}

/// The pass/fail table: the overall line, then one row per check.
fn checks(md: &mut String, results: &Results, comparison: Option<&Comparison>, thresholds: &Thresholds, failed_cells: &[String]) {
    let mut rows: Vec<(bool, String, String)> = Vec::new();
    for e in failed_cells {
        rows.push((false, "cell ran".into(), format!("failed: {e}")));
    }
    for run in ordered(results) {
        if let Some(budget) = run.budget_us {
            let ok = run.budget_pass;
            let sign = if ok { "<=" } else { ">" };
            let mut what = if super::unmeasured(run) {
                format!("no latency measured (0 samples), budget {}", micros(budget as f64))
            } else {
                format!("p99 {} {sign} budget {}", micros(run.latency.p99_us), micros(budget as f64))
            };
            if !thresholds.budget {
                what.push_str(" (not enforced by this brochure)");
            }
            rows.push((ok || !thresholds.budget, format!("{} ({}) budget", run.name, run.implementation), what));
        }
    }
    if let Some(c) = comparison {
        for cell in &c.cells {
            rows.push((
                !cell.throughput_regressed,
                format!("{} ({}) events/s vs baseline", cell.name, cell.implementation),
                format!("{} >= -{}%", pct(cell.events_change_pct), c.regression_pct),
            ));
            rows.push((
                !cell.latency_regressed,
                format!("{} ({}) p99 vs baseline", cell.name, cell.implementation),
                format!("{} <= +{}%", pct(cell.p99_change_pct), c.latency_regression_pct),
            ));
        }
    }
    let failed = rows.iter().filter(|(ok, _, _)| !ok).count();
    if failed == 0 {
        let _ = writeln!(md, "**PASS**: {} checks passed.\n", rows.len());
    } else {
        let _ = writeln!(md, "**FAIL**: {failed} of {} checks failed.\n", rows.len());
    }
    md.push_str("## Checks\n\n");
    if rows.is_empty() {
        md.push_str("No checks: no cell has a budget and there is no baseline.\n\n");
        return;
    }
    md.push_str("| | check | measured |\n|---|---|---|\n");
    for (ok, check, what) in rows {
        let _ = writeln!(md, "| {} | {} | {} |", if ok { PASS } else { FAIL }, cell(&check), cell(&what));
    }
    md.push('\n');
}

/// Every cell's figures.
fn figures(md: &mut String, results: &Results) {
    md.push_str("## Results\n\n");
    md.push_str(
        "Latency is the wait from the intended submit time to the acknowledgement (coordinated omission \
         accounted for when the load is scheduled). MB/s counts event payload bytes; wire bytes/s what reached \
         the broker after framing and compression. The ratio to BULK is achieved events/s over the same \
         implementation's BULK cell at the same level.\n\n",
    );
    if results.runs.is_empty() {
        md.push_str("No cells ran.\n\n");
        return;
    }
    md.push_str(
        "| impl | variant | level | offered ev/s | achieved ev/s | MB/s | wire MB/s | CPU ms / M ev | p50 | p99 | p99.9 | max | budget | to BULK | lost |\n\
         |---|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|---|--:|--:|\n",
    );
    for r in ordered(results) {
        let l = &r.latency;
        let budget = match r.budget_us {
            Some(b) => format!("{} {}", micros(b as f64), if r.budget_pass { PASS } else { FAIL }),
            None => "-".into(),
        };
        let _ = writeln!(
            md,
            "| {} | {} | {} | {} | {} | {:.2} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            cell(&r.implementation),
            cell(&r.variant),
            cell(&row_key(r)),
            opt(r.offered_events_per_sec, rate),
            rate(r.achieved_events_per_sec),
            r.mb_per_sec,
            opt(r.wire_bytes_per_sec, mb),
            opt(r.cpu_ms_per_million, |c| format!("{c:.0}")),
            micros(l.p50_us),
            micros(l.p99_us),
            micros(l.p999_us),
            micros(l.max_us),
            budget,
            opt(r.ratio_to_bulk, |x| format!("{x:.2}x")),
            r.failed + r.rejected,
        );
    }
    md.push_str("\n`lost` counts events failed or refused; every submitted event is delivered, failed, refused or still pending.\n");
    let notes: Vec<&Run> = results.runs.iter().filter(|r| r.note.is_some()).collect();
    if !notes.is_empty() {
        md.push('\n');
        for r in notes {
            let _ = writeln!(md, "- `{}` ({}): {}", r.name, r.implementation, r.note.as_deref().unwrap_or(""));
        }
    }
    md.push('\n');
}

/// The comparison with the baseline, with the thresholds stated.
fn baseline(md: &mut String, comparison: Option<&Comparison>) {
    md.push_str("## Against the baseline\n\n");
    let Some(c) = comparison else {
        md.push_str("No baseline: this is the brochure's first run here (or none was named). The next run compares with this one.\n\n");
        return;
    };
    let _ = writeln!(
        md,
        "Baseline: the run of {} on commit `{}`. Noise threshold: a cell regresses when its achieved events/s \
         falls by more than {}% or its p99 rises by more than {}% (the brochure's `regression_pct` and \
         `latency_regression_pct`); smaller changes are within this machine's run-to-run noise and not flagged.\n",
        c.baseline_started_at,
        c.baseline_commit.as_deref().unwrap_or("unknown"),
        c.regression_pct,
        c.latency_regression_pct
    );
    if c.quick_differs {
        md.push_str("One of the two runs used `--quick` and the other did not: the figures are not like for like.\n\n");
    }
    if !c.cells.is_empty() {
        md.push_str("| cell | impl | events/s before | after | change | p99 before | after | change | |\n|---|---|--:|--:|--:|--:|--:|--:|---|\n");
        for cell in &c.cells {
            let flag = match (cell.throughput_regressed, cell.latency_regressed) {
                (true, true) => format!("{FAIL} slower and later"),
                (true, false) => format!("{FAIL} slower"),
                (false, true) => format!("{FAIL} later"),
                (false, false) => String::new(),
            };
            let _ = writeln!(
                md,
                "| {} | {} | {} | {} | {} | {} | {} | {} | {flag} |",
                cell.name,
                cell.implementation,
                rate(cell.baseline_events_per_sec),
                rate(cell.events_per_sec),
                pct(cell.events_change_pct),
                micros(cell.baseline_p99_us),
                micros(cell.p99_us),
                pct(cell.p99_change_pct),
            );
        }
        md.push('\n');
    }
    if !c.only_in_run.is_empty() {
        let _ = writeln!(md, "New cells, not compared: {}.\n", c.only_in_run.join(", "));
    }
    if !c.only_in_baseline.is_empty() {
        let _ = writeln!(md, "Cells of the baseline this run did not have: {}.\n", c.only_in_baseline.join(", "));
    }
}

fn chart_links(md: &mut String, drawn: &Drawn) {
    md.push_str("## Charts\n\n");
    if drawn.charts.is_empty() {
        md.push_str("No charts: no cell delivered figures to draw.\n\n");
    }
    for c in &drawn.charts {
        let _ = writeln!(md, "- [{}]({}): {}", c.title, c.file, c.how_to_read);
    }
    for p in &drawn.problems {
        let _ = writeln!(md, "- Not drawn: {p}");
    }
    md.push('\n');
}

fn environment(md: &mut String, results: &Results) {
    let e = &results.environment;
    md.push_str("## Environment\n\n");
    let _ = writeln!(md, "- commit: `{}`", e.commit.as_deref().unwrap_or("unknown"));
    let _ = writeln!(md, "- CPUs: {}", e.cpus);
    let _ = writeln!(md, "- OS: {}", e.os);
    let _ = writeln!(md, "- rustc: {}", e.rustc.as_deref().unwrap_or("unknown"));
    let _ = writeln!(md, "- JDK: {}", e.jdk.as_deref().unwrap_or("none (no Java cell ran)"));
    let _ = writeln!(md, "- broker: {}", e.broker);
    let _ = writeln!(md, "- started: {}", results.started_at);
}
