//! Two-thread ring throughput: one producer thread moves SIZE-byte events to
//! one consumer thread, for SIZE = 8, 100 and 1000 bytes.
//!
//! Compared side by side in one group per size:
//! * `mb_spsc`: microbatch `SpscRing`, `push` / `drain` (1 MiB ring), through
//!   the `Ring` dispatch the collector uses.
//! * `mb_mpsc_1p`: microbatch `MpscRing` with a single producer (1 MiB ring).
//! * `rtrb_push_pop`: `rtrb::RingBuffer<[u8; SIZE]>`, `push` / `pop`.
//! * `rtrb_bytes`: `rtrb::RingBuffer<u8>` as a byte stream: each event is
//!   written with `write_chunk_uninit(SIZE)`, the consumer takes everything
//!   available with one `read_chunk` and walks it in place. The byte capacity
//!   is a multiple of SIZE so an event never straddles the wrap; this only
//!   works because events have a fixed size (no length prefix is carried).
//! * `crossbeam_array_queue`: `crossbeam_queue::ArrayQueue<[u8; SIZE]>`.
//!
//! Capacity is ~1 MiB of event bytes everywhere: the microbatch rings get
//! 1 MiB of buffer (records carry an 8-byte header and pad to 8), the
//! slot-based queues get `1 MiB / SIZE` slots.
//!
//! Each timed iteration moves `events_per_iter(SIZE)` events; the time covers
//! the whole transfer (thread start to consumer done). The consumer reads the
//! first and last byte of every event, and the run checks both the count and
//! a checksum. Criterion reports elements (events) per second.
//!
//! Run: `cargo bench --bench rings` (append `-- <filter>` or criterion flags
//! such as `--measurement-time 3` to override the defaults set below).

use criterion::measurement::WallTime;
use criterion::{criterion_group, criterion_main, BenchmarkGroup, Criterion, Throughput};
use microbatch::ring::{Ring, RingKind};
use std::hint::{black_box, spin_loop};
use std::time::{Duration, Instant};

/// Bytes of buffer per ring.
const RING_BYTES: usize = 1 << 20;

/// Most records the microbatch consumer takes per `drain` call before it
/// hands space back to the producer (the collector's flush thread uses 4096).
/// Bounded so the producer is not stalled behind one drain of a whole ring.
fn drain_chunk(size: usize) -> usize {
    let records = RING_BYTES / microbatch::ring::record_size(size);
    (records / 4).clamp(1, 4096)
}

/// Waits politely: spins a little, then yields, so a producer or consumer
/// whose peer was descheduled (2 cores, shared host) gives the core back
/// instead of spinning for a whole time slice. Used the same way by every
/// implementation.
#[derive(Default)]
struct Wait(u32);

impl Wait {
    #[inline(always)]
    fn reset(&mut self) {
        self.0 = 0;
    }

    #[inline(always)]
    fn wait(&mut self) {
        self.0 += 1;
        if self.0 < 128 {
            spin_loop();
        } else {
            std::thread::yield_now();
        }
    }
}

fn events_per_iter(size: usize) -> u64 {
    if size >= 1000 {
        250_000
    } else {
        1_000_000
    }
}

/// The event the producer sends as its `i`-th: a fixed pattern with the low
/// byte of `i` at both ends, so the consumer's checksum depends on every event.
#[inline(always)]
fn stamp_event<const SIZE: usize>(ev: &mut [u8; SIZE], i: u64) {
    ev[0] = i as u8;
    ev[SIZE - 1] = i as u8;
}

#[inline(always)]
fn check(bytes: &[u8]) -> u64 {
    bytes[0] as u64 + bytes[bytes.len() - 1] as u64
}

fn expected_sum(n: u64) -> u64 {
    // Each event contributes 2 * (i as u8).
    let full = n / 256;
    let rest = n % 256;
    2 * (full * (255 * 256 / 2) + rest * rest.saturating_sub(1) / 2)
}

fn template<const SIZE: usize>() -> [u8; SIZE] {
    let mut ev = [0u8; SIZE];
    for (i, b) in ev.iter_mut().enumerate() {
        *b = (i * 31 + 7) as u8;
    }
    ev
}

/// Runs `producer(n)` and `consumer(n) -> checksum` on two threads and
/// returns the wall time of the whole transfer.
fn transfer(n: u64, producer: impl FnOnce(u64) + Send, consumer: impl FnOnce(u64) -> u64 + Send) -> Duration {
    let start = Instant::now();
    let sum = std::thread::scope(|s| {
        let c = s.spawn(move || consumer(n));
        s.spawn(move || producer(n));
        c.join().unwrap()
    });
    let elapsed = start.elapsed();
    assert_eq!(sum, expected_sum(n), "consumer saw wrong events");
    elapsed
}

fn bench_size<const SIZE: usize>(c: &mut Criterion) {
    let per_iter = events_per_iter(SIZE);
    let mut group = c.benchmark_group(format!("ring_{SIZE}B"));
    group.throughput(Throughput::Elements(per_iter));
    mb_ring::<SIZE>(&mut group, "mb_spsc", RingKind::Spsc, per_iter);
    mb_ring::<SIZE>(&mut group, "mb_mpsc_1p", RingKind::Mpsc, per_iter);
    rtrb_push_pop::<SIZE>(&mut group, per_iter);
    rtrb_bytes::<SIZE>(&mut group, per_iter);
    crossbeam_array_queue::<SIZE>(&mut group, per_iter);
    group.finish();
}

/// A microbatch ring of either kind, through the `Ring` dispatch the
/// collector uses; one producer thread, one consumer thread.
fn mb_ring<const SIZE: usize>(group: &mut BenchmarkGroup<'_, WallTime>, name: &str, kind: RingKind, per_iter: u64) {
    let ring = Ring::new(kind, RING_BYTES);
    let chunk = drain_chunk(SIZE);
    group.bench_function(name, |b| {
        b.iter_custom(|iters| {
            let ring = &ring;
            transfer(
                iters * per_iter,
                move |n| {
                    let mut w = Wait::default();
                    let mut ev = template::<SIZE>();
                    for i in 0..n {
                        stamp_event(&mut ev, i);
                        // SAFETY: this thread is the only producer.
                        while unsafe { ring.push(&ev, 0) }.is_err() {
                            w.wait();
                        }
                        w.reset();
                    }
                },
                move |n| {
                    let mut w = Wait::default();
                    let (mut got, mut sum) = (0u64, 0u64);
                    while got < n {
                        // SAFETY: this thread is the only consumer.
                        let k = unsafe {
                            ring.drain(chunk, |_, bytes| {
                                sum += check(black_box(bytes));
                                true
                            })
                        };
                        if k == 0 {
                            w.wait();
                        } else {
                            w.reset();
                        }
                        got += k as u64;
                    }
                    sum
                },
            )
        })
    });
}

fn rtrb_push_pop<const SIZE: usize>(group: &mut BenchmarkGroup<'_, WallTime>, per_iter: u64) {
    let (mut tx, mut rx) = rtrb::RingBuffer::<[u8; SIZE]>::new(RING_BYTES / SIZE);
    group.bench_function("rtrb_push_pop", |b| {
        b.iter_custom(|iters| {
            let (tx, rx) = (&mut tx, &mut rx);
            transfer(
                iters * per_iter,
                move |n| {
                    let mut w = Wait::default();
                    let mut ev = template::<SIZE>();
                    for i in 0..n {
                        stamp_event(&mut ev, i);
                        while tx.push(ev).is_err() {
                            w.wait();
                        }
                        w.reset();
                    }
                },
                move |n| {
                    let mut w = Wait::default();
                    let (mut got, mut sum) = (0u64, 0u64);
                    while got < n {
                        match rx.pop() {
                            Ok(ev) => {
                                sum += check(black_box(&ev[..]));
                                got += 1;
                                w.reset();
                            }
                            Err(_) => w.wait(),
                        }
                    }
                    sum
                },
            )
        })
    });
}

fn rtrb_bytes<const SIZE: usize>(group: &mut BenchmarkGroup<'_, WallTime>, per_iter: u64) {
    // A multiple of SIZE, so every event is contiguous in one of the slices.
    let (mut tx, mut rx) = rtrb::RingBuffer::<u8>::new(RING_BYTES / SIZE * SIZE);
    group.bench_function("rtrb_bytes", |b| {
        b.iter_custom(|iters| {
            let (tx, rx) = (&mut tx, &mut rx);
            transfer(
                iters * per_iter,
                move |n| {
                    let mut w = Wait::default();
                    let mut ev = template::<SIZE>();
                    for i in 0..n {
                        stamp_event(&mut ev, i);
                        let mut chunk = loop {
                            match tx.write_chunk_uninit(SIZE) {
                                Ok(chunk) => break chunk,
                                Err(_) => w.wait(),
                            }
                        };
                        w.reset();
                        let (a, b) = chunk.as_mut_slices();
                        assert!(b.is_empty());
                        // SAFETY: `a` has SIZE writable bytes (capacity is a
                        // multiple of SIZE and writes are SIZE each).
                        unsafe {
                            std::ptr::copy_nonoverlapping(ev.as_ptr(), a.as_mut_ptr() as *mut u8, SIZE);
                            chunk.commit_all();
                        }
                    }
                },
                move |n| {
                    let mut w = Wait::default();
                    let (mut got, mut sum) = (0u64, 0u64);
                    while got < n {
                        let avail = rx.slots();
                        if avail == 0 {
                            w.wait();
                            continue;
                        }
                        w.reset();
                        let chunk = rx.read_chunk(avail).unwrap();
                        let (a, b) = chunk.as_slices();
                        for ev in a.chunks_exact(SIZE).chain(b.chunks_exact(SIZE)) {
                            sum += check(black_box(ev));
                        }
                        got += (avail / SIZE) as u64;
                        chunk.commit_all();
                    }
                    sum
                },
            )
        })
    });
}

fn crossbeam_array_queue<const SIZE: usize>(group: &mut BenchmarkGroup<'_, WallTime>, per_iter: u64) {
    let queue = crossbeam_queue::ArrayQueue::<[u8; SIZE]>::new(RING_BYTES / SIZE);
    group.bench_function("crossbeam_array_queue", |b| {
        b.iter_custom(|iters| {
            let queue = &queue;
            transfer(
                iters * per_iter,
                move |n| {
                    let mut w = Wait::default();
                    let mut ev = template::<SIZE>();
                    for i in 0..n {
                        stamp_event(&mut ev, i);
                        while queue.push(ev).is_err() {
                            w.wait();
                        }
                        w.reset();
                    }
                },
                move |n| {
                    let mut w = Wait::default();
                    let (mut got, mut sum) = (0u64, 0u64);
                    while got < n {
                        match queue.pop() {
                            Some(ev) => {
                                sum += check(black_box(&ev[..]));
                                got += 1;
                                w.reset();
                            }
                            None => w.wait(),
                        }
                    }
                    sum
                },
            )
        })
    });
}

fn rings(c: &mut Criterion) {
    bench_size::<8>(c);
    bench_size::<100>(c);
    bench_size::<1000>(c);
}

fn config() -> Criterion {
    // Defaults keep `cargo bench --bench rings` to about a minute and a half;
    // command-line flags (`--measurement-time`, `--sample-size`, ...) override them.
    Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .configure_from_args()
}

criterion_group! {
    name = benches;
    config = config();
    targets = rings
}
criterion_main!(benches);
