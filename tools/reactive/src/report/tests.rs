//! The report from fixture results: verdicts, files, charts, the baseline.

use super::fixture;
use super::*;
use crate::brochure::Thresholds;

/// A fresh folder under the system's temporary directory.
fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("reactive-report-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn cell<'a>(results: &'a Results, name: &str, implementation: &str) -> &'a Run {
    results.runs.iter().find(|r| r.name == name && r.implementation == implementation).unwrap()
}

#[test]
fn judge_fills_budget_pass_and_ratio_to_bulk() {
    let mut results = fixture::java_vs_rust();
    results.runs.push(fixture::run("rust", "linger-5ms", "producer", "L3_LOW", 10, 1000.0, 50.0));
    results.runs.last_mut().unwrap().budget_us = None;
    judge(&mut results);

    let rust_adaptive = cell(&results, "adaptive/L5_BALANCED", "rust");
    assert!(rust_adaptive.budget_pass, "40 ms <= 100 ms");
    assert!((rust_adaptive.ratio_to_bulk.unwrap() - 0.8).abs() < 1e-9, "{:?}", rust_adaptive.ratio_to_bulk);
    let java_adaptive = cell(&results, "adaptive/L5_BALANCED", "java");
    assert!((java_adaptive.ratio_to_bulk.unwrap() - 0.8).abs() < 1e-9, "java compares with java's BULK");
    assert_eq!(cell(&results, "bulk/L10_MAX", "rust").ratio_to_bulk, Some(1.0));
    // Java's cells run at 2.5x Rust's p99: 1 ms x 0.4 x 2.5 = 1 ms passes (<=), BULK's 1.5 ms fails.
    assert!(cell(&results, "adaptive/L1_REALTIME", "java").budget_pass);
    assert!(!cell(&results, "bulk/L1_REALTIME", "java").budget_pass);
    let no_budget = cell(&results, "linger-5ms/L3_LOW", "rust");
    assert!(no_budget.budget_pass, "no budget passes");
    assert_eq!(no_budget.ratio_to_bulk, None, "no BULK cell at L3");
}

#[test]
fn judge_gives_no_ratio_against_a_bulk_cell_that_delivered_nothing() {
    let mut results = fixture::java_vs_rust();
    for r in results.runs.iter_mut().filter(|r| r.mode == "bulk" && r.implementation == "rust") {
        r.achieved_events_per_sec = 0.0;
    }
    judge(&mut results);
    assert_eq!(cell(&results, "adaptive/L5_BALANCED", "rust").ratio_to_bulk, None);
    assert!(cell(&results, "adaptive/L5_BALANCED", "java").ratio_to_bulk.is_some());
}

#[test]
fn write_report_writes_every_file_and_fails_the_missed_budget() {
    let results = fixture::java_vs_rust();
    let dir = temp_dir("files");
    let verdict = write_report(&results, &dir, None, &Thresholds::default()).unwrap();

    assert!(!verdict.passed());
    // Java's BULK cells run at 1.5x their budget at every level.
    assert_eq!(verdict.failures.len(), 3, "{:?}", verdict.failures);
    assert!(verdict.failures.iter().any(|f| f.starts_with("bulk/L1_REALTIME (java): p99 1.5ms over its budget 1.0ms")), "{:?}", verdict.failures);
    assert!(verdict.regressions.is_empty());

    let back = load_results(&dir.join("results.json")).unwrap();
    assert_eq!(back.runs.len(), results.runs.len());
    assert!(back.runs.iter().all(|r| r.ratio_to_bulk.is_some()), "results.json is judged");

    let md = std::fs::read_to_string(&verdict.report).unwrap();
    assert!(md.contains("**FAIL**: 3 of 12 checks failed."), "{md}");
    let checks = md.find("## Checks").unwrap();
    assert!(checks < md.find("## Results").unwrap(), "the verdict opens the report");
    assert!(md.contains("| ✗ | bulk/L1_REALTIME (java) budget | p99 1.5ms > budget 1.0ms |"), "{md}");
    assert!(md.contains("| ✓ | adaptive/L5_BALANCED (rust) budget | p99 40ms <= budget 100ms |"), "{md}");
    assert!(md.contains("| rust | adaptive | L5_BALANCED | 210k | 200k | 20.00 | 8.00 | 350 | 10ms | 40ms | 60ms | 120ms | 100ms ✓ | 0.80x | 0 |"), "{md}");
    assert!(md.contains("No baseline"), "{md}");
    for chart in &verdict.charts {
        assert!(chart.exists(), "{}", chart.display());
        let rel = chart.strip_prefix(&dir).unwrap().to_str().unwrap();
        assert!(md.contains(&format!("]({rel})")), "report links {rel}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn thresholds_without_budget_report_but_do_not_fail_budgets() {
    let results = fixture::java_vs_rust();
    let dir = temp_dir("nobudget");
    let thresholds = Thresholds { budget: false, ..Thresholds::default() };
    let verdict = write_report(&results, &dir, None, &thresholds).unwrap();
    assert!(verdict.passed(), "{:?}", verdict.failures);
    let md = std::fs::read_to_string(&verdict.report).unwrap();
    assert!(md.contains("**PASS**"), "{md}");
    assert!(md.contains("(not enforced by this brochure)"), "{md}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_three_times_slower_cell_regresses_and_a_small_change_does_not() {
    let baseline = fixture::java_vs_rust();
    let mut run = baseline.clone();
    run.started_at = "2026-12-08T19:00:00Z".into();
    for r in &mut run.runs {
        if r.name == "adaptive/L5_BALANCED" && r.implementation == "rust" {
            r.achieved_events_per_sec /= 3.0;
        }
        if r.name == "adaptive/L10_MAX" && r.implementation == "rust" {
            // Within the noise: 20% fewer events/s, 30% more p99.
            r.achieved_events_per_sec *= 0.8;
            r.latency.p99_us *= 1.3;
        }
    }
    run.runs.retain(|r| !(r.name == "bulk/L10_MAX" && r.implementation == "java"));
    run.runs.push(fixture::run("rust", "linger-5ms", "producer", "L5_BALANCED", 100, 1000.0, 500.0));

    let thresholds = Thresholds::default();
    let c = compare(&baseline, &run, &thresholds);
    let slower = c.cells.iter().find(|x| x.name == "adaptive/L5_BALANCED" && x.implementation == "rust").unwrap();
    assert!(slower.throughput_regressed && !slower.latency_regressed);
    assert!((slower.events_change_pct.unwrap() + 66.67).abs() < 0.01, "{:?}", slower.events_change_pct);
    let noisy = c.cells.iter().find(|x| x.name == "adaptive/L10_MAX" && x.implementation == "rust").unwrap();
    assert!(!noisy.regressed(), "{noisy:?}");
    assert_eq!(c.regressions().len(), 1, "{:?}", c.regressions());
    assert_eq!(c.only_in_run, vec!["linger-5ms/L5_BALANCED (rust)".to_string()]);
    assert_eq!(c.only_in_baseline, vec!["bulk/L10_MAX (java)".to_string()]);

    let dir = temp_dir("baseline");
    let verdict = write_report(&run, &dir, Some(&baseline), &Thresholds { budget: false, ..thresholds }).unwrap();
    assert_eq!(verdict.regressions.len(), 1, "{:?}", verdict.regressions);
    assert!(verdict.regressions[0].starts_with("adaptive/L5_BALANCED (rust): events/s 200k -> 66.7k (-66.7%), beyond the -50% threshold"), "{:?}", verdict.regressions);
    assert_eq!(verdict.failures, verdict.regressions, "budgets off: only the regression fails");
    let md = std::fs::read_to_string(&verdict.report).unwrap();
    assert!(md.contains("falls by more than 50% or its p99 rises by more than 100%"), "the noise threshold is stated: {md}");
    assert!(md.contains("Baseline: the run of 2026-12-07T19:00:00Z on commit `541a7f8`"), "{md}");
    assert!(md.contains("| adaptive/L5_BALANCED | rust | 200k | 66.7k | -66.7% | 40ms | 40ms | +0.0% | ✗ slower |"), "{md}");
    assert!(md.contains("New cells, not compared: linger-5ms/L5_BALANCED (rust)."), "{md}");
    assert!(md.contains("| ✗ | adaptive/L5_BALANCED (rust) events/s vs baseline | -66.7% >= -50% |"), "{md}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn load_results_refuses_another_schema_version() {
    let dir = temp_dir("schema");
    let path = dir.join("results.json");
    let mut value = serde_json::to_value(fixture::java_vs_rust()).unwrap();
    value["schema_version"] = serde_json::json!(SCHEMA_VERSION + 1);
    std::fs::write(&path, value.to_string()).unwrap();
    let err = load_results(&path).unwrap_err();
    assert!(err.contains(&format!("schema_version {}", SCHEMA_VERSION + 1)), "{err}");
    std::fs::write(&path, "{\"brochure\": \"x\"}").unwrap();
    assert!(load_results(&path).unwrap_err().contains("no schema_version"));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn side_by_side_table_puts_java_next_to_rust_within_120_columns() {
    let mut results = fixture::java_vs_rust();
    judge(&mut results);
    let table = side_by_side_table(&results);
    assert!(table.lines().all(|l| l.chars().count() <= 120), "{table}");
    let rows: Vec<&str> = table.lines().filter(|l| l.starts_with('L')).collect();
    assert_eq!(rows.len(), 3, "{table}");
    assert!(rows[0].starts_with("L1_REALTIME") && rows[2].starts_with("L10_MAX"), "levels in order: {table}");
    assert!(table.contains("rust/java    rust/java"), "{table}");
    // Rust delivers twice Java's events/s in the fixture.
    assert!(rows[1].contains("2.00x"), "{table}");
    assert!(rows[1].contains("200k") && rows[1].contains("40ms"), "{table}");
    assert!(rows[0].contains("1.5ms!"), "over budget is marked: {table}");
}

#[test]
fn side_by_side_table_wraps_many_variants() {
    let mut results = fixture::mixed_load();
    for v in ["a-long-variant-name", "another", "third", "fourth"] {
        results.runs.push(fixture::run("java", v, "fixed", "auto", 1, 10.0, 10.0));
    }
    judge(&mut results);
    let table = side_by_side_table(&results);
    assert!(table.lines().all(|l| l.chars().count() <= 120), "{table}");
    assert!(table.contains("java fourth"), "{table}");
}
