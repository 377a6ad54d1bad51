//! Multi-producer single-consumer byte ring (see [`crate::ring`] for the
//! record layout).
//!
//! Producers claim space with a CAS on `tail`, write their record, then
//! publish it by storing its commit word (word0 = length | COMMITTED) with
//! Release. The consumer reads commit words with Acquire, so a record claimed
//! but not yet committed stops the drain there and later records wait, which
//! keeps order. The consumer zeroes every record it consumes: free space is
//! always zero, so a commit word of 0 reliably means "not written yet" on the
//! next lap too.

use super::buffer::Buffer;
use super::{read_tag, tagged_record_size, write_body, Full, COMMITTED, TAGGED, WRAP};
use crate::sync::{AtomicUsize, Ordering};
use crossbeam_utils::CachePadded;
use std::cell::Cell;

pub struct MpscRing {
    /// Next position the consumer reads. Written by the consumer only.
    head: CachePadded<AtomicUsize>,
    /// Next position a producer may claim. Advanced by CAS.
    tail: CachePadded<AtomicUsize>,
    mask: usize,
    buf: Buffer,
    /// Consumer-private scratch: nothing cached, kept for symmetry of layout.
    _consumer: CachePadded<Cell<()>>,
}

// SAFETY: the fields are atomics and a Buffer (Send, Sync); the `Cell` is
// a zero-sized placeholder nobody accesses. The buffer's bytes are shared
// under the protocol in the module docs: producers write only the space
// they claimed by CAS, the one drainer (the `unsafe` contract of `drain`)
// reads only records whose commit word it loaded with Acquire.
unsafe impl Send for MpscRing {}
// SAFETY: as for Send; `push_tagged` is safe from any number of threads
// because each writes only the space its CAS claimed.
unsafe impl Sync for MpscRing {}

impl MpscRing {
    pub fn with_capacity(capacity: usize) -> MpscRing {
        let capacity = super::ring_capacity(capacity);
        MpscRing {
            head: CachePadded::new(AtomicUsize::new(0)),
            tail: CachePadded::new(AtomicUsize::new(0)),
            mask: capacity - 1,
            buf: Buffer::zeroed(capacity),
            _consumer: CachePadded::new(Cell::new(())),
        }
    }

    pub fn capacity(&self) -> usize {
        self.mask + 1
    }

    /// The position just past the last claimed record (a byte count since
    /// creation, wraps included). Every record whose push has returned lies
    /// before it, and the consumer drains records in position order.
    pub fn claimed_position(&self) -> usize {
        self.tail.load(Ordering::Acquire)
    }

    /// The position the consumer has drained to; exact on the consumer's
    /// thread, a snapshot elsewhere.
    pub fn consumed_position(&self) -> usize {
        self.head.load(Ordering::Relaxed)
    }

    pub fn used_bytes(&self) -> usize {
        let head = self.head.load(Ordering::Acquire);
        self.tail.load(Ordering::Acquire).wrapping_sub(head)
    }

    /// Appends one event. Safe to call from any number of threads.
    #[inline]
    pub fn push(&self, event: &[u8], stamp: u32) -> Result<(), Full> {
        self.push_tagged(event, stamp, None)
    }

    /// Appends one event with an optional tag. Safe from any number of threads.
    #[inline]
    pub fn push_tagged(&self, event: &[u8], stamp: u32, tag: Option<u32>) -> Result<(), Full> {
        let need = tagged_record_size(event.len(), tag.is_some());
        let mut tail = self.tail.load(Ordering::Relaxed);
        let (start, wrap_at) = loop {
            let off = tail & self.mask;
            let to_end = self.capacity() - off;
            let total = if need <= to_end { need } else { to_end + need };
            // Acquire: pairs with the consumer's Release store of `head`; its
            // zeroing of the space we may claim is visible before we write.
            let head = self.head.load(Ordering::Acquire);
            // `tail` may be stale: other producers can have claimed past it
            // and the consumer drained past it since we loaded it, so `head`
            // may exceed `tail`. Compare without subtracting (tail - head
            // would underflow: a spurious Full in release, a panic in debug);
            // a stale `tail` then fails the CAS below and is reloaded.
            if tail + total > head + self.capacity() {
                return Err(Full);
            }
            // Relaxed CAS: the claim only needs atomicity; the record is
            // published through its commit word, not through `tail`.
            match self.tail.compare_exchange_weak(tail, tail + total, Ordering::Relaxed, Ordering::Relaxed) {
                Ok(_) if need <= to_end => break (off, None),
                Ok(_) => break (0, Some(off)),
                Err(now) => tail = now,
            }
        };
        // SAFETY: [start, start+need) (and the wrap word) belong to us alone
        // until we commit them.
        unsafe {
            // Only the stamp half: the commit word is accessed atomically.
            self.buf.write(start + 4, &stamp.to_le_bytes());
            write_body(&self.buf, start, tag, event);
        }
        let flags = if tag.is_some() { COMMITTED | TAGGED } else { COMMITTED };
        // Release: publishes the stamp and bytes above.
        self.buf.commit_word(start).store(event.len() as u32 | flags, Ordering::Release);
        if let Some(off) = wrap_at {
            // Published after the record so the consumer, which stops at the
            // first uncommitted word, never passes a half-written record.
            self.buf.commit_word(off).store(WRAP, Ordering::Release);
        }
        Ok(())
    }

    /// Consumes up to `max` committed records in order while `take` returns true.
    ///
    /// # Safety
    /// Only one thread may call `drain` at a time.
    pub unsafe fn drain(&self, max: usize, mut take: impl FnMut(u32, &[u8]) -> bool) -> usize {
        // SAFETY: the same contract, passed on.
        unsafe { self.drain_tagged(max, |stamp, _, event| take(stamp, event)) }
    }

    /// Like `drain`, also passing each record's tag.
    ///
    /// # Safety
    /// Only one thread may drain at a time.
    pub unsafe fn drain_tagged(&self, max: usize, mut take: impl FnMut(u32, Option<u32>, &[u8]) -> bool) -> usize {
        let start_head = self.head.load(Ordering::Relaxed);
        let mut head = start_head;
        let mut published = start_head;
        let every = super::publish_every(self.capacity());
        let mut taken = 0;
        while taken < max {
            let off = head & self.mask;
            // Acquire: pairs with the producer's Release store of the commit.
            let word = self.buf.commit_word(off).load(Ordering::Acquire);
            if word == 0 {
                break; // not yet claimed, or claimed and not yet committed
            }
            if word == WRAP {
                self.buf.commit_word(off).store(0, Ordering::Relaxed);
                head += self.capacity() - off;
                continue;
            }
            let len = (word & !(COMMITTED | TAGGED)) as usize;
            let tagged = word & TAGGED != 0;
            // SAFETY: the Acquire load of the commit word
            // above made the producer's writes of the record visible, and no
            // producer writes it again until we zero it and publish `head`
            // past it; `off` is a record start (8-aligned, in bounds) and
            // the commit word's length and TAGGED flag describe the record
            // the producer wrote, which fits the buffer.
            let (_, stamp) = unsafe { self.buf.read_u32_pair(off) };
            // SAFETY: as above.
            let (tag, body) = unsafe { read_tag(&self.buf, off, tagged) };
            // SAFETY: as above.
            if !unsafe { self.buf.read(body, len, |bytes| take(stamp, tag, bytes)) } {
                break;
            }
            let size = tagged_record_size(len, tagged);
            // Free space must read as zero (see module docs). Relaxed: the
            // Release store of `head` below publishes these stores.
            self.buf.commit_word(off).store(0, Ordering::Relaxed);
            // SAFETY: the consumed record is ours until `head` passes it: no
            // producer can claim it before that Release store.
            unsafe { self.buf.zero(off + 4, size - 4) };
            head += size;
            taken += 1;
            if head - published >= every {
                // Hand space back during a long drain (see SpscRing::drain).
                // Release: as below.
                self.head.store(head, Ordering::Release);
                published = head;
            }
        }
        if head != published {
            // Release: our reads and zeroing happen-before a producer's claim
            // of this space (its Acquire load of `head`).
            self.head.store(head, Ordering::Release);
        }
        taken
    }
}
