package com.reactive.platform.gateway.microbatch;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** Behaviour particular to the Java collector's flush threads. */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class JavaMicrobatchCollectorTest {
    @TempDir
    Path dir;

    /** Milliseconds from one submit to the sink, at L5 (T = 100 ms) with the given best config. */
    private long firstFrameMillis(BatchCalibration.Config best) throws Exception {
        try (BatchCalibration cal = BatchCalibration.create(dir.resolve(best.idleFlush() + ".db"), 5000.0)) {
            cal.record(BatchCalibrationTest.window(PressureLevel.L5_BALANCED, best, 5_000, 0.01, 1_000));
            assertEquals(best, cal.getBestConfigForPressure(PressureLevel.L5_BALANCED));
            RecordingSink sink = new RecordingSink();
            try (MicrobatchCollector c = MicrobatchCollector.create(Implementation.JAVA,
                    Map.of("level", "L5_BALANCED", "partitions", "1"), sink, cal)) {
                Status s = c.status();
                assertEquals(best.batchEvents(), s.batchEvents(), "the learned best is applied");
                assertEquals(best.intervalMicros(), s.intervalMicros());
                long t0 = System.nanoTime();
                assertTrue(c.submitFireAndForget("one".getBytes()));
                assertTrue(sink.entered.await(5, TimeUnit.SECONDS));
                return TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0);
            }
        }
    }

    @Test
    void flushWhenIdleSendsAtOnceAndTheIntervalRuleWaitsForT() throws Exception {
        long idle = firstFrameMillis(new BatchCalibration.Config(100_000, 100_000, true));
        long timed = firstFrameMillis(new BatchCalibration.Config(100_000, 100_000, false));
        assertTrue(idle < 50, "flush-when-idle took " + idle + " ms");
        assertTrue(timed >= 90, "a lone event waits for T (100 ms), it left after " + timed + " ms");
    }

    @Test
    void framesRespectNAndTheByteCap() throws Exception {
        RecordingSink sink = new RecordingSink();
        BatchSink sizing = (frame, count) -> {
            assertTrue(frame.remaining() <= 4096, "frame of " + frame.remaining() + " bytes");
            sink.accept(frame, count);
        };
        try (BatchCalibration cal = BatchCalibration.create(Path.of(":memory:"), 5000.0)) {
            BatchCalibration.Config n7 = new BatchCalibration.Config(7, 1_000_000, false);
            cal.record(BatchCalibrationTest.window(PressureLevel.L7_HIGH, n7, 60_000, 0.01, 1_000));
            try (MicrobatchCollector c = MicrobatchCollector.create(Implementation.JAVA, Map.of("level", "L7_HIGH",
                    "partitions", "1", "batch.max.bytes", "4096", "event.max.bytes", "1000"), sizing, cal)) {
                for (int i = 0; i < 70; i++) {
                    assertTrue(c.submitFireAndForget(new byte[10]));
                }
                // Ten frames of exactly N = 7 events, well before T (1 s).
                long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
                while (sink.eventCount() < 70 && System.nanoTime() < deadline) {
                    Thread.sleep(2);
                }
                assertEquals(70, sink.eventCount());
                assertEquals(10, sink.frames());
                for (int i = 0; i < 30; i++) {
                    assertTrue(c.submitFireAndForget(new byte[1000]));
                }
                c.flush(Duration.ofSeconds(5));
                assertEquals(100, sink.eventCount());
                // 1000-byte events: at most 4 fit a 4096-byte frame (8 + 4 x 1004 = 4024).
                assertTrue(sink.frames() >= 10 + 8, sink.frames() + " frames");
            }
        }
    }

    /** {@code batch.linger.ms} is T at every level, the learned best's included (as in the Rust library). */
    @Test
    void aFixedLingerIsTheTInForceAndALoneEventWaitsForIt() throws Exception {
        try (BatchCalibration cal = BatchCalibration.create(Path.of(":memory:"), 5000.0)) {
            BatchCalibration.Config learned = new BatchCalibration.Config(100_000, 9_000, false);
            cal.record(BatchCalibrationTest.window(PressureLevel.L7_HIGH, learned, 60_000, 0.01, 1_000));
            RecordingSink sink = new RecordingSink();
            try (MicrobatchCollector c = MicrobatchCollector.create(Implementation.JAVA,
                    Map.of("level", "L7_HIGH", "partitions", "1", "batch.linger.ms", "120"), sink, cal)) {
                assertEquals(120_000, c.status().intervalMicros());
                long t0 = System.nanoTime();
                assertTrue(c.submitFireAndForget("one".getBytes()));
                assertTrue(sink.entered.await(5, TimeUnit.SECONDS));
                long waited = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0);
                assertTrue(waited >= 110 && waited < 450, "a lone event waits for the fixed T (120 ms): " + waited + " ms");
            }
        }
    }
}
