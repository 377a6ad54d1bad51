package com.reactive.platform.kafka.benchmark;

import com.reactive.platform.gateway.microbatch.Implementation;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * The seed's BULK baseline: the ceiling the adaptive collector is measured against.
 *
 * <pre>
 * mvn -f java/pom.xml exec:java -Dexec.mainClass=com.reactive.platform.kafka.benchmark.KafkaBaselineBenchmark \
 *     -Dexec.args="BULK 30 localhost:9092"                          # 1000 events per send
 * mvn ... -Dexec.args="MEGA 30 localhost:9092"                      # 10000 events per send
 * mvn ... -Dexec.args="ALL 30 localhost:9092 reports/kafka-baseline" # every mode, report in that folder
 *   options: --impl java|rust|both  --rounds R
 *            --cargo (also run the Rust library's BULK/MEGA with cargo bench, in --crate DIR or the
 *            nearest folder above with Cargo.toml), or --rust-bench BIN (run that built bench binary)
 * </pre>
 *
 * What each row measures (all: 100-byte JSON-like events, format v1 frames, lz4, acks=1):
 * <ul>
 *   <li>{@code BULK} / {@code MEGA} / {@code PER_EVENT}, impl {@code kafka-clients}: Java with
 *       kafka-clients directly, no collector: 1000 / 10000 events per record, or one record per
 *       event ({@link RawKafkaTrial}).</li>
 *   <li>{@code BULK} / {@code MEGA}, impl {@code librdkafka} (only with {@code --cargo}): the Rust
 *       library's own baseline, {@code cargo bench --bench kafka_baseline --only BULK|MEGA},
 *       librdkafka directly from Rust, run as a child process against the same broker.</li>
 *   <li>{@code BULK_COLLECTOR} / {@code MEGA_COLLECTOR}, impls {@code java} and {@code rust}: each
 *       collector through {@code MicrobatchCollector}, forced to L10_MAX with N capped at 1000 /
 *       10000 ({@code batch.max.events}), so it sends exactly the BULK / MEGA frames; the producer
 *       submits batches of 1000 (one JNI crossing per batch for Rust). Java sends with
 *       kafka-clients, Rust with librdkafka.</li>
 * </ul>
 */
public final class KafkaBaselineBenchmark {
    private KafkaBaselineBenchmark() {
    }

    public static void main(String[] argv) throws Exception {
        BenchArgs args = new BenchArgs(argv);
        String mode = args.positional.isEmpty() ? "BULK" : args.positional.get(0).toUpperCase(Locale.ROOT);
        // ALL's fourth argument is a report folder: JSON and the printed table go there.
        if (mode.equals("ALL") && args.positional.size() >= 4 && args.option("--json", null) == null) {
            Path dir = Path.of(args.positional.get(3));
            List<String> more = new ArrayList<>(List.of(argv));
            more.add("--json");
            more.add(dir.resolve("kafka-baseline.json").toString());
            argv = more.toArray(new String[0]);
        }
        final String[] finalArgv = argv;
        ByteArrayOutputStream copy = new ByteArrayOutputStream();
        PrintStream console = System.out;
        if (mode.equals("ALL") && args.positional.size() >= 4) {
            System.setOut(new PrintStream(new Tee(console, copy), true, StandardCharsets.UTF_8));
        }
        try {
            Bench.main("KafkaBaselineBenchmark", finalArgv, (a, r) -> run(mode, a, r));
        } finally {
            System.setOut(console);
        }
        if (mode.equals("ALL") && args.positional.size() >= 4) {
            Path dir = Path.of(args.positional.get(3));
            Files.createDirectories(dir);
            Files.writeString(dir.resolve("kafka-baseline.txt"), copy.toString(StandardCharsets.UTF_8));
            System.out.println("report written to " + dir.resolve("kafka-baseline.txt").toAbsolutePath());
        }
    }

    static void run(String mode, BenchArgs args, Report report) {
        Duration d = args.duration(30);
        int rounds = args.rounds(3);
        String broker = args.broker();
        Bench.setRun(report, d, rounds);
        Bench.mockNote(args, report);
        List<String> modes = switch (mode) {
            case "BULK" -> List.of("BULK");
            case "MEGA" -> List.of("MEGA");
            case "PER_EVENT" -> List.of("PER_EVENT");
            case "ALL" -> List.of("BULK", "MEGA", "PER_EVENT");
            default -> throw new IllegalArgumentException("mode must be BULK, MEGA, PER_EVENT or ALL, got " + mode);
        };
        List<Implementation> impls = Impls.runnable(args, report);
        String rustBench = args.option("--rust-bench", null);
        boolean cargo = (args.flag("--cargo") || rustBench != null) && args.impls().contains(Implementation.RUST);
        Path crate = CargoBenchTrial.findCrate(args);
        if (cargo) {
            Bench.cargoNote(report);
        }
        List<Variant> vs = new ArrayList<>();
        for (String m : modes) {
            int perSend = switch (m) {
                case "BULK" -> 1000;
                case "MEGA" -> 10_000;
                default -> 1;
            };
            vs.add(new Variant(m, "kafka-clients", "-", 1, perSend + " events per send",
                    new RawKafkaTrial(broker, Bench.topic("baseline", m, "java"), perSend, 1)));
            if (cargo && perSend > 1) {
                vs.add(new Variant(m, "librdkafka", "-", 1, perSend + " events per send",
                        new CargoBenchTrial(crate, rustBench, m, broker)));
            }
            if (perSend == 1) {
                continue;
            }
            for (Implementation impl : impls) {
                Map<String, String> c = new LinkedHashMap<>(CollectorTrial.base(CollectorTrial.Sink.KAFKA, broker,
                        Bench.topic("baseline", m + "-collector", Bench.label(impl)), "L10_MAX"));
                c.put("batch.max.events", Integer.toString(perSend));
                if (perSend > 9000) {
                    // A 10000-event frame (1,040,008 bytes) is over the default frame cap.
                    c.put("batch.max.bytes", "1100000");
                    c.put(impl == Implementation.RUST ? "kafka.message.max.bytes" : "kafka.max.request.size", "2000000");
                }
                vs.add(new Variant(m + "_COLLECTOR", Bench.label(impl), "L10_MAX", 1, "batch of " + perSend,
                        new CollectorTrial(impl, c, CollectorTrial.Sink.KAFKA, 1, perSend, 0, report)));
            }
        }
        if (!cargo && args.impls().contains(Implementation.RUST)) {
            report.note("the Rust library's own BULK (librdkafka, no JVM): add --cargo to run it here, or "
                    + "`cargo bench --bench kafka_baseline -- --bootstrap " + broker + " --seconds " + d.toSeconds() + "`");
        }
        Rounds.run(vs, args.warmup(d), d, rounds, report);
        report.ratiosTo(modes.get(0));
        for (String m : modes) {
            report.ownAndBestBulkNotes(m, m + "_COLLECTOR");
        }
    }

    /** Writes to the console and keeps a copy for the report folder. */
    private static final class Tee extends java.io.OutputStream {
        private final java.io.OutputStream a;
        private final java.io.OutputStream b;

        Tee(java.io.OutputStream a, java.io.OutputStream b) {
            this.a = a;
            this.b = b;
        }

        @Override
        public void write(int x) throws java.io.IOException {
            a.write(x);
            b.write(x);
        }

        @Override
        public void write(byte[] buf, int off, int len) throws java.io.IOException {
            a.write(buf, off, len);
            b.write(buf, off, len);
        }

        @Override
        public void flush() throws java.io.IOException {
            a.flush();
            b.flush();
        }
    }
}
