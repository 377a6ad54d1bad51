package com.reactive.platform.kafka.benchmark;

import java.time.Duration;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.kafka.clients.producer.BufferExhaustedException;
import org.apache.kafka.clients.producer.Callback;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.MockProducer;
import org.apache.kafka.clients.producer.Producer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.serialization.ByteArraySerializer;

/**
 * {@code mode=producer}: no collector, one Kafka record per event through kafka-clients'
 * {@link KafkaProducer}, configured only from the spec's {@code config.kafka.*} keys (prefix
 * removed) and its broker; batching is the client's own ({@code linger.ms}, {@code batch.size}).
 * The send callback reports each measured event's outcome. With broker {@code mock}, kafka-clients'
 * {@link MockProducer} with auto-completion (acknowledges in {@code send}, its history cleared
 * every 1024 records so long runs stay within memory).
 */
final class ProducerTarget implements CellTarget {
    private static final int CLEAR_EVERY = 1024;

    private final Producer<byte[], byte[]> producer;
    private final String topic;
    private final Outcomes outcomes;
    private final boolean mock;
    private final AtomicLong sends = new AtomicLong();

    private ProducerTarget(Producer<byte[], byte[]> producer, String topic, Outcomes outcomes, boolean mock) {
        this.producer = producer;
        this.topic = topic;
        this.outcomes = outcomes;
        this.mock = mock;
    }

    /** @throws CellSpec.Invalid when kafka-clients refuses the configuration */
    static ProducerTarget create(CellSpec spec, Outcomes outcomes) {
        if (spec.mockBroker()) {
            return new ProducerTarget(new MockProducer<>(true, null, new ByteArraySerializer(), new ByteArraySerializer()),
                    spec.topic(), outcomes, true);
        }
        Properties p = new Properties();
        for (Map.Entry<String, String> e : spec.config().entrySet()) {
            p.put(e.getKey().substring("kafka.".length()), e.getValue());
        }
        Object given = p.putIfAbsent(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, spec.broker());
        if (given != null && !given.equals(spec.broker())) {
            throw new CellSpec.Invalid("`broker=" + spec.broker() + "` but config.kafka.bootstrap.servers=" + given);
        }
        try {
            return new ProducerTarget(new KafkaProducer<>(p, new ByteArraySerializer(), new ByteArraySerializer()),
                    spec.topic(), outcomes, false);
        } catch (RuntimeException e) {
            throw SpecErrors.asInvalid(e);
        }
    }

    @Override
    public void send(byte[] event, long dueNanos, boolean measured) {
        producer.send(new ProducerRecord<>(topic, event), measured ? new Settle(dueNanos) : null);
        if (mock && sends.incrementAndGet() % CLEAR_EVERY == 0) {
            ((MockProducer<byte[], byte[]>) producer).clear();
        }
    }

    /** Reports one measured record's outcome; a full buffer is a refusal, as a full ring is. */
    private final class Settle implements Callback {
        private final long dueNanos;

        Settle(long dueNanos) {
            this.dueNanos = dueNanos;
        }

        @Override
        public void onCompletion(RecordMetadata metadata, Exception error) {
            if (error == null) {
                outcomes.recordDelivered(dueNanos);
            } else if (error instanceof BufferExhaustedException) {
                outcomes.recordRejected();
            } else {
                outcomes.recordFailed(error);
            }
        }
    }

    /** {@code KafkaProducer.flush} has no timeout of its own: bounded here, the send callbacks still count. */
    @Override
    public String flush(Duration timeout) {
        CompletableFuture<Void> flushed = CompletableFuture.runAsync(producer::flush);
        try {
            flushed.get(timeout.toMillis(), TimeUnit.MILLISECONDS);
            return null;
        } catch (TimeoutException e) {
            return "flush did not finish within " + timeout.toMillis() + " ms";
        } catch (ExecutionException e) {
            return "flush: " + e.getCause();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return "flush interrupted";
        }
    }

    @Override
    public Integer level() {
        return null;
    }

    @Override
    public Long wireBytes() {
        return mock ? null : WireBytes.of(producer);
    }

    @Override
    public String note() {
        return mock ? "kafka-clients' MockProducer (in process, acknowledges at once; config.kafka.* not applied): not Kafka"
                : null;
    }

    @Override
    public void close() {
        producer.close(Duration.ofSeconds(30));
    }
}
