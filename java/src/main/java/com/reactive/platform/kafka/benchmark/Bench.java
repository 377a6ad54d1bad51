package com.reactive.platform.kafka.benchmark;

import com.reactive.platform.gateway.microbatch.Implementation;
import java.time.Duration;
import java.util.Locale;

/** What the benchmark mains share: run ids, topic names, the mock-broker note, the run wrapper. */
final class Bench {
    static final long RUN_ID = System.currentTimeMillis() / 1000;

    private Bench() {
    }

    @FunctionalInterface
    interface Body {
        void run(BenchArgs args, Report report) throws Exception;
    }

    /**
     * Parses the arguments, runs {@code body}, prints the side-by-side table and writes the JSON.
     * Never calls System.exit: under {@code mvn exec:java} that would end Maven too.
     */
    static void main(String name, String[] argv, Body body) throws Exception {
        BenchArgs args = new BenchArgs(argv);
        Report report = new Report(name, args);
        Events.kind = args.option("--events", "json");
        if (!Events.kind.equals("json") && !Events.kind.equals("x")) {
            throw new IllegalArgumentException("--events must be json or x, got " + Events.kind);
        }
        if (Events.kind.equals("x")) {
            report.note("--events x: the Rust kafka_baseline bench's events (a counter and 'x' bytes), which lz4 "
                    + "compresses to almost nothing; Kafka figures are then far above what real events get");
        }
        System.out.println(name + " " + String.join(" ", argv));
        body.run(args, report);
        report.print(System.out);
        report.writeJson(args.json(name));
    }

    static String topic(String bench, String test, String impl) {
        return ("mb-bench-" + bench + "-" + test + "-" + impl + "-" + RUN_ID).toLowerCase(Locale.ROOT)
                .replaceAll("[^a-z0-9._-]", "-");
    }

    static String label(Implementation impl) {
        return Impls.label(impl);
    }

    /** The note every Kafka benchmark prints when run without a broker. */
    static void mockNote(BenchArgs args, Report report) {
        if (args.mockBroker()) {
            report.note("broker mock: Java rows send to kafka-clients' MockProducer (in process, acknowledges at once, "
                    + "stores nothing); Rust rows to librdkafka's mock cluster (in process, over loopback). "
                    + "Neither is Kafka and they are not the same stand-in: compare Kafka rows across "
                    + "implementations only against a real broker.");
        }
    }

    /** Said whenever the Rust bench's BULK runs: its events come from its own generator. */
    static void cargoNote(Report report) {
        report.note("the librdkafka BULK rows run the Rust bench (benches/kafka_baseline.rs) with --events "
                + Events.kind + ": the same kind of 100-byte events as the other rows, from its own generator; "
                + "its CPU is that process's getrusage over the mode");
    }

    static void setRun(Report report, Duration d, int rounds) {
        report.setRun(d.toMillis() / 1000.0, rounds);
    }
}
