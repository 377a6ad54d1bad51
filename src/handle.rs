//! Handles for foreign callers (C and Java), which may use a handle after
//! freeing it or free it while other threads still submit through it.
//!
//! A [`Handle`] is never deallocated: freeing it drops the collector inside
//! and leaves a small husk (the handle plus its gates, about 128 bytes per
//! partition) that answers every later call with MB_ERR_CLOSED. Husks stay
//! reachable from a global list, so leak checkers see them as still in use.
//!
//! Safety against a concurrent free comes from the collector's gates: a
//! submit holds its partition's gate while it touches the collector, and
//! `free` closes the gates (waiting for every holder) before dropping it.

use crate::collector::{Collector, Core, Gates, Status};
use crate::tracking::{Ack, AckEvent, Tracker};
use crate::config::Config;
use crate::error::{Error, Result};
use crate::ring::INLINE_COPY_MAX;
use std::sync::atomic::{AtomicPtr, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Distinguishes a handle from arbitrary memory on a best-effort basis.
const MAGIC: u64 = 0x6d62_636f_6c6c_6563; // "mbcollec"

pub struct Handle {
    magic: u64,
    /// `Gates::id` of `gates`, beside `magic` so the submit fast path reads
    /// one line of the handle.
    gates_id: u64,
    gates: Arc<Gates>,
    /// The collector's core, valid while the gates are open (see module docs).
    core: *const Core,
    /// Owned collector; null once freed.
    collector: AtomicPtr<Collector>,
    /// The completion queue's owner, kept past a free until a drain finds
    /// the queue ended, so outcomes settled while freeing can still be
    /// drained. None without a queue, and once the queue has ended.
    acks: Mutex<Option<Arc<Tracker>>>,
}

// SAFETY: the raw `core` is the only field that is not Send + Sync, and it
// is only dereferenced inside an open gate, where the collector that owns
// the Core (itself Send + Sync) is alive whatever thread we are on; the
// collector pointer is an AtomicPtr, freed once (`free` swaps it out).
unsafe impl Send for Handle {}
// SAFETY: as for Send: shared use reaches `core` only through the gates.
unsafe impl Sync for Handle {}

static HUSKS: Mutex<Vec<&'static Handle>> = Mutex::new(Vec::new());

impl Handle {
    /// Creates a collector and a handle that owns it.
    pub fn create(config: &Config) -> Result<&'static Handle> {
        let collector = Box::new(Collector::new(config)?);
        if let Some(why) = collector.calibration_open_error() {
            // The collector runs (on bootstrap configs); the caller can still
            // learn why its calibration store is not used.
            crate::ffi::set_last_error(&format!("calibration store not used: {why}"));
        }
        let handle: &'static Handle = Box::leak(Box::new(Handle {
            magic: MAGIC,
            gates_id: collector.gates().id(),
            gates: collector.gates().clone(),
            core: collector.core_ptr(),
            acks: Mutex::new(collector.tracker().has_queue().then(|| collector.tracker().clone())),
            collector: AtomicPtr::new(Box::into_raw(collector)),
        }));
        HUSKS.lock().unwrap_or_else(|e| e.into_inner()).push(handle);
        Ok(handle)
    }

    /// Turns a foreign pointer back into a handle, refusing NULL and memory
    /// that does not carry the handle magic.
    ///
    /// # Safety
    /// A non-null `ptr` must have come from [`Handle::create`] (possibly
    /// freed since: that is fine).
    #[inline(always)]
    pub unsafe fn from_ptr<'a>(ptr: *const Handle) -> Result<&'a Handle> {
        // SAFETY: non-null, it came from `create` (contract), which leaks
        // the handle: it is aligned, initialised and never deallocated, so
        // valid for any 'a. (The magic check below only catches mistakes.)
        match unsafe { ptr.as_ref() } {
            Some(h) if h.magic == MAGIC => Ok(h),
            other => Err(Self::not_a_handle(other.is_none())),
        }
    }

    #[cold]
    #[inline(never)]
    fn not_a_handle(null: bool) -> Error {
        if null {
            Error::new(crate::error::Code::MB_ERR_NULL_ARG, "collector handle is NULL")
        } else {
            Error::new(crate::error::Code::MB_ERR_INTERNAL, "pointer is not a microbatch collector handle")
        }
    }

    /// The C submit's fast path: true if `ptr` is a handle, (`data`, `len`)
    /// a valid slice of at most [`INLINE_COPY_MAX`] bytes, and the
    /// collector's fast attempt took the event. False, with nothing done, for
    /// anything else, which the caller then hands to the checked path
    /// ([`Handle::from_ptr`], [`Handle::submit`]) for its error, the copy of
    /// a larger event, or the slow path. No calls (small events are copied
    /// inline) and nothing that can panic, so a C entry point can run it
    /// before its panic boundary and stay a leaf function with one jump out.
    ///
    /// # Safety
    /// As for [`Handle::from_ptr`]; a non-null `data` points to `len`
    /// readable bytes.
    #[inline(always)]
    pub unsafe fn try_submit_fast(ptr: *const Handle, data: *const u8, len: usize) -> bool {
        // SAFETY: as in `from_ptr`.
        let Some(handle) = (unsafe { ptr.as_ref() }) else { return false };
        if handle.magic != MAGIC || data.is_null() || len > INLINE_COPY_MAX {
            return false;
        }
        // SAFETY: non-null `data` points to `len` readable bytes (contract;
        // the C caller keeps them unchanged for the call).
        let event = unsafe { std::slice::from_raw_parts(data, len) };
        // SAFETY: `handle.gates_id` is the id of `handle.gates`, which the
        // never-freed handle holds for good.
        unsafe { Gates::try_submit_home(handle.gates_id, event) }
    }

    #[inline(always)]
    pub fn submit(&self, event: &[u8]) -> Result<()> {
        // SAFETY: `core` is the collector's, which `free` drops only after
        // closing these gates (close() has returned: see the module docs),
        // and `gates_id` was copied from `gates` at creation.
        unsafe { self.gates.submit(self.gates_id, self.core, event) }
    }

    /// Submits a block of pre-encoded events: see [`Collector::submit_encoded`].
    pub fn submit_encoded(&self, encoded: &[u8], count: usize) -> (usize, Result<()>) {
        // SAFETY: as in `submit`.
        unsafe { self.gates.submit_encoded(self.gates_id, self.core, encoded, count) }
    }

    /// Submits an event to wait for; returns its ticket.
    pub fn submit_tracked(&self, event: &[u8]) -> Result<u64> {
        // SAFETY: as in `submit`.
        unsafe { self.gates.submit_tracked(self.core, event) }
    }

    /// Waits for a ticket's outcome. The wait holds the tracking slots, not
    /// the collector, so a free that starts meanwhile does not cut it short:
    /// the waiter gets the event's true outcome (free delivers or fails
    /// every pending event). A wait that starts after the free gets
    /// MB_ERR_CLOSED.
    pub fn wait(&self, ticket: u64, timeout: Duration) -> Result<Ack> {
        self.with(|c| c.tracker().clone())?.wait(ticket, timeout)
    }

    /// Drains outcomes from the completion queue. Works through and after a
    /// free, so every outcome can be collected, and answers MB_ERR_CLOSED
    /// once the collector is gone and everything has been drained.
    pub fn poll_acks(&self, out: &mut [AckEvent], timeout: Duration) -> Result<usize> {
        let tracker = self.acks.lock().unwrap_or_else(|e| e.into_inner()).clone();
        let Some(tracker) = tracker else {
            // No queue (the tracker says how to turn it on), or it has ended.
            return self.with(|c| c.poll_acks(out, timeout))?;
        };
        let drained = tracker.poll_acks(out, timeout);
        if drained.as_ref().is_err_and(|e| e.code() == crate::error::Code::MB_ERR_CLOSED) {
            // Ended: the husk need not keep the slots any longer.
            *self.acks.lock().unwrap_or_else(|e| e.into_inner()) = None;
        }
        drained
    }

    /// Runs `f` on the collector unless it has been freed.
    pub fn with<R>(&self, f: impl FnOnce(&Collector) -> R) -> Result<R> {
        if !self.gates.enter_user() {
            return Err(Error::closed());
        }
        let ptr = self.collector.load(Ordering::Acquire);
        // SAFETY: while we are a gate user, free() cannot finish dropping it;
        // and the pointer is only nulled by free(), which closes gates first.
        let out = unsafe { ptr.as_ref() }.map(f);
        self.gates.exit_user();
        out.ok_or_else(Error::closed)
    }

    /// Flushes (see [`Collector::flush`]). Waits outside the collector,
    /// holding only its accounting, so a free that starts meanwhile proceeds
    /// and the flush gets the true answer: MB_OK once free has reported
    /// every event submitted before the flush (delivered or failed).
    pub fn flush(&self, timeout: Duration) -> Result<()> {
        let deadline = std::time::Instant::now() + timeout;
        let target = self.with(|c| c.start_flush())??;
        if target.wait(deadline) {
            return Ok(());
        }
        Err(match self.with(|c| c.flush_timed_out(timeout)) {
            Ok(error) => error,
            // Freed meanwhile: the collector's details are gone.
            Err(_) => Error::new(
                crate::error::Code::MB_ERR_TIMEOUT,
                format!(
                    "flush timed out after {} ms; the collector was freed meanwhile without reporting \
                     every event submitted before the flush",
                    timeout.as_millis()
                ),
            ),
        })
    }

    pub fn status(&self) -> Result<Status> {
        self.with(|c| c.status())
    }

    /// Drops the collector (flushing what is pending). Later calls return
    /// MB_ERR_CLOSED; a second free does nothing.
    pub fn free(&self) -> Result<()> {
        let ptr = self.collector.swap(std::ptr::null_mut(), Ordering::AcqRel);
        if ptr.is_null() {
            return Ok(());
        }
        // SAFETY: we won the swap, so we own the box; close() waits for every
        // gate holder before the collector is dropped.
        let collector = unsafe { Box::from_raw(ptr) };
        let result = collector.close();
        drop(collector);
        result
    }
}
