package com.reactive.platform.gateway.microbatch;

import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;

/**
 * Collects small events from many threads into frames and sends them to Kafka (or a
 * {@link BatchSink}): a frame is flushed when it holds N events or its oldest event has waited
 * T, with N and T chosen per pressure level from the observed event rate.
 *
 * <p>Two implementations sit behind this interface: the pure-Java one in this jar and the Rust
 * one ({@code libmicrobatch.so} through JNI). They take the same configuration keys, refuse bad
 * ones with the same messages, and share the calibration database, so switching is one
 * property: {@code microbatch.impl=java|rust} (key or system property).
 *
 * <pre>{@code
 * try (MicrobatchCollector c = MicrobatchCollector.create(Map.of(
 *         "microbatch.impl", "java",
 *         "kafka.bootstrap.servers", "localhost:9092",
 *         "kafka.topic", "events"))) {
 *     c.submitFireAndForget(event);                        // hot path: no allocation
 *     c.submit(body).thenAccept(ack -> reply(200, ack));   // completes when Kafka holds it
 * }
 * }</pre>
 *
 * <p>All methods are thread-safe. A thread always submits to the same partition, so its events
 * keep their order.
 */
public interface MicrobatchCollector extends AutoCloseable {
    /** The configuration key and system property that choose the implementation. */
    String IMPL_KEY = "microbatch.impl";

    /**
     * Creates the implementation named by the key {@code microbatch.impl}, else by the system
     * property {@code microbatch.impl} ({@code java} or {@code rust}, default {@code rust}). The
     * other keys are the C library's ({@code kafka.bootstrap.servers}, {@code kafka.topic},
     * {@code level}, {@code calibration.path}, ...). Without {@code kafka.bootstrap.servers}
     * frames go to an in-process stand-in for Kafka (see the implementations).
     *
     * @throws IllegalArgumentException for an unknown key or a bad value (the C library's message)
     * @throws IllegalStateException    when the chosen implementation is not available
     */
    static MicrobatchCollector create(Map<String, String> config) {
        Objects.requireNonNull(config, "config");
        return create(implementationFor(config), config);
    }

    /**
     * Creates the given implementation; {@code microbatch.impl} in {@code config}, if present,
     * must name a valid implementation but is otherwise ignored.
     */
    static MicrobatchCollector create(Implementation impl, Map<String, String> config) {
        return create(impl, config, null, null);
    }

    /**
     * The seed's shape: frames go to {@code sink}, N and T come from {@code calibration} (which
     * the caller owns and closes). The implementation is chosen by the system property
     * {@code microbatch.impl} (default {@code rust}).
     */
    static MicrobatchCollector create(BatchSink sink, BatchCalibration calibration) {
        Objects.requireNonNull(sink, "sink");
        return create(implementationFor(Map.of()), Map.of(), sink, calibration);
    }

    /**
     * The general form: {@code sink} (may be null: frames go where {@code config} says) and
     * {@code calibration} (may be null: the {@code calibration.*} keys decide) are optional.
     */
    static MicrobatchCollector create(Implementation impl, Map<String, String> config, BatchSink sink,
                                      BatchCalibration calibration) {
        Objects.requireNonNull(impl, "impl");
        Objects.requireNonNull(config, "config");
        Map<String, String> rest = new LinkedHashMap<>(config);
        String named = rest.remove(IMPL_KEY);
        if (named != null) {
            Implementation.parse(named);
        }
        switch (impl) {
            case JAVA:
                return JavaMicrobatchCollector.create(rest, sink, calibration);
            case RUST:
                return NativeCollectorFactory.create(rest, sink, calibration);
            default:
                throw new AssertionError(impl);
        }
    }

    /** The implementation {@link #create(Map)} would build for {@code config}. */
    static Implementation implementationFor(Map<String, String> config) {
        String named = config.get(IMPL_KEY);
        if (named == null) {
            named = System.getProperty(IMPL_KEY, "rust");
        }
        return Implementation.parse(named);
    }

    /**
     * Submits one event without waiting for its delivery. The collector keeps the array until
     * the event is framed: do not modify it after the call.
     *
     * @return true when accepted; false when refused for lack of room (after
     *         {@code submit.block.ms}), counted in {@link Status#rejected()}
     * @throws IllegalArgumentException if {@code event} is null or larger than {@code event.max.bytes}
     * @throws IllegalStateException    after {@link #close()}
     */
    boolean submitFireAndForget(byte[] event);

    /**
     * Submits {@code events[offset .. offset+count)} in order, in one call.
     *
     * @return how many of them, in order from the first, were accepted (the rest were refused
     *         for lack of room and counted as rejected)
     * @throws IllegalArgumentException for a null array, a range outside it, or a null or
     *                                  too-large event in it (then none is submitted)
     * @throws IllegalStateException    after {@link #close()}
     */
    int submitFireAndForget(byte[][] events, int offset, int count);

    /**
     * Submits one event and returns a future that completes when the sink has acknowledged the
     * frame holding it (for Kafka, the broker's acknowledgement), with where it is stored.
     * No thread waits per request. The future completes exceptionally with a
     * {@link MicrobatchException}: {@link Result#DELIVERY} if delivery failed,
     * {@link Result#TIMEOUT} after {@code ack.timeout.ms}, {@link Result#FULL} or
     * {@link Result#TRACKING_FULL} if the event was refused (counted as rejected).
     *
     * @throws IllegalArgumentException if {@code event} is null or larger than {@code event.max.bytes}
     * @throws IllegalStateException    after {@link #close()}
     */
    CompletableFuture<Ack> submit(byte[] event);

    /**
     * Sends everything submitted before this call and waits until the sink has taken it
     * (delivered or failed).
     *
     * @throws MicrobatchException   with {@link Result#TIMEOUT} if that takes longer than {@code timeout}
     * @throws IllegalStateException after {@link #close()}
     */
    void flush(Duration timeout);

    /** A snapshot of the counters and the current flush parameters; also after close. */
    Status status();

    /** Which implementation this is. */
    Implementation implementation();

    /**
     * Refuses new submits, waits for submits in progress, flushes everything pending (waiting
     * at most {@code close.timeout.ms} for the sink) and stops the collector's threads.
     * Idempotent; later submits throw {@link IllegalStateException}.
     */
    @Override
    void close();
}
