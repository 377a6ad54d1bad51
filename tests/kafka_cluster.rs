#![cfg(feature = "kafka")]
//! Real brokers killed with SIGKILL mid-run (opt-in: they need brokers that
//! may be killed, so they never share the broker of tests/kafka_broker.rs):
//!
//! * a 3-node KRaft cluster (`scripts/kafka-broker.sh cluster start`, topics
//!   with replication factor 3 and min.insync.replicas 2): the partition
//!   leader is killed mid-run and brought back afterwards;
//! * a single broker (`scripts/kafka-broker.sh start` in a state dir of its
//!   own): killed mid-run and restarted on its data.
//!
//! Both produce with `kafka.acks=all` and idempotence, then read the topic
//! back with a real consumer and check: every acknowledged event is present
//! exactly once and in per-producer order, `delivered` never exceeds what
//! the topic holds, and submitted == delivered + failed.
//!
//! Run them with scripts/reliability.sh --long, or by hand:
//!   MICROBATCH_TEST_CLUSTER_BOOTSTRAP=$(scripts/kafka-broker.sh cluster start) \
//!     cargo test --release --test kafka_cluster -- --nocapture
//!   export KAFKA_BROKER_STATE_DIR=target/kafka-killable
//!   MICROBATCH_TEST_KILLABLE_BOOTSTRAP=$(scripts/kafka-broker.sh start) \
//!     cargo test --release --test kafka_cluster -- --nocapture
//! Without those variables each test prints SKIPPED and passes.

mod reliability;

use microbatch::{Code, Collector, Config};
use rdkafka::producer::{BaseProducer, Producer};
use rdkafka::ClientConfig;
use reliability::*;
use std::collections::BTreeMap;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

static SERIAL: Mutex<()> = Mutex::new(());

const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/kafka-broker.sh");

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|s| !s.is_empty())
}

fn script(args: &[&str]) {
    let out = Command::new(SCRIPT).args(args).output().expect("run scripts/kafka-broker.sh");
    assert!(out.status.success(), "kafka-broker.sh {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    eprintln!("kafka-broker.sh {args:?}: {}", String::from_utf8_lossy(&out.stderr).trim());
}

/// Creates `topic` (auto-created with the brokers' defaults) and waits
/// until it has a leader; returns (leader node id, replica count).
fn topic_leader(bootstrap: &str, topic: &str) -> (i32, usize) {
    let p: BaseProducer = ClientConfig::new().set("bootstrap.servers", bootstrap).create().unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(m) = p.client().fetch_metadata(Some(topic), Duration::from_secs(5)) {
            if let Some(part) = m.topics().first().and_then(|t| t.partitions().first()) {
                if part.leader() >= 0 && part.error().is_none() {
                    return (part.leader(), part.replicas().len());
                }
            }
        }
        assert!(Instant::now() < deadline, "{topic} has no leader after 60 s");
        std::thread::sleep(Duration::from_millis(300));
    }
}

fn collector(bootstrap: &str, topic: &str) -> Collector {
    let mut c = Config::default();
    for (k, v) in [
        ("kafka.bootstrap.servers", bootstrap),
        ("kafka.topic", topic),
        ("kafka.acks", "all"),
        ("kafka.enable.idempotence", "true"),
        // Long enough to ride out a leader election and a broker restart.
        ("kafka.message.timeout.ms", "120000"),
        ("kafka.reconnect.backoff.max.ms", "500"),
        ("level", "L3_LOW"),
        ("partitions", "2"),
        ("submit.block.ms", "100"),
        ("tracking.queue", "true"),
        ("calibration.enabled", "false"),
    ] {
        c.set(k, v).unwrap();
    }
    Collector::new(&c).unwrap()
}

/// Producers submit tracked events until `during` returns, while one thread
/// drains every outcome from the completion queue (a run outlives
/// `tracking.slots` tickets, so answers are collected as they come, the way
/// a gateway does). Returns (submitted, acknowledged per producer, failed).
fn run_with(c: &Collector, run: u64, during: impl FnOnce()) -> (u64, BTreeMap<u32, Vec<u32>>, u64) {
    use microbatch::tracking::AckEvent;
    use std::collections::HashMap;
    use std::sync::atomic::AtomicU64;
    let stop = AtomicBool::new(false);
    let expected = AtomicU64::new(u64::MAX);
    let (tickets, outcomes) = std::thread::scope(|s| {
        let drainer = s.spawn(|| {
            let blank = AckEvent { ticket: 0, result: Code::MB_OK, partition: 0, offset: 0, index: 0, reserved: 0 };
            let mut buf = vec![blank; 1024];
            let mut out: HashMap<u64, Code> = HashMap::new();
            let deadline = Instant::now() + Duration::from_secs(600);
            while (out.len() as u64) < expected.load(Ordering::Acquire) {
                let n = c.poll_acks(&mut buf, Duration::from_millis(100)).expect("poll_acks");
                for a in &buf[..n] {
                    assert!(out.insert(a.ticket, a.result).is_none(), "an outcome reported twice");
                }
                assert!(Instant::now() < deadline, "outcomes still missing after 600 s");
            }
            out
        });
        let hs: Vec<_> = (0..2u32)
            .map(|p| {
                let stop = &stop;
                s.spawn(move || {
                    let mut mine = Vec::new();
                    let mut seq = 0;
                    while !stop.load(Ordering::Relaxed) {
                        match c.submit_tracked(&event(run, p, seq)) {
                            Ok(t) => {
                                mine.push((p, seq, t));
                                seq += 1;
                                if seq % 20 == 0 {
                                    std::thread::sleep(Duration::from_millis(1));
                                }
                            }
                            Err(e) if matches!(e.code(), Code::MB_ERR_FULL | Code::MB_ERR_TRACKING_FULL) => {
                                std::thread::sleep(Duration::from_millis(1))
                            }
                            Err(e) => panic!("{e}"),
                        }
                    }
                    mine
                })
            })
            .collect();
        during();
        stop.store(true, Ordering::Relaxed);
        let tickets: Vec<(u32, u32, u64)> = hs.into_iter().flat_map(|h| h.join().unwrap()).collect();
        expected.store(tickets.len() as u64, Ordering::Release);
        (tickets, drainer.join().unwrap())
    });
    let mut ok: BTreeMap<u32, Vec<u32>> = BTreeMap::new();
    let mut failed = 0;
    for (p, seq, t) in &tickets {
        match outcomes.get(t) {
            Some(Code::MB_OK) => ok.entry(*p).or_default().push(*seq),
            Some(_) => failed += 1,
            None => panic!("no outcome for ({p}, {seq})"),
        }
    }
    (tickets.len() as u64, ok, failed)
}

#[allow(clippy::too_many_arguments)]
fn check_books(scenario: &str, injected: &str, bootstrap: &str, topic: &str, run: u64, c: &Collector, submitted: u64, ok: &BTreeMap<u32, Vec<u32>>, failed: u64) {
    c.flush(Duration::from_secs(150)).expect("flush");
    let s = c.status();
    assert_eq!(s.submitted, submitted);
    assert_eq!((s.pending, s.submitted), (0, s.delivered + s.failed), "{s:?}");
    let found = read_topic(bootstrap, topic, true, run, Duration::from_secs(120));
    let f = tally(&found);
    let lost = missing(ok, &found);
    let acked: u64 = ok.values().map(|v| v.len() as u64).sum();
    report(scenario, injected, submitted, s.delivered, s.failed, Some(&f), &format!("tracked OK={acked} DELIVERY={failed} acknowledged-but-missing={}", lost.len()));
    assert!(lost.is_empty(), "acknowledged events missing: {:?}", &lost[..lost.len().min(10)]);
    assert_eq!(acked, s.delivered, "tickets agree with the delivered count");
    assert!(s.delivered <= f.unique, "delivered {} exceeds the {} events the topic holds", s.delivered, f.unique);
    assert_eq!(f.duplicates, 0, "idempotence: no event twice");
    assert_eq!(f.reordered, 0, "per-producer order kept");
}

#[test]
fn cluster_leader_killed_mid_run_loses_no_acknowledged_event() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let scenario = "cluster_leader_sigkill";
    let Some(bootstrap) = env("MICROBATCH_TEST_CLUSTER_BOOTSTRAP") else {
        skipped(scenario, "MICROBATCH_TEST_CLUSTER_BOOTSTRAP not set (scripts/reliability.sh --long starts a cluster)");
        return;
    };
    let topic = unique_topic("leader-kill");
    let (leader, replicas) = topic_leader(&bootstrap, &topic);
    assert_eq!(replicas, 3, "the cluster creates topics with replication factor 3");
    let c = collector(&bootstrap, &topic);
    let run = run_tag();
    let mut new_leader = -1;
    let (submitted, ok, failed) = run_with(&c, run, || {
        std::thread::sleep(Duration::from_secs(2));
        assert!(c.status().delivered > 0, "delivering before the kill");
        script(&["cluster", "kill", &leader.to_string()]);
        let t = Instant::now();
        // Keep producing through the election and a while after it.
        std::thread::sleep(Duration::from_secs(8));
        new_leader = topic_leader(&bootstrap, &topic).0;
        eprintln!("new leader {new_leader} known {:?} after the kill", t.elapsed());
    });
    // Back to three nodes, so the cluster can serve the next run.
    script(&["cluster", "resume", &leader.to_string()]);
    assert_ne!(new_leader, leader, "another node leads after the kill");
    check_books(
        scenario,
        &format!("SIGKILL of partition leader (node {leader}) of 3, RF=3 min.insync=2, acks=all, idempotence; new leader {new_leader}"),
        &bootstrap,
        &topic,
        run,
        &c,
        submitted,
        &ok,
        failed,
    );
}

#[test]
fn single_broker_killed_and_restarted_loses_no_acknowledged_event() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let scenario = "single_broker_sigkill_restart";
    let (Some(bootstrap), Some(_dir)) = (env("MICROBATCH_TEST_KILLABLE_BOOTSTRAP"), env("KAFKA_BROKER_STATE_DIR")) else {
        skipped(
            scenario,
            "MICROBATCH_TEST_KILLABLE_BOOTSTRAP and KAFKA_BROKER_STATE_DIR not set (scripts/reliability.sh --long starts a broker of its own)",
        );
        return;
    };
    let topic = unique_topic("broker-kill");
    topic_leader(&bootstrap, &topic);
    let c = collector(&bootstrap, &topic);
    let run = run_tag();
    let mut frozen = (0, 0);
    let mut away = Duration::ZERO;
    let (submitted, ok, failed) = run_with(&c, run, || {
        std::thread::sleep(Duration::from_secs(2));
        assert!(c.status().delivered > 0, "delivering before the kill");
        let t = Instant::now();
        script(&["kill"]);
        std::thread::sleep(Duration::from_millis(500));
        let d0 = c.status().delivered;
        std::thread::sleep(Duration::from_secs(2));
        frozen = (d0, c.status().delivered);
        script(&["resume"]);
        away = t.elapsed();
        std::thread::sleep(Duration::from_secs(3));
    });
    assert_eq!(frozen.0, frozen.1, "nothing is delivered while the only broker is dead");
    check_books(
        scenario,
        &format!("SIGKILL of the only broker mid-run, back on its data {:.1} s later (acks=all, idempotence)", away.as_secs_f64()),
        &bootstrap,
        &topic,
        run,
        &c,
        submitted,
        &ok,
        failed,
    );
}
