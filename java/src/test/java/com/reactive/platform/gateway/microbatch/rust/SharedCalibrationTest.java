package com.reactive.platform.gateway.microbatch.rust;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.reactive.platform.gateway.microbatch.BatchCalibration;
import com.reactive.platform.gateway.microbatch.Implementation;
import com.reactive.platform.gateway.microbatch.MicrobatchCollector;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Duration;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * One calibration file for both implementations: each records its windows in it, and what one
 * learned, the other (and {@link BatchCalibration}) reads. Runs once the native library
 * calibrates (knows {@code calibration.path}); skipped, visibly, before.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class SharedCalibrationTest {
    @TempDir
    Path dir;

    /** Busy windows of 100 ms for about 700 ms, recorded in {@code db}. */
    private static void learn(Implementation impl, Path db) throws InterruptedException {
        try (MicrobatchCollector c = MicrobatchCollector.create(impl, Map.of("calibration.enabled", "true",
                "calibration.path", db.toString(), "pressure.window.ms", "100", "sink", "null", "partitions", "2"))) {
            long end = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(700);
            byte[] event = new byte[100];
            for (long i = 1; System.nanoTime() < end; i++) {
                c.submitFireAndForget(event);
                if (i % 1000 == 0) {
                    Thread.sleep(1);
                }
            }
            c.flush(Duration.ofSeconds(10));
            Thread.sleep(250);
            assertEquals(0, c.status().calibrationErrors());
        }
    }

    @Test
    void bothImplementationsLearnIntoOneFileAndReadEachOthersLearning() throws Exception {
        assumeTrue(RustMicrobatchCollector.unavailableReason() == null,
                "skipped: native library not built (" + RustMicrobatchCollector.unavailableReason() + ")");
        assumeTrue(RustMicrobatchCollector.nativeKeys().contains("calibration.path"),
                "skipped: this native library does not calibrate yet (it knows no `calibration.path`)");
        Path db = dir.resolve("shared.db");
        learn(Implementation.JAVA, db);
        learn(Implementation.RUST, db);

        Set<String> writers = new HashSet<>();
        try (Connection conn = DriverManager.getConnection("jdbc:sqlite:" + db);
             Statement st = conn.createStatement();
             ResultSet rs = st.executeQuery("SELECT DISTINCT impl FROM observations")) {
            while (rs.next()) {
                writers.add(rs.getString(1));
            }
        }
        assertEquals(Set.of("java", "rust"), writers, "both recorded their windows in the one file");

        // The Java calibration reads the file as a whole, the Rust collector's windows included.
        try (BatchCalibration calibration = BatchCalibration.create(db, 5000.0)) {
            long observations = calibration.status().stream().mapToLong(BatchCalibration.LevelStatus::observations).sum();
            assertTrue(observations >= 4, "observations of both implementations: " + calibration.status());
        }
    }
}
