package com.reactive.platform.kafka.benchmark;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/**
 * When a cell's events are due: a warm-up, then the measured part, as phases of one rate each.
 * A scheduled phase spreads its rate evenly over the submitting threads: event {@code n} of the
 * phase (all threads together) is due {@code n / rate} seconds after the phase began, and thread
 * {@code i} of {@code P} sends events {@code i, i + P, i + 2P, ...}. An unscheduled phase (rate
 * 0) is "as fast as the threads go".
 *
 * <p>The warm-up runs at the first measured rate, so the collector has settled at the level the
 * measurement starts with.
 */
final class RateSchedule {
    /** One step of a brochure's {@code steps}, or the single {@code rate}. */
    record Step(double rate, double seconds) {
    }

    /**
     * A stretch at one rate.
     *
     * @param startNanos since the cell began (the warm-up's start)
     * @param rate       events per second over all threads; 0 for unscheduled
     * @param measured   false for the warm-up
     */
    record Phase(long startNanos, long nanos, double rate, boolean measured) {
        long endNanos() {
            return startNanos + nanos;
        }

        boolean scheduled() {
            return rate > 0;
        }

        /** When event {@code k} of thread {@code thread} of {@code threads} is due, since the cell began. */
        long dueNanos(long k, int thread, int threads) {
            return startNanos + (long) ((k * threads + thread) * 1e9 / rate);
        }
    }

    private final List<Phase> phases;
    private final long warmupNanos;

    private RateSchedule(List<Phase> phases, long warmupNanos) {
        this.phases = Collections.unmodifiableList(phases);
        this.warmupNanos = warmupNanos;
    }

    /** As fast as possible: {@code warmupSeconds} unmeasured, then {@code seconds} measured. */
    static RateSchedule unscheduled(double warmupSeconds, double seconds) {
        return steps(warmupSeconds, List.of(new Step(0, seconds)));
    }

    /** The steps in order after a warm-up at the first step's rate. */
    static RateSchedule steps(double warmupSeconds, List<Step> steps) {
        if (steps.isEmpty()) {
            throw new IllegalArgumentException("a schedule needs at least one step");
        }
        List<Phase> phases = new ArrayList<>();
        long warmup = nanos(warmupSeconds);
        if (warmup > 0) {
            phases.add(new Phase(0, warmup, steps.get(0).rate(), false));
        }
        long at = warmup;
        for (Step s : steps) {
            long n = nanos(s.seconds());
            phases.add(new Phase(at, n, s.rate(), true));
            at += n;
        }
        return new RateSchedule(phases, warmup);
    }

    private static long nanos(double seconds) {
        return Math.round(seconds * 1e9);
    }

    List<Phase> phases() {
        return phases;
    }

    /** True when the measured part follows a rate (latency is then counted from the due time). */
    boolean scheduled() {
        return phases.get(phases.size() - 1).scheduled();
    }

    long warmupNanos() {
        return warmupNanos;
    }

    /** Length of the measured part. */
    long measuredNanos() {
        return totalNanos() - warmupNanos;
    }

    /** Warm-up and measured part. */
    long totalNanos() {
        return phases.get(phases.size() - 1).endNanos();
    }

    /**
     * Events the schedule offers in {@code [from, to)} of the measured part (nanoseconds since it
     * began); NaN when unscheduled.
     */
    double offeredBetween(long from, long to) {
        if (!scheduled()) {
            return Double.NaN;
        }
        double events = 0;
        for (Phase p : phases) {
            if (!p.measured()) {
                continue;
            }
            long start = Math.max(from, p.startNanos() - warmupNanos);
            long end = Math.min(to, p.endNanos() - warmupNanos);
            if (end > start) {
                events += p.rate() * (end - start) / 1e9;
            }
        }
        return events;
    }

    /** Events the whole measured part offers; NaN when unscheduled. */
    double offeredEvents() {
        return offeredBetween(0, measuredNanos());
    }
}
