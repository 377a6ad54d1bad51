package com.reactive.platform.kafka.benchmark;

import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.locks.LockSupport;
import org.HdrHistogram.Histogram;

/**
 * One submitting thread of a cell: follows the {@link RateSchedule} from the cell's start and
 * sends each event to the {@link CellTarget}, which reports its outcome.
 *
 * <p>In a scheduled phase the thread waits for each event's due time (parking while it is far,
 * spinning for the last stretch) and, when late, sends at once: the latency is counted from the
 * due time, so a stall delays and is charged to every event that should have gone during it
 * (coordinated omission), and the lateness itself is recorded as the schedule delay. When the
 * thread is so late that the cell's time is up, the events still due are not sent (the result
 * says how many). Unscheduled, each event is due when it is sent.
 */
final class Submitter implements Runnable {
    /** Parking overshoots by tens of microseconds: park only while the due time is further. */
    private static final long SPIN_NANOS = 80_000;

    private final CellTarget target;
    private final RateSchedule schedule;
    private final int index;
    private final int threads;
    private final byte[][] pool;
    private final long cellStartNanos;
    private final AtomicBoolean abort;
    private final Histogram scheduleDelayMicros = new Histogram(3);
    private long submitted;
    private volatile Throwable failure;

    /**
     * @param pool           distinct events, a power of two of them, never written after creation
     *                       (the Java collector keeps references until it frames them)
     * @param cellStartNanos when the warm-up starts, in {@link System#nanoTime()} terms
     */
    Submitter(CellTarget target, RateSchedule schedule, int index, int threads, byte[][] pool, long cellStartNanos,
              AtomicBoolean abort) {
        if (Integer.bitCount(pool.length) != 1) {
            throw new IllegalArgumentException("pool size must be a power of two, got " + pool.length);
        }
        this.target = target;
        this.schedule = schedule;
        this.index = index;
        this.threads = threads;
        this.pool = pool;
        this.cellStartNanos = cellStartNanos;
        this.abort = abort;
    }

    @Override
    public void run() {
        try {
            long next = 0;
            long end = cellStartNanos + schedule.totalNanos();
            for (RateSchedule.Phase phase : schedule.phases()) {
                next = phase.scheduled() ? scheduled(phase, next, end) : unscheduled(phase, next);
                if (next < 0) {
                    return;
                }
            }
        } catch (Throwable e) {
            failure = e;
            abort.set(true);
        }
    }

    /** @return the next pool position, or -1 when the cell is over or aborted */
    private long scheduled(RateSchedule.Phase phase, long next, long cellEnd) {
        final int mask = pool.length - 1;
        final long phaseEnd = cellStartNanos + phase.endNanos();
        for (long k = 0; ; k++) {
            long due = cellStartNanos + phase.dueNanos(k, index, threads);
            if (due >= phaseEnd) {
                return next;
            }
            // Late past the cell's end: what is still due is not sent. An event due before the
            // end is sent even when parking overshoots the end.
            if (System.nanoTime() >= cellEnd || abort.get()) {
                return -1;
            }
            long now = waitUntil(due);
            if (phase.measured()) {
                scheduleDelayMicros.recordValue((now - due) / 1_000);
                submitted++;
            }
            target.send(pool[(int) (next++ & mask)], due, phase.measured());
        }
    }

    private long unscheduled(RateSchedule.Phase phase, long next) {
        final int mask = pool.length - 1;
        final long phaseEnd = cellStartNanos + phase.endNanos();
        long now;
        while ((now = System.nanoTime()) < phaseEnd) {
            if (abort.get()) {
                return -1;
            }
            if (phase.measured()) {
                submitted++;
            }
            target.send(pool[(int) (next++ & mask)], now, phase.measured());
        }
        return next;
    }

    /** Returns the time once {@code due} has come (at once when it already has). */
    private long waitUntil(long due) {
        long now = System.nanoTime();
        while (now < due) {
            long left = due - now;
            if (left > SPIN_NANOS) {
                LockSupport.parkNanos(left - SPIN_NANOS);
            } else {
                Thread.onSpinWait();
            }
            now = System.nanoTime();
        }
        return now;
    }

    /** Measured events sent (accepted or refused); read after the thread ended. */
    long submitted() {
        return submitted;
    }

    /** Lateness against the schedule of each measured event, microseconds; read after the thread ended. */
    Histogram scheduleDelay() {
        return scheduleDelayMicros;
    }

    /** What stopped the thread, or null. */
    Throwable failure() {
        return failure;
    }
}
