package com.reactive.platform.gateway.microbatch;

/**
 * How good one pressure window was for the config that ran it: the one formula both
 * calibrations must agree on, kept in one place so it can be aligned with the Rust side's.
 *
 * <pre>
 * busy_fraction = busy_ns / (window_ns x flush_threads)     flush + send time, share of capacity
 * score         = delivered_per_sec / busy_fraction         = delivered events per busy second
 *                                                              of the whole flush side
 * score         = 0 when the window's p99 wait (enqueue to acknowledgement) exceeds the budget
 * </pre>
 *
 * <p>Read it as the event rate the flush side could sustain at the cost this config paid per
 * event. Under saturating load the busy fraction is near 1 and the score is the delivered rate
 * (the seed's "best throughput"); under light load every config delivers the offered rate, and
 * the score still prefers the one that spends less per event (fewer, larger frames). A window
 * that broke the level's budget is worth nothing, whatever its rate, so such a config never
 * becomes the best.
 */
public final class Score {
    /** Floor of the busy fraction, so a window with no measurable flush work stays finite. */
    static final double MIN_BUSY_FRACTION = 1e-9;

    private Score() {
    }

    /**
     * @param deliveredPerSec events acknowledged per second over the window
     * @param busyNanos       time the flush threads spent building and sending frames in the window
     * @param windowNanos     the window's length
     * @param flushThreads    flush threads that shared the work
     * @param p99Micros       99th percentile wait from enqueue to acknowledgement in the window
     * @param budgetMicros    the level's latency budget
     * @return the score, 0 for a window without deliveries or over budget
     */
    public static double of(double deliveredPerSec, long busyNanos, long windowNanos, int flushThreads,
                             long p99Micros, long budgetMicros) {
        if (breaksBudget(p99Micros, budgetMicros) || !(deliveredPerSec > 0) || windowNanos <= 0 || flushThreads <= 0) {
            return 0.0;
        }
        double busyFraction = Math.max(MIN_BUSY_FRACTION, busyNanos / ((double) windowNanos * flushThreads));
        return deliveredPerSec / busyFraction;
    }

    /** True when the window's p99 wait broke the level's budget: the budget is a hard limit. */
    public static boolean breaksBudget(long p99Micros, long budgetMicros) {
        return p99Micros > budgetMicros;
    }
}
