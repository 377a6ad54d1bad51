package com.reactive.platform.kafka.benchmark;

import com.reactive.platform.gateway.microbatch.Implementation;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * The fair end-to-end comparison of the two collectors: from {@code submitFireAndForget} to an
 * encoded format v1 frame handed to a {@link CountingSink}, so both do the same work. The Java
 * ring moves references and copies each event's bytes when it encodes the frame at flush; the
 * Rust ring copies the bytes at submit (through JNI) into the frame it will hand over. Same
 * settings for both ({@code level=L10_MAX}, so frames are cut by {@code batch.max.bytes}, and the
 * defaults for partitions, flush threads and ring sizes), 100-byte events, 1, 2 and 4 submitting
 * threads, one event per call ({@code single}) and {@code --batch} events per call ({@code batch},
 * one JNI crossing per batch for Rust). Warm-up, interleaved rounds, medians, Rust / Java ratio.
 *
 * <pre>
 * mvn -f java/pom.xml exec:java -Dexec.mainClass=com.reactive.platform.kafka.benchmark.CollectorComparisonBenchmark \
 *     -Dexec.args="--duration 5 --rounds 5 [--threads 1,2,4] [--batch 64] [--submit single,batch] [--impl both]"
 * </pre>
 */
public final class CollectorComparisonBenchmark {
    private CollectorComparisonBenchmark() {
    }

    public static void main(String[] argv) throws Exception {
        Bench.main("CollectorComparisonBenchmark", argv, CollectorComparisonBenchmark::run);
    }

    static void run(BenchArgs args, Report report) {
        Duration d = args.duration(5);
        int rounds = args.rounds(3);
        int batch = args.intOption("--batch", 64);
        List<String> submits = List.of(args.option("--submit", "single,batch").split(","));
        Bench.setRun(report, d, rounds);
        List<Implementation> impls = Impls.runnable(args, report);
        List<Variant> vs = new ArrayList<>();
        for (int threads : args.threads("1,2,4")) {
            for (String submit : submits) {
                int perCall = submit.trim().equals("batch") ? batch : 1;
                String name = String.format(Locale.ROOT, "E2E_%s", perCall == 1 ? "SINGLE" : "BATCH" + perCall);
                for (Implementation impl : impls) {
                    String moves = impl == Implementation.JAVA
                            ? "ref into ring, copy at encode" : "copy at submit (JNI), frame in place";
                    vs.add(new Variant(name, Bench.label(impl), "L10_MAX", threads, moves, new CollectorTrial(impl,
                            CollectorTrial.base(CollectorTrial.Sink.COUNTING, null, null, "L10_MAX"),
                            CollectorTrial.Sink.COUNTING, threads, perCall, 0, report)));
                }
            }
        }
        Rounds.run(vs, args.warmup(d), d, rounds, report);
        report.note("submit to an encoded frame handed to a counting BatchSink; same configuration for both; "
                + Runtime.getRuntime().availableProcessors() + " CPUs, so more than "
                + Runtime.getRuntime().availableProcessors() + " submitting threads share them with the flush threads");
    }
}
