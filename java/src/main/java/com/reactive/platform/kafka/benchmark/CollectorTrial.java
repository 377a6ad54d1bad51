package com.reactive.platform.kafka.benchmark;

import com.reactive.platform.gateway.microbatch.Implementation;
import com.reactive.platform.gateway.microbatch.MicrobatchCollector;
import com.reactive.platform.gateway.microbatch.Status;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.LockSupport;

/**
 * Drives one collector, created through the public API only
 * ({@link MicrobatchCollector#create(Implementation, Map, com.reactive.platform.gateway.microbatch.BatchSink,
 * com.reactive.platform.gateway.microbatch.BatchCalibration)}), with {@code threads} submitting
 * threads for the round's duration, then flushes and reads its status.
 *
 * <p>Throughput is the events the sink acknowledged ({@code Status.delivered}) over the time
 * from the start of submitting until {@code flush} returned, so events still queued when the
 * producers stop are paid for. Each submitting thread cycles through its own pool of distinct
 * 100-byte events ({@link Events}); with {@code batch > 1} it uses the batch submit, which is
 * one JNI crossing per batch for the Rust collector.
 */
final class CollectorTrial implements Variant.Trial {
    /** Where frames go. */
    enum Sink { COUNTING, NULL, KAFKA }

    /**
     * Keys that an implementation may not know (the Rust library on a branch without
     * calibration): dropped, with a note, if creation refuses them by name.
     */
    static final List<String> OPTIONAL_KEYS = List.of("calibration.enabled");

    private final Implementation impl;
    private final Map<String, String> config;
    private final Sink sink;
    private final int threads;
    private final int batch;
    private final double ratePerThread;
    private final Report report;

    /**
     * @param ratePerThread events per second per thread, or 0 for as fast as the collector takes them
     */
    CollectorTrial(Implementation impl, Map<String, String> config, Sink sink, int threads, int batch,
                   double ratePerThread, Report report) {
        this.impl = impl;
        this.config = config;
        this.sink = sink;
        this.threads = threads;
        this.batch = Math.max(1, batch);
        this.ratePerThread = ratePerThread;
        this.report = report;
    }

    /**
     * The settings every collector benchmark shares, identical for both implementations:
     * a full ring makes the producer wait (up to 1 s, as a gateway thread would) rather than
     * spin on refusals; a 1 s pressure window so short runs see level changes and latency
     * windows; calibration off unless the benchmark is about it.
     */
    static Map<String, String> base(Sink sink, String broker, String topic, String level) {
        Map<String, String> m = new LinkedHashMap<>();
        m.put("submit.block.ms", "1000");
        m.put("pressure.window.ms", "1000");
        m.put("calibration.enabled", "false");
        if (level != null && !level.equals("auto")) {
            m.put("level", level);
        }
        switch (sink) {
            case NULL -> m.put("sink", "null");
            case KAFKA -> {
                m.put("sink", "kafka");
                if (broker != null && !broker.equals("mock")) {
                    m.put("kafka.bootstrap.servers", broker);
                }
                m.put("kafka.topic", topic);
            }
            case COUNTING -> {
                // The BatchSink passed to create makes the sink "callback".
            }
        }
        return m;
    }

    /** Creates the collector, dropping {@link #OPTIONAL_KEYS} the implementation refuses by name. */
    MicrobatchCollector create(com.reactive.platform.gateway.microbatch.BatchSink batchSink) {
        Map<String, String> c = new LinkedHashMap<>(config);
        while (true) {
            try {
                return MicrobatchCollector.create(impl, c, batchSink, null);
            } catch (IllegalArgumentException e) {
                String refused = OPTIONAL_KEYS.stream()
                        .filter(k -> c.containsKey(k) && String.valueOf(e.getMessage()).contains(k))
                        .findFirst().orElse(null);
                if (refused == null) {
                    throw e;
                }
                c.remove(refused);
                report.noteOnce(Impls.label(impl) + " does not take `" + refused + "` (" + e.getMessage()
                        + "): run without it");
            }
        }
    }

    @Override
    public Measurement run(Duration duration) throws Exception {
        CountingSink counting = sink == Sink.COUNTING ? new CountingSink() : null;
        MicrobatchCollector c = create(counting);
        try {
            return drive(c, duration, counting);
        } finally {
            c.close();
        }
    }

    private Measurement drive(MicrobatchCollector c, Duration duration, CountingSink counting) throws Exception {
        AtomicBoolean stop = new AtomicBoolean();
        CyclicBarrier start = new CyclicBarrier(threads + 1);
        AtomicReference<Throwable> error = new AtomicReference<>();
        List<Thread> producers = new ArrayList<>();
        for (int t = 0; t < threads; t++) {
            // Distinct events, at least two batches' worth, a power of two for masking.
            int size = Math.max(Events.POOL, Integer.highestOneBit(Math.max(1, batch) * 2 - 1) << 1);
            final byte[][] pool = Events.pool(size, Events.DEFAULT_BYTES, 0x5EED + t);
            Thread p = new Thread(() -> {
                try {
                    start.await();
                    if (batch == 1) {
                        submitSingle(c, pool, stop);
                    } else {
                        submitBatches(c, pool, stop);
                    }
                } catch (Throwable e) {
                    error.compareAndSet(null, e);
                }
            }, "bench-producer-" + t);
            p.setDaemon(true);
            producers.add(p);
            p.start();
        }
        start.await();
        long t0 = System.nanoTime();
        CpuClock.Sample cpu0 = CpuClock.now();
        Thread.sleep(duration.toMillis());
        stop.set(true);
        for (Thread p : producers) {
            p.join();
        }
        c.flush(Duration.ofSeconds(120));
        long t1 = System.nanoTime();
        CpuClock.Sample cpu = CpuClock.now().minus(cpu0);
        if (error.get() != null) {
            throw new IllegalStateException("a producer failed", error.get());
        }
        Status st = c.status();
        if (st.failed() > 0) {
            throw new IllegalStateException(st.failed() + " events failed delivery");
        }
        return new Measurement(st.delivered(), (t1 - t0) / 1e9, cpu, st.latencyP50Micros(), st.latencyP99Micros(),
                st.latencyP999Micros(), st.level() == null ? "-" : st.level().name(),
                counting == null ? -1 : counting.bytes.sum());
    }

    private void submitSingle(MicrobatchCollector c, byte[][] pool, AtomicBoolean stop) {
        final int mask = pool.length - 1;
        int i = 0;
        long sent = 0;
        final long begin = System.nanoTime();
        final double nanosPerEvent = ratePerThread > 0 ? 1e9 / ratePerThread : 0;
        // The stop flag is read once per 256 submits: cheap, and the overrun is microseconds.
        while (!stop.get()) {
            for (int k = 0; k < 256; k++) {
                c.submitFireAndForget(pool[i++ & mask]);
                if (nanosPerEvent > 0) {
                    pace(begin, ++sent, nanosPerEvent, stop);
                }
            }
        }
    }

    private void submitBatches(MicrobatchCollector c, byte[][] pool, AtomicBoolean stop) {
        int off = 0;
        long sent = 0;
        final long begin = System.nanoTime();
        final double nanosPerEvent = ratePerThread > 0 ? 1e9 / ratePerThread : 0;
        final int rounds = Math.max(1, 256 / batch);
        while (!stop.get()) {
            for (int k = 0; k < rounds; k++) {
                c.submitFireAndForget(pool, off, batch);
                off += batch;
                if (off + batch > pool.length) {
                    off = 0;
                }
                if (nanosPerEvent > 0) {
                    sent += batch;
                    pace(begin, sent, nanosPerEvent, stop);
                }
            }
        }
    }

    /** Waits until the {@code sent}-th event is due at the target rate. */
    private static void pace(long begin, long sent, double nanosPerEvent, AtomicBoolean stop) {
        long due = begin + (long) (sent * nanosPerEvent);
        long now;
        while ((now = System.nanoTime()) < due && !stop.get()) {
            LockSupport.parkNanos(Math.min(due - now, 10_000_000L));
        }
    }
}
