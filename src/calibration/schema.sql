-- microbatch calibration database, schema version 1.
--
-- One file shared by every process that learns: the Rust library (rusqlite)
-- and the Java library (sqlite-jdbc) read and write these same tables, so a
-- service that switches implementation keeps what was learned.
--
-- Version: PRAGMA user_version (0 = empty file, 1 = this schema). A reader
-- that finds a higher version than it knows opens the file read-only for
-- best_config and never writes. Migrations run in one transaction each.
-- Connections use journal_mode=WAL and busy_timeout=5000 (ms).
--
-- Units: times in microseconds (_us) or nanoseconds (_ns) as named; rates in
-- events per second; timestamps in milliseconds since the Unix epoch (ts_ms).
-- A config is the tuple (level, batch_events, interval_us, idle_flush):
--   level        1..10 (L1_REALTIME .. L10_MAX)
--   batch_events N: a frame is flushed once it holds this many events
--   interval_us  T: a frame is flushed once its oldest event waited this long
--   idle_flush   1: a frame also goes at once when its flush thread has no
--                send outstanding (flush-when-idle); 0: only N, T or bytes

-- One row per pressure window: what a config did under the load it saw.
CREATE TABLE IF NOT EXISTS observations (
    id                 INTEGER PRIMARY KEY AUTOINCREMENT,
    ts_ms              INTEGER NOT NULL,
    impl               TEXT    NOT NULL,           -- 'rust' or 'java'
    level              INTEGER NOT NULL CHECK (level BETWEEN 1 AND 10),
    batch_events       INTEGER NOT NULL CHECK (batch_events >= 1),
    interval_us        INTEGER NOT NULL CHECK (interval_us >= 0),
    idle_flush         INTEGER NOT NULL DEFAULT 0 CHECK (idle_flush IN (0, 1)),
    window_us          INTEGER NOT NULL,           -- length of the window
    offered_per_sec    REAL    NOT NULL,           -- events submitted / window
    delivered_per_sec  REAL    NOT NULL,           -- events acknowledged / window
    frames             INTEGER NOT NULL,           -- frames sent in the window
    closed_by_count    INTEGER NOT NULL DEFAULT 0, -- frames closed because they held N events
    closed_by_time     INTEGER NOT NULL DEFAULT 0, -- ... because the oldest event waited T
    closed_by_bytes    INTEGER NOT NULL DEFAULT 0, -- ... because batch.max.bytes was reached
    closed_by_idle     INTEGER NOT NULL DEFAULT 0, -- ... because the sink was idle (idle_flush)
    mean_frame_events  REAL    NOT NULL,
    mean_frame_bytes   REAL    NOT NULL,
    p50_us             INTEGER NOT NULL,           -- wait from enqueue to acknowledgement
    p99_us             INTEGER NOT NULL,
    p999_us            INTEGER NOT NULL,
    max_us             INTEGER NOT NULL,
    busy_ns_per_event  REAL    NOT NULL,           -- flush + send busy time per delivered event
    score              REAL    NOT NULL,           -- see README, "The score"
    regression         INTEGER NOT NULL DEFAULT 0 CHECK (regression IN (0, 1))
);
CREATE INDEX IF NOT EXISTS observations_by_level ON observations (level, ts_ms);

-- Learned expectation per config: EMA of its score and how often it was seen.
CREATE TABLE IF NOT EXISTS configs (
    level              INTEGER NOT NULL CHECK (level BETWEEN 1 AND 10),
    batch_events       INTEGER NOT NULL,
    interval_us        INTEGER NOT NULL,
    idle_flush         INTEGER NOT NULL DEFAULT 0,
    ema_score          REAL    NOT NULL,
    ema_p99_us         REAL    NOT NULL,
    observations       INTEGER NOT NULL,
    regressions        INTEGER NOT NULL DEFAULT 0, -- windows > 10% below the EMA
    budget_violations  INTEGER NOT NULL DEFAULT 0, -- windows whose p99 broke the budget
    last_ts_ms         INTEGER NOT NULL,
    last_regression_ts_ms INTEGER,                  -- NULL: never
    PRIMARY KEY (level, batch_events, interval_us, idle_flush)
);

-- The best config per level: what a collector loads when it enters the level
-- (the seed's getBestConfigForPressure). No row: the level's bootstrap.
CREATE TABLE IF NOT EXISTS best (
    level              INTEGER PRIMARY KEY CHECK (level BETWEEN 1 AND 10),
    batch_events       INTEGER NOT NULL,
    interval_us        INTEGER NOT NULL,
    idle_flush         INTEGER NOT NULL DEFAULT 0,
    score              REAL    NOT NULL,           -- its EMA score when chosen
    demotions          INTEGER NOT NULL DEFAULT 0, -- times a regressing best was replaced
    updated_ts_ms      INTEGER NOT NULL
);
