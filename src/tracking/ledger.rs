//! How far each partition is reported: the ledger `flush` waits on.
//!
//! Every frame a flush thread hands to the sink carries, for each partition
//! it holds events of, a *mark*: the partition's position just past the
//! frame's last event of that partition. A position is a count that only
//! grows along the partition's ring order: events for SPSC rings (the
//! submit count, which the gate holder advances in push order), bytes for
//! MPSC rings (the ring's claim position, which orders records the way the
//! single consumer drains them). Frames of one partition are registered in
//! that order, because one flush thread drains a partition and sends its
//! frames in drain order.
//!
//! Sinks may report frames out of that order (a Kafka record refused at
//! enqueue fails before earlier records are acknowledged; a Rust sink may
//! do anything), so a count of completed events per partition is not enough:
//! ten later events reported early would stand in for ten earlier ones
//! still out. The ledger keeps each partition's frames in flight in send
//! order and advances `reported` only over a contiguous run of reported
//! frames: `reported(p) >= x` means every event of `p` before position `x`
//! has been reported, exactly. Costs one uncontended lock per frame sent
//! and per frame reported, nothing per event.

use crossbeam_utils::CachePadded;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

pub struct Ledger {
    books: Box<[CachePadded<Book>]>,
}

struct Book {
    /// Every event of the partition before this position is reported.
    reported: AtomicU64,
    inflight: Mutex<InFlight>,
}

/// Frames of one partition in send order: (mark, reported yet).
#[derive(Default)]
struct InFlight {
    /// Sequence number of `frames[0]`.
    first_seq: u64,
    frames: VecDeque<(u64, bool)>,
}

/// A frame's place in one partition's ledger, kept by its `Completion`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mark {
    pub(crate) partition: u32,
    seq: u64,
}

impl Ledger {
    pub fn new(partitions: usize) -> Ledger {
        Ledger {
            books: (0..partitions)
                .map(|_| CachePadded::new(Book { reported: AtomicU64::new(0), inflight: Mutex::new(InFlight::default()) }))
                .collect(),
        }
    }

    /// Registers a frame that holds partition `p`'s events up to position
    /// `mark`. Called by the partition's flush thread before the sink sees
    /// the frame, in increasing `mark` order.
    pub fn sent(&self, p: usize, mark: u64) -> Mark {
        let mut inflight = self.books[p].inflight.lock().unwrap_or_else(|e| e.into_inner());
        debug_assert!(inflight.frames.back().map_or(true, |&(m, _)| m <= mark), "marks of a partition only grow");
        let seq = inflight.first_seq + inflight.frames.len() as u64;
        inflight.frames.push_back((mark, false));
        Mark { partition: p as u32, seq }
    }

    /// The frame of `mark` is reported: advances the partition's reported
    /// position over every leading frame now reported.
    pub fn reported(&self, mark: Mark) {
        let book = &self.books[mark.partition as usize];
        let mut inflight = book.inflight.lock().unwrap_or_else(|e| e.into_inner());
        let index = (mark.seq - inflight.first_seq) as usize;
        inflight.frames[index].1 = true;
        let mut position = None;
        while let Some(&(m, true)) = inflight.frames.front() {
            inflight.frames.pop_front();
            inflight.first_seq += 1;
            position = Some(m);
        }
        if let Some(m) = position {
            // Release: pairs with the Acquire in `position`; the counts the
            // completion made before this are visible to whoever sees it.
            book.reported.store(m, Ordering::Release);
        }
    }

    /// Every event of partition `p` before this position is reported.
    pub fn position(&self, p: usize) -> u64 {
        self.books[p].reported.load(Ordering::Acquire)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_position_advances_only_over_a_contiguous_run() {
        let ledger = Ledger::new(2);
        let a = ledger.sent(0, 10);
        let b = ledger.sent(0, 20);
        let c = ledger.sent(0, 30);
        let other = ledger.sent(1, 5);
        ledger.reported(c);
        ledger.reported(b);
        assert_eq!(ledger.position(0), 0, "the first frame is still out");
        ledger.reported(a);
        assert_eq!(ledger.position(0), 30);
        assert_eq!(ledger.position(1), 0);
        ledger.reported(other);
        assert_eq!(ledger.position(1), 5);
        let d = ledger.sent(0, 31);
        ledger.reported(d);
        assert_eq!(ledger.position(0), 31);
    }
}
