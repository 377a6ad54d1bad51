package com.reactive.platform.gateway.microbatch;

/**
 * Result codes, the same names and numbers as the C library's {@code mb_result}
 * ({@code include/microbatch.h}): {@code FULL} here is {@code MB_ERR_FULL = 3} there.
 *
 * <p>The numbers are part of the ABI shared with the native library: once released they
 * never change, new codes are appended, and a retired code keeps its number reserved.
 */
public enum Result {
    /** Success. */
    OK(0),
    /** A required argument was null. */
    NULL_ARG(1),
    /** A configuration key is unknown, a value is out of range, or keys contradict each other. */
    INVALID_CONFIG(2),
    /** The ring for this thread is full and {@code submit.block.ms} ran out; the event was not taken. */
    FULL(3),
    /** The event is larger than {@code event.max.bytes}. */
    TOO_LARGE(4),
    /** The collector is closed or closing. */
    CLOSED(5),
    /** The operation did not complete within its timeout. */
    TIMEOUT(6),
    /** The sink reported that the events could not be delivered. */
    DELIVERY(7),
    /** The Kafka client reported an error. */
    KAFKA(8),
    /** The calibration store failed. */
    CALIBRATION(9),
    /** A frame is malformed, truncated or oversized. */
    MALFORMED(10),
    /** A panic was caught at the native boundary. */
    PANIC(11),
    /** An internal invariant failed (a bug). */
    INTERNAL(12),
    /** The ticket is unknown or was already waited for. */
    UNKNOWN_TICKET(13),
    /** Every tracking slot ({@code tracking.slots}) holds an event awaiting acknowledgement. */
    TRACKING_FULL(14);

    private static final Result[] BY_CODE = values();

    private final int code;

    Result(int code) {
        this.code = code;
    }

    /** The numeric value of the C enumerator. */
    public int code() {
        return code;
    }

    /** The C enumerator's name, e.g. {@code "MB_ERR_FULL"} (and {@code "MB_OK"}). */
    public String cName() {
        return this == OK ? "MB_OK" : "MB_ERR_" + name();
    }

    /**
     * The result with this numeric code.
     *
     * @throws IllegalArgumentException for a number no release has assigned
     */
    public static Result fromCode(int code) {
        if (code < 0 || code >= BY_CODE.length) {
            throw new IllegalArgumentException("unknown mb_result code " + code);
        }
        return BY_CODE[code];
    }
}
