#![cfg(feature = "kafka")]
//! Broker faults injected into librdkafka's in-process mock cluster: a broker
//! down and back up, a broker gone for good, produce requests failing with
//! retriable and non-retriable errors, added round-trip time, a partition
//! without a leader, and librdkafka's queue full while the collector closes.
//!
//! Each scenario checks the books: after the run every event is delivered or
//! failed (never both, never neither: submitted == delivered + failed), every
//! tracked submit answers truthfully (MB_OK events are in the topic, read back
//! with a real consumer; MB_ERR_DELIVERY events are counted failed), and
//! delivery resumes once the fault is lifted. Each prints one RELIABILITY
//! line (scripts/reliability.sh collects them).
//!
//! The mock cluster is created on the test's own thread (librdkafka's mock
//! API must be driven from the thread that created it); producers run on
//! scoped threads while the test thread injects the faults.

mod reliability;

use microbatch::{Code, Collector, Config};
use rdkafka::mocking::MockCluster;
use rdkafka::producer::DefaultProducerContext;
use rdkafka::types::{RDKafkaApiKey, RDKafkaRespErr};
use reliability::*;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The scenarios measure time, memory and delivery counts; run one at a time.
static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

type Mock = MockCluster<'static, DefaultProducerContext>;

/// A one-broker mock cluster (broker id 1) with `topic` of one partition.
fn mock(topic: &str) -> Mock {
    let m = MockCluster::new(1).expect("mock cluster");
    m.create_topic(topic, 1, 1).expect("create topic");
    m
}

fn collector(mock: &Mock, topic: &str, extra: &[(&str, &str)]) -> Collector {
    let bootstrap = mock.bootstrap_servers();
    let mut c = Config::default();
    let base = [
        ("kafka.bootstrap.servers", bootstrap.as_str()),
        ("kafka.topic", topic),
        ("level", "L2_FAST"),
        ("partitions", "2"),
        ("close.timeout.ms", "2000"),
        // The faults are the variable here: batching stays at the level's
        // bootstrap (N, T), and nothing is written to the calibration file.
        ("calibration.enabled", "false"),
        // Quick reconnects, so "resumes when the broker returns" is seconds.
        ("kafka.reconnect.backoff.ms", "10"),
        ("kafka.reconnect.backoff.max.ms", "200"),
        ("kafka.retry.backoff.ms", "20"),
        ("kafka.retry.backoff.max.ms", "200"),
    ];
    for (k, v) in base.iter().chain(extra) {
        c.set(k, v).unwrap_or_else(|e| panic!("{k}={v}: {e}"));
    }
    Collector::new(&c).expect("collector")
}

/// Resident set size of this process, bytes.
fn rss() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: u64 = statm.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    pages * 4096
}

/// What the producer threads did.
#[derive(Default)]
struct Produced {
    /// (producer, seq, ticket) of every accepted tracked submit.
    tickets: Vec<(u32, u32, u64)>,
    /// Submits answered MB_ERR_FULL (retried).
    full: u64,
}

/// `producers` threads submit tracked events (paced: `per_ms` events per
/// millisecond each) until `stop` is set, retrying MB_ERR_FULL after 1 ms.
/// Returns once they have stopped; `during` runs on the calling thread
/// meanwhile (the fault injection) and sets `stop` when it is done.
fn produce_while(c: &Collector, run: u64, producers: u32, per_ms: u32, during: impl FnOnce(&AtomicBool, &AtomicU64)) -> Produced {
    let stop = AtomicBool::new(false);
    let full = AtomicU64::new(0);
    let mut out = Produced::default();
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..producers)
            .map(|p| {
                let (stop, full) = (&stop, &full);
                s.spawn(move || {
                    let mut mine = Vec::new();
                    let mut seq = 0u32;
                    while !stop.load(Ordering::Relaxed) {
                        for _ in 0..per_ms {
                            let ev = event(run, p, seq);
                            loop {
                                match c.submit_tracked(&ev) {
                                    Ok(t) => {
                                        mine.push((p, seq, t));
                                        break;
                                    }
                                    Err(e) if matches!(e.code(), Code::MB_ERR_FULL | Code::MB_ERR_TRACKING_FULL) => {
                                        full.fetch_add(1, Ordering::Relaxed);
                                        if stop.load(Ordering::Relaxed) {
                                            return mine;
                                        }
                                        std::thread::sleep(Duration::from_millis(1));
                                    }
                                    Err(e) => panic!("submit: {e}"),
                                }
                            }
                            seq += 1;
                        }
                        std::thread::sleep(Duration::from_millis(1));
                    }
                    mine
                })
            })
            .collect();
        during(&stop, &full);
        stop.store(true, Ordering::Relaxed);
        for h in handles {
            out.tickets.extend(h.join().unwrap());
        }
    });
    out.full = full.load(Ordering::Relaxed);
    out
}

/// Every ticket's answer: (acknowledged, failed) per producer. A ticket must
/// answer MB_OK or MB_ERR_DELIVERY within `limit`.
/// (acknowledged, failed) sequence numbers per producer, and up to four
/// distinct failure messages.
type Answers = (BTreeMap<u32, Vec<u32>>, BTreeMap<u32, Vec<u32>>, Vec<String>);

fn answers(c: &Collector, tickets: &[(u32, u32, u64)], limit: Duration) -> Answers {
    let (mut ok, mut failed, mut messages) = (BTreeMap::new(), BTreeMap::new(), Vec::new());
    let deadline = Instant::now() + limit;
    for &(p, seq, t) in tickets {
        match c.wait(t, deadline.saturating_duration_since(Instant::now())) {
            Ok(_) => ok.entry(p).or_insert_with(Vec::new).push(seq),
            Err(e) if e.code() == Code::MB_ERR_DELIVERY => {
                failed.entry(p).or_insert_with(Vec::new).push(seq);
                if messages.len() < 4 && !messages.contains(&e.message().to_string()) {
                    messages.push(e.message().to_string());
                }
            }
            Err(e) => panic!("ticket of ({p}, {seq}) answered {e}"),
        }
    }
    (ok, failed, messages)
}

fn count(m: &BTreeMap<u32, Vec<u32>>) -> u64 {
    m.values().map(|v| v.len() as u64).sum()
}

/// The books after a run: nothing pending, each event counted once.
fn balanced(c: &Collector, submitted: u64) -> microbatch::Status {
    let s = c.status();
    assert_eq!(s.submitted, submitted, "every accepted submit is counted");
    assert_eq!(s.pending, 0, "nothing left pending after flush: {s:?}");
    assert_eq!(s.submitted, s.delivered + s.failed, "delivered + failed == submitted: {s:?}");
    s
}

/// Broker down for 1.5 s in the middle of a run, then back: nothing is
/// delivered while it is away, submitters see MB_ERR_FULL (memory stays
/// bounded), and once it returns every event is delivered exactly once, in
/// order (acks=all, idempotence on).
#[test]
fn broker_down_and_back_loses_nothing() {
    let _serial = serial();
    let topic = unique_topic("down-up");
    let m = mock(&topic);
    let c = collector(&m, &topic, &[
        ("kafka.acks", "all"),
        ("kafka.enable.idempotence", "true"),
        ("kafka.message.timeout.ms", "30000"),
        ("ring.capacity.bytes", "65536"),
        ("event.max.bytes", "1024"),
        // A small librdkafka queue, so the outage reaches the rings quickly.
        ("kafka.queue.buffering.max.messages", "64"),
    ]);
    let run = run_tag();
    let (mut frozen, mut grew, mut full_while_down) = ((0, 0), 0u64, 0u64);
    let produced = produce_while(&c, run, 2, 20, |_, full| {
        std::thread::sleep(Duration::from_millis(400));
        assert!(c.status().delivered > 0, "delivering before the fault");
        m.broker_down(1).unwrap();
        let (rss0, full0) = (rss(), full.load(Ordering::Relaxed));
        // Give requests in flight at the cut time to fail over, then watch.
        std::thread::sleep(Duration::from_millis(300));
        let d0 = c.status().delivered;
        std::thread::sleep(Duration::from_millis(1200));
        frozen = (d0, c.status().delivered);
        grew = rss().saturating_sub(rss0);
        full_while_down = full.load(Ordering::Relaxed) - full0;
        m.broker_up(1).unwrap();
        std::thread::sleep(Duration::from_millis(500));
    });
    let submitted = produced.tickets.len() as u64;
    c.flush(Duration::from_secs(30)).expect("flush once the broker is back");
    let s = balanced(&c, submitted);
    let (ok, failed, _) = answers(&c, &produced.tickets, Duration::from_secs(5));
    let found = read_topic(&m.bootstrap_servers(), &topic, true, run, Duration::from_secs(30));
    let f = tally(&found);
    report(
        "mock_broker_down_and_back",
        "1 of 1 brokers down 1.5 s mid-run (acks=all, idempotence)",
        submitted,
        s.delivered,
        s.failed,
        Some(&f),
        &format!("MB_ERR_FULL while down={full_while_down} rss_growth_while_down={}KiB", grew / 1024),
    );
    assert_eq!(frozen.0, frozen.1, "nothing is delivered while the broker is down");
    assert!(full_while_down > 0, "a full ring pushes back on submitters while the broker is away");
    assert!(grew < 64 << 20, "memory stays bounded while the broker is away: grew {grew} bytes");
    assert_eq!((s.failed, count(&failed)), (0, 0), "the outage was shorter than message.timeout.ms");
    assert_eq!(count(&ok), submitted);
    assert!(missing(&ok, &found).is_empty(), "acknowledged events missing from the topic");
    assert_eq!((f.unique, f.duplicates, f.reordered), (submitted, 0, 0));
}

/// With submit.block.ms, a submit against a full ring waits that long for
/// room, then answers MB_ERR_FULL: it neither grows memory nor hangs.
#[test]
fn full_ring_blocks_for_submit_block_ms_then_refuses() {
    let _serial = serial();
    let topic = unique_topic("block");
    let m = mock(&topic);
    m.broker_down(1).unwrap();
    let c = collector(&m, &topic, &[
        ("partitions", "1"),
        ("ring.capacity.bytes", "65536"),
        ("event.max.bytes", "1024"),
        ("submit.block.ms", "200"),
        ("kafka.queue.buffering.max.messages", "4"),
        ("kafka.message.timeout.ms", "30000"),
    ]);
    let run = run_tag();
    let mut accepted = 0u32;
    let started = Instant::now();
    let (blocked, code) = loop {
        let t = Instant::now();
        match c.submit(&event(run, 0, accepted)) {
            Ok(()) => accepted += 1,
            Err(e) => break (t.elapsed(), e.code()),
        }
        assert!(started.elapsed() < Duration::from_secs(20), "the ring never filled");
    };
    report(
        "mock_full_ring_submit_block",
        "broker down from the start, ring 64 KiB, submit.block.ms=200",
        accepted as u64,
        c.status().delivered,
        c.status().failed,
        None,
        &format!("refused after blocking {} ms", blocked.as_millis()),
    );
    assert_eq!(code, Code::MB_ERR_FULL);
    assert!(blocked >= Duration::from_millis(195), "waited only {blocked:?} for room");
    assert!(blocked < Duration::from_millis(1500), "waited {blocked:?}, far beyond submit.block.ms");
    // Room comes back once the broker does, and the blocked-out events flow.
    m.broker_up(1).unwrap();
    c.submit(&event(run, 0, accepted)).expect("room once the broker is back");
    c.flush(Duration::from_secs(30)).unwrap();
    balanced(&c, accepted as u64 + 1);
    assert_eq!(c.status().failed, 0);
}

/// A broker that never comes back: once kafka.message.timeout.ms passes,
/// every pending event fails, tracked submits answer MB_ERR_DELIVERY, and
/// none of the failed events is in the topic. Events acknowledged before
/// the outage are.
#[test]
fn broker_gone_fails_every_pending_event_truthfully() {
    let _serial = serial();
    let topic = unique_topic("gone");
    let m = mock(&topic);
    let c = collector(&m, &topic, &[("kafka.message.timeout.ms", "1500"), ("kafka.acks", "all")]);
    let run = run_tag();
    let produced = produce_while(&c, run, 2, 5, |_, _| {
        std::thread::sleep(Duration::from_millis(300));
        m.broker_down(1).unwrap();
        std::thread::sleep(Duration::from_millis(500));
    });
    let submitted = produced.tickets.len() as u64;
    let (ok, failed, messages) = answers(&c, &produced.tickets, Duration::from_secs(20));
    c.flush(Duration::from_secs(20)).unwrap();
    let s = balanced(&c, submitted);
    m.broker_up(1).unwrap();
    let found = read_topic(&m.bootstrap_servers(), &topic, true, run, Duration::from_secs(30));
    let f = tally(&found);
    report(
        "mock_broker_gone",
        "1 of 1 brokers down for good after 0.3 s, message.timeout.ms=1500",
        submitted,
        s.delivered,
        s.failed,
        Some(&f),
        &format!(
            "tracked OK={} DELIVERY={}; failed but in the topic={}; error: {}",
            count(&ok),
            count(&failed),
            f.unique.saturating_sub(s.delivered),
            messages.first().map_or("", |m| m.as_str())
        ),
    );
    assert!(count(&ok) > 0 && count(&failed) > 0, "some events before the outage, some during it");
    assert_eq!((count(&ok), count(&failed)), (s.delivered, s.failed), "tickets agree with the counters");
    assert!(messages.iter().all(|m| m.contains("Kafka delivery failed")), "{messages:?}");
    assert!(missing(&ok, &found).is_empty(), "acknowledged events missing from the topic");
    // A failed event in the topic can only be one whose request was in
    // flight when the broker went down ("possibly persisted"): at most the
    // events of the frames in flight, never the ones that waited in memory.
    let failed_but_found = f.unique.saturating_sub(s.delivered);
    assert!(f.unique >= s.delivered, "delivered {} exceeds the {} events in the topic", s.delivered, f.unique);
    assert!(failed_but_found < 1000, "{failed_but_found} failed events are in the topic");
    assert_eq!((f.duplicates, f.reordered), (0, 0));
}

/// Produce requests failing with retriable errors: librdkafka retries, and
/// every event is delivered once (idempotence keeps retries from
/// duplicating). The first acknowledgement waits for the retries, which
/// shows the errors were really returned.
#[test]
fn retriable_produce_errors_are_retried_to_delivery() {
    let _serial = serial();
    let topic = unique_topic("retriable");
    let m = mock(&topic);
    let c = collector(&m, &topic, &[("kafka.acks", "all"), ("kafka.enable.idempotence", "true"), ("kafka.retry.backoff.ms", "100"), ("kafka.retry.backoff.max.ms", "100")]);
    let errors = [
        RDKafkaRespErr::RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS,
        RDKafkaRespErr::RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT,
        RDKafkaRespErr::RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS_AFTER_APPEND,
        RDKafkaRespErr::RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE,
        RDKafkaRespErr::RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS,
    ];
    let run = run_tag();
    // Warm up (connection, producer id), then inject.
    c.wait(c.submit_tracked(&event(run, 9, 0)).unwrap(), Duration::from_secs(10)).unwrap();
    m.request_errors(RDKafkaApiKey::Produce, &errors);
    let t0 = Instant::now();
    let first = c.submit_tracked(&event(run, 9, 1)).unwrap();
    let produced = produce_while(&c, run, 2, 5, |_, _| std::thread::sleep(Duration::from_millis(600)));
    c.wait(first, Duration::from_secs(20)).expect("delivered after the retries");
    let first_latency = t0.elapsed();
    c.flush(Duration::from_secs(30)).unwrap();
    let submitted = produced.tickets.len() as u64 + 2;
    let s = balanced(&c, submitted);
    let (ok, failed, _) = answers(&c, &produced.tickets, Duration::from_secs(5));
    let found = read_topic(&m.bootstrap_servers(), &topic, true, run, Duration::from_secs(30));
    let f = tally(&found);
    report(
        "mock_retriable_produce_errors",
        "5 Produce errors: NOT_ENOUGH_REPLICAS, REQUEST_TIMED_OUT, NOT_ENOUGH_REPLICAS_AFTER_APPEND, LEADER_NOT_AVAILABLE, NOT_ENOUGH_REPLICAS",
        submitted,
        s.delivered,
        s.failed,
        Some(&f),
        &format!("first ack after {} ms", first_latency.as_millis()),
    );
    assert!(first_latency >= Duration::from_millis(300), "the errors delayed the first ack by retries: {first_latency:?}");
    assert_eq!((s.failed, count(&failed)), (0, 0));
    assert_eq!(count(&ok), produced.tickets.len() as u64);
    assert!(missing(&ok, &found).is_empty());
    assert_eq!((f.unique, f.duplicates, f.reordered), (submitted, 0, 0));
}

/// A non-retriable produce error fails exactly the frame it hit: its tracked
/// events answer MB_ERR_DELIVERY and are not in the topic, the events before
/// and after are delivered, and the books balance.
#[test]
fn non_retriable_produce_error_fails_only_its_frame() {
    let _serial = serial();
    let topic = unique_topic("fatal");
    let m = mock(&topic);
    let c = collector(&m, &topic, &[("partitions", "1")]);
    let run = run_tag();
    c.wait(c.submit_tracked(&event(run, 0, 0)).unwrap(), Duration::from_secs(10)).unwrap();
    m.request_errors(RDKafkaApiKey::Produce, &[RDKafkaRespErr::RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE]);
    let doomed = c.submit_tracked(&event(run, 0, 1)).unwrap();
    let e = c.wait(doomed, Duration::from_secs(10)).expect_err("the injected error fails the frame");
    assert_eq!(e.code(), Code::MB_ERR_DELIVERY, "{e}");
    let later: Vec<u64> = (2..200).map(|i| c.submit_tracked(&event(run, 0, i)).unwrap()).collect();
    for t in &later {
        c.wait(*t, Duration::from_secs(10)).expect("events after the error are delivered");
    }
    c.flush(Duration::from_secs(10)).unwrap();
    let s = balanced(&c, 200);
    let found = read_topic(&m.bootstrap_servers(), &topic, true, run, Duration::from_secs(30));
    let f = tally(&found);
    report(
        "mock_non_retriable_produce_error",
        "1 Produce error MSG_SIZE_TOO_LARGE",
        200,
        s.delivered,
        s.failed,
        Some(&f),
        &format!("error: {}", e.message()),
    );
    assert_eq!((s.delivered, s.failed), (199, 1));
    let seqs = &found[&0];
    assert!(!seqs.contains(&1), "the failed event is not in the topic");
    assert_eq!((f.unique, f.duplicates, f.reordered), (199, 0, 0));
    assert!(e.message().contains("Kafka delivery failed"), "{e}");
}

/// A failure after the request reached the broker (a timed-out request,
/// retries exhausted) may still have been written: librdkafka calls that
/// "possibly persisted", and the delivery error says so. A failure before
/// anything was sent says "not persisted".
#[test]
fn possibly_persisted_failures_are_reported_as_such() {
    let _serial = serial();
    let topic = unique_topic("persisted");
    let m = mock(&topic);
    let c = collector(&m, &topic, &[("partitions", "1"), ("kafka.retries", "0")]);
    let run = run_tag();
    c.wait(c.submit_tracked(&event(run, 0, 0)).unwrap(), Duration::from_secs(10)).unwrap();
    m.request_errors(RDKafkaApiKey::Produce, &[RDKafkaRespErr::RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT]);
    let maybe = c.wait(c.submit_tracked(&event(run, 0, 1)).unwrap(), Duration::from_secs(10)).expect_err("retries=0");
    m.request_errors(RDKafkaApiKey::Produce, &[RDKafkaRespErr::RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE]);
    let not = c.wait(c.submit_tracked(&event(run, 0, 2)).unwrap(), Duration::from_secs(10)).expect_err("rejected");
    c.flush(Duration::from_secs(10)).unwrap();
    let s = balanced(&c, 3);
    report(
        "mock_possibly_persisted",
        "REQUEST_TIMED_OUT with retries=0, then MSG_SIZE_TOO_LARGE",
        3,
        s.delivered,
        s.failed,
        None,
        &format!("first: {} / second: {}", maybe.message(), not.message()),
    );
    assert_eq!((maybe.code(), not.code()), (Code::MB_ERR_DELIVERY, Code::MB_ERR_DELIVERY));
    assert!(maybe.message().contains("possibly persisted"), "{maybe}");
    assert!(not.message().contains("not persisted"), "{not}");
    assert!(!not.message().contains("possibly"), "{not}");
}

/// 300 ms added to every broker round trip: every event is still delivered,
/// and no acknowledgement comes sooner than the added delay.
#[test]
fn added_round_trip_time_delays_but_loses_nothing() {
    let _serial = serial();
    let topic = unique_topic("rtt");
    let m = mock(&topic);
    let c = collector(&m, &topic, &[("kafka.acks", "all")]);
    let run = run_tag();
    c.wait(c.submit_tracked(&event(run, 9, 0)).unwrap(), Duration::from_secs(10)).unwrap();
    m.broker_round_trip_time(1, Duration::from_millis(300)).unwrap();
    let probes: Vec<(Instant, u64)> = (1..6u32).map(|i| (Instant::now(), c.submit_tracked(&event(run, 9, i)).unwrap())).collect();
    let produced = produce_while(&c, run, 2, 5, |_, _| std::thread::sleep(Duration::from_millis(800)));
    let mut fastest = Duration::MAX;
    for (t0, t) in probes {
        c.wait(t, Duration::from_secs(20)).unwrap();
        fastest = fastest.min(t0.elapsed());
    }
    c.flush(Duration::from_secs(30)).unwrap();
    let submitted = produced.tickets.len() as u64 + 6;
    let s = balanced(&c, submitted);
    let (ok, _, _) = answers(&c, &produced.tickets, Duration::from_secs(5));
    m.broker_round_trip_time(1, Duration::ZERO).unwrap();
    let found = read_topic(&m.bootstrap_servers(), &topic, true, run, Duration::from_secs(30));
    let f = tally(&found);
    report("mock_round_trip_time", "+300 ms per broker round trip", submitted, s.delivered, s.failed, Some(&f), &format!("fastest ack {} ms", fastest.as_millis()));
    assert!(fastest >= Duration::from_millis(300), "an ack came back in {fastest:?}, sooner than the added RTT");
    assert_eq!(s.failed, 0);
    assert!(missing(&ok, &found).is_empty());
    assert_eq!((f.unique, f.duplicates, f.reordered), (submitted, 0, 0));
}

/// The topic's only partition loses its reachable leader for 1.5 s: its
/// leadership moves to broker 2, which is down. Nothing is delivered
/// meanwhile, and once broker 2 is up everything is, once.
///
/// A truly leaderless partition (`partition_leader(.., None)`) cannot be
/// used: librdkafka 2.12.1's mock broker dereferences the missing leader
/// when it answers a Produce request for it and crashes the process
/// (rd_kafka_mock_Produce_reply_tags_partition_write). To the producer both
/// look the same: metadata names no leader it can reach.
#[test]
fn partition_without_leader_stalls_then_resumes() {
    let _serial = serial();
    let topic = unique_topic("leaderless");
    let m = MockCluster::new(2).expect("mock cluster");
    m.create_topic(&topic, 1, 1).expect("create topic");
    m.partition_leader(&topic, 0, Some(1)).unwrap();
    let c = collector(&m, &topic, &[
        ("kafka.acks", "all"),
        ("kafka.enable.idempotence", "true"),
        ("kafka.topic.metadata.refresh.interval.ms", "100"),
        ("kafka.message.timeout.ms", "30000"),
    ]);
    let run = run_tag();
    let mut frozen = (0, 0);
    let produced = produce_while(&c, run, 2, 5, |_, _| {
        std::thread::sleep(Duration::from_millis(300));
        m.broker_down(2).unwrap();
        m.partition_leader(&topic, 0, Some(2)).unwrap();
        // librdkafka learns of the move from broker 1's NOT_LEADER answer
        // or its next metadata refresh; requests in flight settle meanwhile.
        std::thread::sleep(Duration::from_millis(500));
        let d0 = c.status().delivered;
        std::thread::sleep(Duration::from_millis(1000));
        frozen = (d0, c.status().delivered);
        m.broker_up(2).unwrap();
        std::thread::sleep(Duration::from_millis(300));
    });
    let submitted = produced.tickets.len() as u64;
    c.flush(Duration::from_secs(30)).expect("delivery resumes with a leader");
    let s = balanced(&c, submitted);
    let (ok, failed, _) = answers(&c, &produced.tickets, Duration::from_secs(5));
    let found = read_topic(&m.bootstrap_servers(), &topic, true, run, Duration::from_secs(30));
    let f = tally(&found);
    report(
        "mock_partition_without_leader",
        "partition 0's leader moved to a broker that is down, for 1.5 s (acks=all, idempotence)",
        submitted,
        s.delivered,
        s.failed,
        Some(&f),
        &format!("delivered while leaderless: {}", frozen.1 - frozen.0),
    );
    assert_eq!(frozen.0, frozen.1, "nothing is delivered without a reachable leader");
    assert_eq!((s.failed, count(&failed)), (0, 0));
    assert!(missing(&ok, &found).is_empty());
    assert_eq!((f.unique, f.duplicates, f.reordered), (submitted, 0, 0));
}

/// librdkafka's queue full and the broker away when the collector is
/// freed: free returns within close.timeout.ms plus the close margin
/// (microbatch::CLOSE_MARGIN, 0.5 s) plus teardown, not after
/// kafka.message.timeout.ms (10 s here; before free told the sink it was
/// closing it took about that, and before the stall rule in
/// src/sink/kafka.rs one message timeout per queue-load of records), and
/// every tracked event's outcome, MB_ERR_DELIVERY, can still be drained
/// from the completion queue after the free.
#[test]
fn free_with_librdkafka_queue_full_is_bounded_and_fails_every_event() {
    use microbatch::ffi::*;
    use microbatch::tracking::AckEvent;
    let _serial = serial();
    let topic = unique_topic("queuefull");
    let m = mock(&topic);
    m.broker_down(1).unwrap();
    let bootstrap = m.bootstrap_servers();
    let h = c_abi_collector(&[
        ("kafka.bootstrap.servers", bootstrap.as_str()),
        ("kafka.topic", topic.as_str()),
        ("kafka.mode", "record"),
        ("partitions", "1"),
        ("level", "L2_FAST"),
        ("tracking.queue", "true"),
        ("kafka.queue.buffering.max.messages", "10"),
        ("kafka.message.timeout.ms", "10000"),
        ("close.timeout.ms", "200"),
        ("calibration.enabled", "false"),
    ]);
    let run = run_tag();
    let n = 300u32;
    for i in 0..n {
        let ev = event(run, 0, i);
        let mut ticket = 0;
        assert_eq!(mb_collector_submit_tracked(h, ev.as_ptr(), ev.len(), &mut ticket), Code::MB_OK);
    }
    std::thread::sleep(Duration::from_millis(100));
    let t0 = Instant::now();
    mb_collector_free(h);
    let took = t0.elapsed();
    // The queue outlives the free: drain every outcome.
    let (mut ok, mut failed) = (0u64, 0u64);
    let blank = AckEvent { ticket: 0, result: Code::MB_OK, partition: -1, offset: -1, index: 0, reserved: 0 };
    let mut buf = vec![blank; 64];
    let drain_until = Instant::now() + Duration::from_secs(20);
    loop {
        let mut got = 0usize;
        match mb_collector_poll_acks(h, buf.as_mut_ptr(), buf.len(), &mut got, 200) {
            Code::MB_OK => {}
            Code::MB_ERR_CLOSED => break,
            other => panic!("poll_acks: {other:?}"),
        }
        for a in &buf[..got] {
            match a.result {
                Code::MB_OK => ok += 1,
                _ => failed += 1,
            }
        }
        assert!(Instant::now() < drain_until, "outcomes still missing: {ok} ok, {failed} failed of {n}");
    }
    report(
        "mock_free_with_queue_full",
        "broker down, librdkafka queue of 10 records, 300 tracked records, close.timeout.ms=200, message.timeout.ms=10000",
        n as u64,
        ok,
        failed,
        None,
        &format!("free took {} ms; outcomes drained after free: {}", took.as_millis(), ok + failed),
    );
    // close.timeout.ms + CLOSE_MARGIN, and 0.7 s for the producer's teardown
    // (its poll thread wakes every 100 ms) on a busy 2-core machine.
    assert!(took < Duration::from_millis(200 + 500 + 700), "free took {took:?}");
    assert_eq!((ok, failed), (0, n as u64), "every event failed, each reported once");
}

/// The broker gone and librdkafka's queue not full when the collector
/// closes: close gives up after close.timeout.ms (plus the close margin),
/// not after kafka.message.timeout.ms, purges what librdkafka still holds,
/// and counts every event it gave up on as failed before it returns:
/// `pending` is 0 and tracked submits answer MB_ERR_DELIVERY ("not
/// persisted": they never reached a broker).
#[test]
fn close_with_broker_gone_honours_close_timeout_and_fails_the_rest() {
    let _serial = serial();
    let topic = unique_topic("closegone");
    let m = mock(&topic);
    m.broker_down(1).unwrap();
    let c = collector(&m, &topic, &[("close.timeout.ms", "300"), ("kafka.message.timeout.ms", "30000")]);
    let run = run_tag();
    let mut tickets = Vec::new();
    for i in 0..2000u32 {
        if i % 4 == 0 {
            tickets.push(c.submit_tracked(&event(run, 0, i)).unwrap());
        } else {
            c.submit(&event(run, 0, i)).unwrap();
        }
    }
    std::thread::sleep(Duration::from_millis(100));
    let t0 = Instant::now();
    let closed = c.close();
    let took = t0.elapsed();
    let s = c.status();
    let mut messages = Vec::new();
    for &t in &tickets {
        let e = c.wait(t, Duration::ZERO).expect_err("nothing can be delivered with the broker down");
        assert_eq!(e.code(), Code::MB_ERR_DELIVERY, "{e}");
        if messages.is_empty() {
            messages.push(e.message().to_string());
        }
    }
    report(
        "mock_close_with_broker_gone",
        "1 of 1 brokers down, 2000 events (500 tracked) pending at close, close.timeout.ms=300, message.timeout.ms=30000",
        s.submitted,
        s.delivered,
        s.failed,
        None,
        &format!("close took {} ms; pending after close={}; error: {}", took.as_millis(), s.pending, messages[0]),
    );
    assert_eq!(closed.unwrap_err().code(), Code::MB_ERR_TIMEOUT, "close says it did not deliver everything");
    assert!(took >= Duration::from_millis(290), "close gave up after {took:?}, before close.timeout.ms");
    // close.timeout.ms + CLOSE_MARGIN (0.5 s) + 0.4 s for a busy machine.
    assert!(took < Duration::from_millis(300 + 500 + 400), "close took {took:?}");
    assert_eq!((s.submitted, s.delivered, s.failed, s.pending), (2000, 0, 2000, 0), "{s:?}");
    assert!(messages[0].contains("not persisted"), "{}", messages[0]);
}

/// A thread blocked in mb_collector_flush when another frees the collector
/// gets the true answer, not MB_ERR_CLOSED: free reports every event
/// submitted before the flush (here, with the broker gone, as failed once
/// close.timeout.ms has passed), and the flush then returns MB_OK, about
/// when the free does (it once answered MB_ERR_CLOSED as soon as the free
/// began, although free went on to settle its events).
#[test]
fn flush_in_progress_when_free_starts_gets_the_true_answer() {
    use microbatch::ffi::*;
    use microbatch::tracking::AckEvent;
    let _serial = serial();
    let topic = unique_topic("flushfree");
    let m = mock(&topic);
    m.broker_down(1).unwrap();
    let bootstrap = m.bootstrap_servers();
    let h = c_abi_collector(&[
        ("kafka.bootstrap.servers", bootstrap.as_str()),
        ("kafka.topic", topic.as_str()),
        ("partitions", "1"),
        ("tracking.queue", "true"),
        ("close.timeout.ms", "300"),
        ("kafka.message.timeout.ms", "30000"),
        ("calibration.enabled", "false"),
    ]);
    let run = run_tag();
    for i in 0..500u32 {
        let ev = event(run, 0, i);
        let mut ticket = 0;
        assert_eq!(mb_collector_submit_tracked(h, ev.as_ptr(), ev.len(), &mut ticket), Code::MB_OK);
    }
    struct Ptr(*mut microbatch::handle::Handle);
    unsafe impl Send for Ptr {}
    let flusher = {
        let p = Ptr(h);
        std::thread::spawn(move || {
            let p = p;
            let t = Instant::now();
            (mb_collector_flush(p.0, 20_000), t.elapsed())
        })
    };
    std::thread::sleep(Duration::from_millis(100));
    let t0 = Instant::now();
    mb_collector_free(h);
    let freed_after = t0.elapsed();
    let (rc, flushed_after) = flusher.join().unwrap();
    // Every outcome, drained after the free.
    let (mut ok, mut failed) = (0u64, 0u64);
    let blank = AckEvent { ticket: 0, result: Code::MB_OK, partition: -1, offset: -1, index: 0, reserved: 0 };
    let mut buf = vec![blank; 64];
    loop {
        let mut got = 0usize;
        match mb_collector_poll_acks(h, buf.as_mut_ptr(), buf.len(), &mut got, 200) {
            Code::MB_OK => {}
            Code::MB_ERR_CLOSED => break,
            other => panic!("poll_acks: {other:?}"),
        }
        for a in &buf[..got] {
            match a.result {
                Code::MB_OK => ok += 1,
                _ => failed += 1,
            }
        }
    }
    report(
        "mock_flush_during_free",
        "broker down, 500 tracked events, a thread in flush(20 s) when free starts, close.timeout.ms=300",
        500,
        ok,
        failed,
        None,
        &format!("flush answered {rc:?} after {} ms; free took {} ms", flushed_after.as_millis(), freed_after.as_millis()),
    );
    assert_eq!((ok, failed), (0, 500), "every event failed, each reported once");
    assert_eq!(rc, Code::MB_OK, "free reported every event, so the flush is done");
    assert!(flushed_after < Duration::from_millis(100 + 300 + 500 + 700), "flush took {flushed_after:?}");
}
