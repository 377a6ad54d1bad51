package com.reactive.platform.gateway.microbatch;

import java.util.Arrays;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The outcome of one frame sent by a flush thread: settles its events' accounting, its
 * tracked events' futures and its latency sample exactly once, on whichever thread the sink
 * reports from (the flush thread for a {@link BatchSink}, the Kafka client's I/O thread for
 * Kafka).
 *
 * <p>In {@code kafka.mode=record} each event is its own record and reports separately; the
 * frame is done when the last one has.
 */
final class FrameCompletion {
    private final JavaMicrobatchCollector collector;
    private final CollectorPartition partition;
    private final FlushWorker worker;
    final int events;
    private final long oldestNanos;
    private Tracked[] tracked;
    private int[] trackedIndex;
    private int trackedCount;
    /** Events not yet reported (record mode reports one at a time). */
    private final AtomicInteger remaining;

    FrameCompletion(JavaMicrobatchCollector collector, CollectorPartition partition, FlushWorker worker, int events,
                    long oldestNanos) {
        this.collector = collector;
        this.partition = partition;
        this.worker = worker;
        this.events = events;
        this.oldestNanos = oldestNanos;
        this.remaining = new AtomicInteger(events);
    }

    /** Notes that the event at {@code index} of the frame is tracked (flush thread, while encoding). */
    void track(Tracked t, int index) {
        if (tracked == null) {
            tracked = new Tracked[4];
            trackedIndex = new int[4];
        } else if (trackedCount == tracked.length) {
            tracked = Arrays.copyOf(tracked, trackedCount * 2);
            trackedIndex = Arrays.copyOf(trackedIndex, trackedCount * 2);
        }
        tracked[trackedCount] = t;
        trackedIndex[trackedCount++] = index;
    }

    /** The whole frame is stored at (partition, offset); -1, -1 for sinks without positions. */
    void delivered(int kafkaPartition, long offset) {
        for (int i = 0; i < trackedCount; i++) {
            tracked[i].acknowledge(new Ack(kafkaPartition, offset, trackedIndex[i]));
        }
        settle(events, 0);
    }

    /** The whole frame failed. */
    void failed(Throwable cause) {
        MicrobatchException error = null;
        for (int i = 0; i < trackedCount; i++) {
            if (error == null) {
                error = deliveryError(cause);
            }
            tracked[i].fail(error);
        }
        collector.sinkError(cause);
        settle(0, events);
    }

    /** Record mode: the event at {@code index} was stored at (partition, offset), or failed. */
    void eventReported(int index, int kafkaPartition, long offset, Throwable cause) {
        Tracked t = trackedAt(index);
        if (cause == null) {
            if (t != null) {
                t.acknowledge(new Ack(kafkaPartition, offset, 0));
            }
        } else {
            if (t != null) {
                t.fail(deliveryError(cause));
            }
            collector.sinkError(cause);
        }
        int left = remaining.decrementAndGet();
        collector.settleEvents(partition, cause == null ? 1 : 0, cause == null ? 0 : 1, oldestNanos, 1);
        if (left == 0) {
            worker.frameSettled();
        }
    }

    private Tracked trackedAt(int index) {
        // Indices were noted in increasing order while encoding.
        int lo = 0;
        int hi = trackedCount - 1;
        while (lo <= hi) {
            int mid = (lo + hi) >>> 1;
            int v = trackedIndex[mid];
            if (v == index) {
                return tracked[mid];
            } else if (v < index) {
                lo = mid + 1;
            } else {
                hi = mid - 1;
            }
        }
        return null;
    }

    private void settle(int delivered, int failed) {
        remaining.set(0);
        collector.settleEvents(partition, delivered, failed, oldestNanos, events);
        worker.frameSettled();
    }

    private static MicrobatchException deliveryError(Throwable cause) {
        return cause instanceof MicrobatchException && ((MicrobatchException) cause).result() == Result.DELIVERY
                ? (MicrobatchException) cause
                : new MicrobatchException(Result.DELIVERY, "the sink could not deliver the frame: " + cause, cause);
    }
}
