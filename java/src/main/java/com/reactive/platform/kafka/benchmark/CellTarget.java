package com.reactive.platform.kafka.benchmark;

import java.time.Duration;

/**
 * What a cell's submitting threads send to: a collector, or a plain Kafka producer. Every
 * measured event's outcome ends in {@link Outcomes}, exactly once.
 */
interface CellTarget extends AutoCloseable {
    /**
     * Sends one event due at {@code dueNanos}; a measured event's outcome (delivered, failed or
     * refused) is reported to the cell's {@link Outcomes}, a warm-up event's is not.
     */
    void send(byte[] event, long dueNanos, boolean measured);

    /**
     * Pushes out everything sent so far, waiting at most {@code timeout}.
     *
     * @return null, or why the flush did not finish (the caller still waits for outcomes)
     */
    String flush(Duration timeout);

    /** The pressure level now (1..10), or null when there is none. */
    Integer level();

    /**
     * Bytes the Kafka client has sent to brokers so far (after framing and compression), or null
     * when no kafka-clients producer in this process talks to a broker.
     */
    Long wireBytes();

    /** What a reader of the figures must know about this target (e.g. the broker stand-in), or null. */
    String note();

    @Override
    void close();
}
