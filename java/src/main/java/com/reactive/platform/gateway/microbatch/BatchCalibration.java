package com.reactive.platform.gateway.microbatch;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.SplittableRandom;
import java.util.concurrent.atomic.AtomicLong;
import org.sqlite.SQLiteConfig;

/**
 * Learns the best (N, T, idle-flush) per pressure level from what each pressure window did,
 * and keeps it in SQLite across restarts: the seed's {@code BatchCalibration}.
 *
 * <p>The database is the Rust library's calibration file, schema version 1
 * ({@code src/calibration/schema.sql}, shipped in this jar unchanged): tables
 * {@code observations} (one row per window), {@code configs} (EMA of the score per config) and
 * {@code best} (what a collector loads when it enters a level). Either implementation reads
 * what the other learned. Connections use WAL and a 5 s busy timeout so several processes can
 * share one file; a file whose {@code user_version} is newer than 1 is only read, never written.
 *
 * <p>Learning:
 * <ul>
 *   <li>each window is scored with {@link Score} (0 when its p99 wait broke the level's budget);</li>
 *   <li>the score feeds an exponential moving average per config ({@value #EMA_ALPHA} weight on the
 *       newest window);</li>
 *   <li>a window more than 10% below its config's EMA is a regression: recorded, counted,
 *       logged; a best config that regresses until another config's EMA overtakes it is
 *       replaced (demoted);</li>
 *   <li>the best config of a level is the one with the highest EMA among those whose EMA p99
 *       is within the budget and whose latest window kept it;</li>
 *   <li>{@link #nextConfig} proposes what to try next: with probability
 *       {@code exploreRatio} (the seed's 20%) a random config within the level's bounds, otherwise
 *       a local refinement around the best, from a seedable generator so runs are repeatable.
 *       No proposal has a T above the level's budget.</li>
 * </ul>
 *
 * <p>A store failure never stops delivery: methods catch it, count it
 * ({@link #calibrationErrors()}) and answer from memory or the bootstrap.
 *
 * <p>The target latency of {@link #create(Path, double)} is kept as the preference inside the
 * budget that the calibration issue describes; it does not enter the score yet (the budget
 * does), pending the common formula with the Rust side.
 *
 * <p>Thread-safe: calls are serialized on this object (one call per pressure window).
 */
public final class BatchCalibration implements AutoCloseable {
    /** Weight of the newest window in a config's moving average. */
    public static final double EMA_ALPHA = 0.3;
    /** A window scoring more than this fraction below its config's EMA is a regression. */
    public static final double REGRESSION_DROP = 0.10;
    /** The schema version this class reads and writes ({@code PRAGMA user_version}). */
    public static final int SCHEMA_VERSION = 1;
    /** Written to {@code observations.impl}. */
    static final String IMPL = "java";
    static final String SCHEMA_RESOURCE = "/com/reactive/platform/gateway/microbatch/calibration/schema.sql";
    /** Factors a local refinement applies to N and to T. */
    private static final double[] REFINE_FACTORS = {0.5, 0.75, 1.0, 1.0, 1.33, 2.0};

    private static final System.Logger LOG = System.getLogger(BatchCalibration.class.getName());

    /**
     * A flush configuration: the seed's pair (N, T) plus flush-when-idle.
     *
     * @param batchEvents    N: a frame is flushed once it holds this many events (at least 1)
     * @param intervalMicros T: a frame is flushed once its oldest event has waited this long
     * @param idleFlush      a frame also goes at once when its flush thread has no send outstanding
     */
    public record Config(long batchEvents, long intervalMicros, boolean idleFlush) {
        public Config {
            if (batchEvents < 1) {
                throw new IllegalArgumentException("batchEvents must be at least 1, got " + batchEvents);
            }
            if (intervalMicros < 0) {
                throw new IllegalArgumentException("intervalMicros must not be negative, got " + intervalMicros);
            }
        }
    }

    /**
     * The bounds exploration stays in for one level: N from 1 to {@code maxBatchEvents}, T from
     * {@code minIntervalMicros} to the budget.
     */
    public record Bounds(long maxBatchEvents, long minIntervalMicros, long maxIntervalMicros) {
        boolean contains(Config c) {
            return c.batchEvents() >= 1 && c.batchEvents() <= maxBatchEvents
                    && c.intervalMicros() >= minIntervalMicros && c.intervalMicros() <= maxIntervalMicros;
        }
    }

    /**
     * What one pressure window did under one config; the columns of {@code observations}.
     *
     * @param busyNanos    flush + send busy time of all flush threads in the window
     * @param flushThreads how many flush threads shared that work
     */
    public record Observation(
            PressureLevel level, Config config, long windowMicros, double offeredPerSec, double deliveredPerSec,
            long frames, long closedByCount, long closedByTime, long closedByBytes, long closedByIdle,
            double meanFrameEvents, double meanFrameBytes,
            long p50Micros, long p99Micros, long p999Micros, long maxMicros,
            long busyNanos, int flushThreads) {
        public Observation {
            Objects.requireNonNull(level, "level");
            Objects.requireNonNull(config, "config");
        }

        /** Flush + send time per delivered event, in nanoseconds (0 without deliveries). */
        public double busyNanosPerEvent() {
            double delivered = deliveredPerSec * windowMicros / 1e6;
            return delivered > 0 ? busyNanos / delivered : 0.0;
        }

        public double score() {
            return Score.of(deliveredPerSec, busyNanos, windowMicros * 1_000L, flushThreads, p99Micros,
                    level.budgetMicros());
        }
    }

    /**
     * What recording a window concluded.
     *
     * @param best the level's best config afterwards (its bootstrap when nothing qualifies)
     */
    public record Outcome(double score, boolean regression, boolean budgetViolation, Config best) {
    }

    /**
     * One level's learned state, for status displays.
     *
     * @param best               the learned best, or the bootstrap when {@code learned} is false
     * @param score              its EMA score when chosen (0 for the bootstrap)
     * @param observations       windows recorded at this level, all configs
     * @param regressions        regressions at this level, all configs
     * @param lastRegressionTsMs newest regression at this level (ms since the epoch), or null
     */
    public record LevelStatus(PressureLevel level, Config best, boolean learned, double score, long observations,
                              long regressions, Long lastRegressionTsMs) {
    }

    private final Connection connection;
    private final String location;
    private final double targetLatencyMicros;
    private final double exploreRatio;
    private final SplittableRandom random;
    private final boolean readOnly;
    private final Config[] bestCache = new Config[PressureLevel.values().length];
    private final AtomicLong regressions = new AtomicLong();
    private final AtomicLong errors = new AtomicLong();
    private boolean closed;

    private BatchCalibration(Connection connection, String location, double targetLatencyMicros,
                             double exploreRatio, long seed, boolean readOnly) {
        this.connection = connection;
        this.location = location;
        this.targetLatencyMicros = targetLatencyMicros;
        this.exploreRatio = exploreRatio;
        this.random = new SplittableRandom(seed);
        this.readOnly = readOnly;
    }

    /**
     * Opens (creating if needed) the calibration database at {@code db}, as in the seed:
     * {@code BatchCalibration.create(Path.of("~/.reactive/calibration.db"), 5000.0)}. A leading
     * {@code ~} is the user's home, missing parent folders are created, and {@code :memory:}
     * gives a private in-memory database. Explores 20% of windows, with a fixed seed.
     *
     * @param targetLatencyMicros preferred wait inside the budget, in microseconds
     * @throws MicrobatchException with {@link Result#CALIBRATION} if the file cannot be opened
     *                             or is not a calibration database
     */
    public static BatchCalibration create(Path db, double targetLatencyMicros) {
        return create(db, targetLatencyMicros, 0.2, 0x5EEDL);
    }

    /**
     * {@link #create(Path, double)} with the exploration ratio ({@code calibration.explore.ratio})
     * and the generator's seed ({@code calibration.seed}).
     */
    public static BatchCalibration create(Path db, double targetLatencyMicros, double exploreRatio, long seed) {
        Objects.requireNonNull(db, "db");
        if (!(exploreRatio >= 0 && exploreRatio <= 1)) {
            throw new IllegalArgumentException("exploreRatio must be from 0 to 1, got " + exploreRatio);
        }
        String location = db.toString();
        String url;
        if (location.equals(":memory:")) {
            url = "jdbc:sqlite::memory:";
        } else {
            Path file = expandHome(location);
            location = file.toString();
            try {
                Path parent = file.toAbsolutePath().getParent();
                if (parent != null) {
                    Files.createDirectories(parent);
                }
            } catch (IOException e) {
                throw new MicrobatchException(Result.CALIBRATION,
                        "cannot create the folder of the calibration database " + location + ": " + e, e);
            }
            url = "jdbc:sqlite:" + location;
        }
        SQLiteConfig config = new SQLiteConfig();
        config.setBusyTimeout(5_000);
        config.setJournalMode(SQLiteConfig.JournalMode.WAL);
        // Writers take the lock when they begin, so two processes never deadlock upgrading.
        config.setTransactionMode(SQLiteConfig.TransactionMode.IMMEDIATE);
        Connection connection = null;
        try {
            connection = config.createConnection(url);
            boolean readOnly = migrate(connection, location);
            return new BatchCalibration(connection, location, targetLatencyMicros, exploreRatio, seed, readOnly);
        } catch (SQLException | RuntimeException e) {
            closeQuietly(connection);
            if (e instanceof MicrobatchException) {
                throw (MicrobatchException) e;
            }
            throw new MicrobatchException(Result.CALIBRATION,
                    "cannot open the calibration database " + location + ": " + e.getMessage(), e);
        }
    }

    static Path expandHome(String path) {
        if (path.equals("~") || path.startsWith("~/")) {
            return Path.of(System.getProperty("user.home") + path.substring(1));
        }
        return Path.of(path);
    }

    /** Creates schema version 1 in an empty file; returns true if the file is newer than this class knows. */
    private static boolean migrate(Connection connection, String location) throws SQLException {
        int version = userVersion(connection);
        if (version > SCHEMA_VERSION) {
            LOG.log(System.Logger.Level.WARNING, "calibration database {0} has schema version {1}, newer than {2}:"
                    + " reading its best configs, never writing", location, version, SCHEMA_VERSION);
            return true;
        }
        if (version == SCHEMA_VERSION) {
            return false;
        }
        String schema = loadSchema();
        connection.setAutoCommit(false);
        try (Statement st = connection.createStatement()) {
            // Another process may have migrated between the check and the lock.
            if (userVersion(connection) == 0) {
                for (String sql : statements(schema)) {
                    st.execute(sql);
                }
                st.execute("PRAGMA user_version = " + SCHEMA_VERSION);
            }
            connection.commit();
        } catch (SQLException | RuntimeException e) {
            connection.rollback();
            throw e;
        } finally {
            connection.setAutoCommit(true);
        }
        return false;
    }

    private static int userVersion(Connection connection) throws SQLException {
        try (Statement st = connection.createStatement(); ResultSet rs = st.executeQuery("PRAGMA user_version")) {
            return rs.next() ? rs.getInt(1) : 0;
        }
    }

    private static String loadSchema() {
        try (InputStream in = BatchCalibration.class.getResourceAsStream(SCHEMA_RESOURCE)) {
            if (in == null) {
                throw new IllegalStateException("the calibration schema " + SCHEMA_RESOURCE + " is missing from the jar");
            }
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new IllegalStateException("cannot read the calibration schema: " + e, e);
        }
    }

    /** Splits the schema script into statements: comments removed (they contain semicolons), split at ';'. */
    static List<String> statements(String script) {
        StringBuilder code = new StringBuilder();
        for (String line : script.split("\n", -1)) {
            int comment = line.indexOf("--");
            code.append(comment >= 0 ? line.substring(0, comment) : line).append('\n');
        }
        List<String> out = new ArrayList<>();
        for (String sql : code.toString().split(";")) {
            if (!sql.isBlank()) {
                out.add(sql.trim());
            }
        }
        return out;
    }

    /** Where the database lives (the expanded path, or {@code :memory:}). */
    public String location() {
        return location;
    }

    public double targetLatencyMicros() {
        return targetLatencyMicros;
    }

    public double exploreRatio() {
        return exploreRatio;
    }

    /** True when the file's schema is newer than this class: best configs are read, nothing is written. */
    public boolean readOnly() {
        return readOnly;
    }

    /** Regressions recorded through this object. */
    public long regressions() {
        return regressions.get();
    }

    /** Store failures so far (each was survived: nothing stops delivery). */
    public long calibrationErrors() {
        return errors.get();
    }

    /** The bounds {@link #nextConfig} explores within at {@code level}. */
    public static Bounds bounds(PressureLevel level) {
        long budget = level.budgetMicros();
        return new Bounds(Math.max(1, 2 * level.bootstrap().batchEvents()), Math.max(1, budget / 100), budget);
    }

    /**
     * The best config learned for {@code level} (by any process sharing the file), or its
     * bootstrap when nothing was learned. The seed's method; read on every call, so a collector
     * entering a level sees the newest learning.
     */
    public synchronized Config getBestConfigForPressure(PressureLevel level) {
        Objects.requireNonNull(level, "level");
        if (!closed) {
            try (PreparedStatement ps = connection.prepareStatement(
                    "SELECT batch_events, interval_us, idle_flush FROM best WHERE level = ?")) {
                ps.setInt(1, level.number());
                try (ResultSet rs = ps.executeQuery()) {
                    Config best = rs.next() ? new Config(rs.getLong(1), rs.getLong(2), rs.getInt(3) != 0) : null;
                    bestCache[level.ordinal()] = best;
                    return best != null ? best : level.bootstrap();
                }
            } catch (SQLException | IllegalArgumentException e) {
                failed("reading the best config of " + level, e);
            }
        }
        Config cached = bestCache[level.ordinal()];
        return cached != null ? cached : level.bootstrap();
    }

    /**
     * The config to run for the next window at {@code level}: with probability
     * {@link #exploreRatio()} a random one within {@link #bounds}, otherwise a local refinement
     * of the best (N and T each scaled by a factor from 0.5 to 2, or kept; idle-flush flipped one
     * time in ten). Always within the bounds, so T never exceeds the level's budget.
     */
    public synchronized Config nextConfig(PressureLevel level) {
        Bounds b = bounds(level);
        if (random.nextDouble() < exploreRatio) {
            long n = logUniform(1, b.maxBatchEvents());
            long t = logUniform(b.minIntervalMicros(), b.maxIntervalMicros());
            return new Config(n, t, random.nextBoolean());
        }
        Config best = getBestConfigForPressure(level);
        long n = Math.round(best.batchEvents() * REFINE_FACTORS[random.nextInt(REFINE_FACTORS.length)]);
        long t = Math.round(best.intervalMicros() * REFINE_FACTORS[random.nextInt(REFINE_FACTORS.length)]);
        boolean idle = random.nextInt(10) == 0 ? !best.idleFlush() : best.idleFlush();
        return new Config(clamp(n, 1, b.maxBatchEvents()),
                clamp(t, b.minIntervalMicros(), b.maxIntervalMicros()), idle);
    }

    private long logUniform(long min, long max) {
        if (min >= max) {
            return min;
        }
        double x = Math.exp(Math.log(min) + random.nextDouble() * (Math.log(max) - Math.log(min)));
        return clamp(Math.round(x), min, max);
    }

    private static long clamp(long v, long min, long max) {
        return Math.max(min, Math.min(max, v));
    }

    /**
     * Records one window: scores it, updates its config's EMA, detects a regression, and
     * re-elects the level's best. On a store failure the window is scored but not kept.
     */
    public synchronized Outcome record(Observation o) {
        Objects.requireNonNull(o, "observation");
        double score = o.score();
        boolean violation = Score.breaksBudget(o.p99Micros(), o.level().budgetMicros());
        if (closed || readOnly) {
            return new Outcome(score, false, violation, getBestConfigForPressure(o.level()));
        }
        try {
            connection.setAutoCommit(false);
            try {
                Outcome outcome = recordInTransaction(o, score, violation);
                connection.commit();
                bestCache[o.level().ordinal()] = outcome.best();
                if (outcome.regression()) {
                    regressions.incrementAndGet();
                    LOG.log(System.Logger.Level.INFO, "calibration regression at {0}: {1} scored {2}, more than 10% below"
                            + " its expectation", o.level(), o.config(), score);
                }
                return outcome;
            } catch (SQLException | RuntimeException e) {
                connection.rollback();
                throw e;
            } finally {
                connection.setAutoCommit(true);
            }
        } catch (SQLException | RuntimeException e) {
            failed("recording a window at " + o.level(), e);
            Config cached = bestCache[o.level().ordinal()];
            return new Outcome(score, false, violation, cached != null ? cached : o.level().bootstrap());
        }
    }

    private Outcome recordInTransaction(Observation o, double score, boolean violation) throws SQLException {
        final int level = o.level().number();
        final Config c = o.config();
        final long now = System.currentTimeMillis();

        double ema = 0;
        double emaP99 = 0;
        long seen = 0;
        try (PreparedStatement ps = connection.prepareStatement("SELECT ema_score, ema_p99_us, observations FROM configs"
                + " WHERE level = ? AND batch_events = ? AND interval_us = ? AND idle_flush = ?")) {
            bindConfig(ps, 1, level, c);
            try (ResultSet rs = ps.executeQuery()) {
                if (rs.next()) {
                    ema = rs.getDouble(1);
                    emaP99 = rs.getDouble(2);
                    seen = rs.getLong(3);
                }
            }
        }
        boolean regression = seen > 0 && ema > 0 && score < (1.0 - REGRESSION_DROP) * ema;
        double newEma = seen == 0 ? score : EMA_ALPHA * score + (1 - EMA_ALPHA) * ema;
        double newEmaP99 = seen == 0 ? o.p99Micros() : EMA_ALPHA * o.p99Micros() + (1 - EMA_ALPHA) * emaP99;

        try (PreparedStatement ps = connection.prepareStatement("INSERT INTO observations (ts_ms, impl, level,"
                + " batch_events, interval_us, idle_flush, window_us, offered_per_sec, delivered_per_sec, frames,"
                + " closed_by_count, closed_by_time, closed_by_bytes, closed_by_idle, mean_frame_events,"
                + " mean_frame_bytes, p50_us, p99_us, p999_us, max_us, busy_ns_per_event, score, regression)"
                + " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")) {
            int i = 1;
            ps.setLong(i++, now);
            ps.setString(i++, IMPL);
            ps.setInt(i++, level);
            ps.setLong(i++, c.batchEvents());
            ps.setLong(i++, c.intervalMicros());
            ps.setInt(i++, c.idleFlush() ? 1 : 0);
            ps.setLong(i++, o.windowMicros());
            ps.setDouble(i++, o.offeredPerSec());
            ps.setDouble(i++, o.deliveredPerSec());
            ps.setLong(i++, o.frames());
            ps.setLong(i++, o.closedByCount());
            ps.setLong(i++, o.closedByTime());
            ps.setLong(i++, o.closedByBytes());
            ps.setLong(i++, o.closedByIdle());
            ps.setDouble(i++, o.meanFrameEvents());
            ps.setDouble(i++, o.meanFrameBytes());
            ps.setLong(i++, o.p50Micros());
            ps.setLong(i++, o.p99Micros());
            ps.setLong(i++, o.p999Micros());
            ps.setLong(i++, o.maxMicros());
            ps.setDouble(i++, o.busyNanosPerEvent());
            ps.setDouble(i++, score);
            ps.setInt(i, regression ? 1 : 0);
            ps.executeUpdate();
        }

        try (PreparedStatement ps = connection.prepareStatement("INSERT INTO configs (level, batch_events, interval_us,"
                + " idle_flush, ema_score, ema_p99_us, observations, regressions, budget_violations, last_ts_ms,"
                + " last_regression_ts_ms) VALUES (?, ?, ?, ?, ?, ?, 1, ?, ?, ?, ?)"
                + " ON CONFLICT (level, batch_events, interval_us, idle_flush) DO UPDATE SET"
                + " ema_score = excluded.ema_score, ema_p99_us = excluded.ema_p99_us,"
                + " observations = observations + 1, regressions = regressions + excluded.regressions,"
                + " budget_violations = budget_violations + excluded.budget_violations,"
                + " last_ts_ms = excluded.last_ts_ms,"
                + " last_regression_ts_ms = COALESCE(excluded.last_regression_ts_ms, last_regression_ts_ms)")) {
            int i = bindConfig(ps, 1, level, c);
            ps.setDouble(i++, newEma);
            ps.setDouble(i++, newEmaP99);
            ps.setInt(i++, regression ? 1 : 0);
            ps.setInt(i++, violation ? 1 : 0);
            ps.setLong(i++, now);
            if (regression) {
                ps.setLong(i, now);
            } else {
                ps.setNull(i, java.sql.Types.INTEGER);
            }
            ps.executeUpdate();
        }

        Config best = electBest(o.level(), c, violation, regression, now);
        return new Outcome(score, regression, violation, best != null ? best : o.level().bootstrap());
    }

    /**
     * Re-elects the level's best: the highest EMA among configs with a positive EMA and an EMA
     * p99 within the budget, leaving out the config just observed if its window broke the
     * budget. Returns null (and forgets the level's best) when nothing qualifies.
     */
    private Config electBest(PressureLevel level, Config observed, boolean violation, boolean regression, long now)
            throws SQLException {
        Config best = null;
        double bestScore = 0;
        try (PreparedStatement ps = connection.prepareStatement("SELECT batch_events, interval_us, idle_flush, ema_score"
                + " FROM configs WHERE level = ? AND ema_score > 0 AND ema_p99_us <= ?"
                + " ORDER BY ema_score DESC, observations DESC")) {
            ps.setInt(1, level.number());
            ps.setLong(2, level.budgetMicros());
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    Config candidate = new Config(rs.getLong(1), rs.getLong(2), rs.getInt(3) != 0);
                    if (violation && candidate.equals(observed)) {
                        continue;
                    }
                    best = candidate;
                    bestScore = rs.getDouble(4);
                    break;
                }
            }
        }
        Config previous = null;
        long demotions = 0;
        try (PreparedStatement ps = connection.prepareStatement(
                "SELECT batch_events, interval_us, idle_flush, demotions FROM best WHERE level = ?")) {
            ps.setInt(1, level.number());
            try (ResultSet rs = ps.executeQuery()) {
                if (rs.next()) {
                    previous = new Config(rs.getLong(1), rs.getLong(2), rs.getInt(3) != 0);
                    demotions = rs.getLong(4);
                }
            }
        }
        if (best == null) {
            if (previous != null) {
                try (PreparedStatement ps = connection.prepareStatement("DELETE FROM best WHERE level = ?")) {
                    ps.setInt(1, level.number());
                    ps.executeUpdate();
                }
            }
            return null;
        }
        boolean demoted = previous != null && !previous.equals(best) && previous.equals(observed)
                && (regression || violation);
        try (PreparedStatement ps = connection.prepareStatement("INSERT INTO best (level, batch_events, interval_us,"
                + " idle_flush, score, demotions, updated_ts_ms) VALUES (?, ?, ?, ?, ?, ?, ?)"
                + " ON CONFLICT (level) DO UPDATE SET batch_events = excluded.batch_events,"
                + " interval_us = excluded.interval_us, idle_flush = excluded.idle_flush, score = excluded.score,"
                + " demotions = excluded.demotions, updated_ts_ms = excluded.updated_ts_ms")) {
            int i = bindConfig(ps, 1, level.number(), best);
            ps.setDouble(i++, bestScore);
            ps.setLong(i++, demotions + (demoted ? 1 : 0));
            ps.setLong(i, now);
            ps.executeUpdate();
        }
        return best;
    }

    private static int bindConfig(PreparedStatement ps, int from, int level, Config c) throws SQLException {
        ps.setInt(from, level);
        ps.setLong(from + 1, c.batchEvents());
        ps.setLong(from + 2, c.intervalMicros());
        ps.setInt(from + 3, c.idleFlush() ? 1 : 0);
        return from + 4;
    }

    /** Per level: the best (or bootstrap) config, its score, and how much was observed. */
    public synchronized List<LevelStatus> status() {
        List<LevelStatus> out = new ArrayList<>();
        for (PressureLevel level : PressureLevel.values()) {
            Config best = null;
            double score = 0;
            long observations = 0;
            long levelRegressions = 0;
            Long lastRegression = null;
            if (!closed) {
                try {
                    try (PreparedStatement ps = connection.prepareStatement(
                            "SELECT batch_events, interval_us, idle_flush, score FROM best WHERE level = ?")) {
                        ps.setInt(1, level.number());
                        try (ResultSet rs = ps.executeQuery()) {
                            if (rs.next()) {
                                best = new Config(rs.getLong(1), rs.getLong(2), rs.getInt(3) != 0);
                                score = rs.getDouble(4);
                            }
                        }
                    }
                    try (PreparedStatement ps = connection.prepareStatement("SELECT COALESCE(SUM(observations), 0),"
                            + " COALESCE(SUM(regressions), 0), MAX(last_regression_ts_ms) FROM configs WHERE level = ?")) {
                        ps.setInt(1, level.number());
                        try (ResultSet rs = ps.executeQuery()) {
                            if (rs.next()) {
                                observations = rs.getLong(1);
                                levelRegressions = rs.getLong(2);
                                long ts = rs.getLong(3);
                                lastRegression = rs.wasNull() ? null : ts;
                            }
                        }
                    }
                } catch (SQLException | IllegalArgumentException e) {
                    failed("reading the status of " + level, e);
                }
            }
            out.add(new LevelStatus(level, best != null ? best : level.bootstrap(), best != null, score, observations,
                    levelRegressions, lastRegression));
        }
        return out;
    }

    private void failed(String what, Exception e) {
        long n = errors.incrementAndGet();
        // The first failure says why; later ones would only repeat it once per window.
        LOG.log(n == 1 ? System.Logger.Level.WARNING : System.Logger.Level.DEBUG,
                "calibration store {0}: {1} failed ({2}); delivery continues on the last known configs",
                location, what, e.toString());
    }

    /** Closes the database. Later calls answer from memory and the bootstraps. Idempotent. */
    @Override
    public synchronized void close() {
        if (!closed) {
            closed = true;
            closeQuietly(connection);
        }
    }

    private static void closeQuietly(Connection c) {
        if (c != null) {
            try {
                c.close();
            } catch (SQLException ignored) {
                // Nothing was pending: every write commits before its method returns.
            }
        }
    }

    @Override
    public String toString() {
        return "BatchCalibration[" + location + (readOnly ? ", read-only" : "") + "]";
    }
}
