//! Configuration with librdkafka-style string keys, validated when set.
//!
//! `set` checks the key and the value on its own and says what is allowed;
//! `validate` (run by `Collector::new`) checks the keys against each other.

use crate::error::{Error, Result};
use crate::pressure::PressureLevel;
use crate::ring::{self, RingKind};
use crate::sink::{FrameCallback, Sink};
use crate::tracking::{AckCallback, Reporting};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

/// Which sink the collector sends frames to.
#[derive(Clone)]
pub enum SinkChoice {
    /// Counts frames and drops them.
    Null,
    /// A C function pointer (`mb_config_set_frame_callback`).
    Callback(FrameCallback),
    /// Any Rust sink.
    Custom(Arc<dyn Sink>),
    /// Kafka through librdkafka (`kafka.*` keys).
    Kafka,
}

/// A documented configuration key.
pub struct KeyInfo {
    pub name: &'static str,
    pub default: &'static str,
    pub doc: &'static str,
}

/// Every key `set` accepts (plus any `kafka.<property>`), with its default.
pub const KEYS: &[KeyInfo] = &[
    KeyInfo { name: "partitions", default: "number of CPUs", doc: "rings, each with its own producer gate; a thread always submits to the same ring (1..=1024)" },
    KeyInfo { name: "flush.threads", default: "2", doc: "threads draining rings and flushing frames (1..=64; more than `partitions` are not started)" },
    KeyInfo { name: "ring.type", default: "spsc", doc: "`spsc` (producers sharing a ring take turns through a gate) or `mpsc` (producers claim space with CAS)" },
    KeyInfo { name: "submit.lease", default: "true", doc: "`true`: a thread that has its SPSC ring to itself submits without an atomic read-modify-write, until another thread needs the ring (revoked with membarrier(2); off where that is missing); `false`: every submit takes the ring's lock" },
    KeyInfo { name: "ring.capacity.bytes", default: "4194304", doc: "bytes per ring, rounded up to a power of two (4096..=1073741824)" },
    KeyInfo { name: "event.max.bytes", default: "65536", doc: "largest event accepted; larger ones get MB_ERR_TOO_LARGE" },
    KeyInfo { name: "batch.max.events", default: "1000000", doc: "cap on N, the events per frame" },
    KeyInfo { name: "batch.max.bytes", default: "983040", doc: "cap on a frame's size in bytes, header included" },
    KeyInfo { name: "batch.linger.ms", default: "unset", doc: "fixed T for every level in ms: overrides the level's bootstrap T and calibration does not tune T (0..=1800000)" },
    KeyInfo { name: "pressure.window.ms", default: "10000", doc: "window over which the event rate is measured before a level is chosen" },
    KeyInfo { name: "latency.max.ms", default: "30000", doc: "ceiling: no level whose budget exceeds it is chosen (>= 1)" },
    KeyInfo { name: "level", default: "auto", doc: "`auto`, `1`..`10`, or `L1_REALTIME`..`L10_MAX` to force a level" },
    KeyInfo { name: "submit.block.ms", default: "0", doc: "how long submit waits for room in a full ring; 0 returns MB_ERR_FULL at once" },
    KeyInfo { name: "close.timeout.ms", default: "5000", doc: "how long freeing the collector waits to flush what is pending" },
    KeyInfo { name: "tracking.slots", default: "65536", doc: "tracked events that may await acknowledgement at once (and, with tracking.queue, outcomes not yet drained); beyond that submit_tracked returns MB_ERR_TRACKING_FULL" },
    KeyInfo { name: "tracking.queue", default: "false", doc: "`true`: outcomes of tracked events are kept in a completion queue until drained with mb_collector_poll_acks (each holds its slot until then); `false`: a slot is free as soon as its outcome is known" },
    KeyInfo { name: "sink", default: "kafka, or callback once a frame callback is set", doc: "`kafka`, `null` (count and drop) or `callback`" },
    KeyInfo { name: "kafka.topic", default: "microbatch", doc: "topic the Kafka sink writes to" },
    KeyInfo { name: "kafka.mode", default: "frame", doc: "`frame`: one record per frame; `record`: one record per event" },
    KeyInfo { name: "calibration.enabled", default: "true", doc: "`true`: learn (N, T, flush-when-idle) per level and apply what was learned; `false`: run on the bootstrap configs" },
    KeyInfo { name: "calibration.path", default: "~/.reactive/calibration.db", doc: "SQLite file of what was learned (`~` expanded, folder created), shared by processes; `:memory:` keeps it for this collector only" },
    KeyInfo { name: "calibration.explore", default: "true", doc: "`true`: try configs other than the best; `false`: only apply the best" },
    KeyInfo { name: "calibration.explore.ratio", default: "0.2", doc: "share of trials drawn at random from the level's grid (0..=1); the rest refine around the best" },
    KeyInfo { name: "calibration.seed", default: "auto", doc: "`auto` (from the clock) or an integer seeding exploration, for reproducible runs" },
    KeyInfo { name: "calibration.target.latency.us", default: "5000", doc: "preferred p99 wait to acknowledgement inside the level's budget (0..=30000000); see README, \"The score\"" },
];

#[derive(Clone)]
pub struct Config {
    pub partitions: usize,
    pub flush_threads: usize,
    pub ring_kind: RingKind,
    pub ring_capacity: usize,
    pub submit_lease: bool,
    pub event_max_bytes: usize,
    pub batch_max_events: u64,
    pub batch_max_bytes: usize,
    /// `batch.linger.ms`: one T for every level, kept whatever calibration
    /// proposes (None: each level's bootstrap or learned T).
    pub batch_linger: Option<Duration>,
    pub pressure_window: Duration,
    pub latency_max: Duration,
    pub level: Option<PressureLevel>,
    pub submit_block: Duration,
    pub close_timeout: Duration,
    pub tracking_slots: usize,
    pub tracking_queue: bool,
    /// Receives outcomes of tracked events (`mb_config_set_ack_callback`).
    pub ack_callback: Option<AckCallback>,
    pub sink: SinkChoice,
    /// `kafka.<property>` keys, passed to the Kafka client verbatim.
    pub kafka: BTreeMap<String, String>,
    /// `calibration.*` keys.
    pub calibration: crate::calibration::Settings,
    /// Whether `sink` was set explicitly (so a later callback does not override it).
    sink_explicit: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            partitions: std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
            flush_threads: 2,
            ring_kind: RingKind::Spsc,
            ring_capacity: 4 << 20,
            submit_lease: true,
            event_max_bytes: 64 << 10,
            batch_max_events: 1_000_000,
            batch_max_bytes: 960 << 10,
            batch_linger: None,
            pressure_window: Duration::from_secs(10),
            latency_max: Duration::from_secs(30),
            level: None,
            submit_block: Duration::ZERO,
            close_timeout: Duration::from_secs(5),
            tracking_slots: 65536,
            tracking_queue: false,
            ack_callback: None,
            sink: SinkChoice::Kafka,
            kafka: BTreeMap::new(),
            calibration: crate::calibration::Settings::default(),
            sink_explicit: false,
        }
    }
}

fn parse_int(key: &str, value: &str, min: u64, max: u64) -> Result<u64> {
    match value.trim().parse::<u64>() {
        Ok(v) if (min..=max).contains(&v) => Ok(v),
        _ => Err(Error::invalid_config(format!(
            "`{key}` must be an integer from {min} to {max}, got \"{value}\""
        ))),
    }
}

fn parse_bool(key: &str, value: &str) -> Result<bool> {
    match value.trim().to_ascii_lowercase().as_str() {
        "true" | "1" => Ok(true),
        "false" | "0" => Ok(false),
        _ => Err(Error::invalid_config(format!("`{key}` must be true or false, got \"{value}\""))),
    }
}

impl Config {
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets one key. Unknown keys and bad values are refused with a message
    /// naming the key and what it allows; the config is then unchanged.
    pub fn set(&mut self, key: &str, value: &str) -> Result<()> {
        let ms = |min, max| parse_int(key, value, min, max).map(Duration::from_millis);
        match key {
            "partitions" => self.partitions = parse_int(key, value, 1, 1024)? as usize,
            "flush.threads" => self.flush_threads = parse_int(key, value, 1, 64)? as usize,
            "ring.type" => {
                self.ring_kind = match value.trim().to_ascii_lowercase().as_str() {
                    "spsc" => RingKind::Spsc,
                    "mpsc" => RingKind::Mpsc,
                    _ => return Err(Error::invalid_config(format!("`ring.type` must be spsc or mpsc, got \"{value}\""))),
                }
            }
            "ring.capacity.bytes" => self.ring_capacity = parse_int(key, value, 4096, 1 << 30)? as usize,
            "submit.lease" => self.submit_lease = parse_bool(key, value)?,
            "event.max.bytes" => self.event_max_bytes = parse_int(key, value, 1, ring::MAX_EVENT_BYTES as u64)? as usize,
            "batch.max.events" => self.batch_max_events = parse_int(key, value, 1, u32::MAX as u64)?,
            "batch.max.bytes" => {
                self.batch_max_bytes = parse_int(key, value, 64, crate::frame::MAX_FRAME_BYTES as u64)? as usize
            }
            // 30 min: the largest T a level table entry holds is about 35 min.
            "batch.linger.ms" => self.batch_linger = Some(ms(0, 1_800_000)?),
            "pressure.window.ms" => self.pressure_window = ms(1, 3_600_000)?,
            "latency.max.ms" => self.latency_max = ms(1, 86_400_000)?,
            "level" => {
                self.level = if value.trim().eq_ignore_ascii_case("auto") {
                    None
                } else {
                    Some(PressureLevel::parse(value).ok_or_else(|| {
                        Error::invalid_config(format!(
                            "`level` must be auto, 1..10 or a name L1_REALTIME..L10_MAX, got \"{value}\""
                        ))
                    })?)
                }
            }
            "submit.block.ms" => self.submit_block = ms(0, 3_600_000)?,
            "close.timeout.ms" => self.close_timeout = ms(0, 3_600_000)?,
            "tracking.slots" => self.tracking_slots = parse_int(key, value, 1, 1 << 24)? as usize,
            "tracking.queue" => self.tracking_queue = parse_bool(key, value)?,
            "sink" => {
                self.sink = match value.trim() {
                    "null" => SinkChoice::Null,
                    "kafka" => SinkChoice::Kafka,
                    "callback" => match &self.sink {
                        SinkChoice::Callback(cb) => SinkChoice::Callback(*cb),
                        _ => {
                            return Err(Error::invalid_config(
                                "`sink=callback` needs a frame callback: call mb_config_set_frame_callback first",
                            ))
                        }
                    },
                    _ => return Err(Error::invalid_config(format!("`sink` must be kafka, null or callback, got \"{value}\""))),
                };
                self.sink_explicit = true;
            }
            "calibration.enabled" => self.calibration.enabled = parse_bool(key, value)?,
            "calibration.explore" => self.calibration.explore = parse_bool(key, value)?,
            "calibration.path" => {
                if value.trim().is_empty() || value.contains('\0') {
                    return Err(Error::invalid_config(format!(
                        "`calibration.path` must be a file path (`~/` allowed) or :memory:, got \"{value}\""
                    )));
                }
                self.calibration.path = value.trim().to_string();
            }
            "calibration.explore.ratio" => {
                self.calibration.explore_ratio = match value.trim().parse::<f64>() {
                    Ok(v) if (0.0..=1.0).contains(&v) => v,
                    _ => {
                        return Err(Error::invalid_config(format!(
                            "`calibration.explore.ratio` must be a number from 0 to 1, got \"{value}\""
                        )))
                    }
                }
            }
            "calibration.seed" => {
                self.calibration.seed = if value.trim().eq_ignore_ascii_case("auto") {
                    None
                } else {
                    Some(value.trim().parse::<u64>().map_err(|_| {
                        Error::invalid_config(format!(
                            "`calibration.seed` must be auto or an integer from 0 to {}, got \"{value}\"",
                            u64::MAX
                        ))
                    })?)
                }
            }
            "calibration.target.latency.us" => {
                self.calibration.target_latency_us = parse_int(key, value, 0, 30_000_000)?
            }
            "kafka.mode" if !matches!(value, "frame" | "record") => {
                return Err(Error::invalid_config(format!("`kafka.mode` must be frame or record, got \"{value}\"")))
            }
            "kafka.topic" if value.is_empty() => return Err(Error::invalid_config("`kafka.topic` must not be empty")),
            // Passed to librdkafka verbatim; it validates them when the
            // collector is created (mb_collector_new reports its message).
            _ if key.starts_with("kafka.") && key.len() > "kafka.".len() => {
                self.kafka.insert(key["kafka.".len()..].to_string(), value.to_string());
            }
            _ => {
                let known: Vec<&str> = KEYS.iter().map(|k| k.name).collect();
                return Err(Error::invalid_config(format!(
                    "unknown key `{key}`; known keys: {}, kafka.<librdkafka property>",
                    known.join(", ")
                )));
            }
        }
        Ok(())
    }

    /// Sends frames to a C callback; makes `callback` the sink unless `sink`
    /// was set explicitly to something else.
    pub fn set_frame_callback(&mut self, callback: FrameCallback) {
        if !self.sink_explicit || matches!(self.sink, SinkChoice::Callback(_)) {
            self.sink = SinkChoice::Callback(callback);
        }
    }

    /// Hands the outcome of every tracked event to `callback`, a frame's
    /// worth at a time, on the thread that learns it.
    pub fn set_ack_callback(&mut self, callback: AckCallback) {
        self.ack_callback = Some(callback);
    }

    /// How outcomes of tracked events are reported.
    pub fn tracking_reporting(&self) -> Reporting {
        Reporting { queue: self.tracking_queue, callback: self.ack_callback.clone() }
    }

    /// Sends frames to a Rust sink.
    pub fn set_sink(&mut self, sink: Arc<dyn Sink>) {
        self.sink = SinkChoice::Custom(sink);
        self.sink_explicit = true;
    }

    /// The level ceiling implied by `latency.max.ms`.
    pub fn ceiling(&self) -> Result<PressureLevel> {
        PressureLevel::ceiling_for(self.latency_max).ok_or_else(|| {
            Error::invalid_config(format!(
                "`latency.max.ms` = {} is below the smallest budget (1 ms)",
                self.latency_max.as_millis()
            ))
        })
    }

    /// Checks the keys against each other.
    pub fn validate(&self) -> Result<()> {
        let ceiling = self.ceiling()?;
        if let Some(level) = self.level {
            if level > ceiling {
                return Err(Error::invalid_config(format!(
                    "`level` = {level} has a {} ms budget, above `latency.max.ms` = {}",
                    level.budget_ms(),
                    self.latency_max.as_millis()
                )));
            }
        }
        let one_event_frame = crate::frame::FRAME_HEADER + crate::frame::encoded_len(self.event_max_bytes);
        if one_event_frame > self.batch_max_bytes {
            return Err(Error::invalid_config(format!(
                "`event.max.bytes` = {} does not fit a frame of `batch.max.bytes` = {} (needs {one_event_frame})",
                self.event_max_bytes, self.batch_max_bytes
            )));
        }
        let ring_max = ring::max_event_for_capacity(ring::ring_capacity(self.ring_capacity));
        if self.event_max_bytes > ring_max {
            return Err(Error::invalid_config(format!(
                "`event.max.bytes` = {} exceeds what a ring of `ring.capacity.bytes` = {} can hold ({ring_max})",
                self.event_max_bytes, self.ring_capacity
            )));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Code;

    #[test]
    fn defaults_validate() {
        Config::default().validate().unwrap();
    }

    #[test]
    fn every_documented_key_is_settable_and_every_bad_value_refused() {
        let good = [
            ("partitions", "4"),
            ("flush.threads", "1"),
            ("ring.type", "mpsc"),
            ("ring.capacity.bytes", "65536"),
            ("submit.lease", "false"),
            ("event.max.bytes", "100"),
            ("batch.max.events", "10"),
            ("batch.max.bytes", "4096"),
            ("batch.linger.ms", "100"),
            ("pressure.window.ms", "500"),
            ("latency.max.ms", "100"),
            ("level", "L3_LOW"),
            ("submit.block.ms", "5"),
            ("close.timeout.ms", "100"),
            ("tracking.slots", "16"),
            ("tracking.queue", "true"),
            ("sink", "null"),
            ("kafka.topic", "events"),
            ("kafka.mode", "record"),
            ("calibration.enabled", "false"),
            ("calibration.path", ":memory:"),
            ("calibration.explore", "false"),
            ("calibration.explore.ratio", "0.5"),
            ("calibration.seed", "42"),
            ("calibration.target.latency.us", "2000"),
        ];
        assert_eq!(good.len(), KEYS.len(), "a documented key has no test");
        for (k, v) in good {
            let mut c = Config::default();
            c.set(k, v).unwrap_or_else(|e| panic!("{k}={v}: {e}"));
            let bad = if matches!(k, "kafka.topic" | "calibration.path") { "" } else { "bogus" };
            let e = c.set(k, bad).unwrap_err();
            assert_eq!(e.code(), Code::MB_ERR_INVALID_CONFIG);
            assert!(e.message().contains(k), "{}", e.message());
        }
    }

    #[test]
    fn range_errors_say_what_is_allowed() {
        let mut c = Config::default();
        let e = c.set("partitions", "0").unwrap_err();
        assert!(e.message().contains("from 1 to 1024"), "{}", e.message());
        let e = c.set("nope", "1").unwrap_err();
        assert!(e.message().contains("unknown key `nope`") && e.message().contains("partitions"));
        assert!(c.set("kafka.", "x").is_err());
        c.set("kafka.acks", "all").unwrap();
        assert_eq!(c.kafka["acks"], "all");
    }

    #[test]
    fn levels_parse_by_name_number_and_auto() {
        let mut c = Config::default();
        c.set("level", "9").unwrap();
        assert_eq!(c.level, Some(PressureLevel::L9Extreme));
        c.set("level", "auto").unwrap();
        assert_eq!(c.level, None);
        assert!(c.set("level", "11").is_err());
    }

    #[test]
    fn cross_key_checks() {
        let mut c = Config::default();
        c.set("latency.max.ms", "50").unwrap();
        c.set("level", "L5_BALANCED").unwrap();
        assert!(c.validate().unwrap_err().message().contains("above `latency.max.ms`"));

        let mut c = Config::default();
        c.set("batch.max.bytes", "1000").unwrap();
        assert!(c.validate().unwrap_err().message().contains("event.max.bytes"));

        let mut c = Config::default();
        c.set("ring.capacity.bytes", "4096").unwrap();
        assert!(c.validate().unwrap_err().message().contains("ring.capacity.bytes"));
    }

    #[test]
    fn calibration_keys_keep_their_values_and_say_what_is_allowed() {
        let mut c = Config::default();
        assert_eq!(c.calibration.path, "~/.reactive/calibration.db");
        assert!(c.calibration.enabled && c.calibration.explore && c.calibration.seed.is_none());
        c.set("calibration.explore.ratio", "0").unwrap();
        c.set("calibration.seed", "18446744073709551615").unwrap();
        c.set("calibration.path", " /tmp/x.db ").unwrap();
        assert_eq!((c.calibration.explore_ratio, c.calibration.seed), (0.0, Some(u64::MAX)));
        assert_eq!(c.calibration.path, "/tmp/x.db");
        let e = c.set("calibration.explore.ratio", "1.5").unwrap_err();
        assert!(e.message().contains("from 0 to 1"), "{}", e.message());
        let e = c.set("calibration.target.latency.us", "30000001").unwrap_err();
        assert!(e.message().contains("from 0 to 30000000"), "{}", e.message());
        assert!(c.set("calibration.seed", "-1").is_err());
        c.set("calibration.seed", "auto").unwrap();
        assert_eq!(c.calibration.seed, None);
        assert_eq!(c.calibration.explore_ratio, 0.0, "a refused value leaves the config unchanged");
    }

    #[test]
    fn sink_callback_needs_a_callback() {
        let mut c = Config::default();
        assert!(c.set("sink", "callback").unwrap_err().message().contains("mb_config_set_frame_callback"));
    }
}
