package com.reactive.platform.gateway.microbatch.rust;

import com.reactive.platform.gateway.microbatch.BatchSink;
import java.nio.ByteBuffer;
import java.util.List;

/**
 * The native methods of {@code libmicrobatch.so} ({@code src/jni/mod.rs}), one per operation of
 * the C library's collector. Only {@link RustMicrobatchCollector} calls them: a handle is a
 * {@code long} the native side trusts to have come from {@link #create}, so it must never be
 * forged (a closed handle stays valid and answers {@link IllegalStateException}).
 *
 * <p>Every method throws {@link IllegalArgumentException} for bad arguments (null arrays or
 * elements, ranges outside an array, events larger than {@code event.max.bytes}, a bad
 * configuration), {@link IllegalStateException} once the collector is closed, and
 * {@link com.reactive.platform.gateway.microbatch.MicrobatchException} (built by its
 * {@code fromCode}) for everything else, a panic caught at the boundary included.
 */
final class NativeBridge {
    /** Bytes of one {@code mb_ack_event} record in {@link #pollAcks}'s buffer. */
    static final int ACK_RECORD_BYTES = 32;
    /** Offsets of the record's fields (native byte order). */
    static final int ACK_TICKET = 0;
    static final int ACK_RESULT = 8;
    static final int ACK_PARTITION = 12;
    static final int ACK_OFFSET = 16;
    static final int ACK_INDEX = 24;

    /** What {@link #submitTracked} returns instead of a ticket when the ring is full ({@code -MB_ERR_FULL}). */
    static final long REFUSED_FULL = -3;
    /** ... and when every tracking slot is in use ({@code -MB_ERR_TRACKING_FULL}). */
    static final long REFUSED_TRACKING_FULL = -14;

    /** What {@link #pollAcks} returns once the collector is closed and every outcome drained. */
    static final int DRAINED = -1;

    /**
     * The fields {@link #status} writes, in order; {@code STATUS_FIELDS} in
     * {@code src/jni/mod.rs} (a test checks that the library asks for exactly this many).
     */
    static final List<String> STATUS_FIELDS = List.of(
            "submitted", "rejected", "delivered", "failed", "pending", "flushed_batches", "level",
            "batch_events", "interval_us", "rate_per_sec_bits", "sink_errors", "tracking_in_use",
            "tracking_high_water", "latency_p50_us", "latency_p99_us", "latency_p999_us", "latency_max_us",
            "regressions", "calibration_errors", "calibration_windows", "idle_flush", "calibration_persistent");

    static final int SUBMITTED = 0;
    static final int REJECTED = 1;
    static final int DELIVERED = 2;
    static final int FAILED = 3;
    static final int PENDING = 4;
    static final int FLUSHED_BATCHES = 5;
    static final int LEVEL = 6;
    static final int BATCH_EVENTS = 7;
    static final int INTERVAL_US = 8;
    static final int RATE_PER_SEC_BITS = 9;
    static final int SINK_ERRORS = 10;
    static final int TRACKING_IN_USE = 11;
    static final int TRACKING_HIGH_WATER = 12;
    static final int LATENCY_P50_US = 13;
    static final int LATENCY_P99_US = 14;
    static final int LATENCY_P999_US = 15;
    static final int LATENCY_MAX_US = 16;
    static final int REGRESSIONS = 17;
    static final int CALIBRATION_ERRORS = 18;
    static final int CALIBRATION_WINDOWS = 19;
    static final int IDLE_FLUSH = 20;
    static final int CALIBRATION_PERSISTENT = 21;

    private NativeBridge() {
    }

    /**
     * A collector from configuration pairs (the C library's keys); {@code sink}, if not null,
     * receives the frames instead of the configured sink. The completion queue
     * ({@code tracking.queue}) is always on.
     *
     * @return the handle, never 0
     */
    static native long create(String[] keys, String[] values, BatchSink sink);

    /** The configuration keys the native collector knows, besides {@code kafka.<property>}. */
    static native String[] configKeys();

    /** @return true when accepted, false when refused for lack of room (after {@code submit.block.ms}) */
    static native boolean submit(long handle, byte[] event);

    /** Submits {@code events[offset .. offset+count)} in order until one is refused for room; returns how many were accepted. */
    static native int submitBatch(long handle, byte[][] events, int offset, int count);

    /** Bytes of the length before each event in {@link #submitPacked}'s buffer (a little-endian u32). */
    static final int PACKED_PREFIX = 4;

    /**
     * Submits the {@code count} events packed in the first {@code bytes} bytes of the direct buffer
     * {@code packed}, each a little-endian u32 length and then its bytes (the frame format's own
     * event encoding), in order until one is refused for room; returns how many were accepted. One
     * crossing per block, with no JNI call per event. A heap buffer, a capacity under {@code bytes},
     * negative sizes, a block that is not exactly {@code count} events, or an event above
     * {@code event.max.bytes} throw {@link IllegalArgumentException} with nothing submitted.
     */
    static native int submitPacked(long handle, ByteBuffer packed, int bytes, int count);

    /**
     * A direct buffer over the calling thread's native staging block (64 KiB, freed when the thread
     * ends): keep it in a ThreadLocal of that thread and never let another thread see it. Events
     * written into it cross with {@link #submitStagedEvent} and {@link #submitStaged}, which take
     * primitives only and read the block with no JNI function call.
     */
    static native ByteBuffer stagingBuffer();

    /** Submits the first {@code bytes} bytes of this thread's staging block as one event; as {@link #submit}. */
    static native boolean submitStagedEvent(long handle, int bytes);

    /**
     * {@link #submitPacked} over the first {@code bytes} bytes of this thread's staging block (events
     * encoded as there); returns how many were accepted.
     */
    static native int submitStaged(long handle, int bytes, int count);

    /** {@link #submitTracked} of the first {@code bytes} bytes of this thread's staging block. */
    static native long submitTrackedStaged(long handle, int bytes);

    /** @return the event's ticket (&gt; 0), or {@link #REFUSED_FULL} or {@link #REFUSED_TRACKING_FULL} */
    static native long submitTracked(long handle, byte[] event);

    /**
     * As {@link #submitBatch}, writing each accepted event's ticket to {@code tickets[0..]}; when
     * one is refused, {@code tickets[accepted]} holds the negated code.
     */
    static native int submitTrackedBatch(long handle, byte[][] events, int offset, int count, long[] tickets);

    /**
     * Drains outcomes of tracked events into the direct buffer {@code out} as
     * {@value #ACK_RECORD_BYTES}-byte records, waiting up to {@code timeoutMs} for the first.
     *
     * @return how many records, 0 on timeout, {@link #DRAINED} once closed and fully drained
     */
    static native int pollAcks(long handle, ByteBuffer out, int timeoutMs);

    /** Waits until everything submitted before the call is delivered or failed; TIMEOUT otherwise. */
    static native void flush(long handle, long timeoutMs);

    /** Writes the status fields ({@link #STATUS_FIELDS}) into {@code out}. */
    static native void status(long handle, long[] out);

    /**
     * Drains, flushes and stops the collector, then writes its final status into
     * {@code finalStatus} (may be null). Idempotent; the completion queue can still be drained.
     */
    static native void close(long handle, long[] finalStatus);
}
