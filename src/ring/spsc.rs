//! Single-producer single-consumer byte ring (see [`crate::ring`] for the
//! record layout).
//!
//! Records are published through their own commit word, as in the MPSC
//! ring, rather than through a shared `tail`: the consumer walks from record
//! to record and stops at a commit word of 0. Here the commit word and the
//! stamp form one 8-byte header written with a single Release store. So the consumer never reads a
//! cache line the producer writes on every push except the records
//! themselves, which it has to read anyway.
//!
//! A commit word of 0 must mean "nothing here yet". Instead of having the
//! consumer zero what it consumes (the MPSC ring does, and those writes cost
//! a cache-line transfer back to the producer on the next lap), the producer
//! writes a zero word just past each record before committing it: the
//! terminator. The consumer reaches that position only through the record's
//! commit word (Acquire), so it sees the terminator or whatever the producer
//! committed there later, never a stale word from an earlier lap. The price
//! is that the terminator's 8 bytes stay reserved: a ring never fills to the
//! last byte.
//!
//! `head` is written only by the consumer and `tail` only by the producer.
//! The producer keeps a cached copy of `head` and reloads it only when the
//! cache says the ring is full, so in the steady state a push touches no
//! cache line the consumer writes.

use super::buffer::Buffer;
use super::{read_tag, tagged_record_size, write_body, Full, COMMITTED, HEADER, TAGGED, WRAP};
use crate::sync::{AtomicUsize, Ordering};
use crossbeam_utils::CachePadded;
use std::cell::Cell;

pub struct SpscRing {
    /// Next position the consumer reads. Written by the consumer only.
    head: CachePadded<AtomicUsize>,
    /// Next position the producer writes. Written by the producer only; the
    /// consumer never needs it (records carry their own commit words), it is
    /// atomic only so `used_bytes` can read it from any thread.
    tail: CachePadded<AtomicUsize>,
    /// Producer-private: last `head` it loaded.
    cached_head: CachePadded<Cell<usize>>,
    mask: usize,
    buf: Buffer,
}

// SAFETY: the Cell is touched by the producer only, which the `unsafe` push
// contract guarantees; the buffer is shared under the protocol above.
unsafe impl Send for SpscRing {}
unsafe impl Sync for SpscRing {}

impl SpscRing {
    /// A ring of `capacity` bytes, rounded up to a power of two (min 64).
    pub fn with_capacity(capacity: usize) -> SpscRing {
        let capacity = super::ring_capacity(capacity);
        SpscRing {
            head: CachePadded::new(AtomicUsize::new(0)),
            tail: CachePadded::new(AtomicUsize::new(0)),
            cached_head: CachePadded::new(Cell::new(0)),
            mask: capacity - 1,
            // All zero: the word at position 0 is the first terminator.
            buf: Buffer::zeroed(capacity),
        }
    }

    pub fn capacity(&self) -> usize {
        self.mask + 1
    }

    pub fn used_bytes(&self) -> usize {
        let head = self.head.load(Ordering::Acquire);
        self.tail.load(Ordering::Acquire).wrapping_sub(head)
    }

    /// Appends one event.
    ///
    /// # Safety
    /// Only one thread may call `push` at a time.
    #[inline(always)]
    pub unsafe fn push(&self, event: &[u8], stamp: u32) -> Result<(), Full> {
        self.push_tagged(event, stamp, None)
    }

    /// Appends one event with an optional tag (see [`crate::ring`]).
    ///
    /// # Safety
    /// Only one thread may push at a time.
    #[inline(always)]
    pub unsafe fn push_tagged(&self, event: &[u8], stamp: u32, tag: Option<u32>) -> Result<(), Full> {
        let need = tagged_record_size(event.len(), tag.is_some());
        // Relaxed: only this thread writes `tail`.
        let tail = self.tail.load(Ordering::Relaxed);
        let off = tail & self.mask;
        let to_end = self.capacity() - off;
        // A record that does not fit before the end costs the skipped bytes
        // too; the terminator after it needs one more header's worth.
        let total = if need <= to_end { need } else { to_end + need };
        let end = tail + total + HEADER;
        if end - self.cached_head.get() > self.capacity() {
            // Acquire: pairs with the consumer's Release store of `head`, so
            // its reads of the space we are about to reuse are finished.
            let head = self.head.load(Ordering::Acquire);
            self.cached_head.set(head);
            if end - head > self.capacity() {
                return Err(Full);
            }
        }
        let start = if need <= to_end { off } else { 0 };
        // The terminator: free space we own (checked above). Relaxed: the
        // Release commit below publishes it before the consumer can get here.
        self.buf.header_word((start + need) & self.mask).store(0, Ordering::Relaxed);
        write_body(&self.buf, start, tag, event);
        let flags = if tag.is_some() { COMMITTED | TAGGED } else { COMMITTED };
        // Commit word and stamp in one store. Release: publishes the
        // terminator and the bytes above.
        let header = (stamp as u64) << 32 | (event.len() as u32 | flags) as u64;
        self.buf.header_word(start).store(header, Ordering::Release);
        if start != off {
            // The word at `off` was the previous terminator; turning it into
            // a wrap marker only after the record at 0 is committed means the
            // consumer, following it, finds a committed record there.
            self.buf.header_word(off).store(WRAP as u64, Ordering::Release);
        }
        // Relaxed: read only for `used_bytes`, never to find records.
        self.tail.store(tail + total, Ordering::Relaxed);
        Ok(())
    }

    /// Consumes up to `max` records in order while `take` returns true.
    /// Space is returned to the producer every [`super::publish_every`]
    /// bytes and at the end.
    ///
    /// # Safety
    /// Only one thread may call `drain` at a time.
    pub unsafe fn drain(&self, max: usize, mut take: impl FnMut(u32, &[u8]) -> bool) -> usize {
        self.drain_tagged(max, |stamp, _, event| take(stamp, event))
    }

    /// Like `drain`, also passing each record's tag.
    ///
    /// # Safety
    /// Only one thread may drain at a time.
    pub unsafe fn drain_tagged(&self, max: usize, mut take: impl FnMut(u32, Option<u32>, &[u8]) -> bool) -> usize {
        // Relaxed: only this thread writes `head`.
        let start_head = self.head.load(Ordering::Relaxed);
        let mut head = start_head;
        let mut published = start_head;
        let every = super::publish_every(self.capacity());
        let mut taken = 0;
        while taken < max {
            let off = head & self.mask;
            // Acquire: pairs with the producer's Release store of the header,
            // making the record (and the terminator after it) visible.
            let header = self.buf.header_word(off).load(Ordering::Acquire);
            if header == 0 {
                break; // the terminator: nothing committed past here yet
            }
            let (word, stamp) = (header as u32, (header >> 32) as u32);
            if word == WRAP {
                head += self.capacity() - off;
                continue;
            }
            let len = (word & !(COMMITTED | TAGGED)) as usize;
            let tagged = word & TAGGED != 0;
            let (tag, body) = read_tag(&self.buf, off, tagged);
            if !self.buf.read(body, len, |bytes| take(stamp, tag, bytes)) {
                break;
            }
            head += tagged_record_size(len, tagged);
            taken += 1;
            if head - published >= every {
                // Hand space back during a long drain, so a producer waiting
                // on a full ring resumes now instead of after the whole drain.
                // Release: as below.
                self.head.store(head, Ordering::Release);
                published = head;
            }
        }
        if head != published {
            // Release: our reads of the drained records happen-before the
            // producer's reuse of that space (its Acquire load of `head`).
            self.head.store(head, Ordering::Release);
        }
        taken
    }
}
