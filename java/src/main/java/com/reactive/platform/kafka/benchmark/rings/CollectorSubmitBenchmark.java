package com.reactive.platform.kafka.benchmark.rings;

import com.reactive.platform.gateway.microbatch.Implementation;
import com.reactive.platform.gateway.microbatch.MicrobatchCollector;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OperationsPerInvocation;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Threads;
import org.openjdk.jmh.annotations.Warmup;

/**
 * The collectors' submit path under JMH, one submitting thread, through the public API only
 * ({@link MicrobatchCollector#create(Implementation, Map)}): {@code sink=null},
 * {@code level=L10_MAX}, the default partitions and flush threads, {@code submit.block.ms=1000}
 * (a full ring makes the submit wait for the flush threads, so the score is the rate the
 * collector sustains, not the rate at which it refuses). The collector's flush threads are the
 * consumers; they run outside JMH's threads.
 *
 * <ul>
 *   <li>{@code impl=rust}: each event's 100 bytes are copied, through JNI, into the frame being
 *       built in the ring; {@code submitSingle} is one JNI call per event, {@code submitBatch}
 *       one per {@value #BATCH} events.</li>
 *   <li>{@code impl=java}: the ring stores a reference; the flush threads copy the bytes when
 *       they encode the frame (the null sink still gets an encoded frame).</li>
 * </ul>
 * Scores are events per second ({@code submitBatch} counts {@value #BATCH} per call).
 */
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 2, time = 1)
@Measurement(iterations = 3, time = 1)
@Fork(1)
@Threads(1)
@State(Scope.Benchmark)
public class CollectorSubmitBenchmark {
    public static final int BATCH = 64;
    private static final int POOL = 4096;

    @Param({"java", "rust"})
    public String impl;

    MicrobatchCollector collector;
    /** Distinct JSON-like events; never written after creation (the Java ring keeps references). */
    byte[][] pool;

    @Setup(Level.Trial)
    public void open() {
        collector = MicrobatchCollector.create(Implementation.parse(impl), Map.of(
                "sink", "null", "level", "L10_MAX", "submit.block.ms", "1000"));
        pool = new byte[POOL][];
        SplittableRandom r = new SplittableRandom(42);
        for (int i = 0; i < POOL; i++) {
            StringBuilder b = new StringBuilder("{\"id\":").append(r.nextInt(1 << 30)).append(",\"v\":\"");
            while (b.length() < 98) {
                b.append(Character.forDigit(r.nextInt(16), 16));
            }
            pool[i] = b.append("\"}").toString().getBytes(StandardCharsets.US_ASCII);
        }
    }

    @TearDown(Level.Trial)
    public void close() {
        collector.flush(Duration.ofSeconds(60));
        collector.close();
    }

    /** Per-thread position in the pool. */
    @State(Scope.Thread)
    public static class Cursor {
        int next;
    }

    @Benchmark
    public boolean submitSingle(Cursor c) {
        return collector.submitFireAndForget(pool[c.next++ & (POOL - 1)]);
    }

    @Benchmark
    @OperationsPerInvocation(BATCH)
    public int submitBatch(Cursor c) {
        int off = c.next;
        c.next = off + BATCH >= POOL ? 0 : off + BATCH;
        return collector.submitFireAndForget(pool, off, BATCH);
    }
}
