//! The in-process Rust cell: the library's collector, tracked submits on the
//! schedule, outcomes drained from the completion queue on one thread.
//!
//! A ticket carries its tracking slot in its low 32 bits, and with
//! `tracking.queue` a slot is not reissued before its outcome is drained, so
//! a slot-indexed table maps each outcome back to its event's intended send
//! time without a map or a lock.

use crate::cell::{entry, Cell, Measured};
use crate::load::{drive, Sent};
use crate::measure::{process_cpu_ms, Live, Recorder};
use microbatch::tracking::AckEvent;
use microbatch::{Code, Collector, Config};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Tracked events that may await their outcome at once: room for a second
/// of a fast producer, so refusals mean a stalled sink, not a small table.
const TRACKING_SLOTS: &str = "1048576";
/// librdkafka's statistics interval: often enough to measure a two-second cell.
const STATS_MS: &str = "250";
/// How long the drain waits for outcomes after the flush.
const DRAIN_LIMIT: Duration = Duration::from_secs(30);

/// One slot's event: the ticket it was issued, then its intended time.
#[derive(Default)]
struct Stamp {
    ticket: AtomicU64,
    intended_ns: AtomicU64,
}

/// The collector's config for `cell` against `bootstrap`.
pub fn config(cell: &Cell, bootstrap: &str) -> Result<Config, String> {
    let mut config = Config::default();
    let mut set = |k: &str, v: &str| config.set(k, v).map_err(|e| format!("{}: {}", cell.name, e.message()));
    set("tracking.queue", "true")?;
    set("tracking.slots", TRACKING_SLOTS)?;
    // librdkafka's statistics give the bytes on the wire (`Collector::wire_bytes`).
    set("kafka.statistics.interval.ms", STATS_MS)?;
    for (k, v) in &cell.resolved.keys {
        set(k, v)?;
    }
    set("kafka.bootstrap.servers", bootstrap)?;
    Ok(config)
}

pub fn run(cell: &Cell, bootstrap: &str, live: &Arc<Live>) -> Result<Measured, String> {
    let config = config(cell, bootstrap)?;
    let collector = Collector::new(&config).map_err(|e| format!("{}: {}", cell.name, e.message()))?;
    let stamps: Vec<Stamp> = (0..config.tracking_slots).map(|_| Stamp::default()).collect();
    let origin = Instant::now();
    let measure_from_ns = (cell.load.measure_from_s * 1e9) as u64;
    // u64::MAX until the producers are done and the count is known.
    let expected = AtomicU64::new(u64::MAX);
    let mut notes = Vec::new();
    // Refusals for want of tracking slots (the rest: a full ring), for the note.
    let tracking_full = AtomicU64::new(0);

    let send = |event: &[u8], intended_ns: u64| match collector.submit_tracked(event) {
        Ok(ticket) => {
            let stamp = &stamps[ticket as u32 as usize];
            stamp.intended_ns.store(intended_ns, Ordering::Relaxed);
            // Release: the drain that sees this ticket sees its time.
            stamp.ticket.store(ticket, Ordering::Release);
            Sent::Accepted
        }
        Err(e) if e.code() == Code::MB_ERR_TRACKING_FULL => {
            tracking_full.fetch_add(1, Ordering::Relaxed);
            Sent::Rejected
        }
        Err(e) if e.code() == Code::MB_ERR_FULL => Sent::Rejected,
        Err(e) => Sent::Fatal(e.message().to_string()),
    };

    let (counts, recorder, cpu_ms, flush_error, wire) = std::thread::scope(|scope| {
        let drain = scope.spawn(|| {
            let mut rec = Recorder::new(origin, measure_from_ns, cell.timeline_ms, live.clone());
            let mut buf = vec![AckEvent::EMPTY; 4096];
            let mut drained_by: Option<Instant> = None;
            loop {
                let n = collector.poll_acks(&mut buf, Duration::from_millis(20)).unwrap_or(0);
                let now_ns = rec.now_ns();
                for ack in &buf[..n] {
                    let intended = intended_of(&stamps, ack.ticket).unwrap_or(now_ns);
                    rec.outcome(intended, ack.result == microbatch::error::mb_result::MB_OK, now_ns);
                }
                let schedule = cell.load.schedule.as_ref();
                let from = cell.load.measure_from_s;
                rec.tick(now_ns, |t| schedule.and_then(|s| s.rate_at(t + from)), || Some(collector.status().level));
                let want = expected.load(Ordering::Acquire);
                if want != u64::MAX {
                    if rec.outcomes >= want {
                        break;
                    }
                    let by = *drained_by.get_or_insert_with(|| Instant::now() + DRAIN_LIMIT);
                    if Instant::now() >= by {
                        break;
                    }
                }
            }
            rec
        });
        let producers = scope.spawn(|| drive(&cell.load, origin, &send));
        let measure_from = origin + Duration::from_secs_f64(cell.load.measure_from_s);
        std::thread::sleep(measure_from.saturating_duration_since(Instant::now()));
        let cpu_start = process_cpu_ms();
        let wire_start = (Instant::now(), collector.wire_bytes());
        let counts = producers.join().expect("producers panicked");
        // Bytes on the wire per second over the measured part: both ends are
        // librdkafka's latest statistics report (at most STATS_MS old), so
        // the lag cancels out of the rate.
        let wire = match (wire_start.1, collector.wire_bytes()) {
            (Some(from), Some(to)) => Some(to.saturating_sub(from) as f64 / wire_start.0.elapsed().as_secs_f64()),
            _ => None,
        };
        let flush_error = collector.flush(Duration::from_secs(60)).err().map(|e| e.message().to_string());
        expected.store(counts.accepted_total, Ordering::Release);
        let recorder = drain.join().expect("the drain panicked");
        let cpu_ms = process_cpu_ms() - cpu_start;
        (counts, recorder, cpu_ms, flush_error, wire)
    });
    if let Some(e) = counts.fatal.as_ref() {
        return Err(format!("{}: a submit failed: {e}", cell.name));
    }
    if counts.rejected > 0 {
        let slots = tracking_full.load(Ordering::Relaxed);
        notes.push(format!(
            "refused submits (warm-up included): {} with the ring full, {slots} with every tracking slot taken",
            counts.rejected_total - slots.min(counts.rejected_total)
        ));
    }
    if let Some(e) = flush_error {
        notes.push(format!("flush: {e}"));
    }
    if let Some(e) = collector.last_delivery_error() {
        notes.push(format!("last delivery error: {}", e.message()));
    }
    let _ = collector.close();
    let run = entry(cell, &counts, &recorder, Some(cpu_ms), wire, notes);
    Ok(Measured { run, histogram: recorder.latency, timeline: recorder.timeline })
}

/// The intended time of `ticket`'s event. The submitting thread stores it
/// just after submit returns, so an outcome can (rarely) overtake it: wait
/// for it a little, never for long.
fn intended_of(stamps: &[Stamp], ticket: u64) -> Option<u64> {
    let stamp = stamps.get(ticket as u32 as usize)?;
    for spin in 0..10_000u32 {
        if stamp.ticket.load(Ordering::Acquire) == ticket {
            return Some(stamp.intended_ns.load(Ordering::Relaxed));
        }
        if spin > 100 {
            std::thread::yield_now();
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::brochure::{KafkaSettings, Mode, Payload, Variant};
    use crate::load::Load;
    use crate::schedule::Schedule;
    use microbatch::PressureLevel;

    /// A second and a half of a real collector against the embedded mock
    /// cluster: every measured event is accounted for, and each delivered
    /// one has exactly one latency sample.
    #[test]
    fn a_short_cell_against_the_mock_cluster_accounts_for_every_event() {
        let broker = crate::run::Broker::open("mock").unwrap();
        let variant = Variant { name: "fixed".into(), implementation: crate::brochure::Impl::Rust, mode: Mode::Fixed, config: Default::default() };
        let level = PressureLevel::L4Moderate;
        let kafka = KafkaSettings { producer: [("acks".to_string(), "1".to_string())].into(), partitions: None };
        let resolved = crate::mode::resolve(&variant, Some(level), &kafka, "reactive-cell-test", ":memory:").unwrap();
        let dir = std::env::temp_dir();
        let cell = Cell {
            name: "fixed/L4_MODERATE".into(),
            variant,
            level: Some(level),
            resolved,
            load: Load {
                schedule: Some(Schedule::new(&[(2000.0, 0.5), (2000.0, 1.0)])),
                end_s: 1.5,
                measure_from_s: 0.5,
                producers: 2,
                event_bytes: 100,
                payload: Payload::Json,
            },
            offered: Some(2000.0),
            steps: Vec::new(),
            timeline_ms: Some(250),
            notes: Vec::new(),
            hgrm_path: dir.join("reactive-cell-test.hgrm"),
            hgrm_name: "x.hgrm".into(),
        };
        let m = run(&cell, &broker.bootstrap(), &Arc::new(Live::default())).unwrap();
        let r = &m.run;
        assert_eq!(r.submitted, 2000, "1 s at 2000 events/s");
        assert_eq!(r.submitted, r.delivered + r.failed + r.rejected, "{r:?}");
        assert!(r.delivered > 1900, "{r:?}");
        assert_eq!(m.histogram.len(), r.delivered);
        assert_eq!(r.latency.count, r.delivered);
        // L4's T is 25 ms: waits are bounded by it plus the mock's answer.
        assert!(r.latency.p50_us > 0.0 && r.latency.p99_us < 50_000.0, "{:?}", r.latency);
        assert!((r.achieved_events_per_sec - 2000.0).abs() < 200.0, "{r:?}");
        assert!(!m.timeline.is_empty() && m.timeline.iter().all(|p| p.level == Some(4)));
    }
}
