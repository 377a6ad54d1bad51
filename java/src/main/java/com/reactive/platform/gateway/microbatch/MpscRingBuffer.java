package com.reactive.platform.gateway.microbatch;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.util.Objects;
import java.util.function.Consumer;

/**
 * A bounded, lock-free, multi-producer single-consumer ring of references, in the style of
 * JCTools' {@code MpscArrayQueue}.
 *
 * <p>Producers claim slots with a compare-and-set on the producer index and publish each
 * element with a release store into its slot; the consumer acquires slots one by one and
 * stops at the first one not yet published (a producer that claimed it is still writing).
 * Producers share a cached limit (consumer index + capacity) and read the consumer's index only
 * when the cache says "full". Fields of the two sides are padded apart as in
 * {@link FastRingBuffer}.
 *
 * <p>Compared with {@link FastRingBuffer}, each offer pays a compare-and-set and each element an
 * ordered store, and contending producers retry; the collector uses it for
 * {@code ring.type=mpsc}.
 *
 * @param <E> element type; null is not a valid element
 */
public final class MpscRingBuffer<E> extends MpscRingBufferConsumerFields<E> {
    private static final VarHandle SLOT = MethodHandles.arrayElementVarHandle(Object[].class);

    /**
     * Creates a ring of at least {@code requestedCapacity} slots, rounded up to a power of two.
     *
     * @throws IllegalArgumentException if {@code requestedCapacity} is below 2 or above 2^30
     */
    public MpscRingBuffer(int requestedCapacity) {
        super(requestedCapacity);
    }

    /**
     * Offers one element (any thread).
     *
     * @return false when the ring is full; the element was not taken
     */
    public boolean offer(E e) {
        Objects.requireNonNull(e, "element");
        long limit = (long) PRODUCER_LIMIT.getAcquire(this);
        long p;
        do {
            p = (long) PRODUCER_INDEX.getVolatile(this);
            if (p >= limit) {
                limit = (long) CONSUMER_INDEX.getAcquire(this) + capacity;
                if (p >= limit) {
                    return false;
                }
                PRODUCER_LIMIT.setRelease(this, limit);
            }
        } while (!PRODUCER_INDEX.compareAndSet(this, p, p + 1));
        SLOT.setRelease(buffer, slot(p), e);
        return true;
    }

    /**
     * Offers {@code count} elements of {@code src} from {@code offset} with one claim, as many as
     * fit, in order (any thread).
     *
     * @return how many, from the first, were taken
     */
    public int offer(E[] src, int offset, int count) {
        Objects.checkFromIndexSize(offset, count, src.length);
        for (int i = 0; i < count; i++) {
            if (src[offset + i] == null) {
                throw new NullPointerException("element " + (offset + i) + " is null");
            }
        }
        long limit = (long) PRODUCER_LIMIT.getAcquire(this);
        long p;
        int n;
        do {
            p = (long) PRODUCER_INDEX.getVolatile(this);
            if (limit - p < count) {
                limit = (long) CONSUMER_INDEX.getAcquire(this) + capacity;
                if (p >= limit) {
                    return 0;
                }
                PRODUCER_LIMIT.setRelease(this, limit);
            }
            n = (int) Math.min(count, limit - p);
        } while (!PRODUCER_INDEX.compareAndSet(this, p, p + n));
        for (int i = 0; i < n; i++) {
            SLOT.setRelease(buffer, slot(p + i), src[offset + i]);
        }
        return n;
    }

    /**
     * Takes the oldest element (consumer side), or returns null when the ring is empty. If the
     * oldest slot is claimed but not yet written, waits for its producer to finish.
     */
    @SuppressWarnings("unchecked")
    public E poll() {
        final long c = consumerIndex;
        final int s = slot(c);
        Object e = SLOT.getAcquire(buffer, s);
        if (e == null) {
            if (c == (long) PRODUCER_INDEX.getVolatile(this)) {
                return null;
            }
            // Claimed: the producer is between its CAS and its store.
            do {
                Thread.onSpinWait();
                e = SLOT.getAcquire(buffer, s);
            } while (e == null);
        }
        buffer[s] = null;
        CONSUMER_INDEX.setRelease(this, c + 1);
        return (E) e;
    }

    /**
     * Hands up to {@code limit} published elements to {@code handler}, oldest first, stopping
     * at the first slot whose producer has not finished writing (consumer side).
     *
     * @return how many elements were handed over
     */
    @SuppressWarnings("unchecked")
    public int drain(Consumer<? super E> handler, int limit) {
        final long c = consumerIndex;
        int taken = 0;
        try {
            while (taken < limit) {
                final int s = slot(c + taken);
                Object e = SLOT.getAcquire(buffer, s);
                if (e == null) {
                    break;
                }
                buffer[s] = null;
                taken++;
                handler.accept((E) e);
            }
        } finally {
            // Also when the handler threw: what it received is consumed.
            if (taken > 0) {
                CONSUMER_INDEX.setRelease(this, c + taken);
            }
        }
        return taken;
    }

    /**
     * Moves up to {@code limit} published elements into {@code dst} from {@code dstOffset},
     * oldest first (consumer side).
     *
     * @return how many elements were moved
     */
    public int drainTo(Object[] dst, int dstOffset, int limit) {
        final long c = consumerIndex;
        final int max = Math.min(limit, dst.length - dstOffset);
        int i = 0;
        for (; i < max; i++) {
            final int s = slot(c + i);
            Object e = SLOT.getAcquire(buffer, s);
            if (e == null) {
                break;
            }
            buffer[s] = null;
            dst[dstOffset + i] = e;
        }
        if (i > 0) {
            CONSUMER_INDEX.setRelease(this, c + i);
        }
        return i;
    }

    /** Slots claimed so far (accepted elements, some possibly still being written). Any thread. */
    public long producedCount() {
        return (long) PRODUCER_INDEX.getVolatile(this);
    }

    /** Elements taken so far (the consumer index). Any thread. */
    public long consumedCount() {
        return (long) CONSUMER_INDEX.getAcquire(this);
    }

    /** An estimate of the elements in the ring. */
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

abstract class MpscRingBufferColdFields<E> extends Pad128 {
    static final int PAD = 32;

    final Object[] buffer;
    final int capacity;
    final long mask;

    MpscRingBufferColdFields(int requestedCapacity) {
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

abstract class MpscRingBufferPad1<E> extends MpscRingBufferColdFields<E> {
    long p01, p02, p03, p04, p05, p06, p07, p08, p09, p10, p11, p12, p13, p14, p15, p16;

    MpscRingBufferPad1(int requestedCapacity) {
        super(requestedCapacity);
    }
}

/** The producers' contended index, alone on its line. */
abstract class MpscRingBufferProducerFields<E> extends MpscRingBufferPad1<E> {
    static final VarHandle PRODUCER_INDEX;

    static {
        try {
            PRODUCER_INDEX = MethodHandles.lookup()
                    .findVarHandle(MpscRingBufferProducerFields.class, "producerIndex", long.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    long producerIndex;

    MpscRingBufferProducerFields(int requestedCapacity) {
        super(requestedCapacity);
    }
}

abstract class MpscRingBufferPad2<E> extends MpscRingBufferProducerFields<E> {
    long p01, p02, p03, p04, p05, p06, p07, p08, p09, p10, p11, p12, p13, p14, p15, p16;

    MpscRingBufferPad2(int requestedCapacity) {
        super(requestedCapacity);
    }
}

/**
 * The producers' shared limit cache, on its own line: mostly read, written only when a
 * producer refreshes it, so reading it does not contend with the CAS on the index.
 */
abstract class MpscRingBufferLimitFields<E> extends MpscRingBufferPad2<E> {
    static final VarHandle PRODUCER_LIMIT;

    static {
        try {
            PRODUCER_LIMIT = MethodHandles.lookup()
                    .findVarHandle(MpscRingBufferLimitFields.class, "producerLimit", long.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    long producerLimit;

    MpscRingBufferLimitFields(int requestedCapacity) {
        super(requestedCapacity);
        producerLimit = capacity;
    }
}

abstract class MpscRingBufferPad3<E> extends MpscRingBufferLimitFields<E> {
    long p01, p02, p03, p04, p05, p06, p07, p08, p09, p10, p11, p12, p13, p14, p15, p16;

    MpscRingBufferPad3(int requestedCapacity) {
        super(requestedCapacity);
    }
}

abstract class MpscRingBufferConsumerFields<E> extends MpscRingBufferPad3<E> {
    static final VarHandle CONSUMER_INDEX;

    static {
        try {
            CONSUMER_INDEX = MethodHandles.lookup()
                    .findVarHandle(MpscRingBufferConsumerFields.class, "consumerIndex", long.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    long consumerIndex;
    long p01, p02, p03, p04, p05, p06, p07, p08, p09, p10, p11, p12, p13, p14, p15, p16;

    MpscRingBufferConsumerFields(int requestedCapacity) {
        super(requestedCapacity);
    }
}
