package com.reactive.platform.kafka.benchmark;

import com.reactive.platform.gateway.microbatch.Implementation;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * A quick hypothesis test of batch sizes against Kafka: a few frame sizes (N, via
 * {@code batch.max.events} under a forced L10_MAX), one short round each, both implementations.
 *
 * <pre>
 * mvn -f java/pom.xml exec:java -Dexec.mainClass=com.reactive.platform.kafka.benchmark.QuickBatchTest \
 *     -Dexec.args="localhost:9092 [--sizes 100,1000,10000] [--duration 5] [--rounds 1] [--impl both]"
 * </pre>
 */
public final class QuickBatchTest {
    private QuickBatchTest() {
    }

    public static void main(String[] argv) throws Exception {
        Bench.main("QuickBatchTest", argv, QuickBatchTest::run);
    }

    static void run(BenchArgs args, Report report) {
        Duration d = args.duration(5);
        int rounds = args.rounds(1);
        Bench.setRun(report, d, rounds);
        Bench.mockNote(args, report);
        List<Variant> vs = sizeVariants("quick", args, report, args.option("--sizes", "100,1000,10000"));
        Rounds.run(vs, args.warmup(d), d, rounds, report);
    }

    /** One variant per size and implementation: a collector forced to L10_MAX with N = size. */
    static List<Variant> sizeVariants(String bench, BenchArgs args, Report report, String sizes) {
        List<Implementation> impls = Impls.runnable(args, report);
        CollectorTrial.Sink sink = args.option("--sink", "kafka").equals("counting")
                ? CollectorTrial.Sink.COUNTING : CollectorTrial.Sink.KAFKA;
        List<Variant> vs = new ArrayList<>();
        for (String s : sizes.split(",")) {
            int n = Integer.parseInt(s.trim());
            for (Implementation impl : impls) {
                Map<String, String> c = CollectorTrial.base(sink, args.broker(),
                        Bench.topic(bench, "n" + n, Bench.label(impl)), "L10_MAX");
                c.put("batch.max.events", Integer.toString(Math.max(1, n)));
                vs.add(new Variant("N=" + n, Bench.label(impl), "L10_MAX", 1,
                        sink == CollectorTrial.Sink.KAFKA ? "to Kafka" : "to a counting sink",
                        new CollectorTrial(impl, c, sink, 1, 1, 0, report)));
            }
        }
        return vs;
    }
}
