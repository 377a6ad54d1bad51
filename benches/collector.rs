//! Whole-collector throughput with 100-byte events into the null sink, and
//! the per-call cost of the C ABI's handle check.
//!
//! Group `collector_100B` (throughput in events):
//! * `mb_spsc/<T>p`, `mb_mpsc/<T>p`: the microbatch collector driven only
//!   through the C ABI (`mb_config_*`, `mb_collector_new/submit/flush/free`),
//!   default config (partitions = CPU count, flush.threads = 2, 4 MiB rings)
//!   with `sink=null` set explicitly (the default sink is Kafka) and
//!   `level=L7_HIGH` forced so the time rule (T = 1 s) never
//!   fires during a run; frames close on `batch.max.bytes`. `ring.type` is
//!   spsc (default) or mpsc. `mb_spsc_lock` is `mb_spsc` with
//!   `submit.lease=false`: every submit takes its partition's lock, even a
//!   thread that has the partition to itself.
//! * `mutex/<T>p`: the reference, the simplest correct collector: one
//!   `std::sync::Mutex` around a growing `Vec<u8>` of length-prefixed events.
//!   Producers lock, append, unlock. A flush thread applies the same rule as
//!   L7 (N events, frame bytes, or oldest waited T), takes the buffer under
//!   the lock (`mem::take`: the next one grows from empty) and hands it to a
//!   null sink that only counts.
//! * `mutex_reuse/<T>p`: the same, but the flush swaps in a spare buffer that
//!   keeps its capacity, so producers never wait on an allocation.
//! * `mutex_per_partition/<T>p`: `mutex_reuse` partitioned as microbatch is:
//!   one mutex-and-buffer and one flush thread per CPU, each producer thread
//!   on one partition. The fair reference for more than one producer: the
//!   single-mutex ratios mostly measure partitioning.
//!
//! `T` producer threads submit `EVENTS / T` events each, retrying on
//! MB_ERR_FULL (spin, then yield). The collector is created once per
//! benchmark function. A timed round runs from the moment all producers are
//! released until they have all finished AND flush has returned, so nothing
//! is left in the rings; the sink's count is checked afterwards.
//!
//! Group `submit_call_100B`: one thread, `mb_collector_submit` (C ABI:
//! panic guard, handle magic check, argument checks, result code) versus
//! `Handle::submit` (Rust, same stale-safe handle, no C boundary) versus
//! `Collector::submit` (Rust, no handle), and `mb_collector_submit_encoded`
//! with blocks of 64 pre-encoded events (what the JNI batch submit calls).
//! Rings are 64 MiB so the timed
//! stretch of submits never meets a full ring; only the submits are timed,
//! the flush between stretches is not.
//!
//! Run: `cargo bench --bench collector` (criterion flags after `--` override
//! the defaults set in `config()`), or `MB_SIDE_BY_SIDE=<rounds> cargo bench
//! --bench collector` for the interleaved comparison (see `side_by_side`),
//! which is what README quotes. `MB_EXTRA=key=value,...` adds config keys to
//! the microbatch contenders (e.g. `ring.capacity.bytes=1048576`) for tuning
//! experiments.

use criterion::measurement::WallTime;
use criterion::{criterion_group, BenchmarkGroup, BenchmarkId, Criterion, SamplingMode, Throughput};
use microbatch::config::Config;
use microbatch::error::mb_result;
use microbatch::ffi::{
    mb_collector_flush, mb_collector_free, mb_collector_new, mb_collector_status, mb_collector_submit,
    mb_collector_submit_encoded, mb_config_free, mb_config_new, mb_config_set,
};
use microbatch::handle::Handle;
use microbatch::{Collector, PressureLevel, Status};
use std::ffi::CStr;
use std::hint::{black_box, spin_loop};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Barrier, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Events per timed round, split evenly between the producers.
const EVENTS: u64 = 2_000_000;
const EVENT_BYTES: usize = 100;
const PRODUCERS: [usize; 3] = [1, 2, 4];
/// The forced level; the mutex collector uses the same N and T.
const LEVEL: &CStr = c"L7_HIGH";
/// The collector's default `batch.max.bytes` (frame cap, header included).
const BATCH_MAX_BYTES: usize = 960 << 10;
const FLUSH_TIMEOUT_MS: u32 = 60_000;
/// The reference's idle naps, as the microbatch flush threads take them.
const IDLE_MIN: Duration = Duration::from_micros(50);
const IDLE_MAX: Duration = Duration::from_millis(1);

fn event(seed: u64) -> [u8; EVENT_BYTES] {
    let mut ev = [0u8; EVENT_BYTES];
    for (i, b) in ev.iter_mut().enumerate() {
        *b = (seed as usize * 131 + i) as u8;
    }
    ev
}

/// Runs `rounds` rounds of `producers` threads each calling `submit_n(count)`
/// then `flush()`, and returns the summed time of the timed parts.
fn run_rounds(rounds: u64, producers: usize, submit_n: impl Fn(u64) + Sync, flush: impl Fn()) -> Duration {
    let per_thread = EVENTS / producers as u64;
    let mut total = Duration::ZERO;
    for _ in 0..rounds {
        let ready = Barrier::new(producers + 1);
        let start = std::thread::scope(|s| {
            for _ in 0..producers {
                s.spawn(|| {
                    ready.wait();
                    submit_n(per_thread);
                });
            }
            ready.wait();
            Instant::now()
        });
        flush();
        total += start.elapsed();
    }
    total
}

// ---------------------------------------------------------------------------
// microbatch through the C ABI

struct CHandle(*mut Handle);
// SAFETY: the C ABI documents handles as usable from any thread.
unsafe impl Send for CHandle {}
unsafe impl Sync for CHandle {}

impl CHandle {
    fn new(settings: &[(&CStr, &CStr)]) -> CHandle {
        let cfg = mb_config_new();
        assert!(!cfg.is_null());
        for (k, v) in settings {
            assert_eq!(mb_config_set(cfg, k.as_ptr(), v.as_ptr()), mb_result::MB_OK, "{k:?}={v:?}");
        }
        let mut out = std::ptr::null_mut();
        assert_eq!(mb_collector_new(cfg, &mut out), mb_result::MB_OK);
        mb_config_free(cfg);
        CHandle(out)
    }

    /// Submits `n` copies of one event, retrying while the ring is full.
    /// Returns how many submits came back MB_ERR_FULL.
    fn submit_n(&self, n: u64) -> u64 {
        let ev = event(n);
        let mut full = 0;
        for _ in 0..n {
            let mut spins = 0u32;
            loop {
                match mb_collector_submit(self.0, ev.as_ptr(), ev.len()) {
                    mb_result::MB_OK => break,
                    mb_result::MB_ERR_FULL => {
                        full += 1;
                        spins += 1;
                        if spins < 64 {
                            spin_loop();
                        } else {
                            std::thread::yield_now();
                        }
                    }
                    other => panic!("submit failed: {other:?}"),
                }
            }
        }
        full
    }

    fn flush(&self) {
        assert_eq!(mb_collector_flush(self.0, FLUSH_TIMEOUT_MS), mb_result::MB_OK);
    }

    fn status(&self) -> Status {
        let mut st = Status::default();
        assert_eq!(mb_collector_status(self.0, &mut st), mb_result::MB_OK);
        st
    }
}

impl Drop for CHandle {
    fn drop(&mut self) {
        mb_collector_free(self.0);
    }
}

/// One collector under test. The criterion group and the side-by-side mode
/// drive every contender through the same `run_rounds`.
trait Contender: Sync {
    fn name(&self) -> &'static str;
    /// Submits `n` events from the calling thread.
    fn submit_n(&self, n: u64);
    /// Returns once everything submitted so far has reached the sink.
    fn flush(&self);
    /// After the last round: asserts every event reached the sink and
    /// prints what the sink saw.
    fn check(&self, producers: usize);
}

/// The microbatch collector, driven only through the C ABI.
struct Microbatch {
    name: &'static str,
    handle: CHandle,
    full: AtomicU64,
}

impl Microbatch {
    fn new(name: &'static str, ring_type: &CStr, lease: &CStr) -> Microbatch {
        let mut settings: Vec<(std::ffi::CString, std::ffi::CString)> = vec![];
        for kv in std::env::var("MB_EXTRA").unwrap_or_default().split(',').filter(|s| !s.is_empty()) {
            let (k, v) = kv.split_once('=').expect("MB_EXTRA: comma-separated key=value pairs");
            settings.push((std::ffi::CString::new(k).unwrap(), std::ffi::CString::new(v).unwrap()));
        }
        let mut all: Vec<(&CStr, &CStr)> =
            vec![(c"sink", c"null"), (c"level", LEVEL), (c"ring.type", ring_type), (c"submit.lease", lease)];
        all.extend(settings.iter().map(|(k, v)| (k.as_c_str(), v.as_c_str())));
        let handle = CHandle::new(&all);
        Microbatch { name, handle, full: AtomicU64::new(0) }
    }
}

impl Contender for Microbatch {
    fn name(&self) -> &'static str {
        self.name
    }

    fn submit_n(&self, n: u64) {
        self.full.fetch_add(self.handle.submit_n(n), Ordering::Relaxed);
    }

    fn flush(&self) {
        self.handle.flush();
    }

    fn check(&self, producers: usize) {
        let st = self.handle.status();
        assert_eq!(st.delivered, st.submitted, "flush left events behind: {st:?}");
        assert_eq!(st.failed, 0);
        eprintln!(
            "  [{}/{producers}p] {} events in {} frames ({:.0} events/frame), {} MB_ERR_FULL retries",
            self.name,
            st.delivered,
            st.flushed_batches,
            st.delivered as f64 / st.flushed_batches.max(1) as f64,
            self.full.load(Ordering::Relaxed),
        );
    }
}

fn bench_contender(group: &mut BenchmarkGroup<'_, WallTime>, contender: &dyn Contender, producers: usize) {
    group.bench_function(BenchmarkId::new(contender.name(), format!("{producers}p")), |b| {
        b.iter_custom(|rounds| run_rounds(rounds, producers, |n| contender.submit_n(n), || contender.flush()))
    });
    contender.check(producers);
}

// ---------------------------------------------------------------------------
// The reference: one mutex around a growing byte buffer

#[derive(Default)]
struct CountingSink {
    frames: AtomicU64,
    events: AtomicU64,
    bytes: AtomicU64,
}

impl CountingSink {
    fn send(&self, frame: &[u8], events: u64) {
        black_box(frame);
        self.frames.fetch_add(1, Ordering::Relaxed);
        self.events.fetch_add(events, Ordering::Relaxed);
        self.bytes.fetch_add(frame.len() as u64, Ordering::Relaxed);
    }
}

struct Pending {
    /// Length-prefixed events: u32 little-endian length, then the bytes.
    bytes: Vec<u8>,
    count: u64,
    /// When the oldest event in `bytes` was appended.
    oldest: Option<Instant>,
}

struct MutexShared {
    pending: Mutex<Pending>,
    /// Keep buffer capacity across flushes (swap with a spare) instead of
    /// handing the buffer itself to the sink and starting a new one.
    reuse: bool,
    stop: AtomicBool,
    max_events: u64,
    max_wait: Duration,
    sink: CountingSink,
}

impl MutexShared {
    /// Takes the pending events if `force` or the flush rule says so, leaving
    /// `spare` (emptied) in their place.
    fn take(&self, spare: &mut Vec<u8>, force: bool) -> u64 {
        let mut p = self.pending.lock().unwrap();
        let due = p.count > 0
            && (force
                || p.count >= self.max_events
                || p.bytes.len() >= BATCH_MAX_BYTES
                || p.oldest.is_some_and(|t| t.elapsed() >= self.max_wait));
        if !due {
            return 0;
        }
        if self.reuse {
            spare.clear();
            std::mem::swap(&mut p.bytes, spare);
        } else {
            *spare = std::mem::take(&mut p.bytes);
        }
        p.oldest = None;
        std::mem::take(&mut p.count)
    }
}

struct MutexCollector {
    shared: Arc<MutexShared>,
    flusher: Option<JoinHandle<()>>,
    /// The caller's buffer for `flush`.
    spare: Mutex<Vec<u8>>,
}

impl MutexCollector {
    fn new(max_events: u64, max_wait: Duration, reuse: bool) -> MutexCollector {
        let initial = if reuse { BATCH_MAX_BYTES } else { 0 };
        let shared = Arc::new(MutexShared {
            pending: Mutex::new(Pending { bytes: Vec::with_capacity(initial), count: 0, oldest: None }),
            reuse,
            stop: AtomicBool::new(false),
            max_events,
            max_wait,
            sink: CountingSink::default(),
        });
        let s = shared.clone();
        let flusher = std::thread::spawn(move || {
            let mut out = Vec::with_capacity(initial);
            // The microbatch flush threads' naps: 50 us after finding work,
            // doubling up to 1 ms while idle.
            let mut nap = IDLE_MIN;
            while !s.stop.load(Ordering::Acquire) {
                let n = s.take(&mut out, false);
                if n > 0 {
                    s.sink.send(&out, n);
                    nap = IDLE_MIN;
                } else {
                    std::thread::sleep(nap);
                    nap = (nap * 2).min(IDLE_MAX);
                }
            }
        });
        MutexCollector { shared, flusher: Some(flusher), spare: Mutex::new(Vec::with_capacity(initial)) }
    }

    #[inline]
    fn submit(&self, event: &[u8]) {
        let mut p = self.shared.pending.lock().unwrap();
        if p.count == 0 {
            p.oldest = Some(Instant::now());
        }
        p.bytes.extend_from_slice(&(event.len() as u32).to_le_bytes());
        p.bytes.extend_from_slice(event);
        p.count += 1;
    }

    /// Hands everything pending to the sink before returning.
    fn flush(&self) {
        let mut spare = self.spare.lock().unwrap();
        let n = self.shared.take(&mut spare, true);
        if n > 0 {
            self.shared.sink.send(&spare, n);
        }
    }
}

impl Drop for MutexCollector {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::Release);
        if let Some(t) = self.flusher.take() {
            t.join().unwrap();
        }
    }
}

/// The reference collector as a contender.
struct MutexReference {
    name: &'static str,
    collector: MutexCollector,
    submitted: AtomicU64,
}

impl MutexReference {
    fn new(name: &'static str, reuse: bool) -> MutexReference {
        let params = PressureLevel::parse(LEVEL.to_str().unwrap()).unwrap().bootstrap(1_000_000);
        let collector = MutexCollector::new(params.max_events, params.max_wait, reuse);
        MutexReference { name, collector, submitted: AtomicU64::new(0) }
    }
}

impl Contender for MutexReference {
    fn name(&self) -> &'static str {
        self.name
    }

    fn submit_n(&self, n: u64) {
        let ev = event(n);
        for _ in 0..n {
            self.collector.submit(&ev);
        }
        self.submitted.fetch_add(n, Ordering::Relaxed);
    }

    fn flush(&self) {
        self.collector.flush();
    }

    fn check(&self, producers: usize) {
        let sink = &self.collector.shared.sink;
        let (events, frames) = (sink.events.load(Ordering::Relaxed), sink.frames.load(Ordering::Relaxed));
        assert_eq!(events, self.submitted.load(Ordering::Relaxed), "flush left events behind");
        assert_eq!(sink.bytes.load(Ordering::Relaxed), events * (4 + EVENT_BYTES as u64));
        eprintln!(
            "  [{}/{producers}p] {events} events in {frames} frames ({:.0} events/frame)",
            self.name,
            events as f64 / frames.max(1) as f64
        );
    }
}

/// The reference partitioned as microbatch is by default: one mutex-and-
/// buffer per CPU, each with its own flush thread (on 2 CPUs: 2 partitions
/// and 2 flush threads, microbatch's defaults), and a producer thread
/// appending to one partition for the whole of its run (threads are handed
/// partitions in turn, as microbatch hands out home partitions). Against it
/// the ratios measure the rings and gates, not partitioning.
struct PartitionedMutexReference {
    name: &'static str,
    parts: Vec<MutexCollector>,
    next: AtomicU64,
    submitted: AtomicU64,
}

impl PartitionedMutexReference {
    fn new(name: &'static str) -> PartitionedMutexReference {
        let params = PressureLevel::parse(LEVEL.to_str().unwrap()).unwrap().bootstrap(1_000_000);
        let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
        let parts = (0..cpus).map(|_| MutexCollector::new(params.max_events, params.max_wait, true)).collect();
        PartitionedMutexReference { name, parts, next: AtomicU64::new(0), submitted: AtomicU64::new(0) }
    }
}

impl Contender for PartitionedMutexReference {
    fn name(&self) -> &'static str {
        self.name
    }

    fn submit_n(&self, n: u64) {
        // Each producer thread calls this once per round: its partition.
        let home = &self.parts[(self.next.fetch_add(1, Ordering::Relaxed) % self.parts.len() as u64) as usize];
        let ev = event(n);
        for _ in 0..n {
            home.submit(&ev);
        }
        self.submitted.fetch_add(n, Ordering::Relaxed);
    }

    fn flush(&self) {
        for part in &self.parts {
            part.flush();
        }
    }

    fn check(&self, producers: usize) {
        let sinks = self.parts.iter().map(|p| &p.shared.sink);
        let (events, frames, bytes) = sinks.fold((0, 0, 0), |(e, f, b), s| {
            (e + s.events.load(Ordering::Relaxed), f + s.frames.load(Ordering::Relaxed), b + s.bytes.load(Ordering::Relaxed))
        });
        assert_eq!(events, self.submitted.load(Ordering::Relaxed), "flush left events behind");
        assert_eq!(bytes, events * (4 + EVENT_BYTES as u64));
        eprintln!(
            "  [{}/{producers}p] {events} events in {frames} frames over {} partitions ({:.0} events/frame)",
            self.name,
            self.parts.len(),
            events as f64 / frames.max(1) as f64
        );
    }
}

type MakeContender = fn() -> Box<dyn Contender>;

/// Every contender, the microbatch ones first.
const CONTENDERS: [MakeContender; 6] = [
    || Box::new(Microbatch::new("mb_spsc", c"spsc", c"true")),
    || Box::new(Microbatch::new("mb_spsc_lock", c"spsc", c"false")),
    || Box::new(Microbatch::new("mb_mpsc", c"mpsc", c"true")),
    || Box::new(MutexReference::new("mutex", false)),
    || Box::new(MutexReference::new("mutex_reuse", true)),
    || Box::new(PartitionedMutexReference::new("mutex_per_partition")),
];

fn collector_throughput(c: &mut Criterion) {
    let mut group = c.benchmark_group("collector_100B");
    group.throughput(Throughput::Elements(EVENTS));
    // Each round is tens of milliseconds: same round count per sample.
    group.sampling_mode(SamplingMode::Flat);
    for producers in PRODUCERS {
        // One at a time: an idle contender's flush threads still wake up.
        for make in CONTENDERS {
            bench_contender(&mut group, make().as_ref(), producers);
        }
    }
    group.finish();
}

// ---------------------------------------------------------------------------
// Cost of the C boundary and the stale-safe handle on the submit path

/// Submits per timed stretch; 11.2 MB of records, well inside a 64 MiB ring.
const STRETCH: u64 = 100_000;
/// Events per block submit (the Java batch benchmarks' 64); divides STRETCH
/// closely enough (99,968 events are timed per stretch, STRETCH is counted).
const BLOCK: usize = 64;
const BIG_RING: &CStr = c"67108864";

fn timed_stretches(iters: u64, submit: impl Fn(&[u8]), flush: impl Fn()) -> Duration {
    let ev = event(7);
    let mut total = Duration::ZERO;
    for _ in 0..iters {
        let start = Instant::now();
        for _ in 0..STRETCH {
            submit(&ev);
        }
        total += start.elapsed();
        flush();
    }
    total
}

fn submit_call_cost(c: &mut Criterion) {
    let settings = [(c"sink", c"null"), (c"level", LEVEL), (c"ring.capacity.bytes", BIG_RING)];
    let mut group = c.benchmark_group("submit_call_100B");
    group.throughput(Throughput::Elements(STRETCH));
    group.sampling_mode(SamplingMode::Flat);

    {
        let handle = CHandle::new(&settings);
        group.bench_function("ffi_mb_collector_submit", |b| {
            b.iter_custom(|iters| {
                timed_stretches(
                    iters,
                    |ev| assert_eq!(mb_collector_submit(handle.0, ev.as_ptr(), ev.len()), mb_result::MB_OK),
                    || handle.flush(),
                )
            })
        });
    }

    {
        // The same events, 64 per call, packed in the frame's event encoding
        // as the JNI batch submit packs them: the Rust side of that path.
        let handle = CHandle::new(&settings);
        let ev = event(7);
        let block: Vec<u8> = (0..BLOCK)
            .flat_map(|_| (EVENT_BYTES as u32).to_le_bytes().into_iter().chain(ev.iter().copied()))
            .collect();
        group.bench_function("ffi_mb_collector_submit_encoded_64", |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let start = Instant::now();
                    for _ in 0..STRETCH / BLOCK as u64 {
                        let mut accepted = 0;
                        let r = mb_collector_submit_encoded(handle.0, block.as_ptr(), block.len(), BLOCK, &mut accepted);
                        assert_eq!(r, mb_result::MB_OK);
                    }
                    total += start.elapsed();
                    handle.flush();
                }
                total
            })
        });
    }

    let mut cfg = Config::new();
    for (k, v) in settings {
        cfg.set(k.to_str().unwrap(), v.to_str().unwrap()).unwrap();
    }
    {
        let handle = Handle::create(&cfg).unwrap();
        group.bench_function("rust_handle_submit", |b| {
            b.iter_custom(|iters| {
                timed_stretches(
                    iters,
                    |ev| handle.submit(ev).unwrap(),
                    || handle.flush(Duration::from_millis(FLUSH_TIMEOUT_MS as u64)).unwrap(),
                )
            })
        });
        handle.free().unwrap();
    }
    {
        let collector = Collector::new(&cfg).unwrap();
        group.bench_function("rust_collector_submit", |b| {
            b.iter_custom(|iters| {
                timed_stretches(
                    iters,
                    |ev| collector.submit(ev).unwrap(),
                    || collector.flush(Duration::from_millis(FLUSH_TIMEOUT_MS as u64)).unwrap(),
                )
            })
        });
    }
    group.finish();
}

fn config() -> Criterion {
    // Defaults keep `cargo bench --bench collector` to a few minutes;
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
    targets = collector_throughput, submit_call_cost
}

// ---------------------------------------------------------------------------
// Side by side: every contender in turn, round after round

#[path = "support/side_by_side.rs"]
mod side_by_side;

/// The interleaved comparison (see `support/side_by_side.rs`), once per
/// producer count (`MB_PRODUCERS=1,4` picks them).
fn compare_side_by_side(rounds: usize) {
    let producer_counts: Vec<usize> = match std::env::var("MB_PRODUCERS") {
        Ok(list) => list.split(',').map(|p| p.trim().parse().expect("MB_PRODUCERS: comma-separated counts")).collect(),
        Err(_) => PRODUCERS.to_vec(),
    };
    for producers in producer_counts {
        let contenders: Vec<Box<dyn Contender>> =
            CONTENDERS.iter().map(|make| make()).filter(|c| side_by_side::selected(c.name())).collect();
        let rates = side_by_side::interleave(contenders.len(), rounds, |i| {
            let c = &contenders[i];
            let took = run_rounds(1, producers, |n| c.submit_n(n), || c.flush());
            EVENTS as f64 / took.as_secs_f64() / 1e6
        });
        let names: Vec<&str> = contenders.iter().map(|c| c.name()).collect();
        side_by_side::report(
            &format!("collector_100B, {producers} producer(s), {rounds} interleaved rounds of {EVENTS} events"),
            &names,
            &rates,
        );
        for c in &contenders {
            c.check(producers);
        }
    }
}

/// `MB_SIDE_BY_SIDE=<rounds> cargo bench --bench collector` runs the
/// interleaved comparison instead of the criterion groups.
fn main() {
    if let Some(rounds) = side_by_side::rounds_from_env() {
        compare_side_by_side(rounds);
        return;
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
}
