package com.reactive.platform.gateway.microbatch;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.util.concurrent.CompletableFuture;

/**
 * An acknowledged submit of the Java collector: the event travels through the ring as this
 * object, which is also the future returned to the caller, so a tracked submit allocates one
 * object besides its timeout-queue node (fire-and-forget events travel as bare arrays and pay
 * nothing for tracking).
 *
 * <p>Its tracking slot is released exactly once, when its outcome is settled (acknowledged,
 * failed, timed out or abandoned at close), whoever else completes or cancels the future.
 */
final class Tracked extends CompletableFuture<Ack> {
    private static final VarHandle SETTLED;

    static {
        try {
            SETTLED = MethodHandles.lookup().findVarHandle(Tracked.class, "settled", int.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    /** The event bytes; cleared once the event is encoded into its frame. */
    byte[] event;
    /** When the acknowledgement is overdue, in System.nanoTime() terms. */
    final long deadlineNanos;
    private final JavaMicrobatchCollector owner;
    @SuppressWarnings("unused") // accessed through SETTLED
    private volatile int settled;

    Tracked(JavaMicrobatchCollector owner, byte[] event, long deadlineNanos) {
        this.owner = owner;
        this.event = event;
        this.deadlineNanos = deadlineNanos;
    }

    /** True once the outcome was settled (slot released). */
    boolean isSettled() {
        return settled != 0;
    }

    /** Completes with where the event is stored and releases the slot, once. */
    void acknowledge(Ack ack) {
        if (SETTLED.compareAndSet(this, 0, 1)) {
            // Slot first: whoever sees the future complete also sees the slot free.
            owner.releaseTrackingSlot();
            complete(ack);
        }
    }

    /** Completes exceptionally and releases the slot, once. */
    void fail(MicrobatchException error) {
        if (SETTLED.compareAndSet(this, 0, 1)) {
            owner.releaseTrackingSlot();
            completeExceptionally(error);
        }
    }

    /** The array the flush thread frames: the bare event or a tracked one. */
    static byte[] bytesOf(Object element) {
        return element instanceof byte[] ? (byte[]) element : ((Tracked) element).event;
    }
}
