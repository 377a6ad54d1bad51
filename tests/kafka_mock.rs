//! The Kafka sink against librdkafka's in-process mock cluster (the default
//! when no bootstrap servers are configured) and against an unreachable
//! address. The real-broker tests are in tests/kafka_broker.rs.

use microbatch::{Code, Collector, Config};
use std::time::Duration;

fn config(pairs: &[(&str, &str)]) -> Config {
    let mut c = Config::default();
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
