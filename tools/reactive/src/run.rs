//! `reactive bench brochure run`: a brochure expanded into cells, each run
//! in turn (Rust cells in this process, Java cells in a JVM), the results
//! judged and reported by `report`.

use crate::brochure::{self, Brochure, Impl};
use crate::cell::Cell;
use crate::load::Load;
use crate::measure::Live;
use crate::results::{Results, Timeline};
use crate::schedule::{band_rate, Schedule};
use crate::{cell_java, cell_producer, cell_rust, env, mode, prereq, report};
use microbatch::PressureLevel;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// `--quick`: warm-up and measured seconds at most these (steps: each step).
pub const QUICK_WARMUP_S: f64 = 1.0;
pub const QUICK_DURATION_S: f64 = 2.0;
pub const QUICK_STEP_S: f64 = 1.0;

pub struct Options {
    /// `mock` or host:port.
    pub broker: String,
    pub quick: bool,
    pub baseline: Option<PathBuf>,
    pub out: Option<PathBuf>,
    /// Comma-separated substrings of `<impl>/<variant>/<level>`.
    pub only: Option<String>,
    /// Implementations to run (`rust`, `java`, `rust-jni`); None: all.
    pub impls: Option<Vec<String>>,
    /// Record budget results without failing on them (noisy CI machines).
    pub budgets_advisory: bool,
}

/// What a run produced.
pub struct Outcome {
    pub results: Results,
    pub verdict: report::Verdict,
}

/// The brochure's workload with `--quick` applied.
pub fn quickened(b: &Brochure, quick: bool) -> brochure::Workload {
    let mut w = b.workload.clone();
    if quick {
        w.warmup_s = w.warmup_s.min(QUICK_WARMUP_S);
        w.duration_s = w.duration_s.min(QUICK_DURATION_S);
        for s in &mut w.steps {
            s.duration_s = s.duration_s.min(QUICK_STEP_S);
        }
    }
    w
}

/// Every cell of `b`, level by level (variants side by side in time, so they
/// see the same machine), with `--only`/`--impl` applied.
pub fn plan(b: &Brochure, quick: bool, topic: &str, out: &Path, only: Option<&str>, impls: Option<&[String]>) -> Result<Vec<Cell>, String> {
    let w = quickened(b, quick);
    let calibration_path = out.join("calibration.db").display().to_string();
    let levels: Vec<Option<PressureLevel>> = if w.levels.is_empty() {
        vec![None]
    } else {
        w.levels.iter().map(|l| PressureLevel::parse(l).map(Some).ok_or_else(|| format!("unknown level `{l}`"))).collect::<Result<_, _>>()?
    };
    let filters: Vec<&str> = only.map(|o| o.split(',').map(str::trim).filter(|s| !s.is_empty()).collect()).unwrap_or_default();
    let mut cells = Vec::new();
    for level in &levels {
        for v in &b.variants {
            if impls.is_some_and(|i| !i.iter().any(|x| x == v.implementation.name())) {
                continue;
            }
            let row = match level {
                Some(l) => l.name().to_string(),
                None if !w.steps.is_empty() => "steps".to_string(),
                None => "auto".to_string(),
            };
            let id = format!("{}/{}/{row}", v.implementation.name(), v.name);
            if !filters.is_empty() && !filters.iter().any(|f| id.contains(f)) {
                continue;
            }
            let resolved = mode::resolve(v, *level, &b.kafka, topic, &calibration_path)?;
            let mut notes = Vec::new();
            let (schedule, offered, steps) = if !w.steps.is_empty() {
                let mut stretches = vec![(w.steps[0].rate, w.warmup_s)];
                stretches.extend(w.steps.iter().map(|s| (s.rate, s.duration_s)));
                (Some(Schedule::new(&stretches)), None, w.steps.iter().map(|s| (s.rate, s.duration_s)).collect())
            } else {
                let rate = match level {
                    Some(l) if band_rate(*l) > w.rate_cap => {
                        notes.push(format!(
                            "{}'s band ({} events/s and up) is above the workload's rate_cap {}: offered as fast as the producers go, so the collector may not reach it",
                            l.name(),
                            l.min_rate(),
                            w.rate_cap
                        ));
                        None
                    }
                    Some(l) => Some(band_rate(*l)),
                    None => w.rate,
                };
                (rate.map(|r| Schedule::new(&[(r, w.warmup_s), (r, w.duration_s)])), rate, Vec::new())
            };
            let end_s = schedule.as_ref().map_or(w.warmup_s + w.duration_s, Schedule::end_s);
            let file = format!("{}-{}-{row}.hgrm", v.implementation.name(), v.name).replace('/', "-");
            cells.push(Cell {
                name: format!("{}/{row}", v.name),
                variant: v.clone(),
                level: *level,
                resolved,
                load: Load {
                    schedule,
                    end_s,
                    measure_from_s: w.warmup_s,
                    producers: w.producers,
                    event_bytes: w.event_bytes,
                    payload: w.payload,
                },
                offered,
                steps,
                timeline_ms: w.timeline_ms,
                notes,
                hgrm_path: out.join("hgrm").join(&file),
                hgrm_name: format!("hgrm/{file}"),
            });
        }
    }
    if cells.is_empty() {
        return Err(format!("no cell of `{}` matches --only/--impl", b.name));
    }
    Ok(cells)
}

/// The Rust cells' broker: the embedded mock cluster (created here, on the
/// caller's thread, which must outlive the cells) or the given address.
pub enum Broker {
    Mock(rdkafka::mocking::MockCluster<'static, rdkafka::producer::DefaultProducerContext>),
    Address(String),
}

impl Broker {
    pub fn open(spec: &str) -> Result<Broker, String> {
        if spec == "mock" {
            let cluster = rdkafka::mocking::MockCluster::new(1).map_err(|e| format!("cannot start the embedded Kafka mock cluster: {e}"))?;
            Ok(Broker::Mock(cluster))
        } else {
            prereq::broker_answers(spec)?;
            Ok(Broker::Address(spec.to_string()))
        }
    }

    pub fn bootstrap(&self) -> String {
        match self {
            Broker::Mock(c) => c.bootstrap_servers(),
            Broker::Address(a) => a.clone(),
        }
    }

    /// What Java cells are told: the harness has its own embedded default.
    pub fn for_java(&self) -> String {
        match self {
            Broker::Mock(_) => "mock".into(),
            Broker::Address(a) => a.clone(),
        }
    }
}

fn summary(run: &crate::results::Run) -> String {
    format!(
        "{:<28} {:<8} {:>12.0} events/s  p50 {:>9.0} us  p99 {:>10.0} us  ({} delivered, {} failed, {} rejected)",
        run.name, run.implementation, run.achieved_events_per_sec, run.latency.p50_us, run.latency.p99_us, run.delivered, run.failed, run.rejected
    )
}

pub fn run(root: &Path, name: &str, opts: &Options) -> Result<Outcome, String> {
    let b = brochure::load(root, name)?;
    let out = opts.out.clone().unwrap_or_else(|| root.join("reports").join("brochures").join(name));
    std::fs::create_dir_all(out.join("hgrm")).and_then(|_| std::fs::create_dir_all(out.join("cells"))).map_err(|e| format!("cannot create {}: {e}", out.display()))?;
    let out = out.canonicalize().map_err(|e| format!("{}: {e}", out.display()))?;
    let started = std::time::SystemTime::now();
    let unix = started.duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    let topic = format!("brochure-{name}-{unix}");
    let cells = plan(&b, opts.quick, &topic, &out, opts.only.as_deref(), opts.impls.as_deref())?;

    let jvm_cells: Vec<&Cell> = cells.iter().filter(|c| c.implementation().needs_jvm()).collect();
    let jvm = if jvm_cells.is_empty() {
        None
    } else {
        let names: Vec<String> = jvm_cells.iter().map(|c| format!("{} ({})", c.name, c.implementation().name())).collect();
        let with_native = jvm_cells.iter().any(|c| c.implementation() == Impl::RustJni);
        Some(prereq::jvm(root, &names, with_native)?)
    };
    let broker = Broker::open(&opts.broker)?;
    if let (Broker::Mock(cluster), Some(p)) = (&broker, b.kafka.partitions) {
        cluster.create_topic(&topic, p as i32, 1).map_err(|e| format!("cannot create topic {topic}: {e}"))?;
    }
    let bootstrap = broker.bootstrap();

    let baseline_path = opts.baseline.clone().unwrap_or_else(|| out.join("results.json"));
    let baseline = if baseline_path.exists() {
        match report::load_results(&baseline_path) {
            Ok(b) => Some(b),
            Err(e) if opts.baseline.is_some() => return Err(format!("--baseline: {e}")),
            Err(e) => {
                eprintln!("reactive: the previous results are not comparable, so no baseline: {e}");
                None
            }
        }
    } else if opts.baseline.is_some() {
        return Err(format!("--baseline {}: no such file", baseline_path.display()));
    } else {
        None
    };
    if opts.baseline.is_none() && baseline_path.exists() {
        let previous = out.join("results.previous.json");
        std::fs::rename(&baseline_path, &previous).map_err(|e| format!("cannot move the previous results to {}: {e}", previous.display()))?;
    }

    let live = Arc::new(Live::default());
    let seconds: Vec<f64> = cells.iter().map(|c| c.seconds() + if c.implementation().needs_jvm() { 1.5 } else { 0.3 }).collect();
    let progress = crate::progress::Progress::start(name, &seconds, live.clone());
    let mut runs = Vec::new();
    let mut timelines = Vec::new();
    let mut errors = Vec::new();
    let mut jdk = None;
    for (i, cell) in cells.iter().enumerate() {
        progress.cell_started(i, &format!("{} ({})", cell.name, cell.implementation().name()), seconds[i], seconds[i..].iter().sum());
        let measured = match (cell.implementation(), cell.variant.mode) {
            (Impl::Rust, brochure::Mode::Producer) => cell_producer::run(cell, &bootstrap, &live).map(|m| (m.run, Some(m.histogram), m.timeline)),
            (Impl::Rust, _) => cell_rust::run(cell, &bootstrap, &live).map(|m| (m.run, Some(m.histogram), m.timeline)),
            (Impl::Java | Impl::RustJni, _) => {
                let jvm = jvm.as_ref().expect("prepared above");
                cell_java::run(cell, jvm, &broker.for_java(), &topic, &out.join("cells"), &live).map(|m| {
                    jdk = jdk.take().or(m.jdk);
                    (m.run, None, m.timeline)
                })
            }
        };
        match measured {
            Ok((run, histogram, timeline)) => {
                if let Some(h) = histogram {
                    report::write_hgrm(&h, &cell.hgrm_path).map_err(|e| format!("cannot write {}: {e}", cell.hgrm_path.display()))?;
                }
                if let (Some(ms), false) = (cell.timeline_ms, timeline.is_empty()) {
                    timelines.push(Timeline { run: run.name.clone(), interval_ms: ms, points: timeline });
                }
                progress.cell_done(&summary(&run));
                runs.push(run);
            }
            Err(e) => {
                let e = format!("{} ({}): {e}", cell.name, cell.implementation().name());
                progress.cell_done(&format!("FAILED {e}"));
                errors.push(e);
            }
        }
    }
    progress.finish();
    drop(broker);

    let mut environment = env::environment(root, &opts.broker, jvm.is_some());
    if environment.jdk.is_none() {
        environment.jdk = jdk;
    }
    let mut results = Results {
        schema_version: crate::results::SCHEMA_VERSION,
        brochure: name.to_string(),
        started_at: rfc3339(started),
        quick: opts.quick,
        environment,
        runs,
        timelines,
    };
    report::judge(&mut results);
    let mut thresholds = b.thresholds.clone();
    if opts.budgets_advisory {
        thresholds.budget = false;
    }
    let verdict = report::write_report_with_failed_cells(&results, &out, baseline.as_ref(), &thresholds, &errors)?;
    Ok(Outcome { results, verdict })
}

/// `SystemTime` as RFC 3339 UTC, seconds precision (no date crate needed).
pub fn rfc3339(t: std::time::SystemTime) -> String {
    let secs = t.duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    let (days, rem) = (secs / 86_400, secs % 86_400);
    // Civil from days (Howard Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + (m <= 2) as i64;
    format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z", rem / 3600, rem % 3600 / 60, rem % 60)
}

#[cfg(test)]
mod tests {
    #[test]
    fn rfc3339_formats_utc() {
        let t = std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_796_651_149);
        assert_eq!(super::rfc3339(t), "2026-12-07T13:45:49Z");
        assert_eq!(super::rfc3339(std::time::UNIX_EPOCH), "1970-01-01T00:00:00Z");
    }
}

#[cfg(test)]
mod plan_tests {
    use super::*;

    fn plan_of(name: &str, quick: bool) -> Vec<Cell> {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let b = brochure::load(&root, name).unwrap();
        plan(&b, quick, "t", Path::new("/tmp/out"), None, None).unwrap()
    }

    #[test]
    fn level_cells_offer_a_rate_inside_the_band_and_quick_shortens_them() {
        let cells = plan_of("java-vs-rust", true);
        assert_eq!(cells.len(), 2 * 6, "two levels x six variants");
        for c in &cells {
            let level = c.level.unwrap();
            assert_eq!(PressureLevel::from_rate(c.offered.unwrap()), level, "{}", c.name);
            assert_eq!((c.load.measure_from_s, c.load.end_s), (QUICK_WARMUP_S, QUICK_WARMUP_S + QUICK_DURATION_S));
        }
        assert_eq!(cells[0].level, cells[5].level, "the variants of one level run one after the other");
    }

    #[test]
    fn a_stepped_workload_is_one_cell_per_variant_with_its_steps() {
        let cells = plan_of("mixed-load", false);
        assert_eq!(cells.len(), 4);
        let c = &cells[0];
        assert_eq!((c.name.as_str(), c.offered), ("adaptive/steps", None));
        let total: f64 = c.steps.iter().map(|(_, d)| d).sum();
        assert_eq!(c.load.end_s, c.load.measure_from_s + total);
        let schedule = c.load.schedule.as_ref().unwrap();
        assert_eq!(schedule.rate_at(0.0), Some(c.steps[0].0), "the warm-up runs at the first step's rate");
        let fixed = cells.iter().find(|c| c.variant.name == "fixed-1000-1mib-100ms").unwrap();
        assert_eq!(fixed.resolved.keys["batch.linger.ms"], "100");
    }

    #[test]
    fn only_and_impl_select_cells_and_an_empty_selection_is_an_error() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let b = brochure::load(&root, "java-vs-rust").unwrap();
        let rust = plan(&b, true, "t", Path::new("/tmp/o"), None, Some(&["rust".to_string()])).unwrap();
        assert!(rust.iter().all(|c| c.implementation() == Impl::Rust) && rust.len() == 4);
        let bulk_l3 = plan(&b, true, "t", Path::new("/tmp/o"), Some("bulk/L3"), None).unwrap();
        assert_eq!(bulk_l3.len(), 3);
        assert!(plan(&b, true, "t", Path::new("/tmp/o"), Some("nothing"), None).err().unwrap().contains("no cell"));
    }

    #[test]
    fn a_band_above_the_rate_cap_runs_unscheduled_with_a_note() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let mut b = brochure::load(&root, "calibration-buckets").unwrap();
        b.workload.levels = vec!["L10_MAX".into()];
        let cells = plan(&b, true, "t", Path::new("/tmp/o"), None, None).unwrap();
        assert!(cells[0].offered.is_none() && cells[0].load.schedule.is_none());
        assert!(cells[0].notes[0].contains("rate_cap"), "{:?}", cells[0].notes);
    }
}
