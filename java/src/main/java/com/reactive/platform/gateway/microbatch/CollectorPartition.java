package com.reactive.platform.gateway.microbatch;

import java.util.concurrent.atomic.AtomicLong;

/**
 * One partition of the Java collector: a ring, the gate in front of it, and the staging area
 * where its flush thread gathers the next frame. The producer side (gate, ring producer fields)
 * and the flush side ({@link Stage}) live in separate objects, each padded, so submitters and
 * the flush thread do not share cache lines except through the ring's indices.
 */
final class CollectorPartition {
    final int index;
    final PartitionGate gate = new PartitionGate();
    /** Exactly one of the two rings is used, by {@code ring.type}. */
    final FastRingBuffer<Object> spsc;
    final MpscRingBuffer<Object> mpsc;
    /** Events whose frame the sink has settled (delivered or failed); flush waits on it. */
    final AtomicLong settled = new AtomicLong();
    /** Every event below this ring index must be sent now: a flush asked for it. */
    final AtomicLong forceUntil = new AtomicLong();
    /** Owned by the partition's flush thread. */
    final Stage stage = new Stage();

    CollectorPartition(int index, CollectorConfig.RingType type, int slots) {
        this.index = index;
        if (type == CollectorConfig.RingType.SPSC) {
            spsc = new FastRingBuffer<>(slots);
            mpsc = null;
        } else {
            spsc = null;
            mpsc = new MpscRingBuffer<>(slots);
        }
    }

    /** Events accepted into this partition so far (its ring's producer index). */
    long accepted() {
        return spsc != null ? spsc.producedCount() : mpsc.producedCount();
    }

    /** Offers one element; false when full or the gate is closed (see {@link #isClosed}). */
    boolean offer(Object element) {
        if (spsc != null) {
            if (!gate.lock()) {
                return false;
            }
            try {
                return spsc.offer(element);
            } finally {
                gate.unlock();
            }
        }
        if (!gate.enter()) {
            return false;
        }
        try {
            return mpsc.offer(element);
        } finally {
            gate.exit();
        }
    }

    /** Offers a run of elements with one gate entry; -1 when the gate is closed. */
    int offer(Object[] elements, int offset, int count) {
        if (spsc != null) {
            if (!gate.lock()) {
                return -1;
            }
            try {
                return spsc.offer(elements, offset, count);
            } finally {
                gate.unlock();
            }
        }
        if (!gate.enter()) {
            return -1;
        }
        try {
            return mpsc.offer(elements, offset, count);
        } finally {
            gate.exit();
        }
    }

    boolean isClosed() {
        return gate.isClosed();
    }

    void close() {
        if (spsc != null) {
            gate.closeExclusive();
        } else {
            gate.closeShared();
        }
    }

    /** Moves published events into the stage (flush thread only). */
    int drainTo(Object[] dst, int offset, int limit) {
        return spsc != null ? spsc.drainTo(dst, offset, limit) : mpsc.drainTo(dst, offset, limit);
    }

    /** True when the ring holds nothing published or claimed (flush thread only). */
    boolean ringEmpty() {
        return spsc != null ? spsc.isEmpty() : mpsc.isEmpty();
    }

    /**
     * The next frame being gathered: events drained from the ring and not yet sent, in order.
     * Only the partition's flush thread touches it.
     */
    static final class Stage extends Pad128 {
        Object[] events = new Object[1024];
        /**
         * Per staged event, its conservative enqueue time (see {@link #oldestNanos}): after a
         * frame goes, the first event left staged gives the stage's new oldest time, and each
         * frame reports the wait of its own first event.
         */
        long[] stamps = new long[1024];
        int count;
        /** Encoded bytes of the staged events (length prefixes included, header not). */
        long bytes;
        /** Events drained from the ring so far; the staged ones are the last {@code count}. */
        long drained;
        /**
         * A conservative enqueue time of the oldest staged event: when the drain before the
         * one that found it started. An event the previous drain did not see was published
         * after that drain read the ring, so it cannot have been submitted much earlier.
         * Always {@code stamps[0]} while events are staged.
         */
        long oldestNanos;
        /** When the last drain of this partition started. */
        long lastDrainNanos;
        long p01, p02, p03, p04, p05, p06, p07, p08, p09, p10, p11, p12, p13, p14, p15, p16;
    }
}
