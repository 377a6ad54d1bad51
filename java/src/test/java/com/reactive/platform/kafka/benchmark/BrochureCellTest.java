package com.reactive.platform.kafka.benchmark;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.reactive.platform.gateway.microbatch.NativeCollectorFactory;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * {@link BrochureCell}, the Java side of the brochure runner, run in process: short real runs
 * against each implementation's embedded broker stand-in, and the spec errors the runner must
 * be told about.
 */
class BrochureCellTest {
    private static final Pattern PROGRESS =
            Pattern.compile("progress t_s=\\d+\\.\\d+ events_per_sec=\\d+\\.\\d+ p99_us=\\d+\\.\\d+");
    private static final ObjectMapper JSON = new ObjectMapper();

    /** A scheduled cell: 2 threads, 2000 events/s, 0.5 s warm-up, 1 s measured, timeline every 250 ms. */
    private static Properties scheduledCell(Path dir, String impl) {
        Properties p = new Properties();
        p.setProperty("impl", impl);
        p.setProperty("mode", "adaptive");
        p.setProperty("level", "L5_BALANCED");
        p.setProperty("event_bytes", "100");
        p.setProperty("payload", "json");
        p.setProperty("producers", "2");
        p.setProperty("warmup_s", "0.5");
        p.setProperty("duration_s", "1");
        p.setProperty("rate", "2000");
        p.setProperty("timeline_ms", "250");
        p.setProperty("broker", "mock");
        p.setProperty("topic", "brochure-test");
        p.setProperty("hgrm", dir.resolve("cell.hgrm").toString());
        p.setProperty("result", dir.resolve("cell.json").toString());
        p.setProperty("config.level", "L5_BALANCED");
        p.setProperty("config.calibration.enabled", "false");
        p.setProperty("config.pressure.window.ms", "1000");
        return p;
    }

    @ParameterizedTest
    @ValueSource(strings = {"java", "rust-jni"})
    void aScheduledRunAccountsForEveryEventAndWritesItsFiles(String impl, @TempDir Path dir) throws Exception {
        if (impl.equals("rust-jni") && !NativeCollectorFactory.isAvailable()) {
            String why = "skipped: " + NativeCollectorFactory.unavailableReason();
            System.out.println("SKIPPED BrochureCellTest rust-jni: " + why);
            assumeTrue(false, why);
        }
        ByteArrayOutputStream progress = new ByteArrayOutputStream();
        CellResult r = BrochureCell.run(scheduledCell(dir, impl), new PrintStream(progress, true, StandardCharsets.UTF_8));

        // Nothing lost: every measured event is delivered, failed or refused.
        assertEquals(r.submitted(), r.delivered() + r.failed() + r.rejected(), r.toJson());
        assertEquals(0, r.failed(), r.toJson());
        assertTrue(r.submitted() >= 1900 && r.submitted() <= 2000, "about 2000 events offered: " + r.toJson());
        assertEquals(r.delivered(), r.latency().getTotalCount(), "one latency per delivered event");
        double p50 = r.percentile(50);
        double p99 = r.percentile(99);
        assertTrue(0 < p50 && p50 <= p99 && p99 <= r.latency().getMaxValue(), r.toJson());
        assertTrue(r.achievedPerSec() > 1000 && r.achievedPerSec() < 3000, "near the offered 2000/s: " + r.toJson());
        assertTrue(r.scheduleDelayP50us() != null && r.scheduleDelayP50us() < 10_000, r.toJson());

        String printed = progress.toString(StandardCharsets.UTF_8);
        assertFalse(printed.isBlank(), "progress lines");
        for (String line : printed.split("\n")) {
            assertTrue(PROGRESS.matcher(line).matches(), "only progress lines on the runner's stream: " + line);
        }

        JsonNode json = JSON.readTree(dir.resolve("cell.json").toFile());
        assertEquals(r.delivered(), json.get("delivered").asLong());
        assertEquals(r.submitted(), json.get("submitted").asLong());
        assertEquals(r.delivered(), json.get("latency").get("count").asLong());
        assertTrue(json.get("wire_bytes_per_sec").isNull(), "no kafka-clients producer talks to a broker");
        assertTrue(json.get("cpu_ms_per_million").isNumber());
        assertTrue(json.get("note").asText().contains(impl.equals("java") ? "MockProducer" : "mock cluster"));
        assertTrue(json.get("jdk").asText().startsWith(System.getProperty("java.version")));
        for (String key : List.of("p50_us", "p90_us", "p99_us", "p999_us", "p9999_us", "max_us")) {
            assertTrue(json.get("latency").get(key).isNumber(), key);
        }
        JsonNode timeline = json.get("timeline");
        assertEquals(4, timeline.size(), timeline.toString());
        for (int i = 0; i < 4; i++) {
            JsonNode point = timeline.get(i);
            assertEquals(0.25 * (i + 1), point.get("t_s").asDouble(), 1e-9);
            assertEquals(2000, point.get("offered_events_per_sec").asDouble(), 1e-6);
            assertEquals(5, point.get("level").asInt(), "the forced level");
        }

        List<double[]> rows = hgrmRows(dir.resolve("cell.hgrm"));
        assertFalse(rows.isEmpty());
        for (int i = 1; i < rows.size(); i++) {
            assertTrue(rows.get(i)[0] >= rows.get(i - 1)[0] && rows.get(i)[1] >= rows.get(i - 1)[1], "monotone");
        }
        assertEquals(r.delivered(), (long) rows.get(rows.size() - 1)[2], "the last row counts every event");
        assertEquals(r.latency().getMaxValue(), rows.get(rows.size() - 1)[0], r.latency().getMaxValue() * 1e-3);
    }

    @Test
    void producerModeFollowsRateSteps(@TempDir Path dir) throws Exception {
        Properties p = scheduledCell(dir, "java");
        p.setProperty("mode", "producer");
        p.setProperty("steps", "1000:0.5,3000:0.5");
        p.setProperty("warmup_s", "0.2");
        p.stringPropertyNames().stream().filter(k -> k.startsWith("config.")).forEach(p::remove);
        p.setProperty("config.kafka.linger.ms", "5");
        CellResult r = BrochureCell.run(p, new PrintStream(new ByteArrayOutputStream(), true, StandardCharsets.UTF_8));

        assertEquals(r.submitted(), r.delivered() + r.failed() + r.rejected(), r.toJson());
        assertTrue(r.submitted() >= 1900 && r.submitted() <= 2000, "500 + 1500 events offered: " + r.toJson());
        assertEquals(r.delivered(), r.latency().getTotalCount());
        List<CellSampler.Point> points = r.timeline();
        assertEquals(4, points.size(), r.toJson());
        double[] offered = {1000, 1000, 3000, 3000};
        for (int i = 0; i < 4; i++) {
            assertEquals(offered[i], points.get(i).offeredPerSec(), 1e-6);
            assertNull(points.get(i).level(), "no collector, no level");
        }
        assertTrue(points.get(3).achievedPerSec() > 2 * points.get(0).achievedPerSec(), r.toJson());
        assertTrue(r.note().contains("MockProducer"), r.note());
    }

    @Test
    void theScheduleSpreadsEachRateOverTheThreads() {
        RateSchedule s = RateSchedule.steps(1, List.of(new RateSchedule.Step(1000, 2), new RateSchedule.Step(4000, 1)));
        assertTrue(s.scheduled());
        assertEquals(1_000_000_000L, s.warmupNanos());
        assertEquals(3_000_000_000L, s.measuredNanos());
        RateSchedule.Phase first = s.phases().get(1);
        // Two threads at 1000/s: thread 0 sends events 0, 2, 4, ... of the phase, thread 1 the odd ones.
        assertEquals(first.startNanos(), first.dueNanos(0, 0, 2));
        assertEquals(first.startNanos() + 1_000_000L, first.dueNanos(0, 1, 2));
        assertEquals(first.startNanos() + 2_000_000L, first.dueNanos(1, 0, 2));
        assertEquals(2000 + 4000, s.offeredEvents(), 1e-6);
        assertEquals(500 + 2000, s.offeredBetween(1_500_000_000L, 2_500_000_000L), 1e-6);
        assertTrue(Double.isNaN(RateSchedule.unscheduled(0, 1).offeredEvents()));
    }

    @Test
    void aBadSpecExitsWith2AndSaysWhy(@TempDir Path dir) throws IOException {
        Properties unknownImpl = scheduledCell(dir, "go");
        assertBadSpec(dir, unknownImpl, "`impl` must be java or rust-jni, got \"go\"");

        Properties missing = scheduledCell(dir, "java");
        missing.remove("topic");
        assertBadSpec(dir, missing, "missing key `topic`");

        Properties typo = scheduledCell(dir, "java");
        typo.setProperty("rates", "10");
        assertBadSpec(dir, typo, "unknown key rates");

        Properties badSteps = scheduledCell(dir, "java");
        badSteps.setProperty("steps", "1000:1,fast");
        assertBadSpec(dir, badSteps, "`steps` must be rate:duration_s");

        Properties relative = scheduledCell(dir, "java");
        relative.setProperty("result", "cell.json");
        assertBadSpec(dir, relative, "`result` must be an absolute path");

        // A key the collector does not know is refused with the collector's own message, not ignored.
        Properties unknownConfig = scheduledCell(dir, "java");
        unknownConfig.setProperty("config.batch.wait.ms", "5");
        assertBadSpec(dir, unknownConfig, "config: unknown key `batch.wait.ms`");

        Properties producerWithCollectorKeys = scheduledCell(dir, "java");
        producerWithCollectorKeys.setProperty("mode", "producer");
        assertBadSpec(dir, producerWithCollectorKeys, "only config.kafka.* keys apply");

        assertEquals(2, exitCode(new String[] {}, new ByteArrayOutputStream()));
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        assertEquals(2, exitCode(new String[] {dir.resolve("absent.properties").toString()}, err));
        assertTrue(err.toString(StandardCharsets.UTF_8).startsWith("bad spec: cannot read"), err.toString());
        assertFalse(Files.exists(dir.resolve("cell.json")), "a bad spec writes no result");
    }

    private static void assertBadSpec(Path dir, Properties spec, String expected) throws IOException {
        Path file = dir.resolve("spec.properties");
        try (Writer w = Files.newBufferedWriter(file, StandardCharsets.UTF_8)) {
            spec.store(w, null);
        }
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        assertEquals(2, exitCode(new String[] {file.toString()}, err), err.toString(StandardCharsets.UTF_8));
        String message = err.toString(StandardCharsets.UTF_8);
        assertTrue(message.startsWith("bad spec: ") && message.contains(expected), message);
        assertEquals(1, message.strip().lines().count(), "one line: " + message);
    }

    private static int exitCode(String[] args, ByteArrayOutputStream err) {
        ByteArrayOutputStream progress = new ByteArrayOutputStream();
        int code = BrochureCell.execute(args, new PrintStream(progress, true, StandardCharsets.UTF_8),
                new PrintStream(err, true, StandardCharsets.UTF_8));
        assertEquals("", progress.toString(StandardCharsets.UTF_8), "no progress for a refused spec");
        return code;
    }

    /** The value, percentile, total count rows of an HdrHistogram percentile file. */
    private static List<double[]> hgrmRows(Path hgrm) throws IOException {
        List<String> lines = Files.readAllLines(hgrm);
        assertTrue(lines.get(0).trim().startsWith("Value"), lines.get(0));
        List<double[]> rows = new ArrayList<>();
        for (String line : lines.subList(1, lines.size())) {
            String t = line.trim();
            if (t.isEmpty()) {
                continue;
            }
            if (t.startsWith("#")) {
                break;
            }
            String[] f = t.split("\\s+");
            // The 100% row has no 1/(1-p) column.
            assertTrue(f.length == 4 || (f.length == 3 && Double.parseDouble(f[1]) == 1.0), line);
            rows.add(new double[] {Double.parseDouble(f[0]), Double.parseDouble(f[1]), Double.parseDouble(f[2])});
        }
        assertTrue(lines.stream().anyMatch(l -> l.contains("#[Max")), "footer with the max");
        return rows;
    }
}
