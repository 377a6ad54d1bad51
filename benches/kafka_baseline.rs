//! The seed's Kafka baseline benchmark, side by side in one run:
//! BULK (1000 events per Kafka send; also with a BaseProducer and a poll
//! thread of our own instead of ThreadedProducer, the sink's choice), MEGA
//! (10000 per send), per-event
//! records, and the adaptive collector (auto, forced L9_EXTREME, forced
//! L10_MAX) with the Kafka sink, plus the collector alone (null sink).
//! 100-byte events, lz4, the library's default producer settings.
//!
//!   B=$(scripts/kafka-broker.sh start)
//!   cargo bench --bench kafka_baseline -- --bootstrap "$B" --seconds 10 [--events json|x]
//!
//! Events are JSON-like records with varied fields from a fixed seed (the
//! Java benchmarks' kind, so lz4 squeezes them as it would real events);
//! `--events x` sends the earlier 'x' bytes and a counter, which lz4
//! squeezes to almost nothing. Throughput counts events Kafka acknowledged
//! (delivery reports), over the time from the first send until everything
//! sent was acknowledged; wire MB/s is what went to the broker after
//! batching and compression (librdkafka's `tx_bytes`); CPU is what the
//! whole process (the producing thread, librdkafka's threads, the
//! collector's flush threads) spent over that time, user and system, per
//! million events (`getrusage`), the figure that decides throughput when
//! the broker runs on other machines. Results are also written as JSON
//! (default reports/kafka-baseline.json).

use microbatch::frame::FrameEncoder;
use microbatch::{Code, Collector, Config};
use rdkafka::config::ClientConfig;
use rdkafka::error::KafkaError;
use rdkafka::producer::{BaseProducer, BaseRecord, DeliveryResult, Producer, ProducerContext, ThreadedProducer};
use rdkafka::ClientContext;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

const EVENT: usize = 100;
/// librdkafka's statistics interval; after the last acknowledgement the
/// bench waits a little longer than this for the final `tx_bytes`.
const STATS_MS: &str = "250";
const STATS_WAIT: Duration = Duration::from_millis(400);

/// What one mode measured.
struct Measured {
    /// Events acknowledged.
    events: u64,
    /// From the first send until the last acknowledgement.
    took: Duration,
    /// Bytes sent to the broker (None if no statistics report came).
    wire_bytes: Option<u64>,
    /// Process CPU over `took`: user, system.
    cpu: (Duration, Duration),
}

/// This process's CPU time so far, user and system, every thread included.
fn process_cpu() -> (Duration, Duration) {
    // SAFETY: getrusage only writes the struct it is given, which is a
    // zeroed plain C struct owned by this frame.
    let usage = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_SELF, &mut usage);
        usage
    };
    let at = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    (at(usage.ru_utime), at(usage.ru_stime))
}

/// The CPU spent since `since` (a [`process_cpu`] reading).
fn cpu_since(since: (Duration, Duration)) -> (Duration, Duration) {
    let now = process_cpu();
    (now.0.saturating_sub(since.0), now.1.saturating_sub(since.1))
}

struct Args {
    bootstrap: String,
    seconds: u64,
    json: String,
    only: Option<Vec<String>>,
    /// `json` (default) or `x`.
    events: String,
}

fn args() -> Args {
    let mut a = Args {
        bootstrap: "mock".into(),
        seconds: 10,
        json: "reports/kafka-baseline.json".into(),
        only: None,
        events: "json".into(),
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--bootstrap" => a.bootstrap = it.next().expect("--bootstrap ADDR"),
            "--seconds" => a.seconds = it.next().and_then(|s| s.parse().ok()).expect("--seconds N"),
            "--json" => a.json = it.next().expect("--json PATH"),
            "--only" => a.only = Some(it.next().expect("--only A,B").split(',').map(String::from).collect()),
            "--events" => {
                a.events = it.next().filter(|e| e == "json" || e == "x").expect("--events json|x");
            }
            _ => {} // cargo passes --bench
        }
    }
    a
}

/// Counts acknowledged events: each record's opaque is its event count.
struct Counting {
    delivered: AtomicU64,
    failed: AtomicU64,
    /// librdkafka's `tx_bytes` from its latest statistics report.
    tx_bytes: AtomicU64,
}
impl ClientContext for Counting {
    fn stats(&self, statistics: rdkafka::statistics::Statistics) {
        self.tx_bytes.store(u64::try_from(statistics.tx_bytes).unwrap_or(0), Ordering::Relaxed);
    }
}
impl ProducerContext for Counting {
    type DeliveryOpaque = usize;
    fn delivery(&self, r: &DeliveryResult<'_>, events: usize) {
        match r {
            Ok(_) => self.delivered.fetch_add(events as u64, Ordering::Relaxed),
            Err(_) => self.failed.fetch_add(events as u64, Ordering::Relaxed),
        };
    }
}

fn client_config(bootstrap: &str, extra: &[(&str, &str)]) -> ClientConfig {
    let mut c = ClientConfig::new();
    for (k, v) in microbatch::sink::kafka::DEFAULTS {
        c.set(*k, *v);
    }
    c.set("bootstrap.servers", bootstrap).set("statistics.interval.ms", STATS_MS);
    for (k, v) in extra {
        c.set(*k, *v);
    }
    c
}

fn counting() -> Counting {
    Counting { delivered: AtomicU64::new(0), failed: AtomicU64::new(0), tx_bytes: AtomicU64::new(0) }
}

type Record<'a> = BaseRecord<'a, str, [u8], usize>;

/// The two producer flavours the Kafka sink could use, compared by the
/// BULK and BULK_BASEPRODUCER modes.
trait Flavour: Sync {
    // rdkafka's own `send` hands the record back in its error (so a caller
    // can retry it without a copy); this mirrors it.
    #[allow(clippy::result_large_err)]
    fn send<'a>(&self, record: Record<'a>) -> Result<(), (KafkaError, Record<'a>)>;
    fn finish(&self) -> &Counting;
}

impl Flavour for ThreadedProducer<Counting> {
    fn send<'a>(&self, record: Record<'a>) -> Result<(), (KafkaError, Record<'a>)> {
        ThreadedProducer::send(self, record)
    }
    fn finish(&self) -> &Counting {
        self.flush(Duration::from_secs(120)).expect("flush");
        self.context()
    }
}

/// A BaseProducer with a poll thread of our own.
struct PolledBase {
    producer: Arc<BaseProducer<Counting>>,
    stop: Arc<AtomicBool>,
    poller: Option<std::thread::JoinHandle<()>>,
}

impl PolledBase {
    fn new(config: &ClientConfig) -> PolledBase {
        let producer: Arc<BaseProducer<Counting>> = Arc::new(config.create_with_context(counting()).expect("producer"));
        let stop = Arc::new(AtomicBool::new(false));
        let (p, s) = (producer.clone(), stop.clone());
        let poller = std::thread::spawn(move || {
            while !s.load(Ordering::Relaxed) {
                p.poll(Duration::from_millis(100));
            }
        });
        PolledBase { producer, stop, poller: Some(poller) }
    }
}

impl Drop for PolledBase {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.poller.take() {
            let _ = t.join();
        }
    }
}

impl Flavour for PolledBase {
    fn send<'a>(&self, record: Record<'a>) -> Result<(), (KafkaError, Record<'a>)> {
        self.producer.send(record)
    }
    fn finish(&self) -> &Counting {
        self.producer.flush(Duration::from_secs(120)).expect("flush");
        self.producer.context()
    }
}

/// The events sent: JSON-like (default) or 'x' bytes (`--events x`).
static JSON_EVENTS: OnceLock<bool> = OnceLock::new();
/// Distinct JSON-like events, generated once from a fixed seed.
static POOL: OnceLock<Vec<[u8; EVENT]>> = OnceLock::new();
const POOL_SIZE: usize = 4096;

fn event(seq: u64) -> [u8; EVENT] {
    if *JSON_EVENTS.get_or_init(|| true) {
        let mut e = POOL.get_or_init(json_pool)[seq as usize % POOL_SIZE];
        // The sequence number in the record's first field keeps every
        // event distinct, as ids are.
        let digits = format!("{:010}", seq % 10_000_000_000);
        e[6..16].copy_from_slice(digits.as_bytes());
        return e;
    }
    let mut e = [b'x'; EVENT];
    e[..8].copy_from_slice(&seq.to_le_bytes());
    e
}

/// 100-byte records shaped like a gateway's events (an id, a user, a path,
/// a status, a duration, a zone), fields drawn by xorshift from a fixed
/// seed, padded with spaces inside the object (the longest is 99 bytes
/// before its closing brace).
fn json_pool() -> Vec<[u8; EVENT]> {
    const PATHS: [&str; 6] = ["orders", "users", "carts", "payments", "search", "items"];
    const REGIONS: [&str; 4] = ["eu-west-1", "us-east-2", "ap-south-1", "sa-east-1"];
    const STATUS: [u32; 5] = [200, 200, 201, 404, 503];
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    (0..POOL_SIZE)
        .map(|_| {
            let text = format!(
                "{{\"id\":0000000000,\"user\":\"u{:04}\",\"path\":\"/v1/{}/{}\",\"status\":{},\"ms\":{},\"zone\":\"{}\"",
                next() % 10_000,
                PATHS[(next() % 6) as usize],
                next() % 1000,
                STATUS[(next() % 5) as usize],
                next() % 500,
                REGIONS[(next() % 4) as usize]
            );
            let mut e = [b' '; EVENT];
            e[..text.len()].copy_from_slice(text.as_bytes());
            e[EVENT - 1] = b'}';
            e
        })
        .collect()
}

/// Sends `per_send` events per Kafka record (1 = per-event records) for
/// `seconds`, then waits for every acknowledgement.
fn raw(bootstrap: &str, topic: &str, per_send: usize, seconds: u64, base_producer: bool) -> Measured {
    let message_max = (per_send * (EVENT + 4) + 64 * 1024).max(1_000_000).to_string();
    let config = client_config(bootstrap, &[("message.max.bytes", &message_max)]);
    let p: Box<dyn Flavour> = if base_producer {
        Box::new(PolledBase::new(&config))
    } else {
        Box::new(config.create_with_context::<_, ThreadedProducer<Counting>>(counting()).expect("producer"))
    };
    let mut frame = FrameEncoder::with_capacity(per_send * (EVENT + 4) + 8);
    let cpu = process_cpu();
    let start = Instant::now();
    let stop = start + Duration::from_secs(seconds);
    let mut seq = 0u64;
    while Instant::now() < stop {
        for _ in 0..64 {
            let single = event(seq);
            let (payload, events): (&[u8], usize) = if per_send == 1 {
                (&single, 1) // the bare event, as a plain record
            } else {
                frame.clear();
                for i in 0..per_send as u64 {
                    frame.push(&event(seq + i));
                }
                (frame.finish(), per_send)
            };
            seq += events as u64;
            let mut record: Record = BaseRecord::with_opaque_to(topic, events).key("bench").payload(payload);
            loop {
                match p.send(record) {
                    Ok(()) => break,
                    Err((_, back)) => {
                        record = back;
                        std::thread::sleep(Duration::from_micros(100));
                    }
                }
            }
        }
    }
    let ctx = p.finish();
    let took = start.elapsed();
    let cpu = cpu_since(cpu);
    assert_eq!(ctx.failed.load(Ordering::Relaxed), 0, "deliveries failed");
    std::thread::sleep(STATS_WAIT);
    let sent = ctx.tx_bytes.load(Ordering::Relaxed);
    Measured { events: ctx.delivered.load(Ordering::Relaxed), took, wire_bytes: (sent > 0).then_some(sent), cpu }
}

/// The collector with one producer thread submitting as fast as it can.
fn collector(pairs: &[(&str, &str)], seconds: u64) -> Measured {
    let mut cfg = Config::default();
    for (k, v) in pairs {
        cfg.set(k, v).unwrap_or_else(|e| panic!("{k}={v}: {e}"));
    }
    let kafka = pairs.iter().any(|(k, v)| *k == "sink" && *v == "kafka");
    if kafka {
        cfg.set("kafka.statistics.interval.ms", STATS_MS).expect("statistics interval");
    }
    let c = Collector::new(&cfg).expect("collector");
    let cpu = process_cpu();
    let start = Instant::now();
    let stop = Arc::new(AtomicBool::new(false));
    std::thread::scope(|s| {
        let stop2 = stop.clone();
        let c = &c;
        s.spawn(move || {
            let mut seq = 0u64;
            while !stop2.load(Ordering::Relaxed) {
                for _ in 0..1024 {
                    let e = event(seq);
                    loop {
                        match c.submit(&e) {
                            Ok(()) => break,
                            Err(e) if e.code() == Code::MB_ERR_FULL => std::thread::yield_now(),
                            Err(e) => panic!("{e}"),
                        }
                    }
                    seq += 1;
                }
            }
        });
        std::thread::sleep(Duration::from_secs(seconds));
        stop.store(true, Ordering::Relaxed);
    });
    c.flush(Duration::from_secs(120)).expect("flush");
    let took = start.elapsed();
    let cpu = cpu_since(cpu);
    let st = c.status();
    assert_eq!(st.failed, 0, "deliveries failed");
    if kafka {
        std::thread::sleep(STATS_WAIT);
    }
    Measured { events: st.delivered, took, wire_bytes: c.wire_bytes(), cpu }
}

fn main() {
    let a = args();
    JSON_EVENTS.set(a.events == "json").expect("set once");
    let run_id = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    let topic = |m: &str| format!("mb-bench-{m}-{run_id}");
    // "mock": one in-process mock cluster for every mode, created and kept on
    // this thread (librdkafka's mock cluster must stay on its creator's thread).
    let mock = (a.bootstrap == "mock").then(|| rdkafka::mocking::MockCluster::new(1).expect("mock cluster"));
    let addr = mock.as_ref().map(|m| m.bootstrap_servers()).unwrap_or_else(|| a.bootstrap.clone());
    let b = addr.as_str();
    let kafka = |mode: &'static str, extra: &[(&'static str, &'static str)]| {
        // submit.block.ms: a full ring parks the producer (as a gateway
        // would wait) instead of spinning on MB_ERR_FULL against the broker
        // for the same two cores.
        let mut v: Vec<(&str, String)> = vec![
            ("sink", "kafka".into()),
            ("kafka.bootstrap.servers", b.into()),
            ("kafka.topic", topic(mode)),
            ("submit.block.ms", "1000".into()),
        ];
        v.extend(extra.iter().map(|(k, x)| (*k, x.to_string())));
        v
    };
    type Mode<'a> = (&'static str, Box<dyn Fn() -> Measured + 'a>);
    let s = a.seconds;
    let modes: Vec<Mode> = vec![
        ("BULK", Box::new(|| raw(b, &topic("bulk"), 1000, s, false))),
        ("BULK_BASEPRODUCER", Box::new(|| raw(b, &topic("bulk-base"), 1000, s, true))),
        ("MEGA", Box::new(|| raw(b, &topic("mega"), 10_000, s, false))),
        ("ADAPTIVE_AUTO", Box::new(move || {
            let p = kafka("auto", &[("pressure.window.ms", "1000")]);
            collector(&p.iter().map(|(k, v)| (*k, v.as_str())).collect::<Vec<_>>(), s)
        })),
        ("ADAPTIVE_L9", Box::new(move || {
            let p = kafka("l9", &[("level", "L9_EXTREME")]);
            collector(&p.iter().map(|(k, v)| (*k, v.as_str())).collect::<Vec<_>>(), s)
        })),
        ("ADAPTIVE_L10", Box::new(move || {
            let p = kafka("l10", &[("level", "L10_MAX")]);
            collector(&p.iter().map(|(k, v)| (*k, v.as_str())).collect::<Vec<_>>(), s)
        })),
        ("COLLECTOR_ONLY", Box::new(move || collector(&[("sink", "null"), ("level", "L10_MAX")], s))),
        ("PER_EVENT", Box::new(|| raw(b, &topic("per-event"), 1, s, false))),
    ];
    println!(
        "Kafka baseline: {EVENT}-byte {} events, lz4, {s} s per mode, broker {b}{}",
        if a.events == "json" { "JSON-like" } else { "'x'" },
        if mock.is_some() { " (mock cluster)" } else { "" }
    );
    // The broker's JVM compiles its hot paths during the first seconds of
    // load: warm it up so the first mode measured is not penalised.
    let warm = raw(b, &topic("warm-up"), 1000, s.min(3), false).events;
    println!("  (warm-up: {warm} events, not counted)");
    struct Row<'a> {
        name: &'a str,
        rate: f64,
        wire: Option<f64>,
        /// CPU milliseconds per million events: user, system.
        cpu_ms_per_m: (f64, f64),
    }
    let mut results: Vec<Row> = Vec::new();
    for (name, run) in &modes {
        if a.only.as_ref().is_some_and(|o| !o.iter().any(|x| x == name)) {
            continue;
        }
        let m = run();
        let rate = m.events as f64 / m.took.as_secs_f64();
        let wire = m.wire_bytes.map(|b| b as f64 / m.took.as_secs_f64() / 1e6);
        let wire_text = wire.map_or("       -".to_string(), |w| format!("{w:>8.1}"));
        let per_m = |t: Duration| t.as_secs_f64() * 1e3 / (m.events.max(1) as f64 / 1e6);
        let cpu_ms_per_m = (per_m(m.cpu.0), per_m(m.cpu.1));
        println!(
            "  {name:<17} {:>12.0} events/s {:>9.1} MB/s {wire_text} wire MB/s {:>7.1} CPU ms/M  ({} events in {:.1} s)",
            rate,
            rate * EVENT as f64 / 1e6,
            cpu_ms_per_m.0 + cpu_ms_per_m.1,
            m.events,
            m.took.as_secs_f64()
        );
        results.push(Row { name, rate, wire, cpu_ms_per_m });
    }
    let get = |n: &str| results.iter().find(|r| r.name == n).map(|r| r.rate);
    println!();
    if let (Some(bulk), Some(auto)) = (get("BULK"), get("ADAPTIVE_AUTO")) {
        let pct = 100.0 * auto / bulk;
        let verdict = match pct {
            p if p < 10.0 => "SEVERE REGRESSION",
            p if p < 50.0 => "REGRESSION",
            p if p < 80.0 => "Acceptable",
            _ => "Good",
        };
        println!("adaptive (auto) = {pct:.1}% of BULK: {verdict}");
    }
    if let (Some(bulk), Some(per)) = (get("BULK"), get("PER_EVENT")) {
        println!("frames (BULK) = {:.1}x per-event records", bulk / per);
    }
    let json = format!(
        "{{\"event_bytes\":{EVENT},\"events\":\"{}\",\"seconds\":{s},\"bootstrap\":\"{b}\",\"results\":{{{}}}}}\n",
        a.events,
        results
            .iter()
            .map(|r| format!(
                "\"{}\":{{\"events_per_sec\":{:.0},\"mb_per_sec\":{:.2},\"wire_mb_per_sec\":{},\
                 \"cpu_user_ms_per_m_events\":{:.2},\"cpu_sys_ms_per_m_events\":{:.2}}}",
                r.name,
                r.rate,
                r.rate * EVENT as f64 / 1e6,
                r.wire.map_or("null".to_string(), |w| format!("{w:.2}")),
                r.cpu_ms_per_m.0,
                r.cpu_ms_per_m.1
            ))
            .collect::<Vec<_>>()
            .join(",")
    );
    if let Some(dir) = std::path::Path::new(&a.json).parent() {
        let _ = std::fs::create_dir_all(dir);
    }
    std::fs::write(&a.json, json).expect("write JSON");
    println!("results written to {}", a.json);
}
