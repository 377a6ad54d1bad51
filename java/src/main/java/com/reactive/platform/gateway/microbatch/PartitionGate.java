package com.reactive.platform.gateway.microbatch;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;

/**
 * Admission to one partition's ring, and the reason close cannot lose an event: closing waits
 * for every submit already inside, and none can enter afterwards, so whatever was accepted is
 * in the ring before the flush threads make their final pass.
 *
 * <p>Two disciplines, one per ring type:
 * <ul>
 *   <li>exclusive ({@code ring.type=spsc}): a lock word, one compare-and-set to enter and a
 *       release store to leave. It makes the threads that share a partition take turns as the
 *       single producer of a {@link FastRingBuffer}, and hands the producer's fields from one
 *       to the next. Closing swaps the free word for CLOSED, so it waits for the holder.</li>
 *   <li>shared ({@code ring.type=mpsc}): a count of submits inside, any number at once; closing
 *       sets the CLOSED bit and waits for the count to reach 0.</li>
 * </ul>
 * The word sits alone on its cache line: every submit of the partition writes it.
 */
final class PartitionGate extends Pad128 {
    static final long CLOSED = Long.MIN_VALUE;
    private static final long FREE = 0;
    private static final long HELD = 1;
    private static final VarHandle STATE;

    static {
        try {
            STATE = MethodHandles.lookup().findVarHandle(PartitionGate.class, "state", long.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    /**
     * A long, not an int: since JDK 15 the JVM may place a subclass's int in the 4-byte hole
     * after the object header, in front of the padding, where it could share a line with
     * whatever precedes this object on the heap.
     */
    @SuppressWarnings("unused") // accessed through STATE
    private volatile long state;
    long p01, p02, p03, p04, p05, p06, p07, p08, p09, p10, p11, p12, p13, p14, p15, p16;

    /** Takes the lock (exclusive discipline); false once the gate is closed. */
    boolean lock() {
        if (STATE.compareAndSet(this, FREE, HELD)) {
            return true;
        }
        return lockContended();
    }

    private boolean lockContended() {
        int spins = 0;
        while (true) {
            long s = (long) STATE.getVolatile(this);
            if (s == CLOSED) {
                return false;
            }
            if (s == FREE && STATE.compareAndSet(this, FREE, HELD)) {
                return true;
            }
            // Another submitter holds it for one ring append: spin briefly, then let it run.
            if (++spins < 128) {
                Thread.onSpinWait();
            } else {
                Thread.yield();
            }
        }
    }

    /** Releases the lock (exclusive discipline). */
    void unlock() {
        STATE.setRelease(this, FREE);
    }

    /** Enters (shared discipline); false once the gate is closed. */
    boolean enter() {
        long s = (long) STATE.getAndAdd(this, 1L);
        if ((s & CLOSED) != 0) {
            STATE.getAndAdd(this, -1L);
            return false;
        }
        return true;
    }

    /** Leaves (shared discipline). */
    void exit() {
        STATE.getAndAdd(this, -1L);
    }

    /** Closes an exclusive gate: waits for the holder to leave, then no one enters again. */
    void closeExclusive() {
        int spins = 0;
        while (!STATE.compareAndSet(this, FREE, CLOSED)) {
            if ((long) STATE.getVolatile(this) == CLOSED) {
                return;
            }
            backoff(++spins);
        }
    }

    /** Closes a shared gate: no one enters again, then waits for those inside to leave. */
    void closeShared() {
        STATE.getAndBitwiseOr(this, CLOSED);
        int spins = 0;
        while (((long) STATE.getVolatile(this) & ~CLOSED) != 0) {
            backoff(++spins);
        }
    }

    boolean isClosed() {
        return ((long) STATE.getVolatile(this) & CLOSED) != 0;
    }

    private static void backoff(int spins) {
        if (spins < 128) {
            Thread.onSpinWait();
        } else {
            Thread.yield();
        }
    }
}
