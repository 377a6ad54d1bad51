package com.reactive.platform.gateway.microbatch;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.util.Arrays;
import java.util.Objects;
import java.util.function.Consumer;

/**
 * A bounded, lock-free, single-producer single-consumer ring of references, in the style of
 * the LMAX Disruptor and JCTools' {@code SpscArrayQueue}.
 *
 * <ul>
 *   <li>Pre-allocated: the slot array is created once; offering and draining allocate nothing.</li>
 *   <li>Index protocol: the producer writes slots with plain stores and publishes them with one
 *       release store of its index (a {@code lazySet}); the consumer acquires that index and
 *       then reads the slots. Offering or draining a batch pays for one index store, not one
 *       per element.</li>
 *   <li>Cached indices: each side keeps its own copy of the other side's index (the producer
 *       its limit, consumer index + capacity) and reads the shared one only when the copy says
 *       "full" or "empty", so the line the other side writes is rarely pulled over.</li>
 *   <li>Padding by class hierarchy, as in JCTools: the producer's fields, the consumer's
 *       fields and the read-only fields sit on separate cache lines (128 bytes apart, the
 *       spatial prefetcher's pair), and the slot array has 128 bytes of unused slots at each
 *       end so its neighbours on the heap never share a line with live slots.</li>
 * </ul>
 *
 * <p>Exactly one thread may offer at a time and one thread may poll or drain at a time (they
 * may be different threads over time if the caller orders the hand-over, as the collector's
 * partition gate does for producers).
 *
 * @param <E> element type; null is not a valid element
 */
public final class FastRingBuffer<E> extends FastRingBufferConsumerFields<E> {
    /**
     * Creates a ring of at least {@code requestedCapacity} slots, rounded up to a power of two.
     *
     * @throws IllegalArgumentException if {@code requestedCapacity} is below 2 or above 2^30
     */
    public FastRingBuffer(int requestedCapacity) {
        super(requestedCapacity);
    }

    /**
     * Offers one element (producer side).
     *
     * @return false when the ring is full; the element was not taken
     */
    public boolean offer(E e) {
        Objects.requireNonNull(e, "element");
        final long p = producerIndex;
        if (p >= producerLimit && !refreshProducerLimit(p, 1)) {
            return false;
        }
        buffer[slot(p)] = e;
        PRODUCER_INDEX.setRelease(this, p + 1);
        return true;
    }

    /**
     * Offers {@code count} elements of {@code src} from {@code offset}, as many as fit, in order,
     * published together (producer side).
     *
     * @return how many, from the first, were taken
     */
    public int offer(E[] src, int offset, int count) {
        Objects.checkFromIndexSize(offset, count, src.length);
        final long p = producerIndex;
        long room = producerLimit - p;
        if (room < count && (room = refreshProducerLimitRoom(p)) <= 0) {
            return 0;
        }
        final int n = (int) Math.min(room, count);
        for (int i = 0; i < n; i++) {
            if (src[offset + i] == null) {
                throw new NullPointerException("element " + (offset + i) + " is null");
            }
        }
        for (int i = 0; i < n; i++) {
            buffer[slot(p + i)] = src[offset + i];
        }
        PRODUCER_INDEX.setRelease(this, p + n);
        return n;
    }

    /** Re-reads the consumer index; true if {@code needed} slots are free from {@code p}. */
    private boolean refreshProducerLimit(long p, int needed) {
        long limit = (long) CONSUMER_INDEX.getAcquire(this) + capacity;
        producerLimit = limit;
        return limit - p >= needed;
    }

    private long refreshProducerLimitRoom(long p) {
        long limit = (long) CONSUMER_INDEX.getAcquire(this) + capacity;
        producerLimit = limit;
        return limit - p;
    }

    /** Takes the oldest element (consumer side), or returns null when the ring is empty. */
    @SuppressWarnings("unchecked")
    public E poll() {
        final long c = consumerIndex;
        if (c >= producerIndexCache && c >= (producerIndexCache = (long) PRODUCER_INDEX.getAcquire(this))) {
            return null;
        }
        final int s = slot(c);
        E e = (E) buffer[s];
        buffer[s] = null;
        CONSUMER_INDEX.setRelease(this, c + 1);
        return e;
    }

    /**
     * Hands up to {@code limit} elements to {@code handler}, oldest first (consumer side). The
     * consumed slots are released to the producer in chunks of at most a quarter of the ring,
     * so a producer facing a full ring waits for a chunk rather than for the whole drain.
     *
     * @return how many elements were handed over
     */
    @SuppressWarnings("unchecked")
    public int drain(Consumer<? super E> handler, int limit) {
        final long c = consumerIndex;
        final int n = (int) Math.min(availableToConsumer(c), Math.max(0, limit));
        final int chunk = Math.max(1, capacity >>> 2);
        int taken = 0;
        try {
            while (taken < n) {
                final int s = slot(c + taken);
                E e = (E) buffer[s];
                buffer[s] = null;
                taken++;
                handler.accept(e);
                if (taken % chunk == 0) {
                    CONSUMER_INDEX.setRelease(this, c + taken);
                }
            }
        } finally {
            // Also when the handler threw: what it received is consumed.
            CONSUMER_INDEX.setRelease(this, c + taken);
        }
        return taken;
    }

    /**
     * Moves up to {@code limit} elements into {@code dst} from {@code dstOffset}, oldest first,
     * with at most two array copies (consumer side). The collector's flush threads use this to
     * stage events for a frame.
     *
     * @return how many elements were moved
     */
    public int drainTo(Object[] dst, int dstOffset, int limit) {
        final long c = consumerIndex;
        final int n = (int) Math.min(availableToConsumer(c), Math.max(0, Math.min(limit, dst.length - dstOffset)));
        if (n == 0) {
            return 0;
        }
        final int first = slot(c);
        final int untilEnd = Math.min(n, PAD + capacity - first);
        System.arraycopy(buffer, first, dst, dstOffset, untilEnd);
        Arrays.fill(buffer, first, first + untilEnd, null);
        if (untilEnd < n) {
            System.arraycopy(buffer, PAD, dst, dstOffset + untilEnd, n - untilEnd);
            Arrays.fill(buffer, PAD, PAD + n - untilEnd, null);
        }
        CONSUMER_INDEX.setRelease(this, c + n);
        return n;
    }

    private long availableToConsumer(long c) {
        long cached = producerIndexCache;
        if (c >= cached) {
            cached = (long) PRODUCER_INDEX.getAcquire(this);
            producerIndexCache = cached;
        }
        return cached - c;
    }

    /** Elements offered so far (the producer index). Any thread. */
    public long producedCount() {
        return (long) PRODUCER_INDEX.getAcquire(this);
    }

    /** Elements taken so far (the consumer index). Any thread. */
    public long consumedCount() {
        return (long) CONSUMER_INDEX.getAcquire(this);
    }

    /** An estimate of the elements in the ring (exact when neither side is active). */
    public int size() {
        long c = consumedCount();
        long p = producedCount();
        return (int) Math.max(0, Math.min(capacity, p - c));
    }

    public boolean isEmpty() {
        return size() == 0;
    }

    public int capacity() {
        return capacity;
    }
}

/** Read-only fields, shared by both sides, between two pads. */
abstract class FastRingBufferColdFields<E> extends Pad128 {
    /** Unused slots at each end of the array (128 bytes of references even without compressed oops). */
    static final int PAD = 32;

    final Object[] buffer;
    final int capacity;
    final long mask;

    FastRingBufferColdFields(int requestedCapacity) {
        if (requestedCapacity < 2 || requestedCapacity > (1 << 30)) {
            throw new IllegalArgumentException("ring capacity must be from 2 to 2^30, got " + requestedCapacity);
        }
        capacity = 1 << (32 - Integer.numberOfLeadingZeros(requestedCapacity - 1));
        mask = capacity - 1;
        buffer = new Object[capacity + 2 * PAD];
    }

    final int slot(long index) {
        return PAD + (int) (index & mask);
    }
}

abstract class FastRingBufferPad1<E> extends FastRingBufferColdFields<E> {
    long p01, p02, p03, p04, p05, p06, p07, p08, p09, p10, p11, p12, p13, p14, p15, p16;

    FastRingBufferPad1(int requestedCapacity) {
        super(requestedCapacity);
    }
}

/** The producer's line: its index (read by the consumer) and its cached limit. */
abstract class FastRingBufferProducerFields<E> extends FastRingBufferPad1<E> {
    static final VarHandle PRODUCER_INDEX;

    static {
        try {
            PRODUCER_INDEX = MethodHandles.lookup()
                    .findVarHandle(FastRingBufferProducerFields.class, "producerIndex", long.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    /** Next index to write; written by the producer only (release), read by the consumer (acquire). */
    long producerIndex;
    /** The producer's cached consumer index + capacity: below it, slots are known to be free. */
    long producerLimit;

    FastRingBufferProducerFields(int requestedCapacity) {
        super(requestedCapacity);
        producerLimit = capacity;
    }
}

abstract class FastRingBufferPad2<E> extends FastRingBufferProducerFields<E> {
    long p01, p02, p03, p04, p05, p06, p07, p08, p09, p10, p11, p12, p13, p14, p15, p16;

    FastRingBufferPad2(int requestedCapacity) {
        super(requestedCapacity);
    }
}

/** The consumer's line: its index (read by the producer) and its cached producer index. */
abstract class FastRingBufferConsumerFields<E> extends FastRingBufferPad2<E> {
    static final VarHandle CONSUMER_INDEX;

    static {
        try {
            CONSUMER_INDEX = MethodHandles.lookup()
                    .findVarHandle(FastRingBufferConsumerFields.class, "consumerIndex", long.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    /** Next index to read; written by the consumer only (release), read by the producer (acquire). */
    long consumerIndex;
    /** The consumer's cached producer index: below it, slots are known to be published. */
    long producerIndexCache;
    long p01, p02, p03, p04, p05, p06, p07, p08, p09, p10, p11, p12, p13, p14, p15, p16;

    FastRingBufferConsumerFields(int requestedCapacity) {
        super(requestedCapacity);
    }
}
