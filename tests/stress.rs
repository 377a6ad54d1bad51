//! Multi-threaded stress tests of the rings, the collector and the foreign
//! handle, with per-producer sequence numbers.
//!
//! Every event is `producer id u32 LE | seq u64 LE | payload`, where the
//! payload length and bytes are functions of (id, seq). The consumer side
//! recomputes both, so it detects lost, duplicated, reordered (per producer)
//! and torn events.
//!
//! Sizes scale with the build: release runs millions of ring events in a few
//! seconds; debug builds run a smaller count.

use microbatch::frame;
use microbatch::handle::Handle;
use microbatch::ring::{Full, MpscRing, SpscRing};
use microbatch::sink::{Completion, Sink};
use microbatch::{Code, Collector, Config};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Barrier, Mutex};
use std::thread;
use std::time::{Duration, Instant};

const ID_SEQ: usize = 12;
const MAX_PAYLOAD: usize = 52;

fn scaled(release: u64, debug: u64) -> u64 {
    if cfg!(debug_assertions) {
        debug
    } else {
        release
    }
}

fn mix(mut x: u64) -> u64 {
    // splitmix64 finaliser
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

fn payload_len(id: u32, seq: u64) -> usize {
    (mix(((id as u64) << 40) ^ seq) % (MAX_PAYLOAD as u64 + 1)) as usize
}

/// Writes the event for (id, seq) into `buf` (no allocation once `buf` has
/// capacity) and returns its length.
fn make_event(buf: &mut [u8; ID_SEQ + MAX_PAYLOAD], id: u32, seq: u64) -> usize {
    let len = payload_len(id, seq);
    buf[..4].copy_from_slice(&id.to_le_bytes());
    buf[4..12].copy_from_slice(&seq.to_le_bytes());
    let seed = mix(((id as u64) << 32) ^ seq.rotate_left(17));
    for i in 0..len {
        buf[ID_SEQ + i] = (seed >> ((i % 8) * 8)) as u8 ^ i as u8;
    }
    ID_SEQ + len
}

/// Parses and fully checks one event's bytes; returns (id, seq).
fn check_event(bytes: &[u8]) -> (u32, u64) {
    assert!(bytes.len() >= ID_SEQ, "torn event: {} bytes", bytes.len());
    let id = u32::from_le_bytes(bytes[..4].try_into().unwrap());
    let seq = u64::from_le_bytes(bytes[4..12].try_into().unwrap());
    let mut want = [0u8; ID_SEQ + MAX_PAYLOAD];
    let n = make_event(&mut want, id, seq);
    assert_eq!(bytes, &want[..n], "torn event for producer {id} seq {seq}");
    (id, seq)
}

/// Per-producer expectation: the next seq of each producer.
#[derive(Default)]
struct Tracker {
    next: HashMap<u32, u64>,
    total: u64,
}

impl Tracker {
    fn see(&mut self, bytes: &[u8]) {
        let (id, seq) = check_event(bytes);
        let next = self.next.entry(id).or_insert(0);
        assert!(seq >= *next, "producer {id}: seq {seq} again or out of order (expected {next})");
        assert_eq!(seq, *next, "producer {id}: seq {next} lost (got {seq})");
        *next += 1;
        self.total += 1;
    }

    /// Every producer delivered exactly `counts[id]` events.
    fn assert_complete(&self, counts: &HashMap<u32, u64>) {
        for (id, &n) in counts {
            assert_eq!(self.next.get(id).copied().unwrap_or(0), n, "producer {id}: events lost at the end");
        }
        assert_eq!(self.next.len(), counts.iter().filter(|(_, &n)| n > 0).count(), "unknown producer ids");
        assert_eq!(self.total, counts.values().sum::<u64>());
    }
}

// ---------------------------------------------------------------- raw rings

#[test]
fn spsc_ring_one_producer_one_consumer() {
    let n = scaled(4_000_000, 1_000_000);
    // Frames of at most 16 events or 1 KiB: many seals, wraps and frames
    // closed early at the buffer end.
    let ring = Arc::new(SpscRing::new(4096, 1024));
    let start = Instant::now();
    let producer = {
        let ring = ring.clone();
        thread::spawn(move || {
            let mut buf = [0u8; ID_SEQ + MAX_PAYLOAD];
            let mut fulls = 0u64;
            for seq in 0..n {
                let len = make_event(&mut buf, 7, seq);
                // SAFETY: the only producer side.
                while let Err(Full) = unsafe { ring.push_tagged(&buf[..len], None, 16, || seq as u32) } {
                    fulls += 1;
                    std::hint::spin_loop();
                    if fulls % 64 == 0 {
                        thread::yield_now();
                    }
                }
                if seq % 1000 == 999 {
                    // As the flush thread does when a frame is due.
                    unsafe { ring.seal() };
                }
            }
            unsafe { ring.seal() };
            fulls
        })
    };
    let mut tracker = Tracker::default();
    let mut frames = 0u64;
    while tracker.total < n {
        // SAFETY: the only consumer.
        let taken = unsafe {
            ring.drain_frames(usize::MAX, |sealed| {
                assert_eq!(sealed.stamp, tracker.total as u32, "a frame carries its first event's stamp");
                let mut count = 0;
                for event in frame::events(sealed.frame).expect("a valid frame") {
                    tracker.see(event.expect("a whole event"));
                    count += 1;
                }
                assert_eq!(count, sealed.events);
                assert!(count <= 16 && sealed.frame.len() <= 1024);
            })
        };
        frames += taken as u64;
        if taken == 0 {
            thread::yield_now();
        }
    }
    let fulls = producer.join().unwrap();
    tracker.assert_complete(&HashMap::from([(7, n)]));
    assert_eq!(ring.used_bytes(), 0);
    eprintln!("spsc: {n} events in {frames} frames in {:?}, producer saw Full {fulls} times", start.elapsed());
}

#[test]
fn mpsc_ring_four_producers_one_consumer() {
    let per = scaled(1_000_000, 250_000);
    let producers = 4u32;
    let ring = Arc::new(MpscRing::with_capacity(8192));
    let start = Instant::now();
    let handles: Vec<_> = (0..producers)
        .map(|id| {
            let ring = ring.clone();
            thread::spawn(move || {
                let mut buf = [0u8; ID_SEQ + MAX_PAYLOAD];
                let mut fulls = 0u64;
                for seq in 0..per {
                    let len = make_event(&mut buf, id, seq);
                    while let Err(Full) = ring.push(&buf[..len], id) {
                        fulls += 1;
                        thread::yield_now();
                    }
                }
                fulls
            })
        })
        .collect();
    let mut tracker = Tracker::default();
    let total = per * producers as u64;
    while tracker.total < total {
        // SAFETY: the only consumer.
        let taken = unsafe {
            ring.drain(usize::MAX, |stamp, bytes| {
                tracker.see(bytes);
                assert_eq!(stamp, u32::from_le_bytes(bytes[..4].try_into().unwrap()));
                true
            })
        };
        if taken == 0 {
            thread::yield_now();
        }
    }
    let fulls: u64 = handles.into_iter().map(|h| h.join().unwrap()).sum();
    tracker.assert_complete(&(0..producers).map(|id| (id, per)).collect());
    assert_eq!(ring.used_bytes(), 0);
    assert_eq!(unsafe { ring.drain(usize::MAX, |_, _| true) }, 0);
    eprintln!("mpsc: {total} events in {:?}, producers saw Full {fulls} times", start.elapsed());
}

// ---------------------------------------------------------------- collector

/// Records every event of every frame, in the order frames arrive.
#[derive(Default)]
struct Recorder {
    events: Mutex<Vec<Vec<u8>>>,
    frames: AtomicU64,
}

impl Sink for Recorder {
    fn send(&self, bytes: &[u8], events: u32, completion: Completion) {
        let decoded = frame::decode(bytes).expect("the collector wrote a malformed frame");
        assert_eq!(decoded.len(), events as usize);
        self.events.lock().unwrap().extend(decoded.into_iter().map(|e| e.to_vec()));
        self.frames.fetch_add(1, Ordering::Relaxed);
        completion.delivered();
    }
    fn name(&self) -> &'static str {
        "recorder"
    }
}

fn collector_config(ring: &str, sink: Arc<dyn Sink>) -> Config {
    collector_config_with(ring, "2", sink)
}

fn collector_config_with(ring: &str, partitions: &str, sink: Arc<dyn Sink>) -> Config {
    let mut c = Config::default();
    // Learned configs stay out of these tests (and out of the home folder).
    c.set("calibration.path", ":memory:").unwrap();
    for (k, v) in [
        ("ring.type", ring),
        ("partitions", partitions),
        ("flush.threads", "2"),
        // Small rings so producers meet MB_ERR_FULL and wraps are frequent.
        ("ring.capacity.bytes", "16384"),
        ("event.max.bytes", "256"),
        ("level", "L2_FAST"),
    ] {
        c.set(k, v).unwrap();
    }
    c.set_sink(sink);
    c
}

/// Submits `n` events for producer `id`, retrying on MB_ERR_FULL. Returns
/// how many times it saw FULL.
fn submit_burst(submit: impl Fn(&[u8]) -> microbatch::Result<()>, id: u32, n: u64) -> u64 {
    let mut buf = [0u8; ID_SEQ + MAX_PAYLOAD];
    let mut fulls = 0;
    for seq in 0..n {
        let len = make_event(&mut buf, id, seq);
        loop {
            match submit(&buf[..len]) {
                Ok(()) => break,
                Err(e) if e.code() == Code::MB_ERR_FULL => {
                    fulls += 1;
                    thread::yield_now();
                }
                Err(e) => panic!("producer {id} seq {seq}: {e}"),
            }
        }
    }
    fulls
}

fn collector_stress(ring: &str) {
    let long_lived = 8u32;
    let per_long = scaled(200_000, 50_000);
    let waves = scaled(40, 20) as u32;
    let wave_threads = 4u32;
    let per_short = scaled(2_000, 1_000);

    let rec = Arc::new(Recorder::default());
    let c = Arc::new(Collector::new(&collector_config(ring, rec.clone())).unwrap());
    let start = Instant::now();
    let mut counts: HashMap<u32, u64> = HashMap::new();
    let fulls = Arc::new(AtomicU64::new(0));

    let long: Vec<_> = (0..long_lived)
        .map(|id| {
            let (c, fulls) = (c.clone(), fulls.clone());
            counts.insert(id, per_long);
            thread::spawn(move || {
                let f = submit_burst(|e| c.submit(e), id, per_long);
                fulls.fetch_add(f, Ordering::Relaxed);
            })
        })
        .collect();
    // Threads that come and go while the long-lived ones run: each wave's
    // threads start, submit a burst, and exit (dropping their thread-locals).
    for wave in 0..waves {
        let wave_handles: Vec<_> = (0..wave_threads)
            .map(|t| {
                let id = 1000 + wave * wave_threads + t;
                counts.insert(id, per_short);
                let (c, fulls) = (c.clone(), fulls.clone());
                thread::spawn(move || {
                    let f = submit_burst(|e| c.submit(e), id, per_short);
                    fulls.fetch_add(f, Ordering::Relaxed);
                })
            })
            .collect();
        for h in wave_handles {
            h.join().unwrap();
        }
    }
    for h in long {
        h.join().unwrap();
    }
    let submitted: u64 = counts.values().sum();
    c.flush(Duration::from_secs(30)).unwrap();
    let s = c.status();
    let fulls = fulls.load(Ordering::Relaxed);
    assert_eq!(s.submitted, submitted, "{s:?}");
    assert_eq!(s.delivered, submitted, "{s:?}");
    assert_eq!((s.failed, s.pending), (0, 0), "{s:?}");
    assert_eq!(s.rejected, fulls, "every FULL is counted as rejected: {s:?}");

    let events = std::mem::take(&mut *rec.events.lock().unwrap());
    let mut tracker = Tracker::default();
    for e in &events {
        tracker.see(e);
    }
    tracker.assert_complete(&counts);
    assert_eq!(s.flushed_batches, rec.frames.load(Ordering::Relaxed));
    c.close().unwrap();
    eprintln!(
        "collector {ring}: {submitted} events from {} threads in {:?}, {fulls} FULL retries, {} frames",
        counts.len(),
        start.elapsed(),
        s.flushed_batches
    );
}

#[test]
fn collector_spsc_many_threads_coming_and_going() {
    collector_stress("spsc");
}

#[test]
fn collector_mpsc_many_threads_coming_and_going() {
    collector_stress("mpsc");
}

// ------------------------------------------------- free while submitting

fn free_while_submitting(ring: &str, partitions: &str, round: u32) -> u64 {
    let rec = Arc::new(Recorder::default());
    let handle: &'static Handle = Handle::create(&collector_config_with(ring, partitions, rec.clone())).unwrap();
    let producers = 4u32;
    let go = Arc::new(Barrier::new(producers as usize + 1));
    let saw_closed = Arc::new(AtomicBool::new(false));
    let workers: Vec<_> = (0..producers)
        .map(|id| {
            let (go, saw_closed) = (go.clone(), saw_closed.clone());
            thread::spawn(move || {
                let mut buf = [0u8; ID_SEQ + MAX_PAYLOAD];
                let (mut ok, mut full) = (0u64, 0u64);
                go.wait();
                loop {
                    let len = make_event(&mut buf, id, ok);
                    match handle.submit(&buf[..len]) {
                        Ok(()) => ok += 1,
                        Err(e) if e.code() == Code::MB_ERR_FULL => {
                            full += 1;
                            thread::yield_now();
                        }
                        Err(e) if e.code() == Code::MB_ERR_CLOSED => {
                            saw_closed.store(true, Ordering::Relaxed);
                            // Once closed, always closed.
                            for _ in 0..10 {
                                assert_eq!(handle.submit(&buf[..len]).unwrap_err().code(), Code::MB_ERR_CLOSED);
                            }
                            return (ok, full);
                        }
                        Err(e) => panic!("unexpected submit result: {e}"),
                    }
                }
            })
        })
        .collect();
    go.wait();
    // Let the producers get going, at a different point each round.
    thread::sleep(Duration::from_micros(200 + 300 * (round as u64 % 7)));
    handle.free().unwrap();
    handle.free().unwrap(); // a second free does nothing
    let mut counts = HashMap::new();
    for (id, w) in workers.into_iter().enumerate() {
        let (ok, _full) = w.join().unwrap();
        counts.insert(id as u32, ok);
    }
    assert!(saw_closed.load(Ordering::Relaxed));
    assert_eq!(handle.status().unwrap_err().code(), Code::MB_ERR_CLOSED);
    assert_eq!(handle.flush(Duration::from_millis(1)).unwrap_err().code(), Code::MB_ERR_CLOSED);

    // free() closed the gates, drained the rings and waited for the flush
    // threads: every accepted event reached the sink, in order.
    let events = std::mem::take(&mut *rec.events.lock().unwrap());
    let ok_total: u64 = counts.values().sum();
    assert_eq!(events.len() as u64, ok_total, "accepted {ok_total} submits, sink got {}", events.len());
    let mut tracker = Tracker::default();
    for e in &events {
        tracker.see(e);
    }
    tracker.assert_complete(&counts);
    ok_total
}

fn free_rounds(ring: &str, partitions: &str) {
    let rounds = scaled(30, 15) as u32;
    let accepted: u64 = (0..rounds).map(|round| free_while_submitting(ring, partitions, round)).sum();
    eprintln!("free while submitting ({ring}, {partitions} partitions): {rounds} rounds, {accepted} submits accepted before the free");
    assert!(accepted > 0, "producers never got an event in before free()");
}

#[test]
fn free_while_submitting_spsc() {
    free_rounds("spsc", "2");
}

/// One producer per partition: each soon holds its partition's lease, so the
/// free revokes leases of threads in the middle of a submit.
#[test]
fn free_while_submitting_spsc_leased() {
    free_rounds("spsc", "4");
}

#[test]
fn free_while_submitting_mpsc() {
    free_rounds("mpsc", "2");
}
