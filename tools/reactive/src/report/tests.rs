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

    assert!(!verdict.failures.is_empty());
    // Java's BULK cells run at 1.5x their budget at every level.
    assert_eq!(verdict.failures.len(), 3, "{:?}", verdict.failures);
    assert!(verdict.failures.iter().any(|f| f.starts_with("bulk/L1_REALTIME (java): p99 1.5ms over its budget 1ms")), "{:?}", verdict.failures);
    assert!(verdict.regressions.is_empty());

    let back = load_results(&dir.join("results.json")).unwrap();
    assert_eq!(back.runs.len(), results.runs.len());
    assert!(back.runs.iter().all(|r| r.ratio_to_bulk.is_some()), "results.json is judged");

    let md = std::fs::read_to_string(&verdict.report).unwrap();
    assert!(md.contains("**FAIL**: 3 of 12 checks failed."), "{md}");
    let checks = md.find("## Checks").unwrap();
    assert!(checks < md.find("## Results").unwrap(), "the verdict opens the report");
    assert!(md.contains("| ✗ | bulk/L1_REALTIME (java) budget | p99 1.5ms > budget 1ms |"), "{md}");
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
    assert!(verdict.failures.is_empty(), "{:?}", verdict.failures);
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
    assert!(!noisy.throughput_regressed && !noisy.latency_regressed, "{noisy:?}");
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
    assert!(table.contains("rust/java rust/java"), "{table}");
    // Rust delivers twice Java's events/s in the fixture.
    assert!(rows[1].contains("2.00x"), "{table}");
    assert!(rows[1].contains("200k") && rows[1].contains("40ms"), "{table}");
    assert!(rows[0].contains("1.5ms!"), "over budget is marked: {table}");
}

#[test]
fn side_by_side_table_fits_java_jni_and_rust_in_one_block() {
    let mut results = fixture::java_vs_rust();
    let jni: Vec<Run> = results.runs.iter().filter(|r| r.implementation == "rust").map(|r| Run { implementation: "rust-jni".into(), ..r.clone() }).collect();
    results.runs.extend(jni);
    results.runs.iter_mut().find(|r| r.name == "adaptive/L10_MAX" && r.implementation == "rust").unwrap().achieved_events_per_sec = 12_345_678.0;
    judge(&mut results);
    let table = side_by_side_table(&results);
    eprintln!("{table}");
    assert!(table.lines().all(|l| l.chars().count() <= 120), "{table}");
    assert_eq!(table.lines().filter(|l| l.starts_with("level")).count(), 1, "one block: {table}");
    let header: Vec<&str> = table.lines().take_while(|l| !l.starts_with("level")).collect();
    assert!(header.iter().any(|l| l.contains("rust-jni")), "{table}");
    assert_eq!(table.matches("rust/java").count(), 2, "no ratio for rust-jni: {table}");
    assert!(table.contains("12.35M"), "{table}");
}

#[test]
fn side_by_side_table_wraps_many_variants() {
    let mut results = fixture::mixed_load();
    for v in ["fixed-1000-1mib-100ms", "another", "third", "fourth", "a-variant-name-longer-than-any-column"] {
        results.runs.push(fixture::run("java", v, "fixed", "auto", 1, 10.0, 10.0));
    }
    judge(&mut results);
    let table = side_by_side_table(&results);
    assert!(table.lines().all(|l| l.chars().count() <= 120), "{table}");
    assert!(table.contains("fourth"), "{table}");
    assert!(table.contains(" fixed-1000-1mib-100ms"), "a long name keeps its column: {table}");
    assert!(table.contains(" a-variant-name-longer-t…"), "{table}");
}

/// Keeps a test's report folder for a look when REACTIVE_KEEP_TEST_REPORTS is set.
fn done_with(dir: &Path) {
    if std::env::var_os("REACTIVE_KEEP_TEST_REPORTS").is_some() {
        eprintln!("report kept in {}", dir.display());
    } else {
        let _ = std::fs::remove_dir_all(dir);
    }
}

fn svg(dir: &Path, file: &str) -> String {
    std::fs::read_to_string(dir.join(file)).unwrap_or_else(|e| panic!("{file}: {e}"))
}

/// The text of every `<text>` element: what a reader sees written.
fn texts(svg: &str) -> Vec<String> {
    svg.split("<text").skip(1).filter_map(|t| t.split_once('>').and_then(|(_, rest)| rest.split_once("</text>")).map(|(s, _)| s.trim().to_string())).collect()
}

#[test]
fn charts_have_titles_axes_legends_and_the_spectrum_nines() {
    let dir = temp_dir("charts");
    let mut results = fixture::java_jni_rust();
    fixture::with_hgrm_files(&mut results, &dir);
    let verdict = write_report(&results, &dir, None, &Thresholds::default()).unwrap();
    let names: Vec<String> = verdict.charts.iter().map(|c| c.strip_prefix(&dir).unwrap().display().to_string()).collect();
    assert_eq!(
        names,
        ["charts/throughput.svg", "charts/latency.svg", "charts/spectrum-L1_REALTIME.svg", "charts/spectrum-L5_BALANCED.svg", "charts/spectrum-L10_MAX.svg"]
    );

    let throughput = texts(&svg(&dir, "charts/throughput.svg"));
    for expected in ["java-vs-rust: throughput per level", "pressure level", "achieved events/s (log)", "L1_REALTIME", "L10_MAX", "rust adaptive", "java bulk", "rust-jni bulk", "offered", "1M"] {
        assert!(throughput.iter().any(|t| t == expected), "throughput.svg lacks `{expected}`: {throughput:?}");
    }
    let latency_svg = svg(&dir, "charts/latency.svg");
    let latency = texts(&latency_svg);
    for expected in ["java-vs-rust: p99 and p99.9 against the budget", "latency, submit to ack (log)", "budget", "rust adaptive p99", "java bulk p99.9", "p99 over budget", "10ms"] {
        assert!(latency.iter().any(|t| t == expected), "latency.svg lacks `{expected}`: {latency:?}");
    }
    // Java's BULK cells miss their budget at the three levels (rust-jni's
    // stay within theirs): three red crosses (two strokes each) plus the
    // legend's.
    let alarm_strokes = latency_svg.matches("stroke=\"#D62728\"").count();
    assert!(alarm_strokes >= 2 * 4, "{alarm_strokes} red strokes");

    let spectrum = texts(&svg(&dir, "charts/spectrum-L5_BALANCED.svg"));
    for expected in ["Percentile spectrum, L5_BALANCED", "0%", "50%", "90%", "99%", "99.9%", "99.99%", "budget 100ms", "rust adaptive", "java bulk"] {
        assert!(spectrum.iter().any(|t| t == expected), "spectrum lacks `{expected}`: {spectrum:?}");
    }
    assert!(spectrum.iter().any(|t| t.starts_with("percentile (log 1/(1-p)")), "{spectrum:?}");

    let md = std::fs::read_to_string(&verdict.report).unwrap();
    assert!(md.contains("- [Percentile spectrum, L10_MAX](charts/spectrum-L10_MAX.svg): latency (log axis)"), "{md}");
    done_with(&dir);
}

#[test]
fn a_missing_hgrm_file_is_reported_not_dropped() {
    let dir = temp_dir("missing-hgrm");
    let mut results = fixture::java_vs_rust();
    results.runs[0].hgrm = Some("hgrm/not-there.hgrm".into());
    let verdict = write_report(&results, &dir, None, &Thresholds::default()).unwrap();
    assert!(!verdict.charts.iter().any(|c| c.to_string_lossy().contains("spectrum")));
    let md = std::fs::read_to_string(&verdict.report).unwrap();
    assert!(md.contains("- Not drawn: spectrum of adaptive/L1_REALTIME (rust) not drawn: cannot read"), "{md}");
    done_with(&dir);
}

#[test]
fn mixed_load_draws_rate_and_p99_over_time() {
    let dir = temp_dir("timelines");
    let results = fixture::mixed_load();
    let verdict = write_report(&results, &dir, None, &Thresholds::default()).unwrap();
    assert!(verdict.failures.is_empty(), "no budgets in mixed-load's fixture: {:?}", verdict.failures);
    let rate = texts(&svg(&dir, "charts/timeline-rate.svg"));
    for expected in ["mixed-load: rate over time", "seconds since the measured part began", "achieved events/s per interval (log)", "offered", "rust adaptive", "rust linger-100ms", "rust fixed-1000-1mib-100ms"] {
        assert!(rate.iter().any(|t| t == expected), "timeline-rate.svg lacks `{expected}`: {rate:?}");
    }
    let p99 = texts(&svg(&dir, "charts/timeline-p99.svg"));
    for expected in ["mixed-load: p99 over time", "p99 per interval (log)", "rust linger-5ms"] {
        assert!(p99.iter().any(|t| t == expected), "timeline-p99.svg lacks `{expected}`: {p99:?}");
    }
    done_with(&dir);
}

#[test]
fn figures_that_are_not_finite_are_left_out_and_said() {
    let dir = temp_dir("nan");
    let mut results = fixture::java_vs_rust();
    results.runs[0].achieved_events_per_sec = f64::NAN;
    results.runs[0].cpu_ms_per_million = Some(f64::INFINITY);
    write_report(&results, &dir, None, &Thresholds::default()).unwrap();
    let back = load_results(&dir.join("results.json")).expect("results.json reads back");
    assert_eq!(back.runs[0].achieved_events_per_sec, 0.0);
    assert_eq!(back.runs[0].cpu_ms_per_million, None);
    assert_eq!(back.runs[0].note.as_deref(), Some("not finite, left out: achieved_events_per_sec, cpu_ms_per_million"));
    done_with(&dir);
}

#[test]
fn a_cell_without_latency_samples_fails_its_budget() {
    let dir = temp_dir("unmeasured");
    let mut results = fixture::java_vs_rust();
    results.runs.retain(|r| r.implementation == "rust");
    results.runs[0].latency = crate::results::Latency::default();
    let verdict = write_report(&results, &dir, None, &Thresholds::default()).unwrap();
    assert_eq!(verdict.failures, vec!["adaptive/L1_REALTIME (rust): no latency measured, its budget cannot be checked".to_string()]);
    let md = std::fs::read_to_string(&verdict.report).unwrap();
    assert!(md.contains("| ✗ | adaptive/L1_REALTIME (rust) budget | no latency measured (0 samples), budget 1ms |"), "{md}");
    done_with(&dir);
}

#[test]
fn a_report_folder_holds_only_this_runs_charts() {
    let dir = temp_dir("stale-charts");
    let mut first = fixture::java_vs_rust();
    fixture::with_hgrm_files(&mut first, &dir);
    write_report(&first, &dir, None, &Thresholds::default()).unwrap();
    assert!(dir.join("charts/spectrum-L1_REALTIME.svg").exists());
    // The second run has no .hgrm files: the first run's spectra go.
    let second = fixture::java_vs_rust();
    write_report(&second, &dir, Some(&first), &Thresholds::default()).unwrap();
    assert!(!dir.join("charts/spectrum-L1_REALTIME.svg").exists(), "stale chart left behind");
    assert!(dir.join("charts/throughput.svg").exists());
    done_with(&dir);
}

#[test]
fn a_cell_that_could_not_run_fails_the_report_too() {
    let dir = temp_dir("failed-cell");
    let mut results = fixture::java_vs_rust();
    results.runs.retain(|r| r.implementation == "rust");
    let failed = ["adaptive/L1_REALTIME (java): the JVM exited with status 1".to_string(), "bulk/L1_REALTIME (java): a | b\nc".to_string()];
    let verdict = write_report_with_failed_cells(&results, &dir, None, &Thresholds::default(), &failed).unwrap();
    assert_eq!(verdict.failures.len(), 2);
    assert_eq!(verdict.failures[0], "cell failed: adaptive/L1_REALTIME (java): the JVM exited with status 1");
    let md = std::fs::read_to_string(&verdict.report).unwrap();
    assert!(md.contains("**FAIL**: 2 of 8 checks failed."), "{md}");
    assert!(md.contains("| ✗ | cell ran | failed: bulk/L1_REALTIME (java): a \\| b c |"), "{md}");
    assert!(md.contains("| ✗ | cell ran | failed: adaptive/L1_REALTIME (java): the JVM exited with status 1 |"), "{md}");
    done_with(&dir);
}
