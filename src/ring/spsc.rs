//! Single-producer single-consumer byte ring (see the module docs of
//! [`crate::ring`] for the record layout).
//!
//! The protocol is rtrb's: `tail` is written only by the producer, `head`
//! only by the consumer. Each side keeps a cached copy of the other's index
//! and reloads it only when the cache says the ring is full (producer) or
//! empty (consumer), so in the steady state a push touches no cache line the
//! consumer writes.

use super::buffer::Buffer;
use super::{read_tag, tagged_record_size, write_body, Full, TAGGED, WRAP};
use crate::sync::{AtomicUsize, Ordering};
use crossbeam_utils::CachePadded;
use std::cell::Cell;

pub struct SpscRing {
    /// Next position the consumer reads. Written by the consumer only.
    head: CachePadded<AtomicUsize>,
    /// Next position the producer writes. Written by the producer only.
    tail: CachePadded<AtomicUsize>,
    /// Producer-private: last `head` it loaded.
    cached_head: CachePadded<Cell<usize>>,
    /// Consumer-private: last `tail` it loaded.
    cached_tail: CachePadded<Cell<usize>>,
    mask: usize,
    buf: Buffer,
}

// SAFETY: the Cells are each touched by one side only (producer or consumer),
// which the `unsafe` push/drain contracts guarantee.
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
            cached_tail: CachePadded::new(Cell::new(0)),
            mask: capacity - 1,
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
        // A record that does not fit before the end costs the skipped bytes too.
        let total = if need <= to_end { need } else { to_end + need };
        if tail + total - self.cached_head.get() > self.capacity() {
            // Acquire: pairs with the consumer's Release store of `head`, so
            // its reads of the space we are about to reuse are finished.
            let head = self.head.load(Ordering::Acquire);
            self.cached_head.set(head);
            if tail + total - head > self.capacity() {
                return Err(Full);
            }
        }
        let start = if need <= to_end {
            off
        } else {
            self.buf.write_u32_pair(off, WRAP, 0);
            0
        };
        let word0 = event.len() as u32 | if tag.is_some() { TAGGED } else { 0 };
        self.buf.write_u32_pair(start, word0, stamp);
        write_body(&self.buf, start, tag, event);
        // Release: publishes the header and bytes written above to the
        // consumer's Acquire load of `tail`.
        self.tail.store(tail + total, Ordering::Release);
        Ok(())
    }

    /// Consumes up to `max` records in order while `take` returns true.
    /// Space is returned to the producer once, at the end.
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
        let mut tail = self.cached_tail.get();
        let mut taken = 0;
        while taken < max {
            if head == tail {
                // Acquire: pairs with the producer's Release store of `tail`,
                // making the records before it visible.
                tail = self.tail.load(Ordering::Acquire);
                self.cached_tail.set(tail);
                if head == tail {
                    break;
                }
            }
            let off = head & self.mask;
            let (word0, stamp) = self.buf.read_u32_pair(off);
            if word0 == WRAP {
                head += self.capacity() - off;
                continue;
            }
            let len = (word0 & !TAGGED) as usize;
            let tagged = word0 & TAGGED != 0;
            let (tag, body) = read_tag(&self.buf, off, tagged);
            if !self.buf.read(body, len, |bytes| take(stamp, tag, bytes)) {
                break;
            }
            head += tagged_record_size(len, tagged);
            taken += 1;
        }
        if head != start_head {
            // Release: our reads of the drained records happen-before the
            // producer's reuse of that space (its Acquire load of `head`).
            self.head.store(head, Ordering::Release);
        }
        taken
    }
}
