//! The collector: partitioned rings in front, flush threads behind, and the
//! flush rule between them.
//!
//! ```text
//! SPSC (default):
//! submit ──► gate[p] ──► ring[p]: event appended to the open frame in place;
//!                        sealed at N events or batch.max.bytes
//!                          │
//!            flush thread (p % flush.threads): seals the open frame (under
//!            gate[p]) once its oldest event waited T, hands sealed frames
//!                          ▼  to the sink where they lie
//!                        sink ──► Completion ──► Accounting
//!
//! MPSC:
//! submit ──► gate[p] ──► ring[p] ──► flush thread: frame += event (a copy);
//!                                    flush when count >= N or oldest waited >= T
//! ```
//!
//! A thread always submits to the same partition (its "home"), so events from
//! one thread stay in order. Each partition has a `Gate`: with SPSC rings
//! it holds a one-word lock ([`gate::SpscGate`]) that lets threads sharing a
//! partition take turns, that a flush thread takes to seal a frame, that a
//! thread with the partition to itself holds as a lease, and that closing
//! shuts for good; with MPSC rings it counts producers inside. Either way the
//! gate is what makes closing safe against concurrent submits (see
//! [`Gates::close`]).
//!
//! The SPSC submit fast path (`Gates::try_submit_home`) reaches its gate
//! and ring through a thread-local `Home` recorded by an earlier submit,
//! instead of walking from the collector: the lease check (or one
//! compare-and-swap), a few checks on the gate's cache line, the copy into
//! the open frame, a count, the exit. Everything else (first submit of a
//! thread, tracked and large events, frames to open or seal, full rings,
//! held or closed gates, MPSC) is out of line.

pub mod gate;

use crate::config::{Config, SinkChoice};
use crate::error::{Code, Error, Result};
use crate::frame::{encoded_len, FrameEncoder};
use crate::pressure::{BatchParams, PressureLevel, RateMeter};
use crate::ring::{Full, Ring, RingKind, SealedFrame, SpscRing};
#[cfg(feature = "kafka")]
use crate::sink::kafka::{KafkaSettings, KafkaSink};
use crate::sink::{CallbackSink, Completion, NullSink, Sink};
use crate::tracking::{Accounting, AckEvent, Tracker};
use gate::{Entry, Held, Lessee, SpscGate, Who};
use crossbeam_utils::{Backoff, CachePadded};
use std::cell::Cell;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// A snapshot of the collector's counters and current flush parameters.
/// At any quiescent point `submitted == delivered + failed + pending`.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Status {
    /// Events accepted by submit.
    pub submitted: u64,
    /// Submits refused with an error (full, too large).
    pub rejected: u64,
    /// Events the sink reported delivered.
    pub delivered: u64,
    /// Events the sink reported failed.
    pub failed: u64,
    /// Events accepted but not yet delivered or failed.
    pub pending: u64,
    /// Frames handed to the sink.
    pub flushed_batches: u64,
    /// Current pressure level, 1..=10.
    pub level: u32,
    /// Current N: a frame is flushed once it holds this many events.
    pub batch_events: u64,
    /// Current T in microseconds: a frame is flushed once its oldest event has waited this long.
    pub interval_us: u64,
    /// Event rate measured over the last complete pressure window.
    pub rate_per_sec: f64,
    /// Client-level sink errors so far (e.g. Kafka brokers unreachable);
    /// mb_collector_flush's error message carries the last one.
    pub sink_errors: u64,
    /// Tracking slots in use: tracked events awaiting acknowledgement, and
    /// (with `tracking.queue`) outcomes not yet drained.
    pub tracking_in_use: u64,
    /// The most tracking slots ever in use at once (of `tracking.slots`).
    pub tracking_high_water: u64,
}

/// What a submit touches of one partition besides its ring, on one cache
/// line that the submitting core owns in the steady state.
struct Gate {
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
        self.submitted.store(self.submitted.load(Ordering::Relaxed) + 1, Ordering::Release);
    }
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
        lessee: Lessee { token: 0, busy: std::ptr::null() },
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
    fn new(kind: RingKind, partitions: usize, event_max_bytes: usize, leases: bool) -> Gates {
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
        let lessee = Lessee { token: gate::token(no), busy };
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
    fn with_gate_held<R>(&self, p: usize, f: impl FnOnce() -> R) -> R {
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

    fn submitted(&self) -> u64 {
        // A snapshot: each counter is exact, their sum is as of some moment
        // during the loop. Acquire pairs with the Release in submit.
        self.gates.iter().map(|g| g.submitted.load(Ordering::Acquire)).sum()
    }

    /// Sets the N that SPSC submits seal frames at.
    fn set_max_events(&self, n: u64) {
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
        if Self::try_submit_home(gates_id, event) {
            return Ok(());
        }
        self.submit_missed(core, event)
    }

    /// An untracked submit the home fast path did not take. Out of line, so
    /// the fast path compiles to a leaf with one jump out.
    ///
    /// # Safety
    /// As for `submit`.
    #[inline(never)]
    pub(crate) unsafe fn submit_missed(&self, core: *const Core, event: &[u8]) -> Result<()> {
        if self.kind == RingKind::Mpsc && self.try_submit_mpsc(core, event) {
            return Ok(());
        }
        self.submit_slow(core, event, false).map(|_| ())
    }

    /// Submits an event whose delivery the caller will wait for; returns its
    /// ticket.
    ///
    /// # Safety
    /// As for `submit`.
    pub(crate) unsafe fn submit_tracked(&self, core: *const Core, event: &[u8]) -> Result<u64> {
        if let Some(ticket) = self.try_submit_tracked_home(core, event) {
            return Ok(ticket);
        }
        self.submit_slow(core, event, true)
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
        let gate = &*home.gate;
        let leased = gate.spsc.try_enter_leased(home.lessee);
        if !leased && !gate.spsc.try_lock() {
            return None;
        }
        let ticket = Self::append_tracked_home(gate, &home, core, event);
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
        let core = &*core;
        let tracker = &core.accounting.tracker;
        // SAFETY: this thread holds partition `home.partition`'s SPSC gate.
        let (slot, ticket) = tracker.acquire_in(home.partition).ok()?;
        let max_events = gate.max_events.load(Ordering::Relaxed);
        if (*home.spsc).push_tagged(event, Some(slot), max_events, || core.clock.exact_us()).is_err() {
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
        let gate = &*home.gate;
        // Through this thread's lease if it holds one, else one CAS. Entry
        // and exit are spelled out per kind rather than held in a guard: the
        // code between them cannot panic, and a guard's drop glue kept the
        // compiler from inlining the exit.
        if gate.spsc.try_enter_leased(home.lessee) {
            let taken = Self::append_home(gate, &home, event);
            SpscGate::exit_leased(home.lessee);
            taken
        } else if gate.spsc.try_lock() {
            let taken = Self::append_home(gate, &home, event);
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
            || !(*home.spsc).try_append(event, gate.max_events.load(Ordering::Relaxed))
        {
            return false;
        }
        gate.count_spsc();
        true
    }

    /// One untracked MPSC attempt: true if the event is in the ring and counted.
    #[inline(always)]
    unsafe fn try_submit_mpsc(&self, core: *const Core, event: &[u8]) -> bool {
        let home = self.home();
        let p = home.partition;
        let Some(_inside) = Entered::new(self, &home) else { return false };
        // SAFETY: as in submit_slow: the gate is held and open.
        let core = &*core;
        if event.len() > core.event_max_bytes || core.push(p, event, None).is_err() {
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
    #[cold]
    #[inline(never)]
    unsafe fn submit_slow(&self, core: *const Core, event: &[u8], tracked: bool) -> Result<u64> {
        let home = self.home();
        let p = home.partition;
        let mut deadline: Option<Instant> = None;
        loop {
            let Some(inside) = Entered::new(self, &home) else {
                return Err(Error::closed());
            };
            // SAFETY: the gate is held and the collector is open, so close()
            // has not finished and `core` is alive until `inside` drops.
            let core = &*core;
            if event.len() > core.event_max_bytes {
                core.accounting.count_rejected();
                return Err(Error::new(
                    Code::MB_ERR_TOO_LARGE,
                    format!("event of {} bytes exceeds event.max.bytes = {}", event.len(), core.event_max_bytes),
                ));
            }
            let (tag, ticket) = if tracked {
                let tracker = &core.accounting.tracker;
                // SAFETY: an SPSC gate is exclusive and `inside` holds it.
                let acquired = match self.kind {
                    RingKind::Spsc => tracker.acquire_in(p),
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
            if core.push(p, event, tag).is_ok() {
                self.count_submitted(p);
                if let Ring::Spsc(ring) = core.rings.get_unchecked(p) {
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
            std::thread::sleep(Duration::from_micros(50));
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

/// A coarse microsecond clock. Flush threads advance it; producers read it
/// with one relaxed load instead of a clock call per event (MPSC records).
/// It can only lag, so an event's stamp is never later than its real
/// enqueue: a lagging stamp flushes earlier, never later, and the latency
/// budget still holds. SPSC frames are stamped once per frame with
/// [`Clock::exact_us`], on the same scale.
struct Clock {
    start: Instant,
    now_us: CachePadded<AtomicU32>,
}

impl Clock {
    #[inline(always)]
    fn now_us(&self) -> u32 {
        self.now_us.load(Ordering::Relaxed)
    }

    /// The real time on the same scale: a clock call, for stamps taken once
    /// per frame.
    fn exact_us(&self) -> u32 {
        self.start.elapsed().as_micros() as u32
    }

    /// Advances the clock to the real time and returns it. fetch_max keeps it
    /// monotonic when several flush threads tick.
    fn tick(&self) -> u32 {
        let real = self.start.elapsed().as_micros() as u32;
        let prev = self.now_us.fetch_max(real, Ordering::Relaxed);
        prev.max(real)
    }
}

/// Everything the flush threads share with submitters.
pub(crate) struct Core {
    rings: Box<[Ring]>,
    gates: Arc<Gates>,
    clock: Clock,
    accounting: Arc<Accounting>,
    sink: Arc<dyn Sink>,
    event_max_bytes: usize,
    batch_max_bytes: usize,
    submit_block: Duration,
    /// Per-level (N, T); the flush rule uses the entry of the current level.
    table: [BatchParams; 10],
    level: AtomicU32,
    max_events: AtomicU64,
    max_wait_us: AtomicU64,
    rate_bits: AtomicU64,
    /// Bumped by flush(): flush threads then send partial frames at once.
    flush_epoch: AtomicU64,
    stop: AtomicBool,
    // The fields below are written by flush threads on every pass or nap;
    // padded away from the read-mostly fields above, which submit reads.
    /// Events taken from rings by all flush threads, for the rate meter.
    taken: CachePadded<AtomicU64>,
    wake_lock: CachePadded<Mutex<()>>,
    wake: Condvar,
    /// Flush threads inside their nap (between taking `wake_lock` to wait
    /// and waking up).
    napping: CachePadded<AtomicUsize>,
}

impl Core {
    /// Appends `event` to partition `p`'s ring.
    ///
    /// # Safety
    /// The caller holds partition `p`'s gate (`p` < partitions).
    #[inline(always)]
    unsafe fn push(&self, p: usize, event: &[u8], tag: Option<u32>) -> std::result::Result<(), Full> {
        match self.rings.get_unchecked(p) {
            // Stamped once per frame, so the exact time is affordable, and
            // T is then measured from the real enqueue of the frame's first event.
            Ring::Spsc(r) => r.push_tagged(event, tag, self.max_events.load(Ordering::Relaxed), || self.clock.exact_us()),
            // Stamped per record: the coarse clock's one relaxed load.
            Ring::Mpsc(r) => r.push_tagged(event, self.clock.now_us(), tag),
        }
    }

    fn wake_flushers(&self) {
        let _g = self.wake_lock.lock().unwrap_or_else(|e| e.into_inner());
        self.wake.notify_all();
    }

    /// A hint from a producer that met a full ring: cuts a flush thread's nap
    /// short, and costs one load when none is napping (producers retrying a
    /// full ring would otherwise queue on `wake_lock` with the flush threads).
    /// A hint missed in a race costs at most the rest of one nap.
    fn wake_napping_flushers(&self) {
        if self.napping.load(Ordering::Relaxed) > 0 {
            self.wake_flushers();
        }
    }

    fn set_level(&self, level: PressureLevel) {
        let params = self.table[level.number() as usize - 1];
        self.max_events.store(params.max_events, Ordering::Relaxed);
        self.gates.set_max_events(params.max_events);
        self.max_wait_us.store(params.max_wait.as_micros() as u64, Ordering::Relaxed);
        self.level.store(level.number(), Ordering::Relaxed);
    }

    fn status(&self) -> Status {
        // Completions first, submitted second: pending can then only be
        // overstated, except for an event counted a moment after its push
        // (see submit), which the saturating subtraction absorbs. At a
        // quiescent point all three are exact.
        let delivered = self.accounting.delivered();
        let failed = self.accounting.failed();
        let submitted = self.gates.submitted();
        Status {
            submitted,
            rejected: self.accounting.rejected(),
            delivered,
            failed,
            pending: submitted.saturating_sub(delivered + failed),
            flushed_batches: self.accounting.flushed_batches(),
            level: self.level.load(Ordering::Relaxed),
            batch_events: self.max_events.load(Ordering::Relaxed),
            interval_us: self.max_wait_us.load(Ordering::Relaxed),
            rate_per_sec: f64::from_bits(self.rate_bits.load(Ordering::Relaxed)),
            sink_errors: self.sink.errors().0,
            tracking_in_use: self.accounting.tracker.in_use(),
            tracking_high_water: self.accounting.tracker.high_water(),
        }
    }
}

/// The adaptive microbatch collector.
pub struct Collector {
    /// `Gates::id` of `core.gates`, for the submit fast path.
    gates_id: u64,
    core: Arc<Core>,
    threads: Mutex<Vec<JoinHandle<()>>>,
    close_timeout: Duration,
}

impl Collector {
    /// Validates `config`, allocates every ring up front and starts the
    /// flush threads.
    pub fn new(config: &Config) -> Result<Collector> {
        config.validate()?;
        let ceiling = config.ceiling()?;
        let sink: Arc<dyn Sink> = match &config.sink {
            SinkChoice::Null => Arc::new(NullSink::default()),
            SinkChoice::Callback(cb) => Arc::new(CallbackSink::new(*cb)),
            SinkChoice::Custom(sink) => sink.clone(),
            #[cfg(feature = "kafka")]
            SinkChoice::Kafka => {
                Arc::new(KafkaSink::new(KafkaSettings::from_keys(&config.kafka)?, config.batch_max_bytes)?)
            }
            #[cfg(not(feature = "kafka"))]
            SinkChoice::Kafka => {
                return Err(Error::invalid_config(
                    "`sink=kafka` (the default) needs the library built with its `kafka` feature; set sink=null or a callback",
                ))
            }
        };
        let partitions = config.partitions;
        let mut table = [BatchParams { max_events: 1, max_wait: Duration::ZERO }; 10];
        for level in PressureLevel::ALL {
            table[level.number() as usize - 1] = level.bootstrap(config.batch_max_events);
        }
        let core = Arc::new(Core {
            rings: (0..partitions)
                .map(|_| Ring::new(config.ring_kind, config.ring_capacity, config.batch_max_bytes))
                .collect(),
            gates: Arc::new(Gates::new(config.ring_kind, partitions, config.event_max_bytes, config.submit_lease)),
            clock: Clock { start: Instant::now(), now_us: CachePadded::new(AtomicU32::new(0)) },
            accounting: Arc::new(Accounting::new(config.tracking_slots, config.partitions, config.tracking_reporting())),
            sink,
            event_max_bytes: config.event_max_bytes,
            batch_max_bytes: config.batch_max_bytes,
            submit_block: config.submit_block,
            table,
            level: AtomicU32::new(0),
            max_events: AtomicU64::new(0),
            max_wait_us: AtomicU64::new(0),
            rate_bits: AtomicU64::new(0f64.to_bits()),
            flush_epoch: AtomicU64::new(0),
            stop: AtomicBool::new(false),
            taken: CachePadded::new(AtomicU64::new(0)),
            wake_lock: CachePadded::new(Mutex::new(())),
            wake: Condvar::new(),
            napping: CachePadded::new(AtomicUsize::new(0)),
        });
        let meter = RateMeter::new(config.pressure_window, ceiling, config.level);
        core.set_level(meter.level());

        let nthreads = config.flush_threads.min(partitions);
        let mut threads = Vec::with_capacity(nthreads);
        let mut meter = Some(meter);
        for index in 0..nthreads {
            let thread_core = core.clone();
            let meter = if index == 0 { meter.take() } else { None };
            let spawned = std::thread::Builder::new()
                .name(format!("mb-flush-{index}"))
                .spawn(move || FlushThread::new(thread_core, index, nthreads, meter).run());
            match spawned {
                Ok(handle) => threads.push(handle),
                Err(e) => {
                    core.stop.store(true, Ordering::Release);
                    core.wake_flushers();
                    threads.into_iter().for_each(|t: JoinHandle<()>| drop(t.join()));
                    return Err(Error::new(Code::MB_ERR_INTERNAL, format!("cannot start a flush thread: {e}")));
                }
            }
        }
        Ok(Collector { gates_id: core.gates.id(), core, threads: Mutex::new(threads), close_timeout: config.close_timeout })
    }

    /// Copies `event` into this thread's ring. Never allocates.
    #[inline]
    pub fn submit(&self, event: &[u8]) -> Result<()> {
        // SAFETY: `self.core` lives as long as `self`, and close() runs in drop.
        unsafe { self.core.gates.submit(self.gates_id, Arc::as_ptr(&self.core), event) }
    }

    /// Submits an event and returns a ticket to wait for its delivery with
    /// [`Collector::wait`].
    pub fn submit_tracked(&self, event: &[u8]) -> Result<u64> {
        // SAFETY: as in `submit`.
        unsafe { self.core.gates.submit_tracked(Arc::as_ptr(&self.core), event) }
    }

    /// Waits until the event of `ticket` is acknowledged by the sink and
    /// returns where it landed. MB_ERR_DELIVERY if its delivery failed,
    /// MB_ERR_TIMEOUT if the outcome is not known in time (the ticket stays
    /// valid), MB_ERR_UNKNOWN_TICKET if it was never issued or has expired.
    /// Asking does not consume the answer: any number of threads may wait
    /// for one ticket, and a ticket reported through the completion queue
    /// or the ack callback can still be waited for until its slot is reused.
    pub fn wait(&self, ticket: u64, timeout: Duration) -> Result<crate::tracking::Ack> {
        self.core.accounting.tracker.wait(ticket, timeout)
    }

    /// Drains up to `out.len()` outcomes of tracked events from the
    /// completion queue (`tracking.queue=true`), waiting up to `timeout` for
    /// the first; see [`Tracker::poll_acks`].
    pub fn poll_acks(&self, out: &mut [AckEvent], timeout: Duration) -> Result<usize> {
        self.core.accounting.tracker.poll_acks(out, timeout)
    }

    /// The tracking slots, for callers that wait or drain outside the
    /// collector's lifetime (handles: a wait in progress when the collector
    /// is freed still gets its true outcome).
    pub(crate) fn tracker(&self) -> &Arc<Tracker> {
        &self.core.accounting.tracker
    }

    /// Sends everything submitted before this call and waits until the sink
    /// has reported all of it (delivered or failed).
    pub fn flush(&self, timeout: Duration) -> Result<()> {
        if self.core.gates.is_closed() {
            return Err(Error::closed());
        }
        let deadline = Instant::now() + timeout;
        let target = self.core.gates.submitted();
        self.core.flush_epoch.fetch_add(1, Ordering::Release);
        self.core.wake_flushers();
        let accounting = &self.core.accounting;
        let gates = &self.core.gates;
        let done = accounting.wait_until(deadline, || accounting.completed() >= target || gates.is_closed());
        if gates.is_closed() && accounting.completed() < target {
            return Err(Error::closed());
        }
        if !done {
            let pending = target.saturating_sub(accounting.completed());
            let cause = match self.core.sink.errors() {
                (_, Some(last)) => format!("; last {} sink error: {last}", self.core.sink.name()),
                _ => String::new(),
            };
            return Err(Error::new(
                Code::MB_ERR_TIMEOUT,
                format!(
                    "flush timed out after {} ms with {pending} events not yet reported by the sink{cause}",
                    timeout.as_millis()
                ),
            ));
        }
        Ok(())
    }

    pub fn status(&self) -> Status {
        self.core.status()
    }

    /// The gates, for handles that must outlive the collector.
    pub(crate) fn gates(&self) -> &Arc<Gates> {
        &self.core.gates
    }

    pub(crate) fn core_ptr(&self) -> *const Core {
        Arc::as_ptr(&self.core)
    }

    /// The last delivery error the sink reported.
    pub fn last_delivery_error(&self) -> Option<Error> {
        self.core.accounting.last_error()
    }

    /// Refuses new submits, waits for submits in progress, then flushes
    /// everything pending and stops the flush threads. Waits at most
    /// `close.timeout.ms` for the sink. Idempotent.
    pub fn close(&self) -> Result<()> {
        self.core.gates.close();
        self.core.accounting.wake_all();
        self.core.stop.store(true, Ordering::Release);
        self.core.wake_flushers();
        let threads = std::mem::take(&mut *self.threads.lock().unwrap_or_else(|e| e.into_inner()));
        for t in threads {
            // A flush thread only panics if the sink panicked; the events it
            // held were counted failed by their Completion's Drop.
            let _ = t.join();
        }
        self.core.sink.flush(self.close_timeout)
    }
}

impl Drop for Collector {
    fn drop(&mut self) {
        let _ = self.close();
    }
}

/// Shortest and longest sleep of an idle flush thread.
const IDLE_MIN: Duration = Duration::from_micros(50);
const IDLE_MAX: Duration = Duration::from_millis(1);
/// Records drained per MPSC ring before moving to the next (fairness).
const DRAIN_CHUNK: usize = 4096;
/// Sealed frames taken per SPSC ring per pass (fairness).
const MAX_FRAMES_PER_PASS: usize = 16;

struct FlushThread {
    core: Arc<Core>,
    index: u32,
    /// (index in frame, tracking slot) of tracked events in `frame`.
    tracked: Vec<(u32, u32)>,
    partitions: Vec<usize>,
    frame: FrameEncoder,
    /// Stamp of the oldest event in `frame`.
    oldest: u32,
    meter: Option<RateMeter>,
    meter_seen: u64,
}

impl FlushThread {
    fn new(core: Arc<Core>, index: usize, nthreads: usize, meter: Option<RateMeter>) -> Self {
        let partitions = (index..core.rings.len()).step_by(nthreads).collect();
        // Only MPSC partitions build frames here; SPSC rings build their own.
        let builds_frames = core.rings.iter().any(|r| matches!(r, Ring::Mpsc(_)));
        let frame = FrameEncoder::with_capacity(if builds_frames { core.batch_max_bytes } else { 0 });
        FlushThread { core, index: index as u32, tracked: Vec::new(), partitions, frame, oldest: 0, meter, meter_seen: 0 }
    }

    fn send_frame(&mut self) {
        if self.frame.is_empty() {
            return;
        }
        let events = self.frame.count();
        let tracked = if self.tracked.is_empty() { Vec::new() } else { std::mem::take(&mut self.tracked) };
        let completion = Completion::new(self.core.accounting.clone(), events, self.index, tracked);
        self.core.accounting.count_batch();
        self.core.sink.send(self.frame.finish(), events, completion);
        self.frame.clear();
    }

    /// One pass over SPSC partition `p`: seals its open frame when it is due
    /// (forced, or its oldest event has waited `max_wait_us`), then hands the
    /// sealed frames to the sink where they lie. Returns the events and event
    /// bytes taken, and how soon the frame left open falls due.
    fn take_frames(&mut self, p: usize, ring: &SpscRing, forced: bool, now: u32, max_wait_us: u64) -> (u64, usize, u64) {
        let waited = |now| ring.open_waited(now).map(|w| w as u64);
        // A forced pass seals without trusting the hint: under the gate the
        // open frame is exact, and flush() must see everything counted.
        if forced || waited(now).is_some_and(|w| w >= max_wait_us) {
            // SAFETY: the gate excludes submitters, so this thread is the
            // ring's only producer side while it seals.
            self.core.gates.with_gate_held(p, || unsafe { ring.seal() });
        }
        let (mut events, mut bytes) = (0u64, 0usize);
        // SAFETY: partition p is drained by this thread only.
        unsafe {
            ring.drain_frames(MAX_FRAMES_PER_PASS, |sealed| {
                events += sealed.events as u64;
                bytes += sealed.frame.len();
                self.send_sealed(sealed);
            })
        };
        let due_in = waited(now).map_or(u64::MAX, |w| max_wait_us.saturating_sub(w));
        (events, bytes, due_in)
    }

    /// Hands a frame sealed in an SPSC ring to the sink without copying it.
    fn send_sealed(&self, sealed: SealedFrame<'_>) {
        let tracker = &self.core.accounting.tracker;
        let tracked = if sealed.tag_count() == 0 {
            Vec::new()
        } else {
            sealed.tags().inspect(|&(index, slot)| tracker.set_index(slot, index)).collect()
        };
        let completion = Completion::new(self.core.accounting.clone(), sealed.events, self.index, tracked);
        self.core.accounting.count_batch();
        self.core.sink.send(sealed.frame, sealed.events, completion);
    }

    fn run(mut self) {
        // The epoch the collector was created with (`flush_epoch` starts at
        // 0), not the one this thread finds when it first runs: a flush()
        // made before the thread got scheduled (a caller may create, submit
        // and flush at once) is still due.
        let mut seen_epoch = 0;
        let mut idle = IDLE_MIN;
        // Start of the previous pass: an MPSC record this pass sees for the
        // first time was published after that pass read the ring, so it
        // cannot be older. Tightens the coarse stamp when the clock lagged.
        let mut prev_pass = self.core.clock.tick();
        loop {
            // Read before draining: whatever was submitted before a stop or
            // flush request is in the rings by now and gets drained below.
            let stopping = self.core.stop.load(Ordering::Acquire);
            let epoch = self.core.flush_epoch.load(Ordering::Acquire);
            let forced = stopping || epoch != seen_epoch;
            let now = self.core.clock.tick();
            let max_events = self.core.max_events.load(Ordering::Relaxed);
            let max_wait_us = self.core.max_wait_us.load(Ordering::Relaxed);
            let mut taken = 0u64;
            let mut taken_bytes = 0usize;
            // Earliest moment (in microseconds from now) an open SPSC frame
            // falls due, so the nap below does not oversleep it.
            let mut open_due_in = u64::MAX;

            let core = self.core.clone();
            for i in 0..self.partitions.len() {
                let p = self.partitions[i];
                let ring = match &core.rings[p] {
                    Ring::Spsc(ring) => {
                        let (n, bytes, due_in) = self.take_frames(p, ring, forced, now, max_wait_us);
                        taken += n;
                        taken_bytes += bytes;
                        open_due_in = open_due_in.min(due_in);
                        continue;
                    }
                    Ring::Mpsc(ring) => ring,
                };
                loop {
                    let mut frame_full = false;
                    let batch_max_bytes = self.core.batch_max_bytes;
                    let (frame, oldest, tracked) = (&mut self.frame, &mut self.oldest, &mut self.tracked);
                    let tracker = &core.accounting.tracker;
                    // SAFETY: partition p is drained by this thread only.
                    let n = unsafe {
                        ring.drain_tagged(DRAIN_CHUNK, |stamp, tag, event| {
                            if frame.count() as u64 >= max_events
                                || frame.len() + encoded_len(event.len()) > batch_max_bytes
                            {
                                frame_full = true;
                                return false;
                            }
                            if frame.is_empty() {
                                // The later of the two lower bounds (wrapping).
                                *oldest = if prev_pass.wrapping_sub(stamp) < 1 << 31 { prev_pass } else { stamp };
                            }
                            taken_bytes += event.len();
                            if let Some(slot) = tag {
                                tracker.set_index(slot, frame.count());
                                tracked.push((frame.count(), slot));
                            }
                            frame.push(event);
                            true
                        })
                    };
                    taken += n as u64;
                    if frame_full || self.frame.count() as u64 >= max_events {
                        self.send_frame();
                        continue;
                    }
                    if n < DRAIN_CHUNK {
                        break;
                    }
                }
            }

            prev_pass = now;
            let waited = self.core.clock.tick().wrapping_sub(self.oldest) as u64;
            if !self.frame.is_empty() && (forced || waited >= max_wait_us) {
                self.send_frame();
            }
            if forced && taken == 0 {
                seen_epoch = epoch;
                if stopping {
                    return;
                }
            }
            self.observe_rate(taken);

            // Sleep unless the rings are busy; never past the frame's deadline.
            let busy = taken_bytes >= self.core.rings[0].capacity() / 8;
            if busy || (forced && taken > 0) {
                idle = IDLE_MIN;
                continue;
            }
            let mut nap = if taken > 0 { IDLE_MIN } else { idle };
            idle = if taken > 0 { IDLE_MIN } else { (idle * 2).min(IDLE_MAX) };
            if !self.frame.is_empty() {
                let left = max_wait_us.saturating_sub(now.wrapping_sub(self.oldest) as u64);
                nap = nap.min(Duration::from_micros(left));
            }
            nap = nap.min(Duration::from_micros(open_due_in));
            let guard = self.core.wake_lock.lock().unwrap_or_else(|e| e.into_inner());
            if self.core.stop.load(Ordering::Acquire) || self.core.flush_epoch.load(Ordering::Acquire) != seen_epoch {
                continue;
            }
            // Relaxed: only a hint for wake_napping_flushers; flush() and
            // close() wake unconditionally under `wake_lock`.
            self.core.napping.fetch_add(1, Ordering::Relaxed);
            drop(self.core.wake.wait_timeout(guard, nap));
            self.core.napping.fetch_sub(1, Ordering::Relaxed);
        }
    }

    /// Feeds the rate meter (flush thread 0 only) and applies a new level.
    fn observe_rate(&mut self, taken: u64) {
        if taken > 0 {
            self.core.taken.fetch_add(taken, Ordering::Relaxed);
        }
        let Some(meter) = self.meter.as_mut() else { return };
        let total = self.core.taken.load(Ordering::Relaxed);
        let delta = total - self.meter_seen;
        self.meter_seen = total;
        if let Some(level) = meter.record(delta, Instant::now()) {
            self.core.rate_bits.store(meter.last_rate().to_bits(), Ordering::Relaxed);
            self.core.set_level(level);
        }
    }
}
