//! What a calibration database holds, per level, for people (a table) and
//! programs (JSON): `microbatch calibration status` and
//! `mb_calibration_status_json`. Reads only; never creates or changes a file.

use super::store::open_read_only;
use super::BatchConfig;
use crate::error::{Code, Error, Result};
use crate::pressure::PressureLevel;
use std::fmt::Write as _;

/// The N cap assumed when showing a level's bootstrap (the default
/// `batch.max.events`).
const SHOWN_BATCH_MAX_EVENTS: u64 = 1_000_000;

/// One level's line.
#[derive(Debug, Clone, PartialEq)]
pub struct LevelStatus {
    pub level: PressureLevel,
    /// True when the config is a learned best, false for the bootstrap.
    pub learned: bool,
    pub config: BatchConfig,
    /// The best's EMA score (events per busy second, see README).
    pub expected_score: Option<f64>,
    pub expected_p99_us: Option<f64>,
    /// Windows recorded at this level.
    pub observations: u64,
    /// Distinct configs tried at this level.
    pub configs: u64,
    pub regressions: u64,
    pub demotions: u64,
    pub last_regression_ts_ms: Option<i64>,
}

/// The whole database.
#[derive(Debug, Clone, PartialEq)]
pub struct Status {
    pub path: String,
    pub schema_version: i64,
    pub levels: Vec<LevelStatus>,
}

fn err(e: impl std::fmt::Display) -> Error {
    Error::new(Code::MB_ERR_CALIBRATION, format!("cannot read the calibration database: {e}"))
}

/// Reads the database at `raw_path` (`~` expanded).
pub fn read(raw_path: &str) -> Result<Status> {
    let conn = open_read_only(raw_path)?;
    let schema_version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0)).map_err(err)?;
    let mut levels: Vec<LevelStatus> = PressureLevel::ALL
        .iter()
        .map(|&level| LevelStatus {
            level,
            learned: false,
            config: BatchConfig::bootstrap(level, SHOWN_BATCH_MAX_EVENTS),
            expected_score: None,
            expected_p99_us: None,
            observations: 0,
            configs: 0,
            regressions: 0,
            demotions: 0,
            last_regression_ts_ms: None,
        })
        .collect();
    let index = |n: i64| usize::try_from(n - 1).ok().filter(|&i| i < 10);

    let mut stmt = conn.prepare("SELECT level, count(*) FROM observations GROUP BY level").map_err(err)?;
    let rows = stmt.query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?))).map_err(err)?;
    for row in rows {
        let (level, n) = row.map_err(err)?;
        if let Some(i) = index(level) {
            levels[i].observations = n.max(0) as u64;
        }
    }

    let mut stmt = conn
        .prepare("SELECT level, count(*), total(regressions), max(last_regression_ts_ms) FROM configs GROUP BY level")
        .map_err(err)?;
    let rows = stmt
        .query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?, r.get::<_, f64>(2)?, r.get::<_, Option<i64>>(3)?)))
        .map_err(err)?;
    for row in rows {
        let (level, n, regressions, last) = row.map_err(err)?;
        if let Some(i) = index(level) {
            levels[i].configs = n.max(0) as u64;
            levels[i].regressions = regressions.max(0.0) as u64;
            levels[i].last_regression_ts_ms = last;
        }
    }

    let mut stmt = conn
        .prepare(
            "SELECT b.level, b.batch_events, b.interval_us, b.idle_flush, b.demotions, c.ema_score, c.ema_p99_us
             FROM best b LEFT JOIN configs c ON c.level = b.level AND c.batch_events = b.batch_events
               AND c.interval_us = b.interval_us AND c.idle_flush = b.idle_flush",
        )
        .map_err(err)?;
    let rows = stmt
        .query_map([], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                BatchConfig {
                    batch_events: r.get::<_, i64>(1)?.max(1) as u64,
                    interval_us: r.get::<_, i64>(2)?.max(0) as u64,
                    idle_flush: r.get::<_, i64>(3)? != 0,
                },
                r.get::<_, i64>(4)?,
                r.get::<_, Option<f64>>(5)?,
                r.get::<_, Option<f64>>(6)?,
            ))
        })
        .map_err(err)?;
    for row in rows {
        let (level, config, demotions, score, p99) = row.map_err(err)?;
        if let Some(i) = index(level) {
            let l = &mut levels[i];
            l.demotions = demotions.max(0) as u64;
            // A best row without a config row, or without a positive score, is
            // a level demoted back to its bootstrap.
            if let (Some(score), Some(p99)) = (score, p99) {
                if score > 0.0 && p99 <= (l.level.budget_ms() * 1000) as f64 {
                    l.learned = true;
                    l.config = config;
                    l.expected_score = Some(score);
                    l.expected_p99_us = Some(p99);
                }
            }
        }
    }
    let path = super::resolve_path(raw_path)?.map_or_else(|| raw_path.to_string(), |p| p.display().to_string());
    Ok(Status { path, schema_version, levels })
}

fn json_str(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

fn json_f64(out: &mut String, v: Option<f64>) {
    match v {
        Some(v) if v.is_finite() => {
            let _ = write!(out, "{v:.1}");
        }
        _ => out.push_str("null"),
    }
}

impl Status {
    /// One JSON object: {"path", "schema_version", "levels": [...]}, each
    /// level with its config (`learned` false: the bootstrap), expected
    /// score and p99, counts and the last regression (ms since the epoch).
    pub fn to_json(&self) -> String {
        let mut o = String::with_capacity(4096);
        o.push_str("{\"path\":");
        json_str(&mut o, &self.path);
        let _ = write!(o, ",\"schema_version\":{},\"levels\":[", self.schema_version);
        for (i, l) in self.levels.iter().enumerate() {
            if i > 0 {
                o.push(',');
            }
            let _ = write!(
                o,
                "{{\"level\":{},\"name\":\"{}\",\"budget_us\":{},\"learned\":{},\"batch_events\":{},\"interval_us\":{},\"idle_flush\":{},\"expected_score\":",
                l.level.number(),
                l.level.name(),
                l.level.budget_ms() * 1000,
                l.learned,
                l.config.batch_events,
                l.config.interval_us,
                l.config.idle_flush
            );
            json_f64(&mut o, l.expected_score);
            o.push_str(",\"expected_p99_us\":");
            json_f64(&mut o, l.expected_p99_us);
            let _ = write!(
                o,
                ",\"observations\":{},\"configs\":{},\"regressions\":{},\"demotions\":{},\"last_regression_ts_ms\":",
                l.observations, l.configs, l.regressions, l.demotions
            );
            match l.last_regression_ts_ms {
                Some(ts) => {
                    let _ = write!(o, "{ts}");
                }
                None => o.push_str("null"),
            }
            o.push('}');
        }
        o.push_str("]}");
        o
    }

    /// A table for people, one line per level.
    pub fn to_table(&self) -> String {
        let mut o = String::new();
        let _ = writeln!(o, "calibration database {} (schema version {})", self.path, self.schema_version);
        let _ = writeln!(
            o,
            "{:<14} {:>7}  {:<9} {:>10} {:>9} {:<4} {:>14} {:>9} {:>7} {:>7} {:>11}  last regression",
            "level", "budget", "config", "N", "T", "idle", "score (ev/s)", "p99", "windows", "configs", "regressions"
        );
        for l in &self.levels {
            let _ = writeln!(
                o,
                "{:<14} {:>7}  {:<9} {:>10} {:>9} {:<4} {:>14} {:>9} {:>7} {:>7} {:>11}  {}",
                l.level.name(),
                human_us(l.level.budget_ms() * 1000),
                if l.learned { "learned" } else { "bootstrap" },
                l.config.batch_events,
                human_us(l.config.interval_us),
                if l.config.idle_flush { "yes" } else { "no" },
                l.expected_score.map_or("-".into(), |s| format!("{s:.0}")),
                l.expected_p99_us.map_or("-".into(), |p| human_us(p as u64)),
                l.observations,
                l.configs,
                l.regressions,
                l.last_regression_ts_ms.map_or("-".into(), utc),
            );
        }
        o
    }
}

/// 500 us, 2.5 ms, 1.2 s.
fn human_us(us: u64) -> String {
    if us < 1_000 {
        format!("{us} us")
    } else if us < 1_000_000 {
        format!("{} ms", trim(us as f64 / 1e3))
    } else {
        format!("{} s", trim(us as f64 / 1e6))
    }
}

fn trim(v: f64) -> String {
    let s = format!("{v:.1}");
    s.strip_suffix(".0").map(str::to_string).unwrap_or(s)
}

/// Milliseconds since the epoch as "YYYY-MM-DD HH:MM:SS UTC" (civil-from-days).
fn utc(ts_ms: i64) -> String {
    let secs = ts_ms.div_euclid(1000);
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02} UTC", rem / 3600, rem % 3600 / 60, rem % 60)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::calibration::{Calibration, CloseReasons, Latency, Settings, WindowReport};

    #[test]
    fn utc_dates() {
        assert_eq!(utc(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(utc(951_782_400_000), "2000-02-29 00:00:00 UTC");
        assert_eq!(utc(1_764_936_000_123), "2025-12-05 12:00:00 UTC");
    }

    #[test]
    fn human_units() {
        assert_eq!(human_us(500), "500 us");
        assert_eq!(human_us(2_500), "2.5 ms");
        assert_eq!(human_us(30_000_000), "30 s");
    }

    #[test]
    fn status_shows_learned_and_bootstrap_levels() {
        let dir = std::env::temp_dir().join(format!("mb-calib-{}-status", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let path = dir.join("c.db");
        let p = path.to_str().unwrap();
        assert!(read(p).unwrap_err().message().contains("no calibration database"));
        assert!(!path.exists(), "status never creates a file");
        let settings = Settings { path: p.into(), seed: Some(1), ..Settings::default() };
        let mut c = Calibration::open(&settings, 1_000_000);
        let config = BatchConfig { batch_events: 512, interval_us: 50_000, idle_flush: true };
        for ts in 1..=3 {
            c.observe(&WindowReport {
                ts_ms: ts,
                level: PressureLevel::L5Balanced,
                config,
                window_us: 10_000_000,
                offered_per_sec: 5000.0,
                delivered_per_sec: 5000.0,
                frames: 100,
                closed_by: CloseReasons::default(),
                mean_frame_events: 500.0,
                mean_frame_bytes: 52_000.0,
                latency: Latency { p50_us: 20_000, p99_us: 51_000, p999_us: 52_000, max_us: 53_000 },
                busy_ns_per_event: if ts == 3 { 400.0 } else { 200.0 },
                flush_threads: 1,
            });
        }
        let s = read(p).unwrap();
        assert_eq!(s.schema_version, 1);
        let l5 = &s.levels[4];
        assert!(l5.learned);
        assert_eq!((l5.config, l5.observations, l5.configs, l5.regressions), (config, 3, 1, 1));
        assert_eq!(l5.last_regression_ts_ms, Some(3));
        assert!(l5.expected_score.unwrap() > 0.0);
        let l1 = &s.levels[0];
        assert!(!l1.learned);
        assert_eq!(l1.config, BatchConfig::bootstrap(PressureLevel::L1Realtime, 1_000_000));

        let json = s.to_json();
        assert!(json.starts_with("{\"path\":") && json.ends_with("]}"), "{json}");
        assert!(json.contains("\"name\":\"L5_BALANCED\",\"budget_us\":100000,\"learned\":true,\"batch_events\":512,\"interval_us\":50000,\"idle_flush\":true"), "{json}");
        assert!(json.contains("\"observations\":3,\"configs\":1,\"regressions\":1,\"demotions\":0,\"last_regression_ts_ms\":3"), "{json}");
        assert_eq!(json.matches("\"level\":").count(), 10);
        let table = s.to_table();
        assert_eq!(table.lines().count(), 12, "{table}");
        let line = table.lines().find(|l| l.starts_with("L5_BALANCED")).unwrap();
        assert!(line.contains("learned") && line.contains("512") && line.contains("50 ms") && line.contains("yes"), "{line}");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn json_strings_are_escaped() {
        let mut o = String::new();
        json_str(&mut o, "a\"b\\c\nd");
        assert_eq!(o, "\"a\\\"b\\\\c\\u000ad\"");
    }
}
