//! What acknowledged submits cost, against fire-and-forget, into the null
//! sink with 100-byte events.
//!
//!   cargo bench --bench tracking                      criterion: one thread,
//!       submit vs submit_tracked + flush + wait on every ticket
//!   MB_SIDE_BY_SIDE=15 cargo bench --bench tracking   the gateway shape,
//!       interleaved rounds (see support/side_by_side.rs):
//!
//! * `mb_tracked` / `fire_and_forget`, 1 and 4 submitting threads
//!   (`MB_PRODUCERS=1,4`): each thread submits its share of EVENTS, tracked
//!   with the completion queue drained by one thread (a round ends when
//!   every outcome has been drained), or fire-and-forget (a round ends when
//!   flush returns). Same collector settings for both.
//! * `mb_tracked_burst_<n>` / `fire_and_forget_burst_<n>`, n = 10,000 and
//!   100,000: one thread submits n events while the drainer is paused, so
//!   all n hold a tracking slot at the peak (status shows it); then flush,
//!   resume draining, and the round ends when all n outcomes are drained.

use criterion::{criterion_group, Criterion, Throughput};
use microbatch::tracking::AckEvent;
use microbatch::{Code, Collector, Config};
use std::hint::black_box;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[path = "support/side_by_side.rs"]
// Shared with the collector bench; this one has no use for `selected`.
#[allow(dead_code)]
mod side_by_side;

const BATCH: u64 = 1000;
const EVENT: [u8; 100] = [7u8; 100];
/// Events per round in the threaded comparison, all threads together.
const EVENTS: u64 = 400_000;

fn collector(extra: &[(&str, &str)]) -> Collector {
    let mut cfg = Config::default();
    for (k, v) in [("sink", "null"), ("level", "L7_HIGH"), ("tracking.slots", "131072")].iter().chain(extra) {
        cfg.set(k, v).unwrap();
    }
    Collector::new(&cfg).unwrap()
}

fn retry<T>(mut f: impl FnMut() -> microbatch::Result<T>) -> T {
    loop {
        match f() {
            Ok(v) => return v,
            Err(e) if matches!(e.code(), Code::MB_ERR_FULL | Code::MB_ERR_TRACKING_FULL) => std::thread::yield_now(),
            Err(e) => panic!("{e}"),
        }
    }
}

fn criterion_benches(c: &mut Criterion) {
    let event = EVENT;
    let mut g = c.benchmark_group("tracking");
    g.throughput(Throughput::Elements(BATCH));
    g.measurement_time(Duration::from_secs(3));

    let col = collector(&[("tracking.slots", "4096")]);
    g.bench_function("submit", |b| {
        b.iter(|| {
            for _ in 0..BATCH {
                retry(|| col.submit(black_box(&event)));
            }
        });
        col.flush(Duration::from_secs(10)).unwrap();
    });

    let mut tickets = Vec::with_capacity(BATCH as usize);
    g.bench_function("submit_tracked_then_wait", |b| {
        b.iter(|| {
            tickets.clear();
            for _ in 0..BATCH {
                tickets.push(retry(|| col.submit_tracked(black_box(&event))));
            }
            col.flush(Duration::from_secs(10)).unwrap();
            for &t in &tickets {
                black_box(col.wait(t, Duration::from_secs(10)).unwrap());
            }
        });
    });

    g.bench_function("submit_then_flush", |b| {
        b.iter(|| {
            for _ in 0..BATCH {
                retry(|| col.submit(black_box(&event)));
            }
            col.flush(Duration::from_secs(10)).unwrap();
        });
    });
    g.finish();
}

criterion_group!(benches, criterion_benches);

/// A collector with its completion queue drained by one thread for the whole
/// run; `drained` counts outcomes.
struct Drained {
    collector: Arc<Collector>,
    drained: Arc<AtomicU64>,
    failed: Arc<AtomicU64>,
    drainer: Option<std::thread::JoinHandle<()>>,
    stop: Arc<std::sync::atomic::AtomicBool>,
    paused: Arc<std::sync::atomic::AtomicBool>,
}

impl Drained {
    fn new() -> Drained {
        let collector = Arc::new(collector(&[("tracking.queue", "true")]));
        let drained = Arc::new(AtomicU64::new(0));
        let failed = Arc::new(AtomicU64::new(0));
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let paused = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let drainer = {
            let (c, drained, failed, stop) = (collector.clone(), drained.clone(), failed.clone(), stop.clone());
            let paused = paused.clone();
            std::thread::spawn(move || {
                let mut batch = vec![AckEvent::EMPTY; 1024];
                while !stop.load(Ordering::Relaxed) {
                    if paused.load(Ordering::Acquire) {
                        std::thread::sleep(Duration::from_micros(100));
                        continue;
                    }
                    let n = c.poll_acks(&mut batch, Duration::from_millis(10)).unwrap();
                    let bad = batch[..n].iter().filter(|e| e.result != Code::MB_OK).count();
                    failed.fetch_add(bad as u64, Ordering::Relaxed);
                    drained.fetch_add(n as u64, Ordering::Release);
                }
            })
        };
        Drained { collector, drained, failed, drainer: Some(drainer), stop, paused }
    }

    /// Waits until `total` outcomes have been drained since the start.
    fn wait_drained(&self, total: u64) {
        let deadline = Instant::now() + Duration::from_secs(60);
        while self.drained.load(Ordering::Acquire) < total {
            assert!(Instant::now() < deadline, "outcomes not drained");
            std::hint::spin_loop();
        }
    }
}

impl Drop for Drained {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.drainer.take() {
            t.join().unwrap();
        }
        assert_eq!(self.failed.load(Ordering::Relaxed), 0);
        assert_eq!(self.collector.status().tracking_in_use, 0);
    }
}

fn compare_side_by_side(rounds: usize) {
    let producer_counts: Vec<usize> = match std::env::var("MB_PRODUCERS") {
        Ok(list) => list.split(',').map(|p| p.trim().parse().expect("MB_PRODUCERS: comma-separated counts")).collect(),
        Err(_) => vec![1, 4],
    };
    for producers in producer_counts {
        let tracked = Drained::new();
        let plain = collector(&[]);
        let per_thread = EVENTS / producers as u64;
        let total = per_thread * producers as u64;
        let mut tracked_so_far = 0u64;
        let names = ["mb_tracked", "fire_and_forget"];
        let rates = side_by_side::interleave(names.len(), rounds, |i| {
            let start = Instant::now();
            std::thread::scope(|s| {
                for _ in 0..producers {
                    s.spawn(|| {
                        for _ in 0..per_thread {
                            if i == 0 {
                                black_box(retry(|| tracked.collector.submit_tracked(&EVENT)));
                            } else {
                                retry(|| plain.submit(&EVENT));
                            }
                        }
                    });
                }
            });
            if i == 0 {
                tracked.collector.flush(Duration::from_secs(60)).unwrap();
                tracked_so_far += total;
                tracked.wait_drained(tracked_so_far);
            } else {
                plain.flush(Duration::from_secs(60)).unwrap();
            }
            total as f64 / start.elapsed().as_secs_f64() / 1e6
        });
        side_by_side::report(
            &format!("tracking_100B, {producers} submitting thread(s), one draining, {rounds} rounds of {total} events"),
            &names,
            &rates,
        );
    }

    for outstanding in [10_000u64, 100_000] {
        let tracked = Drained::new();
        let plain = collector(&[]);
        let mut tracked_so_far = 0u64;
        let peak = AtomicU64::new(0);
        let names = [format!("mb_tracked_burst_{outstanding}"), format!("fire_and_forget_burst_{outstanding}")];
        let rates = side_by_side::interleave(2, rounds, |i| {
            let start = Instant::now();
            if i == 0 {
                tracked.paused.store(true, Ordering::Release);
                for _ in 0..outstanding {
                    black_box(retry(|| tracked.collector.submit_tracked(&EVENT)));
                }
                tracked.collector.flush(Duration::from_secs(60)).unwrap();
                peak.fetch_max(tracked.collector.status().tracking_in_use, Ordering::Relaxed);
                tracked.paused.store(false, Ordering::Release);
                tracked_so_far += outstanding;
                tracked.wait_drained(tracked_so_far);
            } else {
                for _ in 0..outstanding {
                    retry(|| plain.submit(&EVENT));
                }
                plain.flush(Duration::from_secs(60)).unwrap();
            }
            outstanding as f64 / start.elapsed().as_secs_f64() / 1e6
        });
        let names: Vec<&str> = names.iter().map(String::as_str).collect();
        side_by_side::report(
            &format!(
                "tracking_100B burst, 1 thread, {outstanding} outstanding (peak {} slots in use), {rounds} rounds",
                peak.load(Ordering::Relaxed)
            ),
            &names,
            &rates,
        );
    }
}

fn main() {
    if let Some(rounds) = side_by_side::rounds_from_env() {
        compare_side_by_side(rounds);
        return;
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
}
