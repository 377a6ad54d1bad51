//! Shared by the reliability suites (tests/kafka_faults.rs,
//! tests/kafka_cluster.rs, tests/process_death.rs): numbered events, a
//! consumer that reads a whole topic back, the books that compare what the
//! collector counted with what the topic holds, the one-line report that
//! scripts/reliability.sh collects, and a collector made through the C ABI
//! (also for tests/handle_churn.rs).
#![allow(dead_code)]

use microbatch::frame;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::{ClientConfig, Message, Offset, TopicPartitionList};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::{Duration, Instant};

/// Bytes of an event: producer (u32), sequence number (u32), run tag (u64),
/// then filler derived from the sequence number so a torn event shows.
pub const EVENT_LEN: usize = 48;

pub fn event(run: u64, producer: u32, seq: u32) -> [u8; EVENT_LEN] {
    let mut e = [(seq as u8) ^ 0x5a; EVENT_LEN];
    e[..4].copy_from_slice(&producer.to_le_bytes());
    e[4..8].copy_from_slice(&seq.to_le_bytes());
    e[8..16].copy_from_slice(&run.to_le_bytes());
    e
}

/// (producer, seq) of an event of run `run`; None for another run's event.
/// Panics on a torn event.
pub fn parse(run: u64, e: &[u8]) -> Option<(u32, u32)> {
    assert_eq!(e.len(), EVENT_LEN, "event of unexpected length");
    if u64::from_le_bytes(e[8..16].try_into().unwrap()) != run {
        return None;
    }
    let seq = u32::from_le_bytes(e[4..8].try_into().unwrap());
    assert!(e[16..].iter().all(|&b| b == (seq as u8) ^ 0x5a), "torn event");
    Some((u32::from_le_bytes(e[..4].try_into().unwrap()), seq))
}

/// A run tag that differs between runs and processes.
pub fn run_tag() -> u64 {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as u64;
    nanos ^ ((std::process::id() as u64) << 40)
}

pub fn unique_topic(name: &str) -> String {
    format!("mb-rel-{name}-{:x}", run_tag())
}

/// Every event of run `run` found in `topic`, per producer in the order the
/// topic holds them (partition by partition; one producer's events share a
/// partition, because a producer thread keeps its collector partition and
/// its frames' key). Reads up to each partition's high watermark as it is
/// when the read starts, so it ends by itself; `deadline` bounds it.
pub fn read_topic(bootstrap: &str, topic: &str, frames: bool, run: u64, deadline: Duration) -> HashMap<u32, Vec<u32>> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("group.id", format!("{topic}-reader"))
        .set("enable.auto.commit", "false")
        // Read only what the brokers hold as committed (acks=all: replicated).
        .set("isolation.level", "read_committed")
        .create()
        .expect("consumer");
    let until = Instant::now() + deadline;
    let metadata = loop {
        match consumer.fetch_metadata(Some(topic), Duration::from_secs(5)) {
            Ok(m) if m.topics().first().is_some_and(|t| !t.partitions().is_empty()) => break m,
            other => {
                assert!(Instant::now() < until, "no metadata for {topic}: {other:?}");
                std::thread::sleep(Duration::from_millis(200));
            }
        }
    };
    let partitions: Vec<i32> = metadata.topics()[0].partitions().iter().map(|p| p.id()).collect();
    let mut out: HashMap<u32, Vec<u32>> = HashMap::new();
    for p in partitions {
        let (low, high) = loop {
            match consumer.fetch_watermarks(topic, p, Duration::from_secs(5)) {
                Ok(w) => break w,
                Err(e) => {
                    assert!(Instant::now() < until, "watermarks of {topic}/{p}: {e}");
                    std::thread::sleep(Duration::from_millis(200));
                }
            }
        };
        if high <= low {
            continue;
        }
        let mut tpl = TopicPartitionList::new();
        tpl.add_partition_offset(topic, p, Offset::Offset(low)).unwrap();
        consumer.assign(&tpl).unwrap();
        let mut next = low;
        while next < high {
            assert!(Instant::now() < until, "{topic}/{p}: read up to offset {next} of {high} before the deadline");
            let Some(msg) = consumer.poll(Duration::from_millis(500)) else { continue };
            let msg = match msg {
                Ok(m) => m,
                // Partition EOF and transient errors: keep reading.
                Err(_) => continue,
            };
            next = msg.offset() + 1;
            let payload = msg.payload().unwrap_or(&[]);
            let events: Vec<&[u8]> = if frames { frame::decode(payload).expect("a valid frame") } else { vec![payload] };
            for e in events {
                if let Some((producer, seq)) = parse(run, e) {
                    out.entry(producer).or_default().push(seq);
                }
            }
        }
    }
    out
}

/// What the topic holds, compared with what was submitted and acknowledged.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Found {
    /// Events of this run in the topic, duplicates included.
    pub records: u64,
    /// Distinct events in the topic.
    pub unique: u64,
    /// Copies beyond the first.
    pub duplicates: u64,
    /// Events that appear after a later event of the same producer.
    pub reordered: u64,
}

pub fn tally(topic: &HashMap<u32, Vec<u32>>) -> Found {
    let mut f = Found::default();
    for seqs in topic.values() {
        let mut seen = HashSet::new();
        let mut max: Option<u32> = None;
        for &s in seqs {
            f.records += 1;
            if !seen.insert(s) {
                f.duplicates += 1;
                continue;
            }
            if max.is_some_and(|m| s < m) {
                f.reordered += 1;
            }
            max = Some(max.map_or(s, |m| m.max(s)));
        }
        f.unique += seen.len() as u64;
    }
    f
}

/// Events acknowledged (tracked submit answered MB_OK) that the topic lacks.
pub fn missing(acked: &BTreeMap<u32, Vec<u32>>, topic: &HashMap<u32, Vec<u32>>) -> Vec<(u32, u32)> {
    let mut out = Vec::new();
    for (p, seqs) in acked {
        let have: HashSet<u32> = topic.get(p).map(|v| v.iter().copied().collect()).unwrap_or_default();
        out.extend(seqs.iter().filter(|s| !have.contains(s)).map(|&s| (*p, s)));
    }
    out
}

/// One line per scenario, collected by scripts/reliability.sh.
#[allow(clippy::too_many_arguments)]
pub fn report(scenario: &str, injected: &str, submitted: u64, delivered: u64, failed: u64, found: Option<&Found>, extra: &str) {
    let topic = match found {
        Some(f) => format!("found={} duplicates={} reordered={}", f.unique, f.duplicates, f.reordered),
        None => "found=- duplicates=- reordered=-".to_string(),
    };
    eprintln!(
        "RELIABILITY scenario={scenario} | injected: {injected} | submitted={submitted} delivered={delivered} failed={failed} {topic}{}",
        if extra.is_empty() { String::new() } else { format!(" | {extra}") }
    );
}

/// A test that cannot run here says so, loudly, and in the report.
pub fn skipped(scenario: &str, why: &str) {
    // Straight to stderr: the test harness captures eprintln! of a passing
    // test, and a skip must show in a plain `cargo test` run.
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "SKIPPED: {scenario}: {why}");
    eprintln!("RELIABILITY scenario={scenario} | SKIPPED: {why}");
}

/// A collector made through the C ABI, as C callers make it, from `pairs`
/// (each accepted, or the test fails).
pub fn c_abi_collector(pairs: &[(&str, &str)]) -> *mut microbatch::handle::Handle {
    use microbatch::ffi::*;
    use microbatch::Code;
    use std::ffi::CString;
    let cfg = mb_config_new();
    for (k, v) in pairs {
        let (k, v) = (CString::new(*k).unwrap(), CString::new(*v).unwrap());
        assert_eq!(mb_config_set(cfg, k.as_ptr(), v.as_ptr()), Code::MB_OK);
    }
    let mut h = std::ptr::null_mut();
    assert_eq!(mb_collector_new(cfg, &mut h), Code::MB_OK);
    mb_config_free(cfg);
    h
}
