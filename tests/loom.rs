//! Model checks of the SPSC and MPSC ring protocols with loom.
//!
//! Run with:
//!
//! ```text
//! RUSTFLAGS="--cfg loom" cargo test --release --test loom
//! ```
//!
//! Under `--cfg loom` the rings' atomics are loom atomics and every buffer
//! byte is a loom `UnsafeCell` (see `src/ring/buffer.rs`), so loom reports any
//! unsynchronised access to record bytes as well as wrong results.
//!
//! The rings are 64 bytes (the smallest `ring_capacity` allows), which makes
//! records of 16..=32 bytes cross the wrap point and fill the ring after two
//! or three events. In the SPSC models the only spinning threads call
//! `loom::thread::yield_now()`; the MPSC models, with several threads that
//! could wait at once, block on a loom Mutex/Condvar hand-off instead
//! ([`Progress`]), since loom cannot bound two threads yielding to each other.
#![cfg(loom)]

use loom::sync::{Arc, Condvar, Mutex};
use loom::thread;
use microbatch::ring::{max_event_for_capacity, record_size, ring_capacity, Full, MpscRing, SpscRing};

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
        assert_eq!(SpscRing::with_capacity(CAP).capacity(), CAP);
        assert_eq!(MpscRing::with_capacity(CAP).capacity(), CAP);
        // Records of up to CAP / 2 = 32 bytes (24-byte events) always fit
        // once the ring is empty; the advertised maximum leaves room for a tag.
        assert_eq!(record_size(24), CAP / 2);
        assert_eq!(max_event_for_capacity(CAP), 20);
    });
}

/// Pushes with retry on Full; loom bounds the spin through yield_now.
fn spsc_push(ring: &SpscRing, ev: &[u8], st: u32) {
    loop {
        // SAFETY: this is the only producer thread.
        match unsafe { ring.push(ev, st) } {
            Ok(()) => return,
            Err(Full) => thread::yield_now(),
        }
    }
}

/// Drains until `n` records were taken, `max` at a time.
fn spsc_collect(ring: &SpscRing, n: usize, max: usize) -> Vec<(u32, Vec<u8>)> {
    let mut got = Vec::new();
    while got.len() < n {
        // SAFETY: this is the only consumer thread.
        let taken = unsafe {
            ring.drain(max, |st, bytes| {
                got.push((st, bytes.to_vec()));
                true
            })
        };
        if taken == 0 {
            thread::yield_now();
        }
    }
    got
}

fn run_spsc(lens: &'static [usize], drain_max: usize, preemptions: usize) {
    builder(preemptions).check(move || {
        let ring = Arc::new(SpscRing::with_capacity(CAP));
        let producer = {
            let ring = ring.clone();
            thread::spawn(move || {
                for (seq, &len) in lens.iter().enumerate() {
                    spsc_push(&ring, &event(1, seq as u8, len), stamp(1, seq as u8));
                }
            })
        };
        let got = spsc_collect(&ring, lens.len(), drain_max);
        producer.join().unwrap();
        let want: Vec<(u32, Vec<u8>)> =
            lens.iter().enumerate().map(|(seq, &len)| (stamp(1, seq as u8), event(1, seq as u8, len))).collect();
        assert_eq!(got, want);
        assert_eq!(ring.used_bytes(), 0);
        // Nothing left behind.
        assert_eq!(unsafe { ring.drain(usize::MAX, |_, _| true) }, 0);
    });
}

/// Three records, the third crossing the end of the buffer:
/// [0,32) [32,56) then WRAP at 56 and the record at [0,24) of the next lap,
/// which needs the consumer to have freed the first record (a full-ring
/// retry for the producer in many interleavings).
#[test]
fn spsc_three_events_wrap_and_fill() {
    assert_eq!(record_size(20) + record_size(12), 56);
    run_spsc(&[20, 12, 10], usize::MAX, 3);
}

/// Six 16-byte records: the second lap writes records exactly where the
/// first lap's were, so a consumer that could read past the newest record
/// before its terminator is written would find a stale, committed-looking
/// word from the first lap (in loom's buffer, commit words persist).
#[test]
fn spsc_second_lap_over_old_records() {
    assert_eq!(record_size(8), 16);
    run_spsc(&[8, 8, 8, 8, 8, 8], usize::MAX, 2);
}

/// Same stream drained one record at a time, so `head` is published between
/// records and the producer can reuse space mid-stream.
#[test]
fn spsc_drains_one_record_at_a_time() {
    run_spsc(&[20, 12, 10], 1, 3);
}

/// The largest record the ring takes (24-byte events, 32-byte records), twice:
/// the second needs all the space the first used.
#[test]
fn spsc_largest_events_back_to_back() {
    run_spsc(&[24, 0, 24], usize::MAX, 3);
}

/// A record refused by `take` stays in the ring and comes back first next
/// time, while the producer keeps pushing.
#[test]
fn spsc_refused_record_is_kept() {
    builder(3).check(|| {
        let ring = Arc::new(SpscRing::with_capacity(CAP));
        let producer = {
            let ring = ring.clone();
            thread::spawn(move || {
                spsc_push(&ring, &event(1, 0, 5), stamp(1, 0));
                spsc_push(&ring, &event(1, 1, 24), stamp(1, 1));
            })
        };
        let mut got: Vec<Vec<u8>> = Vec::new();
        let mut refused_once = false;
        while got.len() < 2 {
            let n = unsafe {
                ring.drain(usize::MAX, |_, bytes| {
                    if !refused_once {
                        refused_once = true;
                        return false;
                    }
                    got.push(bytes.to_vec());
                    true
                })
            };
            if n == 0 {
                thread::yield_now();
            }
        }
        producer.join().unwrap();
        assert_eq!(got, vec![event(1, 0, 5), event(1, 1, 24)]);
    });
}

/// A full ring refuses without writing anything, and frees exactly the
/// space of what the consumer drained.
#[test]
fn spsc_full_ring_refuses_until_drained() {
    builder(3).check(|| {
        let ring = Arc::new(SpscRing::with_capacity(CAP));
        // A 32-byte and a 24-byte record plus the 8-byte terminator after
        // them fill 64 bytes.
        unsafe {
            ring.push(&event(1, 0, 24), 0).unwrap();
            ring.push(&event(1, 1, 16), 1).unwrap();
            assert_eq!(ring.push(&[], 2), Err(Full));
        }
        let consumer = {
            let ring = ring.clone();
            thread::spawn(move || spsc_collect(&ring, 3, 1))
        };
        // While the consumer runs, Full is allowed only as long as the first
        // two records have not both been drained (the third wraps: it needs
        // the 8 bytes before the end, 32 at the start and the terminator);
        // keep trying.
        spsc_push(&ring, &event(1, 2, 24), 2);
        let got = consumer.join().unwrap();
        assert_eq!(
            got,
            vec![(0, event(1, 0, 24)), (1, event(1, 1, 16)), (2, event(1, 2, 24))]
        );
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

/// An SPSC producer alternating tagged and untagged records across the wrap.
#[test]
fn spsc_tagged_records_across_the_wrap() {
    builder(3).check(|| {
        let ring = Arc::new(SpscRing::with_capacity(CAP));
        let plan: [(usize, Option<u32>); 3] = [(20, Some(7)), (8, None), (12, Some(u32::MAX))];
        let producer = {
            let ring = ring.clone();
            thread::spawn(move || {
                for (seq, (len, tag)) in plan.into_iter().enumerate() {
                    // SAFETY: the only producer.
                    while unsafe { ring.push_tagged(&event(1, seq as u8, len), stamp(1, seq as u8), tag) }.is_err() {
                        thread::yield_now();
                    }
                }
            })
        };
        let mut got = Vec::new();
        while got.len() < plan.len() {
            let n = unsafe {
                ring.drain_tagged(usize::MAX, |st, tag, bytes| {
                    got.push((st, tag, bytes.to_vec()));
                    true
                })
            };
            if n == 0 {
                thread::yield_now();
            }
        }
        producer.join().unwrap();
        let want: Vec<_> = plan
            .iter()
            .enumerate()
            .map(|(seq, &(len, tag))| (stamp(1, seq as u8), tag, event(1, seq as u8, len)))
            .collect();
        assert_eq!(got, want);
    });
}
