//! Two-thread ring throughput: one producer thread moves SIZE-byte events to
//! one consumer thread, for SIZE = 8, 100 and 1000 bytes.
//!
//! Compared side by side in one group per size:
//! * `mb_spsc`: microbatch `SpscRing` (1 MiB ring): the producer appends to
//!   frames in place (sealed at `drain_chunk(SIZE)` events or 128 KiB), the
//!   consumer takes whole frames and walks their events
//!   (`SealedFrame::events`: the ring wrote them, so no decoder checks).
//! * `mb_mpsc_1p`: microbatch `MpscRing` with a single producer (1 MiB ring),
//!   `push` / `drain`.
//! * `rtrb_push_pop`: `rtrb::RingBuffer<[u8; SIZE]>`, `push` / `pop`.
//! * `rtrb_bytes`: `rtrb::RingBuffer<u8>` as a byte stream: each event is
//!   written with `write_chunk_uninit(SIZE)`, the consumer takes everything
//!   available with one `read_chunk` and walks it in place. The byte capacity
//!   is a multiple of SIZE so an event never straddles the wrap; this only
//!   works because events have a fixed size (no length prefix is carried).
//! * `crossbeam_array_queue`: `crossbeam_queue::ArrayQueue<[u8; SIZE]>`.
//!
//! Capacity is ~1 MiB of event bytes everywhere: the microbatch rings get
//! 1 MiB of buffer (MPSC records carry an 8-byte header and pad to 8; SPSC
//! events carry a 4-byte length inside their frame), the slot-based queues
//! get `1 MiB / SIZE` slots.
//!
//! Each timed iteration moves `events_per_iter(SIZE)` events; the time covers
//! the whole transfer (thread start to consumer done). The consumer runs on
//! CPU 0 and the producer on CPU 1 (when there are two; `MB_PIN=off` leaves
//! placement to the scheduler). Left to the scheduler on this 2-core VM, the
//! two threads sometimes shared one vCPU for a round (taking turns through
//! the ring in that core's cache, up to 10x faster than across vCPUs) and
//! sometimes not, so the rounds of one contender spread over 10x. The consumer reads the
//! first and last byte of every event, and the run checks both the count and
//! a checksum. Criterion reports elements (events) per second.
//!
//! Run: `cargo bench --bench rings` (append `-- <filter>` or criterion flags
//! such as `--measurement-time 3` to override the defaults set below), or
//! `MB_SIDE_BY_SIDE=<rounds> cargo bench --bench rings` for the interleaved
//! comparison README quotes (`MB_ONLY=a,b` keeps only the named contenders).

use criterion::{criterion_group, Criterion, Throughput};
use crossbeam_utils::CachePadded;
use microbatch::ring::{MpscRing, SpscRing};
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

/// Pins the calling thread to `cpu` when the machine has more than one;
/// best effort (a refused affinity leaves placement to the scheduler).
fn pin_to(cpu: usize) {
    if std::thread::available_parallelism().map_or(1, |n| n.get()) < 2
        || std::env::var("MB_PIN").is_ok_and(|v| v == "off")
    {
        return;
    }
    // SAFETY: a zeroed cpu_set_t is valid, CPU_SET stays within it, and
    // sched_setaffinity(0, ...) only reads the set for the calling thread.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(cpu, &mut set);
        libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set);
    }
}

/// Runs `producer(n)` and `consumer(n) -> checksum` on two threads, pinned
/// to CPUs 1 and 0, and returns the wall time of the whole transfer.
fn transfer(n: u64, producer: impl FnOnce(u64) + Send, consumer: impl FnOnce(u64) -> u64 + Send) -> Duration {
    let start = Instant::now();
    let sum = std::thread::scope(|s| {
        let c = s.spawn(move || {
            pin_to(0);
            consumer(n)
        });
        s.spawn(move || {
            pin_to(1);
            producer(n)
        });
        c.join().unwrap()
    });
    let elapsed = start.elapsed();
    assert_eq!(sum, expected_sum(n), "consumer saw wrong events");
    elapsed
}

/// One ring under test: moves `n` SIZE-byte events from a producer thread to
/// a consumer thread and returns the wall time of the whole transfer. The
/// criterion groups and the side-by-side mode both drive contenders this way.
trait Contender: Send {
    fn name(&self) -> &'static str;
    fn run(&mut self, n: u64) -> Duration;
}

/// Every contender for one event size, the microbatch rings first.
fn contenders<const SIZE: usize>() -> Vec<Box<dyn Contender>> {
    vec![
        Box::new(MbSpsc::<SIZE>::new()),
        Box::new(MbMpsc::<SIZE>::new()),
        Box::new(RtrbPushPop::<SIZE>::new()),
        Box::new(RtrbBytes::<SIZE>::new()),
        Box::new(ArrayQueue::<SIZE>::new()),
    ]
}

fn bench_size<const SIZE: usize>(c: &mut Criterion) {
    let per_iter = events_per_iter(SIZE);
    let mut group = c.benchmark_group(format!("ring_{SIZE}B"));
    group.throughput(Throughput::Elements(per_iter));
    for mut contender in contenders::<SIZE>() {
        group.bench_function(contender.name(), |b| b.iter_custom(|iters| contender.run(iters * per_iter)));
    }
    group.finish();
}

/// The microbatch SPSC ring: the producer appends events to frames in place
/// (sealed at `frame_events(SIZE)` events or an eighth of the ring), the
/// consumer takes whole frames and walks each frame's events, reading the
/// first and last byte of every event like the other consumers.
struct MbSpsc<const SIZE: usize> {
    ring: SpscRing,
}

impl<const SIZE: usize> MbSpsc<SIZE> {
    fn new() -> Self {
        MbSpsc { ring: SpscRing::new(RING_BYTES, RING_BYTES / 8) }
    }
}

impl<const SIZE: usize> Contender for MbSpsc<SIZE> {
    fn name(&self) -> &'static str {
        "mb_spsc"
    }

    fn run(&mut self, n: u64) -> Duration {
        let ring = &self.ring;
        let max_events = drain_chunk(SIZE) as u64;
        transfer(
            n,
            move |n| {
                let mut w = Wait::default();
                let mut ev = template::<SIZE>();
                for i in 0..n {
                    stamp_event(&mut ev, i);
                    // SAFETY: this thread is the only producer side.
                    while unsafe { ring.push_tagged(&ev, None, max_events, || 0) }.is_err() {
                        w.wait();
                    }
                    w.reset();
                }
                // SAFETY: as above.
                unsafe { ring.seal() };
            },
            move |n| {
                let mut w = Wait::default();
                let (mut got, mut sum) = (0u64, 0u64);
                while got < n {
                    // SAFETY: this thread is the only consumer.
                    let k = unsafe {
                        ring.drain_frames(usize::MAX, |f| {
                            for event in f.events() {
                                sum += check(black_box(event));
                            }
                            got += f.events as u64;
                        })
                    };
                    if k == 0 {
                        w.wait();
                    } else {
                        w.reset();
                    }
                }
                sum
            },
        )
    }
}

/// The microbatch MPSC ring with a single producer (1 MiB ring).
struct MbMpsc<const SIZE: usize> {
    ring: MpscRing,
}

impl<const SIZE: usize> MbMpsc<SIZE> {
    fn new() -> Self {
        MbMpsc { ring: MpscRing::with_capacity(RING_BYTES) }
    }
}

impl<const SIZE: usize> Contender for MbMpsc<SIZE> {
    fn name(&self) -> &'static str {
        "mb_mpsc_1p"
    }

    fn run(&mut self, n: u64) -> Duration {
        let ring = &self.ring;
        let chunk = drain_chunk(SIZE);
        transfer(
            n,
            move |n| {
                let mut w = Wait::default();
                let mut ev = template::<SIZE>();
                for i in 0..n {
                    stamp_event(&mut ev, i);
                    while ring.push(&ev, 0).is_err() {
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
    }
}

/// `rtrb::RingBuffer<[u8; SIZE]>`, `push` / `pop`. The two ends write their
/// cached indices on every call, so they sit on separate cache lines as they
/// would in two threads' own memory.
struct RtrbPushPop<const SIZE: usize> {
    tx: CachePadded<rtrb::Producer<[u8; SIZE]>>,
    rx: CachePadded<rtrb::Consumer<[u8; SIZE]>>,
}

impl<const SIZE: usize> RtrbPushPop<SIZE> {
    fn new() -> Self {
        let (tx, rx) = rtrb::RingBuffer::<[u8; SIZE]>::new(RING_BYTES / SIZE);
        RtrbPushPop { tx: CachePadded::new(tx), rx: CachePadded::new(rx) }
    }
}

impl<const SIZE: usize> Contender for RtrbPushPop<SIZE> {
    fn name(&self) -> &'static str {
        "rtrb_push_pop"
    }

    fn run(&mut self, n: u64) -> Duration {
        let (tx, rx) = (&mut *self.tx, &mut *self.rx);
        transfer(
            n,
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
    }
}

/// `rtrb::RingBuffer<u8>` as a byte stream (see the module docs); ends on
/// separate cache lines as in `RtrbPushPop`.
struct RtrbBytes<const SIZE: usize> {
    tx: CachePadded<rtrb::Producer<u8>>,
    rx: CachePadded<rtrb::Consumer<u8>>,
}

impl<const SIZE: usize> RtrbBytes<SIZE> {
    fn new() -> Self {
        // A multiple of SIZE, so every event is contiguous in one of the slices.
        let (tx, rx) = rtrb::RingBuffer::<u8>::new(RING_BYTES / SIZE * SIZE);
        RtrbBytes { tx: CachePadded::new(tx), rx: CachePadded::new(rx) }
    }
}

impl<const SIZE: usize> Contender for RtrbBytes<SIZE> {
    fn name(&self) -> &'static str {
        "rtrb_bytes"
    }

    fn run(&mut self, n: u64) -> Duration {
        let (tx, rx) = (&mut *self.tx, &mut *self.rx);
        transfer(
            n,
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
    }
}

/// `crossbeam_queue::ArrayQueue<[u8; SIZE]>`.
struct ArrayQueue<const SIZE: usize> {
    queue: crossbeam_queue::ArrayQueue<[u8; SIZE]>,
}

impl<const SIZE: usize> ArrayQueue<SIZE> {
    fn new() -> Self {
        ArrayQueue { queue: crossbeam_queue::ArrayQueue::new(RING_BYTES / SIZE) }
    }
}

impl<const SIZE: usize> Contender for ArrayQueue<SIZE> {
    fn name(&self) -> &'static str {
        "crossbeam_array_queue"
    }

    fn run(&mut self, n: u64) -> Duration {
        let queue = &self.queue;
        transfer(
            n,
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
    }
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

#[path = "support/side_by_side.rs"]
mod side_by_side;

/// The interleaved comparison (see `support/side_by_side.rs`) for one size.
fn compare_side_by_side<const SIZE: usize>(rounds: usize) {
    let per_iter = events_per_iter(SIZE);
    let mut contenders: Vec<Box<dyn Contender>> =
        contenders::<SIZE>().into_iter().filter(|c| side_by_side::selected(c.name())).collect();
    let rates = side_by_side::interleave(contenders.len(), rounds, |i| {
        let took = contenders[i].run(per_iter);
        per_iter as f64 / took.as_secs_f64() / 1e6
    });
    let names: Vec<&str> = contenders.iter().map(|c| c.name()).collect();
    side_by_side::report(&format!("ring_{SIZE}B, {rounds} interleaved rounds of {per_iter} events"), &names, &rates);
}

/// `MB_SIDE_BY_SIDE=<rounds> cargo bench --bench rings` runs the interleaved
/// comparison instead of the criterion groups.
fn main() {
    if let Some(rounds) = side_by_side::rounds_from_env() {
        compare_side_by_side::<8>(rounds);
        compare_side_by_side::<100>(rounds);
        compare_side_by_side::<1000>(rounds);
        return;
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
}
