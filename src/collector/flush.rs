//! The flush threads: each drains its share of the partitions, seals SPSC
//! frames that waited T (or at once, with flush-when-idle, when none of its
//! sends is outstanding), builds MPSC frames, and hands frames to the sink.

use super::levels::unpack;
use super::window::{Tally, Window};
use super::{Core, Ring};
use crate::calibration::BatchConfig;
use crate::frame::{encoded_len, FrameEncoder};
use crate::ring::{SealedFrame, SpscRing};
use crate::sink::Completion;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Shortest and longest sleep of an idle flush thread.
const IDLE_MIN: Duration = Duration::from_micros(50);
const IDLE_MAX: Duration = Duration::from_millis(1);
/// Records drained per MPSC ring before moving to the next (fairness).
const DRAIN_CHUNK: usize = 4096;
/// Sealed frames taken per SPSC ring per pass (fairness).
const MAX_FRAMES_PER_PASS: usize = 16;

/// Why this thread closed a frame, for the window's tally.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Close {
    Count,
    Bytes,
    Time,
    Idle,
    /// flush() or close(): counted under no reason.
    Forced,
}

pub(super) struct FlushThread {
    core: Arc<Core>,
    index: u32,
    /// (index in frame, tracking slot) of tracked events in `frame`.
    tracked: Vec<(u32, u32)>,
    partitions: Vec<usize>,
    /// Per partition of `partitions`: the ledger position the last frame
    /// sent reached (events for SPSC, ring bytes for MPSC; see
    /// `tracking::ledger`).
    sent_to: Vec<u64>,
    frame: FrameEncoder,
    /// Stamp of the oldest event in `frame`.
    oldest: u32,
    /// The pressure window (flush thread 0 only).
    window: Option<Window>,
    /// Frames sent since the last publication to the window.
    tally: Tally,
    /// SPSC frames drained holding fewer than N events: closed by
    /// `batch.max.bytes` in the ring, or by this thread's seals (`seals`).
    short_frames: u64,
    seals: u64,
}

impl FlushThread {
    pub(super) fn new(core: Arc<Core>, index: usize, nthreads: usize, window: Option<Window>) -> Self {
        let partitions: Vec<usize> = (index..core.rings.len()).step_by(nthreads).collect();
        // Only MPSC partitions build frames here; SPSC rings build their own.
        let builds_frames = core.rings.iter().any(|r| matches!(r, Ring::Mpsc(_)));
        let frame = FrameEncoder::with_capacity(if builds_frames { core.batch_max_bytes } else { 0 });
        FlushThread {
            core,
            index: index as u32,
            tracked: Vec::new(),
            sent_to: vec![0; partitions.len()],
            partitions,
            frame,
            oldest: 0,
            window,
            tally: Tally::default(),
            short_frames: 0,
            seals: 0,
        }
    }

    /// Sends the MPSC frame built here.
    fn send_frame(&mut self, why: Close) {
        if self.frame.is_empty() {
            return;
        }
        let started = Instant::now();
        let events = self.frame.count();
        let tracked = if self.tracked.is_empty() { Vec::new() } else { std::mem::take(&mut self.tracked) };
        let mut completion = Completion::new(self.core.accounting.clone(), events, self.index, tracked)
            .watched(self.core.watch.clone(), self.oldest);
        // The frame holds, of each partition this thread drains, the records
        // between the last frame's end and the ring's read position now.
        for (i, &p) in self.partitions.iter().enumerate() {
            if let Ring::Mpsc(ring) = &self.core.rings[p] {
                // Exact: this thread is the ring's only consumer.
                let position = ring.consumed_position() as u64;
                if position > self.sent_to[i] {
                    self.sent_to[i] = position;
                    completion.mark(p, position);
                }
            }
        }
        self.core.accounting.count_batch();
        let frame = self.frame.finish();
        let bytes = frame.len() as u64;
        self.core.sink.send(frame, events, completion);
        self.frame.clear();
        let t = &mut self.tally;
        match why {
            Close::Count => t.by_count += 1,
            Close::Bytes => t.by_bytes += 1,
            Close::Time => t.by_time += 1,
            Close::Idle => t.by_idle += 1,
            Close::Forced => {}
        }
        t.frames += 1;
        t.events += events as u64;
        t.bytes += bytes;
        t.busy_ns += started.elapsed().as_nanos() as u64;
    }

    /// Publishes the tally to the window (once per pass, if anything was sent).
    fn publish(&mut self) {
        if self.tally.frames == 0 {
            return;
        }
        self.tally.by_bytes += self.short_frames.saturating_sub(self.seals);
        self.core.tally.add(&self.tally);
        self.tally = Tally::default();
        self.short_frames = 0;
        self.seals = 0;
    }

    /// One pass over SPSC partition `p`: seals its open frame when it is due
    /// (forced, its oldest event has waited T, or flush-when-idle and none
    /// of this thread's sends is outstanding), then hands the sealed frames
    /// to the sink where they lie. Returns the events and event bytes taken,
    /// and how soon the frame left open falls due.
    fn take_frames(&mut self, i: usize, ring: &SpscRing, forced: bool, now: u32, config: BatchConfig) -> (u64, usize, u64) {
        let p = self.partitions[i];
        let waited = |now| ring.open_waited(now).map(|w| w as u64);
        let open = waited(now);
        // A forced pass seals without trusting the hint: under the gate the
        // open frame is exact, and flush() must see everything counted.
        let why = if forced {
            Some(Close::Forced)
        } else if open.is_some_and(|w| w >= config.interval_us) {
            Some(Close::Time)
        } else if config.idle_flush && open.is_some() && self.core.watch.inflight(self.index) == 0 {
            Some(Close::Idle)
        } else {
            None
        };
        if let Some(why) = why {
            let started = Instant::now();
            // SAFETY: the gate excludes submitters, so this thread is the
            // ring's only producer side while it seals.
            self.core.gates.with_gate_held(p, || unsafe { ring.seal() });
            self.tally.busy_ns += started.elapsed().as_nanos() as u64;
            if open.is_some() {
                self.seals += 1;
                match why {
                    Close::Time => self.tally.by_time += 1,
                    Close::Idle => self.tally.by_idle += 1,
                    _ => {}
                }
            }
        }
        let (mut events, mut bytes) = (0u64, 0usize);
        // SAFETY: partition p is drained by this thread only.
        unsafe {
            ring.drain_frames(MAX_FRAMES_PER_PASS, |sealed| {
                events += sealed.events as u64;
                bytes += sealed.frame.len();
                if sealed.events as u64 >= config.batch_events {
                    self.tally.by_count += 1;
                } else {
                    self.short_frames += 1;
                }
                self.send_sealed(i, sealed);
            })
        };
        let due_in = waited(now).map_or(u64::MAX, |w| config.interval_us.saturating_sub(w));
        (events, bytes, due_in)
    }

    /// Hands a frame sealed in an SPSC ring to the sink without copying it.
    fn send_sealed(&mut self, i: usize, sealed: SealedFrame<'_>) {
        let started = Instant::now();
        let tracker = &self.core.accounting.tracker;
        let tracked = if sealed.tag_count() == 0 {
            Vec::new()
        } else {
            sealed.tags().inspect(|&(index, slot)| tracker.set_index(slot, index)).collect()
        };
        let mut completion = Completion::new(self.core.accounting.clone(), sealed.events, self.index, tracked)
            .watched(self.core.watch.clone(), sealed.stamp);
        // Frames leave the ring in push order, and the gate holder counts
        // events in push order, so the count so far is the frame's mark.
        self.sent_to[i] += sealed.events as u64;
        completion.mark(self.partitions[i], self.sent_to[i]);
        self.core.accounting.count_batch();
        self.core.sink.send(sealed.frame, sealed.events, completion);
        let t = &mut self.tally;
        t.frames += 1;
        t.events += sealed.events as u64;
        t.bytes += sealed.frame.len() as u64;
        t.busy_ns += started.elapsed().as_nanos() as u64;
    }

    pub(super) fn run(mut self) {
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
            let config = unpack(self.core.current.load(Ordering::Relaxed));
            let (max_events, max_wait_us) = (config.batch_events, config.interval_us);
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
                        let (n, bytes, due_in) = self.take_frames(i, ring, forced, now, config);
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
                        let why = if self.frame.count() as u64 >= max_events { Close::Count } else { Close::Bytes };
                        self.send_frame(why);
                        continue;
                    }
                    if n < DRAIN_CHUNK {
                        break;
                    }
                }
            }

            prev_pass = now;
            let waited = self.core.clock.tick().wrapping_sub(self.oldest) as u64;
            if !self.frame.is_empty() {
                if forced {
                    self.send_frame(Close::Forced);
                } else if waited >= max_wait_us {
                    self.send_frame(Close::Time);
                } else if config.idle_flush && self.core.watch.inflight(self.index) == 0 {
                    self.send_frame(Close::Idle);
                }
            }
            self.publish();
            if forced && taken == 0 {
                seen_epoch = epoch;
                if stopping {
                    return;
                }
            }
            if let Some(window) = self.window.as_mut() {
                window.pass(&self.core);
            }

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
            // An event that arrives while this thread naps is first seen when
            // it wakes: napping at most T/2 keeps that wait plus T inside the
            // budget (T is at most half of it by default). Costs wake-ups
            // only at the low levels, where T is short and the load is light.
            nap = nap.min(Duration::from_micros((max_wait_us / 2).max(IDLE_MIN.as_micros() as u64)));
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
}
