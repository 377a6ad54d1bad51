package com.reactive.platform.gateway.microbatch;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The same keys, values and messages as the C library's src/config.rs. */
class CollectorConfigTest {
    private static String refused(CollectorConfig c, String key, String value) {
        return assertThrows(IllegalArgumentException.class, () -> c.set(key, value), key + "=" + value).getMessage();
    }

    @Test
    void defaultsValidate() {
        CollectorConfig c = new CollectorConfig();
        assertDoesNotThrow(c::validate);
        assertEquals(2, c.flushThreads());
        assertEquals(Runtime.getRuntime().availableProcessors(), c.partitions());
        assertEquals(983_040, c.batchMaxBytes());
        assertEquals(Duration.ofSeconds(10), c.pressureWindow());
        assertEquals("microbatch", c.kafkaTopic());
        assertNull(c.level());
    }

    @Test
    void everyDocumentedKeyIsSettableAndEveryBadValueRefused() {
        Map<String, String> good = new LinkedHashMap<>();
        good.put("partitions", "4");
        good.put("flush.threads", "1");
        good.put("ring.type", "mpsc");
        good.put("submit.lease", "false");
        good.put("ring.capacity.bytes", "65536");
        good.put("event.max.bytes", "100");
        good.put("batch.max.events", "10");
        good.put("batch.max.bytes", "4096");
        good.put("batch.linger.ms", "100");
        good.put("pressure.window.ms", "500");
        good.put("latency.max.ms", "100");
        good.put("level", "L3_LOW");
        good.put("submit.block.ms", "5");
        good.put("close.timeout.ms", "100");
        good.put("tracking.slots", "16");
        good.put("sink", "null");
        good.put("kafka.topic", "events");
        good.put("kafka.mode", "record");
        assertEquals(CollectorConfig.C_KEYS, List.copyOf(good.keySet()), "a documented key has no test");
        good.put("ack.timeout.ms", "100");
        good.put("calibration.enabled", "false");
        good.put("calibration.path", "/tmp/x.db");
        good.put("calibration.explore", "false");
        good.put("calibration.explore.ratio", "0.5");
        good.put("calibration.seed", "42");
        good.put("calibration.target.latency.us", "2500");
        for (Map.Entry<String, String> e : good.entrySet()) {
            CollectorConfig c = new CollectorConfig();
            assertDoesNotThrow(() -> c.set(e.getKey(), e.getValue()), e.getKey());
            String bad = e.getKey().equals("kafka.topic") || e.getKey().equals("calibration.path") ? "" : "bogus";
            String message = refused(c, e.getKey(), bad);
            assertTrue(message.contains(e.getKey()), message);
        }
        assertEquals(4, CollectorConfig.parse(good).partitions());
    }

    @Test
    void messagesAreTheCLibrarysWordForWord() {
        CollectorConfig c = new CollectorConfig();
        assertEquals("`partitions` must be an integer from 1 to 1024, got \"0\"", refused(c, "partitions", "0"));
        assertEquals("`flush.threads` must be an integer from 1 to 64, got \"65\"", refused(c, "flush.threads", "65"));
        assertEquals("`batch.max.events` must be an integer from 1 to 4294967295, got \"-1\"",
                refused(c, "batch.max.events", "-1"));
        assertEquals("`ring.type` must be spsc or mpsc, got \"ring\"", refused(c, "ring.type", "ring"));
        assertEquals("`submit.lease` must be true or false, got \"yes\"", refused(c, "submit.lease", "yes"));
        assertEquals("`level` must be auto, 1..10 or a name L1_REALTIME..L10_MAX, got \"11\"", refused(c, "level", "11"));
        assertEquals("`sink` must be kafka, null or callback, got \"file\"", refused(c, "sink", "file"));
        assertEquals("`kafka.mode` must be frame or record, got \" frame\"", refused(c, "kafka.mode", " frame"));
        assertEquals("`kafka.topic` must not be empty", refused(c, "kafka.topic", ""));
        assertEquals("`event.max.bytes` must be an integer from 1 to 536870912, got \"536870913\"",
                refused(c, "event.max.bytes", "536870913"));
        String unknown = refused(c, "nope", "1");
        assertTrue(unknown.startsWith("unknown key `nope`; known keys: partitions, flush.threads, ring.type, submit.lease,"
                + " ring.capacity.bytes, event.max.bytes, batch.max.events, batch.max.bytes, batch.linger.ms,"
                + " pressure.window.ms,"
                + " latency.max.ms, level, submit.block.ms, close.timeout.ms, tracking.slots, sink, kafka.topic,"
                + " kafka.mode, "), unknown);
        assertTrue(unknown.endsWith(", kafka.<librdkafka property>"), unknown);
        refused(c, "kafka.", "x");
    }

    @Test
    void valuesAreTrimmedAndParsedAsTheCLibraryDoes() {
        CollectorConfig c = new CollectorConfig();
        c.set("partitions", " 8 ").set("ring.type", "MPSC").set("level", " l9_extreme ").set("submit.lease", "0");
        assertEquals(8, c.partitions());
        assertEquals(CollectorConfig.RingType.MPSC, c.ringType());
        assertEquals(PressureLevel.L9_EXTREME, c.level());
        c.set("level", "9");
        assertEquals(PressureLevel.L9_EXTREME, c.level());
        c.set("level", "AUTO");
        assertNull(c.level());
        c.set("kafka.acks", "all");
        assertEquals("all", c.kafkaProperties().get("acks"));
    }

    @Test
    void keysAreCheckedAgainstEachOther() {
        CollectorConfig tooHigh = new CollectorConfig().set("latency.max.ms", "50").set("level", "L5_BALANCED");
        assertEquals("`level` = L5_BALANCED has a 100 ms budget, above `latency.max.ms` = 50",
                assertThrows(IllegalArgumentException.class, tooHigh::validate).getMessage());

        CollectorConfig smallFrame = new CollectorConfig().set("batch.max.bytes", "1000");
        assertEquals("`event.max.bytes` = 65536 does not fit a frame of `batch.max.bytes` = 1000 (needs 65548)",
                assertThrows(IllegalArgumentException.class, smallFrame::validate).getMessage());

        CollectorConfig smallRing = new CollectorConfig().set("ring.capacity.bytes", "4096");
        assertEquals("`event.max.bytes` = 65536 exceeds what a ring of `ring.capacity.bytes` = 4096 can hold (2012)",
                assertThrows(IllegalArgumentException.class, smallRing::validate).getMessage());

        assertEquals(PressureLevel.L5_BALANCED, new CollectorConfig().set("latency.max.ms", "499").ceiling());
    }

    @Test
    void callbackSinkNeedsABatchSink() {
        String message = refused(new CollectorConfig(), "sink", "callback");
        assertTrue(message.startsWith("`sink=callback` needs a frame callback"), message);
        CollectorConfig withSink = new CollectorConfig().useCallbackSink();
        assertDoesNotThrow(() -> withSink.set("sink", "callback"));
        assertEquals(CollectorConfig.SinkType.CALLBACK, withSink.sink());
        CollectorConfig explicitNull = new CollectorConfig().set("sink", "null").useCallbackSink();
        assertEquals(CollectorConfig.SinkType.NULL, explicitNull.sink(), "an explicit sink wins over the callback");
    }

    @Test
    void ringSlotsFollowTheCapacityInBytes() {
        assertEquals(65_536, new CollectorConfig().ringSlots());
        assertEquals(64, new CollectorConfig().set("ring.capacity.bytes", "4096").ringSlots());
        assertEquals(1 << 21, CollectorConfig.ringCapacity((1 << 20) + 1));
    }
}
