//! The submit path: each partition's gate, the thread-local home that
//! leads a thread to its gate and ring, the fast path, and the checked
//! path behind it (first submit, tracked and large events, full rings,
//! frames to open or seal, closed collector).

use super::gate::{self, Entry, Held, Lessee, SpscGate, Who};
use super::Core;
use crate::error::{Code, Error, Result};
use crate::frame::EVENT_PREFIX;
use crate::ring::{Ring, RingKind, SpscRing};
use crossbeam_utils::{Backoff, CachePadded};
use std::cell::Cell;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// What a submit touches of one partition besides its ring, on one cache
/// line that the submitting core owns in the steady state.
pub(crate) struct Gate {
    /// SPSC: the partition's lock (see [`gate`]).
    spsc: SpscGate,
    /// MPSC: producers inside; close() waits for 0.
    inside: AtomicU32,
    /// Events accepted into this partition's ring.
    submitted: AtomicU64,
    /// The current N, copied from [`Core`] by `set_level`, so the fast path
    /// finds it on this line.
    max_events: AtomicU64,
    event_max_bytes: usize,
}

impl Gate {
    /// Counts an event accepted into this SPSC partition's ring. Only the
    /// gate holder writes an SPSC counter, so a load and a store suffice;
    /// Release pairs with the Acquire in `Gates::submitted`.
    #[inline(always)]
    fn count_spsc(&self) {
        self.count_spsc_many(1);
    }

    /// Counts `n` events accepted into this SPSC partition's ring at once
    /// (a run of a block); as [`Gate::count_spsc`].
    #[inline(always)]
    fn count_spsc_many(&self, n: u64) {
        self.submitted.store(self.submitted.load(Ordering::Relaxed) + n, Ordering::Release);
    }
}

/// Times a submit that finds its ring full (with `submit.block.ms` left)
/// yields its core before it starts sleeping between attempts, as the Java
/// collector's back-off does.
const FULL_YIELDS: u32 = 16;

/// Bytes of a block appended under one entry of a gate before it is left
/// and entered again: a flush thread waiting to seal a due frame waits for
/// at most this much copying, however large the block.
const BLOCK_STRETCH_BYTES: usize = 64 << 10;

/// Splits the first event off a block in the frame's event encoding; the
/// block was checked by [`Gates::check_block`], so the event is whole.
#[inline(always)]
fn split_event(block: &[u8]) -> (&[u8], &[u8]) {
    let len = u32::from_le_bytes(block[..EVENT_PREFIX].try_into().unwrap()) as usize;
    let (event, rest) = block[EVENT_PREFIX..].split_at(len);
    (event, rest)
}

/// The refusal of an event above `event.max.bytes`, worded the same for a
/// single submit and a block.
fn too_large(len: usize, max: usize) -> Error {
    Error::new(Code::MB_ERR_TOO_LARGE, format!("event of {len} bytes exceeds event.max.bytes = {max}"))
}

/// Admission control for all partitions. Outlives the collector when a C or
/// Java handle holds it, so a stale handle still finds valid gates.
pub struct Gates {
    id: u64,
    kind: RingKind,
    closed: CachePadded<AtomicBool>,
    /// Threads inside `Handle::with` (status, flush, ...).
    users: CachePadded<AtomicUsize>,
    gates: Box<[CachePadded<Gate>]>,
}

static NEXT_GATES_ID: AtomicU64 = AtomicU64::new(1);
static NEXT_THREAD_NO: AtomicUsize = AtomicUsize::new(0);
/// Every thread's lease flag (see `LEASE_BUSY`), so leak checkers see them
/// as still in use rather than lost.
static LEASE_FLAGS: Mutex<Vec<&'static CachePadded<crate::sync::AtomicU32>>> = Mutex::new(Vec::new());

/// Where this thread submits for the collector it used last.
#[derive(Clone, Copy)]
struct Home {
    /// Which collector: `Gates::id`, unique for the life of the process, so
    /// an entry left behind by a dropped collector never matches another.
    gates_id: u64,
    partition: usize,
    /// That partition's gate, inside the `Gates` of `gates_id`: valid while
    /// the caller holds those gates, which a matching id implies.
    gate: *const Gate,
    /// That partition's SPSC ring, recorded by a submit that got through
    /// the open gate (so the collector was alive); null for MPSC, and until
    /// then. The fast path dereferences it only inside the open gate, where
    /// the collector cannot have been dropped.
    spsc: *const SpscRing,
    /// This thread as a holder of leases (see [`gate`]).
    lessee: Lessee,
}

impl Home {
    const NONE: Home = Home {
        gates_id: 0,
        partition: 0,
        gate: std::ptr::null(),
        spsc: std::ptr::null(),
        // SAFETY: never passed to a gate: a home is used only when its
        // `gates_id` matches a live `Gates`, and ids start at 1. (It must
        // not be: token 0 is the word of a free gate, so a lease check would
        // pass and dereference the null flag.)
        lessee: unsafe { Lessee::new(0, std::ptr::null()) },
    };
}

thread_local! {
    /// This thread's number, assigned at its first submit, so threads spread
    /// over partitions round-robin.
    static THREAD_NO: Cell<usize> = const { Cell::new(usize::MAX) };
    /// The fast path's way in: no division, no walk from the collector to
    /// its gate and ring.
    static HOME: Cell<Home> = const { Cell::new(Home::NONE) };
    /// This thread's `busy` flag for leases, allocated at its first submit
    /// and never freed: a gate may hold this thread's token, and a revoker
    /// read the flag, after the thread is gone. One cache line per thread
    /// that ever submitted, kept reachable from [`LEASE_FLAGS`].
    static LEASE_BUSY: Cell<*const crate::sync::AtomicU32> = const { Cell::new(std::ptr::null()) };
}

impl Gates {
    pub(crate) fn new(kind: RingKind, partitions: usize, event_max_bytes: usize, leases: bool) -> Gates {
        Gates {
            id: NEXT_GATES_ID.fetch_add(1, Ordering::Relaxed),
            kind,
            closed: CachePadded::new(AtomicBool::new(false)),
            users: CachePadded::new(AtomicUsize::new(0)),
            gates: (0..partitions)
                .map(|_| {
                    CachePadded::new(Gate {
                        spsc: SpscGate::new(leases),
                        inside: AtomicU32::new(0),
                        submitted: AtomicU64::new(0),
                        max_events: AtomicU64::new(1),
                        event_max_bytes,
                    })
                })
                .collect(),
        }
    }

    /// The id handles and collectors copy, to hand to [`Gates::submit`].
    pub(crate) fn id(&self) -> u64 {
        self.id
    }

    /// This thread's home for these gates: recorded (partition, gate, lease
    /// identity) when this collector was not the last one it used.
    #[inline(always)]
    fn home(&self) -> Home {
        let home = HOME.get();
        if home.gates_id == self.id {
            return home;
        }
        let no = THREAD_NO.with(|t| {
            if t.get() == usize::MAX {
                t.set(NEXT_THREAD_NO.fetch_add(1, Ordering::Relaxed));
            }
            t.get()
        });
        let busy = LEASE_BUSY.with(|b| {
            if b.get().is_null() {
                let flag: &'static CachePadded<crate::sync::AtomicU32> =
                    Box::leak(Box::new(CachePadded::new(crate::sync::AtomicU32::new(0))));
                LEASE_FLAGS.lock().unwrap_or_else(|e| e.into_inner()).push(flag);
                b.set(&**flag);
            }
            b.get()
        });
        let p = no % self.gates.len();
        // SAFETY: `busy` is this thread's flag, leaked and never freed, and
        // thread numbers, so tokens, are never reused.
        let lessee = unsafe { Lessee::new(gate::token(no), busy) };
        let home = Home { gates_id: self.id, partition: p, gate: self.gate(p), spsc: std::ptr::null(), lessee };
        HOME.set(home);
        home
    }

    /// Partition `p`'s gate; `p` comes from `home()`, so is in range.
    #[inline(always)]
    fn gate(&self, p: usize) -> &Gate {
        debug_assert!(p < self.gates.len());
        // SAFETY: home() returns a partition number modulo the gate count,
        // and every other caller iterates over 0..partitions.
        unsafe { self.gates.get_unchecked(p) }
    }

    /// Enters partition `p`'s gate as `home`'s thread, waiting for another
    /// SPSC holder to leave. Returns how it is held (None for MPSC), or Err
    /// if closed.
    #[inline(always)]
    fn enter(&self, p: usize, home: &Home) -> std::result::Result<Option<Held>, ()> {
        // Cheap early answer once closed: callers that keep submitting to a
        // closed collector then never touch the gate (for SPSC, close() sets
        // this only after closing every gate; see there).
        if self.closed.load(Ordering::Relaxed) {
            return Err(());
        }
        let gate = self.gate(p);
        match self.kind {
            // No entry succeeds once close() has begun on this gate, so
            // holding it means open.
            RingKind::Spsc => match gate.spsc.enter(Who::Submitter(home.lessee)) {
                Entry::Held(held) => Ok(Some(held)),
                Entry::Closed => Err(()),
            },
            RingKind::Mpsc => {
                // SeqCst RMW then SeqCst load of `closed`: with close()'s
                // SeqCst store of `closed` then load of `inside` (Dekker), at
                // least one side sees the other.
                gate.inside.fetch_add(1, Ordering::SeqCst);
                if self.closed.load(Ordering::SeqCst) {
                    self.exit(p, None);
                    return Err(());
                }
                Ok(None)
            }
        }
    }

    /// Leaves a gate `enter` returned `held` for.
    #[inline(always)]
    fn exit(&self, p: usize, held: Option<Held>) {
        match held {
            Some(held) => self.gate(p).spsc.exit(held),
            // Release: everything done inside happens-before close() sees 0.
            None => {
                self.gate(p).inside.fetch_sub(1, Ordering::Release);
            }
        }
    }

    /// Runs `f` with SPSC partition `p`'s producer side to itself, open or
    /// closed: how a flush thread seals the ring's open frame.
    pub(crate) fn with_gate_held<R>(&self, p: usize, f: impl FnOnce() -> R) -> R {
        debug_assert_eq!(self.kind, RingKind::Spsc);
        self.gate(p).spsc.hold(f)
    }

    pub fn is_closed(&self) -> bool {
        self.closed.load(Ordering::SeqCst)
    }

    /// Marks the gates closed and waits until no submit and no user is inside.
    /// After it returns, nothing can reach the collector through these gates.
    pub fn close(&self) {
        match self.kind {
            RingKind::Spsc => {
                // Gates first, flag second: a thread that sees `closed` (the
                // slow path's early answer) finds its gate closed too, so its
                // fast path can never accept an event after a refusal.
                for gate in self.gates.iter() {
                    gate.spsc.close();
                }
                self.closed.store(true, Ordering::SeqCst);
            }
            RingKind::Mpsc => {
                self.closed.store(true, Ordering::SeqCst);
                let backoff = Backoff::new();
                for gate in self.gates.iter() {
                    while gate.inside.load(Ordering::SeqCst) != 0 {
                        backoff.snooze();
                    }
                }
            }
        }
        while self.users.load(Ordering::SeqCst) != 0 {
            std::thread::yield_now();
        }
    }

    /// Enters as a non-submit user (status, flush, ...). False if closed.
    pub fn enter_user(&self) -> bool {
        if self.closed.load(Ordering::Relaxed) {
            return false;
        }
        self.users.fetch_add(1, Ordering::SeqCst);
        if self.closed.load(Ordering::SeqCst) {
            self.users.fetch_sub(1, Ordering::Release);
            return false;
        }
        true
    }

    pub fn exit_user(&self) {
        self.users.fetch_sub(1, Ordering::Release);
    }

    pub(crate) fn submitted(&self) -> u64 {
        // A snapshot: each counter is exact, their sum is as of some moment
        // during the loop. Acquire pairs with the Release in submit.
        self.gates.iter().map(|g| g.submitted.load(Ordering::Acquire)).sum()
    }

    /// Events accepted into partition `p`'s ring so far. For SPSC rings
    /// this is also the ring-order position just past the last of them
    /// (the gate holder pushes and counts in the same order).
    pub(crate) fn submitted_in(&self, p: usize) -> u64 {
        // Acquire: pairs with the Release in submit.
        self.gates[p].submitted.load(Ordering::Acquire)
    }

    /// Sets the N that SPSC submits seal frames at.
    pub(crate) fn set_max_events(&self, n: u64) {
        for gate in self.gates.iter() {
            gate.max_events.store(n, Ordering::Relaxed);
        }
    }

    /// Submits through the gates to `core`.
    ///
    /// # Safety
    /// `core` must point to a live `Core` until `close()` has returned, and
    /// `gates_id` must be `self.id()` (callers keep a copy beside their
    /// other hot fields, so the fast path never loads it from here).
    #[inline(always)]
    pub(crate) unsafe fn submit(&self, gates_id: u64, core: *const Core, event: &[u8]) -> Result<()> {
        // SAFETY: `gates_id` is our id (contract) and the caller holds `self`.
        if unsafe { Self::try_submit_home(gates_id, event) } {
            return Ok(());
        }
        // SAFETY: the same contract, passed on.
        unsafe { self.submit_missed(core, event) }
    }

    /// An untracked submit the home fast path did not take. Out of line, so
    /// the fast path compiles to a leaf with one jump out.
    ///
    /// # Safety
    /// As for `submit`.
    #[inline(never)]
    pub(crate) unsafe fn submit_missed(&self, core: *const Core, event: &[u8]) -> Result<()> {
        // SAFETY: the same contract, passed on.
        if self.kind == RingKind::Mpsc && unsafe { self.try_submit_mpsc(core, event) } {
            return Ok(());
        }
        // SAFETY: the same contract, passed on.
        unsafe { self.submit_slow(core, event, false) }.map(|_| ())
    }

    /// Submits a block of events already in the frame's event encoding
    /// (`u32` LE length, then the bytes, `count` times, filling `encoded`
    /// exactly), in order, as `count` untagged submits would. Returns how
    /// many were taken, from the first, and Ok when that is all of them;
    /// else the error of the event that stopped the block: MB_ERR_FULL
    /// (refused for lack of room after `submit.block.ms`, counted rejected;
    /// the rest were not tried) or MB_ERR_CLOSED. A block that does not
    /// parse (MB_ERR_MALFORMED) or holds an event above `event.max.bytes`
    /// (MB_ERR_TOO_LARGE, that event counted rejected) is refused whole,
    /// before any of it is taken.
    ///
    /// With SPSC rings the events that fit the open frame go in with one
    /// copy per run ([`SpscRing::append_encoded`]) under one entry of the
    /// gate; the event at a frame boundary takes the ring's per-event push,
    /// which seals, opens or re-measures; a full ring, a held or closed
    /// gate, a thread's first submit and MPSC rings take the per-event
    /// submit, one event at a time.
    ///
    /// # Safety
    /// As for `submit`.
    pub(crate) unsafe fn submit_encoded(
        &self,
        gates_id: u64,
        core: *const Core,
        encoded: &[u8],
        count: usize,
    ) -> (usize, Result<()>) {
        // SAFETY: the same contract, passed on.
        if let Err(e) = unsafe { self.check_block(core, encoded, count) } {
            return (0, Err(e));
        }
        let mut rest = encoded;
        let mut done = 0;
        while !rest.is_empty() {
            if self.kind == RingKind::Spsc {
                // SAFETY: the same contract, passed on; `rest` is the
                // checked block less whole events, so `count - done` whole
                // events.
                let (events, bytes) = unsafe { Self::try_append_encoded_home(gates_id, core, rest, count - done) };
                if events > 0 {
                    done += events;
                    rest = &rest[bytes..];
                    continue;
                }
            }
            let (event, next) = split_event(rest);
            // SAFETY: the same contract, passed on.
            if let Err(e) = unsafe { self.submit(gates_id, core, event) } {
                return (done, Err(e));
            }
            done += 1;
            rest = next;
        }
        (done, Ok(()))
    }

    /// Checks that `encoded` is exactly `count` whole events, none above
    /// `event.max.bytes`. Reads the block once; touches the collector only
    /// to count a too-large event rejected.
    ///
    /// # Safety
    /// As for `submit`.
    unsafe fn check_block(&self, core: *const Core, encoded: &[u8], count: usize) -> Result<()> {
        let max = self.gate(0).event_max_bytes;
        let (mut at, mut events, mut largest) = (0usize, 0usize, 0usize);
        while at < encoded.len() {
            let Some(prefix) = encoded.get(at..at + EVENT_PREFIX) else { break };
            let len = u32::from_le_bytes(prefix.try_into().unwrap()) as usize;
            largest = largest.max(len);
            at += EVENT_PREFIX + len;
            events += 1;
        }
        if at != encoded.len() || events != count {
            return Err(Error::new(
                Code::MB_ERR_MALFORMED,
                format!(
                    "an encoded block of {} bytes must hold exactly {count} events, each a u32 little-endian \
                     length and that many bytes; it does not (it parses as {events} events, ending at byte {at})",
                    encoded.len()
                ),
            ));
        }
        if largest > max {
            // Counted as a single submit of it would be, inside the gate,
            // where the collector is alive.
            let home = self.home();
            let Some(_inside) = Entered::new(self, &home) else { return Err(Error::closed()) };
            // SAFETY: the gate is held and open, so close() has not returned
            // and `core` is alive (contract) until `_inside` drops.
            unsafe { (*core).accounting.count_rejected() };
            return Err(too_large(largest, max));
        }
        Ok(())
    }

    /// One attempt at a stretch of a block through this thread's [`Home`]
    /// (SPSC rings): enters the gate as [`Gates::try_submit_home`] does and
    /// appends runs until the block, the stretch or the ring's room ends.
    /// Returns (events, bytes) taken and counted; (0, 0) with nothing done
    /// when there is no home yet, the gate is held or closed, or the ring
    /// is full: the per-event submit handles those.
    ///
    /// # Safety
    /// As for `submit`.
    #[inline]
    unsafe fn try_append_encoded_home(gates_id: u64, core: *const Core, block: &[u8], count: usize) -> (usize, usize) {
        let home = HOME.get();
        if home.gates_id != gates_id || home.spsc.is_null() {
            return (0, 0);
        }
        // SAFETY: a matching id means `home.gate` points into the caller's
        // live Gates (see `Home`).
        let gate = unsafe { &*home.gate };
        if gate.spsc.try_enter_leased(home.lessee) {
            // SAFETY: we entered `home.gate` (through the lease); the rest
            // is this function's contract.
            let taken = unsafe { Self::append_encoded_home(gate, &home, core, block, count) };
            SpscGate::exit_leased(home.lessee);
            taken
        } else if gate.spsc.try_lock() {
            // SAFETY: we entered `home.gate` (by the lock); the rest is this
            // function's contract.
            let taken = unsafe { Self::append_encoded_home(gate, &home, core, block, count) };
            gate.spsc.exit_locked(Who::Submitter(home.lessee));
            taken
        } else {
            (0, 0)
        }
    }

    /// [`Gates::try_append_encoded_home`]'s work inside the gate.
    ///
    /// # Safety
    /// As for `append_home`; `core` is the collector's (alive: the gate is
    /// open); `block` passed [`Gates::check_block`] and holds `count` events.
    #[inline(always)]
    unsafe fn append_encoded_home(
        gate: &Gate,
        home: &Home,
        core: *const Core,
        block: &[u8],
        count: usize,
    ) -> (usize, usize) {
        // SAFETY: `home.spsc` is non-null only once a submit got through the
        // open gate, and the gate is entered and open (contract), so the
        // collector and its rings are alive (see `Home`).
        let ring = unsafe { &*home.spsc };
        // Read once per stretch: a frame open when N shrinks is sealed by
        // its next event, as on the per-event path.
        let max_events = gate.max_events.load(Ordering::Relaxed);
        let (mut events, mut bytes) = (0usize, 0usize);
        while bytes < block.len() && bytes < BLOCK_STRETCH_BYTES {
            // SAFETY: the entered gate makes us the ring's only producer
            // side; `block[bytes..]` holds `count - events` whole events
            // (checked block, whole events taken).
            let (n, b) = unsafe { ring.append_encoded(&block[bytes..], count - events, max_events) };
            events += n;
            bytes += b;
            if bytes == block.len() || bytes >= BLOCK_STRETCH_BYTES {
                break;
            }
            // The next event does not fit the open frame as last measured,
            // or no frame is open: the per-event push seals, opens or
            // re-measures. A full ring is left to the per-event submit,
            // which waits for room outside the gate.
            let (event, _) = split_event(&block[bytes..]);
            // SAFETY: the entered gate makes us the ring's only producer
            // side, and keeps `core` alive (contract) for the clock.
            if unsafe { ring.push_tagged(event, None, max_events, || (*core).clock.exact_us()) }.is_err() {
                break;
            }
            events += 1;
            bytes += EVENT_PREFIX + event.len();
        }
        gate.count_spsc_many(events as u64);
        (events, bytes)
    }

    /// Submits an event whose delivery the caller will wait for; returns its
    /// ticket.
    ///
    /// # Safety
    /// As for `submit`.
    pub(crate) unsafe fn submit_tracked(&self, core: *const Core, event: &[u8]) -> Result<u64> {
        // SAFETY: the same contract, passed on.
        if let Some(ticket) = unsafe { self.try_submit_tracked_home(core, event) } {
            return Ok(ticket);
        }
        // SAFETY: the same contract, passed on.
        unsafe { self.submit_slow(core, event, true) }
    }

    /// The tracked submit's fast path, for SPSC rings: [`Gates::try_submit_home`]
    /// with a slot from the partition's batch ([`Tracker::acquire_in`]) and the
    /// event tagged with it. None, with nothing taken, in every case the
    /// slow path must handle (and where it reports errors, such as
    /// MB_ERR_TRACKING_FULL).
    ///
    /// # Safety
    /// As for `submit`.
    #[inline]
    unsafe fn try_submit_tracked_home(&self, core: *const Core, event: &[u8]) -> Option<u64> {
        let home = HOME.get();
        if home.gates_id != self.id || home.spsc.is_null() {
            return None;
        }
        // SAFETY: a matching id means `home.gate` points into these gates.
        let gate = unsafe { &*home.gate };
        let leased = gate.spsc.try_enter_leased(home.lessee);
        if !leased && !gate.spsc.try_lock() {
            return None;
        }
        // SAFETY: we entered `home.gate` (lease or lock), and `core` is the
        // collector's (contract), alive while the gate is open.
        let ticket = unsafe { Self::append_tracked_home(gate, &home, core, event) };
        if leased {
            SpscGate::exit_leased(home.lessee);
        } else {
            gate.spsc.exit_locked(Who::Submitter(home.lessee));
        }
        ticket
    }

    /// The tracked fast path's work inside the gate.
    ///
    /// # Safety
    /// As for `append_home`; `core` is the collector's (alive: the gate is open).
    #[inline(always)]
    unsafe fn append_tracked_home(gate: &Gate, home: &Home, core: *const Core, event: &[u8]) -> Option<u64> {
        if event.len() > gate.event_max_bytes {
            return None;
        }
        // SAFETY: the gate is entered and open, so close() has not returned
        // and the collector's `core` (contract) is alive.
        let core = unsafe { &*core };
        let tracker = &core.accounting.tracker;
        // SAFETY: this thread holds partition `home.partition`'s SPSC gate,
        // which excludes every other acquirer of that partition's batch.
        let (slot, ticket) = unsafe { tracker.acquire_in(home.partition) }.ok()?;
        let max_events = gate.max_events.load(Ordering::Relaxed);
        // SAFETY: `home.spsc` is live while the gate is open (see `Home`),
        // and the entered gate makes us its only producer side.
        if unsafe { (*home.spsc).push_tagged(event, Some(slot), max_events, || core.clock.exact_us()) }.is_err() {
            tracker.unissue(slot);
            return None;
        }
        gate.count_spsc();
        Some(ticket)
    }

    /// The hot path, for SPSC rings: one attempt through this thread's
    /// [`Home`], touching only the thread-local, the gate's line and the
    /// ring. True if the event is in the ring and counted; false, with
    /// nothing done, when there is no home for this collector yet, the gate
    /// is held or closed, the event is large, or it does not fit or would
    /// complete the open frame: [`Gates::submit_slow`] handles all of those.
    ///
    /// # Safety
    /// `gates_id` is the id of a `Gates` the caller holds a reference to.
    #[inline(always)]
    pub(crate) unsafe fn try_submit_home(gates_id: u64, event: &[u8]) -> bool {
        let home = HOME.get();
        if home.gates_id != gates_id || home.spsc.is_null() {
            return false;
        }
        // SAFETY: a matching id means `home.gate` points into the caller's
        // live Gates (see `Home`).
        let gate = unsafe { &*home.gate };
        // Through this thread's lease if it holds one, else one CAS. Entry
        // and exit are spelled out per kind rather than held in a guard: the
        // code between them cannot panic, and a guard's drop glue kept the
        // compiler from inlining the exit.
        if gate.spsc.try_enter_leased(home.lessee) {
            // SAFETY: `gate` is `home.gate`, entered through the lease.
            let taken = unsafe { Self::append_home(gate, &home, event) };
            SpscGate::exit_leased(home.lessee);
            taken
        } else if gate.spsc.try_lock() {
            // SAFETY: `gate` is `home.gate`, entered by the lock.
            let taken = unsafe { Self::append_home(gate, &home, event) };
            gate.spsc.exit_locked(Who::Submitter(home.lessee));
            taken
        } else {
            false
        }
    }

    /// The fast path's work inside the gate: checks, copy, count.
    ///
    /// # Safety
    /// `gate` is `home.gate`, entered (so not closed, so the collector and
    /// its rings are alive, see `Home`), which makes this thread the ring's
    /// only producer side.
    #[inline(always)]
    unsafe fn append_home(gate: &Gate, home: &Home, event: &[u8]) -> bool {
        if event.len() > gate.event_max_bytes
            // SAFETY: the entered, open gate keeps the ring alive and makes
            // this thread its only producer side (contract).
            || !unsafe { (*home.spsc).try_append(event, gate.max_events.load(Ordering::Relaxed)) }
        {
            return false;
        }
        gate.count_spsc();
        true
    }

    /// One untracked MPSC attempt: true if the event is in the ring and counted.
    ///
    /// # Safety
    /// As for `submit`.
    #[inline(always)]
    unsafe fn try_submit_mpsc(&self, core: *const Core, event: &[u8]) -> bool {
        let home = self.home();
        let p = home.partition;
        let Some(_inside) = Entered::new(self, &home) else { return false };
        // SAFETY: as in submit_slow: the gate is held and open.
        let core = unsafe { &*core };
        // SAFETY: we are inside partition `p`'s gate, and `p` (from
        // `home()`) is below the partition count.
        if event.len() > core.event_max_bytes || unsafe { core.push(p, event, None) }.is_err() {
            return false;
        }
        self.count_submitted(p);
        true
    }

    /// Counts an event accepted into partition `p`'s ring; called with its
    /// gate held.
    #[inline(always)]
    fn count_submitted(&self, p: usize) {
        // Counted once the event is in the ring, so a concurrent flush()
        // never waits for an event that a full ring refused. A status read
        // may see it delivered a moment before it is counted here; pending
        // saturates at 0 meanwhile.
        let gate = self.gate(p);
        match self.kind {
            RingKind::Spsc => gate.count_spsc(),
            RingKind::Mpsc => {
                gate.submitted.fetch_add(1, Ordering::Release);
            }
        }
    }

    /// Every submit the fast paths did not take: the first from a thread,
    /// tracked events, large events, full rings (with `submit.block.ms`
    /// retries), frames to seal or open, held and closed gates.
    ///
    /// # Safety
    /// As for `submit`.
    #[cold]
    #[inline(never)]
    unsafe fn submit_slow(&self, core: *const Core, event: &[u8], tracked: bool) -> Result<u64> {
        let home = self.home();
        let p = home.partition;
        let mut deadline: Option<Instant> = None;
        let mut full_rounds = 0u32;
        loop {
            let Some(inside) = Entered::new(self, &home) else {
                return Err(Error::closed());
            };
            // SAFETY: the gate is held and the collector is open, so close()
            // has not finished and `core` is alive until `inside` drops.
            let core = unsafe { &*core };
            if event.len() > core.event_max_bytes {
                core.accounting.count_rejected();
                return Err(too_large(event.len(), core.event_max_bytes));
            }
            let (tag, ticket) = if tracked {
                let tracker = &core.accounting.tracker;
                let acquired = match self.kind {
                    // SAFETY: an SPSC gate is exclusive and `inside` holds it.
                    RingKind::Spsc => unsafe { tracker.acquire_in(p) },
                    RingKind::Mpsc => tracker.acquire(),
                };
                match acquired {
                    Ok((slot, ticket)) => (Some(slot), ticket),
                    Err(e) => {
                        core.accounting.count_rejected();
                        return Err(e);
                    }
                }
            } else {
                (None, 0)
            };
            // SAFETY: `inside` holds partition `p`'s gate; `p` (from
            // `home()`) is below the partition count.
            if unsafe { core.push(p, event, tag) }.is_ok() {
                self.count_submitted(p);
                // SAFETY: `p` is below the partition count, as above.
                if let Ring::Spsc(ring) = unsafe { core.rings.get_unchecked(p) } {
                    // Inside the open gate: the ring is alive, so the fast
                    // path may use it from now on.
                    HOME.set(Home { spsc: ring, ..home });
                }
                return Ok(ticket);
            }
            if let Some(slot) = tag {
                core.accounting.tracker.unissue(slot);
            }
            core.wake_napping_flushers();
            let now = Instant::now();
            let deadline = *deadline.get_or_insert(now + core.submit_block);
            if now >= deadline {
                core.accounting.count_rejected();
                let cap = core.rings[p].capacity();
                return Err(Error::new(
                    Code::MB_ERR_FULL,
                    format!("ring {p} ({cap} bytes) is full; raise ring.capacity.bytes or submit.block.ms"),
                ));
            }
            // Wait outside the gate so close() and other producers proceed.
            drop(inside);
            full_rounds += 1;
            if full_rounds <= FULL_YIELDS {
                // First hand the core to whoever is ready to run: on a busy
                // machine that is often the flush thread that frees the
                // room, and a yield costs microseconds where a sleep costs
                // a timer's slack.
                std::thread::yield_now();
            } else {
                std::thread::sleep(Duration::from_micros(50));
            }
        }
    }
}

/// A held gate; leaving it (also by unwinding) releases it, so a panic
/// inside can never leave close() waiting forever.
struct Entered<'a> {
    gates: &'a Gates,
    partition: usize,
    held: Option<Held>,
}

impl<'a> Entered<'a> {
    #[inline(always)]
    fn new(gates: &'a Gates, home: &Home) -> Option<Entered<'a>> {
        let held = gates.enter(home.partition, home).ok()?;
        Some(Entered { gates, partition: home.partition, held })
    }
}

impl Drop for Entered<'_> {
    #[inline(always)]
    fn drop(&mut self) {
        self.gates.exit(self.partition, self.held);
    }
}

