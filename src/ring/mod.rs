//! Pre-allocated lock-free rings that carry variable-length byte events.
//!
//! Both rings live in one zeroed byte buffer whose size is a power of two.
//! Positions (`head`, `tail`) are byte counters that only grow; `pos & mask`
//! is the offset. Both publish what they write through a word at the start of
//! each unit (Release after the unit's bytes); the consumer walks from word to
//! word and stops at a 0, and a WRAP word sends it to the buffer start, since
//! no unit wraps around the end of the buffer.
//!
//! * [`SpscRing`]: one producer side, one consumer. The unit is a whole frame:
//!   events are appended in place, in the frame format, and the frame is
//!   published (sealed) once, when the flush rule or the space left says so.
//!   The consumer hands each sealed frame to the sink where it lies. See
//!   [`spsc`].
//! * [`MpscRing`]: many producers claim space with a CAS on `tail`. The unit
//!   is one event record; the flush thread copies records into a frame.
//!
//! ```text
//! MPSC record:
//! +-----------+-----------+-------------------------+---------+
//! | word0 u32 | stamp u32 | [tag u32] event bytes   | pad to 8|
//! +-----------+-----------+-------------------------+---------+
//! ```
//!
//! word0 is the commit word: length | COMMITTED | flags. The stamp is the
//! enqueue time in microseconds (see `collector::Clock`), which lets the flush
//! rule measure waiting from enqueue; the SPSC ring keeps one stamp per frame,
//! its first event's.
//!
//! The collector picks one with `ring.type`; [`Ring`] dispatches statically.

mod buffer;
pub mod mpsc;
pub mod spsc;

pub use buffer::INLINE_COPY_MAX;
pub use mpsc::MpscRing;
pub use spsc::{SealedEvents, SealedFrame, SpscRing};

/// Bytes of an MPSC record header, and of the terminator both rings keep.
pub const HEADER: usize = 8;
/// word0 value that marks "skip to the start of the buffer".
pub(crate) const WRAP: u32 = u32::MAX;
/// Largest event a ring accepts: word0's top bits are flags.
pub const MAX_EVENT_BYTES: usize = 1 << 29;
/// Commit-word flag set on every committed record, so that a committed empty
/// event is never 0 ("nothing here yet").
pub(crate) const COMMITTED: u32 = 1 << 31;
/// word0 flag: the event bytes are preceded by a 4-byte tag (a tracking slot).
pub(crate) const TAGGED: u32 = 1 << 30;
/// Bytes of a tag.
pub(crate) const TAG: usize = 4;

/// Bytes a record of `len` event bytes occupies, with an optional tag.
#[inline(always)]
pub(crate) const fn tagged_record_size(len: usize, tagged: bool) -> usize {
    record_size(len + if tagged { TAG } else { 0 })
}

/// Reads an MPSC record's optional tag; returns it with the offset of the
/// event bytes.
///
/// # Safety
/// The record at `off` must be published to this thread, and `tagged` must
/// say whether it carries a tag.
#[inline(always)]
pub(crate) unsafe fn read_tag(buf: &buffer::Buffer, off: usize, tagged: bool) -> (Option<u32>, usize) {
    if tagged {
        // SAFETY: a tagged record holds its tag right after the header,
        // inside the record, which was published to us (contract).
        let tag = unsafe { buf.read(off + HEADER, TAG, |b| u32::from_le_bytes(b.try_into().unwrap())) };
        (Some(tag), off + HEADER + TAG)
    } else {
        (None, off + HEADER)
    }
}

/// Writes an MPSC record's optional tag and its event bytes (not the header).
///
/// # Safety
/// The caller owns the record's space at `start`, sized for `event` and the
/// tag (`tagged_record_size`).
#[inline(always)]
pub(crate) unsafe fn write_body(buf: &buffer::Buffer, start: usize, tag: Option<u32>, event: &[u8]) {
    let mut body = start + HEADER;
    if let Some(tag) = tag {
        // SAFETY: the tag's 4 bytes follow the header inside the record
        // space we own (contract).
        unsafe { buf.write(body, &tag.to_le_bytes()) };
        body += TAG;
    }
    // SAFETY: the event bytes follow, still inside the record we own.
    unsafe { buf.write(body, event) };
}

/// The ring had no room for the record. Nothing was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Full;

/// Bytes an MPSC record of `len` event bytes occupies, header and padding
/// included.
#[inline(always)]
pub const fn record_size(len: usize) -> usize {
    HEADER + ((len + 7) & !7)
}

/// How many consumed bytes a drain lets pass before it publishes `head`
/// mid-drain: an eighth of the ring, at most 16 KiB. Often enough that a
/// producer facing a full ring waits for a few records rather than a whole
/// drain; rare enough that the store to `head` (a line the producer reads
/// when its cached copy says full) stays off the per-record cost.
#[inline(always)]
pub(crate) fn publish_every(capacity: usize) -> usize {
    (capacity / 8).min(16 << 10)
}

/// Rounds a requested capacity to the power of two the rings use.
pub fn ring_capacity(requested: usize) -> usize {
    requested.max(64).next_power_of_two()
}

/// The largest event a ring of `capacity` bytes of either kind can always
/// take once empty, tagged or not. For the MPSC ring the record (at most
/// `capacity / 2`) plus the worst-case space skipped at the wrap must fit; the
/// SPSC ring's one-event frame is larger (see [`spsc::max_event`]).
pub const fn max_event_for_capacity(capacity: usize) -> usize {
    let mpsc = (capacity / 2).saturating_sub(HEADER + TAG);
    let spsc = spsc::max_event(capacity);
    if spsc < mpsc {
        spsc
    } else {
        mpsc
    }
}

/// Which ring the collector's partitions use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RingKind {
    /// Single-producer ring; the collector serialises producers that share a
    /// partition with a per-partition gate.
    Spsc,
    /// Multi-producer ring; producers sharing a partition claim space with CAS.
    Mpsc,
}

/// A ring of either kind, dispatched with a match rather than a vtable so the
/// submit path stays inlinable. The variants differ in size (the SPSC ring
/// keeps its producer state inline, on padded cache lines); rings live in
/// one boxed slice allocated at creation, so boxing a variant would save
/// nothing and add a pointer chase to every submit.
#[allow(clippy::large_enum_variant)]
pub enum Ring {
    Spsc(SpscRing),
    Mpsc(MpscRing),
}

impl Ring {
    /// A ring of `capacity` bytes; an SPSC ring's frames stay within
    /// `max_frame_bytes` (see [`SpscRing::new`]).
    pub fn new(kind: RingKind, capacity: usize, max_frame_bytes: usize) -> Ring {
        match kind {
            RingKind::Spsc => Ring::Spsc(SpscRing::new(capacity, max_frame_bytes)),
            RingKind::Mpsc => Ring::Mpsc(MpscRing::with_capacity(capacity)),
        }
    }

    pub fn capacity(&self) -> usize {
        match self {
            Ring::Spsc(r) => r.capacity(),
            Ring::Mpsc(r) => r.capacity(),
        }
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use crate::frame;

    #[test]
    fn record_sizes_are_padded_to_eight() {
        assert_eq!(record_size(0), 8);
        assert_eq!(record_size(1), 16);
        assert_eq!(record_size(8), 16);
        assert_eq!(record_size(100), 112);
        assert_eq!(ring_capacity(1000), 1024);
        assert_eq!(ring_capacity(0), 64);
    }

    fn drain_all(ring: &MpscRing) -> Vec<(u32, Option<u32>, Vec<u8>)> {
        let mut got = Vec::new();
        // SAFETY: the tests run producer and consumer on this one thread: one producer side, one drainer.
        unsafe {
            ring.drain_tagged(usize::MAX, |stamp, tag, bytes| {
                got.push((stamp, tag, bytes.to_vec()));
                true
            })
        };
        got
    }

    /// A sealed frame, decoded: (stamp, events, tags).
    type Decoded = (u32, Vec<Vec<u8>>, Vec<(u32, u32)>);

    /// Every sealed frame in the ring, decoded.
    fn drain_frames(ring: &SpscRing) -> Vec<Decoded> {
        let mut got = Vec::new();
        // SAFETY: the tests run producer and consumer on this one thread: one producer side, one drainer.
        unsafe {
            ring.drain_frames(usize::MAX, |f| {
                let events: Vec<Vec<u8>> = frame::events(f.frame).unwrap().map(|e| e.unwrap().to_vec()).collect();
                assert_eq!(events.len(), f.events as usize);
                // The unchecked walk sees exactly what the checked decoder sees.
                assert!(f.events().eq(events.iter().map(|e| &e[..])));
                got.push((f.stamp, events, f.tags().collect()));
            })
        };
        got
    }

    fn event(round: usize) -> Vec<u8> {
        (0..(round * 7) % 60).map(|i| (i + round) as u8).collect()
    }

    #[test]
    fn mpsc_roundtrips_across_wraps() {
        let ring = MpscRing::with_capacity(256);
        for round in 0..50u32 {
            // Sizes chosen so records wrap at many different offsets.
            let ev = event(round as usize);
            ring.push(&ev, round).unwrap();
            assert_eq!(drain_all(&ring), vec![(round, None, ev)]);
            assert_eq!(ring.used_bytes(), 0);
        }
    }

    #[test]
    fn spsc_frames_roundtrip_across_wraps() {
        let ring = SpscRing::new(512, usize::MAX);
        let mut sent = Vec::new();
        let mut got = Vec::new();
        for round in 0..200usize {
            let ev = event(round);
            let tag = (round % 4 == 1).then_some(round as u32);
            // SAFETY: the tests run producer and consumer on this one thread: one producer side, one drainer.
            unsafe { ring.push_tagged(&ev, tag, 3, || round as u32).unwrap() };
            sent.push((ev, tag));
            if round % 5 == 4 {
                // Frames of 3 were sealed as they filled; seal the rest too.
                // SAFETY: the tests run producer and consumer on this one thread: one producer side, one drainer.
                unsafe { ring.seal() };
                got.extend(drain_frames(&ring));
                assert_eq!(ring.used_bytes(), 0);
            }
        }
        // Frames close at 3 events, at every explicit seal (each 5 pushes),
        // and early where the next event would not fit before the end of the
        // buffer. Each is stamped with its first event.
        let mut i = 0;
        let mut early = 0;
        for (stamp, events, tags) in got {
            assert_eq!(stamp as usize, i);
            let until_seal = 5 - i % 5;
            assert!(events.len() <= until_seal.min(3), "frame at {i} holds {}", events.len());
            early += (events.len() < until_seal.min(3)) as usize;
            let expect_tags: Vec<(u32, u32)> =
                (0..events.len()).filter_map(|k| sent[i + k].1.map(|t| (k as u32, t))).collect();
            assert_eq!(tags, expect_tags);
            for ev in events {
                assert_eq!(ev, sent[i].0);
                i += 1;
            }
        }
        assert_eq!(i, sent.len());
        assert!(early > 5, "the wrap should have closed frames early: {early}");
    }

    #[test]
    fn spsc_frame_respects_byte_limit_and_reports_open_frame() {
        // Frame header 8 + two 24-byte events (4 + 20 each) = 56: a third does not fit.
        let ring = SpscRing::new(4096, 56);
        assert_eq!(ring.open_waited(10), None);
        for i in 0..3u32 {
            // SAFETY: the tests run producer and consumer on this one thread: one producer side, one drainer.
            unsafe { ring.push_tagged(&[i as u8; 20], None, u64::MAX, || 100 + i).unwrap() };
        }
        // The third push sealed the first frame and opened a second at 102.
        assert_eq!(ring.open_waited(150), Some(48));
        let frames = drain_frames(&ring);
        assert_eq!(frames.len(), 1);
        assert_eq!((frames[0].0, frames[0].1.len()), (100, 2));
        // SAFETY: the tests run producer and consumer on this one thread: one producer side, one drainer.
        unsafe { ring.seal() };
        assert_eq!(ring.open_waited(150), None);
        assert_eq!(drain_frames(&ring), vec![(102, vec![vec![2u8; 20]], vec![])]);
    }

    #[test]
    fn mpsc_fills_then_refuses() {
        let ring = MpscRing::with_capacity(256);
        let ev = [7u8; 24]; // 32-byte records: 8 fit in 256 bytes
        for _ in 0..8 {
            ring.push(&ev, 0).unwrap();
        }
        assert_eq!(ring.push(&ev, 0), Err(Full));
        assert_eq!(ring.push(&[], 0), Err(Full));
        // A refused record leaves the ring as it was.
        let mut seen = 0;
        // SAFETY: the tests run producer and consumer on this one thread: one producer side, one drainer.
        let n = unsafe {
            ring.drain(3, |_, b| {
                assert_eq!(b, &ev);
                seen += 1;
                true
            })
        };
        assert_eq!((n, seen), (3, 3));
        // `take` returning false stops without consuming.
        // SAFETY: the tests run producer and consumer on this one thread: one producer side, one drainer.
        let n = unsafe { ring.drain(usize::MAX, |_, _| false) };
        assert_eq!(n, 0);
        assert_eq!(ring.used_bytes(), 5 * 32);
        for _ in 0..3 {
            ring.push(&ev, 0).unwrap();
        }
        assert_eq!(ring.push(&ev, 0), Err(Full));
        // SAFETY: the tests run producer and consumer on this one thread: one producer side, one drainer.
        assert_eq!(unsafe { ring.drain(usize::MAX, |_, _| true) }, 8);
    }

    #[test]
    fn spsc_full_ring_seals_the_open_frame_and_refuses() {
        let ring = SpscRing::new(256, usize::MAX);
        let ev = [7u8; 28]; // 32 bytes per event in the frame
        let mut pushed = 0;
        // SAFETY: the tests run producer and consumer on this one thread: one producer side, one drainer.
        while unsafe { ring.push_tagged(&ev, None, u64::MAX, || 0) }.is_ok() {
            pushed += 1;
        }
        // One segment: 16 + 8 + 32 * 7 = 248 bytes, then the 8-byte
        // terminator; an eighth event would need 280 + 8 > 256.
        assert_eq!(pushed, 7);
        assert_eq!(ring.open_waited(0), None, "a full ring seals its open frame");
        // Refused again, and nothing changed.
        // SAFETY: the tests run producer and consumer on this one thread: one producer side, one drainer.
        assert_eq!(unsafe { ring.push_tagged(&ev, None, u64::MAX, || 0) }, Err(Full));
        let frames = drain_frames(&ring);
        assert_eq!(frames.len(), 1);
        assert_eq!(frames[0].1, vec![ev.to_vec(); 7]);
        assert_eq!(ring.used_bytes(), 0);
        // The space is back. The next frame starts at the buffer start: the
        // 8 bytes skipped at the end count as used, so six events fit.
        for _ in 0..6 {
            // SAFETY: the tests run producer and consumer on this one thread: one producer side, one drainer.
            unsafe { ring.push_tagged(&ev, None, u64::MAX, || 0).unwrap() };
        }
        // SAFETY: the tests run producer and consumer on this one thread: one producer side, one drainer.
        assert_eq!(unsafe { ring.push_tagged(&ev, None, u64::MAX, || 0) }, Err(Full));
        assert_eq!(drain_frames(&ring)[0].1.len(), 6);
    }

    #[test]
    fn mpsc_tags_travel_with_their_events() {
        let ring = MpscRing::with_capacity(256);
        for round in 0..40u32 {
            let ev = vec![round as u8; (round as usize * 5) % 30];
            let tag = (round % 3 != 0).then_some(round * 1000);
            ring.push_tagged(&ev, round, tag).unwrap();
            assert_eq!(drain_all(&ring), vec![(round, tag, ev)]);
        }
    }

    #[test]
    fn spsc_tag_capacity_seals_the_frame() {
        let ring = SpscRing::new(1024, usize::MAX); // 16 tags per frame
        for i in 0..20u32 {
            // SAFETY: the tests run producer and consumer on this one thread: one producer side, one drainer.
            unsafe { ring.push_tagged(&[1], Some(i), u64::MAX, || 0).unwrap() };
        }
        // SAFETY: the tests run producer and consumer on this one thread: one producer side, one drainer.
        unsafe { ring.seal() };
        let frames = drain_frames(&ring);
        assert_eq!(frames.iter().map(|f| f.2.len()).collect::<Vec<_>>(), vec![16, 4]);
        assert_eq!(frames[1].2, vec![(0, 16), (1, 17), (2, 18), (3, 19)]);
    }

    /// Appends `block` (whole encoded events) as the collector does: runs
    /// with one copy, the event at a frame boundary through `push_tagged`.
    /// Returns the events taken before the ring filled.
    fn push_encoded(ring: &SpscRing, block: &[u8], count: usize, max_events: u64, stamp: u32) -> usize {
        let (mut taken, mut at) = (0, 0);
        while at < block.len() {
            // SAFETY: the tests run producer and consumer on this one thread: one producer side, one drainer.
            let (n, b) = unsafe { ring.append_encoded(&block[at..], count - taken, max_events) };
            taken += n;
            at += b;
            if at == block.len() {
                break;
            }
            let len = u32::from_le_bytes(block[at..at + 4].try_into().unwrap()) as usize;
            // SAFETY: the tests run producer and consumer on this one thread: one producer side, one drainer.
            if unsafe { ring.push_tagged(&block[at + 4..at + 4 + len], None, max_events, || stamp) }.is_err() {
                break;
            }
            taken += 1;
            at += 4 + len;
        }
        taken
    }

    #[test]
    fn spsc_encoded_runs_build_the_frames_per_event_pushes_build() {
        // Small ring, small frame cap, small N: runs stop at every kind of
        // boundary (N, frame bytes, buffer end, free space) and wrap often.
        for (max_frame, max_events) in [(usize::MAX, 5u64), (120, 1000), (200, 3), (usize::MAX, 1)] {
            let one = SpscRing::new(1024, max_frame);
            let runs = SpscRing::new(1024, max_frame);
            let (mut a, mut b, mut sent) = (Vec::new(), Vec::new(), Vec::new());
            for round in 0..400usize {
                let events: Vec<Vec<u8>> = (0..round % 9).map(|k| event(round * 3 + k)).collect();
                let block: Vec<u8> = events
                    .iter()
                    .flat_map(|e| (e.len() as u32).to_le_bytes().into_iter().chain(e.iter().copied()))
                    .collect();
                for e in &events {
                    // SAFETY: the tests run producer and consumer on this one thread: one producer side, one drainer.
                    unsafe { one.push_tagged(e, None, max_events, || round as u32).unwrap() };
                }
                assert_eq!(push_encoded(&runs, &block, events.len(), max_events, round as u32), events.len());
                sent.extend(events);
                if round % 4 == 3 {
                    // SAFETY: the tests run producer and consumer on this one thread: one producer side, one drainer.
                    unsafe { one.seal() };
                    // SAFETY: the tests run producer and consumer on this one thread: one producer side, one drainer.
                    unsafe { runs.seal() };
                }
                a.extend(drain_frames(&one));
                b.extend(drain_frames(&runs));
            }
            // SAFETY: the tests run producer and consumer on this one thread: one producer side, one drainer.
            unsafe { one.seal() };
            // SAFETY: the tests run producer and consumer on this one thread: one producer side, one drainer.
            unsafe { runs.seal() };
            a.extend(drain_frames(&one));
            b.extend(drain_frames(&runs));
            assert_eq!(a, b, "frame cap {max_frame}, N {max_events}");
            assert!(b.iter().all(|(_, events, _)| events.len() as u64 <= max_events));
            let got: Vec<Vec<u8>> = b.into_iter().flat_map(|(_, events, _)| events).collect();
            assert_eq!(got, sent);
            assert_eq!(runs.used_bytes(), 0);
        }
    }

    #[test]
    fn spsc_encoded_run_stops_at_a_full_ring() {
        let ring = SpscRing::new(256, usize::MAX);
        let ev = [7u8; 28];
        let block: Vec<u8> = (0..20).flat_map(|_| 28u32.to_le_bytes().into_iter().chain(ev)).collect();
        // No frame open: nothing taken.
        // SAFETY: the tests run producer and consumer on this one thread: one producer side, one drainer.
        assert_eq!(unsafe { ring.append_encoded(&block, 20, u64::MAX) }, (0, 0));
        // As many as per-event pushes fit (see spsc_full_ring_seals_the_open_frame_and_refuses).
        assert_eq!(push_encoded(&ring, &block, 20, u64::MAX, 0), 7);
        assert_eq!(drain_frames(&ring)[0].1, vec![ev.to_vec(); 7]);
        // A whole block that fits goes in at once, and seals the frame when
        // it brings it to N.
        // SAFETY: the tests run producer and consumer on this one thread: one producer side, one drainer.
        unsafe { ring.push_tagged(&ev, None, u64::MAX, || 0).unwrap() };
        // SAFETY: the tests run producer and consumer on this one thread: one producer side, one drainer.
        assert_eq!(unsafe { ring.append_encoded(&block[..64], 2, 3) }, (2, 64));
        assert_eq!(ring.open_waited(0), None, "sealed at N");
        assert_eq!(drain_frames(&ring)[0].1, vec![ev.to_vec(); 3]);
        // One that does not fit is cut after the last event that does.
        // SAFETY: the tests run producer and consumer on this one thread: one producer side, one drainer.
        unsafe { ring.push_tagged(&ev, None, u64::MAX, || 0).unwrap() };
        // SAFETY: the tests run producer and consumer on this one thread: one producer side, one drainer.
        let (n, bytes) = unsafe { ring.append_encoded(&block, 20, u64::MAX) };
        assert!(n > 0 && n < 20 && bytes == n * 32, "{n} events, {bytes} bytes");
        // SAFETY: the tests run producer and consumer on this one thread: one producer side, one drainer.
        unsafe { ring.seal() };
        assert_eq!(drain_frames(&ring)[0].1, vec![ev.to_vec(); 1 + n]);
    }

    #[test]
    fn largest_event_fits_at_any_offset() {
        let cap = 256;
        let big = vec![1u8; max_event_for_capacity(cap)];
        let mpsc = MpscRing::with_capacity(cap);
        let spsc = SpscRing::new(cap, usize::MAX);
        for shift in 0..40 {
            mpsc.push(&vec![0u8; shift], 0).unwrap();
            // SAFETY: the tests run producer and consumer on this one thread: one producer side, one drainer.
            unsafe { mpsc.drain(usize::MAX, |_, _| true) };
            mpsc.push(&big, 1).unwrap();
            // SAFETY: the tests run producer and consumer on this one thread: one producer side, one drainer.
            assert_eq!(unsafe { mpsc.drain(usize::MAX, |_, b| b == &big[..]) }, 1);
            // Tracked events carry a 4-byte tag: the largest must fit too.
            mpsc.push_tagged(&big, 2, Some(9)).unwrap();
            // SAFETY: the tests run producer and consumer on this one thread: one producer side, one drainer.
            assert_eq!(unsafe { mpsc.drain_tagged(usize::MAX, |_, t, b| t == Some(9) && b == &big[..]) }, 1);

            // SAFETY: the tests run producer and consumer on this one thread: one producer side, one drainer.
            unsafe { spsc.push_tagged(&vec![0u8; shift], None, 1, || 0).unwrap() };
            drain_frames(&spsc);
            // SAFETY: the tests run producer and consumer on this one thread: one producer side, one drainer.
            unsafe { spsc.push_tagged(&big, Some(9), 1, || 0).unwrap() };
            assert_eq!(drain_frames(&spsc), vec![(0, vec![big.clone()], vec![(0, 9)])]);
        }
    }
}
