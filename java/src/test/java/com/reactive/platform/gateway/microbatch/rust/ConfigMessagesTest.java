package com.reactive.platform.gateway.microbatch.rust;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.reactive.platform.gateway.microbatch.CollectorConfig;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The Java side checks every key before the native side sees it, so a user gets the same
 * message from either implementation; this holds only while its messages are the native
 * library's, word for word, which this test checks against the library itself.
 */
class ConfigMessagesTest {
    @BeforeEach
    void nativeLibrary() {
        assumeTrue(RustMicrobatchCollector.unavailableReason() == null,
                "skipped: native library not built (" + RustMicrobatchCollector.unavailableReason() + ")");
    }

    private static String javaMessage(Map<String, String> config) {
        return assertThrows(IllegalArgumentException.class, () -> CollectorConfig.parse(config), config.toString())
                .getMessage();
    }

    private static String nativeMessage(Map<String, String> config) {
        List<String> keys = new ArrayList<>(List.of("calibration.enabled"));
        List<String> values = new ArrayList<>(List.of("false"));
        config.forEach((k, v) -> {
            keys.add(k);
            values.add(v);
        });
        return assertThrows(IllegalArgumentException.class,
                () -> NativeBridge.close(NativeBridge.create(keys.toArray(new String[0]), values.toArray(new String[0]),
                        null), null), config.toString()).getMessage();
    }

    private static Map<String, String> config(String... pairs) {
        Map<String, String> m = new LinkedHashMap<>();
        for (int i = 0; i < pairs.length; i += 2) {
            m.put(pairs[i], pairs[i + 1]);
        }
        return m;
    }

    /**
     * All but {@code sink=callback} without a sink, where each names its own way to give one
     * (a C callback, a BatchSink).
     */
    @Test
    void everyBadValueIsRefusedWithTheNativeLibrarysMessage() {
        List<Map<String, String>> bad = List.of(
                config("partitions", "0"), config("flush.threads", "65"), config("ring.type", "ring"),
                config("submit.lease", "maybe"), config("ring.capacity.bytes", "1"), config("event.max.bytes", "0"),
                config("batch.max.events", "0"), config("batch.max.bytes", "63"), config("batch.linger.ms", "1800001"),
                config("batch.linger.ms", "-1"), config("pressure.window.ms", "0"),
                config("latency.max.ms", "x"), config("level", "L11"), config("submit.block.ms", "-1"),
                config("close.timeout.ms", "3600001"), config("tracking.slots", "0"), config("sink", "file"),
                config("kafka.topic", ""), config("kafka.mode", "batch"),
                config("calibration.enabled", "yes"), config("calibration.path", " "),
                config("calibration.explore", "2"), config("calibration.explore.ratio", "1.5"),
                config("calibration.seed", "-1"), config("calibration.target.latency.us", "30000001"),
                // Keys against each other.
                config("latency.max.ms", "50", "level", "L5_BALANCED"),
                config("event.max.bytes", "2000", "batch.max.bytes", "1000"),
                config("ring.capacity.bytes", "4096", "event.max.bytes", "3000"));
        for (Map<String, String> c : bad) {
            assertEquals(nativeMessage(c), javaMessage(c), c.toString());
        }
    }
}
