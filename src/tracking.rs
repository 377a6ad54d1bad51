//! Acknowledged submits: a fixed pool of tracking slots, one per event whose
//! submitter wants to wait for Kafka's acknowledgement.
//!
//! A tracked event carries its slot number through the ring (a 4-byte
//! prefix flagged in the record header), the flush thread notes the event's
//! index in its frame, and the frame's completion records the outcome and
//! Kafka position in the slot. Waiters sleep on the accounting's condition
//! variable, so any number of threads wait without a thread each. The pool
//! is allocated once; fire-and-forget submits never touch it.

use crate::error::{Code, Error, Result};
use std::sync::atomic::{AtomicI32, AtomicI64, AtomicU32, Ordering};
use std::sync::Mutex;

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

const FREE: u32 = 0;
const PENDING: u32 = 1;
const DELIVERED: u32 = 2;
const FAILED: u32 = 3;

#[derive(Default)]
struct Slot {
    /// Bumped whenever the slot is freed, so a stale ticket is recognised.
    generation: AtomicU32,
    state: AtomicU32,
    partition: AtomicI32,
    offset: AtomicI64,
    index: AtomicU32,
}

pub struct Tracker {
    slots: Box<[Slot]>,
    free: Mutex<Vec<u32>>,
}

/// The outcome of a tracked event, once known.
pub enum Outcome {
    Pending,
    Delivered(Ack),
    Failed,
}

impl Tracker {
    pub fn new(slots: usize) -> Tracker {
        Tracker {
            slots: (0..slots).map(|_| Slot::default()).collect(),
            free: Mutex::new((0..slots as u32).rev().collect()),
        }
    }

    /// Takes a free slot; returns (slot, ticket).
    pub fn acquire(&self) -> Result<(u32, u64)> {
        let slot = self.free.lock().unwrap_or_else(|e| e.into_inner()).pop().ok_or_else(|| {
            Error::new(
                Code::MB_ERR_FULL,
                format!("all {} tracking slots are in use: wait for tickets or raise tracking.slots", self.slots.len()),
            )
        })?;
        let s = &self.slots[slot as usize];
        s.state.store(PENDING, Ordering::Relaxed);
        let generation = s.generation.load(Ordering::Relaxed);
        Ok((slot, (generation as u64) << 32 | slot as u64))
    }

    /// Returns a slot whose event never made it into a ring.
    pub fn release(&self, slot: u32) {
        let s = &self.slots[slot as usize];
        s.generation.fetch_add(1, Ordering::Relaxed);
        s.state.store(FREE, Ordering::Relaxed);
        self.free.lock().unwrap_or_else(|e| e.into_inner()).push(slot);
    }

    /// Notes the event's index in its frame (flush thread).
    pub fn set_index(&self, slot: u32, index: u32) {
        self.slots[slot as usize].index.store(index, Ordering::Relaxed);
    }

    /// Records the outcome. `index` overrides the frame index (record mode).
    pub fn complete(&self, slot: u32, position: Option<(i32, i64)>, index: Option<u32>) {
        let s = &self.slots[slot as usize];
        if let Some(index) = index {
            s.index.store(index, Ordering::Relaxed);
        }
        let state = match position {
            Some((partition, offset)) => {
                s.partition.store(partition, Ordering::Relaxed);
                s.offset.store(offset, Ordering::Relaxed);
                DELIVERED
            }
            None => FAILED,
        };
        // Release: publishes the position to the waiter's Acquire load.
        s.state.store(state, Ordering::Release);
    }

    fn slot_of(&self, ticket: u64) -> Result<&Slot> {
        let slot = self.slots.get((ticket & 0xffff_ffff) as usize);
        match slot {
            Some(s) if s.generation.load(Ordering::Relaxed) == (ticket >> 32) as u32 && s.state.load(Ordering::Relaxed) != FREE => Ok(s),
            _ => Err(Error::new(Code::MB_ERR_UNKNOWN_TICKET, format!("ticket {ticket:#x} is unknown or was already waited for"))),
        }
    }

    /// The outcome so far; a final outcome frees the slot (a ticket is
    /// answered once).
    pub fn poll(&self, ticket: u64) -> Result<Outcome> {
        let s = self.slot_of(ticket)?;
        let outcome = match s.state.load(Ordering::Acquire) {
            DELIVERED => Outcome::Delivered(Ack {
                partition: s.partition.load(Ordering::Relaxed),
                offset: s.offset.load(Ordering::Relaxed),
                index: s.index.load(Ordering::Relaxed),
            }),
            FAILED => Outcome::Failed,
            _ => return Ok(Outcome::Pending),
        };
        self.release((ticket & 0xffff_ffff) as u32);
        Ok(outcome)
    }

    /// Whether the ticket's outcome is known (or the ticket is invalid).
    pub fn is_settled(&self, ticket: u64) -> bool {
        match self.slot_of(ticket) {
            Ok(s) => s.state.load(Ordering::Acquire) != PENDING,
            Err(_) => true,
        }
    }
}
