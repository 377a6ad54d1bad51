//! Results built in code for the report's tests: no run needed.

use crate::results::{Environment, Latency, Results, Run, Timeline, TimelinePoint, SCHEMA_VERSION};

/// A cell with plausible figures: p99 a few times p50, the tail above.
pub fn run(implementation: &str, variant: &str, mode: &str, level: &str, budget_ms: u64, achieved: f64, p99_us: f64) -> Run {
    Run {
        name: format!("{variant}/{level}"),
        implementation: implementation.into(),
        variant: variant.into(),
        mode: mode.into(),
        level: level.into(),
        budget_us: Some(budget_ms * 1000),
        event_bytes: 100,
        producers: 2,
        offered_events_per_sec: Some(achieved * 1.05),
        achieved_events_per_sec: achieved,
        mb_per_sec: achieved * 100.0 / 1e6,
        wire_bytes_per_sec: Some(achieved * 40.0),
        cpu_ms_per_million: Some(350.0),
        submitted: (achieved * 10.0) as u64,
        delivered: (achieved * 10.0) as u64,
        failed: 0,
        rejected: 0,
        latency: Latency {
            p50_us: p99_us / 4.0,
            p90_us: p99_us / 2.0,
            p99_us,
            p999_us: p99_us * 1.5,
            p9999_us: p99_us * 2.0,
            max_us: p99_us * 3.0,
            count: (achieved * 10.0) as u64,
        },
        schedule_delay_p50_us: Some(3.0),
        budget_pass: false,
        ratio_to_bulk: None,
        hgrm: None,
        note: None,
    }
}

/// java-vs-rust at three levels: Rust and Java, adaptive and BULK. Java's
/// adaptive L1 cell misses its 1 ms budget.
pub fn java_vs_rust() -> Results {
    let mut runs = Vec::new();
    for (level, budget_ms, rate) in [("L1_REALTIME", 1, 2_000.0), ("L5_BALANCED", 100, 200_000.0), ("L10_MAX", 30_000, 1_500_000.0)] {
        for (implementation, speed, p99_factor) in [("rust", 1.0, 1.0), ("java", 0.5, 2.5)] {
            let p99 = budget_ms as f64 * 1000.0 * 0.4 * p99_factor;
            runs.push(run(implementation, "adaptive", "adaptive", level, budget_ms, rate * speed, p99));
            runs.push(run(implementation, "bulk", "bulk", level, budget_ms, rate * speed * 1.25, p99 * 1.5));
        }
    }
    Results {
        schema_version: SCHEMA_VERSION,
        brochure: "java-vs-rust".into(),
        started_at: "2026-12-07T19:00:00Z".into(),
        quick: true,
        environment: Environment {
            commit: Some("541a7f8".into()),
            cpus: 2,
            os: "linux x86_64".into(),
            rustc: Some("rustc 1.95.0".into()),
            jdk: Some("openjdk 21".into()),
            broker: "mock".into(),
        },
        runs,
        timelines: Vec::new(),
    }
}

/// java-vs-rust with the Rust collector behind the Java API as well
/// (`rust-jni`), a little slower than Rust in process.
pub fn java_jni_rust() -> Results {
    let mut results = java_vs_rust();
    let jni: Vec<Run> = results
        .runs
        .iter()
        .filter(|r| r.implementation == "rust")
        .map(|r| {
            let mut jni = Run { implementation: "rust-jni".into(), ..r.clone() };
            jni.achieved_events_per_sec *= 0.85;
            jni.latency.p99_us *= 1.2;
            jni.latency.p999_us *= 1.2;
            jni
        })
        .collect();
    results.runs.extend(jni);
    results
}

/// mixed-load: one stepped cell per variant, with timelines.
pub fn mixed_load() -> Results {
    let mut results = java_vs_rust();
    results.brochure = "mixed-load".into();
    results.runs.clear();
    let variants = [("adaptive", "adaptive", 1.0), ("linger-5ms", "producer", 1.6), ("linger-100ms", "producer", 9.0), ("fixed-1000-1mib-100ms", "fixed", 4.0)];
    for (variant, mode, slowness) in variants {
        let mut r = run("rust", variant, mode, "auto", 0, 50_000.0, 2_000.0 * slowness);
        r.name = format!("{variant}/steps");
        r.budget_us = None;
        results.runs.push(r);
        let points = (0..40)
            .map(|i| {
                let t = i as f64 * 0.5;
                let offered = if (10..20).contains(&i) { 200_000.0 } else { 20_000.0 };
                TimelinePoint {
                    t_s: t,
                    offered_events_per_sec: Some(offered),
                    achieved_events_per_sec: offered * (0.97 - 0.02 * slowness.min(5.0)),
                    p99_us: 1_500.0 * slowness * if offered > 100_000.0 { 3.0 } else { 1.0 },
                    level: Some(if offered > 100_000.0 { 7 } else { 4 }),
                }
            })
            .collect();
        results.timelines.push(Timeline { run: format!("{variant}/steps"), interval_ms: 500, points });
    }
    results
}

/// A histogram (microseconds) shaped like a cell's figures: most waits
/// around p50, a tail up to p99, a few up to max.
pub fn histogram(latency: &Latency) -> hdrhistogram::Histogram<u64> {
    let mut h = hdrhistogram::Histogram::<u64>::new_with_bounds(1, 3_600_000_000, 3).unwrap();
    let spread = |from: f64, to: f64, n: u64, h: &mut hdrhistogram::Histogram<u64>| {
        for i in 0..n {
            let v = from + (to - from) * i as f64 / n as f64;
            h.record(v.max(1.0) as u64).unwrap();
        }
    };
    spread(latency.p50_us / 2.0, latency.p50_us * 1.5, 9_000, &mut h);
    spread(latency.p50_us * 1.5, latency.p99_us, 900, &mut h);
    spread(latency.p99_us, latency.p999_us, 90, &mut h);
    spread(latency.p999_us, latency.max_us, 10, &mut h);
    h
}

/// Writes a `.hgrm` file for every cell into `dir/hgrm/` and points the
/// cells at them.
pub fn with_hgrm_files(results: &mut Results, dir: &std::path::Path) {
    std::fs::create_dir_all(dir.join("hgrm")).unwrap();
    for run in &mut results.runs {
        let rel = format!("hgrm/{}-{}.hgrm", run.implementation, run.name.replace('/', "-"));
        super::write_hgrm(&histogram(&run.latency), &dir.join(&rel)).unwrap();
        run.hgrm = Some(rel);
    }
}
