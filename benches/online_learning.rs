//! Online learning, per pressure level: the score and p99 wait of the
//! learned config against the bootstrap config and against the oracle (the
//! best fixed config of the same grid, found by an exhaustive sweep), under
//! the same offered load; then flush-when-idle against N=1 and T-based
//! flushing, in real time.
//!
//!   cargo bench --bench online_learning            (table)
//!   MB_JSON=path cargo bench --bench online_learning   (also writes JSON)
//!
//! Part 1 runs the learner in virtual time against the simulated sink of
//! `calibration::sim` (its cost model: a fixed cost per send, a cost per
//! byte, a send latency growing with the frame, the level's offered rate and
//! budget), 30 windows per level from the bootstrap config, with noise on
//! the busy costs. "learned" is the noise-free score of the config the
//! learner holds as best after the last window.
//!
//! Part 2 runs a collector against a sink that acknowledges each frame
//! 300 us after it was sent (from another thread, like Kafka's delivery
//! reports), at L2_FAST (5 ms budget), with three configs: N=1, T-based
//! (N=5000, T=2.5 ms) and flush-when-idle (the same, idle_flush on). For each
//! it reports the p99 wait to acknowledgement of a window at 10, 100 and
//! 1,000 events/s, and the time for 5,000 submit-and-wait calls in a row.

use microbatch::calibration::sim::Model;
use microbatch::calibration::{BatchConfig, Grid, Learner, Settings, SplitMix64};
use microbatch::sink::{Completion, Sink};
use microbatch::{Collector, Config, PressureLevel};
use std::fmt::Write as _;
use std::sync::mpsc::{channel, Sender};
use std::sync::Mutex;
use std::time::{Duration, Instant};

const WINDOWS: usize = 30;
const TARGET_US: u64 = 5_000;

struct LevelResult {
    bootstrap: (BatchConfig, f64, u64),
    learned: (BatchConfig, f64, u64),
    oracle: (BatchConfig, f64, u64),
    per_window: Vec<(BatchConfig, f64, u64)>,
}

fn learn(level: PressureLevel) -> LevelResult {
    let m = Model::for_level(level);
    let grid = Grid::for_level(level, 1_000_000);
    let settings = Settings { seed: Some(7), path: ":memory:".into(), ..Settings::default() };
    let mut learner = Learner::new(&settings, 1_000_000);
    let mut noise = SplitMix64::new(7 ^ 0xA5A5);
    let bootstrap = learner.best_config(level);
    let mut config = bootstrap;
    let mut per_window = Vec::new();
    for w in 0..WINDOWS {
        let report = m.run_window(level, config, w as i64, Some(&mut noise));
        let outcome = learner.observe(&report);
        per_window.push((config, outcome.score, report.latency.p99_us));
        config = outcome.next;
    }
    let with_score = |c: BatchConfig| {
        let (s, p99) = m.true_score(level, c, TARGET_US);
        (c, s, p99)
    };
    let (oracle, _) = m.oracle(level, grid.configs(), TARGET_US);
    LevelResult {
        bootstrap: with_score(bootstrap),
        learned: with_score(learner.best_config(level)),
        oracle: with_score(oracle),
        per_window,
    }
}

fn short(c: &BatchConfig) -> String {
    format!("N={} T={}us{}", c.batch_events, c.interval_us, if c.idle_flush { " idle" } else { "" })
}

fn config_json(c: &BatchConfig) -> String {
    format!("{{\"batch_events\":{},\"interval_us\":{},\"idle_flush\":{}}}", c.batch_events, c.interval_us, c.idle_flush)
}

/// Acknowledges each frame `latency` after `send`, from its own thread.
struct DelayedAckSink {
    tx: Mutex<Sender<(Instant, Completion)>>,
}

impl DelayedAckSink {
    fn new(latency: Duration) -> DelayedAckSink {
        let (tx, rx) = channel::<(Instant, Completion)>();
        std::thread::spawn(move || {
            for (sent, completion) in rx {
                let due = sent + latency;
                while Instant::now() < due {
                    std::hint::spin_loop();
                }
                completion.delivered();
            }
        });
        DelayedAckSink { tx: Mutex::new(tx) }
    }
}

impl Sink for DelayedAckSink {
    fn send(&self, _frame: &[u8], _events: u32, completion: Completion) {
        let _ = self.tx.lock().unwrap().send((Instant::now(), completion));
    }
    fn name(&self) -> &'static str {
        "delayed-ack"
    }
}

fn idle_collector(config: BatchConfig) -> Collector {
    let mut c = Config::default();
    for (k, v) in [
        ("level", "L2_FAST"),
        ("partitions", "1"),
        ("flush.threads", "1"),
        ("pressure.window.ms", "1000"),
        ("calibration.enabled", "false"),
    ] {
        c.set(k, v).unwrap();
    }
    c.set_sink(std::sync::Arc::new(DelayedAckSink::new(Duration::from_micros(300))));
    let col = Collector::new(&c).unwrap();
    col.set_level_config(PressureLevel::L2Fast, config);
    std::thread::sleep(Duration::from_millis(20)); // one flush pass applies it
    col
}

/// p99 wait of the second full window at `rate` events/s.
fn p99_at(config: BatchConfig, rate: u32) -> u64 {
    let c = idle_collector(config);
    let start = Instant::now();
    let mut sent = 0u64;
    while start.elapsed() < Duration::from_millis(2_300) {
        let due = (start.elapsed().as_secs_f64() * rate as f64) as u64;
        while sent < due {
            c.submit(b"0123456789").unwrap();
            sent += 1;
        }
        std::thread::sleep(Duration::from_micros(200));
    }
    c.status().latency_p99_us
}

/// Time for `n` submit-and-wait calls in a row.
fn submit_and_wait(config: BatchConfig, n: u32) -> Duration {
    let c = idle_collector(config);
    let start = Instant::now();
    for _ in 0..n {
        let t = c.submit_tracked(b"0123456789").unwrap();
        c.wait(t, Duration::from_secs(10)).unwrap();
    }
    start.elapsed()
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        println!("online_learning: benchmark");
        return;
    }
    let mut json = String::from("{\"windows\":30,\"target_latency_us\":5000,\"levels\":[");
    println!("Learning in virtual time, {WINDOWS} windows per level (score: events per busy second; p99: wait to acknowledgement)");
    println!(
        "{:<14} {:>12} {:>10}  {:>12} {:>10} {:>7}  {:>12} {:>10}  learned / oracle config",
        "level", "bootstrap", "p99 us", "learned", "p99 us", "/oracle", "oracle", "p99 us"
    );
    for (i, level) in PressureLevel::ALL.into_iter().enumerate() {
        let r = learn(level);
        println!(
            "{:<14} {:>12.0} {:>10}  {:>12.0} {:>10} {:>6.1}%  {:>12.0} {:>10}  {} / {}",
            level.name(),
            r.bootstrap.1,
            r.bootstrap.2,
            r.learned.1,
            r.learned.2,
            100.0 * r.learned.1 / r.oracle.1,
            r.oracle.1,
            r.oracle.2,
            short(&r.learned.0),
            short(&r.oracle.0)
        );
        if i > 0 {
            json.push(',');
        }
        let _ = write!(
            json,
            "{{\"level\":\"{}\",\"budget_us\":{},\"bootstrap\":{{\"config\":{},\"score\":{:.1},\"p99_us\":{}}},\"learned\":{{\"config\":{},\"score\":{:.1},\"p99_us\":{}}},\"oracle\":{{\"config\":{},\"score\":{:.1},\"p99_us\":{}}},\"per_window\":[",
            level.name(),
            level.budget_ms() * 1000,
            config_json(&r.bootstrap.0),
            r.bootstrap.1,
            r.bootstrap.2,
            config_json(&r.learned.0),
            r.learned.1,
            r.learned.2,
            config_json(&r.oracle.0),
            r.oracle.1,
            r.oracle.2
        );
        for (w, (c, s, p99)) in r.per_window.iter().enumerate() {
            if w > 0 {
                json.push(',');
            }
            let _ = write!(json, "{{\"config\":{},\"score\":{:.1},\"p99_us\":{}}}", config_json(c), s, p99);
        }
        json.push_str("]}");
    }
    json.push_str("],\"flush_when_idle\":[");

    println!("\nFlush-when-idle at L2_FAST (5 ms budget), sink acknowledging 300 us after each send");
    println!("{:<22} {:>14} {:>14} {:>14} {:>26}", "config", "p99 @10/s us", "p99 @100/s us", "p99 @1000/s us", "5000 submit+wait calls");
    let configs = [
        ("N=1", BatchConfig { batch_events: 1, interval_us: 2_500, idle_flush: false }),
        ("T-based (T=2.5 ms)", BatchConfig { batch_events: 5_000, interval_us: 2_500, idle_flush: false }),
        ("flush-when-idle", BatchConfig { batch_events: 5_000, interval_us: 2_500, idle_flush: true }),
    ];
    for (i, (name, config)) in configs.into_iter().enumerate() {
        let p99: Vec<u64> = [10, 100, 1_000].into_iter().map(|rate| p99_at(config, rate)).collect();
        let took = submit_and_wait(config, 5_000);
        println!("{:<22} {:>14} {:>14} {:>14} {:>24.2} s", name, p99[0], p99[1], p99[2], took.as_secs_f64());
        if i > 0 {
            json.push(',');
        }
        let _ = write!(
            json,
            "{{\"config\":\"{name}\",\"p99_us_at_10\":{},\"p99_us_at_100\":{},\"p99_us_at_1000\":{},\"submit_and_wait_5000_s\":{:.3}}}",
            p99[0],
            p99[1],
            p99[2],
            took.as_secs_f64()
        );
    }
    json.push_str("]}");
    if let Some(path) = std::env::var_os("MB_JSON") {
        std::fs::write(&path, &json).expect("write MB_JSON");
        println!("\nJSON written to {}", std::path::Path::new(&path).display());
    }
}
