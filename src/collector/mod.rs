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
//!
//! Files, one job each: `submit.rs` (gates, homes, the submit paths),
//! `gate.rs` (the SPSC gate word: lock, lease, close), `flush.rs` (flush
//! threads and the flush rule), `window.rs` (pressure windows: the rate
//! meter's input, what each window did, the report to calibration), and
//! this file (the shared core, the collector's API, status).

mod flush;
pub mod gate;
mod levels;
mod submit;
mod window;

use crate::config::{Config, SinkChoice};
use crate::error::{Code, Error, Result};
use crate::calibration::Calibration;
use crate::pressure::{PressureLevel, RateMeter};
use crate::ring::{Full, Ring};
#[cfg(feature = "kafka")]
use crate::sink::kafka::{KafkaSettings, KafkaSink};
use crate::sink::{CallbackSink, NullSink, Sink};
use crate::tracking::{Accounting, AckEvent, Tracker};
use crossbeam_utils::CachePadded;
use flush::FlushThread;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

pub use submit::Gates;
pub(crate) use window::SendWatch;
use levels::{unpack, LevelTable};
use window::{SharedTally, Window, WindowStatus};

/// How long close waits, past `close.timeout.ms`, for the sink to report
/// the frames it gave up on (the Kafka sink's purge reports arrive at once;
/// this bounds a sink that is slow to report).
pub const CLOSE_MARGIN: Duration = Duration::from_millis(500);

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
    /// Events submitted per second over the last complete pressure window.
    pub rate_per_sec: f64,
    /// Client-level sink errors so far (e.g. Kafka brokers unreachable);
    /// mb_collector_flush's error message carries the last one.
    pub sink_errors: u64,
    /// Tracking slots in use: tracked events awaiting acknowledgement, and
    /// (with `tracking.queue`) outcomes not yet drained.
    pub tracking_in_use: u64,
    /// The most tracking slots ever in use at once (of `tracking.slots`).
    pub tracking_high_water: u64,
    /// Wait from enqueue to the sink's acknowledgement over the last
    /// complete pressure window, microseconds: median. Each frame's oldest
    /// event stands for the whole frame, so these are upper bounds.
    pub latency_p50_us: u64,
    /// ... 99th percentile; the level's budget bounds it.
    pub latency_p99_us: u64,
    /// ... 99.9th percentile.
    pub latency_p999_us: u64,
    /// ... maximum.
    pub latency_max_us: u64,
    /// Windows whose score fell more than 10% under their config's average.
    pub regressions: u64,
    /// Calibration store faults (open, read, write); delivery never depends on it.
    pub calibration_errors: u64,
    /// Windows calibration has learned from.
    pub calibration_windows: u64,
    /// 1: a frame also goes at once when its flush thread has no send
    /// outstanding (flush-when-idle), in the current config.
    pub idle_flush: u32,
    /// 1: the calibration store is open and writable (0 when calibration is
    /// off or its store failed).
    pub calibration_persistent: u32,
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
    /// Per-level (N, T, flush-when-idle), which calibration changes.
    table: Arc<LevelTable>,
    level: AtomicU32,
    /// The config in force (the current level's table word, see `apply`),
    /// one word so N, T and flush-when-idle are always read together.
    current: AtomicU64,
    rate_bits: AtomicU64,
    /// Frames in flight and their wait to acknowledgement.
    watch: Arc<SendWatch>,
    /// What the flush threads did in the current window.
    tally: SharedTally,
    window_status: Arc<WindowStatus>,
    /// Bumped by flush(): flush threads then send partial frames at once.
    flush_epoch: AtomicU64,
    stop: AtomicBool,
    // The fields below are written by flush threads on every pass or nap;
    // padded away from the read-mostly fields above, which submit reads.
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
        // SAFETY: `p` < partitions (contract), the length of `rings`.
        match unsafe { self.rings.get_unchecked(p) } {
            // Stamped once per frame, so the exact time is affordable, and
            // T is then measured from the real enqueue of the frame's first event.
            // SAFETY: the caller holds the partition's SPSC gate (contract),
            // which makes it the ring's only producer side.
            Ring::Spsc(r) => unsafe { r.push_tagged(event, tag, self.max_events(), || self.clock.exact_us()) },
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

    /// N of the config in force.
    #[inline(always)]
    fn max_events(&self) -> u64 {
        unpack(self.current.load(Ordering::Relaxed)).batch_events
    }

    fn level(&self) -> PressureLevel {
        PressureLevel::from_number(self.level.load(Ordering::Relaxed)).unwrap_or(PressureLevel::DEFAULT)
    }

    /// Puts `level` and its table entry in force. Only the window owner
    /// (flush thread 0, or `new` before it starts) calls it. A frame open
    /// when N shrinks is sealed by its next event; T applies from the next
    /// pass: frames change shape, events are never lost, repeated or
    /// reordered.
    fn apply(&self, level: PressureLevel) {
        let word = self.table.word(level);
        self.current.store(word, Ordering::Relaxed);
        self.gates.set_max_events(unpack(word).batch_events);
        self.level.store(level.number(), Ordering::Relaxed);
    }

    /// Per partition, the ledger position flush() must see reported: just
    /// past every event accepted so far (see `tracking::ledger` for the
    /// units).
    fn flush_marks(&self) -> Vec<u64> {
        (0..self.rings.len())
            .map(|p| match &self.rings[p] {
                Ring::Spsc(_) => self.gates.submitted_in(p),
                Ring::Mpsc(ring) => ring.claimed_position() as u64,
            })
            .collect()
    }

    fn status(&self) -> Status {
        // Completions first, submitted second: pending can then only be
        // overstated, except for an event counted a moment after its push
        // (see submit), which the saturating subtraction absorbs. At a
        // quiescent point all three are exact.
        let delivered = self.accounting.delivered();
        let failed = self.accounting.failed();
        let submitted = self.gates.submitted();
        let config = unpack(self.current.load(Ordering::Relaxed));
        let w = &self.window_status;
        Status {
            submitted,
            rejected: self.accounting.rejected(),
            delivered,
            failed,
            pending: submitted.saturating_sub(delivered + failed),
            flushed_batches: self.accounting.flushed_batches(),
            level: self.level.load(Ordering::Relaxed),
            batch_events: config.batch_events,
            interval_us: config.interval_us,
            rate_per_sec: f64::from_bits(self.rate_bits.load(Ordering::Relaxed)),
            sink_errors: self.sink.errors().0,
            tracking_in_use: self.accounting.tracker.in_use(),
            tracking_high_water: self.accounting.tracker.high_water(),
            latency_p50_us: w.p50_us.load(Ordering::Relaxed),
            latency_p99_us: w.p99_us.load(Ordering::Relaxed),
            latency_p999_us: w.p999_us.load(Ordering::Relaxed),
            latency_max_us: w.max_us.load(Ordering::Relaxed),
            regressions: w.regressions.load(Ordering::Relaxed),
            calibration_errors: w.calibration_errors.load(Ordering::Relaxed),
            calibration_windows: w.calibration_windows.load(Ordering::Relaxed),
            idle_flush: config.idle_flush as u32,
            calibration_persistent: w.persistent.load(Ordering::Relaxed),
        }
    }
}

/// What a flush waits for: per partition, the ledger position just past
/// every event accepted before it (see `tracking::ledger`).
pub(crate) struct FlushTarget {
    accounting: Arc<Accounting>,
    marks: Vec<u64>,
}

impl FlushTarget {
    /// Waits until every partition is reported up to its mark; false if
    /// `deadline` passed first.
    pub(crate) fn wait(&self, deadline: Instant) -> bool {
        let ledger = &self.accounting.ledger;
        self.accounting.wait_until(deadline, || self.marks.iter().enumerate().all(|(p, &mark)| ledger.position(p) >= mark))
    }
}

/// The adaptive microbatch collector.
pub struct Collector {
    /// `Gates::id` of `core.gates`, for the submit fast path.
    gates_id: u64,
    core: Arc<Core>,
    threads: Mutex<Vec<JoinHandle<()>>>,
    /// The calibration thread, joined after the flush threads (their end
    /// closes its channel).
    calibration_thread: Mutex<Option<JoinHandle<()>>>,
    /// Why the calibration store could not be used at creation, if it could not.
    calibration_open_error: Option<String>,
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
        // Learned configs are loaded now, before any flush thread runs; all
        // later SQLite work happens on the calibration thread.
        let table = Arc::new(LevelTable::new(config.batch_max_events, config.batch_linger));
        let calibration = config.calibration.enabled.then(|| {
            let c = Calibration::open(&config.calibration, config.batch_max_events);
            for level in PressureLevel::ALL {
                table.set(level, c.best_config(level));
            }
            c
        });
        let calibration_open_error = calibration.as_ref().and_then(|c| c.open_error().map(str::to_string));
        let clock_start = Instant::now();
        let nthreads = config.flush_threads.min(partitions);
        let core = Arc::new(Core {
            rings: (0..partitions)
                .map(|_| Ring::new(config.ring_kind, config.ring_capacity, config.batch_max_bytes))
                .collect(),
            gates: Arc::new(Gates::new(config.ring_kind, partitions, config.event_max_bytes, config.submit_lease)),
            clock: Clock { start: clock_start, now_us: CachePadded::new(AtomicU32::new(0)) },
            accounting: Arc::new(Accounting::new(config.tracking_slots, config.partitions, config.tracking_reporting())),
            sink,
            event_max_bytes: config.event_max_bytes,
            batch_max_bytes: config.batch_max_bytes,
            submit_block: config.submit_block,
            table: table.clone(),
            level: AtomicU32::new(0),
            current: AtomicU64::new(0),
            rate_bits: AtomicU64::new(0f64.to_bits()),
            watch: Arc::new(SendWatch::new(clock_start, nthreads)),
            tally: SharedTally::default(),
            window_status: Arc::new(WindowStatus::default()),
            flush_epoch: AtomicU64::new(0),
            stop: AtomicBool::new(false),
            wake_lock: CachePadded::new(Mutex::new(())),
            wake: Condvar::new(),
            napping: CachePadded::new(AtomicUsize::new(0)),
        });
        let meter = RateMeter::new(config.pressure_window, ceiling, config.level);
        core.apply(meter.level());

        let (to_calibration, calibration_thread) = match calibration {
            Some(c) => {
                let (tx, rx) = std::sync::mpsc::channel();
                let handle = window::spawn_calibration(c, table, core.window_status.clone(), rx)
                    .map_err(|e| Error::new(Code::MB_ERR_INTERNAL, format!("cannot start the calibration thread: {e}")))?;
                (Some(tx), Some(handle))
            }
            None => (None, None),
        };
        let mut threads = Vec::with_capacity(nthreads);
        let mut window = Some(Window::new(meter, &core, to_calibration));
        for index in 0..nthreads {
            let thread_core = core.clone();
            let window = if index == 0 { window.take() } else { None };
            let spawned = std::thread::Builder::new()
                .name(format!("mb-flush-{index}"))
                .spawn(move || FlushThread::new(thread_core, index, nthreads, window).run());
            match spawned {
                Ok(handle) => threads.push(handle),
                Err(e) => {
                    core.stop.store(true, Ordering::Release);
                    core.wake_flushers();
                    threads.into_iter().for_each(|t: JoinHandle<()>| drop(t.join()));
                    if let Some(t) = calibration_thread {
                        let _ = t.join();
                    }
                    return Err(Error::new(Code::MB_ERR_INTERNAL, format!("cannot start a flush thread: {e}")));
                }
            }
        }
        Ok(Collector {
            gates_id: core.gates.id(),
            core,
            threads: Mutex::new(threads),
            calibration_thread: Mutex::new(calibration_thread),
            calibration_open_error,
            close_timeout: config.close_timeout,
        })
    }

    /// Copies `event` into this thread's ring. Never allocates.
    #[inline]
    pub fn submit(&self, event: &[u8]) -> Result<()> {
        // SAFETY: `self.core` lives as long as `self`, and close() runs in
        // drop, so the Core outlives every submit through these gates; the
        // id is the one copied from `self.core.gates` at creation.
        unsafe { self.core.gates.submit(self.gates_id, Arc::as_ptr(&self.core), event) }
    }

    /// Submits a block of events already in the frame's event encoding
    /// (each a `u32` little-endian length, then that many bytes; `count`
    /// events filling `encoded` exactly), in order, as `count` calls of
    /// [`Collector::submit`] would, with one copy per run of events that
    /// fit the open frame. Returns how many were taken, from the first, and
    /// Ok when that is all of them; else the error of the event that
    /// stopped the block: MB_ERR_FULL (no room after `submit.block.ms`; it
    /// is counted rejected and the ones after it were not tried) or
    /// MB_ERR_CLOSED. A block that does not parse as `count` events
    /// (MB_ERR_MALFORMED) or holds one above `event.max.bytes`
    /// (MB_ERR_TOO_LARGE) is refused whole: `(0, Err)`. Never allocates.
    pub fn submit_encoded(&self, encoded: &[u8], count: usize) -> (usize, Result<()>) {
        // SAFETY: as in `submit`.
        unsafe { self.core.gates.submit_encoded(self.gates_id, Arc::as_ptr(&self.core), encoded, count) }
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
    /// has reported all of it (delivered or failed). Exact per partition:
    /// events submitted after the call, and their outcomes, never stand in
    /// for earlier events still out (see `tracking::ledger`). A close that
    /// starts meanwhile does not cut the wait short: close reports every
    /// pending event (delivered, or failed once `close.timeout.ms` has
    /// passed), and the flush then answers MB_OK.
    pub fn flush(&self, timeout: Duration) -> Result<()> {
        let deadline = Instant::now() + timeout;
        if self.start_flush()?.wait(deadline) {
            Ok(())
        } else {
            Err(self.flush_timed_out(timeout))
        }
    }

    /// The first half of a flush: what it must see reported, and the
    /// request to the flush threads to send partial frames at once. The
    /// second half, [`FlushTarget::wait`], holds only the accounting, so a
    /// handle can wait outside the collector (a free can then proceed).
    pub(crate) fn start_flush(&self) -> Result<FlushTarget> {
        if self.core.gates.is_closed() {
            return Err(Error::closed());
        }
        let marks = self.core.flush_marks();
        self.core.flush_epoch.fetch_add(1, Ordering::Release);
        self.core.wake_flushers();
        Ok(FlushTarget { accounting: self.core.accounting.clone(), marks })
    }

    /// The error of a flush that timed out, with the sink's last error.
    pub(crate) fn flush_timed_out(&self, timeout: Duration) -> Error {
        let pending = self.core.status().pending;
        let cause = match self.core.sink.errors() {
            (_, Some(last)) => format!("; last {} sink error: {last}", self.core.sink.name()),
            _ => String::new(),
        };
        Error::new(
            Code::MB_ERR_TIMEOUT,
            format!(
                "flush timed out after {} ms: events submitted before it are not all reported by the sink \
                 ({pending} events pending now){cause}",
                timeout.as_millis()
            ),
        )
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

    /// The flush config (N, T, flush-when-idle) `level` runs with now: its
    /// learned best, its bootstrap, or a config calibration is trying.
    pub fn level_config(&self, level: PressureLevel) -> crate::calibration::BatchConfig {
        self.core.table.get(level)
    }

    /// Replaces `level`'s flush config (N capped by `batch.max.events`); it
    /// takes effect within one flush pass if `level` is current, else when
    /// the collector enters it. With calibration on, the learner may replace
    /// it again after the next window at that level.
    pub fn set_level_config(&self, level: PressureLevel, config: crate::calibration::BatchConfig) {
        self.core.table.set(level, config);
    }

    /// Why the calibration store could not be used when the collector was
    /// created (the collector then runs on bootstrap configs), if so.
    pub fn calibration_open_error(&self) -> Option<&str> {
        self.calibration_open_error.as_deref()
    }

    /// The last delivery error the sink reported.
    pub fn last_delivery_error(&self) -> Option<Error> {
        self.core.accounting.last_error()
    }

    /// Bytes the sink has sent so far, after framing, batching and
    /// compression, when it knows them (see [`crate::sink::Sink::wire_bytes`]:
    /// for Kafka, with `kafka.statistics.interval.ms` set, as of librdkafka's
    /// latest statistics report). For benchmarks and monitoring.
    pub fn wire_bytes(&self) -> Option<u64> {
        self.core.sink.wire_bytes()
    }

    /// Refuses new submits, waits for submits in progress, then flushes
    /// everything pending and stops the flush threads. Waits at most
    /// `close.timeout.ms` for the sink, plus a short margin for the sink to
    /// report what it gives up on ([`CLOSE_MARGIN`]): whatever the sink has
    /// not delivered by then is reported failed (tracked events answer
    /// MB_ERR_DELIVERY), so after close `pending` is 0. Idempotent.
    pub fn close(&self) -> Result<()> {
        let deadline = Instant::now() + self.close_timeout;
        self.core.gates.close();
        self.core.accounting.wake_all();
        // Before the flush threads hand over their last frames: a frame
        // that would wait for room in the sink past the deadline fails.
        self.core.sink.closing(deadline);
        self.core.stop.store(true, Ordering::Release);
        self.core.wake_flushers();
        let threads = std::mem::take(&mut *self.threads.lock().unwrap_or_else(|e| e.into_inner()));
        for t in threads {
            // A flush thread only panics if the sink panicked; the events it
            // held were counted failed by their Completion's Drop.
            let _ = t.join();
        }
        let result = self.core.sink.flush(deadline.saturating_duration_since(Instant::now()));
        if result.is_err() {
            let margin = Instant::now() + CLOSE_MARGIN;
            self.core.sink.abandon(margin);
            // The failures of abandoned frames may still be on their way
            // through the sink's own thread.
            let accounting = &self.core.accounting;
            let gates = &self.core.gates;
            accounting.wait_until(margin, || accounting.completed() >= gates.submitted());
        }
        // The flush threads are gone, and with them the calibration
        // channel's sender: the thread ends after the last report.
        if let Some(t) = self.calibration_thread.lock().unwrap_or_else(|e| e.into_inner()).take() {
            let _ = t.join();
        }
        result
    }
}

impl Drop for Collector {
    fn drop(&mut self) {
        let _ = self.close();
    }
}

