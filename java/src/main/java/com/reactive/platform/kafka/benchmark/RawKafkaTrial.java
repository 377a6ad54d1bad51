package com.reactive.platform.kafka.benchmark;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.atomic.LongAdder;
import org.apache.kafka.clients.producer.Callback;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.MockProducer;
import org.apache.kafka.clients.producer.Producer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.ByteArraySerializer;

/**
 * The seed's BULK baseline in Java: kafka-clients directly, no collector. Each sending thread
 * encodes {@code perSend} events into one format v1 frame (the same frame the collectors send,
 * so the broker sees the same bytes) and sends it as one record; {@code perSend == 1} sends
 * each bare event as its own record (PER_EVENT).
 *
 * <p>Done as a careful Java programmer would: one reused frame buffer per thread
 * ({@code KafkaProducer.send} copies the value into its batch before returning), one callback
 * object per thread (no allocation per send beyond the record), the seed's producer settings
 * ({@code acks=1}, {@code linger.ms=10}, 16 MB batches, 512 MB buffer, lz4). Throughput counts
 * events whose records were acknowledged, over the time from the first send until
 * {@code flush} returned. With broker {@code mock} it sends to kafka-clients' {@link MockProducer}
 * (auto-completing, history cleared every 1024 records), which is not Kafka: it measures the
 * frame building and the client's send path only.
 */
final class RawKafkaTrial implements Variant.Trial {
    private final String broker;
    private final String topic;
    private final int perSend;
    private final int threads;

    RawKafkaTrial(String broker, String topic, int perSend, int threads) {
        this.broker = broker;
        this.topic = topic;
        this.perSend = perSend;
        this.threads = threads;
    }

    private Producer<byte[], byte[]> producer() {
        if (broker.equals("mock")) {
            return new MockProducer<>(true, null, new ByteArraySerializer(), new ByteArraySerializer());
        }
        Properties p = new Properties();
        p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, broker);
        p.put(ProducerConfig.ACKS_CONFIG, "1");
        p.put(ProducerConfig.LINGER_MS_CONFIG, "10");
        p.put(ProducerConfig.BATCH_SIZE_CONFIG, "16777216");
        p.put(ProducerConfig.BUFFER_MEMORY_CONFIG, "536870912");
        p.put(ProducerConfig.COMPRESSION_TYPE_CONFIG, "lz4");
        p.put(ProducerConfig.MAX_REQUEST_SIZE_CONFIG, Integer.toString(Math.max(1 << 20, frameBytes() + (64 << 10))));
        return new KafkaProducer<>(p, new ByteArraySerializer(), new ByteArraySerializer());
    }

    private int frameBytes() {
        return 8 + perSend * (4 + Events.DEFAULT_BYTES);
    }

    @Override
    public Measurement run(Duration duration) throws Exception {
        Producer<byte[], byte[]> producer = producer();
        boolean mock = producer instanceof MockProducer;
        LongAdder delivered = new LongAdder();
        LongAdder failed = new LongAdder();
        AtomicReference<Exception> firstError = new AtomicReference<>();
        AtomicBoolean stop = new AtomicBoolean();
        CyclicBarrier start = new CyclicBarrier(threads + 1);
        AtomicReference<Throwable> error = new AtomicReference<>();
        List<Thread> senders = new ArrayList<>();
        byte[] key = "bench".getBytes(StandardCharsets.US_ASCII);
        for (int t = 0; t < threads; t++) {
            final byte[][] pool = Events.pool(0xB01C + t);
            Thread s = new Thread(() -> {
                try {
                    Callback done = (metadata, e) -> {
                        if (e == null) {
                            delivered.add(perSend);
                        } else {
                            failed.add(perSend);
                            firstError.compareAndSet(null, e);
                        }
                    };
                    byte[] frame = new byte[frameBytes()];
                    ByteBuffer w = ByteBuffer.wrap(frame).order(ByteOrder.LITTLE_ENDIAN);
                    int next = 0;
                    int sends = 0;
                    start.await();
                    while (!stop.get()) {
                        byte[] value;
                        if (perSend == 1) {
                            value = pool[next++ & (pool.length - 1)];
                        } else {
                            w.clear();
                            w.put((byte) 'M').put((byte) 'B').put((byte) 1).put((byte) 0).putInt(perSend);
                            for (int i = 0; i < perSend; i++) {
                                byte[] e = pool[next++ & (pool.length - 1)];
                                w.putInt(e.length).put(e);
                            }
                            value = frame;
                        }
                        producer.send(new ProducerRecord<>(topic, null, key, value), done);
                        if (mock && ++sends % 1024 == 0) {
                            // The stand-in keeps every record in its history: keep memory flat.
                            ((MockProducer<byte[], byte[]>) producer).clear();
                        }
                    }
                } catch (Throwable e) {
                    error.compareAndSet(null, e);
                }
            }, "bench-sender-" + t);
            s.setDaemon(true);
            senders.add(s);
            s.start();
        }
        try {
            start.await();
            long t0 = System.nanoTime();
            CpuClock.Sample cpu0 = CpuClock.now();
            long wire0 = WireBytes.of(producer);
            Thread.sleep(duration.toMillis());
            stop.set(true);
            for (Thread s : senders) {
                s.join();
            }
            producer.flush();
            long t1 = System.nanoTime();
            CpuClock.Sample cpu = CpuClock.now().minus(cpu0);
            long wire = WireBytes.of(producer) - wire0;
            if (error.get() != null) {
                throw new IllegalStateException("a sender failed", error.get());
            }
            if (failed.sum() > 0) {
                throw new IllegalStateException(failed.sum() + " events failed delivery", firstError.get());
            }
            return new Measurement(delivered.sum(), (t1 - t0) / 1e9, cpu, -1, -1, -1, "-", mock ? -1 : wire);
        } finally {
            stop.set(true);
            producer.close(Duration.ofSeconds(30));
        }
    }
}
