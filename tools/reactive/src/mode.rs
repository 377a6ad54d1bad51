//! A variant's mode turned into collector keys, in one place for every
//! implementation: the Rust cell builds its `Config` from these keys and the
//! Java cell passes the same keys as `config.<key>` to the JVM.

use crate::brochure::{KafkaSettings, Mode, Variant};
use microbatch::PressureLevel;
use std::collections::BTreeMap;

/// What a cell runs with.
#[derive(Debug, Clone, PartialEq)]
pub struct Resolved {
    /// The collector keys (mode `producer`: the `kafka.` keys of the bare
    /// producer only).
    pub keys: BTreeMap<String, String>,
    /// The level the collector is held at, if it is held.
    pub forced: Option<PressureLevel>,
    /// The budget the cell's p99 is judged against.
    pub budget_us: Option<u64>,
}

/// `batch.max.events`' largest value.
pub const MAX_BATCH_EVENTS: &str = "4294967295";
/// The largest frame a broker with the default `message.max.bytes` (1 MiB)
/// takes: the library's own default, which leaves librdkafka its margin.
pub const MAX_BATCH_BYTES: &str = "983040";
/// The pressure window of adaptive cells: the library's 10 s default would
/// not choose a level within a benchmark's warm-up.
pub const ADAPTIVE_WINDOW_MS: &str = "500";

/// The keys for `variant` in a cell aimed at `level` (None: no level, as in
/// stepped workloads), writing to `topic`, learning into `calibration_path`.
/// The brochure's producer settings come first, the mode's keys next, the
/// variant's own `config` last (it may override anything).
pub fn resolve(
    variant: &Variant,
    level: Option<PressureLevel>,
    kafka: &KafkaSettings,
    topic: &str,
    calibration_path: &str,
) -> Result<Resolved, String> {
    let mut keys = BTreeMap::new();
    for (k, v) in &kafka.producer {
        keys.insert(format!("kafka.{k}"), v.clone());
    }
    keys.insert("kafka.topic".into(), topic.into());
    let mut set = |k: &str, v: &str| {
        keys.insert(k.to_string(), v.to_string());
    };
    match variant.mode {
        Mode::Adaptive => {
            // The level is the collector's choice: the cell offers a rate
            // inside the level's band instead of forcing it.
            set("level", "auto");
            set("calibration.enabled", "true");
            set("calibration.path", calibration_path);
            set("pressure.window.ms", ADAPTIVE_WINDOW_MS);
        }
        Mode::Bulk => {
            set("level", PressureLevel::L10Max.name());
            set("calibration.enabled", "false");
            set("batch.max.events", MAX_BATCH_EVENTS);
            set("batch.max.bytes", MAX_BATCH_BYTES);
        }
        Mode::Fixed => {
            set("level", level.map_or("auto", PressureLevel::name));
            set("calibration.enabled", "false");
        }
        Mode::Producer => {}
    }
    for (k, v) in &variant.config {
        if variant.mode == Mode::Producer && !k.starts_with("kafka.") {
            return Err(format!(
                "variant `{}` (mode producer) has key `{k}`: a bare producer takes only kafka.<property> keys",
                variant.name
            ));
        }
        keys.insert(k.clone(), v.clone());
    }
    let forced = match keys.get("level") {
        Some(l) if l.eq_ignore_ascii_case("auto") => None,
        Some(l) => Some(PressureLevel::parse(l).ok_or_else(|| format!("variant `{}`: unknown level `{l}`", variant.name))?),
        None => None,
    };
    let budget_us = match variant.mode {
        Mode::Producer => None,
        Mode::Adaptive => forced.or(level),
        Mode::Bulk | Mode::Fixed => forced,
    }
    .map(|l| l.budget_ms() * 1000);
    if variant.mode != Mode::Producer {
        check(&keys).map_err(|e| format!("variant `{}`: {e}", variant.name))?;
    }
    Ok(Resolved { keys, forced, budget_us })
}

/// The library's own checks, so a bad brochure fails before any cell runs.
fn check(keys: &BTreeMap<String, String>) -> Result<(), String> {
    let mut config = microbatch::Config::default();
    for (k, v) in keys {
        config.set(k, v).map_err(|e| e.message().to_string())?;
    }
    config.validate().map_err(|e| e.message().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::brochure::Impl;

    fn variant(mode: Mode, config: &[(&str, &str)]) -> Variant {
        Variant {
            name: "v".into(),
            implementation: Impl::Rust,
            mode,
            config: config.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
        }
    }

    fn kafka() -> KafkaSettings {
        KafkaSettings { producer: [("acks".to_string(), "0".to_string())].into(), partitions: None }
    }

    #[test]
    fn adaptive_leaves_the_level_to_the_collector_and_learns() {
        let r = resolve(&variant(Mode::Adaptive, &[]), Some(PressureLevel::L3Low), &kafka(), "t", "/tmp/c.db").unwrap();
        assert_eq!(r.keys["level"], "auto");
        assert_eq!(r.keys["calibration.enabled"], "true");
        assert_eq!(r.keys["calibration.path"], "/tmp/c.db");
        assert_eq!((r.keys["kafka.acks"].as_str(), r.keys["kafka.topic"].as_str()), ("0", "t"));
        assert_eq!((r.forced, r.budget_us), (None, Some(10_000)), "judged against the level it aims at");
    }

    #[test]
    fn bulk_is_l10_with_the_largest_frames_and_no_learning() {
        let r = resolve(&variant(Mode::Bulk, &[]), Some(PressureLevel::L3Low), &kafka(), "t", "x").unwrap();
        assert_eq!(r.keys["level"], "L10_MAX");
        assert_eq!(r.keys["calibration.enabled"], "false");
        assert_eq!((r.keys["batch.max.events"].as_str(), r.keys["batch.max.bytes"].as_str()), (MAX_BATCH_EVENTS, MAX_BATCH_BYTES));
        assert_eq!((r.forced, r.budget_us), (Some(PressureLevel::L10Max), Some(30_000_000)));
    }

    #[test]
    fn fixed_forces_the_cells_level_and_takes_the_variants_n_bytes_and_t() {
        let cfg = [("batch.max.events", "1000"), ("batch.max.bytes", "1048576"), ("batch.linger.ms", "100")];
        let r = resolve(&variant(Mode::Fixed, &cfg), Some(PressureLevel::L6Throughput), &kafka(), "t", "x").unwrap();
        assert_eq!(r.keys["level"], "L6_THROUGHPUT");
        assert_eq!(r.keys["batch.linger.ms"], "100");
        assert_eq!(r.budget_us, Some(500_000));
        let auto = resolve(&variant(Mode::Fixed, &cfg), None, &kafka(), "t", "x").unwrap();
        assert_eq!((auto.keys["level"].as_str(), auto.forced, auto.budget_us), ("auto", None, None));
    }

    #[test]
    fn producer_takes_only_kafka_keys() {
        let r = resolve(&variant(Mode::Producer, &[("kafka.linger.ms", "5")]), None, &kafka(), "t", "x").unwrap();
        assert!(r.keys.keys().all(|k| k.starts_with("kafka.")), "{:?}", r.keys);
        assert_eq!((r.keys["kafka.linger.ms"].as_str(), r.budget_us), ("5", None));
        let e = resolve(&variant(Mode::Producer, &[("batch.max.events", "5")]), None, &kafka(), "t", "x").unwrap_err();
        assert!(e.contains("only kafka.<property>"), "{e}");
    }

    #[test]
    fn a_bad_key_fails_with_the_librarys_message() {
        let e = resolve(&variant(Mode::Fixed, &[("batch.linger.ms", "soon")]), None, &kafka(), "t", "x").unwrap_err();
        assert!(e.contains("`batch.linger.ms` must be an integer"), "{e}");
    }
}
