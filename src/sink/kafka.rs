//! The Kafka sink, on librdkafka through the `rdkafka` crate.
//!
//! Producer flavour: `ThreadedProducer`, i.e. a BaseProducer plus one thread
//! that polls for delivery reports. Flush threads only enqueue (`send` never
//! waits for the network) and delivery reports, which complete frames in the
//! accounting, run on that poll thread: no flush thread ever blocks in poll.
//! A BaseProducer with a poll thread of our own is the same structure and
//! measured the same within noise (benches/kafka_baseline.rs, mode
//! BULK_BASEPRODUCER: 20.4 vs 20.2 M events/s against a real broker), so the
//! sink keeps the crate's own, maintained poll loop.
//!
//! Two record modes (`kafka.mode`):
//! * `frame` (default): one Kafka record per frame, headers `mb.format` = "1"
//!   and `mb.events` = the event count. A delivery report completes the
//!   whole frame.
//! * `record`: one Kafka record per event, batched by librdkafka itself.
//!
//! Records are keyed by the flush thread that built them ("mb-0", "mb-1",
//! ...), so all frames of one collector partition land in one Kafka
//! partition, in order.
//!
//! With no `kafka.bootstrap.servers` (or the value `mock`) the sink starts
//! librdkafka's in-process mock cluster on a thread of its own (the mock
//! cluster must stay on the thread that created it).

use super::{Completion, Sink};
use crate::error::{Code, Error, Result};
use crate::frame;
use rdkafka::client::ClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::error::KafkaError;
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{BaseRecord, DeliveryResult, Producer, ProducerContext, PurgeConfig, ThreadedProducer};
use rdkafka::Message;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Room librdkafka needs around a record value (record batch header, record
/// framing, our two headers): `batch.max.bytes` + this must not exceed
/// librdkafka's `message.max.bytes`.
pub const RECORD_OVERHEAD: usize = 1024;


/// librdkafka defaults translated from the seed's throughput settings
/// (acks=1, linger.ms=10, lz4, large batches, a large buffer).
pub const DEFAULTS: &[(&str, &str)] = &[
    ("acks", "1"),
    ("linger.ms", "10"),
    ("compression.type", "lz4"),
    ("batch.size", "16777216"),
    ("batch.num.messages", "100000"),
    ("queue.buffering.max.kbytes", "524288"),
    ("queue.buffering.max.messages", "1000000"),
    ("message.timeout.ms", "30000"),
];

/// How events become Kafka records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordMode {
    Frame,
    Record,
}

/// Sink-level settings taken from the `kafka.*` keys that are ours rather
/// than librdkafka's.
pub struct KafkaSettings {
    pub topic: String,
    pub mode: RecordMode,
    /// Everything else, passed to librdkafka verbatim.
    pub properties: BTreeMap<String, String>,
}

impl KafkaSettings {
    /// Splits the `kafka.*` keys of a config into ours and librdkafka's.
    pub fn from_keys(keys: &BTreeMap<String, String>) -> Result<KafkaSettings> {
        let mut properties = keys.clone();
        let topic = properties.remove("topic").unwrap_or_else(|| "microbatch".to_string());
        if topic.is_empty() {
            return Err(Error::invalid_config("`kafka.topic` must not be empty"));
        }
        let mode = match properties.remove("mode").as_deref() {
            None | Some("frame") => RecordMode::Frame,
            Some("record") => RecordMode::Record,
            Some(other) => {
                return Err(Error::invalid_config(format!("`kafka.mode` must be frame or record, got \"{other}\"")))
            }
        };
        Ok(KafkaSettings { topic, mode, properties })
    }
}

/// Delivery reports and client errors land here (on the poll thread).
pub struct SinkContext {
    /// Client-level errors (all brokers down, authentication, ...).
    errors: AtomicU64,
    last_error: Mutex<Option<String>>,
    /// When the sink was created; `progress_us` counts from here.
    started: Instant,
    /// Microseconds after `started` of the last successful delivery report
    /// (0: none yet). See `KafkaSink::enqueue`.
    progress_us: AtomicU64,
    /// librdkafka's `tx_bytes` (bytes sent to the brokers, after batching
    /// and compression) from its latest statistics report, plus one; 0
    /// until the first report (only with `kafka.statistics.interval.ms`).
    tx_bytes_plus_one: AtomicU64,
}

impl SinkContext {
    fn note_error(&self, message: String) {
        self.errors.fetch_add(1, Ordering::Relaxed);
        *self.last_error.lock().unwrap_or_else(|e| e.into_inner()) = Some(message);
    }
}

impl ClientContext for SinkContext {
    fn error(&self, error: KafkaError, reason: &str) {
        self.note_error(format!("{error}: {reason}"));
    }
    fn stats(&self, statistics: rdkafka::statistics::Statistics) {
        let sent = u64::try_from(statistics.tx_bytes).unwrap_or(0);
        self.tx_bytes_plus_one.store(sent.saturating_add(1), Ordering::Relaxed);
    }
    // librdkafka's own log lines stay quiet unless they are errors.
    fn log(&self, level: rdkafka::config::RDKafkaLogLevel, fac: &str, message: &str) {
        if (level as i32) <= (rdkafka::config::RDKafkaLogLevel::Error as i32) {
            self.note_error(format!("{fac}: {message}"));
        }
    }
}

/// What travels with each record to its delivery report.
pub enum Pending {
    /// frame mode: the whole frame.
    Frame(Completion),
    /// record mode: one event (by index) of a frame whose records share the completion.
    Event(Arc<RecordGroup>, u32),
}

/// A frame sent as one record per event: completes when the last record's
/// report arrives, as delivered only if every record was.
pub struct RecordGroup {
    completion: Mutex<Option<Completion>>,
    remaining: AtomicU32,
    failed: AtomicU32,
    first_error: Mutex<Option<Error>>,
}

impl RecordGroup {
    fn finish_one(&self, index: u32, outcome: std::result::Result<(i32, i64), Error>) {
        if let Some(c) = self.completion.lock().unwrap_or_else(|e| e.into_inner()).as_ref() {
            c.event_outcome(index, outcome.as_ref().ok().copied(), outcome.as_ref().err());
        }
        if let Err(e) = outcome {
            self.failed.fetch_add(1, Ordering::Relaxed);
            self.first_error.lock().unwrap_or_else(|e| e.into_inner()).get_or_insert(e);
        }
        // AcqRel: the last reporter sees every other reporter's failure count.
        if self.remaining.fetch_sub(1, Ordering::AcqRel) == 1 {
            let Some(completion) = self.completion.lock().unwrap_or_else(|e| e.into_inner()).take() else { return };
            let failed = self.failed.load(Ordering::Relaxed) as u64;
            let error = self.first_error.lock().unwrap_or_else(|e| e.into_inner()).take();
            completion.partially(failed, error);
        }
    }
}

impl ProducerContext for SinkContext {
    type DeliveryOpaque = Box<Pending>;

    fn delivery(&self, result: &DeliveryResult<'_>, pending: Self::DeliveryOpaque) {
        let outcome = match result {
            Ok(message) => {
                let now = self.started.elapsed().as_micros() as u64;
                self.progress_us.fetch_max(now.max(1), Ordering::Relaxed);
                Ok((message.partition(), message.offset()))
            }
            Err((e, message)) => {
                // librdkafka knows whether the broker may have written a
                // record that it reports failed (a request that timed out
                // after it was sent, retries exhausted): a caller must not
                // take such a failure as "not stored".
                // SAFETY: `message` is the live delivery report librdkafka
                // passed to this callback; the call only reads its status.
                let status = unsafe { rdkafka::bindings::rd_kafka_message_status(message.ptr()) };
                let persisted = match status {
                    rdkafka::bindings::rd_kafka_msg_status_t::RD_KAFKA_MSG_STATUS_NOT_PERSISTED => "not persisted",
                    rdkafka::bindings::rd_kafka_msg_status_t::RD_KAFKA_MSG_STATUS_PERSISTED => "persisted",
                    _ => "possibly persisted (the broker may hold the record)",
                };
                Err(Error::new(Code::MB_ERR_DELIVERY, format!("Kafka delivery failed, {persisted}: {e}")))
            }
        };
        match *pending {
            Pending::Frame(completion) => match outcome {
                Ok((partition, offset)) => completion.delivered_at(partition, offset),
                Err(e) => completion.failed(e),
            },
            Pending::Event(group, index) => group.finish_one(index, outcome),
        }
    }
}

/// The in-process mock cluster, owned by a thread of its own.
struct MockBroker {
    stop: Option<mpsc::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl MockBroker {
    fn start() -> Result<(MockBroker, String)> {
        let (addr_tx, addr_rx) = mpsc::channel();
        let (stop_tx, stop_rx) = mpsc::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("mb-mock-kafka".into())
            .spawn(move || match rdkafka::mocking::MockCluster::new(1) {
                Ok(cluster) => {
                    let _ = addr_tx.send(Ok(cluster.bootstrap_servers()));
                    let _ = stop_rx.recv();
                    drop(cluster);
                }
                Err(e) => {
                    let _ = addr_tx.send(Err(e.to_string()));
                }
            })
            .map_err(|e| Error::new(Code::MB_ERR_KAFKA, format!("cannot start the mock cluster thread: {e}")))?;
        let addr = addr_rx
            .recv()
            .map_err(|_| Error::new(Code::MB_ERR_KAFKA, "the mock cluster thread died"))?
            .map_err(|e| Error::new(Code::MB_ERR_KAFKA, format!("cannot start the mock cluster: {e}")))?;
        Ok((MockBroker { stop: Some(stop_tx), thread: Some(thread) }, addr))
    }
}

impl Drop for MockBroker {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

pub struct KafkaSink {
    producer: ThreadedProducer<SinkContext>,
    topic: String,
    mode: RecordMode,
    /// librdkafka's `message.timeout.ms` (None: 0, infinite). A record that
    /// finds librdkafka's queue full waits for room only while the broker
    /// has delivered something within this long (see `enqueue`).
    stall_limit: Option<Duration>,
    /// Microseconds after `SinkContext::started` when a record first found
    /// the queue full with no delivery since (0: not full).
    full_since_us: AtomicU64,
    /// Microseconds after `SinkContext::started` when the collector stops
    /// waiting for room at close (0: not closing). See `closing`.
    close_deadline_us: AtomicU64,
    /// Declared after `producer` so the producer is dropped (and stops
    /// talking to it) before the mock cluster goes away.
    _mock: Option<MockBroker>,
}

impl KafkaSink {
    /// Builds the producer. `batch_max_bytes` is the collector's frame cap,
    /// checked against librdkafka's `message.max.bytes`.
    pub fn new(settings: KafkaSettings, batch_max_bytes: usize) -> Result<KafkaSink> {
        let mut client = ClientConfig::new();
        for (k, v) in DEFAULTS {
            client.set(*k, *v);
        }
        for (k, v) in &settings.properties {
            client.set(k, v);
        }
        let mut mock = None;
        let servers = settings.properties.get("bootstrap.servers").map(String::as_str);
        if matches!(servers, None | Some("") | Some("mock")) {
            let (broker, addr) = MockBroker::start()?;
            client.set("bootstrap.servers", addr);
            mock = Some(broker);
        }
        let message_max: usize = client
            .get("message.max.bytes")
            .unwrap_or("1000000")
            .parse()
            .map_err(|_| Error::invalid_config("`kafka.message.max.bytes` must be an integer"))?;
        if settings.mode == RecordMode::Frame && batch_max_bytes + RECORD_OVERHEAD > message_max {
            return Err(Error::invalid_config(format!(
                "`batch.max.bytes` = {batch_max_bytes} plus {RECORD_OVERHEAD} bytes of record overhead exceeds \
                 `kafka.message.max.bytes` = {message_max}: librdkafka could never send such frames. \
                 Lower batch.max.bytes or raise kafka.message.max.bytes (and the broker's message.max.bytes)"
            )));
        }
        // delivery.timeout.ms is librdkafka's alias of message.timeout.ms;
        // the caller's own setting wins over our default.
        let timeout = ["message.timeout.ms", "delivery.timeout.ms"]
            .iter()
            .find_map(|k| settings.properties.get(*k).map(String::as_str))
            .or_else(|| client.get("message.timeout.ms"))
            .unwrap_or("300000");
        let timeout: u64 = timeout
            .parse()
            .map_err(|_| Error::invalid_config("`kafka.message.timeout.ms` must be an integer"))?;
        let stall_limit = (timeout > 0).then(|| Duration::from_millis(timeout));
        let context = SinkContext {
            errors: AtomicU64::new(0),
            last_error: Mutex::new(None),
            started: Instant::now(),
            progress_us: AtomicU64::new(0),
            tx_bytes_plus_one: AtomicU64::new(0),
        };
        let producer: ThreadedProducer<SinkContext> = client.create_with_context(context).map_err(|e| {
            Error::invalid_config(format!("librdkafka refused the configuration: {e}"))
        })?;
        Ok(KafkaSink { producer, topic: settings.topic, mode: settings.mode, stall_limit, full_since_us: AtomicU64::new(0), close_deadline_us: AtomicU64::new(0), _mock: mock })
    }

    /// Client-level errors seen so far, and the last one.
    pub fn errors(&self) -> (u64, Option<String>) {
        let ctx = self.producer.context();
        (ctx.errors.load(Ordering::Relaxed), ctx.last_error.lock().unwrap_or_else(|e| e.into_inner()).clone())
    }

    /// Called when a record finds librdkafka's queue full. True once the
    /// queue has been full, with no successful delivery report, for
    /// `stall_limit`: everything librdkafka holds is then as old as its own
    /// timeout allows, and a record that waited for room would fail the same
    /// way. The clock starts at the first full queue after the last
    /// delivery, so an idle sink hit by a burst waits as long as it may.
    fn stalled(&self) -> bool {
        let Some(limit) = self.stall_limit else { return false };
        let ctx = self.producer.context();
        let now = ctx.started.elapsed().as_micros() as u64;
        let progress = ctx.progress_us.load(Ordering::Relaxed);
        let mut since = self.full_since_us.load(Ordering::Relaxed);
        if since == 0 || since < progress {
            // A new full spell (racing flush threads may each start one;
            // any of their starts is as good).
            self.full_since_us.store(now.max(1), Ordering::Relaxed);
            since = now;
        }
        Duration::from_micros(now.saturating_sub(since.max(progress))) > limit
    }

    /// True once the collector's close deadline has passed (see `closing`).
    fn past_close_deadline(&self) -> bool {
        let deadline = self.close_deadline_us.load(Ordering::Relaxed);
        deadline != 0 && self.producer.context().started.elapsed().as_micros() as u64 >= deadline
    }

    /// Enqueues one record, waiting while librdkafka's queue is full (that is
    /// the back-pressure that reaches the rings), but not for ever: once the
    /// broker has delivered nothing for `message.timeout.ms`, or the
    /// collector's close deadline has passed, a record that finds the queue
    /// full fails at once (not persisted), so a flush thread, and the close
    /// that joins it, is never held longer than that by an absent broker.
    /// Other errors fail the record.
    fn enqueue(&self, key: &str, payload: &[u8], headers: Option<OwnedHeaders>, pending: Box<Pending>) -> Result<(), (Error, Box<Pending>)> {
        let mut record = BaseRecord::with_opaque_to(&self.topic, pending).key(key).payload(payload);
        if let Some(h) = headers {
            record = record.headers(h);
        }
        loop {
            match self.producer.send(record) {
                Ok(()) => return Ok(()),
                Err((KafkaError::MessageProduction(rdkafka::types::RDKafkaErrorCode::QueueFull), back)) => {
                    if self.past_close_deadline() {
                        let error = Error::new(
                            Code::MB_ERR_DELIVERY,
                            "Kafka delivery failed, not persisted: librdkafka's queue was still full when the \
                             collector's close.timeout.ms ran out",
                        );
                        return Err((error, back.delivery_opaque));
                    }
                    if self.stalled() {
                        let limit = self.stall_limit.unwrap_or_default().as_millis();
                        let error = Error::new(
                            Code::MB_ERR_DELIVERY,
                            format!(
                                "Kafka delivery failed, not persisted: librdkafka's queue is full and the broker \
                                 has acknowledged nothing for kafka.message.timeout.ms = {limit} ms"
                            ),
                        );
                        return Err((error, back.delivery_opaque));
                    }
                    record = back;
                    std::thread::sleep(Duration::from_micros(200));
                }
                Err((e, back)) => {
                    return Err((Error::new(Code::MB_ERR_KAFKA, format!("librdkafka refused the record: {e}")), back.delivery_opaque))
                }
            }
        }
    }
}

fn fail_pending(pending: Pending, error: Error) {
    match pending {
        Pending::Frame(c) => c.failed(error),
        Pending::Event(group, index) => group.finish_one(index, Err(error)),
    }
}

impl Sink for KafkaSink {
    fn send(&self, bytes: &[u8], events: u32, completion: Completion) {
        let key = format!("mb-{}", completion.source());
        match self.mode {
            RecordMode::Frame => {
                let count = events.to_string();
                let headers = OwnedHeaders::new_with_capacity(2)
                    .insert(Header { key: "mb.format", value: Some("1") })
                    .insert(Header { key: "mb.events", value: Some(count.as_str()) });
                if let Err((e, pending)) = self.enqueue(&key, bytes, Some(headers), Box::new(Pending::Frame(completion))) {
                    fail_pending(*pending, e);
                }
            }
            RecordMode::Record => {
                let group = Arc::new(RecordGroup {
                    completion: Mutex::new(Some(completion)),
                    remaining: AtomicU32::new(events),
                    failed: AtomicU32::new(0),
                    first_error: Mutex::new(None),
                });
                let Ok(iter) = frame::events(bytes) else {
                    // Frames come from our own encoder; a bad one is a bug.
                    for index in 0..events {
                        group.finish_one(index, Err(Error::new(Code::MB_ERR_INTERNAL, "collector built a malformed frame")));
                    }
                    return;
                };
                for (index, event) in iter.enumerate() {
                    let pending = Box::new(Pending::Event(group.clone(), index as u32));
                    match event {
                        Ok(event) => {
                            if let Err((e, pending)) = self.enqueue(&key, event, None, pending) {
                                fail_pending(*pending, e);
                            }
                        }
                        Err(e) => fail_pending(*pending, e),
                    }
                }
            }
        }
    }

    fn flush(&self, timeout: Duration) -> Result<()> {
        self.producer.flush(timeout).map_err(|e| {
            let (_, last) = self.errors();
            Error::new(
                Code::MB_ERR_TIMEOUT,
                format!("Kafka did not acknowledge everything within {} ms: {e}{}", timeout.as_millis(),
                    last.map(|l| format!(" (last client error: {l})")).unwrap_or_default()),
            )
        })
    }

    fn closing(&self, deadline: Instant) {
        let ctx = self.producer.context();
        let at = deadline.saturating_duration_since(ctx.started).as_micros() as u64;
        self.close_deadline_us.store(at.max(1), Ordering::Relaxed);
    }

    /// Purges librdkafka's queue and its requests in flight: each purged
    /// record's delivery report fails it, `not persisted` if it never left,
    /// `possibly persisted` if its request was on the wire (librdkafka's
    /// message status says which).
    fn abandon(&self, deadline: Instant) {
        self.producer.purge(PurgeConfig::default().queue().inflight());
        // The reports are ready at once; flushing waits until the poll
        // thread has taken them.
        let _ = self.producer.flush(deadline.saturating_duration_since(Instant::now()));
    }

    fn errors(&self) -> (u64, Option<String>) {
        KafkaSink::errors(self)
    }

    fn wire_bytes(&self) -> Option<u64> {
        self.producer.context().tx_bytes_plus_one.load(Ordering::Relaxed).checked_sub(1)
    }

    fn name(&self) -> &'static str {
        "kafka"
    }
}
