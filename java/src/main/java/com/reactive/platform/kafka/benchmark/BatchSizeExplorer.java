package com.reactive.platform.kafka.benchmark;

import java.time.Duration;

/**
 * Batch size impact analysis: events/s, latency and CPU per event as the frame size N grows
 * from 10 to 100,000 events (under a forced L10_MAX, so N alone decides the frames; frames
 * are also capped at {@code batch.max.bytes}, about 9,450 100-byte events), for both
 * implementations, into Kafka or ({@code --sink counting}) a counting sink.
 *
 * <pre>
 * mvn -f java/pom.xml exec:java -Dexec.mainClass=com.reactive.platform.kafka.benchmark.BatchSizeExplorer \
 *     -Dexec.args="localhost:9092 [--sizes 10,100,1000,10000,100000] [--sink kafka|counting] [--duration 5] [--rounds 3]"
 * </pre>
 */
public final class BatchSizeExplorer {
    private BatchSizeExplorer() {
    }

    public static void main(String[] argv) throws Exception {
        Bench.main("BatchSizeExplorer", argv, BatchSizeExplorer::run);
    }

    static void run(BenchArgs args, Report report) {
        Duration d = args.duration(5);
        int rounds = args.rounds(3);
        Bench.setRun(report, d, rounds);
        Bench.mockNote(args, report);
        Rounds.run(QuickBatchTest.sizeVariants("explorer", args, report,
                args.option("--sizes", "10,100,1000,10000,100000")), args.warmup(d), d, rounds, report);
    }
}
