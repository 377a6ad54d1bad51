#![cfg(feature = "kafka")]
//! The Kafka sink against librdkafka's in-process mock cluster (the default
//! when no bootstrap servers are configured) and against an unreachable
//! address. The real-broker tests are in tests/kafka_broker.rs.

use microbatch::{Code, Collector, Config};
use std::time::Duration;

fn config(pairs: &[(&str, &str)]) -> Config {
    let mut c = Config::default();
    // Learned configs stay out of these tests (and out of the home folder).
    c.set("calibration.path", ":memory:").unwrap();
    for (k, v) in pairs {
        c.set(k, v).unwrap_or_else(|e| panic!("{k}={v}: {e}"));
    }
    c
}

fn produce(c: &Collector, threads: u32, per_thread: u32) {
    std::thread::scope(|s| {
        for t in 0..threads {
            s.spawn(move || {
                for i in 0..per_thread {
                    let mut ev = [0u8; 100];
                    ev[..4].copy_from_slice(&t.to_le_bytes());
                    ev[4..8].copy_from_slice(&i.to_le_bytes());
                    loop {
                        match c.submit(&ev) {
                            Ok(()) => break,
                            Err(e) if e.code() == Code::MB_ERR_FULL => std::thread::yield_now(),
                            Err(e) => panic!("{e}"),
                        }
                    }
                }
            });
        }
    });
}

#[test]
fn frames_reach_the_embedded_mock_cluster() {
    let c = Collector::new(&config(&[("level", "L3_LOW")])).unwrap();
    produce(&c, 2, 20_000);
    c.flush(Duration::from_secs(30)).unwrap();
    let s = c.status();
    assert_eq!((s.submitted, s.delivered, s.failed, s.pending), (40_000, 40_000, 0, 0));
    assert!(s.flushed_batches >= 1 && s.flushed_batches < 40_000, "events travel in frames: {}", s.flushed_batches);
}

#[test]
fn wire_bytes_come_from_librdkafkas_statistics() {
    // Without statistics the sink cannot know them.
    let quiet = Collector::new(&config(&[("level", "L3_LOW")])).unwrap();
    produce(&quiet, 1, 1_000);
    quiet.flush(Duration::from_secs(30)).unwrap();
    assert_eq!(quiet.wire_bytes(), None);

    let c = Collector::new(&config(&[("level", "L3_LOW"), ("kafka.statistics.interval.ms", "100")])).unwrap();
    produce(&c, 1, 20_000);
    c.flush(Duration::from_secs(30)).unwrap();
    // The next report after the flush counts every byte sent.
    std::thread::sleep(Duration::from_millis(300));
    let sent = c.wire_bytes().expect("a statistics report");
    // 20,000 events of 100 bytes went out in frames: at least the frames'
    // headers and some payload (the default lz4 shrinks these mostly-zero
    // events), at most the payload plus generous protocol overhead.
    assert!(sent > 1_000 && sent < 20_000 * 100 * 2, "{sent} bytes on the wire");
}

#[test]
fn record_mode_counts_each_event() {
    let c = Collector::new(&config(&[("kafka.mode", "record"), ("kafka.bootstrap.servers", "mock")])).unwrap();
    produce(&c, 2, 5_000);
    c.flush(Duration::from_secs(30)).unwrap();
    let s = c.status();
    assert_eq!((s.submitted, s.delivered, s.failed, s.pending), (10_000, 10_000, 0, 0));
}

#[test]
fn librdkafka_rejections_surface_as_invalid_config() {
    let e = Collector::new(&config(&[("kafka.acks", "maybe")])).err().expect("librdkafka accepted acks=maybe");
    assert_eq!(e.code(), Code::MB_ERR_INVALID_CONFIG);
    assert!(e.message().contains("librdkafka") && e.message().contains("acks"), "{}", e.message());

    let e = Collector::new(&config(&[("kafka.no.such.property", "1")])).err().expect("accepted an unknown property");
    assert!(e.message().contains("no.such.property"), "{}", e.message());
}

#[test]
fn frames_larger_than_message_max_bytes_are_refused_up_front() {
    let e = Collector::new(&config(&[("batch.max.bytes", "2000000")])).err().expect("accepted");
    assert_eq!(e.code(), Code::MB_ERR_INVALID_CONFIG);
    assert!(e.message().contains("message.max.bytes"), "{}", e.message());
    // Raising librdkafka's limit makes the same frames acceptable.
    Collector::new(&config(&[("batch.max.bytes", "2000000"), ("kafka.message.max.bytes", "4000000")])).unwrap();
}

#[test]
fn unreachable_broker_fails_events_and_keeps_the_books_balanced() {
    let c = Collector::new(&config(&[
        ("kafka.bootstrap.servers", "127.0.0.1:1"),
        ("kafka.message.timeout.ms", "1500"),
        ("level", "L1_REALTIME"),
        ("close.timeout.ms", "100"),
    ]))
    .unwrap();
    produce(&c, 1, 1_000);
    // While the broker is away the events are pending, never lost.
    let s = c.status();
    assert_eq!(s.submitted, s.delivered + s.failed + s.pending);
    let e = c.flush(Duration::from_millis(200)).unwrap_err();
    assert_eq!(e.code(), Code::MB_ERR_TIMEOUT);
    // After message.timeout.ms librdkafka gives up and reports them failed.
    c.flush(Duration::from_secs(20)).unwrap();
    let s = c.status();
    assert_eq!((s.submitted, s.delivered, s.failed, s.pending), (1_000, 0, 1_000, 0));
    assert!(s.sink_errors > 0, "the unreachable broker shows in status");
    assert!(c.last_delivery_error().unwrap().message().contains("Kafka delivery failed"));
}

#[test]
fn tracked_submits_are_acknowledged_with_their_position() {
    let c = Collector::new(&config(&[("level", "L2_FAST")])).unwrap();
    let acks: Vec<_> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..4u32)
            .map(|t| {
                let c = &c;
                s.spawn(move || {
                    let tickets: Vec<u64> = (0..200u32)
                        .map(|i| c.submit_tracked(&[t as u8, i as u8, (i >> 8) as u8]).unwrap())
                        .collect();
                    tickets.into_iter().map(|tk| c.wait(tk, Duration::from_secs(30)).unwrap()).collect::<Vec<_>>()
                })
            })
            .collect();
        handles.into_iter().flat_map(|h| h.join().unwrap()).collect()
    });
    assert_eq!(acks.len(), 800);
    let mut ids: Vec<_> = acks.iter().map(|a| (a.partition, a.offset, a.index)).collect();
    assert!(acks.iter().all(|a| a.partition >= 0 && a.offset >= 0));
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 800, "every event has its own (partition, offset, index)");
    let s = c.status();
    assert_eq!((s.submitted, s.delivered, s.pending), (800, 800, 0));
}

#[test]
fn a_ticket_keeps_its_answer_and_failures_are_reported() {
    let c = Collector::new(&config(&[("level", "L1_REALTIME")])).unwrap();
    let t = c.submit_tracked(b"x").unwrap();
    let ack = c.wait(t, Duration::from_secs(30)).unwrap();
    assert!(ack.partition >= 0 && ack.offset >= 0);
    assert_eq!(c.wait(t, Duration::from_millis(1)).unwrap(), ack, "asking again gets the same answer");
    assert_eq!(c.wait(12345, Duration::from_millis(1)).unwrap_err().code(), Code::MB_ERR_UNKNOWN_TICKET);

    let c = Collector::new(&config(&[
        ("kafka.bootstrap.servers", "127.0.0.1:1"),
        ("kafka.message.timeout.ms", "1000"),
        ("level", "L1_REALTIME"),
        ("close.timeout.ms", "100"),
    ]))
    .unwrap();
    let t = c.submit_tracked(b"doomed").unwrap();
    assert_eq!(c.wait(t, Duration::from_millis(100)).unwrap_err().code(), Code::MB_ERR_TIMEOUT, "still pending");
    assert_eq!(c.wait(t, Duration::from_secs(20)).unwrap_err().code(), Code::MB_ERR_DELIVERY);
}

#[test]
fn tracking_slots_are_bounded() {
    // L10: nothing is flushed before flush(), so both slots stay in use.
    let c = Collector::new(&config(&[("tracking.slots", "2"), ("level", "L10_MAX")])).unwrap();
    let a = c.submit_tracked(b"a").unwrap();
    let b = c.submit_tracked(b"b").unwrap();
    assert_eq!(c.submit_tracked(b"c").unwrap_err().code(), Code::MB_ERR_TRACKING_FULL);
    c.flush(Duration::from_secs(30)).unwrap();
    let c3 = c.submit_tracked(b"c").unwrap();
    c.flush(Duration::from_secs(30)).unwrap();
    // c took the slot `a` released first: a's outcome is no longer kept.
    assert_eq!(c.wait(a, Duration::from_secs(30)).unwrap_err().code(), Code::MB_ERR_UNKNOWN_TICKET);
    c.wait(b, Duration::from_secs(30)).unwrap();
    c.wait(c3, Duration::from_secs(30)).unwrap();
    assert_eq!(c.status().rejected, 1);
}
