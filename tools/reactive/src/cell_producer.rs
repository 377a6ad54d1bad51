//! The `producer` mode's Rust cell: no collector, one Kafka record per event
//! through librdkafka's own producer, batching by its `linger.ms`. The
//! delivery callback records each event's wait from its intended send time;
//! librdkafka's statistics give the bytes sent.

use crate::cell::{entry, Cell, Measured};
use crate::load::{drive, Sent};
use crate::measure::{process_cpu_ms, Live, Recorder};
use rdkafka::config::ClientConfig;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::{BaseRecord, DeliveryResult, Producer, ProducerContext, ThreadedProducer};
use rdkafka::statistics::Statistics;
use rdkafka::ClientContext;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The statistics interval: often enough to measure a two-second cell.
const STATS_MS: &str = "250";

struct Context {
    recorder: Mutex<Recorder>,
    cell_timeline: Option<crate::schedule::Schedule>,
    measure_from_s: f64,
    /// (ns after the cell's start, tx_bytes) per statistics report.
    tx: Mutex<Vec<(u64, i64)>>,
    origin: Instant,
}

impl ClientContext for Context {
    fn stats(&self, statistics: Statistics) {
        let at = self.origin.elapsed().as_nanos() as u64;
        self.tx.lock().unwrap().push((at, statistics.tx_bytes));
    }
}

impl ProducerContext for Context {
    /// The event's intended send time, ns after the cell's start.
    type DeliveryOpaque = usize;

    fn delivery(&self, result: &DeliveryResult<'_>, intended_ns: usize) {
        let mut rec = self.recorder.lock().unwrap();
        let now = rec.now_ns();
        rec.outcome(intended_ns as u64, result.is_ok(), now);
        let (schedule, from) = (self.cell_timeline.as_ref(), self.measure_from_s);
        rec.tick(now, |t| schedule.and_then(|s| s.rate_at(t + from)), || None);
    }
}

/// Bytes per second sent to the brokers over the measured part, from the
/// statistics reports that bracket it.
fn wire_rate(tx: &[(u64, i64)], measure_from_ns: u64) -> Option<f64> {
    let first = tx.iter().find(|(at, _)| *at >= measure_from_ns)?;
    let last = tx.last()?;
    (last.0 > first.0).then(|| (last.1 - first.1) as f64 / ((last.0 - first.0) as f64 / 1e9))
}

pub fn run(cell: &Cell, bootstrap: &str, live: &Arc<Live>) -> Result<Measured, String> {
    let origin = Instant::now();
    let measure_from_ns = (cell.load.measure_from_s * 1e9) as u64;
    let mut client = ClientConfig::new();
    client.set("bootstrap.servers", bootstrap).set("statistics.interval.ms", STATS_MS);
    let mut topic = "microbatch".to_string();
    for (k, v) in &cell.resolved.keys {
        match k.strip_prefix("kafka.") {
            Some("topic") => topic = v.clone(),
            Some("mode") => {}
            Some(property) => {
                client.set(property, v);
            }
            None => {}
        }
    }
    let context = Context {
        recorder: Mutex::new(Recorder::new(origin, measure_from_ns, cell.timeline_ms, live.clone())),
        cell_timeline: cell.load.schedule.clone(),
        measure_from_s: cell.load.measure_from_s,
        tx: Mutex::new(Vec::new()),
        origin,
    };
    let producer: ThreadedProducer<Context> =
        client.create_with_context(context).map_err(|e| format!("{}: the Kafka producer: {e}", cell.name))?;
    let send = |event: &[u8], intended_ns: u64| {
        let record = BaseRecord::<(), [u8], usize>::with_opaque_to(&topic, intended_ns as usize).payload(event);
        match producer.send(record) {
            Ok(()) => Sent::Accepted,
            Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), _)) => Sent::Rejected,
            Err((e, _)) => Sent::Fatal(e.to_string()),
        }
    };
    let measure_from = origin + Duration::from_secs_f64(cell.load.measure_from_s);
    let (counts, cpu_start) = std::thread::scope(|scope| {
        let producers = scope.spawn(|| drive(&cell.load, origin, &send));
        std::thread::sleep(measure_from.saturating_duration_since(Instant::now()));
        let cpu_start = process_cpu_ms();
        (producers.join().expect("producers panicked"), cpu_start)
    });
    let mut notes = Vec::new();
    if let Err(e) = producer.flush(Duration::from_secs(60)) {
        notes.push(format!("flush: {e}"));
    }
    // One more statistics report, so the last bytes are counted.
    std::thread::sleep(Duration::from_millis(300));
    let cpu_ms = process_cpu_ms() - cpu_start;
    if let Some(e) = counts.fatal.as_ref() {
        return Err(format!("{}: a send failed: {e}", cell.name));
    }
    let context = producer.context();
    let wire = wire_rate(&context.tx.lock().unwrap(), measure_from_ns);
    let recorder = std::mem::replace(
        &mut *context.recorder.lock().unwrap(),
        Recorder::new(origin, 0, None, Arc::new(Live::default())),
    );
    let run = entry(cell, &counts, &recorder, Some(cpu_ms), wire, notes);
    Ok(Measured { run, histogram: recorder.latency, timeline: recorder.timeline })
}

#[cfg(test)]
mod tests {
    #[test]
    fn wire_rate_takes_the_reports_around_the_measured_part() {
        let tx = [(0, 0), (500_000_000, 1000), (1_000_000_000, 3000), (2_000_000_000, 7000)];
        assert_eq!(super::wire_rate(&tx, 600_000_000), Some(4000.0));
        assert_eq!(super::wire_rate(&tx[..2], 600_000_000), None);
    }
}
