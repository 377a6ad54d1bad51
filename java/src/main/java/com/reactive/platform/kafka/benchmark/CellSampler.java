package com.reactive.platform.kafka.benchmark;

import java.io.PrintStream;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.locks.LockSupport;
import java.util.function.Supplier;
import org.HdrHistogram.Histogram;

/**
 * Reads a cell's {@link Outcomes} while it runs: every second a progress line on the runner's
 * stream, {@code progress t_s=<f> events_per_sec=<f> p99_us=<f>} (the last second's
 * acknowledgements and their p99; {@code t_s} counts from the start of the measured part, and
 * nothing is printed during the warm-up), and every {@code timeline_ms} of the measured part a
 * {@link Point}. Every second's latencies are also summed into the cell's total histogram, so
 * the total is exactly the sum of what was shown.
 */
final class CellSampler implements Runnable {
    private static final long SECOND = 1_000_000_000L;

    /** One timeline sample, the measured part's {@code results.json} timeline entry. */
    record Point(double tSeconds, Double offeredPerSec, double achievedPerSec, double p99Micros, Integer level) {
    }

    private final Outcomes outcomes;
    private final RateSchedule schedule;
    private final Supplier<Integer> level;
    private final long measuredStartNanos;
    private final long timelineNanos;
    private final PrintStream progress;
    private final Histogram total = new Histogram(3);
    private final List<Point> points = new ArrayList<>();
    private final Thread thread;
    private volatile boolean stopping;
    private boolean finished;
    private final long measuredEndNanos;
    private Histogram progressWindow;
    private Histogram timelineWindow;
    private long lastProgressNanos;
    private long nextPointNanos;

    /**
     * @param timelineMillis null for no timeline
     * @param progress       the stream the runner parses; nothing else is written to it
     */
    CellSampler(Outcomes outcomes, RateSchedule schedule, Supplier<Integer> level, long measuredStartNanos,
                Long timelineMillis, PrintStream progress) {
        this.outcomes = outcomes;
        this.schedule = schedule;
        this.level = level;
        this.measuredStartNanos = measuredStartNanos;
        this.timelineNanos = timelineMillis == null ? 0 : timelineMillis * 1_000_000L;
        this.progress = progress;
        this.measuredEndNanos = measuredStartNanos + schedule.measuredNanos();
        this.lastProgressNanos = measuredStartNanos;
        this.nextPointNanos = timelineNanos > 0 ? measuredStartNanos + timelineNanos : Long.MAX_VALUE;
        this.thread = new Thread(this, "cell-sampler");
        this.thread.setDaemon(true);
    }

    void start() {
        thread.start();
    }

    @Override
    public void run() {
        long nextProgress = measuredStartNanos + SECOND;
        sleepUntil(measuredStartNanos);
        // Warm-up events are not recorded; this only starts both windows at the measured start.
        progressWindow = outcomes.progressInterval(null);
        timelineWindow = outcomes.timelineInterval(null);
        while (!stopping) {
            long wake = Math.min(nextProgress, nextPointNanos);
            sleepUntil(wake);
            if (stopping) {
                break;
            }
            if (wake == nextPointNanos) {
                samplePointsDue(wake);
            }
            if (wake == nextProgress) {
                printProgress(nextProgress);
                nextProgress += SECOND;
            }
        }
    }

    /** Takes the timeline points due by {@code now}, none past the measured part. */
    private void samplePointsDue(long now) {
        while (nextPointNanos <= now && nextPointNanos <= measuredEndNanos) {
            samplePoint(nextPointNanos);
            nextPointNanos += timelineNanos;
        }
        if (nextPointNanos > measuredEndNanos) {
            nextPointNanos = Long.MAX_VALUE;
        }
    }

    private void sleepUntil(long when) {
        long now;
        while (!stopping && (now = System.nanoTime()) < when) {
            LockSupport.parkNanos(this, when - now);
        }
    }

    private void samplePoint(long at) {
        timelineWindow = outcomes.timelineInterval(timelineWindow);
        long from = at - timelineNanos - measuredStartNanos;
        long to = at - measuredStartNanos;
        double seconds = timelineNanos / 1e9;
        double offered = schedule.offeredBetween(from, to);
        points.add(new Point(to / 1e9, Double.isNaN(offered) ? null : offered / seconds,
                timelineWindow.getTotalCount() / seconds, p99(timelineWindow), level.get()));
    }

    private void printProgress(long at) {
        progressWindow = outcomes.progressInterval(progressWindow);
        total.add(progressWindow);
        double seconds = (at - lastProgressNanos) / 1e9;
        lastProgressNanos = at;
        if (seconds < 0.1) {
            // A final sliver after the last full second: a rate over it would only be noise.
            return;
        }
        progress.printf(Locale.ROOT, "progress t_s=%.3f events_per_sec=%.1f p99_us=%.1f%n",
                (at - measuredStartNanos) / 1e9, progressWindow.getTotalCount() / seconds, p99(progressWindow));
        progress.flush();
    }

    private static double p99(Histogram h) {
        return h.getTotalCount() == 0 ? 0 : h.getValueAtPercentile(99.0);
    }

    /**
     * Stops sampling, prints the last (partial) second and returns every latency recorded since
     * the measured part began. Call once all outcomes are in; later calls return the same total.
     */
    Histogram finish() throws InterruptedException {
        if (finished) {
            return total;
        }
        finished = true;
        stopping = true;
        LockSupport.unpark(thread);
        thread.join();
        if (progressWindow == null) {
            // Stopped before the measured part began: nothing was shown yet.
            progressWindow = outcomes.progressInterval(null);
            total.add(progressWindow);
            return total;
        }
        // The last point falls at the end of the measured part, often just as the run ends:
        // take it here when the thread was stopped before it could.
        long now = System.nanoTime();
        samplePointsDue(now);
        printProgress(now);
        return total;
    }

    /** The timeline samples; read after {@link #finish()}. */
    List<Point> points() {
        return Collections.unmodifiableList(points);
    }
}
