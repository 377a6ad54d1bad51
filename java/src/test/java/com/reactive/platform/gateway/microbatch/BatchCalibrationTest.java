package com.reactive.platform.gateway.microbatch;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** BatchCalibration on real SQLite files in a temporary folder. */
class BatchCalibrationTest {
    @TempDir
    Path dir;

    private static final BatchCalibration.Config A = new BatchCalibration.Config(5_000, 20_000, false);
    private static final BatchCalibration.Config B = new BatchCalibration.Config(20_000, 40_000, true);

    /** A one-second window, two flush threads busy {@code busyFraction} of the time. */
    static BatchCalibration.Observation window(PressureLevel level, BatchCalibration.Config c, double deliveredPerSec,
                                               double busyFraction, long p99Micros) {
        long busyNanos = Math.round(busyFraction * 1e9 * 2);
        return new BatchCalibration.Observation(level, c, 1_000_000, deliveredPerSec, deliveredPerSec, 10, 4, 6, 0, 0,
                deliveredPerSec / 10, deliveredPerSec * 10, p99Micros / 2, p99Micros, p99Micros, p99Micros, busyNanos, 2);
    }

    private static long count(Path db, String sql) throws SQLException {
        try (Connection c = DriverManager.getConnection("jdbc:sqlite:" + db);
             Statement st = c.createStatement(); ResultSet rs = st.executeQuery(sql)) {
            return rs.next() ? rs.getLong(1) : -1;
        }
    }

    private static String text(Path db, String sql) throws SQLException {
        try (Connection c = DriverManager.getConnection("jdbc:sqlite:" + db);
             Statement st = c.createStatement(); ResultSet rs = st.executeQuery(sql)) {
            return rs.next() ? rs.getString(1) : null;
        }
    }

    @Test
    void scoreIsTheSustainableRateAndZeroOverBudget() {
        // 100k events/s delivered with the flush side busy a quarter of the time: it could do 400k/s.
        assertEquals(400_000.0, Score.of(100_000, 500_000_000L, 1_000_000_000L, 2, 900, 1_000), 1e-6);
        assertEquals(0.0, Score.of(100_000, 500_000_000L, 1_000_000_000L, 2, 1_001, 1_000));
        assertEquals(0.0, Score.of(0, 500_000_000L, 1_000_000_000L, 2, 10, 1_000));
        assertTrue(Score.of(10, 0, 1_000_000_000L, 1, 10, 1_000) > 0, "no measurable work still scores");
    }

    @Test
    void createsSchemaVersion1InWalModeAndCreatesTheFolder() throws Exception {
        Path db = dir.resolve("nested/folder/calibration.db");
        try (BatchCalibration cal = BatchCalibration.create(db, 5000.0)) {
            assertFalse(cal.readOnly());
            assertEquals(db.toString(), cal.location());
        }
        assertTrue(Files.exists(db));
        assertEquals(1, count(db, "PRAGMA user_version"));
        assertEquals("wal", text(db, "PRAGMA journal_mode"));
        assertEquals(3, count(db, "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table'"
                + " AND name IN ('observations', 'configs', 'best')"));
        Set<String> bestColumns = new HashSet<>();
        try (Connection c = DriverManager.getConnection("jdbc:sqlite:" + db);
             Statement st = c.createStatement(); ResultSet rs = st.executeQuery("PRAGMA table_info(best)")) {
            while (rs.next()) {
                bestColumns.add(rs.getString("name"));
            }
        }
        assertEquals(Set.of("level", "batch_events", "interval_us", "idle_flush", "score", "demotions", "updated_ts_ms"),
                bestColumns);
        // Opening again neither fails nor migrates twice.
        try (BatchCalibration again = BatchCalibration.create(db, 5000.0)) {
            assertEquals(PressureLevel.L5_BALANCED.bootstrap(), again.getBestConfigForPressure(PressureLevel.L5_BALANCED));
        }
    }

    @Test
    void learnedBestPersistsAcrossReopening() throws Exception {
        Path db = dir.resolve("cal.db");
        try (BatchCalibration cal = BatchCalibration.create(db, 5000.0)) {
            BatchCalibration.Outcome o = cal.record(window(PressureLevel.L5_BALANCED, A, 50_000, 0.1, 20_000));
            assertEquals(500_000.0, o.score(), 1e-6);
            assertEquals(A, o.best());
        }
        try (BatchCalibration cal = BatchCalibration.create(db, 5000.0)) {
            assertEquals(A, cal.getBestConfigForPressure(PressureLevel.L5_BALANCED));
            assertEquals(PressureLevel.L6_THROUGHPUT.bootstrap(), cal.getBestConfigForPressure(PressureLevel.L6_THROUGHPUT));
            BatchCalibration.LevelStatus l5 = cal.status().get(4);
            assertTrue(l5.learned());
            assertEquals(1, l5.observations());
            assertFalse(cal.status().get(5).learned());
        }
        assertEquals(1, count(db, "SELECT COUNT(*) FROM observations WHERE impl = 'java' AND level = 5"
                + " AND batch_events = 5000 AND interval_us = 20000 AND idle_flush = 0 AND frames = 10"));
        assertEquals(4_000, count(db, "SELECT CAST(busy_ns_per_event AS INTEGER) FROM observations"),
                "0.2 s of busy time over 50,000 events is 4 us each");
    }

    @Test
    void bestIsChosenPerLevelByExpectedScore() {
        try (BatchCalibration cal = BatchCalibration.create(dir.resolve("cal.db"), 5000.0)) {
            cal.record(window(PressureLevel.L3_LOW, A, 400, 0.01, 5_000));   // 40k
            cal.record(window(PressureLevel.L3_LOW, B, 400, 0.002, 5_000));  // 200k
            cal.record(window(PressureLevel.L7_HIGH, A, 60_000, 0.5, 100_000));
            assertEquals(B, cal.getBestConfigForPressure(PressureLevel.L3_LOW));
            assertEquals(A, cal.getBestConfigForPressure(PressureLevel.L7_HIGH));
            assertEquals(PressureLevel.L1_REALTIME.bootstrap(), cal.getBestConfigForPressure(PressureLevel.L1_REALTIME));
        }
    }

    @Test
    void aWindowOverBudgetScoresZeroAndIsNeverBest() {
        try (BatchCalibration cal = BatchCalibration.create(dir.resolve("cal.db"), 5000.0)) {
            // L2's budget is 5 ms: a huge rate with a 6 ms p99 is worth nothing.
            BatchCalibration.Outcome over = cal.record(window(PressureLevel.L2_FAST, B, 1e9, 0.0001, 6_000));
            assertEquals(0.0, over.score());
            assertTrue(over.budgetViolation());
            assertEquals(PressureLevel.L2_FAST.bootstrap(), cal.getBestConfigForPressure(PressureLevel.L2_FAST));
            cal.record(window(PressureLevel.L2_FAST, A, 50, 0.01, 4_000));
            assertEquals(A, cal.getBestConfigForPressure(PressureLevel.L2_FAST));
            // A best that breaks the budget is replaced at once.
            cal.record(window(PressureLevel.L2_FAST, B, 50, 0.0001, 1_000));
            assertEquals(B, cal.getBestConfigForPressure(PressureLevel.L2_FAST));
            cal.record(window(PressureLevel.L2_FAST, B, 50, 0.0001, 5_001));
            assertEquals(A, cal.getBestConfigForPressure(PressureLevel.L2_FAST));
        }
    }

    @Test
    void regressionsAreDetectedCountedAndDemoteTheBest() throws Exception {
        Path db = dir.resolve("cal.db");
        try (BatchCalibration cal = BatchCalibration.create(db, 5000.0)) {
            for (int i = 0; i < 3; i++) {
                assertFalse(cal.record(window(PressureLevel.L6_THROUGHPUT, A, 20_000, 0.1, 100_000)).regression());
            }
            cal.record(window(PressureLevel.L6_THROUGHPUT, B, 20_000, 0.125, 100_000)); // 160k, below A's 200k
            assertEquals(A, cal.getBestConfigForPressure(PressureLevel.L6_THROUGHPUT));
            // 5% below the expectation is noise; 20% below is a regression.
            assertFalse(cal.record(window(PressureLevel.L6_THROUGHPUT, A, 19_000, 0.1, 100_000)).regression());
            BatchCalibration.Outcome drop = cal.record(window(PressureLevel.L6_THROUGHPUT, A, 15_000, 0.1, 100_000));
            assertTrue(drop.regression());
            assertEquals(1, cal.regressions());
            // A keeps regressing until B's expectation is higher: B takes over.
            while (cal.getBestConfigForPressure(PressureLevel.L6_THROUGHPUT).equals(A)) {
                cal.record(window(PressureLevel.L6_THROUGHPUT, A, 5_000, 0.1, 100_000));
            }
            assertEquals(B, cal.getBestConfigForPressure(PressureLevel.L6_THROUGHPUT));
            assertTrue(cal.regressions() >= 2);
        }
        assertEquals(1, count(db, "SELECT demotions FROM best WHERE level = 6"));
        assertTrue(count(db, "SELECT regressions FROM configs WHERE level = 6 AND batch_events = 5000") >= 2);
        assertTrue(count(db, "SELECT COUNT(*) FROM observations WHERE regression = 1") >= 2);
        assertTrue(count(db, "SELECT last_regression_ts_ms FROM configs WHERE batch_events = 5000") > 0);
    }

    @Test
    void explorationStaysWithinTheLevelsBoundsAndIsRepeatableBySeed() {
        try (BatchCalibration one = BatchCalibration.create(Path.of(":memory:"), 5000.0, 0.2, 42);
             BatchCalibration same = BatchCalibration.create(Path.of(":memory:"), 5000.0, 0.2, 42);
             BatchCalibration other = BatchCalibration.create(Path.of(":memory:"), 5000.0, 0.2, 43)) {
            for (PressureLevel level : PressureLevel.values()) {
                BatchCalibration.Bounds bounds = BatchCalibration.bounds(level);
                assertEquals(level.budgetMicros(), bounds.maxIntervalMicros(), "T never exceeds the budget");
                List<BatchCalibration.Config> a = new ArrayList<>();
                List<BatchCalibration.Config> b = new ArrayList<>();
                List<BatchCalibration.Config> c = new ArrayList<>();
                int refinements = 0;
                for (int i = 0; i < 1000; i++) {
                    BatchCalibration.Config next = one.nextConfig(level);
                    assertTrue(bounds.contains(next), level + ": " + next + " outside " + bounds);
                    a.add(next);
                    b.add(same.nextConfig(level));
                    c.add(other.nextConfig(level));
                    BatchCalibration.Config boot = level.bootstrap();
                    double nRatio = next.batchEvents() / (double) boot.batchEvents();
                    if (nRatio >= 0.5 && nRatio <= 2.0 && next.intervalMicros() >= boot.intervalMicros() / 2) {
                        refinements++;
                    }
                }
                assertEquals(a, b, "same seed, same proposals");
                assertNotEquals(a, c, "another seed explores differently");
                // 80% refine around the best (here the bootstrap); some random proposals land near it too.
                assertTrue(refinements >= 750 && refinements <= 950, level + ": " + refinements + " near the best");
            }
        }
    }

    @Test
    void noExplorationMeansAlwaysRefiningAroundTheBest() {
        try (BatchCalibration cal = BatchCalibration.create(Path.of(":memory:"), 5000.0, 0.0, 1)) {
            cal.record(window(PressureLevel.L4_MODERATE, A, 1_000, 0.01, 10_000));
            for (int i = 0; i < 200; i++) {
                BatchCalibration.Config next = cal.nextConfig(PressureLevel.L4_MODERATE);
                assertTrue(next.batchEvents() >= A.batchEvents() / 2 && next.batchEvents() <= A.batchEvents() * 2, next.toString());
                assertTrue(next.intervalMicros() >= A.intervalMicros() / 2, next.toString());
                assertTrue(next.intervalMicros() <= PressureLevel.L4_MODERATE.budgetMicros(), next.toString());
            }
        }
    }

    @Test
    void homeIsExpanded() {
        String home = System.getProperty("user.home");
        System.setProperty("user.home", dir.toString());
        try (BatchCalibration cal = BatchCalibration.create(Path.of("~/.reactive/calibration.db"), 5000.0)) {
            assertEquals(dir.resolve(".reactive/calibration.db").toString(), cal.location());
            assertTrue(Files.exists(dir.resolve(".reactive/calibration.db")));
        } finally {
            System.setProperty("user.home", home);
        }
    }

    @Test
    void aNewerSchemaIsReadButNeverWritten() throws Exception {
        Path db = dir.resolve("newer.db");
        try (BatchCalibration cal = BatchCalibration.create(db, 5000.0)) {
            cal.record(window(PressureLevel.L5_BALANCED, A, 5_000, 0.1, 1_000));
        }
        try (Connection c = DriverManager.getConnection("jdbc:sqlite:" + db); Statement st = c.createStatement()) {
            st.execute("PRAGMA user_version = 2");
        }
        try (BatchCalibration cal = BatchCalibration.create(db, 5000.0)) {
            assertTrue(cal.readOnly());
            assertEquals(A, cal.getBestConfigForPressure(PressureLevel.L5_BALANCED));
            cal.record(window(PressureLevel.L5_BALANCED, B, 50_000, 0.001, 1_000));
            assertEquals(A, cal.getBestConfigForPressure(PressureLevel.L5_BALANCED));
        }
        assertEquals(1, count(db, "SELECT COUNT(*) FROM observations"));
    }

    @Test
    void aFileThatIsNotADatabaseIsRefusedWithCalibrationResult() throws Exception {
        Path db = dir.resolve("corrupt.db");
        Files.write(db, "this is not a database, just text long enough to have a header".repeat(100).getBytes());
        MicrobatchException e = assertThrows(MicrobatchException.class, () -> BatchCalibration.create(db, 5000.0));
        assertEquals(Result.CALIBRATION, e.result());
    }

    @Test
    void storeFailuresAreCountedAndAnsweredFromMemory() {
        BatchCalibration cal = BatchCalibration.create(dir.resolve("cal.db"), 5000.0);
        cal.record(window(PressureLevel.L5_BALANCED, A, 5_000, 0.1, 1_000));
        cal.close();
        assertEquals(A, cal.getBestConfigForPressure(PressureLevel.L5_BALANCED), "the last known best");
        assertEquals(PressureLevel.L6_THROUGHPUT.bootstrap(), cal.getBestConfigForPressure(PressureLevel.L6_THROUGHPUT));
        cal.close();
    }

    @Test
    void twoWritersShareOneFileWithoutErrors() throws Exception {
        Path db = dir.resolve("shared.db");
        try (BatchCalibration one = BatchCalibration.create(db, 5000.0);
             BatchCalibration two = BatchCalibration.create(db, 5000.0)) {
            List<Thread> writers = new ArrayList<>();
            for (BatchCalibration cal : List.of(one, two)) {
                writers.add(new Thread(() -> {
                    for (int i = 0; i < 100; i++) {
                        cal.record(window(PressureLevel.fromNumber(1 + i % 10), i % 2 == 0 ? A : B, 1_000 + i, 0.01, 100));
                    }
                }));
            }
            writers.forEach(Thread::start);
            for (Thread w : writers) {
                w.join();
            }
            assertEquals(0, one.calibrationErrors());
            assertEquals(0, two.calibrationErrors());
            // What one learned, the other reads.
            assertEquals(one.getBestConfigForPressure(PressureLevel.L4_MODERATE),
                    two.getBestConfigForPressure(PressureLevel.L4_MODERATE));
        }
        assertEquals(200, count(db, "SELECT COUNT(*) FROM observations"));
        assertEquals(200, count(db, "SELECT SUM(observations) FROM configs"));
    }

    @Test
    void theJarCarriesTheCratesSchemaUnchanged() throws Exception {
        byte[] packed;
        try (java.io.InputStream in = BatchCalibration.class.getResourceAsStream(BatchCalibration.SCHEMA_RESOURCE)) {
            packed = in.readAllBytes();
        }
        assertEquals(new String(Files.readAllBytes(Path.of("../src/calibration/schema.sql"))), new String(packed));
    }

    @Test
    void schemaScriptSplitsIntoItsStatements() {
        List<String> statements = BatchCalibration.statements(
                "-- a comment; with a semicolon\nCREATE TABLE t (a INTEGER); -- trailing; comment\nCREATE INDEX i ON t (a);\n");
        assertEquals(List.of("CREATE TABLE t (a INTEGER)", "CREATE INDEX i ON t (a)"), statements);
    }
}
