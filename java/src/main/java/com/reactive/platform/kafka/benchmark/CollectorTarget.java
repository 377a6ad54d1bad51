package com.reactive.platform.kafka.benchmark;

import com.reactive.platform.gateway.microbatch.Ack;
import com.reactive.platform.gateway.microbatch.Implementation;
import com.reactive.platform.gateway.microbatch.MicrobatchCollector;
import com.reactive.platform.gateway.microbatch.MicrobatchException;
import com.reactive.platform.gateway.microbatch.PressureLevel;
import com.reactive.platform.gateway.microbatch.Result;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.CompletionException;
import java.util.function.BiConsumer;

/**
 * A cell's collector, created through the public API only
 * ({@link MicrobatchCollector#create(Implementation, Map)}) with the spec's configuration as is,
 * plus where Kafka is: {@code kafka.bootstrap.servers} from the spec's broker (left out for
 * {@code mock}, so each implementation uses its embedded stand-in: kafka-clients'
 * {@code MockProducer} for Java, librdkafka's mock cluster for Rust, as the other benchmarks do)
 * and {@code kafka.topic} from its topic. Each measured event is a tracked submit whose future
 * reports the outcome.
 */
final class CollectorTarget implements CellTarget {
    private final MicrobatchCollector collector;
    private final Outcomes outcomes;
    private final boolean kafkaClientsToBroker;
    private final String note;

    private CollectorTarget(MicrobatchCollector collector, Outcomes outcomes, boolean kafkaClientsToBroker,
                            String note) {
        this.collector = collector;
        this.outcomes = outcomes;
        this.kafkaClientsToBroker = kafkaClientsToBroker;
        this.note = note;
    }

    /**
     * @throws CellSpec.Invalid      when the collector refuses the configuration (with its message)
     * @throws IllegalStateException when the implementation is not available here
     */
    static CollectorTarget create(CellSpec spec, Outcomes outcomes) {
        Map<String, String> config = new LinkedHashMap<>(spec.config());
        String bootstrap = config.get("kafka.bootstrap.servers");
        if (spec.mockBroker()) {
            if (bootstrap != null && !bootstrap.equals("mock")) {
                throw new CellSpec.Invalid("`broker=mock` but config.kafka.bootstrap.servers=" + bootstrap);
            }
        } else {
            agree(config, "kafka.bootstrap.servers", spec.broker(), "broker");
        }
        agree(config, "kafka.topic", spec.topic(), "topic");
        boolean java = spec.impl() == CellSpec.Impl.JAVA;
        MicrobatchCollector collector;
        try {
            collector = MicrobatchCollector.create(java ? Implementation.JAVA : Implementation.RUST, config);
        } catch (RuntimeException e) {
            throw SpecErrors.asInvalid(e);
        }
        boolean nullSink = "null".equals(config.get("sink"));
        String note;
        if (nullSink) {
            note = "frames to the null sink: no Kafka";
        } else if (!spec.mockBroker()) {
            note = null;
        } else if (java) {
            note = "java collector into kafka-clients' MockProducer (in process, acknowledges at once): not Kafka";
        } else {
            note = "rust collector through JNI into librdkafka's embedded mock cluster (in process, over loopback)";
        }
        return new CollectorTarget(collector, outcomes, java && !nullSink && !spec.mockBroker(), note);
    }

    /** Sets {@code key} to {@code value}, unless the configuration already says something else. */
    private static void agree(Map<String, String> config, String key, String value, String specKey) {
        String given = config.putIfAbsent(key, value);
        if (given != null && !given.equals(value)) {
            throw new CellSpec.Invalid("`" + specKey + "=" + value + "` but config." + key + "=" + given);
        }
    }

    @Override
    public void send(byte[] event, long dueNanos, boolean measured) {
        var future = collector.submit(event);
        if (measured) {
            future.whenComplete(new Settle(dueNanos));
        }
    }

    /** Reports one measured event's outcome; a refusal (no room) is a rejection, not a failure. */
    private final class Settle implements BiConsumer<Ack, Throwable> {
        private final long dueNanos;

        Settle(long dueNanos) {
            this.dueNanos = dueNanos;
        }

        @Override
        public void accept(Ack ack, Throwable error) {
            if (error == null) {
                outcomes.recordDelivered(dueNanos);
                return;
            }
            Throwable cause = error instanceof CompletionException && error.getCause() != null ? error.getCause() : error;
            if (cause instanceof MicrobatchException m
                    && (m.result() == Result.FULL || m.result() == Result.TRACKING_FULL)) {
                outcomes.recordRejected();
            } else {
                outcomes.recordFailed(cause);
            }
        }
    }

    @Override
    public String flush(Duration timeout) {
        try {
            collector.flush(timeout);
            return null;
        } catch (MicrobatchException e) {
            return "flush: " + e.getMessage();
        }
    }

    @Override
    public Integer level() {
        PressureLevel level = collector.status().level();
        return level == null ? null : level.number();
    }

    @Override
    public Long wireBytes() {
        return kafkaClientsToBroker ? WireBytes.inProcess() : null;
    }

    @Override
    public String note() {
        return note;
    }

    @Override
    public void close() {
        collector.close();
    }
}
