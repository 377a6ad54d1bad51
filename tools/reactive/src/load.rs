//! The submitting side of a cell: `producers` threads sending events on the
//! schedule (or as fast as they go), counting what was accepted and refused
//! and how late each send was against its intended time.

use crate::brochure::Payload;
use crate::measure::histogram;
use crate::schedule::Schedule;
use hdrhistogram::Histogram;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// What one send attempt came to.
pub enum Sent {
    Accepted,
    /// Refused for lack of room (ring, tracking slots, the client's queue):
    /// counted, never retried, so a stalled sink cannot stall the schedule.
    Rejected,
    /// The cell cannot go on (closed collector, broken client).
    Fatal(String),
}

/// The offered load of one cell.
pub struct Load {
    /// None: unscheduled, each thread sends as fast as it can until `end_s`.
    pub schedule: Option<Schedule>,
    pub end_s: f64,
    /// Sends meant before this (seconds after the start) are warm-up.
    pub measure_from_s: f64,
    pub producers: u32,
    pub event_bytes: u32,
    pub payload: Payload,
}

/// What the producers did.
#[derive(Default)]
pub struct Counts {
    /// Attempts in the measured part.
    pub submitted: u64,
    pub rejected: u64,
    /// Refused sends, warm-up included.
    pub rejected_total: u64,
    /// Accepted sends, warm-up included (each owes an outcome).
    pub accepted_total: u64,
    /// Lateness against the schedule, us (measured part, scheduled loads).
    pub delay: Option<Histogram<u64>>,
    pub fatal: Option<String>,
}

/// Distinct events per thread, cycled: enough variety for compression to
/// see realistic text without generating bytes on the clock.
const PAYLOADS: usize = 64;

/// `count` events of `bytes` bytes: JSON-like text (compressible) or random
/// bytes (not), different per `seed`.
pub fn payloads(kind: Payload, bytes: u32, seed: u64, count: usize) -> Vec<Vec<u8>> {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut next = move || {
        // xorshift64*: fast and good enough for filler bytes.
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        state.wrapping_mul(0x2545_F491_4F6C_DD1D)
    };
    (0..count)
        .map(|i| match kind {
            Payload::Random => (0..bytes).map(|_| next() as u8).collect(),
            Payload::Json => {
                let mut text = format!(
                    "{{\"id\":{},\"user\":\"user-{}\",\"action\":\"{}\",\"path\":\"/api/v1/items/{}\",\"note\":\"",
                    seed * 1_000_000 + i as u64,
                    next() % 10_000,
                    ["view", "click", "buy", "search"][(next() % 4) as usize],
                    next() % 100_000
                )
                .into_bytes();
                while text.len() + 2 < bytes as usize {
                    text.push(b'a' + (next() % 26) as u8);
                }
                text.extend_from_slice(b"\"}");
                text.truncate(bytes as usize);
                text
            }
        })
        .collect()
}

/// Runs the producers from `origin` until the load ends; `send` gets each
/// event and its intended time (ns after `origin`).
pub fn drive(load: &Load, origin: Instant, send: &(dyn Fn(&[u8], u64) -> Sent + Sync)) -> Counts {
    let total = Mutex::new(Counts { delay: load.schedule.as_ref().map(|_| histogram()), ..Counts::default() });
    let abort = AtomicBool::new(false);
    std::thread::scope(|scope| {
        for k in 0..load.producers {
            let (total, abort) = (&total, &abort);
            std::thread::Builder::new()
                .name(format!("producer-{k}"))
                .spawn_scoped(scope, move || {
                    let mine = producer(load, k, origin, send, abort);
                    let mut t = total.lock().unwrap();
                    t.submitted += mine.submitted;
                    t.rejected += mine.rejected;
                    t.rejected_total += mine.rejected_total;
                    t.accepted_total += mine.accepted_total;
                    if let (Some(all), Some(d)) = (t.delay.as_mut(), mine.delay.as_ref()) {
                        let _ = all.add(d);
                    }
                    if t.fatal.is_none() {
                        t.fatal = mine.fatal;
                    }
                })
                .expect("cannot start a producer thread");
        }
    });
    total.into_inner().unwrap()
}

fn producer(load: &Load, k: u32, origin: Instant, send: &(dyn Fn(&[u8], u64) -> Sent + Sync), abort: &AtomicBool) -> Counts {
    let events = payloads(load.payload, load.event_bytes, k as u64 + 1, PAYLOADS);
    let measure_from_ns = (load.measure_from_s * 1e9) as u64;
    let mut c = Counts { delay: load.schedule.as_ref().map(|_| histogram()), ..Counts::default() };
    let note = |c: &mut Counts, intended_ns: u64, sent: Sent| {
        let measured = intended_ns >= measure_from_ns;
        c.submitted += measured as u64;
        match sent {
            Sent::Accepted => c.accepted_total += 1,
            Sent::Rejected => {
                c.rejected += measured as u64;
                c.rejected_total += 1;
            }
            Sent::Fatal(e) => {
                c.fatal = Some(e);
                abort.store(true, Ordering::Relaxed);
            }
        }
    };
    match &load.schedule {
        Some(schedule) => {
            let mut index = k as u64;
            while let Some(t) = schedule.intended_s(index) {
                if abort.load(Ordering::Relaxed) {
                    break;
                }
                let intended = origin + Duration::from_secs_f64(t);
                let now = Instant::now();
                if intended > now {
                    std::thread::sleep(intended - now);
                }
                let intended_ns = (t * 1e9) as u64;
                let late_us = Instant::now().saturating_duration_since(intended).as_micros() as u64;
                if intended_ns >= measure_from_ns {
                    let _ = c.delay.as_mut().map(|h| h.record(late_us.max(1)));
                }
                let sent = send(&events[(index / load.producers as u64) as usize % PAYLOADS], intended_ns);
                note(&mut c, intended_ns, sent);
                index += load.producers as u64;
            }
        }
        None => {
            let end = origin + Duration::from_secs_f64(load.end_s);
            let mut i = 0usize;
            loop {
                let now = Instant::now();
                if now >= end || abort.load(Ordering::Relaxed) {
                    break;
                }
                let intended_ns = (now - origin).as_nanos() as u64;
                let sent = send(&events[i % PAYLOADS], intended_ns);
                let rejected = matches!(sent, Sent::Rejected);
                note(&mut c, intended_ns, sent);
                if rejected {
                    // Full: give the flush threads the core instead of spinning.
                    std::thread::sleep(Duration::from_micros(50));
                }
                i += 1;
            }
        }
    }
    c
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicU64;

    #[test]
    fn payloads_have_the_size_asked_and_json_looks_like_json() {
        for bytes in [1, 20, 100, 1000] {
            for kind in [Payload::Json, Payload::Random] {
                assert!(payloads(kind, bytes, 1, 4).iter().all(|e| e.len() == bytes as usize));
            }
        }
        let e = &payloads(Payload::Json, 200, 1, 1)[0];
        assert!(e.starts_with(b"{\"id\":") && e.ends_with(b"\"}"), "{}", String::from_utf8_lossy(e));
    }

    #[test]
    fn a_scheduled_load_sends_every_event_once_and_counts_only_the_measured_part() {
        let load = Load {
            schedule: Some(Schedule::new(&[(2000.0, 0.1), (2000.0, 0.2)])),
            end_s: 0.3,
            measure_from_s: 0.1,
            producers: 3,
            event_bytes: 10,
            payload: Payload::Json,
        };
        let seen = AtomicU64::new(0);
        // The first 20 warm-up events and the last 100 are refused.
        let counts = drive(&load, Instant::now(), &|_, intended_ns| {
            seen.fetch_add(1, Ordering::Relaxed);
            if !(10_000_000..250_000_000).contains(&intended_ns) {
                Sent::Rejected
            } else {
                Sent::Accepted
            }
        });
        assert_eq!(seen.load(Ordering::Relaxed), 600);
        assert_eq!(counts.submitted, 400);
        assert_eq!((counts.accepted_total, counts.rejected), (480, 100), "warm-up refusals are not counted");
        assert_eq!(counts.delay.unwrap().len(), 400);
    }
}
