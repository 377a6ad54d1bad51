package com.reactive.platform.kafka.benchmark;

import java.time.Duration;

/**
 * One thing a benchmark measures, for one implementation: run for a duration, it returns a
 * {@link Measurement}. Each round builds what it needs (collector, producer) afresh and closes
 * it, so rounds are independent and the implementations never run at the same time.
 *
 * @param name    the test (the row of the side-by-side table)
 * @param impl    {@code java}, {@code rust}, or the client a raw Kafka sender uses ({@code kafka-clients})
 * @param level   the forced level, {@code auto}, or "-"
 * @param threads submitting (or sending) threads
 * @param moves   what the measured path moves per event, e.g. "ref" or "copy 100 B"
 * @param trial   the measurement
 */
record Variant(String name, String impl, String level, int threads, String moves, Trial trial) {
    @FunctionalInterface
    interface Trial {
        Measurement run(Duration duration) throws Exception;
    }

    /** True for the right-hand (Rust) column of the side-by-side table. */
    boolean rustSide() {
        return impl.equals("rust") || impl.equals("librdkafka");
    }
}
