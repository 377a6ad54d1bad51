//! The calibration database (schema.sql), shared with the Java library.
//!
//! One connection per store, used from one thread (the calibration thread),
//! in WAL mode with a busy timeout, so another process (a Java service on the
//! same file, or the status tool) may read while this one writes. The schema
//! version is `PRAGMA user_version`; a file of a newer version than this
//! library knows is opened read-only and never written.

use super::learner::{BestRow, ConfigStats, Learner, Outcome, Snapshot};
use super::{BatchConfig, WindowReport};
use crate::error::{Code, Error, Result};
use crate::pressure::PressureLevel;
use rusqlite::{params, Connection, OpenFlags, TransactionBehavior};
use std::path::PathBuf;
use std::time::Duration;

/// The schema this library writes.
pub const SCHEMA_VERSION: i64 = 1;
/// What schema.sql asks of every connection.
pub const BUSY_TIMEOUT: Duration = Duration::from_millis(5000);
const SCHEMA: &str = include_str!("schema.sql");

fn err(context: impl std::fmt::Display, e: impl std::fmt::Display) -> Error {
    Error::new(Code::MB_ERR_CALIBRATION, format!("{context}: {e}"))
}

/// An open calibration database.
pub struct Store {
    conn: Connection,
    /// The file, or None for `:memory:`.
    path: Option<PathBuf>,
    /// (device, inode) of the file when opened: a file removed or replaced
    /// under the connection is noticed by `still_there`.
    identity: Option<(u64, u64)>,
    read_only: bool,
    version: i64,
}

impl Store {
    /// Opens (creating the file and its folder if needed) and migrates.
    pub fn open(raw_path: &str, busy_timeout: Duration) -> Result<Store> {
        let path = super::resolve_path(raw_path)?;
        let conn = match &path {
            None => Connection::open_in_memory().map_err(|e| err("cannot open an in-memory calibration database", e))?,
            Some(p) => {
                if let Some(parent) = p.parent().filter(|d| !d.as_os_str().is_empty()) {
                    std::fs::create_dir_all(parent).map_err(|e| {
                        err(format_args!("cannot create folder {} for `calibration.path`", parent.display()), e)
                    })?;
                }
                Connection::open_with_flags(p, OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE)
                    .map_err(|e| err(format_args!("cannot open calibration database {}", p.display()), e))?
            }
        };
        let name = path.as_ref().map_or(":memory:".to_string(), |p| p.display().to_string());
        let ctx = |what: &str| format!("calibration database {name}: {what}");
        conn.busy_timeout(busy_timeout).map_err(|e| err(ctx("busy_timeout"), e))?;
        // The first statement reads the header: a file that is not a database fails here.
        let mut version: i64 =
            conn.query_row("PRAGMA user_version", [], |r| r.get(0)).map_err(|e| err(ctx("cannot read it"), e))?;
        let mut read_only = conn.is_readonly(rusqlite::MAIN_DB).unwrap_or(true);
        if !read_only && version <= SCHEMA_VERSION {
            conn.query_row("PRAGMA journal_mode=WAL", [], |r| r.get::<_, String>(0))
                .map_err(|e| err(ctx("cannot switch to WAL"), e))?;
        }
        if version > SCHEMA_VERSION {
            // Written by a newer library: read what we understand, write nothing.
            read_only = true;
        }
        let mut store = Store { conn, identity: None, path, read_only, version };
        if version < SCHEMA_VERSION {
            if store.read_only {
                return Err(err(ctx("read-only and without the calibration schema"), "cannot create it"));
            }
            version = store.migrate().map_err(|e| err(ctx("cannot create the schema"), e))?;
            store.version = version;
        }
        store.identity = store.path.as_deref().and_then(identity);
        Ok(store)
    }

    /// Runs the migrations from the file's version up, each in one
    /// transaction that re-reads the version (another process may have
    /// migrated meanwhile).
    fn migrate(&mut self) -> rusqlite::Result<i64> {
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let version: i64 = tx.query_row("PRAGMA user_version", [], |r| r.get(0))?;
        if version == 0 {
            tx.execute_batch(SCHEMA)?;
            tx.execute_batch(&format!("PRAGMA user_version = {SCHEMA_VERSION}"))?;
        }
        // Version 1 is the first; later ones add `if version == 1 { ... }`.
        tx.commit()?;
        self.conn.query_row("PRAGMA user_version", [], |r| r.get(0))
    }

    pub fn read_only(&self) -> bool {
        self.read_only
    }

    pub fn version(&self) -> i64 {
        self.version
    }

    /// False once the file was removed or replaced under the connection.
    pub fn still_there(&self) -> bool {
        match (&self.path, self.identity) {
            (Some(p), Some(id)) => identity(p) == Some(id),
            (Some(_), None) => false,
            (None, _) => true,
        }
    }

    /// Everything learned: every config row and every best row.
    pub fn load(&self) -> Result<Snapshot> {
        let ctx = "cannot read the calibration database";
        let mut snapshot = Snapshot::default();
        let mut stmt = self
            .conn
            .prepare(
                "SELECT level, batch_events, interval_us, idle_flush, ema_score, ema_p99_us, observations,
                        regressions, budget_violations, last_ts_ms, last_regression_ts_ms FROM configs",
            )
            .map_err(|e| err(ctx, e))?;
        let rows = stmt
            .query_map([], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    config(r.get(1)?, r.get(2)?, r.get(3)?),
                    ConfigStats {
                        ema_score: r.get(4)?,
                        ema_p99_us: r.get(5)?,
                        observations: r.get::<_, i64>(6)?.max(0) as u64,
                        regressions: r.get::<_, i64>(7)?.max(0) as u64,
                        budget_violations: r.get::<_, i64>(8)?.max(0) as u64,
                        last_ts_ms: r.get(9)?,
                        last_regression_ts_ms: r.get(10)?,
                        last_violated: false,
                    },
                ))
            })
            .map_err(|e| err(ctx, e))?;
        for row in rows {
            let (level, config, stats) = row.map_err(|e| err(ctx, e))?;
            if let Some(level) = level_of(level) {
                snapshot.configs.push((level, config, stats));
            }
        }
        let mut stmt = self
            .conn
            .prepare("SELECT level, batch_events, interval_us, idle_flush, score, demotions, updated_ts_ms FROM best")
            .map_err(|e| err(ctx, e))?;
        let rows = stmt
            .query_map([], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    BestRow {
                        config: config(r.get(1)?, r.get(2)?, r.get(3)?),
                        score: r.get(4)?,
                        demotions: r.get::<_, i64>(5)?.max(0) as u64,
                        updated_ts_ms: r.get(6)?,
                    },
                ))
            })
            .map_err(|e| err(ctx, e))?;
        for row in rows {
            let (level, best) = row.map_err(|e| err(ctx, e))?;
            if let Some(level) = level_of(level) {
                snapshot.best.push((level, best));
            }
        }
        Ok(snapshot)
    }

    /// Records one scored window: its observation row, its config's row and
    /// the level's best row, in one transaction.
    pub fn record(&mut self, report: &WindowReport, outcome: &Outcome, learner: &Learner, level: PressureLevel) -> Result<()> {
        if self.read_only {
            return Ok(());
        }
        let run = |conn: &mut Connection| -> rusqlite::Result<()> {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let c = report.config;
            tx.execute(
                "INSERT INTO observations (ts_ms, impl, level, batch_events, interval_us, idle_flush, window_us,
                    offered_per_sec, delivered_per_sec, frames, closed_by_count, closed_by_time, closed_by_bytes,
                    closed_by_idle, mean_frame_events, mean_frame_bytes, p50_us, p99_us, p999_us, max_us,
                    busy_ns_per_event, score, regression)
                 VALUES (?1, 'rust', ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21, ?22)",
                params![
                    report.ts_ms,
                    level.number(),
                    sql_u64(c.batch_events),
                    sql_u64(c.interval_us),
                    c.idle_flush,
                    sql_u64(report.window_us),
                    report.offered_per_sec,
                    report.delivered_per_sec,
                    sql_u64(report.frames),
                    sql_u64(report.closed_by.count),
                    sql_u64(report.closed_by.time),
                    sql_u64(report.closed_by.bytes),
                    sql_u64(report.closed_by.idle),
                    report.mean_frame_events,
                    report.mean_frame_bytes,
                    sql_u64(report.latency.p50_us),
                    sql_u64(report.latency.p99_us),
                    sql_u64(report.latency.p999_us),
                    sql_u64(report.latency.max_us),
                    report.busy_ns_per_event,
                    outcome.score,
                    outcome.regression,
                ],
            )?;
            let ls = learner.level(level);
            if let Some(stats) = ls.configs.get(&c) {
                upsert_config(&tx, level, &c, stats)?;
            }
            upsert_best(&tx, learner, level)?;
            tx.commit()
        };
        run(&mut self.conn).map_err(|e| err("cannot write to the calibration database", e))
    }

    /// Writes everything the learner knows (used after a file was lost).
    pub fn write_state(&mut self, learner: &Learner) -> Result<()> {
        if self.read_only {
            return Ok(());
        }
        let run = |conn: &mut Connection| -> rusqlite::Result<()> {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            for level in PressureLevel::ALL {
                for (c, stats) in &learner.level(level).configs {
                    upsert_config(&tx, level, c, stats)?;
                }
                upsert_best(&tx, learner, level)?;
            }
            tx.commit()
        };
        run(&mut self.conn).map_err(|e| err("cannot write to the calibration database", e))
    }
}

fn upsert_config(tx: &rusqlite::Transaction<'_>, level: PressureLevel, c: &BatchConfig, s: &ConfigStats) -> rusqlite::Result<()> {
    tx.execute(
        "INSERT INTO configs (level, batch_events, interval_us, idle_flush, ema_score, ema_p99_us, observations,
            regressions, budget_violations, last_ts_ms, last_regression_ts_ms)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)
         ON CONFLICT (level, batch_events, interval_us, idle_flush) DO UPDATE SET
            ema_score = excluded.ema_score, ema_p99_us = excluded.ema_p99_us,
            observations = excluded.observations, regressions = excluded.regressions,
            budget_violations = excluded.budget_violations, last_ts_ms = excluded.last_ts_ms,
            last_regression_ts_ms = excluded.last_regression_ts_ms",
        params![
            level.number(),
            sql_u64(c.batch_events),
            sql_u64(c.interval_us),
            c.idle_flush,
            s.ema_score,
            s.ema_p99_us,
            sql_u64(s.observations),
            sql_u64(s.regressions),
            sql_u64(s.budget_violations),
            s.last_ts_ms,
            s.last_regression_ts_ms,
        ],
    )?;
    Ok(())
}

/// The level's best row. A level demoted back to its bootstrap keeps a row
/// naming the bootstrap with score 0 (so its demotion count survives); a
/// loader treats it as "no learned best".
fn upsert_best(tx: &rusqlite::Transaction<'_>, learner: &Learner, level: PressureLevel) -> rusqlite::Result<()> {
    let ls = learner.level(level);
    if ls.best.is_none() && ls.demotions == 0 {
        return Ok(());
    }
    let best = learner.best_config(level);
    let score = learner.best_score(level).unwrap_or(0.0);
    tx.execute(
        "INSERT INTO best (level, batch_events, interval_us, idle_flush, score, demotions, updated_ts_ms)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
         ON CONFLICT (level) DO UPDATE SET
            batch_events = excluded.batch_events, interval_us = excluded.interval_us,
            idle_flush = excluded.idle_flush, score = excluded.score,
            demotions = excluded.demotions, updated_ts_ms = excluded.updated_ts_ms",
        params![
            level.number(),
            sql_u64(best.batch_events),
            sql_u64(best.interval_us),
            best.idle_flush,
            score,
            sql_u64(ls.demotions),
            ls.best_updated_ts_ms,
        ],
    )?;
    Ok(())
}

/// SQLite integers are signed 64-bit.
fn sql_u64(v: u64) -> i64 {
    v.min(i64::MAX as u64) as i64
}

fn config(n: i64, t: i64, idle: i64) -> BatchConfig {
    BatchConfig { batch_events: n.max(1) as u64, interval_us: t.max(0) as u64, idle_flush: idle != 0 }
}

fn level_of(n: i64) -> Option<PressureLevel> {
    u32::try_from(n).ok().and_then(PressureLevel::from_number)
}

fn identity(p: &std::path::Path) -> Option<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(p).ok().map(|m| (m.dev(), m.ino()))
}

/// Opens an existing database read-only (for status): never creates a file.
pub(crate) fn open_read_only(raw_path: &str) -> Result<Connection> {
    let path = super::resolve_path(raw_path)?
        .ok_or_else(|| Error::new(Code::MB_ERR_CALIBRATION, "`:memory:` holds nothing to show"))?;
    if !path.exists() {
        return Err(Error::new(Code::MB_ERR_CALIBRATION, format!("no calibration database at {}", path.display())));
    }
    let conn = Connection::open_with_flags(&path, OpenFlags::SQLITE_OPEN_READ_ONLY)
        .map_err(|e| err(format_args!("cannot open calibration database {}", path.display()), e))?;
    conn.busy_timeout(BUSY_TIMEOUT).map_err(|e| err("busy_timeout", e))?;
    let version: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .map_err(|e| err(format_args!("cannot read calibration database {}", path.display()), e))?;
    if version == 0 {
        return Err(Error::new(
            Code::MB_ERR_CALIBRATION,
            format!("{} holds no calibration schema (user_version 0)", path.display()),
        ));
    }
    Ok(conn)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::calibration::{Calibration, CloseReasons, Latency, Settings};

    pub(crate) fn temp_dir(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("mb-calib-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    fn report(level: PressureLevel, config: BatchConfig, busy: f64, p99: u64, ts: i64) -> WindowReport {
        WindowReport {
            ts_ms: ts,
            level,
            config,
            window_us: 1_000_000,
            offered_per_sec: 5000.0,
            delivered_per_sec: 5000.0,
            frames: 50,
            closed_by: CloseReasons { count: 10, time: 40, bytes: 0, idle: 0 },
            mean_frame_events: 100.0,
            mean_frame_bytes: 10_400.0,
            latency: Latency { p50_us: p99 / 2, p99_us: p99, p999_us: p99 + 1, max_us: p99 + 2 },
            busy_ns_per_event: busy,
            flush_threads: 1,
        }
    }

    fn settings(path: &str) -> Settings {
        Settings { path: path.into(), seed: Some(5), ..Settings::default() }
    }

    #[test]
    fn schema_is_created_in_wal_with_the_version() {
        let dir = temp_dir("schema");
        let path = dir.join("sub/folder/c.db");
        let store = Store::open(path.to_str().unwrap(), BUSY_TIMEOUT).unwrap();
        assert_eq!(store.version(), SCHEMA_VERSION);
        assert!(!store.read_only());
        let mode: String = store.conn.query_row("PRAGMA journal_mode", [], |r| r.get(0)).unwrap();
        assert_eq!(mode, "wal");
        let tables: Vec<String> = store
            .conn
            .prepare("SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%' ORDER BY name")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .map(|r| r.unwrap())
            .collect();
        assert_eq!(tables, ["best", "configs", "observations"]);
        drop(store);
        // Reopening keeps the version and does not fail on the existing tables.
        assert_eq!(Store::open(path.to_str().unwrap(), BUSY_TIMEOUT).unwrap().version(), 1);
    }

    #[test]
    fn what_is_learned_survives_a_restart() {
        let dir = temp_dir("restart");
        let path = dir.join("c.db");
        let p = path.to_str().unwrap();
        let good = BatchConfig { batch_events: 256, interval_us: 50_000, idle_flush: true };
        let other = BatchConfig { batch_events: 64, interval_us: 25_000, idle_flush: false };
        {
            let mut c = Calibration::open(&settings(p), 1_000_000);
            assert_eq!(c.errors(), 0, "{:?}", c.last_error());
            c.observe(&report(PressureLevel::L5Balanced, other, 2000.0, 40_000, 1));
            c.observe(&report(PressureLevel::L5Balanced, good, 500.0, 60_000, 2));
            c.observe(&report(PressureLevel::L5Balanced, good, 520.0, 60_000, 3));
            assert_eq!(c.best_config(PressureLevel::L5Balanced), good);
            assert_eq!(c.errors(), 0, "{:?}", c.last_error());
        }
        let c = Calibration::open(&settings(p), 1_000_000);
        assert_eq!(c.errors(), 0);
        assert_eq!(c.best_config(PressureLevel::L5Balanced), good);
        let st = &c.learner().level(PressureLevel::L5Balanced).configs[&good];
        assert_eq!(st.observations, 2);
        assert_eq!(c.best_config(PressureLevel::L4Moderate), BatchConfig::bootstrap(PressureLevel::L4Moderate, 1_000_000));
        let conn = open_read_only(p).unwrap();
        let (n, impl_, regression): (i64, String, i64) = conn
            .query_row("SELECT count(*), min(impl), max(regression) FROM observations", [], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })
            .unwrap();
        assert_eq!((n, impl_.as_str(), regression), (3, "rust", 0));
        let (p99, closed_by_time): (i64, i64) = conn
            .query_row("SELECT p99_us, closed_by_time FROM observations WHERE ts_ms = 2", [], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap();
        assert_eq!((p99, closed_by_time), (60_000, 40));
    }

    #[test]
    fn memory_databases_work_and_a_newer_schema_is_only_read() {
        let mut c = Calibration::open(&settings(":memory:"), 1_000_000);
        assert!(c.persistent());
        let cfg = BatchConfig { batch_events: 8, interval_us: 2_000, idle_flush: false };
        c.observe(&report(PressureLevel::L3Low, cfg, 1000.0, 3_000, 1));
        assert_eq!(c.errors(), 0);

        let dir = temp_dir("newer");
        let path = dir.join("c.db");
        let p = path.to_str().unwrap();
        drop(Store::open(p, BUSY_TIMEOUT).unwrap());
        let conn = Connection::open(&path).unwrap();
        conn.execute_batch("PRAGMA user_version = 99").unwrap();
        drop(conn);
        let s = Store::open(p, BUSY_TIMEOUT).unwrap();
        assert!(s.read_only());
        assert_eq!(s.version(), 99);
    }
}
