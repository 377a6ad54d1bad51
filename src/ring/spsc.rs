//! Single-producer single-consumer ring that builds frames in place.
//!
//! The producer appends each event straight into the frame that will be
//! handed to the sink (`u32` length, then the bytes: the frame format's own
//! event encoding), so an event is copied exactly once, and a consumer whose
//! sink does not read the bytes (the null sink) never pulls them into its
//! cache. The ring holds a sequence of segments, one per frame:
//!
//! ```text
//! +----------+-----------+-----------------------------+------------------+-------+
//! | seg word | info word | frame (v1, header included) | tags, 8 B each   | pad 8 |
//! +----------+-----------+-----------------------------+------------------+-------+
//!  u64 atomic  stamp|count                               (index, slot) u32 pairs
//! ```
//!
//! The seg word is 0 while the segment is open ("nothing sealed here yet"),
//! and becomes `frame bytes | tag count << 32` when the frame is sealed, with
//! one Release store after everything else in the segment is written. The
//! consumer walks from seg word to seg word and stops at a 0, as the record
//! rings do (see [`crate::ring`]); WRAP means "continue at the buffer start".
//! A segment never wraps around the end of the buffer, so every frame is one
//! contiguous slice.
//!
//! "Producer side" means [`SpscRing::push_tagged`] and [`SpscRing::seal`]:
//! one thread at a time may call them. The collector lets its flush thread
//! seal a frame whose oldest event has waited long enough by taking the
//! partition's gate, which excludes submitters.
//!
//! As in the record rings, the producer writes a zero word just past each
//! segment before sealing it (the terminator), so a consumer that reaches a
//! position through a seal's Acquire always reads this lap's word there;
//! those 8 bytes stay reserved.

use super::buffer::Buffer;
use super::{Full, HEADER};
use crate::frame::{EVENT_PREFIX, FRAME_HEADER, MAGIC, VERSION};
use crate::sync::{AtomicU64, AtomicUsize, Ordering};
use crossbeam_utils::CachePadded;
use std::cell::{Cell, UnsafeCell};

/// Bytes before the frame: the seg word and the info word.
pub const SEG_HEADER: usize = 16;
/// Bytes of one tag entry after the frame: (index in frame, slot), u32 LE each.
pub const TAG_ENTRY: usize = 8;
/// Seg word that sends the consumer to the buffer start. No sealed frame's
/// word is all ones: frame lengths stay far below 2^32.
const WRAP_WORD: u64 = u64::MAX;
/// `open_since` flag: a frame is open (its low 32 bits are the stamp).
const OPEN: u64 = 1 << 32;

/// A sealed frame as the consumer sees it, valid during the callback.
pub struct SealedFrame<'a> {
    /// The encoded frame, header included, ready for a sink.
    pub frame: &'a [u8],
    pub events: u32,
    /// Enqueue stamp of the frame's first (oldest) event.
    pub stamp: u32,
    tags: &'a [u8],
}

impl SealedFrame<'_> {
    /// (index in frame, tag) of the frame's tagged events, in index order.
    pub fn tags(&self) -> impl Iterator<Item = (u32, u32)> + '_ {
        self.tags.chunks_exact(TAG_ENTRY).map(|e| {
            (u32::from_le_bytes(e[..4].try_into().unwrap()), u32::from_le_bytes(e[4..].try_into().unwrap()))
        })
    }

    pub fn tag_count(&self) -> usize {
        self.tags.len() / TAG_ENTRY
    }

    /// The frame's events, in order. The producer laid them out, so this
    /// walks the length prefixes without the checks of
    /// [`crate::frame::events`], which is for frames from elsewhere.
    pub fn events(&self) -> SealedEvents<'_> {
        SealedEvents { rest: &self.frame[FRAME_HEADER..], remaining: self.events }
    }
}

/// Iterator over the events of a [`SealedFrame`].
pub struct SealedEvents<'a> {
    rest: &'a [u8],
    remaining: u32,
}

impl<'a> Iterator for SealedEvents<'a> {
    type Item = &'a [u8];

    #[inline]
    fn next(&mut self) -> Option<&'a [u8]> {
        if self.remaining == 0 {
            return None;
        }
        self.remaining -= 1;
        let len = u32::from_le_bytes(self.rest[..EVENT_PREFIX].try_into().unwrap()) as usize;
        let (event, rest) = self.rest[EVENT_PREFIX..].split_at(len);
        self.rest = rest;
        Some(event)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.remaining as usize, Some(self.remaining as usize))
    }
}

/// Bytes of a segment whose frame holds `fill` bytes and `tags` tag entries.
#[inline(always)]
const fn segment_size(fill: usize, tags: usize) -> usize {
    (SEG_HEADER + fill + tags * TAG_ENTRY + 7) & !7
}

/// State only the producer side touches.
struct ProducerState {
    /// Where the last sealed segment ends: the terminator the consumer may be
    /// waiting on.
    start: Cell<usize>,
    /// Position of the open segment: `start`, or the next lap's offset 0 when
    /// the frame did not fit before the end of the buffer.
    seg: Cell<usize>,
    /// Bytes of the open frame, header included; 0 when no frame is open.
    fill: Cell<usize>,
    /// Largest `fill` the open frame may reach without another look at the
    /// free space, the buffer end or the frame cap (0 when no frame is
    /// open): the fast path's one comparison.
    fill_limit: Cell<usize>,
    events: Cell<u32>,
    stamp: Cell<u32>,
    /// Tag entries of the open frame, pre-allocated; copied behind the frame
    /// when it is sealed.
    tags: UnsafeCell<Vec<(u32, u32)>>,
    /// Last `head` loaded.
    cached_head: Cell<usize>,
}

pub struct SpscRing {
    /// Next position the consumer reads. Written by the consumer only.
    head: CachePadded<AtomicUsize>,
    /// End of the last sealed segment, for `used_bytes` only: nothing finds
    /// data through it.
    tail: CachePadded<AtomicUsize>,
    /// OPEN | stamp of the open frame's first event, or 0: lets the consumer
    /// see that an open frame is due without taking the producer side.
    open_since: CachePadded<AtomicU64>,
    producer: CachePadded<ProducerState>,
    /// Largest frame in bytes, its header included (`batch.max.bytes`); a
    /// frame always takes its first event, whatever its size.
    max_frame_bytes: usize,
    mask: usize,
    buf: Buffer,
}

// SAFETY: ProducerState (Cells, an UnsafeCell'd Vec: not Sync) is touched
// by the producer side only, one thread at a time (the `unsafe` contracts of
// push_tagged, try_append, append_encoded and seal), and the thread that
// takes over the producer side does so through a synchronising handoff (the
// collector's gate: an Acquire swap after the last holder's Release), so the
// Cells are never accessed concurrently. The consumer touches only `head`
// and sealed segments; the buffer is shared under the protocol above.
unsafe impl Send for SpscRing {}
// SAFETY: as for Send.
unsafe impl Sync for SpscRing {}

impl SpscRing {
    /// A ring of `capacity` bytes, rounded up to a power of two (min 64),
    /// whose frames never exceed `max_frame_bytes` (header included) unless
    /// a single event needs more. A frame holds at most `capacity / 128`
    /// tagged events (min 16); the producer seals it when that many are in.
    pub fn new(capacity: usize, max_frame_bytes: usize) -> SpscRing {
        let capacity = super::ring_capacity(capacity);
        let max_tags = (capacity / 128).max(16);
        SpscRing {
            head: CachePadded::new(AtomicUsize::new(0)),
            tail: CachePadded::new(AtomicUsize::new(0)),
            open_since: CachePadded::new(AtomicU64::new(0)),
            producer: CachePadded::new(ProducerState {
                start: Cell::new(0),
                seg: Cell::new(0),
                fill: Cell::new(0),
                fill_limit: Cell::new(0),
                events: Cell::new(0),
                stamp: Cell::new(0),
                tags: UnsafeCell::new(Vec::with_capacity(max_tags)),
                cached_head: Cell::new(0),
            }),
            max_frame_bytes,
            mask: capacity - 1,
            // All zero: the word at position 0 is the first terminator.
            buf: Buffer::zeroed(capacity),
        }
    }

    pub fn capacity(&self) -> usize {
        self.mask + 1
    }

    /// Bytes of sealed frames not yet drained; a snapshot.
    pub fn used_bytes(&self) -> usize {
        let head = self.head.load(Ordering::Acquire);
        self.tail.load(Ordering::Relaxed).saturating_sub(head)
    }

    /// How long the open frame's oldest event has waited at `now` (same
    /// wrapping clock as the stamps; 0 if the stamp is later than `now`), or
    /// None if no frame is open. A hint read without the producer side: it
    /// may lag a frame just opened or sealed.
    #[inline]
    pub fn open_waited(&self, now: u32) -> Option<u32> {
        // Relaxed: a hint only; whoever acts on it seals under the producer
        // side's exclusion, where the real state is read.
        let open = self.open_since.load(Ordering::Relaxed);
        (open & OPEN != 0).then(|| {
            let waited = now.wrapping_sub(open as u32);
            if waited < 1 << 31 {
                waited
            } else {
                0
            }
        })
    }

    /// True when `end - head` fits in the ring, reloading `head` only when
    /// the cached copy says it does not.
    #[inline(always)]
    fn has_room(&self, end: usize) -> bool {
        let p = &self.producer;
        if end - p.cached_head.get() <= self.capacity() {
            return true;
        }
        // Acquire: pairs with the consumer's Release store of `head`, so its
        // reads of the space we are about to reuse are finished.
        let head = self.head.load(Ordering::Acquire);
        p.cached_head.set(head);
        end - head <= self.capacity()
    }

    /// Appends one event to the open frame and seals the frame once it
    /// holds `max_events`; opens a frame (stamped with `now()`) when none is
    /// open, after sealing the open one when the event does not fit behind
    /// it. On a full ring the open frame is sealed, so the consumer can take
    /// it and make room, and Err(Full) is returned with nothing written.
    ///
    /// # Safety
    /// Only one thread may be on the producer side (`push_tagged`, `seal`)
    /// at a time.
    #[inline(always)]
    pub unsafe fn push_tagged(
        &self,
        event: &[u8],
        tag: Option<u32>,
        max_events: u64,
        now: impl FnOnce() -> u32,
    ) -> Result<(), Full> {
        let p = &self.producer;
        let fill = p.fill.get();
        let new_fill = fill + EVENT_PREFIX + event.len();
        // The fast path: an untagged event that fits the open frame as last
        // measured. (No frame open: the limit is 0.)
        let limit = p.fill_limit.get();
        match tag {
            None if new_fill <= limit => {
                // SAFETY: producer side (contract), and the event fits the
                // open frame within `fill_limit`, which bounds the space
                // checked free, the buffer end and the frame cap.
                unsafe { self.append(fill, event, max_events) };
                return Ok(());
            }
            // A tagged event that fits with its tag entry: each entry takes
            // TAG_ENTRY bytes of the segment, so the limit shrinks by one
            // (exactly, or more than needed when the frame cap was the
            // binding bound: never too little).
            Some(t)
                if new_fill + TAG_ENTRY <= limit
                    // SAFETY: producer side (contract): no other reference
                    // to the tags exists while we read them.
                    && unsafe { (*p.tags.get()).len() < (*p.tags.get()).capacity() } =>
            {
                // SAFETY: producer side (contract): this is the only
                // reference to the tags; below capacity, so no allocation.
                unsafe { (*p.tags.get()).push((p.events.get(), t)) };
                p.fill_limit.set(limit - TAG_ENTRY);
                // SAFETY: producer side; the event and its tag entry fit
                // within the shrunk `fill_limit` (as in the arm above).
                unsafe { self.append(fill, event, max_events) };
                return Ok(());
            }
            _ => {}
        }
        // SAFETY: producer side (contract).
        unsafe { self.push_slow(event, tag, max_events, now) }
    }

    /// The collector's submit fast path: appends an untagged event if it fits
    /// the open frame as last measured and does not complete it (the event
    /// that makes `max_events` goes through [`SpscRing::push_tagged`], which
    /// seals). Returns false, with nothing written, otherwise; no frame open
    /// also means false. Calls nothing for events of up to
    /// [`super::INLINE_COPY_MAX`] bytes, so a caller that keeps to those
    /// stays a leaf.
    ///
    /// # Safety
    /// As for `push_tagged`.
    #[inline(always)]
    pub unsafe fn try_append(&self, event: &[u8], max_events: u64) -> bool {
        let p = &self.producer;
        let fill = p.fill.get();
        let new_fill = fill + EVENT_PREFIX + event.len();
        let events = p.events.get() + 1;
        if new_fill > p.fill_limit.get() || events as u64 >= max_events {
            return false;
        }
        // SAFETY: producer side (contract); the event fits the open frame
        // within `fill_limit` (checked above).
        unsafe { self.write_event(fill, event) };
        p.events.set(events);
        true
    }

    /// Appends the longest run of whole events from the start of `encoded`
    /// (`count` events already in the frame's event encoding: `u32` LE
    /// length, then the bytes) that fits the open frame as last measured,
    /// with one copy, and seals the frame if the run brings it to
    /// `max_events`. Returns (events, bytes) taken; (0, 0), with nothing
    /// written, when no frame is open or the first event does not fit:
    /// [`SpscRing::push_tagged`] then opens, seals or re-measures.
    ///
    /// When the whole block fits, which is the common case (frames hold
    /// thousands of events, blocks tens), it goes in without a look at its
    /// lengths; otherwise the lengths are walked to find where the run ends.
    /// The bytes land exactly where per-event appends would have put them,
    /// and, as for those, the frame's seal publishes them.
    ///
    /// # Safety
    /// As for `push_tagged`; and `encoded` holds exactly `count` whole
    /// events (the frame's header will count them).
    #[inline]
    pub unsafe fn append_encoded(&self, encoded: &[u8], count: usize, max_events: u64) -> (usize, usize) {
        let p = &self.producer;
        let fill = p.fill.get();
        // `fill_limit` is 0 when no frame is open: no room, nothing taken.
        let room = p.fill_limit.get().saturating_sub(fill);
        let first = p.events.get() as u64;
        let (events, bytes) = if encoded.len() <= room && first + count as u64 <= max_events {
            (first + count as u64, encoded.len())
        } else {
            let (mut events, mut bytes) = (first, 0usize);
            while events < max_events {
                let Some(prefix) = encoded.get(bytes..bytes + EVENT_PREFIX) else { break };
                let next = bytes + EVENT_PREFIX + u32::from_le_bytes(prefix.try_into().unwrap()) as usize;
                if next > room || next > encoded.len() {
                    break;
                }
                bytes = next;
                events += 1;
            }
            (events, bytes)
        };
        if bytes == 0 {
            return (0, 0);
        }
        // SAFETY: producer side (contract). The run ends within `room`, so
        // within `fill_limit`: inside the open segment's space, which was
        // checked free of the consumer (`has_room`) and before the buffer
        // end. Not yet sealed, so the consumer does not read these bytes.
        unsafe { self.buf.write((p.seg.get() & self.mask) + SEG_HEADER + fill, &encoded[..bytes]) };
        p.fill.set(fill + bytes);
        p.events.set(events as u32);
        if events >= max_events {
            // SAFETY: producer side (contract); the frame's events are whole
            // (contract), so the header counts them right.
            unsafe { self.seal() };
        }
        ((events - first) as usize, bytes)
    }

    /// Everything but the fast path: tags, a fresh look at the free space,
    /// sealing, opening. Out of line to keep the fast path small.
    ///
    /// # Safety
    /// As for `push_tagged`.
    #[inline(never)]
    unsafe fn push_slow(
        &self,
        event: &[u8],
        tag: Option<u32>,
        max_events: u64,
        now: impl FnOnce() -> u32,
    ) -> Result<(), Full> {
        let p = &self.producer;
        let fill = p.fill.get();
        if fill > 0 {
            // SAFETY: producer side (contract): nothing else refers to the
            // tags; this borrow ends before `push_tag` and `seal` take them.
            let tags = unsafe { &*p.tags.get() };
            let new_fill = fill + EVENT_PREFIX + event.len();
            let tag_full = tag.is_some() && tags.len() == tags.capacity();
            if !tag_full && new_fill <= self.max_frame_bytes && (p.events.get() as u64) < max_events {
                let seg = p.seg.get();
                let size = segment_size(new_fill, tags.len() + tag.is_some() as usize);
                if (seg & self.mask) + size <= self.capacity() {
                    // One more header's worth for the terminator after it.
                    if !self.has_room(seg + size + HEADER) {
                        // SAFETY: producer side (contract).
                        unsafe { self.seal() };
                        return Err(Full);
                    }
                    // SAFETY: producer side; a tag is only pushed when the
                    // tags are below capacity (`tag_full` above).
                    unsafe { self.push_tag(tag) };
                    // SAFETY: producer side (contract).
                    unsafe { self.refresh_fill_limit() };
                    // SAFETY: producer side; the grown segment was just
                    // checked to fit before the buffer end and within the
                    // space free of the consumer, terminator included.
                    unsafe { self.append(fill, event, max_events) };
                    return Ok(());
                }
                // Not before the end of the buffer: a new frame at its start.
            }
            // SAFETY: producer side (contract).
            unsafe { self.seal() };
        }
        // Open a frame at `start`, or at the buffer start if it does not fit
        // before the end.
        let start = p.start.get();
        let size = segment_size(FRAME_HEADER + EVENT_PREFIX + event.len(), tag.is_some() as usize);
        let off = start & self.mask;
        let seg = if off + size <= self.capacity() { start } else { start + (self.capacity() - off) };
        if !self.has_room(seg + size + HEADER) {
            return Err(Full);
        }
        let stamp = now();
        p.seg.set(seg);
        p.fill.set(FRAME_HEADER);
        p.events.set(0);
        p.stamp.set(stamp);
        self.open_since.store(OPEN | stamp as u64, Ordering::Relaxed);
        // SAFETY: producer side; the tags were cleared by the last seal.
        unsafe { self.push_tag(tag) };
        // SAFETY: producer side (contract).
        unsafe { self.refresh_fill_limit() };
        // SAFETY: producer side; the one-event segment was just checked to
        // fit before the buffer end and within the space free of the
        // consumer, terminator included.
        unsafe { self.append(FRAME_HEADER, event, max_events) };
        Ok(())
    }

    /// Records the tag of the event about to be appended.
    ///
    /// # Safety
    /// As for `push_tagged`, and the tags are below capacity (the hot path
    /// must not allocate).
    #[inline(always)]
    unsafe fn push_tag(&self, tag: Option<u32>) {
        if let Some(tag) = tag {
            let p = &self.producer;
            // SAFETY: producer side (contract): the only reference to the
            // tags.
            unsafe { (*p.tags.get()).push((p.events.get(), tag)) };
        }
    }

    /// Recomputes how far the open frame may grow on the fast path: within
    /// the frame cap, before the buffer end, and within the space free as of
    /// the cached `head` (with the tags so far and the terminator behind it).
    /// Segment sizes are multiples of 8 and so are both bounds, so comparing
    /// unrounded sizes is exact.
    ///
    /// # Safety
    /// As for `push_tagged`.
    #[inline(always)]
    unsafe fn refresh_fill_limit(&self) {
        let p = &self.producer;
        let seg = p.seg.get();
        // SAFETY: producer side (contract): no one writes the tags meanwhile.
        let fixed = SEG_HEADER + unsafe { (*p.tags.get()).len() } * TAG_ENTRY;
        let to_end = self.capacity() - (seg & self.mask);
        let to_head = p.cached_head.get() + self.capacity() - HEADER - seg;
        p.fill_limit.set(self.max_frame_bytes.min(to_end.min(to_head).saturating_sub(fixed)));
    }

    /// Writes one event at the end of the open frame (space checked), and
    /// seals the frame at once when it now holds `max_events`, so a complete
    /// frame does not wait for the next push.
    ///
    /// # Safety
    /// As for `write_event`.
    #[inline(always)]
    unsafe fn append(&self, fill: usize, event: &[u8], max_events: u64) {
        let p = &self.producer;
        // SAFETY: the same contract, passed on.
        unsafe { self.write_event(fill, event) };
        let events = p.events.get() + 1;
        p.events.set(events);
        if events as u64 >= max_events {
            // SAFETY: producer side (contract).
            unsafe { self.seal() };
        }
    }

    /// Writes one event (length prefix, bytes) at `fill` in the open frame,
    /// space checked by the caller, and advances `fill` past it.
    ///
    /// # Safety
    /// As for `push_tagged`; and a frame is open whose segment has room for
    /// the event at `fill` (within `fill_limit`, or checked afresh).
    #[inline(always)]
    unsafe fn write_event(&self, fill: usize, event: &[u8]) {
        let p = &self.producer;
        let at = (p.seg.get() & self.mask) + SEG_HEADER + fill;
        // SAFETY: the prefix and the bytes lie in the open segment, which the
        // producer side owns: checked before the buffer end and free of the
        // consumer (contract). Not yet sealed, so the consumer does not read
        // these bytes.
        unsafe { self.buf.write(at, &(event.len() as u32).to_le_bytes()) };
        // SAFETY: as above.
        unsafe { self.buf.write(at + EVENT_PREFIX, event) };
        p.fill.set(fill + EVENT_PREFIX + event.len());
    }

    /// Seals the open frame, if any, so the consumer can take it.
    ///
    /// # Safety
    /// As for `push_tagged`.
    #[inline(never)]
    pub unsafe fn seal(&self) {
        let p = &self.producer;
        let fill = p.fill.get();
        if fill == 0 {
            return;
        }
        let (seg, events) = (p.seg.get(), p.events.get());
        let off = seg & self.mask;
        // SAFETY: producer side (contract): the only reference to the tags.
        let tags = unsafe { &mut *p.tags.get() };
        let mut header = [0u8; FRAME_HEADER];
        header[..2].copy_from_slice(&MAGIC);
        header[2] = VERSION;
        header[4..].copy_from_slice(&events.to_le_bytes());
        // SAFETY: (for this write and those below) the open segment, its tag entries
        // included, was checked to fit before the buffer end and in space
        // free of the consumer when it grew to this size (`fill_limit`
        // accounts a TAG_ENTRY per tag), and the producer side owns it until
        // the Release store of its seg word below; the consumer stops at
        // that word (0 until then), so it reads none of these bytes yet.
        unsafe { self.buf.write(off + SEG_HEADER, &header) };
        let mut at = off + SEG_HEADER + fill;
        for &(index, tag) in tags.iter() {
            // SAFETY: as above: a tag entry of the open segment.
            unsafe { self.buf.write(at, &index.to_le_bytes()) };
            // SAFETY: as above.
            unsafe { self.buf.write(at + 4, &tag.to_le_bytes()) };
            at += TAG_ENTRY;
        }
        // SAFETY: as above: the info word, behind the still-0 seg word.
        unsafe { self.buf.write(off + 8, &p.stamp.get().to_le_bytes()) };
        // SAFETY: as above.
        unsafe { self.buf.write(off + 12, &events.to_le_bytes()) };
        let next = seg + segment_size(fill, tags.len());
        // The terminator: free space we own (checked when the space was
        // taken). Relaxed: the Release store below publishes it before the
        // consumer can get here.
        self.buf.header_word(next & self.mask).store(0, Ordering::Relaxed);
        // Release: publishes the frame, tags, info word and terminator.
        self.buf.header_word(off).store(fill as u64 | (tags.len() as u64) << 32, Ordering::Release);
        let start = p.start.get();
        if seg != start {
            // The word at `start` was the terminator; turning it into a wrap
            // marker only after the segment at 0 is sealed means the
            // consumer, following it, finds a sealed segment there.
            self.buf.header_word(start & self.mask).store(WRAP_WORD, Ordering::Release);
        }
        tags.clear();
        p.start.set(next);
        p.seg.set(next);
        p.fill.set(0);
        p.fill_limit.set(0);
        self.tail.store(next, Ordering::Relaxed);
        self.open_since.store(0, Ordering::Relaxed);
    }

    /// Hands up to `max` sealed frames, in order, to `f`, and returns the
    /// space of each to the producer once `f` returns.
    ///
    /// # Safety
    /// Only one thread may drain at a time.
    pub unsafe fn drain_frames(&self, max: usize, mut f: impl FnMut(SealedFrame<'_>)) -> usize {
        // Relaxed: only this thread writes `head`.
        let mut head = self.head.load(Ordering::Relaxed);
        let mut taken = 0;
        while taken < max {
            let off = head & self.mask;
            // Acquire: pairs with the seal's Release store, making the
            // segment (and the terminator after it) visible.
            let word = self.buf.header_word(off).load(Ordering::Acquire);
            if word == 0 {
                break; // the terminator: nothing sealed past here yet
            }
            if word == WRAP_WORD {
                head += self.capacity() - off;
                continue;
            }
            let (fill, ntags) = (word as u32 as usize, (word >> 32) as usize);
            // SAFETY: the Acquire load of the seg word made the sealed
            // segment (info word, frame, tags) visible; the producer writes
            // none of it again until `head` passes it (its Acquire load of
            // `head` in `has_room`); the seg word's lengths describe a
            // segment the producer fitted in the buffer; and `off + 8` is
            // 8-aligned. One drainer at a time (contract).
            let (stamp, events) = unsafe { self.buf.read_u32_pair(off + 8) };
            // SAFETY: as above, for the frame and then its tag entries; the
            // slices live only while `f` runs, before `head` moves.
            unsafe {
                self.buf.read(off + SEG_HEADER, fill, |frame| {
                    self.buf.read(off + SEG_HEADER + fill, ntags * TAG_ENTRY, |tags| {
                        f(SealedFrame { frame, events, stamp, tags })
                    })
                })
            };
            head += segment_size(fill, ntags);
            taken += 1;
            // Release: our reads of the frame happen-before the producer's
            // reuse of its space (its Acquire load of `head`). Once per
            // frame, so a producer facing a full ring resumes as soon as a
            // frame is done.
            self.head.store(head, Ordering::Release);
        }
        taken
    }
}

/// The largest event a ring of `capacity` bytes can always take once empty:
/// a one-event segment (tagged) plus the worst-case space skipped at the
/// wrap and the terminator must fit.
pub const fn max_event(capacity: usize) -> usize {
    (capacity / 2).saturating_sub(SEG_HEADER + FRAME_HEADER + EVENT_PREFIX + TAG_ENTRY)
}
