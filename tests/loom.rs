//! Model checks of the SPSC and MPSC ring protocols, and of the collector's SPSC
//! gate (lock, lease, close) around an SPSC ring, with loom.
//!
//! Run with:
//!
//! ```text
//! RUSTFLAGS="--cfg loom" CARGO_TARGET_DIR=target/loom cargo test --profile loom --no-default-features --test loom
//! ```
//!
//! Under `--cfg loom` the rings' atomics are loom atomics and every buffer
//! byte is a loom `UnsafeCell` (see `src/ring/buffer.rs`), so loom reports any
//! unsynchronised access to record bytes as well as wrong results.
//!
//! The MPSC rings are 64 bytes (the smallest `ring_capacity` allows), which
//! makes records of 16..=32 bytes cross the wrap point and fill the ring
//! after two or three events; the SPSC rings, which hold whole frames, are
//! 128 bytes, which two or three small frames fill. In the SPSC models the only spinning threads call
//! `loom::thread::yield_now()`; the MPSC models, with several threads that
//! could wait at once, block on a loom Mutex/Condvar hand-off instead
//! ([`Progress`]), since loom cannot bound two threads yielding to each other.
#![cfg(loom)]

use loom::sync::{Arc, Condvar, Mutex};
use loom::thread;
use microbatch::collector::gate::{token, Entry, Lessee, SpscGate, Who};
use microbatch::frame;
use microbatch::ring::{max_event_for_capacity, record_size, ring_capacity, Full, MpscRing, SealedFrame, SpscRing};

const CAP: usize = 64;

/// Event bytes derived from (producer, seq, len) so a torn or misplaced record
/// is detected: byte i = producer * 64 + seq * 16 + i (mod 256).
fn event(producer: u8, seq: u8, len: usize) -> Vec<u8> {
    (0..len).map(|i| (producer as usize * 64 + seq as usize * 16 + i) as u8).collect()
}

fn stamp(producer: u8, seq: u8) -> u32 {
    ((producer as u32) << 8) | seq as u32 | 0x10000
}

fn builder(preemptions: usize) -> loom::model::Builder {
    let mut b = loom::model::Builder::new();
    // Respect LOOM_MAX_PREEMPTIONS when set; otherwise use the given bound.
    if b.preemption_bound.is_none() {
        b.preemption_bound = Some(preemptions);
    }
    b
}

#[test]
fn ring_geometry_assumed_by_the_models() {
    loom::model(|| {
        assert_eq!(ring_capacity(CAP), CAP, "64 is the smallest ring");
        assert_eq!(MpscRing::with_capacity(CAP).capacity(), CAP);
        assert_eq!(SpscRing::new(SPSC_CAP, usize::MAX).capacity(), SPSC_CAP);
        // Records of up to CAP / 2 = 32 bytes (24-byte events) always fit
        // once the ring is empty; the advertised maximum leaves room for a
        // tag, and for an SPSC frame's headers in a ring of twice the size.
        assert_eq!(record_size(24), CAP / 2);
        assert_eq!(max_event_for_capacity(SPSC_CAP), 28);
    });
}

/// SPSC rings hold whole frames (16-byte segment header, 8-byte frame
/// header, 4-byte length per event), so the models give them 128 bytes.
const SPSC_CAP: usize = 128;

/// Pushes with retry on Full; loom bounds the spin through yield_now.
fn spsc_push(ring: &SpscRing, ev: &[u8], tag: Option<u32>, max_events: u64, st: u32) {
    loop {
        // SAFETY: this is the only producer side.
        match unsafe { ring.push_tagged(ev, tag, max_events, || st) } {
            Ok(()) => return,
            Err(Full) => thread::yield_now(),
        }
    }
}

/// One event as the consumer saw it: (stamp of its frame, tag, bytes).
type Seen = (u32, Option<u32>, Vec<u8>);

/// Drains whole frames until `n` events were taken, decoding each frame.
fn spsc_collect(ring: &SpscRing, n: usize) -> Vec<Seen> {
    let mut got = Vec::new();
    while got.len() < n {
        // SAFETY: this is the only consumer thread.
        let taken = unsafe { ring.drain_frames(usize::MAX, |f| decode_into(&f, &mut got)) };
        if taken == 0 {
            thread::yield_now();
        }
    }
    got
}

fn decode_into(f: &SealedFrame<'_>, got: &mut Vec<Seen>) {
    let tags: Vec<(u32, u32)> = f.tags().collect();
    let events: Vec<Vec<u8>> = frame::events(f.frame).unwrap().map(|e| e.unwrap().to_vec()).collect();
    assert_eq!(events.len(), f.events as usize);
    for (i, ev) in events.into_iter().enumerate() {
        let tag = tags.iter().find(|t| t.0 == i as u32).map(|t| t.1);
        got.push((f.stamp, tag, ev));
    }
}

/// The producer pushes `plan` (length, tag) with frames of at most
/// `max_events`, then seals the last one; the consumer decodes frames. Each
/// frame is stamped with its first event's stamp.
fn run_spsc(plan: &'static [(usize, Option<u32>)], max_events: u64, preemptions: usize) {
    builder(preemptions).check(move || {
        let ring = Arc::new(SpscRing::new(SPSC_CAP, usize::MAX));
        let producer = {
            let ring = ring.clone();
            thread::spawn(move || {
                for (seq, &(len, tag)) in plan.iter().enumerate() {
                    spsc_push(&ring, &event(1, seq as u8, len), tag, max_events, stamp(1, seq as u8));
                }
                // SAFETY: the only producer side.
                unsafe { ring.seal() };
            })
        };
        let got = spsc_collect(&ring, plan.len());
        producer.join().unwrap();
        let want: Vec<(Option<u32>, Vec<u8>)> =
            plan.iter().enumerate().map(|(seq, &(len, tag))| (tag, event(1, seq as u8, len))).collect();
        assert_eq!(got.iter().map(|g| (g.1, g.2.clone())).collect::<Vec<_>>(), want);
        // Each event carries its frame's stamp: either the previous event's
        // (same frame) or its own (a new frame, which the producer may start
        // early when space runs out), never across a max_events boundary.
        for (seq, g) in got.iter().enumerate() {
            let first = (g.0 & 0xff) as usize;
            assert!(first == seq || (seq > 0 && g.0 == got[seq - 1].0), "event {seq} stamped {first}");
            assert!(seq - first < max_events as usize);
        }
        assert_eq!(ring.used_bytes(), 0);
        // Nothing left behind.
        assert_eq!(unsafe { ring.drain_frames(usize::MAX, |_| panic!("a frame too many")) }, 0);
    });
}

/// Two frames of two events: [0,64) and [64,128). The second needs the
/// terminator after it at offset 0 of the next lap, so the producer meets a
/// full ring until the consumer has taken the first frame.
#[test]
fn spsc_two_frames_fill_the_ring() {
    run_spsc(&[(20, None), (12, None), (10, None), (16, None)], 2, 3);
}

/// Six one-event frames of 40 bytes: frames at 0, 40, 80, then a WRAP at
/// 120 and the second lap over the first lap's words, so a consumer that
/// could read past the newest frame before its terminator is written would
/// find a stale, sealed-looking word (in loom's buffer, header words persist).
#[test]
fn spsc_second_lap_over_old_frames() {
    run_spsc(&[(8, None), (8, None), (8, None), (8, None), (8, None), (8, None)], 1, 2);
}

/// The largest event the ring takes, one per frame, twice around.
#[test]
fn spsc_largest_events_back_to_back() {
    run_spsc(&[(28, Some(1)), (0, None), (28, Some(2))], 1, 3);
}

/// Tagged and untagged events across the wrap: tags travel behind their
/// frame with their index in it.
#[test]
fn spsc_tagged_frames_across_the_wrap() {
    run_spsc(&[(20, Some(7)), (8, None), (12, Some(u32::MAX)), (4, Some(0))], 2, 3);
}

/// The collector's pattern: submits push under the partition's gate (here a
/// Mutex) and never seal on their own; the flush thread takes the gate to
/// seal whatever is open, then drains outside it.
#[test]
fn spsc_consumer_seals_under_the_gate() {
    builder(3).check(|| {
        let ring = Arc::new(SpscRing::new(SPSC_CAP, usize::MAX));
        let gate = Arc::new(Mutex::new(()));
        let lens = [8usize, 12, 4];
        let producer = {
            let (ring, gate) = (ring.clone(), gate.clone());
            thread::spawn(move || {
                for (seq, len) in lens.into_iter().enumerate() {
                    let _held = gate.lock().unwrap();
                    // SAFETY: the gate makes this the only producer side;
                    // three small events never fill the ring.
                    unsafe { ring.push_tagged(&event(1, seq as u8, len), None, u64::MAX, || seq as u32).unwrap() };
                }
            })
        };
        let mut got = Vec::new();
        while got.len() < lens.len() {
            {
                let _held = gate.lock().unwrap();
                // SAFETY: as above, for the consumer while it holds the gate.
                unsafe { ring.seal() };
            }
            let n = unsafe { ring.drain_frames(usize::MAX, |f| decode_into(&f, &mut got)) };
            if n == 0 {
                thread::yield_now();
            }
        }
        producer.join().unwrap();
        let events: Vec<Vec<u8>> = got.iter().map(|g| g.2.clone()).collect();
        assert_eq!(events, lens.iter().enumerate().map(|(s, &l)| event(1, s as u8, l)).collect::<Vec<_>>());
        // Each frame is stamped with its first event.
        let mut first = 0;
        for (i, g) in got.iter().enumerate() {
            if g.0 != first {
                assert_eq!(g.0 as usize, i, "a frame starts at event {i}");
                first = g.0;
            }
        }
    });
}

/// A submit as the collector makes it: the fast path's one attempt at the
/// gate (lease, or one CAS), then the slow path's wait; the append; the exit.
/// False if the gate is closed. Events are small and few: the ring never
/// fills.
fn gate_submit(gate: &SpscGate, ring: &SpscRing, me: Lessee, seq: u8) -> bool {
    let held = match gate.try_enter(me) {
        Some(held) => held,
        None => match gate.enter(Who::Submitter(me)) {
            Entry::Held(held) => held,
            Entry::Closed => return false,
        },
    };
    let ev = event(1, seq, 8);
    // SAFETY: the gate (lease or lock) makes this the only producer side.
    unsafe {
        if !ring.try_append(&ev, u64::MAX) {
            ring.push_tagged(&ev, None, u64::MAX, || seq as u32).unwrap();
        }
    }
    gate.exit(held);
    true
}

/// The collector's SPSC gate word (`collector::gate`) when the collector
/// closes: a submitter appends under the gate (the fast path's one attempt,
/// then the slow path's wait; with LEASE_AFTER = 1 under loom, its second
/// event goes through a lease), a closer shuts the gate for good (revoking
/// the lease), and the flush thread, a third thread, seals under the gate
/// or, once it finds it closed, without it. Every event a submitter got in
/// with is drained, once, in order; none gets in after the close; and loom
/// checks that a seal after the close is ordered after the submitter's
/// writes, which the flush thread sees only through the gate word (the
/// Release store of CLOSED_BIT alone by the last holder or the closer). A
/// mutant whose hold() CAS fails with Relaxed instead of Acquire fails this
/// model.
///
/// No preemptions: a thread switches only where it yields, blocks or ends,
/// so no thread is ever seen holding the gate, and nobody spins on it (loom
/// cannot bound two threads yielding to each other while a third holds the
/// gate). The interleavings that matter are whole critical sections.
#[test]
fn spsc_gate_close_races_submits_and_the_sealing_flush_thread() {
    builder(0).check(|| {
        let ring = Arc::new(SpscRing::new(SPSC_CAP, usize::MAX));
        let gate = Arc::new(SpscGate::new(true));
        // The submitter's lease flag, outliving it as the collector's do.
        let busy = Arc::new(loom::sync::atomic::AtomicU32::new(0));
        let submitter = {
            let (ring, gate, busy) = (ring.clone(), gate.clone(), busy.clone());
            thread::spawn(move || {
                // SAFETY: the model's main thread keeps `busy` alive past
                // the last gate operation, and only this thread uses token 0.
                let me = unsafe { Lessee::new(token(0), &*busy) };
                let mut accepted = 0u8;
                for seq in 0..2u8 {
                    if !gate_submit(&gate, &ring, me, seq) {
                        break;
                    }
                    accepted += 1;
                    thread::yield_now();
                }
                accepted
            })
        };
        let closer = {
            let gate = gate.clone();
            thread::spawn(move || gate.close())
        };
        let mut got = Vec::new();
        // Flush passes racing the others, as long as the gate is open.
        for _ in 0..3 {
            thread::yield_now();
            // SAFETY: hold() gives this thread the producer side; it is the
            // only consumer.
            gate.hold(|| unsafe { ring.seal() });
            unsafe { ring.drain_frames(usize::MAX, |f| decode_into(&f, &mut got)) };
        }
        let accepted = submitter.join().unwrap();
        closer.join().unwrap();
        // The last pass, after the close, as the flush thread's at stop.
        gate.hold(|| unsafe { ring.seal() });
        unsafe { ring.drain_frames(usize::MAX, |f| decode_into(&f, &mut got)) };
        let events: Vec<Vec<u8>> = got.into_iter().map(|g| g.2).collect();
        assert_eq!(events, (0..accepted).map(|seq| event(1, seq, 8)).collect::<Vec<_>>());
        // SAFETY: as above; the submitting thread has finished.
        let me = unsafe { Lessee::new(token(0), &*busy) };
        assert_eq!(gate.try_enter(me), None, "a closed gate stays closed");
    });
}

/// The lease (`collector::gate`): a submitter earns the gate (one locked
/// entry under loom), then enters by storing `busy` and re-reading the word
/// with no read-modify-write, while the flush thread revokes it to seal:
/// CAS the word, the process-wide barrier (a SeqCst fence on each side here,
/// which is what membarrier gives), wait for `busy` to clear. Every event is
/// drained once, in order, and loom checks that the seal never overlaps the
/// owner's writes. A mutant without the revoker's barrier fails this model.
#[test]
fn spsc_gate_lease_revoked_by_the_sealing_flush_thread() {
    builder(2).check(|| {
        let ring = Arc::new(SpscRing::new(SPSC_CAP, usize::MAX));
        let gate = Arc::new(SpscGate::new(true));
        // The owner's lease flag, outliving it as the collector's do.
        let busy = Arc::new(loom::sync::atomic::AtomicU32::new(0));
        let owner = {
            let (ring, gate, busy) = (ring.clone(), gate.clone(), busy.clone());
            thread::spawn(move || {
                // SAFETY: the model's main thread keeps `busy` alive past
                // the last gate operation, and only this thread uses token 0.
                let me = unsafe { Lessee::new(token(0), &*busy) };
                for seq in 0..3u8 {
                    assert!(gate_submit(&gate, &ring, me, seq), "nobody closes");
                }
            })
        };
        let mut got = Vec::new();
        // SAFETY: hold() gives this thread the producer side (revoking a
        // lease); it is the only consumer.
        gate.hold(|| unsafe { ring.seal() });
        unsafe { ring.drain_frames(usize::MAX, |f| decode_into(&f, &mut got)) };
        owner.join().unwrap();
        gate.hold(|| unsafe { ring.seal() });
        unsafe { ring.drain_frames(usize::MAX, |f| decode_into(&f, &mut got)) };
        let events: Vec<Vec<u8>> = got.into_iter().map(|g| g.2).collect();
        assert_eq!(events, (0..3).map(|seq| event(1, seq, 8)).collect::<Vec<_>>());
    });
}

/// A full ring seals its open frame, refuses without writing anything, and
/// takes the event once the consumer has drained that frame.
#[test]
fn spsc_full_ring_refuses_until_drained() {
    builder(3).check(|| {
        let ring = Arc::new(SpscRing::new(SPSC_CAP, usize::MAX));
        // 16 + 8 + 3 * 32 = 120 bytes plus the terminator: full.
        for seq in 0..3 {
            unsafe { ring.push_tagged(&event(1, seq, 28), None, u64::MAX, || 0).unwrap() };
        }
        assert_eq!(unsafe { ring.push_tagged(&[], None, u64::MAX, || 1) }, Err(Full));
        let consumer = {
            let ring = ring.clone();
            thread::spawn(move || spsc_collect(&ring, 4))
        };
        spsc_push(&ring, &event(1, 3, 20), None, u64::MAX, 1);
        unsafe { ring.seal() };
        let got = consumer.join().unwrap();
        let want: Vec<Seen> = (0..4u8).map(|s| (u32::from(s == 3), None, event(1, s, if s == 3 { 20 } else { 28 }))).collect();
        assert_eq!(got, want);
    });
}

/// Blocking hand-off between MPSC producers and the consumer, so that no two
/// threads spin at once (loom cannot bound two threads yielding to each
/// other). Producers wait for a drain after a Full; the consumer waits for a
/// completed push after an empty drain. Generations are read before the ring
/// operation, so a wake-up between the operation and the wait is not lost.
struct Progress {
    state: Mutex<(u64, u64)>, // (pushes, drains)
    cv: Condvar,
}

impl Progress {
    fn new() -> Progress {
        Progress { state: Mutex::new((0, 0)), cv: Condvar::new() }
    }
    fn gen(&self) -> (u64, u64) {
        *self.state.lock().unwrap()
    }
    fn pushed(&self) {
        self.state.lock().unwrap().0 += 1;
        self.cv.notify_all();
    }
    fn drained(&self) {
        self.state.lock().unwrap().1 += 1;
        self.cv.notify_all();
    }
    fn wait_drain(&self, seen: u64) {
        let mut s = self.state.lock().unwrap();
        while s.1 == seen {
            s = self.cv.wait(s).unwrap();
        }
    }
    fn wait_push(&self, seen: u64) {
        let mut s = self.state.lock().unwrap();
        while s.0 == seen {
            s = self.cv.wait(s).unwrap();
        }
    }
}

fn mpsc_push(ring: &MpscRing, progress: &Progress, ev: &[u8], st: u32) {
    loop {
        let (_, drains) = progress.gen();
        match ring.push(ev, st) {
            Ok(()) => return progress.pushed(),
            Err(Full) => progress.wait_drain(drains),
        }
    }
}

/// Drains `max` at a time until `n` records were taken.
fn mpsc_collect(ring: &MpscRing, progress: &Progress, n: usize, max: usize) -> Vec<(u32, Vec<u8>)> {
    let mut got = Vec::new();
    while got.len() < n {
        let (pushes, _) = progress.gen();
        // SAFETY: the only consumer thread.
        let taken = unsafe {
            ring.drain(max, |st, bytes| {
                got.push((st, bytes.to_vec()));
                true
            })
        };
        if taken > 0 {
            progress.drained();
        } else {
            progress.wait_push(pushes);
        }
    }
    got
}

/// Checks per-producer order, no loss, no duplicate, no torn bytes.
fn check_mpsc(got: &[(u32, Vec<u8>)], plan: &[&[usize]]) {
    let total: usize = plan.iter().map(|p| p.len()).sum();
    assert_eq!(got.len(), total, "lost or duplicated records: {got:?}");
    for (p, lens) in plan.iter().enumerate() {
        let p = p as u8 + 1;
        let mine: Vec<&(u32, Vec<u8>)> = got.iter().filter(|(st, _)| ((st >> 8) & 0xff) as u8 == p).collect();
        let want: Vec<(u32, Vec<u8>)> =
            lens.iter().enumerate().map(|(seq, &len)| (stamp(p, seq as u8), event(p, seq as u8, len))).collect();
        assert_eq!(mine.len(), want.len(), "producer {p}: {got:?}");
        for (a, b) in mine.iter().zip(&want) {
            assert_eq!(*a, b, "producer {p} out of order or torn: {got:?}");
        }
    }
}

fn run_mpsc(plan: &'static [&'static [usize]], drain_max: usize, preemptions: usize) {
    builder(preemptions).check(move || {
        let ring = Arc::new(MpscRing::with_capacity(CAP));
        let progress = Arc::new(Progress::new());
        let producers: Vec<_> = plan
            .iter()
            .enumerate()
            .map(|(p, lens)| {
                let (ring, progress) = (ring.clone(), progress.clone());
                thread::spawn(move || {
                    let p = p as u8 + 1;
                    for (seq, &len) in lens.iter().enumerate() {
                        mpsc_push(&ring, &progress, &event(p, seq as u8, len), stamp(p, seq as u8));
                    }
                })
            })
            .collect();
        let total: usize = plan.iter().map(|p| p.len()).sum();
        let got = mpsc_collect(&ring, &progress, total, drain_max);
        for p in producers {
            p.join().unwrap();
        }
        check_mpsc(&got, plan);
        assert_eq!(ring.used_bytes(), 0);
        assert_eq!(unsafe { ring.drain(usize::MAX, |_, _| true) }, 0);
    });
}

/// Two producers, one event each, consumer concurrent.
#[test]
fn mpsc_two_producers_one_event_each() {
    run_mpsc(&[&[3], &[12]], usize::MAX, 3);
}

/// Two producers with two events each: 16+24 and 24+16 bytes = 80 > 64, so
/// some record wraps and producers meet a full ring.
#[test]
fn mpsc_two_producers_two_events_each_wrap() {
    run_mpsc(&[&[3, 12], &[9, 1]], usize::MAX, 2);
}

/// Same, consumer takes one record per drain (head published per record).
#[test]
fn mpsc_two_producers_drain_one_at_a_time() {
    run_mpsc(&[&[20, 4], &[17]], 1, 2);
}

/// The ring never holds more than 64 bytes here (16 + 24 = 40), so a push
/// must never report Full, whatever the interleaving. A producer whose
/// relaxed load of `tail` is stale while the consumer has already advanced
/// `head` past it must retry its claim, not report a full ring.
#[test]
fn mpsc_never_full_when_space_suffices() {
    builder(3).check(|| {
        let ring = Arc::new(MpscRing::with_capacity(CAP));
        let a = {
            let ring = ring.clone();
            thread::spawn(move || ring.push(&event(1, 0, 1), stamp(1, 0)))
        };
        let b = {
            let ring = ring.clone();
            thread::spawn(move || ring.push(&event(2, 0, 16), stamp(2, 0)))
        };
        let mut got = Vec::new();
        let mut spins = 0;
        while got.len() < 2 && spins < 8 {
            let n = unsafe {
                ring.drain(usize::MAX, |st, bytes| {
                    got.push((st, bytes.to_vec()));
                    true
                })
            };
            if n == 0 {
                spins += 1;
                thread::yield_now();
            }
        }
        let ra = a.join().unwrap();
        let rb = b.join().unwrap();
        assert_eq!(ra, Ok(()), "spurious Full for producer 1");
        assert_eq!(rb, Ok(()), "spurious Full for producer 2");
        unsafe {
            ring.drain(usize::MAX, |st, bytes| {
                got.push((st, bytes.to_vec()));
                true
            })
        };
        check_mpsc(&got, &[&[1], &[16]]);
    });
}

/// A full MPSC ring: two 32-byte records fill it; two producers then race
/// for the space the consumer frees, one record at a time.
#[test]
fn mpsc_full_ring_two_waiting_producers() {
    builder(2).check(|| {
        let ring = Arc::new(MpscRing::with_capacity(CAP));
        ring.push(&event(3, 0, 24), stamp(3, 0)).unwrap();
        ring.push(&event(3, 1, 24), stamp(3, 1)).unwrap();
        assert_eq!(ring.push(&[], 0), Err(Full));
        let progress = Arc::new(Progress::new());
        let producers: Vec<_> = [1u8, 2]
            .into_iter()
            .map(|p| {
                let (ring, progress) = (ring.clone(), progress.clone());
                thread::spawn(move || mpsc_push(&ring, &progress, &event(p, 0, 24), stamp(p, 0)))
            })
            .collect();
        let got = mpsc_collect(&ring, &progress, 4, 1);
        for p in producers {
            p.join().unwrap();
        }
        assert_eq!(&got[..2], &[(stamp(3, 0), event(3, 0, 24)), (stamp(3, 1), event(3, 1, 24))]);
        check_mpsc(&got[2..], &[&[24], &[24]]);
    });
}

/// Tagged and untagged records from two producers (the tag is carried in
/// the record, between header and event bytes): tags come back with their
/// own events, untorn.
#[test]
fn mpsc_tagged_and_untagged_records() {
    builder(3).check(|| {
        let ring = Arc::new(MpscRing::with_capacity(CAP));
        let progress = Arc::new(Progress::new());
        let producers: Vec<_> = [(1u8, Some(0xA1B2_C3D4u32), 13usize), (2, None, 20)]
            .into_iter()
            .map(|(p, tag, len)| {
                let (ring, progress) = (ring.clone(), progress.clone());
                thread::spawn(move || loop {
                    let (_, drains) = progress.gen();
                    match ring.push_tagged(&event(p, 0, len), stamp(p, 0), tag) {
                        Ok(()) => return progress.pushed(),
                        Err(Full) => progress.wait_drain(drains),
                    }
                })
            })
            .collect();
        let mut got = Vec::new();
        while got.len() < 2 {
            let (pushes, _) = progress.gen();
            let n = unsafe {
                ring.drain_tagged(usize::MAX, |st, tag, bytes| {
                    got.push((st, tag, bytes.to_vec()));
                    true
                })
            };
            if n > 0 {
                progress.drained();
            } else {
                progress.wait_push(pushes);
            }
        }
        for p in producers {
            p.join().unwrap();
        }
        got.sort();
        assert_eq!(
            got,
            vec![
                (stamp(1, 0), Some(0xA1B2_C3D4), event(1, 0, 13)),
                (stamp(2, 0), None, event(2, 0, 20)),
            ]
        );
        assert_eq!(ring.used_bytes(), 0);
    });
}

// ------------------------------------------------------------------------
// Tracking slots (src/tracking/slots.rs): issue, settle, look and wait, and
// the seqlock read that must never pair an old ticket with a new outcome.

mod tracking_slots {
    use super::builder;
    use loom::sync::Arc;
    use loom::thread;
    use microbatch::tracking::slots::{Look, Slots};
    use microbatch::tracking::Ack;
    use std::time::{Duration, Instant};

    /// The sink settles a ticket while two callers ask about it: each sees
    /// it pending or with exactly the outcome the sink wrote (never torn),
    /// the settle is the only write that reports it (it returns the ticket
    /// once), and a waiter that parks is never left parked by a racing settle.
    #[test]
    fn settle_races_lookers_and_a_waiter() {
        builder(3).check(|| {
            let slots = Arc::new(Slots::new(1));
            let ticket = slots.issue(0);
            let settler = {
                let slots = slots.clone();
                thread::spawn(move || {
                    slots.set_index(0, 5);
                    slots.settle(0, Some((3, 77)), None)
                })
            };
            let looker = {
                let slots = slots.clone();
                thread::spawn(move || slots.look(ticket))
            };
            let waited = slots.wait(ticket, Instant::now() + Duration::from_secs(3600));
            let settled = settler.join().unwrap();
            let looked = looker.join().unwrap();
            let want = Look::Delivered(Ack { partition: 3, offset: 77, index: 5 });
            assert_eq!(settled.0, ticket);
            assert_eq!(waited, want);
            assert!(looked == Look::Pending || looked == want, "{looked:?}");
            assert_eq!(slots.look(ticket), want);
        });
    }

    /// A caller still asking about an old ticket while its slot is reissued
    /// and the new ticket settles: the answer is the old outcome or
    /// "expired", never the new ticket's outcome.
    #[test]
    fn a_reissue_never_lends_its_outcome_to_the_old_ticket() {
        builder(3).check(|| {
            let slots = Arc::new(Slots::new(1));
            let old = slots.issue(0);
            slots.set_index(0, 1);
            slots.settle(0, Some((1, 1)), None);
            let reissuer = {
                let slots = slots.clone();
                thread::spawn(move || {
                    let new = slots.issue(0);
                    slots.set_index(0, 2);
                    slots.settle(0, Some((2, 2)), None);
                    new
                })
            };
            let looked = slots.look(old);
            let new = reissuer.join().unwrap();
            assert_ne!(new, old);
            let want_old = Look::Delivered(Ack { partition: 1, offset: 1, index: 1 });
            assert!(looked == want_old || looked == Look::Expired, "old ticket answered {looked:?}");
            assert_eq!(slots.look(new), Look::Delivered(Ack { partition: 2, offset: 2, index: 2 }));
            assert_eq!(slots.look(old), Look::Expired);
        });
    }
}
