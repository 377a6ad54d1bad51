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
mod submit;
mod window;

use crate::config::{Config, SinkChoice};
use crate::error::{Code, Error, Result};
use crate::pressure::{BatchParams, PressureLevel, RateMeter};
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
            accounting: Arc::new(Accounting::new(config.tracking_slots, config.tracking_reporting())),
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

