package com.reactive.platform.gateway.example;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.reactive.platform.gateway.microbatch.Ack;
import com.reactive.platform.gateway.microbatch.Frames;
import com.reactive.platform.gateway.microbatch.Implementation;
import com.reactive.platform.gateway.microbatch.MicrobatchCollector;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Many concurrent POSTs through the gateway: each is answered 200 with a distinct position,
 * and, given a broker ({@code -Dmicrobatch.test.kafka=host:port}), each body is read back from
 * Kafka at that position.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class MicrobatchGatewayTest {
    private static final Pattern ACK = Pattern.compile("\\{\"partition\":(-?\\d+),\"offset\":(-?\\d+),\"index\":(\\d+)}");

    @Test
    void everyAcknowledgedPostIsStoredWhereItsAnswerSays() throws Exception {
        String broker = System.getProperty("microbatch.test.kafka", "").trim();
        String topic = "gateway-" + System.nanoTime();
        Map<String, String> config = new HashMap<>(Map.of("calibration.enabled", "false", "level", "L2_FAST",
                "kafka.topic", topic));
        if (!broker.isEmpty()) {
            config.put("kafka.bootstrap.servers", broker);
        }
        int requests = 2000;
        Map<Ack, String> stored = new HashMap<>();
        MicrobatchCollector collector = MicrobatchCollector.create(Implementation.JAVA, config);
        try (MicrobatchGateway gateway = MicrobatchGateway.start(new InetSocketAddress("127.0.0.1", 0), collector)) {
            HttpClient client = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
            URI uri = URI.create("http://127.0.0.1:" + gateway.port() + "/events");
            Semaphore inFlight = new Semaphore(64);
            List<CompletableFuture<HttpResponse<String>>> responses = new ArrayList<>();
            for (int i = 0; i < requests; i++) {
                inFlight.acquire();
                HttpRequest post = HttpRequest.newBuilder(uri).timeout(Duration.ofSeconds(30))
                        .POST(HttpRequest.BodyPublishers.ofString("event-" + i)).build();
                responses.add(client.sendAsync(post, HttpResponse.BodyHandlers.ofString())
                        .whenComplete((r, e) -> inFlight.release()));
            }
            for (int i = 0; i < requests; i++) {
                HttpResponse<String> r = responses.get(i).get(60, TimeUnit.SECONDS);
                assertEquals(200, r.statusCode(), r.body());
                Matcher m = ACK.matcher(r.body());
                assertTrue(m.matches(), r.body());
                Ack ack = new Ack(Integer.parseInt(m.group(1)), Long.parseLong(m.group(2)), Integer.parseInt(m.group(3)));
                assertEquals(null, stored.put(ack, "event-" + i), "two requests answered with one position: " + ack);
            }
            assertEquals(requests, collector.status().delivered());

            HttpResponse<String> get = client.send(HttpRequest.newBuilder(uri).GET().build(),
                    HttpResponse.BodyHandlers.ofString());
            assertEquals(405, get.statusCode());
            collector.close();
            HttpResponse<String> refused = client.send(HttpRequest.newBuilder(uri)
                    .POST(HttpRequest.BodyPublishers.ofString("late")).build(), HttpResponse.BodyHandlers.ofString());
            assertEquals(503, refused.statusCode(), "a closed collector refuses: " + refused.body());
        }
        if (!broker.isEmpty()) {
            assertEquals(requests, readBack(broker, topic, stored));
        }
    }

    /** Reads the topic from the start and checks every event against the position it was acknowledged at. */
    private static int readBack(String broker, String topic, Map<Ack, String> stored) {
        Map<String, Object> props = new HashMap<>();
        props.put("bootstrap.servers", broker);
        props.put("key.deserializer", ByteArrayDeserializer.class.getName());
        props.put("value.deserializer", ByteArrayDeserializer.class.getName());
        int found = 0;
        try (KafkaConsumer<byte[], byte[]> consumer = new KafkaConsumer<>(props)) {
            List<TopicPartition> partitions = new ArrayList<>();
            consumer.partitionsFor(topic).forEach(p -> partitions.add(new TopicPartition(topic, p.partition())));
            consumer.assign(partitions);
            consumer.seekToBeginning(partitions);
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
            while (found < stored.size() && System.nanoTime() < deadline) {
                for (ConsumerRecord<byte[], byte[]> r : consumer.poll(Duration.ofMillis(200))) {
                    List<byte[]> events = Frames.decode(r.value());
                    for (int i = 0; i < events.size(); i++) {
                        String expected = stored.get(new Ack(r.partition(), r.offset(), i));
                        assertNotNull(expected, "Kafka holds an event no request was answered for");
                        assertEquals(expected, new String(events.get(i), StandardCharsets.UTF_8));
                        found++;
                    }
                }
            }
        }
        return found;
    }
}
