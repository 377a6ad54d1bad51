package com.reactive.platform.kafka.benchmark;

import com.reactive.platform.gateway.microbatch.Implementation;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/**
 * The seed's comparison of the adaptive collector against the BULK baseline, for the Java and
 * the Rust collector in one run:
 *
 * <ol>
 *   <li>BULK: kafka-clients directly, 1000 events per send (the reference; Java only, see
 *       {@link RawKafkaTrial}; the Rust library's BULK is {@code cargo bench --bench kafka_baseline});</li>
 *   <li>ADAPTIVE_AUTO: the collector with the Kafka sink, level chosen from the rate;</li>
 *   <li>ADAPTIVE_L10: forced to L10_MAX (30 s budget);</li>
 *   <li>ADAPTIVE_L9: forced to L9_EXTREME (15 s budget);</li>
 *   <li>COLLECTOR_ONLY: no Kafka, frames handed to a counting sink (pure collection speed);</li>
 *   <li>PARALLEL_SENDS: kafka-clients directly from one thread per CPU, bypassing any collector.</li>
 * </ol>
 *
 * <pre>
 * mvn -f java/pom.xml exec:java -Dexec.mainClass=com.reactive.platform.kafka.benchmark.AdaptiveVsBulkBenchmark \
 *     -Dexec.args="30 localhost:9092 [--impl java|rust|both] [--rounds 3] [--batch 1] [--json PATH]
 *                  [--cargo | --rust-bench BIN]"
 * </pre>
 *
 * With {@code --cargo} or {@code --rust-bench} the Rust library's own BULK (librdkafka, see
 * {@link CargoBenchTrial}) is measured too, and each adaptive row is given as a percentage of
 * its own implementation's BULK and of the best BULK.
 *
 * Collectors get one submitting thread ({@code submitFireAndForget} per event, the seed's hot
 * path; {@code --batch N} uses the batch submit instead).
 */
public final class AdaptiveVsBulkBenchmark {
    private AdaptiveVsBulkBenchmark() {
    }

    public static void main(String[] argv) throws Exception {
        Bench.main("AdaptiveVsBulkBenchmark", argv, AdaptiveVsBulkBenchmark::run);
    }

    static void run(BenchArgs args, Report report) {
        Duration d = args.duration(30);
        int rounds = args.rounds(3);
        int batch = args.intOption("--batch", 1);
        String broker = args.broker();
        Bench.setRun(report, d, rounds);
        Bench.mockNote(args, report);
        List<Implementation> impls = Impls.runnable(args, report);
        int cpus = Runtime.getRuntime().availableProcessors();
        String moves = batch > 1 ? "batch of " + batch : "one event per call";

        List<Variant> vs = new ArrayList<>();
        vs.add(new Variant("BULK", "kafka-clients", "-", 1, "1000-event frames",
                new RawKafkaTrial(broker, Bench.topic("avb", "bulk", "java"), 1000, 1)));
        String rustBench = args.option("--rust-bench", null);
        if ((args.flag("--cargo") || rustBench != null) && impls.contains(Implementation.RUST)) {
            vs.add(new Variant("BULK", "librdkafka", "-", 1, "1000-event frames",
                    new CargoBenchTrial(CargoBenchTrial.findCrate(args), rustBench, "BULK", broker)));
            Bench.cargoNote(report);
        }
        String[][] adaptive = {{"ADAPTIVE_AUTO", "auto"}, {"ADAPTIVE_L10", "L10_MAX"}, {"ADAPTIVE_L9", "L9_EXTREME"}};
        for (String[] a : adaptive) {
            for (Implementation impl : impls) {
                vs.add(new Variant(a[0], Bench.label(impl), a[1], 1, moves, new CollectorTrial(impl,
                        CollectorTrial.base(CollectorTrial.Sink.KAFKA, broker,
                                Bench.topic("avb", a[0], Bench.label(impl)), a[1]),
                        CollectorTrial.Sink.KAFKA, 1, batch, 0, report)));
            }
        }
        for (Implementation impl : impls) {
            vs.add(new Variant("COLLECTOR_ONLY", Bench.label(impl), "L10_MAX", 1, moves, new CollectorTrial(impl,
                    CollectorTrial.base(CollectorTrial.Sink.COUNTING, broker, null, "L10_MAX"),
                    CollectorTrial.Sink.COUNTING, 1, batch, 0, report)));
        }
        vs.add(new Variant("PARALLEL_SENDS", "kafka-clients", "-", cpus, "1000-event frames",
                new RawKafkaTrial(broker, Bench.topic("avb", "parallel", "java"), 1000, cpus)));

        Rounds.run(vs, args.warmup(d), d, rounds, report);
        report.ratiosTo("BULK");
        report.ownAndBestBulkNotes("BULK", "ADAPTIVE");
    }
}
