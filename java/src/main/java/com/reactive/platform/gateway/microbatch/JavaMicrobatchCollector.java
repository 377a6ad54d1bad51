package com.reactive.platform.gateway.microbatch;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.LongAdder;
import java.util.concurrent.locks.LockSupport;
import org.HdrHistogram.Histogram;
import org.HdrHistogram.Recorder;

/**
 * The pure-Java collector: the seed's partitioned design, written to be the baseline the Rust
 * library has to beat.
 *
 * <ul>
 *   <li>One ring per partition (default: one per CPU). A submitting thread is given a home
 *       partition the first time it submits (round-robin) and always uses it, so its events
 *       stay in order. Rings hold references: a submit stores the caller's array, it does not
 *       copy it. With {@code ring.type=spsc} (default) a partition is a {@link FastRingBuffer}
 *       behind a lock word that threads sharing it take turns through (one uncontended
 *       compare-and-set per submit); with {@code mpsc} it is an {@link MpscRingBuffer}.</li>
 *   <li>Two flush threads ({@code flush.threads}) drain the rings, apply the N-or-T rule and
 *       encode frames in format v1 (the one copy of each event's bytes), then hand them to the
 *       sink: Kafka through kafka-clients (see {@link KafkaFrameSink}), a {@link BatchSink},
 *       or nothing ({@code sink=null}).</li>
 *   <li>Ten pressure levels: every {@code pressure.window.ms} the rate of submitted events
 *       picks the level, and N and T come from the {@link BatchCalibration} (its best config,
 *       or its next experiment when exploring; recorded and chosen on a calibration thread)
 *       or from the level's bootstrap.</li>
 *   <li>{@link #submit} futures complete when the sink acknowledges the frame (for Kafka, in
 *       the producer's callback), with no thread per request; one timer thread per collector,
 *       started by the first tracked submit, fails those still unacknowledged after
 *       {@code ack.timeout.ms}. Dependent stages run on the completing thread (a flush thread
 *       or the Kafka I/O thread): keep them short, or use the {@code *Async} variants.</li>
 * </ul>
 */
public final class JavaMicrobatchCollector implements MicrobatchCollector {
    private static final System.Logger LOG = System.getLogger(JavaMicrobatchCollector.class.getName());

    /**
     * The flush parameters in force, replaced as a whole so no thread sees N of one config and
     * T of another.
     */
    record Settings(PressureLevel level, BatchCalibration.Config config, long batchEvents, long intervalNanos,
                    boolean idleFlush) {
    }

    /** Latency and rate of the last complete pressure window, for status. */
    private record Window(double ratePerSec, long p50, long p99, long p999, long max) {
    }

    private final CollectorConfig config;
    private final CollectorPartition[] partitions;
    private final FlushWorker[] workers;
    private final Thread[] threads;
    private final FrameSink sink;
    private final BatchCalibration calibration;
    private final boolean ownsCalibration;
    private final PressureLevel ceiling;
    private final long submitBlockNanos;
    private final long ackTimeoutNanos;
    private final AtomicInteger nextHome = new AtomicInteger();
    /**
     * Each thread's home partition, as an index: a thread-local that held the partition itself
     * would keep the rings of a closed collector reachable from every thread that used it.
     */
    private final ThreadLocal<Integer> home;

    volatile Settings settings;
    volatile boolean stopping;
    volatile boolean abandoned;
    private volatile boolean closed;
    private final Object closeLock = new Object();

    final AtomicLong flushedBatches = new AtomicLong();
    private final AtomicLong delivered = new AtomicLong();
    private final AtomicLong failed = new AtomicLong();
    private final AtomicLong sinkErrors = new AtomicLong();
    private final LongAdder rejected = new LongAdder();
    private final AtomicLong trackedInUse = new AtomicLong();
    private final AtomicLong trackedHighWater = new AtomicLong();
    private final AtomicLong calibrationErrors = new AtomicLong();
    private final AtomicLong regressions = new AtomicLong();
    private final Recorder latency = new Recorder(3);
    private volatile Window lastWindow = new Window(0, 0, 0, 0, 0);
    private final AckTimeouts timeouts;
    /** Runs {@link #learn} (SQLite) off the flush threads; null without calibration. */
    private final ExecutorService learner;

    // Pressure window state: touched by flush thread 0 only.
    private final long windowNanos;
    private long windowStart;
    private long windowSubmitted;
    private long windowDelivered;
    private long windowBusy;
    private long windowFrames;
    private long windowFrameEvents;
    private long windowFrameBytes;
    private final long[] windowClosedBy = new long[4];
    private Histogram recycled;

    private JavaMicrobatchCollector(CollectorConfig config, FrameSink sink, BatchCalibration calibration,
                                    boolean ownsCalibration, long initialCalibrationErrors) {
        this.config = config;
        this.sink = sink;
        this.calibration = calibration;
        this.ownsCalibration = ownsCalibration;
        this.calibrationErrors.set(initialCalibrationErrors);
        this.ceiling = config.ceiling();
        this.submitBlockNanos = config.submitBlock().toNanos();
        this.ackTimeoutNanos = config.ackTimeout().toNanos();
        this.windowNanos = config.pressureWindow().toNanos();
        this.timeouts = new AckTimeouts();
        this.learner = calibration == null ? null : Executors.newSingleThreadExecutor(r -> {
            Thread t = new Thread(r, "microbatch-calibration");
            t.setDaemon(true);
            return t;
        });

        int n = config.partitions();
        partitions = new CollectorPartition[n];
        for (int i = 0; i < n; i++) {
            partitions[i] = new CollectorPartition(i, config.ringType(), config.ringSlots());
        }
        home = ThreadLocal.withInitial(() -> Math.floorMod(nextHome.getAndIncrement(), n));

        PressureLevel start = config.level() != null ? config.level() : min(PressureLevel.DEFAULT, ceiling);
        settings = settingsFor(start, calibration != null
                ? bestConfig(start)
                : start.bootstrap(config.batchMaxEvents()));

        int threadCount = Math.min(config.flushThreads(), n);
        workers = new FlushWorker[threadCount];
        threads = new Thread[threadCount];
        for (int w = 0; w < threadCount; w++) {
            List<CollectorPartition> mine = new ArrayList<>();
            for (int i = w; i < n; i += threadCount) {
                mine.add(partitions[i]);
            }
            workers[w] = new FlushWorker(w, this, mine.toArray(new CollectorPartition[0]), sink, config.batchMaxBytes());
        }
        long now = System.nanoTime();
        windowStart = now;
        for (int w = 0; w < threadCount; w++) {
            Thread t = new Thread(workers[w], "microbatch-flush-" + w);
            t.setDaemon(true);
            // Sinks' failures are caught per frame; anything reaching here is a bug, and a
            // silent death would leave the partitions of this thread unserved.
            t.setUncaughtExceptionHandler((thread, e) -> LOG.log(System.Logger.Level.ERROR,
                    thread.getName() + " stopped: its partitions are no longer flushed", e));
            threads[w] = t;
        }
        for (Thread t : threads) {
            t.start();
        }
    }

    /**
     * Creates a Java collector. {@code sink}, if given, receives the frames (and {@code sink}
     * defaults to {@code callback}); {@code calibration}, if given, is used and left open on
     * close; otherwise the {@code calibration.*} keys decide, and a database that cannot be
     * opened leaves the collector on the bootstrap configs with one calibration error counted.
     */
    static JavaMicrobatchCollector create(Map<String, String> map, BatchSink batchSink, BatchCalibration calibration) {
        CollectorConfig config = CollectorConfig.parse(map, batchSink != null);

        int threadCount = Math.min(config.flushThreads(), config.partitions());
        FrameSink sink;
        switch (config.sink()) {
            case NULL:
                sink = FrameSink.nullSink();
                break;
            case CALLBACK:
                if (batchSink == null) {
                    throw new IllegalArgumentException(
                            "`sink=callback` needs a frame callback: pass a BatchSink to MicrobatchCollector.create");
                }
                sink = FrameSink.callback(batchSink);
                break;
            default:
                sink = new KafkaFrameSink(config, threadCount);
                break;
        }

        boolean owns = false;
        long errors = 0;
        if (calibration == null && config.calibrationEnabled()) {
            try {
                calibration = BatchCalibration.create(Path.of(config.calibrationPath()),
                        config.calibrationTargetLatencyMicros(), config.calibrationExploreRatio(),
                        config.calibrationSeed());
                owns = true;
            } catch (MicrobatchException | IllegalArgumentException e) {
                // Learning is optional; delivery is not. Run on the bootstraps.
                LOG.log(System.Logger.Level.WARNING, "calibration disabled: {0}", e.getMessage());
                errors = 1;
            }
        }
        return new JavaMicrobatchCollector(config, sink, calibration, owns, errors);
    }

    private static PressureLevel min(PressureLevel a, PressureLevel b) {
        return a.compareTo(b) <= 0 ? a : b;
    }

    private Settings settingsFor(PressureLevel level, BatchCalibration.Config c) {
        long n = Math.max(1, Math.min(c.batchEvents(), config.batchMaxEvents()));
        // batch.linger.ms replaces every level's T, learned or bootstrap, as in the Rust library.
        long t = config.batchLinger() != null
                ? TimeUnit.NANOSECONDS.toMicros(config.batchLinger().toNanos())
                : Math.min(c.intervalMicros(), level.budgetMicros());
        return new Settings(level, c, n, TimeUnit.MICROSECONDS.toNanos(t), c.idleFlush());
    }

    private BatchCalibration.Config bestConfig(PressureLevel level) {
        return calibration.getBestConfigForPressure(level);
    }

    @Override
    public Implementation implementation() {
        return Implementation.JAVA;
    }

    /** The parsed configuration (read-only use). */
    public CollectorConfig config() {
        return config;
    }

    // ---------------------------------------------------------------- submit

    private void checkEvent(byte[] event) {
        if (event == null) {
            throw new IllegalArgumentException("event must not be null");
        }
        if (event.length > config.eventMaxBytes()) {
            rejected.increment();
            throw new IllegalArgumentException("event of " + event.length + " bytes exceeds `event.max.bytes` = "
                    + config.eventMaxBytes());
        }
    }

    private static IllegalStateException closedException() {
        return new IllegalStateException("the collector is closed");
    }

    @Override
    public boolean submitFireAndForget(byte[] event) {
        checkEvent(event);
        CollectorPartition p = partitions[home.get()];
        return p.offer(event) || offerSlow(p, event);
    }

    /** The ring was full or the gate closed: waits up to submit.block.ms, or refuses. */
    private boolean offerSlow(CollectorPartition p, Object element) {
        if (p.isClosed()) {
            throw closedException();
        }
        if (submitBlockNanos > 0) {
            long deadline = System.nanoTime() + submitBlockNanos;
            int round = 0;
            while (System.nanoTime() - deadline < 0) {
                backoff(++round);
                if (p.offer(element)) {
                    return true;
                }
                if (p.isClosed()) {
                    throw closedException();
                }
            }
        }
        rejected.increment();
        return false;
    }

    private static void backoff(int round) {
        if (round < 16) {
            Thread.onSpinWait();
        } else if (round < 32) {
            Thread.yield();
        } else {
            LockSupport.parkNanos(50_000);
        }
    }

    @Override
    public int submitFireAndForget(byte[][] events, int offset, int count) {
        if (events == null) {
            throw new IllegalArgumentException("events must not be null");
        }
        if (offset < 0 || count < 0 || offset > events.length - count) {
            throw new IllegalArgumentException("offset " + offset + " and count " + count
                    + " do not fit an array of " + events.length + " events");
        }
        for (int i = offset; i < offset + count; i++) {
            byte[] e = events[i];
            if (e == null) {
                throw new IllegalArgumentException("event " + i + " is null");
            }
            if (e.length > config.eventMaxBytes()) {
                rejected.increment();
                throw new IllegalArgumentException("event " + i + " of " + e.length
                        + " bytes exceeds `event.max.bytes` = " + config.eventMaxBytes());
            }
        }
        CollectorPartition p = partitions[home.get()];
        int done = 0;
        long deadline = 0;
        int round = 0;
        while (done < count) {
            int n = p.offer(events, offset + done, count - done);
            if (n < 0) {
                if (done == 0) {
                    throw closedException();
                }
                break;
            }
            done += n;
            if (done == count || submitBlockNanos == 0) {
                break;
            }
            long now = System.nanoTime();
            if (deadline == 0) {
                deadline = now + submitBlockNanos;
            } else if (now - deadline >= 0) {
                break;
            }
            backoff(++round);
        }
        if (done < count) {
            rejected.add(count - done);
        }
        return done;
    }

    @Override
    public CompletableFuture<Ack> submit(byte[] event) {
        checkEvent(event);
        if (closed) {
            throw closedException();
        }
        long inUse = trackedInUse.incrementAndGet();
        if (inUse > config.trackingSlots()) {
            trackedInUse.decrementAndGet();
            rejected.increment();
            return CompletableFuture.failedFuture(new MicrobatchException(Result.TRACKING_FULL,
                    "all " + config.trackingSlots() + " tracking slots (`tracking.slots`) await acknowledgement"));
        }
        long high = trackedHighWater.get();
        while (inUse > high && !trackedHighWater.compareAndSet(high, inUse)) {
            high = trackedHighWater.get();
        }
        long deadline = ackTimeoutNanos > 0 ? System.nanoTime() + ackTimeoutNanos : Long.MAX_VALUE;
        Tracked t = new Tracked(this, event, deadline);
        // Queued before it can be acknowledged, so close always finds it if it never is.
        timeouts.add(t);
        CollectorPartition p = partitions[home.get()];
        boolean accepted;
        try {
            accepted = p.offer(t) || offerSlow(p, t);
        } catch (IllegalStateException closedNow) {
            t.fail(new MicrobatchException(Result.CLOSED, "the collector is closed"));
            throw closedNow;
        }
        if (!accepted) {
            t.fail(new MicrobatchException(Result.FULL, "the ring of this thread's partition is full"));
            return t;
        }
        return t;
    }

    void releaseTrackingSlot() {
        trackedInUse.decrementAndGet();
    }

    // ---------------------------------------------------------------- completion (any thread)

    void settleEvents(CollectorPartition p, int deliveredCount, int failedCount, long oldestNanos, int latencyEvents) {
        if (deliveredCount > 0) {
            delivered.addAndGet(deliveredCount);
        }
        if (failedCount > 0) {
            failed.addAndGet(failedCount);
        }
        long waitMicros = Math.max(0, (System.nanoTime() - oldestNanos) / 1_000);
        latency.recordValueWithCount(waitMicros, latencyEvents);
        // Last: a flush that sees the partition settled also sees the counts above.
        p.settled.addAndGet(deliveredCount + failedCount);
    }

    void sinkError(Throwable cause) {
        if (sinkErrors.getAndIncrement() == 0) {
            LOG.log(System.Logger.Level.WARNING, "the sink failed a frame (later failures are counted in status): {0}",
                    String.valueOf(cause));
        }
    }

    // ---------------------------------------------------------------- pressure windows (flush thread 0)

    void endWindowIfDue(long now) {
        long elapsed = now - windowStart;
        if (elapsed < windowNanos) {
            return;
        }
        long submittedNow = submittedTotal();
        long deliveredNow = delivered.get();
        long busy = 0;
        long framesNow = 0;
        long frameEventsNow = 0;
        long frameBytesNow = 0;
        long[] closedByNow = new long[4];
        for (FlushWorker w : workers) {
            busy += w.busyNanos.get();
            framesNow += w.frames.get();
            frameEventsNow += w.frameEvents.get();
            frameBytesNow += w.frameBytes.get();
            for (int r = 0; r < 4; r++) {
                closedByNow[r] += w.closedBy[r].get();
            }
        }
        long offered = submittedNow - windowSubmitted;
        long deliveredInWindow = deliveredNow - windowDelivered;
        long frames = framesNow - windowFrames;
        double seconds = elapsed / 1e9;
        double rate = offered / seconds;
        Histogram h = latency.getIntervalHistogram(recycled);
        recycled = h;
        long p50 = h.getValueAtPercentile(50);
        long p99 = h.getValueAtPercentile(99);
        long p999 = h.getValueAtPercentile(99.9);
        long max = h.getMaxValue();
        lastWindow = new Window(rate, p50, p99, p999, max);

        PressureLevel level = config.level() != null ? config.level() : min(PressureLevel.fromRate(rate), ceiling);
        if (calibration == null) {
            settings = settingsFor(level, level.bootstrap(config.batchMaxEvents()));
        } else {
            Settings s = settings;
            BatchCalibration.Observation o = offered == 0 && deliveredInWindow == 0 ? null
                    : new BatchCalibration.Observation(s.level(), s.config(),
                    elapsed / 1_000, rate, deliveredInWindow / seconds, frames,
                    closedByNow[FlushWorker.COUNT] - windowClosedBy[FlushWorker.COUNT],
                    closedByNow[FlushWorker.TIME] - windowClosedBy[FlushWorker.TIME],
                    closedByNow[FlushWorker.BYTES] - windowClosedBy[FlushWorker.BYTES],
                    closedByNow[FlushWorker.IDLE] - windowClosedBy[FlushWorker.IDLE],
                    frames > 0 ? (frameEventsNow - windowFrameEvents) / (double) frames : 0,
                    frames > 0 ? (frameBytesNow - windowFrameBytes) / (double) frames : 0,
                    p50, p99, p999, max, busy - windowBusy, workers.length);
            try {
                learner.execute(() -> learn(o, level));
            } catch (RejectedExecutionException closing) {
                // close() stopped learning; the last window is not recorded.
            }
        }

        windowStart = now;
        windowSubmitted = submittedNow;
        windowDelivered = deliveredNow;
        windowBusy = busy;
        windowFrames = framesNow;
        windowFrameEvents = frameEventsNow;
        windowFrameBytes = frameBytesNow;
        System.arraycopy(closedByNow, 0, windowClosedBy, 0, 4);
    }

    /**
     * On the calibration thread, so SQLite never delays a flush: records the window (an idle
     * one is not recorded, it says nothing about its config) and applies the next config for
     * {@code level}. A store failure is counted and leaves the current N and T in force.
     */
    private void learn(BatchCalibration.Observation o, PressureLevel level) {
        long errorsBefore = calibration.calibrationErrors();
        try {
            if (o != null && calibration.record(o).regression()) {
                regressions.incrementAndGet();
            }
            BatchCalibration.Config next = config.calibrationExplore() ? calibration.nextConfig(level) : bestConfig(level);
            settings = settingsFor(level, next);
        } catch (RuntimeException e) {
            calibrationErrors.incrementAndGet();
            LOG.log(System.Logger.Level.WARNING, "calibration failed, keeping the current config: {0}", e.toString());
        }
        calibrationErrors.addAndGet(calibration.calibrationErrors() - errorsBefore);
    }

    private long submittedTotal() {
        long sum = 0;
        for (CollectorPartition p : partitions) {
            sum += p.accepted();
        }
        return sum;
    }

    // ---------------------------------------------------------------- flush, status, close

    @Override
    public void flush(Duration timeout) {
        if (timeout == null || timeout.isNegative()) {
            throw new IllegalArgumentException("timeout must be zero or positive, got " + timeout);
        }
        if (closed) {
            throw closedException();
        }
        awaitSettled(timeout);
    }

    /** Asks every partition to send what it has accepted so far and waits until the sink settled it. */
    private boolean awaitSettledQuietly(Duration timeout) {
        try {
            awaitSettled(timeout);
            return true;
        } catch (MicrobatchException e) {
            return false;
        }
    }

    private void awaitSettled(Duration timeout) {
        final long deadline = System.nanoTime() + saturatedNanos(timeout);
        final long[] targets = new long[partitions.length];
        for (int i = 0; i < partitions.length; i++) {
            CollectorPartition p = partitions[i];
            targets[i] = p.accepted();
            p.forceUntil.accumulateAndGet(targets[i], Math::max);
        }
        for (Thread t : threads) {
            LockSupport.unpark(t);
        }
        int round = 0;
        for (int i = 0; i < partitions.length; ) {
            if (partitions[i].settled.get() >= targets[i]) {
                i++;
                continue;
            }
            if (System.nanoTime() - deadline >= 0) {
                long pending = 0;
                for (int j = 0; j < partitions.length; j++) {
                    pending += Math.max(0, targets[j] - partitions[j].settled.get());
                }
                throw new MicrobatchException(Result.TIMEOUT, "flush did not complete within " + timeout.toMillis()
                        + " ms: " + pending + " events not yet settled by the sink (sink errors so far: "
                        + sinkErrors.get() + ")");
            }
            if (++round < 32) {
                Thread.onSpinWait();
            } else {
                LockSupport.parkNanos(Math.min(1_000_000, 10_000L * (round - 31)));
            }
        }
    }

    private static long saturatedNanos(Duration d) {
        try {
            return d.toNanos();
        } catch (ArithmeticException tooLong) {
            return Long.MAX_VALUE / 2;
        }
    }

    @Override
    public Status status() {
        long d = delivered.get();
        long f = failed.get();
        long s = submittedTotal(); // after the settled counts, so pending is never negative
        Settings st = settings;
        Window w = lastWindow;
        long calErrors = calibrationErrors.get();
        return new Status(s, rejected.sum(), d, f, s - d - f, flushedBatches.get(), st.level(), st.batchEvents(),
                TimeUnit.NANOSECONDS.toMicros(st.intervalNanos()), w.ratePerSec(), sinkErrors.get(), w.p50(), w.p99(),
                w.p999(), w.max(), trackedInUse.get(), trackedHighWater.get(), regressions.get(), calErrors);
    }

    @Override
    public void close() {
        synchronized (closeLock) {
            if (closed) {
                return;
            }
            closed = true;
            final long deadline = System.nanoTime() + saturatedNanos(config.closeTimeout());
            // No submit can enter after this, and every submit inside has left: what was
            // accepted is in the rings.
            for (CollectorPartition p : partitions) {
                p.close();
            }
            stopping = true;
            for (Thread t : threads) {
                LockSupport.unpark(t);
            }
            boolean interrupted = false;
            for (Thread t : threads) {
                long left = deadline - System.nanoTime();
                try {
                    if (left > 0) {
                        t.join(Math.max(1, TimeUnit.NANOSECONDS.toMillis(left)));
                    }
                } catch (InterruptedException e) {
                    interrupted = true;
                }
            }
            // Frames handed over: wait for the sink's verdict on them within what is left.
            awaitSettledQuietly(Duration.ofNanos(Math.max(0, deadline - System.nanoTime())));
            abandoned = true;
            try {
                sink.close(Duration.ofNanos(Math.max(0, deadline - System.nanoTime())));
            } catch (RuntimeException e) {
                LOG.log(System.Logger.Level.WARNING, "closing the sink failed: {0}", e.toString());
            }
            timeouts.shutdown();
            if (learner != null) {
                learner.shutdown();
                try {
                    learner.awaitTermination(1, TimeUnit.SECONDS);
                } catch (InterruptedException e) {
                    interrupted = true;
                }
            }
            if (ownsCalibration && calibration != null) {
                calibration.close();
            }
            if (interrupted) {
                Thread.currentThread().interrupt();
            }
        }
    }

    @Override
    public String toString() {
        return "JavaMicrobatchCollector[" + partitions.length + " partitions, " + workers.length + " flush threads, "
                + settings.level() + (closed ? ", closed" : "") + "]";
    }

    /**
     * Fails tracked submits whose acknowledgement is overdue ({@code ack.timeout.ms}, 0 for
     * never), and at close those never acknowledged. One daemon thread per collector, started
     * by the first tracked submit; entries are in submit order, which is deadline order
     * since every entry gets the same timeout, so only the head is ever examined.
     */
    private final class AckTimeouts implements Runnable {
        private final ConcurrentLinkedQueue<Tracked> queue = new ConcurrentLinkedQueue<>();
        private volatile Thread thread;
        private volatile boolean stop;

        void add(Tracked t) {
            queue.add(t);
            if (thread == null) {
                start();
            }
        }

        private synchronized void start() {
            if (thread == null && !stop) {
                Thread t = new Thread(this, "microbatch-ack-timeouts");
                t.setDaemon(true);
                thread = t;
                t.start();
            }
        }

        @Override
        public void run() {
            // Without a timeout the thread only drops settled entries, so the queue stays short.
            long tick = ackTimeoutNanos > 0 ? Math.max(1_000_000, Math.min(100_000_000, ackTimeoutNanos / 8))
                    : 100_000_000;
            while (!stop) {
                long now = System.nanoTime();
                Tracked head;
                while ((head = queue.peek()) != null) {
                    if (head.isSettled()) {
                        queue.poll();
                    } else if (now - head.deadlineNanos >= 0) {
                        queue.poll();
                        head.fail(new MicrobatchException(Result.TIMEOUT, "no acknowledgement within `ack.timeout.ms` = "
                                + TimeUnit.NANOSECONDS.toMillis(ackTimeoutNanos)));
                    } else {
                        break;
                    }
                }
                long wait = head == null ? tick : Math.min(tick, head.deadlineNanos - now);
                LockSupport.parkNanos(this, Math.max(100_000, wait));
            }
        }

        /** Stops the thread and fails every submit still unacknowledged: its frame never came back in time. */
        synchronized void shutdown() {
            stop = true;
            Thread t = thread;
            if (t != null) {
                LockSupport.unpark(t);
                try {
                    t.join(1_000);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }
            Tracked head;
            while ((head = queue.poll()) != null) {
                head.fail(new MicrobatchException(Result.CLOSED,
                        "the collector closed before the event was acknowledged"));
            }
        }
    }
}
