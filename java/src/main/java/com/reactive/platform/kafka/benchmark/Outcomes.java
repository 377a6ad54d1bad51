package com.reactive.platform.kafka.benchmark;

import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.atomic.LongAdder;
import org.HdrHistogram.Histogram;
import org.HdrHistogram.Recorder;

/**
 * The outcomes of a cell's measured events, written by whichever thread learns them (a flush
 * thread, a Kafka client's I/O thread, the Rust collector's acknowledgement thread, or the
 * submitting thread itself for a refusal).
 *
 * <p>Each delivered event's latency, from the time it was due to its acknowledgement, goes into
 * two HdrHistogram {@link Recorder}s (wait-free for the recording threads): one read every second
 * for the progress lines (and summed into the cell's total), one read every timeline interval.
 * So the histograms' counts are the delivered events, by construction.
 */
final class Outcomes {
    private static final int DIGITS = 3;

    private final Recorder progress = new Recorder(DIGITS);
    private final Recorder timeline = new Recorder(DIGITS);
    private final LongAdder failed = new LongAdder();
    private final LongAdder rejected = new LongAdder();
    private final LongAdder settled = new LongAdder();
    private final AtomicReference<String> firstFailure = new AtomicReference<>();

    /** An acknowledgement, now, of an event due at {@code dueNanos} ({@link System#nanoTime()} terms). */
    void recordDelivered(long dueNanos) {
        long micros = Math.max(0, (System.nanoTime() - dueNanos) / 1_000);
        progress.recordValue(micros);
        timeline.recordValue(micros);
        settled.increment();
    }

    /** Delivery failed (or was not confirmed in time). */
    void recordFailed(Throwable why) {
        firstFailure.compareAndSet(null, String.valueOf(why));
        failed.increment();
        settled.increment();
    }

    /** Refused for lack of room: never entered the pipeline. */
    void recordRejected() {
        rejected.increment();
        settled.increment();
    }

    long failed() {
        return failed.sum();
    }

    long rejected() {
        return rejected.sum();
    }

    /** Events whose outcome is known. */
    long settled() {
        return settled.sum();
    }

    /** The first failure's description, or null. */
    String firstFailure() {
        return firstFailure.get();
    }

    /** Latencies since the previous call (the progress line's window). */
    Histogram progressInterval(Histogram recycle) {
        return progress.getIntervalHistogram(recycle);
    }

    /** Latencies since the previous call (the timeline's window). */
    Histogram timelineInterval(Histogram recycle) {
        return timeline.getIntervalHistogram(recycle);
    }
}
