//! `batch.linger.ms`: one fixed T for every level, whatever the level's
//! bootstrap or calibration says (the brochures' fixed-linger variants).

use microbatch::{Collector, Config, PressureLevel};
use std::time::{Duration, Instant};

fn collector(pairs: &[(&str, &str)]) -> Collector {
    let mut c = Config::default();
    for (k, v) in [("sink", "null"), ("calibration.path", ":memory:"), ("partitions", "1"), ("flush.threads", "1")]
        .iter()
        .chain(pairs)
    {
        c.set(k, v).unwrap();
    }
    Collector::new(&c).unwrap()
}

/// The wait of one lone tracked event from submit to its acknowledgement.
fn lone_event_wait(c: &Collector) -> Duration {
    let start = Instant::now();
    let ticket = c.submit_tracked(b"lone").unwrap();
    c.wait(ticket, Duration::from_secs(10)).unwrap();
    start.elapsed()
}

#[test]
fn a_fixed_linger_is_the_t_in_force_and_a_lone_event_waits_about_that_long() {
    // L7's own T is 500 ms; the key makes it 120 ms.
    let c = collector(&[("level", "L7_HIGH"), ("batch.linger.ms", "120"), ("calibration.enabled", "false")]);
    assert_eq!(c.status().interval_us, 120_000);
    for level in PressureLevel::ALL {
        assert_eq!(c.level_config(level).interval_us, 120_000, "{level}");
    }
    let waited = lone_event_wait(&c);
    assert!(waited >= Duration::from_millis(110) && waited < Duration::from_millis(450), "waited {waited:?}");
}

#[test]
fn calibration_keeps_the_fixed_linger() {
    let c = collector(&[("level", "L6_THROUGHPUT"), ("batch.linger.ms", "40"), ("calibration.enabled", "true")]);
    assert_eq!(c.status().interval_us, 40_000);
    let mut proposed = c.level_config(PressureLevel::L6Throughput);
    proposed.interval_us = 9_000;
    c.set_level_config(PressureLevel::L6Throughput, proposed);
    assert_eq!(c.level_config(PressureLevel::L6Throughput).interval_us, 40_000);
}

#[test]
fn without_the_key_each_level_keeps_its_own_t() {
    let c = collector(&[("level", "L4_MODERATE"), ("calibration.enabled", "false")]);
    assert_eq!(c.status().interval_us, 25_000, "L4's bootstrap T: half its 50 ms budget");
}
