package com.reactive.platform.kafka.benchmark;

import java.io.File;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * One mode of the Rust library's own Kafka baseline ({@code cargo bench --bench kafka_baseline},
 * librdkafka directly, no JVM), run as a child process so that its BULK sits in the same table
 * as the Java kafka-clients BULK, measured in the same run against the same broker. Opt-in
 * ({@code --cargo}): it needs cargo and compiles the bench on first use.
 *
 * <p>The child does its own warm-up (up to 3 s) before the mode; only the mode's figures are
 * used. The CPU column is the child's own {@code getrusage} over the mode (every thread of the
 * process: the producing thread and librdkafka's), per million events acknowledged, so it
 * compares with the Java rows' whole-JVM CPU.
 */
final class CargoBenchTrial implements Variant.Trial {
    private final Path crate;
    private final String binary;
    private final String mode;
    private final String broker;

    /**
     * @param binary an already built bench executable ({@code --rust-bench}, e.g.
     *               {@code target/release/deps/kafka_baseline-*}) to run instead of
     *               {@code cargo bench}, or null
     */
    CargoBenchTrial(Path crate, String binary, String mode, String broker) {
        this.crate = crate;
        this.binary = binary;
        this.mode = mode;
        this.broker = broker;
    }

    /** The crate folder: {@code --crate}, else the current folder or its parent if it holds Cargo.toml. */
    static Path findCrate(BenchArgs args) {
        String given = args.option("--crate", null);
        if (given != null) {
            return Path.of(given).toAbsolutePath();
        }
        Path here = Path.of("").toAbsolutePath();
        for (Path p = here; p != null; p = p.getParent()) {
            if (Files.isRegularFile(p.resolve("Cargo.toml")) && Files.isDirectory(p.resolve("benches"))) {
                return p;
            }
        }
        return here;
    }

    @Override
    public Measurement run(Duration duration) throws Exception {
        Path json = Files.createTempFile("kafka-baseline-", ".json");
        long seconds = Math.max(1, Math.round(duration.toMillis() / 1000.0));
        List<String> cmd = new ArrayList<>(binary != null ? List.of(binary, "--bench")
                : List.of("cargo", "bench", "--quiet", "--bench", "kafka_baseline", "--"));
        cmd.addAll(List.of("--bootstrap", broker, "--seconds", Long.toString(seconds), "--only", mode,
                "--events", Events.kind, "--json", json.toString()));
        Process p = new ProcessBuilder(cmd).directory(crate.toFile()).redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.appendTo(new File(System.getProperty("java.io.tmpdir"),
                        "cargo-kafka-baseline.log"))).start();
        if (!p.waitFor(seconds + 600, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new IllegalStateException("cargo bench did not finish");
        }
        if (p.exitValue() != 0) {
            throw new IllegalStateException("cargo bench failed (exit " + p.exitValue() + "), see "
                    + System.getProperty("java.io.tmpdir") + "/cargo-kafka-baseline.log");
        }
        String out = Files.readString(json);
        Files.deleteIfExists(json);
        Matcher m = Pattern.compile("\"" + Pattern.quote(mode) + "\":\\{\"events_per_sec\":([0-9.]+)").matcher(out);
        if (!m.find()) {
            throw new IllegalStateException("no " + mode + " in the cargo bench's JSON: " + out);
        }
        double eps = Double.parseDouble(m.group(1));
        long events = (long) (eps * seconds);
        // ms per million events x events / 1e6 = ms; x 1e6 = ns: the product is the total in ns.
        double userMsPerM = field(out, "cpu_user_ms_per_m_events");
        double sysMsPerM = field(out, "cpu_sys_ms_per_m_events");
        return new Measurement(events, seconds,
                new CpuClock.Sample((long) (userMsPerM * events), (long) (sysMsPerM * events)), -1, -1, -1, "-", -1);
    }

    /** A number of this mode's object in the bench's JSON (one mode is run, so the first match is it). */
    private double field(String json, String name) {
        Matcher m = Pattern.compile("\"" + Pattern.quote(name) + "\":([0-9.]+)").matcher(json);
        if (!m.find()) {
            throw new IllegalStateException("no " + name + " in the cargo bench's JSON: " + json);
        }
        return Double.parseDouble(m.group(1));
    }
}
