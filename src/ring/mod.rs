//! Pre-allocated lock-free rings that carry variable-length byte events.
//!
//! Both rings store records in one byte buffer whose size is a power of two:
//!
//! ```text
//! +-----------+-----------+------------------+---------+
//! | word0 u32 | stamp u32 | event bytes      | pad to 8|
//! +-----------+-----------+------------------+---------+
//! ```
//!
//! A record never wraps around the end of the buffer: when it does not fit in
//! the space left before the end, the producer writes a WRAP marker there and
//! starts the record at offset 0. Positions (`head`, `tail`) are byte counters
//! that only grow; `pos & mask` is the offset. The stamp is the enqueue time
//! in microseconds (see `collector::Clock`), which lets the flush rule measure
//! waiting from enqueue.
//!
//! Both rings publish a record through its first word, the commit word
//! (length | COMMITTED | flags), stored with Release after the record's bytes;
//! the consumer walks from commit word to commit word and stops at a 0.
//!
//! * [`SpscRing`]: one producer, one consumer. The producer writes a zero
//!   word after each record before committing it, so the consumer's walk
//!   always ends on a word written in this lap; `tail` is private to the
//!   producer, and the consumer never writes the buffer.
//! * [`MpscRing`]: many producers claim space with a CAS on `tail`; the
//!   consumer zeroes what it consumes, since a producer cannot write past
//!   space another may already have claimed.
//!
//! The collector picks one with `ring.type`; [`Ring`] dispatches statically.

mod buffer;
pub mod mpsc;
pub mod spsc;

pub use mpsc::MpscRing;
pub use spsc::SpscRing;

/// Bytes of a record header.
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

/// Reads a record's optional tag; returns it with the offset of the event
/// bytes. Shared by both rings' drains.
///
/// # Safety
/// The record at `off` must be published to this thread.
#[inline(always)]
pub(crate) unsafe fn read_tag(buf: &buffer::Buffer, off: usize, tagged: bool) -> (Option<u32>, usize) {
    if tagged {
        let tag = buf.read(off + HEADER, TAG, |b| u32::from_le_bytes(b.try_into().unwrap()));
        (Some(tag), off + HEADER + TAG)
    } else {
        (None, off + HEADER)
    }
}

/// Writes a record's optional tag and its event bytes (not the header).
///
/// # Safety
/// The caller owns the record's space at `start`.
#[inline(always)]
pub(crate) unsafe fn write_body(buf: &buffer::Buffer, start: usize, tag: Option<u32>, event: &[u8]) {
    let mut body = start + HEADER;
    if let Some(tag) = tag {
        buf.write(body, &tag.to_le_bytes());
        body += TAG;
    }
    buf.write(body, event);
}

/// The ring had no room for the record. Nothing was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Full;

/// Bytes a record of `len` event bytes occupies, header and padding included.
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

/// The largest event a ring of `capacity` bytes can always take once empty,
/// tagged or not: the record (at most `capacity / 2`) plus the worst-case
/// space skipped at the wrap must fit.
pub const fn max_event_for_capacity(capacity: usize) -> usize {
    capacity / 2 - HEADER - TAG
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
/// submit path stays inlinable.
pub enum Ring {
    Spsc(SpscRing),
    Mpsc(MpscRing),
}

impl Ring {
    pub fn new(kind: RingKind, capacity: usize) -> Ring {
        match kind {
            RingKind::Spsc => Ring::Spsc(SpscRing::with_capacity(capacity)),
            RingKind::Mpsc => Ring::Mpsc(MpscRing::with_capacity(capacity)),
        }
    }

    /// Appends one event.
    ///
    /// # Safety
    /// For an SPSC ring, no other thread may push at the same time.
    #[inline(always)]
    pub unsafe fn push(&self, event: &[u8], stamp: u32) -> Result<(), Full> {
        self.push_tagged(event, stamp, None)
    }

    /// Appends one event carrying `tag`, handed back by `drain_tagged`.
    ///
    /// # Safety
    /// As for `push`.
    #[inline(always)]
    pub unsafe fn push_tagged(&self, event: &[u8], stamp: u32, tag: Option<u32>) -> Result<(), Full> {
        match self {
            Ring::Spsc(r) => r.push_tagged(event, stamp, tag),
            Ring::Mpsc(r) => r.push_tagged(event, stamp, tag),
        }
    }

    /// Consumes up to `max` records in order while `take(stamp, event)`
    /// returns true; a record refused by `take` stays in the ring.
    ///
    /// # Safety
    /// Only one thread may drain a ring at a time.
    #[inline]
    pub unsafe fn drain(&self, max: usize, mut take: impl FnMut(u32, &[u8]) -> bool) -> usize {
        self.drain_tagged(max, |stamp, _, event| take(stamp, event))
    }

    /// Like `drain`, also passing each record's tag.
    ///
    /// # Safety
    /// As for `drain`.
    #[inline]
    pub unsafe fn drain_tagged(&self, max: usize, take: impl FnMut(u32, Option<u32>, &[u8]) -> bool) -> usize {
        match self {
            Ring::Spsc(r) => r.drain_tagged(max, take),
            Ring::Mpsc(r) => r.drain_tagged(max, take),
        }
    }

    /// Bytes in use (records not yet drained); a snapshot.
    pub fn used_bytes(&self) -> usize {
        match self {
            Ring::Spsc(r) => r.used_bytes(),
            Ring::Mpsc(r) => r.used_bytes(),
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

    #[test]
    fn record_sizes_are_padded_to_eight() {
        assert_eq!(record_size(0), 8);
        assert_eq!(record_size(1), 16);
        assert_eq!(record_size(8), 16);
        assert_eq!(record_size(100), 112);
        assert_eq!(ring_capacity(1000), 1024);
        assert_eq!(ring_capacity(0), 64);
    }

    fn roundtrip(kind: RingKind) {
        let ring = Ring::new(kind, 256);
        let mut got = Vec::new();
        for round in 0..50u32 {
            // Sizes chosen so records wrap at many different offsets.
            let ev: Vec<u8> = (0..(round as usize * 7) % 60).map(|i| (i as u32 + round) as u8).collect();
            unsafe { ring.push(&ev, round).unwrap() };
            let n = unsafe {
                ring.drain(usize::MAX, |stamp, bytes| {
                    got.push((stamp, bytes.to_vec()));
                    true
                })
            };
            assert_eq!(n, 1);
            assert_eq!(got.pop().unwrap(), (round, ev));
            assert_eq!(ring.used_bytes(), 0);
        }
    }

    #[test]
    fn spsc_roundtrips_across_wraps() {
        roundtrip(RingKind::Spsc);
    }

    #[test]
    fn mpsc_roundtrips_across_wraps() {
        roundtrip(RingKind::Mpsc);
    }

    fn fills_then_refuses(kind: RingKind) {
        let ring = Ring::new(kind, 256);
        let ev = [7u8; 24]; // 32-byte records: 8 fit in 256 bytes ...
        // ... but the SPSC ring keeps 8 bytes for the terminator after the last.
        let fit = if kind == RingKind::Spsc { 7 } else { 8 };
        for _ in 0..fit {
            unsafe { ring.push(&ev, 0).unwrap() };
        }
        assert_eq!(unsafe { ring.push(&ev, 0) }, Err(Full));
        if kind == RingKind::Mpsc {
            // (The SPSC ring still has 24 bytes: room for an 8-byte record
            // and its terminator.)
            assert_eq!(unsafe { ring.push(&[], 0) }, Err(Full));
        }
        // A refused record leaves the ring as it was.
        let mut seen = 0;
        let n = unsafe {
            ring.drain(3, |_, b| {
                assert_eq!(b, &ev);
                seen += 1;
                true
            })
        };
        assert_eq!((n, seen), (3, 3));
        // `take` returning false stops without consuming.
        let n = unsafe { ring.drain(usize::MAX, |_, _| false) };
        assert_eq!(n, 0);
        assert_eq!(ring.used_bytes(), (fit - 3) * 32);
        for _ in 0..3 {
            unsafe { ring.push(&ev, 0).unwrap() };
        }
        assert_eq!(unsafe { ring.push(&ev, 0) }, Err(Full));
        assert_eq!(unsafe { ring.drain(usize::MAX, |_, _| true) }, fit);
    }

    #[test]
    fn spsc_fills_then_refuses() {
        fills_then_refuses(RingKind::Spsc);
    }

    #[test]
    fn mpsc_fills_then_refuses() {
        fills_then_refuses(RingKind::Mpsc);
    }

    #[test]
    fn tags_travel_with_their_events() {
        for kind in [RingKind::Spsc, RingKind::Mpsc] {
            let ring = Ring::new(kind, 256);
            for round in 0..40u32 {
                let ev = vec![round as u8; (round as usize * 5) % 30];
                let tag = (round % 3 != 0).then_some(round * 1000);
                unsafe { ring.push_tagged(&ev, round, tag).unwrap() };
                let mut seen = None;
                unsafe { ring.drain_tagged(usize::MAX, |s, t, b| { seen = Some((s, t, b.to_vec())); true }) };
                assert_eq!(seen, Some((round, tag, ev)));
            }
        }
    }

    #[test]
    fn largest_event_fits_at_any_offset() {
        for kind in [RingKind::Spsc, RingKind::Mpsc] {
            let ring = Ring::new(kind, 256);
            let big = vec![1u8; max_event_for_capacity(256)];
            for shift in 0..40 {
                unsafe { ring.push(&vec![0u8; shift], 0).unwrap() };
                unsafe { ring.drain(usize::MAX, |_, _| true) };
                unsafe { ring.push(&big, 1).unwrap() };
                assert_eq!(unsafe { ring.drain(usize::MAX, |_, b| b == &big[..]) }, 1);
                // Tracked events carry a 4-byte tag: the largest must fit too.
                unsafe { ring.push_tagged(&big, 2, Some(9)).unwrap() };
                assert_eq!(unsafe { ring.drain_tagged(usize::MAX, |_, t, b| t == Some(9) && b == &big[..]) }, 1);
            }
        }
    }
}
