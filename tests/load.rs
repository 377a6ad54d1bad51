#![cfg(feature = "kafka")]
//! Sustained and bursty load through the Kafka sink on librdkafka's
//! in-process mock cluster: offered rates stepped up through the pressure
//! levels and back down, with a bursty phase (on/off bursts shorter than the
//! pressure window) in between.
//!
//! Checked while it runs, at every status sample (every 10 ms): the books
//! balance (`submitted == delivered + failed + pending`, and nothing is
//! reported that was not submitted, beyond the one event per producer
//! thread that may be in a ring a moment before it is counted), the
//! counters never go back, and the level follows the offered rate (the
//! level of each phase's band, reached within two pressure windows and held
//! for the rest of the phase). Checked after it: the producers' own counts
//! match the collector's, `pending` is 0 after a flush, nothing failed,
//! every tracked event answered MB_OK, and resident memory stayed bounded
//! (rings and librdkafka's queue are capped; nothing grows with the load).
//!
//! The default run takes about 5 s. The long run is opt-in:
//!
//! ```sh
//! MICROBATCH_LOAD_SECONDS=300 cargo test --release --test load -- --nocapture
//! ```
//!
//! repeats the cycle with each phase held 5 s for that many seconds, and
//! then also checks that memory is flat from cycle to cycle (scripts/
//! reliability.sh --long runs it for 120 s). The report line gives, per
//! phase, the settled samples at the phase's level and the last p99 wait
//! to acknowledgement (asserted inside the budget from L5 up, reported
//! below).

mod reliability;

use microbatch::{Code, Collector, Config, PressureLevel, Status};
use reliability::report;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// The pressure window: the level is chosen from each window's rate.
const WINDOW: Duration = Duration::from_millis(100);
const PRODUCERS: u32 = 2;
const EVENT: [u8; 24] = [7u8; 24];
/// One tracked submit in this many.
const TRACK_EVERY: u64 = 1000;

/// How a phase offers its events.
#[derive(Clone, Copy, Debug)]
enum Offer {
    /// Evenly, at this many events per second.
    Steady(f64),
    /// Bursts at `rate` for `on`, then nothing for `off`, over and over.
    Bursts { rate: f64, on: Duration, off: Duration },
}

impl Offer {
    /// Events due `t` into the phase (all producers together).
    fn due(self, t: Duration) -> u64 {
        match self {
            Offer::Steady(rate) => (rate * t.as_secs_f64()) as u64,
            Offer::Bursts { rate, on, off } => {
                let period = (on + off).as_secs_f64();
                let t = t.as_secs_f64();
                let whole = (t / period).floor();
                let into = (t - whole * period).min(on.as_secs_f64());
                (rate * (whole * on.as_secs_f64() + into)) as u64
            }
        }
    }

    fn mean_rate(self) -> f64 {
        match self {
            Offer::Steady(rate) => rate,
            Offer::Bursts { rate, on, off } => rate * on.as_secs_f64() / (on + off).as_secs_f64(),
        }
    }
}

struct Phase {
    offer: Offer,
    /// The level whose band holds the phase's mean rate.
    level: PressureLevel,
}

/// Up through the levels and back down; rates sit inside their bands (away
/// from the edges, so a pacing hiccup does not cross one). The bursts are
/// 50 ms at 900k/s then 50 ms of nothing: every 100 ms window averages
/// 450k/s, L8, although the bursts themselves are at L8's top and the gaps
/// at L1.
fn cycle() -> Vec<Phase> {
    use PressureLevel::*;
    let steady = |rate: f64, level| Phase { offer: Offer::Steady(rate), level };
    vec![
        steady(0.0, L1Realtime),
        steady(40.0, L2Fast),
        steady(250.0, L3Low),
        steady(1_000.0, L4Moderate),
        steady(5_000.0, L5Balanced),
        steady(22_000.0, L6Throughput),
        steady(100_000.0, L7High),
        steady(450_000.0, L8Aggressive),
        Phase {
            offer: Offer::Bursts { rate: 900_000.0, on: Duration::from_millis(50), off: Duration::from_millis(50) },
            level: L8Aggressive,
        },
        steady(22_000.0, L6Throughput),
        steady(1_000.0, L4Moderate),
        steady(0.0, L1Realtime),
    ]
}

/// Resident set size of this process, bytes.
fn rss() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: u64 = statm.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    pages * 4096
}

struct Sample {
    at: Duration,
    status: Status,
    rss: u64,
}

/// What one producer thread did.
#[derive(Default)]
struct Submitted {
    accepted: u64,
    refused_full: u64,
    tickets: Vec<u64>,
}

/// Offers `share` of each phase's events, paced against the wall clock
/// (events due so far, not a sleep per event, so a late wake-up is caught
/// up rather than lost).
fn produce(c: &Collector, phases: &[Phase], phase_len: Duration, cycles: u32, start: Instant, share: f64) -> Submitted {
    let mut out = Submitted::default();
    let mut n = 0u64;
    for round in 0..cycles {
        for (i, phase) in phases.iter().enumerate() {
            let phase_start = start + phase_len * (round * phases.len() as u32 + i as u32);
            let phase_end = phase_start + phase_len;
            let mut sent = 0u64;
            loop {
                let now = Instant::now();
                if now >= phase_end {
                    break;
                }
                let due = (phase.offer.due(now.saturating_duration_since(phase_start)) as f64 * share) as u64;
                while sent < due {
                    n += 1;
                    sent += 1;
                    let result = if n % TRACK_EVERY == 0 {
                        c.submit_tracked(&EVENT).map(|t| out.tickets.push(t))
                    } else {
                        c.submit(&EVENT)
                    };
                    match result {
                        Ok(()) => out.accepted += 1,
                        Err(e) if e.code() == Code::MB_ERR_FULL => out.refused_full += 1,
                        Err(e) => panic!("submit: {e}"),
                    }
                }
                std::thread::sleep(Duration::from_micros(500));
            }
        }
    }
    out
}

#[test]
fn stepped_and_bursty_load_keeps_the_books_follows_the_rate_and_bounds_memory() {
    let long: Option<u64> = std::env::var("MICROBATCH_LOAD_SECONDS").ok().and_then(|s| s.parse().ok()).filter(|&s| s > 0);
    let phases = cycle();
    let (phase_len, cycles) = match long {
        Some(seconds) => {
            let len = Duration::from_secs(5);
            let cycle_secs = len.as_secs() * phases.len() as u64;
            (len, seconds.div_ceil(cycle_secs).max(2) as u32)
        }
        None => (Duration::from_millis(400), 1),
    };
    let mut config = Config::default();
    for (k, v) in [
        ("kafka.bootstrap.servers", "mock"),
        ("kafka.topic", "load"),
        ("partitions", "2"),
        ("ring.capacity.bytes", "4194304"),
        ("pressure.window.ms", "100"),
        // Rates, not learning, are the variable: bootstrap (N, T) per level.
        ("calibration.enabled", "false"),
        // librdkafka's queue capped at 64 MiB, so memory has a ceiling.
        ("kafka.queue.buffering.max.kbytes", "65536"),
    ] {
        config.set(k, v).unwrap_or_else(|e| panic!("{k}={v}: {e}"));
    }
    let c = Collector::new(&config).expect("collector");
    let rss_start = rss();
    let start = Instant::now() + Duration::from_millis(20);
    let stop = AtomicBool::new(false);
    let samples_taken = AtomicU64::new(0);
    let mut samples: Vec<Sample> = Vec::new();
    let mut produced = Vec::new();
    std::thread::scope(|s| {
        let producers: Vec<_> = (0..PRODUCERS)
            .map(|_| s.spawn(|| produce(&c, &phases, phase_len, cycles, start, 1.0 / PRODUCERS as f64)))
            .collect();
        while !stop.load(Ordering::Relaxed) {
            let status = c.status();
            samples.push(Sample { at: start.elapsed(), status, rss: rss() });
            samples_taken.fetch_add(1, Ordering::Relaxed);
            if producers.iter().all(|p| p.is_finished()) {
                stop.store(true, Ordering::Relaxed);
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        produced = producers.into_iter().map(|p| p.join().unwrap()).collect();
    });
    c.flush(Duration::from_secs(60)).expect("flush after the run");
    let end = c.status();
    let accepted: u64 = produced.iter().map(|p| p.accepted).sum();
    let refused: u64 = produced.iter().map(|p| p.refused_full).sum();
    let tickets: Vec<u64> = produced.iter().flat_map(|p| p.tickets.iter().copied()).collect();

    // The books at every sample.
    let mut prev = Status::default();
    for s in &samples {
        let st = &s.status;
        assert_eq!(st.submitted, st.delivered + st.failed + st.pending, "books at {:?}: {st:?}", s.at);
        assert!(
            st.delivered + st.failed <= st.submitted + PRODUCERS as u64,
            "reported more than was submitted at {:?}: {st:?}",
            s.at
        );
        assert!(
            st.submitted >= prev.submitted && st.delivered >= prev.delivered && st.failed >= prev.failed,
            "a counter went back at {:?}: {prev:?} -> {st:?}",
            s.at
        );
        prev = *st;
    }
    // The books after the run.
    assert_eq!((end.submitted, end.rejected), (accepted, refused), "the collector counted what the producers did");
    assert_eq!((end.pending, end.failed, end.delivered), (0, 0, accepted), "{end:?}");
    for &t in &tickets {
        c.wait(t, Duration::from_secs(10)).unwrap_or_else(|e| panic!("ticket {t}: {e}"));
    }

    // The level follows the rate: within two windows of a phase's start (one
    // for the window that straddles the change, one for a window wholly in
    // the phase) plus a 50 ms allowance for the flush thread that closes
    // windows, and then holds it. On a busy machine a producer can fall
    // behind and catch up; 80% of the settled samples must match.
    let settle = WINDOW * 2 + Duration::from_millis(50);
    let mut phase_lines = Vec::new();
    for round in 0..cycles {
        for (i, phase) in phases.iter().enumerate() {
            let from = phase_len * (round * phases.len() as u32 + i as u32);
            let to = from + phase_len;
            let settled: Vec<&Sample> = samples.iter().filter(|s| s.at >= from + settle && s.at < to).collect();
            let matching = settled.iter().filter(|s| s.status.level == phase.level.number()).count();
            let levels: Vec<u32> = settled.iter().map(|s| s.status.level).collect();
            assert!(!settled.is_empty(), "no samples in phase {i} of cycle {round}");
            assert!(
                matching * 5 >= settled.len() * 4,
                "phase {i} (cycle {round}, {:?}, mean {:.0}/s): level {} expected, settled samples were {levels:?}",
                phase.offer,
                phase.offer.mean_rate(),
                phase.level.number()
            );
            // The p99 wait to acknowledgement of every window wholly in the
            // phase stays inside the level's budget (a window in which no
            // frame completed reports 0: at L7 a 400 ms phase may end
            // before its first frame is due, so the long run is what
            // checks L7 and up). Asserted from L5
            // (100 ms) up: below that the wait includes librdkafka's
            // linger.ms (10 ms, above L1..L3's budgets) and scheduling
            // delays of a 2-core machine shared with builds, which are not
            // the collector's (tests/kafka_broker.rs and tests/calibration.rs
            // check those budgets where they can be met); there it is
            // reported only.
            let worst_p99 = settled.iter().map(|s| s.status.latency_p99_us).max().unwrap_or(0);
            if phase.level.budget_ms() >= 100 {
                assert!(
                    worst_p99 <= phase.level.budget_ms() * 1000,
                    "phase {i} (cycle {round}, {:?}): p99 wait {worst_p99} us over the {} budget of {} ms",
                    phase.offer,
                    phase.level.name(),
                    phase.level.budget_ms()
                );
            }
            if round == 0 {
                let p99 = settled.last().map_or(0, |s| s.status.latency_p99_us);
                phase_lines.push(format!(
                    "{:.0}/s->L{} {}/{} p99={}us",
                    phase.offer.mean_rate(),
                    phase.level.number(),
                    matching,
                    settled.len(),
                    p99
                ));
            }
        }
    }

    // Memory: rings are allocated up front (touched as they fill) and
    // librdkafka's queue is capped at 64 MiB, so growth is bounded by those
    // plus the mock cluster's log (about 24 bytes an event here, compressed
    // far below that), not by the load. 192 MiB is that with room to spare;
    // an unbounded queue at 450k events/s would cross it.
    let rss_max = samples.iter().map(|s| s.rss).max().unwrap_or(0);
    let growth = rss_max.saturating_sub(rss_start);
    assert!(growth < 192 << 20, "resident memory grew by {} MiB", growth >> 20);
    // The long run: memory is flat from cycle to cycle once the first cycle
    // has touched every ring page and librdkafka has its buffers.
    let cycle_len = phase_len * phases.len() as u32;
    let mut cycle_peaks = Vec::new();
    for round in 0..cycles {
        let (from, to) = (cycle_len * round, cycle_len * (round + 1));
        cycle_peaks.push(samples.iter().filter(|s| s.at >= from && s.at < to).map(|s| s.rss).max().unwrap_or(0));
    }
    if cycles > 1 {
        // The mock cluster keeps every record it got (it is the broker's
        // log, in this process), so allow what the log may grow by per cycle.
        let per_cycle_log = end.delivered / cycles as u64 * EVENT.len() as u64;
        for (round, &peak) in cycle_peaks.iter().enumerate().skip(1) {
            let over = peak.saturating_sub(cycle_peaks[0]);
            assert!(
                over < per_cycle_log * round as u64 + (32 << 20),
                "cycle {round} peaked {} MiB over the first cycle's peak",
                over >> 20
            );
        }
    }
    report(
        if long.is_some() { "load_long" } else { "load_short" },
        &format!(
            "{cycles} cycle(s) of {} phases of {} ms: steady rates 0..450k/s up and down, bursts of 900k/s 50 ms on / 50 ms off",
            phases.len(),
            phase_len.as_millis()
        ),
        end.submitted,
        end.delivered,
        end.failed,
        None,
        &format!(
            "refused full={refused}; tracked OK={}; samples={}; level held (settled samples matching): {}; rss growth max={} MiB, cycle peaks (MiB)={:?}",
            tickets.len(),
            samples_taken.load(Ordering::Relaxed),
            phase_lines.join(", "),
            growth >> 20,
            cycle_peaks.iter().map(|p| p >> 20).collect::<Vec<_>>()
        ),
    );
}
