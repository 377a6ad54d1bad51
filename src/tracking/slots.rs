//! The tracking slot state machine: one 32-bit word per slot that says which
//! ticket the slot serves (its generation) and how far that ticket has got.
//!
//! ```text
//!            acquire (free list pop)          settle (the sink, once)
//!   [g, -] ─────────────────────────► [g+1, PENDING] ─────────────► [g+1, DELIVERED | FAILED]
//!      ▲                                                                     │
//!      └──────────── release (free list push, once: after it is reported) ───┘
//! ```
//!
//! * Only `acquire` writes a new generation, and only to a slot it popped from
//!   the free list; only the sink's completion settles, once per ticket; the
//!   release that returns the slot to the free list happens once, after the
//!   outcome has been reported (callback called, or completion drained).
//!   Waiters and pollers never write anything but the `WAITERS` bit, so any
//!   number of them can ask about one ticket without freeing it twice.
//! * A released slot keeps its settled word and outcome until it is reissued,
//!   so a late `wait` still answers; the free list is FIFO so that happens as
//!   late as possible. Once reissued, the generation no longer matches and
//!   the old ticket is answered as expired, never with another event's outcome.
//! * The outcome fields are read like a seqlock: word, fields, word again;
//!   a reissue between the two word reads changes the generation.
//! * Waiting threads park on the word itself (a futex on Linux), announced by
//!   the `WAITERS` bit: a settle wakes only the threads waiting for that
//!   ticket, and costs no syscall when nobody waits.

use crate::sync::{fence, AtomicI32, AtomicI64, AtomicU32, Ordering};
use std::time::Instant;

/// Low two bits: where the ticket is (0 while the slot was never issued).
const STATE_MASK: u32 = 0b011;
pub const PENDING: u32 = 1;
pub const DELIVERED: u32 = 2;
pub const FAILED: u32 = 3;
/// Some thread is (about to be) parked on this word.
const WAITERS: u32 = 0b100;
const GEN_SHIFT: u32 = 3;
/// Generations run 1..=GEN_MAX, then wrap to 1 (0 means "never issued").
const GEN_MAX: u32 = u32::MAX >> GEN_SHIFT;

/// Where an acknowledged event landed: its identity in Kafka is
/// (partition, offset, index).
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Ack {
    /// Kafka partition of the record holding the event (-1 for sinks without partitions).
    pub partition: i32,
    /// Offset of that record (-1 for sinks without offsets).
    pub offset: i64,
    /// Index of the event inside its frame (0 in record mode).
    pub index: u32,
}

/// What a ticket's slot says about it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Look {
    Pending,
    Delivered(Ack),
    Failed,
    /// The slot has been reissued to a later ticket: this one's outcome was
    /// reported and is no longer kept.
    Expired,
    /// No such ticket was ever issued (0, a slot out of range, a future generation).
    Unknown,
}

/// A ticket: generation in the high 32 bits, slot in the low 32. Never 0
/// (generations start at 1), so 0 can mean "no ticket" to callers.
pub fn ticket(generation: u32, slot: u32) -> u64 {
    (generation as u64) << 32 | slot as u64
}

fn split(ticket: u64) -> (u32, u32) {
    ((ticket >> 32) as u32, ticket as u32)
}

struct Slot {
    /// generation << GEN_SHIFT | WAITERS? | state
    word: AtomicU32,
    index: AtomicU32,
    partition: AtomicI32,
    offset: AtomicI64,
}

impl Slot {
    // Written out: loom's atomics have no Default.
    fn new() -> Slot {
        Slot { word: AtomicU32::new(0), index: AtomicU32::new(0), partition: AtomicI32::new(0), offset: AtomicI64::new(0) }
    }
}

/// The slot table. The free list is kept by the owner ([`super::Tracker`]);
/// this type enforces the per-slot protocol.
pub struct Slots {
    slots: Box<[Slot]>,
}

impl Slots {
    pub fn new(n: usize) -> Slots {
        Slots { slots: (0..n).map(|_| Slot::new()).collect() }
    }

    pub fn len(&self) -> usize {
        self.slots.len()
    }

    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    /// Issues a new ticket on `slot`, which the caller has just taken off the
    /// free list (so no one else writes it).
    pub fn issue(&self, slot: u32) -> u64 {
        let s = &self.slots[slot as usize];
        let old = s.word.load(Ordering::Relaxed);
        let generation = match old >> GEN_SHIFT {
            GEN_MAX => 1,
            g => g + 1,
        };
        // Relaxed: the ticket reaches the flush thread through the ring's
        // Release publish, and a reader of an older ticket only compares
        // generations (see `look`, which fences before trusting fields).
        s.word.store(generation << GEN_SHIFT | PENDING, Ordering::Relaxed);
        ticket(generation, slot)
    }

    /// Notes the event's index in its frame (flush thread, before the frame
    /// goes to the sink).
    pub fn set_index(&self, slot: u32, index: u32) {
        // Release: a seqlock reader that sees this value after a reissue also
        // sees the reissued word on its re-check (see `look`).
        self.slots[slot as usize].index.store(index, Ordering::Release);
    }

    /// Records the outcome of the ticket on `slot` (the sink's completion,
    /// exactly once per ticket) and wakes the threads waiting for it.
    /// Returns the ticket and its state for the report.
    pub fn settle(&self, slot: u32, position: Option<(i32, i64)>, index: Option<u32>) -> (u64, u32) {
        let s = &self.slots[slot as usize];
        if let Some(index) = index {
            s.index.store(index, Ordering::Release);
        }
        let state = match position {
            Some((partition, offset)) => {
                s.partition.store(partition, Ordering::Release);
                s.offset.store(offset, Ordering::Release);
                DELIVERED
            }
            None => FAILED,
        };
        // Release: publishes the fields above to `look`'s Acquire load. An
        // add, not a store, keeps a WAITERS bit set concurrently.
        let old = s.word.fetch_add(state - PENDING, Ordering::Release);
        debug_assert_eq!(old & STATE_MASK, PENDING, "slot {slot} settled twice");
        if old & WAITERS != 0 {
            park::wake_all(&s.word);
        }
        (ticket(old >> GEN_SHIFT, slot), state)
    }

    /// What the slot says about `ticket` now.
    pub fn look(&self, ticket: u64) -> Look {
        self.look_word(ticket).0
    }

    /// `look`, plus the word it was decided on (for parking).
    fn look_word(&self, ticket: u64) -> (Look, u32) {
        let (generation, slot) = split(ticket);
        let Some(s) = self.slots.get(slot as usize) else { return (Look::Unknown, 0) };
        loop {
            // Acquire: pairs with settle's Release, so the fields read below
            // are the outcome's when the state says settled.
            let word = s.word.load(Ordering::Acquire);
            let current = word >> GEN_SHIFT;
            if generation == 0 || current == 0 {
                return (Look::Unknown, word);
            }
            if current != generation {
                // Generations only grow (wrapping after 2^29 reissues of one
                // slot): an older ticket expired, a newer one was never issued.
                let age = current.wrapping_sub(generation) & GEN_MAX;
                return (if age < GEN_MAX / 2 { Look::Expired } else { Look::Unknown }, word);
            }
            let look = match word & STATE_MASK {
                PENDING => return (Look::Pending, word),
                FAILED => Look::Failed,
                DELIVERED => Look::Delivered(Ack {
                    partition: s.partition.load(Ordering::Relaxed),
                    offset: s.offset.load(Ordering::Relaxed),
                    index: s.index.load(Ordering::Relaxed),
                }),
                _ => return (Look::Unknown, word),
            };
            // Seqlock re-check: if any field read above was written for a
            // later ticket (each such write is a Release store made after
            // that ticket's issue), this fence makes the reissued word
            // visible to the load below, which then differs.
            fence(Ordering::Acquire);
            if s.word.load(Ordering::Relaxed) & !WAITERS == word & !WAITERS {
                return (look, word);
            }
        }
    }

    /// Blocks until `ticket` is no longer pending or `deadline` passes;
    /// returns what the slot says then.
    pub fn wait(&self, ticket: u64, deadline: Instant) -> Look {
        loop {
            let (look, word) = self.look_word(ticket);
            if look != Look::Pending {
                return look;
            }
            let now = Instant::now();
            if now >= deadline {
                return Look::Pending;
            }
            let s = &self.slots[split(ticket).1 as usize];
            let parked = word | WAITERS;
            // Announce the waiter; a settle racing with us changes the word,
            // so the exchange fails and we look again.
            if word & WAITERS == 0
                && s.word.compare_exchange(word, parked, Ordering::Relaxed, Ordering::Relaxed).is_err()
            {
                continue;
            }
            // Sleeps only while the word is still `parked` (checked by the
            // kernel atomically with going to sleep), so a settle between our
            // exchange and this call is never missed.
            park::wait(&s.word, parked, deadline - now);
        }
    }
}

/// Parking on a slot word.
#[cfg(all(target_os = "linux", not(loom)))]
mod park {
    use std::sync::atomic::AtomicU32;
    use std::time::Duration;

    pub fn wait(word: &AtomicU32, expected: u32, timeout: Duration) {
        let ts = libc::timespec {
            tv_sec: timeout.as_secs().min(i32::MAX as u64) as libc::time_t,
            tv_nsec: timeout.subsec_nanos() as libc::c_long,
        };
        // SAFETY: FUTEX_WAIT reads the aligned u32 behind `word` (an
        // AtomicU32 has the layout of a u32) and sleeps while it equals
        // `expected`; spurious and EINTR/EAGAIN returns are handled by the
        // caller's loop.
        unsafe {
            libc::syscall(
                libc::SYS_futex,
                word.as_ptr(),
                libc::FUTEX_WAIT | libc::FUTEX_PRIVATE_FLAG,
                expected,
                &ts as *const libc::timespec,
            );
        }
    }

    pub fn wake_all(word: &AtomicU32) {
        // SAFETY: FUTEX_WAKE only uses the address as a key.
        unsafe {
            libc::syscall(libc::SYS_futex, word.as_ptr(), libc::FUTEX_WAKE | libc::FUTEX_PRIVATE_FLAG, i32::MAX);
        }
    }
}

/// Portable fallback (and the loom model): short sleeps instead of a futex.
#[cfg(any(not(target_os = "linux"), loom))]
mod park {
    use crate::sync::AtomicU32;
    use std::time::Duration;

    pub fn wait(_word: &AtomicU32, _expected: u32, timeout: Duration) {
        #[cfg(loom)]
        {
            let _ = timeout;
            loom::thread::yield_now();
        }
        #[cfg(not(loom))]
        std::thread::sleep(timeout.min(Duration::from_micros(200)));
    }

    pub fn wake_all(_word: &AtomicU32) {}
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn tickets_are_never_zero_and_expire_on_reissue() {
        let slots = Slots::new(2);
        assert_eq!(slots.look(0), Look::Unknown);
        let t1 = slots.issue(0);
        assert_ne!(t1, 0);
        assert_eq!(slots.look(t1), Look::Pending);
        slots.set_index(0, 7);
        assert_eq!(slots.settle(0, Some((3, 42)), None), (t1, DELIVERED));
        assert_eq!(slots.look(t1), Look::Delivered(Ack { partition: 3, offset: 42, index: 7 }));
        // Asked again: the same answer (nothing was consumed by asking).
        assert_eq!(slots.look(t1), Look::Delivered(Ack { partition: 3, offset: 42, index: 7 }));
        let t2 = slots.issue(0);
        assert_ne!(t1, t2);
        assert_eq!(slots.look(t1), Look::Expired);
        assert_eq!(slots.look(t2), Look::Pending);
        // A generation never issued, and a slot out of range.
        assert_eq!(slots.look(t2 + (1 << 32)), Look::Unknown);
        assert_eq!(slots.look(ticket(1, 5)), Look::Unknown);
        slots.settle(0, None, None);
        assert_eq!(slots.look(t2), Look::Failed);
    }

    #[test]
    fn generations_wrap_without_reaching_zero() {
        let slots = Slots::new(1);
        slots.slots[0].word.store(GEN_MAX << GEN_SHIFT | FAILED, Ordering::Relaxed);
        let t = slots.issue(0);
        assert_eq!(t >> 32, 1);
        assert_eq!(slots.look(ticket(GEN_MAX, 0)), Look::Expired);
    }

    #[test]
    fn a_waiter_wakes_when_its_ticket_settles() {
        let slots = std::sync::Arc::new(Slots::new(4));
        let t = slots.issue(2);
        let waiter = {
            let slots = slots.clone();
            std::thread::spawn(move || slots.wait(t, Instant::now() + Duration::from_secs(10)))
        };
        std::thread::sleep(Duration::from_millis(20));
        slots.settle(2, Some((1, 9)), Some(0));
        assert_eq!(waiter.join().unwrap(), Look::Delivered(Ack { partition: 1, offset: 9, index: 0 }));
    }

    #[test]
    fn a_wait_times_out_as_pending() {
        let slots = Slots::new(1);
        let t = slots.issue(0);
        let started = Instant::now();
        assert_eq!(slots.wait(t, started + Duration::from_millis(30)), Look::Pending);
        assert!(started.elapsed() >= Duration::from_millis(30));
    }
}
