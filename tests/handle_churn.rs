//! Creating and freeing collectors through the C ABI many times keeps
//! memory flat: a freed handle keeps only its small husk (README: about 128
//! bytes per partition), not its rings, tracking slots or threads. A
//! long-running service that re-creates its collector (reconfiguration, a
//! fuzzer's every input) must not grow.

mod reliability;

use microbatch::ffi::*;
use microbatch::Code;
use reliability::c_abi_collector;

/// Both tests measure this process's resident set: one at a time.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn rss() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap();
    statm.split_whitespace().nth(1).unwrap().parse::<u64>().unwrap() * 4096
}

fn cycle(pairs: &[(&str, &str)], events: usize) {
    let h = c_abi_collector(pairs);
    let ev = [7u8; 200];
    for _ in 0..events {
        assert_eq!(mb_collector_submit(h, ev.as_ptr(), ev.len()), Code::MB_OK);
    }
    assert_eq!(mb_collector_flush(h, 5000), Code::MB_OK);
    mb_collector_free(h);
}

#[test]
fn create_and_free_keeps_memory_flat() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    // Each collector touches about 400 KiB of its rings (2000 events of 200 bytes).
    let pairs = [("sink", "null"), ("partitions", "1"), ("level", "L10_MAX"), ("calibration.enabled", "false")];
    for _ in 0..20 {
        cycle(&pairs, 2000);
    }
    let before = rss();
    let n = 300;
    for _ in 0..n {
        cycle(&pairs, 2000);
    }
    let grew = rss().saturating_sub(before);
    eprintln!("RELIABILITY scenario=handle_churn | injected: {n} collectors created, filled with 2000 events and freed | grew={} KiB ({} bytes per collector)", grew / 1024, grew / n);
    // 300 husks are ~40 KiB; 300 leaked rings would be ~120 MiB.
    assert!(grew < 16 << 20, "memory grew {grew} bytes over {n} create/free cycles");
}

/// With `tracking.queue=true` the completion queue outlives the free until
/// a drain finds it ended (README, "Close"); drained, it is released too.
#[test]
fn freed_queue_is_released_once_drained() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    use microbatch::tracking::AckEvent;
    let pairs = [("sink", "null"), ("partitions", "1"), ("level", "L10_MAX"), ("tracking.queue", "true"), ("calibration.enabled", "false")];
    let run = |drain: bool| {
        let h = c_abi_collector(&pairs);
        let mut t = 0;
        for _ in 0..100 {
            assert_eq!(mb_collector_submit_tracked(h, [1u8; 10].as_ptr(), 10, &mut t), Code::MB_OK);
        }
        mb_collector_free(h);
        if drain {
            let blank = AckEvent { ticket: 0, result: Code::MB_OK, partition: 0, offset: 0, index: 0, reserved: 0 };
            let mut out = vec![blank; 256];
            let mut n = 0;
            let mut got = 0;
            while mb_collector_poll_acks(h, out.as_mut_ptr(), out.len(), &mut n, 100) == Code::MB_OK {
                got += n;
            }
            assert_eq!(got, 100);
        }
    };
    for _ in 0..10 {
        run(true);
    }
    let before = rss();
    for _ in 0..200 {
        run(true);
    }
    let drained = rss().saturating_sub(before);
    let before = rss();
    for _ in 0..200 {
        run(false);
    }
    let abandoned = rss().saturating_sub(before);
    eprintln!(
        "RELIABILITY scenario=queue_churn | injected: 200 collectors with tracking.queue freed, drained / not drained | grew drained={} KiB abandoned={} KiB",
        drained / 1024,
        abandoned / 1024
    );
    assert!(drained < 16 << 20, "drained queues are released: grew {drained} bytes");
}
