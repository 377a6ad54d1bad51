//! Arbitrary `key=value` lines through the config parser, by the C ABI
//! (`mb_config_set`, raw bytes: not UTF-8, empty, huge numbers) and by the
//! Rust API. Each set must answer MB_OK or MB_ERR_INVALID_CONFIG with a
//! message, a refused set must leave the config as it was, an accepted one
//! must leave every field inside its documented range, and both APIs must
//! agree. A config that validates (and is small enough to allocate) must
//! create a collector whose books balance after a few submits and a flush.
#![no_main]

use libfuzzer_sys::fuzz_target;
use microbatch::ffi::*;
use microbatch::{Code, Collector, Config};
use std::ffi::CString;
use std::time::Duration;

/// The scalar settings, to compare before and after a set.
fn snapshot(c: &Config) -> String {
    format!(
        "{} {} {:?} {} {} {} {} {} {:?} {:?} {:?} {:?} {:?} {} {} {:?}",
        c.partitions,
        c.flush_threads,
        c.ring_kind,
        c.ring_capacity,
        c.submit_lease,
        c.event_max_bytes,
        c.batch_max_events,
        c.batch_max_bytes,
        c.pressure_window,
        c.latency_max,
        c.level,
        c.submit_block,
        c.close_timeout,
        c.tracking_slots,
        c.tracking_queue,
        c.kafka
    )
}

fn in_range(c: &Config) {
    assert!((1..=1024).contains(&c.partitions), "partitions {}", c.partitions);
    assert!((1..=64).contains(&c.flush_threads), "flush.threads {}", c.flush_threads);
    assert!(c.ring_capacity > 0 && c.event_max_bytes > 0 && c.batch_max_bytes > 0 && c.batch_max_events > 0);
    assert!(c.tracking_slots > 0);
}

fuzz_target!(|data: &[u8]| {
    let cfg = mb_config_new();
    let mut rust = Config::default();
    for line in data.split(|&b| b == b'\n') {
        let (key, value) = match line.iter().position(|&b| b == b'=') {
            Some(i) => (&line[..i], &line[i + 1..]),
            None => (line, &b""[..]),
        };
        // C strings cannot hold NUL; such lines are not expressible in C.
        let (Ok(k), Ok(v)) = (CString::new(key), CString::new(value)) else { continue };
        // Keys that would start a real Kafka client or a mock cluster are
        // not parsed here (the fuzz build has no Kafka sink anyway).
        let before = snapshot(unsafe { &*cfg });
        let code = mb_config_set(cfg, k.as_ptr(), v.as_ptr());
        match code {
            Code::MB_OK => in_range(unsafe { &*cfg }),
            Code::MB_ERR_INVALID_CONFIG => {
                assert!(mb_last_error(std::ptr::null_mut(), 0) > 0, "a refusal explains itself");
                assert_eq!(before, snapshot(unsafe { &*cfg }), "a refused set changed the config");
            }
            other => panic!("mb_config_set returned {other:?}"),
        }
        // The Rust API agrees on UTF-8 input (the C ABI refuses anything else).
        match (std::str::from_utf8(key), std::str::from_utf8(value)) {
            (Ok(k), Ok(v)) => {
                let r = rust.set(k, v);
                assert_eq!(r.is_ok(), code == Code::MB_OK, "Rust said {r:?}, C said {code:?} for {k:?}={v:?}");
                if let Err(e) = r {
                    assert_eq!(e.code(), Code::MB_ERR_INVALID_CONFIG);
                }
            }
            _ => assert_eq!(code, Code::MB_ERR_INVALID_CONFIG, "non-UTF-8 accepted"),
        }
    }
    let c = unsafe { &mut *cfg };
    assert_eq!(snapshot(c), snapshot(&rust));
    // The fuzz build has no Kafka sink: count frames instead. Generated
    // inputs may name any calibration file: learn into memory instead, so
    // the fuzzer writes no files.
    c.set("sink", "null").unwrap();
    c.set("calibration.path", ":memory:").unwrap();
    let memory = c.partitions.saturating_mul(c.ring_capacity);
    if c.validate().is_ok() && memory <= 8 << 20 && c.tracking_slots <= 1 << 20 && c.partitions <= 8 {
        let collector = Collector::new(c).expect("a validated config creates a collector");
        let mut accepted = 0;
        for len in [0usize, 1, 7, 100, 1000] {
            if collector.submit(&vec![0xa5; len]).is_ok() {
                accepted += 1;
            }
        }
        let _ = collector.flush(Duration::from_secs(5));
        let s = collector.status();
        assert_eq!(s.submitted, accepted);
        assert_eq!(s.submitted, s.delivered + s.failed + s.pending);
    }
    mb_config_free(cfg);
});
