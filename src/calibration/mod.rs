//! Calibration: learning the best flush config (N, T, flush-when-idle) per
//! pressure level by experiment, kept across restarts in SQLite.
//!
//! The parts, one job each:
//! * [`score`]: what one window of a config is worth (see README, "The score").
//! * [`learner`]: a pure function of observations. It is fed one
//!   [`WindowReport`] per pressure window and answers the config to run next
//!   for that level; it keeps an EMA of the score per (level, config), the
//!   best config per level, and detects regressions. No I/O, no clock: tests
//!   drive it in virtual time.
//! * [`store`]: the SQLite file (schema.sql), shared with the Java library.
//! * [`status`]: what a database holds, as a table or JSON.
//! * [`sim`]: a simulated sink with a known cost model, for the convergence
//!   tests and the learning benchmark.
//!
//! [`Calibration`] joins a learner and a store and owns their faults: a store
//! that cannot be opened, read or written never stops delivery; the learner
//! then goes on from what it had (bootstrap or the last loaded configs) and
//! the fault is counted.

pub mod learner;
pub mod score;
pub mod sim;
pub mod status;
pub mod store;

use crate::error::{Error, Result};
use crate::pressure::{BatchParams, PressureLevel};
use std::time::Duration;

pub use learner::{Grid, Learner, Outcome};
pub use store::Store;

/// The default database path, as in the seed.
pub const DEFAULT_PATH: &str = "~/.reactive/calibration.db";

/// One flush config: what a level's frames are flushed by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct BatchConfig {
    /// N: a frame is flushed once it holds this many events (>= 1).
    pub batch_events: u64,
    /// T: a frame is flushed once its oldest event waited this long.
    pub interval_us: u64,
    /// A frame also goes at once when its flush thread has no send
    /// outstanding (events batch only while one is).
    pub idle_flush: bool,
}

impl BatchConfig {
    /// The level's bootstrap config: `PressureLevel::bootstrap`'s N and T,
    /// and flush-when-idle where waiting T cannot fill a frame: at the top of
    /// L1's band 10 events/s x 0.5 ms = 0.005 events per T, at L2's
    /// 100 x 2.5 ms = 0.25, so a lone event would wait T for nothing (at L3
    /// it is 2.5 events, and from L4 up 50 and more).
    pub fn bootstrap(level: PressureLevel, batch_max_events: u64) -> BatchConfig {
        BatchConfig::from_params(level.bootstrap(batch_max_events), level <= PressureLevel::L2Fast)
    }

    pub fn from_params(p: BatchParams, idle_flush: bool) -> BatchConfig {
        BatchConfig { batch_events: p.max_events, interval_us: p.max_wait.as_micros() as u64, idle_flush }
    }

    pub fn params(&self) -> BatchParams {
        BatchParams { max_events: self.batch_events, max_wait: Duration::from_micros(self.interval_us) }
    }
}

/// What closed the frames of a window.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CloseReasons {
    /// The frame held N events.
    pub count: u64,
    /// The oldest event waited T.
    pub time: u64,
    /// The next event would have passed `batch.max.bytes`.
    pub bytes: u64,
    /// The flush thread had no send outstanding (flush-when-idle).
    pub idle: u64,
}

/// Latency percentiles of a window: the wait from enqueue to acknowledgement
/// by the sink, in microseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Latency {
    pub p50_us: u64,
    pub p99_us: u64,
    pub p999_us: u64,
    pub max_us: u64,
}

impl Latency {
    /// The percentiles of an HDR histogram of microseconds.
    pub fn of(h: &hdrhistogram::Histogram<u64>) -> Latency {
        if h.is_empty() {
            return Latency::default();
        }
        Latency {
            p50_us: h.value_at_quantile(0.50),
            p99_us: h.value_at_quantile(0.99),
            p999_us: h.value_at_quantile(0.999),
            max_us: h.max(),
        }
    }
}

/// What one config did over one pressure window: the learner's input.
#[derive(Debug, Clone, PartialEq)]
pub struct WindowReport {
    /// When the window ended, milliseconds since the Unix epoch (virtual in tests).
    pub ts_ms: i64,
    pub level: PressureLevel,
    pub config: BatchConfig,
    pub window_us: u64,
    /// Events submitted in the window per second.
    pub offered_per_sec: f64,
    /// Events acknowledged by the sink in the window per second.
    pub delivered_per_sec: f64,
    pub frames: u64,
    pub closed_by: CloseReasons,
    pub mean_frame_events: f64,
    pub mean_frame_bytes: f64,
    pub latency: Latency,
    /// Busy time of flushing and sending (all flush threads) per delivered event.
    pub busy_ns_per_event: f64,
    /// Flush threads that shared the work (not stored: the score is).
    pub flush_threads: u32,
}

/// The `calibration.*` configuration keys.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    /// `calibration.enabled`: learn and apply learned configs.
    pub enabled: bool,
    /// `calibration.path`: the database file (`~` expanded) or `:memory:`.
    pub path: String,
    /// `calibration.explore`: try configs other than the best.
    pub explore: bool,
    /// `calibration.explore.ratio`: share of trials drawn at random from the
    /// level's grid; the rest refine around the best.
    pub explore_ratio: f64,
    /// `calibration.seed`: seeds the exploration; None draws one from the clock.
    pub seed: Option<u64>,
    /// `calibration.target.latency.us`: preferred p99 wait inside the budget.
    pub target_latency_us: u64,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            enabled: true,
            path: DEFAULT_PATH.to_string(),
            explore: true,
            explore_ratio: 0.2,
            seed: None,
            target_latency_us: 5_000,
        }
    }
}

/// A small seedable generator (splitmix64): exploration must be reproducible
/// from `calibration.seed`, and it needs nothing stronger.
#[derive(Debug, Clone)]
pub struct SplitMix64(u64);

impl SplitMix64 {
    pub fn new(seed: u64) -> Self {
        SplitMix64(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    pub fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Uniform in 0..n (n > 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_f64() * n as f64) as usize % n.max(1)
    }
}

/// Learner plus store. Every store fault is caught here, counted and kept as
/// `last_error`; the learner keeps working from memory.
pub struct Calibration {
    learner: Learner,
    store: Option<Store>,
    path: String,
    busy_timeout: Duration,
    errors: u64,
    regressions: u64,
    last_error: Option<String>,
    /// Set when opening failed at creation (reported by `mb_last_error`).
    open_error: Option<String>,
}

impl Calibration {
    /// Opens the store at `settings.path` and loads what it holds. Never
    /// fails: a store that cannot be opened or read leaves the learner on its
    /// bootstrap configs, and `open_error` says why.
    pub fn open(settings: &Settings, batch_max_events: u64) -> Calibration {
        Self::open_with_timeout(settings, batch_max_events, store::BUSY_TIMEOUT)
    }

    /// As `open`, with the time a write waits for a database locked by
    /// another process (tests shorten it).
    pub fn open_with_timeout(settings: &Settings, batch_max_events: u64, busy_timeout: Duration) -> Calibration {
        let mut c = Calibration {
            learner: Learner::new(settings, batch_max_events),
            store: None,
            path: settings.path.clone(),
            busy_timeout,
            errors: 0,
            regressions: 0,
            last_error: None,
            open_error: None,
        };
        match Store::open(&settings.path, busy_timeout).and_then(|s| s.load().map(|l| (s, l))) {
            Ok((store, loaded)) => {
                c.learner.load(&loaded);
                if store.read_only() {
                    let e = Error::new(
                        crate::Code::MB_ERR_CALIBRATION,
                        format!(
                            "calibration database {} is read-only (schema version {}): learning goes on in memory only",
                            settings.path,
                            store.version()
                        ),
                    );
                    c.open_error = Some(e.message().to_string());
                    c.fault(e);
                }
                c.store = Some(store);
            }
            Err(e) => {
                c.open_error = Some(e.message().to_string());
                c.fault(e);
            }
        }
        c
    }

    fn fault(&mut self, e: Error) {
        self.errors += 1;
        self.last_error = Some(e.message().to_string());
    }

    /// Learns from one window and persists it; returns what the learner
    /// decided (the next config to run for the report's level).
    pub fn observe(&mut self, report: &WindowReport) -> Outcome {
        let outcome = self.learner.observe(report);
        if outcome.regression {
            self.regressions += 1;
        }
        if outcome.scored {
            if let Err(e) = self.persist(report, &outcome) {
                self.fault(e);
            }
        }
        outcome
    }

    fn persist(&mut self, report: &WindowReport, outcome: &Outcome) -> Result<()> {
        let level = report.level;
        // A file removed (or replaced) under a live connection swallows
        // writes without an error: check, and start a new file holding
        // everything learned so far.
        let reopen = match &self.store {
            None => true,
            Some(s) => !s.still_there(),
        };
        if reopen {
            let was_open = self.store.take().is_some();
            let mut store = Store::open(&self.path, self.busy_timeout)?;
            store.write_state(&self.learner)?;
            self.store = Some(store);
            if was_open {
                // The file was lost; what was learned has been rewritten.
                self.fault(Error::new(
                    crate::Code::MB_ERR_CALIBRATION,
                    format!("calibration database {} disappeared during the run; recreated it", self.path),
                ));
            }
        }
        let store = self.store.as_mut().expect("opened above");
        store.record(report, outcome, &self.learner, level)
    }

    pub fn learner(&self) -> &Learner {
        &self.learner
    }

    /// The config to load when the collector enters `level`.
    pub fn best_config(&self, level: PressureLevel) -> BatchConfig {
        self.learner.best_config(level)
    }

    /// Store faults so far (open, read, write).
    pub fn errors(&self) -> u64 {
        self.errors
    }

    pub fn regressions(&self) -> u64 {
        self.regressions
    }

    pub fn last_error(&self) -> Option<&str> {
        self.last_error.as_deref()
    }

    pub fn open_error(&self) -> Option<&str> {
        self.open_error.as_deref()
    }

    /// Whether the store is open and writable.
    pub fn persistent(&self) -> bool {
        self.store.as_ref().is_some_and(|s| !s.read_only())
    }
}

/// `calibration.path` with `~` expanded; None for `:memory:`.
pub(crate) fn resolve_path(raw: &str) -> Result<Option<std::path::PathBuf>> {
    if raw == ":memory:" {
        return Ok(None);
    }
    let expanded = if raw == "~" || raw.starts_with("~/") {
        let home = std::env::var_os("HOME").filter(|h| !h.is_empty()).ok_or_else(|| {
            Error::new(
                crate::Code::MB_ERR_CALIBRATION,
                format!("`calibration.path` = {raw} starts with ~ but HOME is not set"),
            )
        })?;
        let mut p = std::path::PathBuf::from(home);
        if raw.len() > 2 {
            p.push(&raw[2..]);
        }
        p
    } else {
        std::path::PathBuf::from(raw)
    };
    Ok(Some(expanded))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_dir(name: &str) -> std::path::PathBuf {
        let d = std::env::temp_dir().join(format!("mb-calib-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    fn settings(path: &std::path::Path) -> Settings {
        Settings { path: path.to_str().unwrap().into(), seed: Some(9), ..Settings::default() }
    }

    fn window(ts: i64, busy_ns_per_event: f64) -> WindowReport {
        let level = PressureLevel::L5Balanced;
        WindowReport {
            ts_ms: ts,
            level,
            config: BatchConfig { batch_events: 512, interval_us: 50_000, idle_flush: false },
            window_us: 10_000_000,
            offered_per_sec: 5_000.0,
            delivered_per_sec: 5_000.0,
            frames: 200,
            closed_by: CloseReasons { time: 200, ..CloseReasons::default() },
            mean_frame_events: 250.0,
            mean_frame_bytes: 26_000.0,
            latency: Latency { p50_us: 30_000, p99_us: 51_000, p999_us: 52_000, max_us: 52_000 },
            busy_ns_per_event,
            flush_threads: 1,
        }
    }

    fn rows(path: &std::path::Path) -> i64 {
        let conn = rusqlite::Connection::open(path).unwrap();
        conn.query_row("SELECT count(*) FROM observations", [], |r| r.get(0)).unwrap()
    }

    /// Whatever the store does, the learner goes on: the window is learned
    /// and the config to run next is answered.
    fn still_learns(c: &mut Calibration, ts: i64) {
        let o = c.observe(&window(ts, 100.0));
        assert!(o.scored);
        let st = &c.learner().level(PressureLevel::L5Balanced).configs[&window(0, 0.0).config];
        assert_eq!(st.last_ts_ms, ts);
    }

    #[test]
    fn a_corrupt_file_leaves_the_bootstrap_and_counts_errors() {
        let dir = temp_dir("corrupt");
        let path = dir.join("c.db");
        std::fs::write(&path, vec![0x5Au8; 8192]).unwrap();
        let mut c = Calibration::open(&settings(&path), 1_000_000);
        assert_eq!(c.errors(), 1);
        assert!(c.open_error().unwrap().contains("c.db"), "{:?}", c.open_error());
        assert!(!c.persistent());
        for level in PressureLevel::ALL {
            assert_eq!(c.best_config(level), BatchConfig::bootstrap(level, 1_000_000));
        }
        still_learns(&mut c, 1);
        assert_eq!(c.errors(), 2, "each window retries the file and counts the failure");
        assert_eq!(std::fs::read(&path).unwrap(), vec![0x5Au8; 8192], "the file is left as it was");
    }

    #[test]
    fn a_folder_that_cannot_be_created_counts_an_error() {
        let dir = temp_dir("nofolder");
        let blocker = dir.join("a-file");
        std::fs::write(&blocker, b"x").unwrap();
        let path = blocker.join("sub").join("c.db");
        let mut c = Calibration::open(&settings(&path), 1_000_000);
        assert_eq!(c.errors(), 1);
        assert!(c.open_error().unwrap().contains("cannot create folder"), "{:?}", c.open_error());
        still_learns(&mut c, 1);
        assert_eq!(c.best_config(PressureLevel::L5Balanced), window(0, 0.0).config);
    }

    #[test]
    fn a_read_only_file_is_read_and_never_written() {
        let dir = temp_dir("readonly");
        let path = dir.join("c.db");
        {
            let mut c = Calibration::open(&settings(&path), 1_000_000);
            c.observe(&window(1, 100.0));
            assert_eq!(c.errors(), 0);
        }
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o444)).unwrap();
        let mut immutable = false;
        if std::fs::OpenOptions::new().append(true).open(&path).is_ok() {
            // Root ignores permission bits: make the file immutable instead.
            immutable = std::process::Command::new("chattr").arg("+i").arg(&path).status().is_ok_and(|s| s.success());
            if !immutable {
                eprintln!("skipped: running as root without chattr, the file cannot be made read-only");
                return;
            }
        }
        let before = std::fs::read(&path).unwrap();
        let mut c = Calibration::open(&settings(&path), 1_000_000);
        assert!(c.errors() >= 1, "a read-only store is reported");
        assert!(!c.persistent());
        still_learns(&mut c, 2);
        still_learns(&mut c, 3);
        assert_eq!(std::fs::read(&path).unwrap(), before);
        if immutable {
            let _ = std::process::Command::new("chattr").arg("-i").arg(&path).status();
        }
    }

    #[test]
    fn a_locked_database_costs_the_window_not_the_run() {
        let dir = temp_dir("locked");
        let path = dir.join("c.db");
        let mut c = Calibration::open_with_timeout(&settings(&path), 1_000_000, Duration::from_millis(50));
        assert_eq!(c.errors(), 0);
        // Another process holds the write lock.
        let other = rusqlite::Connection::open(&path).unwrap();
        other.execute_batch("BEGIN IMMEDIATE").unwrap();
        still_learns(&mut c, 1);
        assert_eq!(c.errors(), 1);
        assert!(c.last_error().unwrap().contains("locked"), "{:?}", c.last_error());
        other.execute_batch("COMMIT").unwrap();
        still_learns(&mut c, 2);
        assert_eq!(c.errors(), 1);
        assert_eq!(rows(&path), 1, "the window after the lock is written");
    }

    #[test]
    fn a_file_deleted_during_the_run_is_recreated_with_what_was_learned() {
        let dir = temp_dir("deleted");
        let path = dir.join("c.db");
        let mut c = Calibration::open(&settings(&path), 1_000_000);
        still_learns(&mut c, 1);
        still_learns(&mut c, 2);
        assert_eq!(rows(&path), 2);
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
        }
        still_learns(&mut c, 3);
        assert_eq!(c.errors(), 1);
        assert!(c.last_error().unwrap().contains("disappeared"), "{:?}", c.last_error());
        assert!(path.exists());
        assert_eq!(rows(&path), 1, "the new file has the window after the loss");
        drop(c);
        let again = Calibration::open(&settings(&path), 1_000_000);
        let st = &again.learner().level(PressureLevel::L5Balanced).configs[&window(0, 0.0).config];
        assert_eq!(st.observations, 3, "what was learned before the loss was written back");
        assert_eq!(again.best_config(PressureLevel::L5Balanced), window(0, 0.0).config);
    }

    #[test]
    fn splitmix_is_reproducible_and_spread() {
        let mut a = SplitMix64::new(7);
        let mut b = SplitMix64::new(7);
        let xs: Vec<u64> = (0..8).map(|_| a.next_u64()).collect();
        let ys: Vec<u64> = (0..8).map(|_| b.next_u64()).collect();
        assert_eq!(xs, ys);
        assert_ne!(SplitMix64::new(8).next_u64(), xs[0]);
        let mut r = SplitMix64::new(1);
        let mut buckets = [0u32; 10];
        for _ in 0..10_000 {
            let x = r.next_f64();
            assert!((0.0..1.0).contains(&x));
            buckets[(x * 10.0) as usize] += 1;
        }
        assert!(buckets.iter().all(|&n| (800..1200).contains(&n)), "{buckets:?}");
    }

    #[test]
    fn paths_expand_home_and_keep_memory() {
        assert_eq!(resolve_path(":memory:").unwrap(), None);
        assert_eq!(resolve_path("/tmp/x.db").unwrap(), Some("/tmp/x.db".into()));
        if let Some(home) = std::env::var_os("HOME").filter(|h| !h.is_empty()) {
            let p = resolve_path("~/.reactive/calibration.db").unwrap().unwrap();
            assert_eq!(p, std::path::Path::new(&home).join(".reactive/calibration.db"));
        }
    }
}
