package com.reactive.platform.gateway.microbatch;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Map;
import java.util.Properties;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.MockProducer;
import org.apache.kafka.clients.producer.Producer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.KafkaException;
import org.apache.kafka.common.header.internals.RecordHeaders;
import org.apache.kafka.common.serialization.ByteArraySerializer;

/**
 * Sends frames to Kafka with kafka-clients: one record per frame ({@code kafka.mode=frame}) or
 * one per event ({@code record}), keyed {@code mb-<flush thread>} so the frames of a partition
 * stay in order in one Kafka partition, with headers {@code mb.format = "1"} and
 * {@code mb.events = <count>}, as the Rust library sends them.
 *
 * <p>Producer defaults are the seed's throughput settings: {@code acks=1}, {@code linger.ms=10},
 * {@code batch.size=16777216}, {@code buffer.memory=536870912}, {@code compression.type=lz4};
 * any {@code kafka.<property>} key overrides them. Without {@code kafka.bootstrap.servers} (or
 * with the value {@code mock}) the sink uses kafka-clients' {@link MockProducer} with
 * auto-completion: a stand-in that acknowledges every record at once, in process, so the
 * defaults need no broker. It is not Kafka: nothing is stored, and its history (which holds
 * every record sent) is cleared every {@value #MOCK_HISTORY_LIMIT} records or
 * {@value #MOCK_HISTORY_BYTES} bytes, so long runs do not keep every frame in memory.
 */
final class KafkaFrameSink implements FrameSink {
    /** Records after which the mock producer's history is cleared. */
    static final int MOCK_HISTORY_LIMIT = 1024;
    /**
     * Bytes of values after which it is cleared: frames reach a megabyte, and a heap full of
     * retained frames would make the stand-in measure the garbage collector.
     */
    static final long MOCK_HISTORY_BYTES = 16L << 20;
    private static final byte[] FORMAT_V1 = "1".getBytes(StandardCharsets.US_ASCII);

    private final Producer<byte[], byte[]> producer;
    private final boolean mock;
    private final String topic;
    private final boolean recordMode;
    private final byte[][] keys;
    private int mockSends;
    private long mockBytes;

    KafkaFrameSink(CollectorConfig config, int workers) {
        this.topic = config.kafkaTopic();
        this.recordMode = config.kafkaMode() == CollectorConfig.KafkaMode.RECORD;
        this.keys = new byte[workers][];
        for (int i = 0; i < workers; i++) {
            keys[i] = ("mb-" + i).getBytes(StandardCharsets.US_ASCII);
        }
        Map<String, String> overrides = config.kafkaProperties();
        String servers = overrides.get(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG);
        this.mock = servers == null || servers.isBlank() || servers.trim().equals("mock");
        Properties props = new Properties();
        props.put(ProducerConfig.ACKS_CONFIG, "1");
        props.put(ProducerConfig.LINGER_MS_CONFIG, "10");
        props.put(ProducerConfig.BATCH_SIZE_CONFIG, "16777216");
        props.put(ProducerConfig.BUFFER_MEMORY_CONFIG, "536870912");
        props.put(ProducerConfig.COMPRESSION_TYPE_CONFIG, "lz4");
        props.putAll(overrides);
        try {
            if (mock) {
                // The stand-in ignores producer settings, but a bad one is refused now, as it
                // would be against a broker, so that switching to a broker changes nothing else.
                props.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, "localhost:9092");
                props.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class);
                props.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class);
                new ProducerConfig(props);
                producer = new MockProducer<>(true, null, new ByteArraySerializer(), new ByteArraySerializer());
            } else {
                producer = new KafkaProducer<>(props, new ByteArraySerializer(), new ByteArraySerializer());
            }
        } catch (KafkaException e) {
            Throwable cause = e.getCause() != null ? e.getCause() : e;
            throw new IllegalArgumentException("the Kafka producer refused its configuration: " + cause.getMessage(), e);
        }
    }

    /** True when frames go to the in-process stand-in rather than a broker. */
    boolean isMock() {
        return mock;
    }

    @Override
    public boolean keepsFrames() {
        // The producer may hold the value until the record is batched (and the mock keeps it
        // in its history): each frame gets its own array.
        return true;
    }

    @Override
    public boolean recordMode() {
        return recordMode;
    }

    @Override
    public void sendFrame(byte[] frame, int length, ByteBuffer view, int events, int worker, FrameCompletion done) {
        RecordHeaders headers = new RecordHeaders();
        headers.add("mb.format", FORMAT_V1);
        headers.add("mb.events", Integer.toString(events).getBytes(StandardCharsets.US_ASCII));
        ProducerRecord<byte[], byte[]> record = new ProducerRecord<>(topic, null, null, keys[worker], frame, headers);
        try {
            producer.send(record, (metadata, error) -> {
                if (error == null) {
                    done.delivered(metadata.partition(), metadata.offset());
                } else {
                    done.failed(error);
                }
            });
        } catch (RuntimeException e) {
            // Refused before it was queued (serialization, size, buffer full past max.block.ms).
            done.failed(e);
        }
        afterSend(length);
    }

    @Override
    public void sendEvent(byte[] event, int index, int worker, FrameCompletion done) {
        ProducerRecord<byte[], byte[]> record = new ProducerRecord<>(topic, null, null, keys[worker], event);
        try {
            producer.send(record, (metadata, error) -> done.eventReported(index,
                    error == null ? metadata.partition() : -1, error == null ? metadata.offset() : -1, error));
        } catch (RuntimeException e) {
            done.eventReported(index, -1, -1, e);
        }
        afterSend(event.length);
    }

    private void afterSend(int bytes) {
        if (mock) {
            synchronized (this) {
                mockBytes += bytes;
                if (++mockSends >= MOCK_HISTORY_LIMIT || mockBytes >= MOCK_HISTORY_BYTES) {
                    mockSends = 0;
                    mockBytes = 0;
                    ((MockProducer<byte[], byte[]>) producer).clear();
                }
            }
        }
    }

    @Override
    public void close(Duration timeout) {
        producer.close(timeout);
    }
}
