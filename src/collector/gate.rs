//! The admission gate of one SPSC partition: a one-word lock that submitters
//! take for one event, that a flush thread takes to seal the open frame, and
//! that closing the collector takes for good.
//!
//! ```text
//!            try_enter (CAS)             close (CAS, waits for FREE)
//!   FREE ─────────────────────► HELD      FREE ─────────────────────► CLOSED
//!     ▲                          │        (never left: every later try_enter
//!     └──────── release ─────────┘         fails, and hold() runs at once)
//! ```
//!
//! Closing is a lock acquisition that is never released, so a submit that
//! got in before the close finishes before it, and none gets in after it:
//! the submit fast path needs no second look at a `closed` flag.
//!
//! A flush thread must still seal a closed partition's last frame. Once the
//! gate is CLOSED no submitter can reach the ring again, so the flush thread
//! (the only other party on the producer side) proceeds without the lock.
//! The closer's CAS read the last holder's Release store of FREE, so it
//! continues that release sequence, and the flush thread's Acquire load of
//! CLOSED synchronizes with the last holder: it sees the open frame as the
//! last submitter left it.

use crate::sync::{AtomicU32, Ordering};

const FREE: u32 = 0;
const HELD: u32 = 1;
const CLOSED: u32 = 2;

/// One partition's gate word. See the module docs.
#[derive(Debug, Default)]
pub struct SpscGate {
    state: AtomicU32,
}

/// What a blocking entry found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Entry {
    /// The gate is held by the caller until [`SpscGate::release`].
    Held,
    /// The gate is closed for good; the caller holds nothing.
    Closed,
}

impl SpscGate {
    pub fn new() -> SpscGate {
        SpscGate { state: AtomicU32::new(FREE) }
    }

    /// One attempt: true if the gate was free and open and is now held by
    /// the caller. The submit fast path.
    #[inline(always)]
    pub fn try_enter(&self) -> bool {
        // Acquire: the previous holder's ring writes (released below) are
        // visible before we touch the ring.
        self.state.compare_exchange(FREE, HELD, Ordering::Acquire, Ordering::Relaxed).is_ok()
    }

    /// Waits until the gate is free (then holds it) or closed.
    pub fn enter(&self) -> Entry {
        let mut wait = Wait::new();
        loop {
            match self.state.compare_exchange_weak(FREE, HELD, Ordering::Acquire, Ordering::Acquire) {
                Ok(_) => return Entry::Held,
                Err(CLOSED) => return Entry::Closed,
                Err(_) => wait.snooze(),
            }
        }
    }

    /// Releases a gate held through `try_enter` or `enter`.
    #[inline(always)]
    pub fn release(&self) {
        // Release: everything written while holding the gate happens-before
        // the next holder's (or the closer's) Acquire.
        self.state.store(FREE, Ordering::Release);
    }

    /// Runs `f` with the producer side of the partition to itself: holding
    /// the gate, or, once the gate is closed, with no submitter left to
    /// exclude. For the partition's one flush thread, which seals frames.
    pub fn hold<R>(&self, f: impl FnOnce() -> R) -> R {
        match self.enter() {
            Entry::Held => {
                let _release = Release(self);
                f()
            }
            // See the module docs: enter's Acquire load of CLOSED makes the
            // last submitter's writes visible.
            Entry::Closed => f(),
        }
    }

    /// Closes the gate for good, waiting for a holder to leave. Idempotent.
    pub fn close(&self) {
        let mut wait = Wait::new();
        loop {
            match self.state.compare_exchange_weak(FREE, CLOSED, Ordering::Acquire, Ordering::Relaxed) {
                Ok(_) | Err(CLOSED) => return,
                Err(_) => wait.snooze(),
            }
        }
    }

    pub fn is_closed(&self) -> bool {
        self.state.load(Ordering::Acquire) == CLOSED
    }
}

/// Releases the gate when dropped, also by unwinding, so a panic inside
/// can never leave close() waiting forever.
pub struct Release<'a>(pub &'a SpscGate);

impl Drop for Release<'_> {
    #[inline(always)]
    fn drop(&mut self) {
        self.0.release();
    }
}

/// Spinning, then yielding, while another thread holds the gate (under loom:
/// yielding at once, so the model checker can schedule the holder).
struct Wait {
    #[cfg(not(loom))]
    backoff: crossbeam_utils::Backoff,
}

impl Wait {
    fn new() -> Wait {
        Wait {
            #[cfg(not(loom))]
            backoff: crossbeam_utils::Backoff::new(),
        }
    }

    fn snooze(&mut self) {
        #[cfg(not(loom))]
        {
            self.backoff.snooze();
            if self.backoff.is_completed() {
                std::thread::yield_now();
            }
        }
        #[cfg(loom)]
        loom::thread::yield_now();
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn held_gate_refuses_until_released() {
        let gate = SpscGate::new();
        assert!(gate.try_enter());
        assert!(!gate.try_enter());
        gate.release();
        assert!(gate.try_enter());
        gate.release();
    }

    #[test]
    fn closed_gate_refuses_for_good_and_hold_still_runs() {
        let gate = SpscGate::new();
        gate.close();
        gate.close();
        assert!(gate.is_closed());
        assert!(!gate.try_enter());
        assert_eq!(gate.enter(), Entry::Closed);
        assert_eq!(gate.hold(|| 7), 7);
        assert!(gate.is_closed(), "hold on a closed gate must not reopen it");
    }

    #[test]
    fn close_waits_for_the_holder() {
        let gate = std::sync::Arc::new(SpscGate::new());
        assert!(gate.try_enter());
        let closer = {
            let gate = gate.clone();
            std::thread::spawn(move || gate.close())
        };
        std::thread::sleep(std::time::Duration::from_millis(20));
        assert!(!closer.is_finished(), "close returned while the gate was held");
        gate.release();
        closer.join().unwrap();
        assert!(gate.is_closed());
    }
}
