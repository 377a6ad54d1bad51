//! What acknowledged submits cost per event, against fire-and-forget, on one
//! thread into the null sink: `submit` vs `submit_tracked` alone, and
//! `submit_tracked` + flush + `wait` for every ticket.
//!
//!   cargo bench --bench tracking

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use microbatch::{Code, Collector, Config};
use std::hint::black_box;
use std::time::Duration;

const BATCH: u64 = 1000;

fn collector() -> Collector {
    let mut cfg = Config::default();
    for (k, v) in [("sink", "null"), ("level", "L7_HIGH"), ("tracking.slots", "4096")] {
        cfg.set(k, v).unwrap();
    }
    Collector::new(&cfg).unwrap()
}

fn retry<T>(mut f: impl FnMut() -> microbatch::Result<T>) -> T {
    loop {
        match f() {
            Ok(v) => return v,
            Err(e) if e.code() == Code::MB_ERR_FULL => std::thread::yield_now(),
            Err(e) => panic!("{e}"),
        }
    }
}

fn bench(c: &mut Criterion) {
    let event = [7u8; 100];
    let mut g = c.benchmark_group("tracking");
    g.throughput(Throughput::Elements(BATCH));
    g.measurement_time(Duration::from_secs(3));

    let col = collector();
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

criterion_group!(benches, bench);
criterion_main!(benches);
