package com.reactive.platform.kafka.benchmark;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.reactive.platform.gateway.microbatch.Implementation;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.EnumSet;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The benchmark harness: arguments, events, medians, the JSON shape, and one tiny end-to-end run. */
class BenchHarnessTest {
    @Test
    void seedCommandLinesParse() {
        BenchArgs a = new BenchArgs(new String[] {"BULK", "30", "localhost:9092"});
        assertEquals(Duration.ofSeconds(30), a.duration(5));
        assertEquals("localhost:9092", a.broker());
        assertEquals(EnumSet.of(Implementation.JAVA, Implementation.RUST), a.impls());

        BenchArgs c = new BenchArgs(new String[] {"localhost:9092", "L9_EXTREME", "L7_HIGH", "--rounds", "5",
                "--duration", "30", "--impl", "java"});
        assertEquals(5, c.rounds(1));
        assertEquals(Duration.ofSeconds(30), c.duration(1));
        assertEquals(EnumSet.of(Implementation.JAVA), c.impls());
        assertEquals(List.of("localhost:9092", "L9_EXTREME", "L7_HIGH"), c.positional);

        BenchArgs none = new BenchArgs(new String[] {"--status"});
        assertTrue(none.flag("--status"));
        assertEquals("mock", none.broker());
        assertTrue(new BenchArgs(new String[] {"none"}).mockBroker());
        assertEquals(Duration.ofMillis(1500), new BenchArgs(new String[] {"--duration=1.5"}).duration(9));
        assertThrows(IllegalArgumentException.class, () -> new BenchArgs(new String[] {"--impl", "go"}).impls());
    }

    @Test
    void eventsAreExactlySizedDistinctAndReproducible() {
        byte[][] a = Events.pool(256, 100, 7);
        byte[][] b = Events.pool(256, 100, 7);
        Set<String> distinct = new HashSet<>();
        for (int i = 0; i < a.length; i++) {
            assertEquals(100, a[i].length);
            assertEquals(new String(a[i]), new String(b[i]));
            distinct.add(new String(a[i]));
        }
        assertEquals(256, distinct.size());
        assertNotEquals(new String(a[0]), new String(Events.pool(1, 100, 8)[0]));
        assertEquals(16, Events.pool(1, 16, 1)[0].length);
    }

    @Test
    void medianOfOddAndEvenCounts() {
        assertEquals(2.0, Rounds.median(new double[] {3, 1, 2}));
        assertEquals(2.5, Rounds.median(new double[] {4, 1, 2, 3}));
        assertEquals(0.0, Rounds.median(new double[] {}));
    }

    @Test
    void rowJsonHasTheDocumentedFields() {
        Row r = new Row("BULK", "kafka-clients", "-", 1, 100, 2.5e6, -1, -1, -1, null, 12.5, 1.25, 3, 2e6, 3e6, 31.5,
                "1000 \"events\"", null);
        String j = r.toJson();
        for (String key : List.of("name", "impl", "level", "event_bytes", "events_per_sec", "mb_per_sec",
                "latency_p50_us", "latency_p99_us", "latency_p999_us", "ratio_to_bulk", "cpu_user_ms_per_m_events",
                "cpu_sys_ms_per_m_events", "rounds", "out_bytes_per_event", "moves")) {
            assertTrue(j.contains("\"" + key + "\":"), key + " in " + j);
        }
        assertTrue(j.contains("\"mb_per_sec\":250,"), j);
        assertTrue(j.contains("\"ratio_to_bulk\":null"), j);
        assertTrue(j.contains("1000 \\\"events\\\""), j);
        assertTrue(r.withRatioToBulk(0.5).toJson().contains("\"ratio_to_bulk\":0.5,"));
    }

    @Test
    void verdictFollowsTheSeedsScale() {
        assertEquals("SEVERE REGRESSION", Report.verdict(9.9));
        assertEquals("REGRESSION", Report.verdict(49));
        assertEquals("Acceptable", Report.verdict(79));
        assertEquals("Good", Report.verdict(80));
    }

    @Test
    void aTinyComparisonRunWritesItsTableAsJson(@TempDir Path dir) throws Exception {
        Path json = dir.resolve("cmp.json");
        java.io.PrintStream console = System.out;
        java.io.ByteArrayOutputStream printed = new java.io.ByteArrayOutputStream();
        System.setOut(new java.io.PrintStream(printed, true, java.nio.charset.StandardCharsets.UTF_8));
        try {
            CollectorComparisonBenchmark.main(new String[] {"--impl", "both", "--duration", "0.3", "--rounds", "1",
                    "--warmup", "0", "--threads", "1", "--submit", "single", "--json", json.toString()});
        } finally {
            System.setOut(console);
        }
        assertTrue(printed.toString(java.nio.charset.StandardCharsets.UTF_8).contains("E2E_SINGLE"));
        String out = Files.readString(json);
        assertTrue(out.contains("\"benchmark\":\"CollectorComparisonBenchmark\""), out);
        assertTrue(out.contains("\"name\":\"E2E_SINGLE\",\"impl\":\"java\""), out);
        assertTrue(out.contains("\"failures\":[]"), out);
        // Without the native library the Rust rows are reported unavailable, not failed.
        assertTrue(out.contains("\"impl\":\"rust\"") || out.contains("\"unavailable\":{\"rust\":"), out);
        assertFalse(out.contains("\"events_per_sec\":0,"), out);
    }
}
