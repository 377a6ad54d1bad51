package com.reactive.platform.gateway.microbatch;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;

/**
 * A collector's configuration: the C library's string keys ({@code src/config.rs}), checked the
 * same way and refused with the same messages, so a Java user who switches implementation sees
 * the same answers. {@link #set} checks one key on its own; {@link #validate} checks the keys
 * against each other, as {@code mb_collector_new} does.
 *
 * <p>Keys beyond the C library's 18 listed here: {@code ack.timeout.ms} and the {@code calibration.*} keys
 * (the calibration issue's names), and {@code microbatch.impl}, which
 * {@link MicrobatchCollector#create(Map)} consumes before the rest is parsed.
 *
 * <p>Where the Java implementation interprets a key differently, it says so here:
 * <ul>
 *   <li>{@code ring.capacity.bytes}: the Java rings hold references to events, not their bytes;
 *       a ring gets {@code ring.capacity.bytes / 64} slots (rounded up to a power of two,
 *       65,536 by default), about as many events of 50 bytes as the Rust ring holds.</li>
 *   <li>{@code submit.lease}: accepted and ignored (the Java collector has no leases).</li>
 *   <li>{@code kafka.<property>}: passed verbatim to kafka-clients' producer, which rejects a
 *       bad value when the collector is created.</li>
 * </ul>
 */
public final class CollectorConfig {
    /** The C library's documented keys, in its order (its "known keys" message lists them so). */
    static final List<String> C_KEYS = List.of(
            "partitions", "flush.threads", "ring.type", "submit.lease", "ring.capacity.bytes",
            "event.max.bytes", "batch.max.events", "batch.max.bytes", "batch.linger.ms", "pressure.window.ms",
            "latency.max.ms", "level", "submit.block.ms", "close.timeout.ms", "tracking.slots",
            "sink", "kafka.topic", "kafka.mode");

    /** Keys of the acknowledgement and calibration features, shared with the Rust side. */
    static final List<String> EXTRA_KEYS = List.of(
            "ack.timeout.ms", "calibration.enabled", "calibration.path", "calibration.explore",
            "calibration.explore.ratio", "calibration.seed", "calibration.target.latency.us");

    /** Largest event a ring accepts ({@code ring::MAX_EVENT_BYTES}). */
    static final long MAX_EVENT_BYTES = 1L << 29;
    /** {@code spsc::SEG_HEADER + frame::FRAME_HEADER + frame::EVENT_PREFIX + spsc::TAG_ENTRY}. */
    private static final long SPSC_ONE_EVENT_OVERHEAD = 16 + 8 + 4 + 8;
    /** {@code ring::HEADER + ring::TAG}. */
    private static final long MPSC_RECORD_OVERHEAD = 8 + 4;

    /** Which ring a partition uses. */
    public enum RingType { SPSC, MPSC }

    /** Where frames go. */
    public enum SinkType { KAFKA, NULL, CALLBACK }

    /** One Kafka record per frame, or one per event. */
    public enum KafkaMode { FRAME, RECORD }

    int partitions = Runtime.getRuntime().availableProcessors();
    int flushThreads = 2;
    RingType ringType = RingType.SPSC;
    long ringCapacityBytes = 4L << 20;
    boolean submitLease = true;
    int eventMaxBytes = 64 << 10;
    long batchMaxEvents = 1_000_000;
    int batchMaxBytes = 960 << 10;
    /** {@code batch.linger.ms}: one T for every level, kept whatever calibration proposes; null: unset. */
    Duration batchLinger;
    Duration pressureWindow = Duration.ofSeconds(10);
    Duration latencyMax = Duration.ofSeconds(30);
    PressureLevel level; // null: auto
    Duration submitBlock = Duration.ZERO;
    Duration closeTimeout = Duration.ofSeconds(5);
    int trackingSlots = 65_536;
    SinkType sink = SinkType.KAFKA;
    boolean sinkExplicit;
    String kafkaTopic = "microbatch";
    KafkaMode kafkaMode = KafkaMode.FRAME;
    final Map<String, String> kafka = new LinkedHashMap<>();

    Duration ackTimeout = Duration.ofSeconds(60);
    boolean calibrationEnabled = true;
    String calibrationPath = "~/.reactive/calibration.db";
    boolean calibrationExplore = true;
    double calibrationExploreRatio = 0.2;
    long calibrationSeed = 0x5EED;
    double calibrationTargetLatencyMicros = 5_000.0;

    /** The defaults. */
    public CollectorConfig() {
    }

    /**
     * Parses every entry of {@code config} with {@link #set} and then {@link #validate}s.
     *
     * @throws IllegalArgumentException naming the first bad key and what it allows
     */
    public static CollectorConfig parse(Map<String, String> config) {
        return parse(config, false);
    }

    /**
     * As {@link #parse(Map)}; with {@code callbackSink}, frames go to a {@link BatchSink} passed
     * to the collector unless the {@code sink} key says otherwise ({@link #useCallbackSink}).
     */
    public static CollectorConfig parse(Map<String, String> config, boolean callbackSink) {
        Objects.requireNonNull(config, "config");
        CollectorConfig c = new CollectorConfig();
        if (callbackSink) {
            c.useCallbackSink();
        }
        for (Map.Entry<String, String> e : config.entrySet()) {
            if (e.getKey() == null || e.getValue() == null) {
                throw new IllegalArgumentException("configuration keys and values must not be null, got "
                        + e.getKey() + "=" + e.getValue());
            }
            c.set(e.getKey(), e.getValue());
        }
        c.validate();
        return c;
    }

    private static IllegalArgumentException invalid(String message) {
        return new IllegalArgumentException(message);
    }

    /** {@code parse_int} of config.rs: a u64 within [min, max], or its message. */
    private static long parseInt(String key, String value, long min, long max) {
        long v;
        try {
            v = Long.parseUnsignedLong(value.trim());
        } catch (NumberFormatException e) {
            v = -1;
        }
        // Compare unsigned: the bounds are all below 2^63 except u64::MAX-sized ones, which
        // this parser never uses.
        if (v < 0 || v < min || v > max) {
            throw invalid("`" + key + "` must be an integer from " + min + " to " + max + ", got \"" + value + "\"");
        }
        return v;
    }

    private static Duration millis(String key, String value, long min, long max) {
        return Duration.ofMillis(parseInt(key, value, min, max));
    }

    private static boolean parseBool(String key, String value) {
        switch (value.trim().toLowerCase(Locale.ROOT)) {
            case "true":
            case "1":
                return true;
            case "false":
            case "0":
                return false;
            default:
                throw invalid("`" + key + "` must be true or false, got \"" + value + "\"");
        }
    }

    /** A number from 0 to 1, as config.rs parses {@code calibration.explore.ratio}. */
    private static double parseFraction(String key, String value) {
        double v;
        try {
            v = Double.parseDouble(value.trim());
        } catch (NumberFormatException e) {
            v = Double.NaN;
        }
        if (!(v >= 0.0 && v <= 1.0)) {
            throw invalid("`" + key + "` must be a number from 0 to 1, got \"" + value + "\"");
        }
        return v;
    }

    /**
     * Sets one key. An unknown key or a bad value is refused with a message naming the key and
     * what it allows; the configuration is then unchanged.
     *
     * @throws IllegalArgumentException as the C library's {@code MB_ERR_INVALID_CONFIG}
     */
    public CollectorConfig set(String key, String value) {
        Objects.requireNonNull(key, "key");
        Objects.requireNonNull(value, "value");
        switch (key) {
            case "partitions":
                partitions = (int) parseInt(key, value, 1, 1024);
                break;
            case "flush.threads":
                flushThreads = (int) parseInt(key, value, 1, 64);
                break;
            case "ring.type":
                switch (value.trim().toLowerCase(Locale.ROOT)) {
                    case "spsc":
                        ringType = RingType.SPSC;
                        break;
                    case "mpsc":
                        ringType = RingType.MPSC;
                        break;
                    default:
                        throw invalid("`ring.type` must be spsc or mpsc, got \"" + value + "\"");
                }
                break;
            case "ring.capacity.bytes":
                ringCapacityBytes = parseInt(key, value, 4096, 1L << 30);
                break;
            case "submit.lease":
                submitLease = parseBool(key, value);
                break;
            case "event.max.bytes":
                eventMaxBytes = (int) parseInt(key, value, 1, MAX_EVENT_BYTES);
                break;
            case "batch.max.events":
                batchMaxEvents = parseInt(key, value, 1, 0xFFFF_FFFFL);
                break;
            case "batch.max.bytes":
                batchMaxBytes = (int) parseInt(key, value, 64, Integer.MAX_VALUE);
                break;
            case "batch.linger.ms":
                // Fixed T for every level in ms: overrides the level's bootstrap T and
                // calibration does not tune T.
                batchLinger = millis(key, value, 0, 1_800_000);
                break;
            case "pressure.window.ms":
                pressureWindow = millis(key, value, 1, 3_600_000);
                break;
            case "latency.max.ms":
                latencyMax = millis(key, value, 1, 86_400_000);
                break;
            case "level":
                if (value.trim().equalsIgnoreCase("auto")) {
                    level = null;
                } else {
                    PressureLevel parsed = PressureLevel.parseOrNull(value);
                    if (parsed == null) {
                        throw invalid("`level` must be auto, 1..10 or a name L1_REALTIME..L10_MAX, got \"" + value + "\"");
                    }
                    level = parsed;
                }
                break;
            case "submit.block.ms":
                submitBlock = millis(key, value, 0, 3_600_000);
                break;
            case "close.timeout.ms":
                closeTimeout = millis(key, value, 0, 3_600_000);
                break;
            case "tracking.slots":
                trackingSlots = (int) parseInt(key, value, 1, 1 << 24);
                break;
            case "sink":
                switch (value.trim()) {
                    case "null":
                        sink = SinkType.NULL;
                        break;
                    case "kafka":
                        sink = SinkType.KAFKA;
                        break;
                    case "callback":
                        if (sink != SinkType.CALLBACK) {
                            throw invalid("`sink=callback` needs a frame callback: pass a BatchSink to MicrobatchCollector.create");
                        }
                        break;
                    default:
                        throw invalid("`sink` must be kafka, null or callback, got \"" + value + "\"");
                }
                sinkExplicit = true;
                break;
            case "kafka.mode":
                if (value.equals("frame")) {
                    kafkaMode = KafkaMode.FRAME;
                } else if (value.equals("record")) {
                    kafkaMode = KafkaMode.RECORD;
                } else {
                    throw invalid("`kafka.mode` must be frame or record, got \"" + value + "\"");
                }
                break;
            case "kafka.topic":
                if (value.isEmpty()) {
                    throw invalid("`kafka.topic` must not be empty");
                }
                kafkaTopic = value;
                break;
            case "ack.timeout.ms":
                ackTimeout = millis(key, value, 0, 86_400_000);
                break;
            case "calibration.enabled":
                calibrationEnabled = parseBool(key, value);
                break;
            case "calibration.path":
                if (value.isBlank() || value.indexOf('\0') >= 0) {
                    throw invalid("`calibration.path` must be a file path (`~/` allowed) or :memory:, got \"" + value + "\"");
                }
                calibrationPath = value.trim();
                break;
            case "calibration.explore":
                calibrationExplore = parseBool(key, value);
                break;
            case "calibration.explore.ratio":
                calibrationExploreRatio = parseFraction(key, value);
                break;
            case "calibration.seed":
                if (value.trim().equalsIgnoreCase("auto")) {
                    calibrationSeed = System.nanoTime();
                } else {
                    try {
                        calibrationSeed = Long.parseUnsignedLong(value.trim());
                    } catch (NumberFormatException e) {
                        throw invalid("`calibration.seed` must be auto or an integer from 0 to "
                                + Long.toUnsignedString(-1L) + ", got \"" + value + "\"");
                    }
                }
                break;
            case "calibration.target.latency.us":
                calibrationTargetLatencyMicros = parseInt(key, value, 0, 30_000_000);
                break;
            default:
                if (key.startsWith("kafka.") && key.length() > "kafka.".length()) {
                    // Passed to the Kafka client verbatim; it validates them when the collector
                    // is created.
                    kafka.put(key.substring("kafka.".length()), value);
                    break;
                }
                List<String> known = new ArrayList<>(C_KEYS);
                known.addAll(EXTRA_KEYS);
                throw invalid("unknown key `" + key + "`; known keys: " + String.join(", ", known)
                        + ", kafka.<librdkafka property>");
        }
        return this;
    }

    /**
     * Frames go to a {@link BatchSink} passed to the collector: makes {@code callback} the sink
     * unless {@code sink} was set otherwise. Call it before {@link #set}ting the keys.
     */
    public CollectorConfig useCallbackSink() {
        if (!sinkExplicit || sink == SinkType.CALLBACK) {
            sink = SinkType.CALLBACK;
        }
        return this;
    }

    /** The level ceiling implied by {@code latency.max.ms}. */
    public PressureLevel ceiling() {
        PressureLevel ceiling = PressureLevel.ceilingFor(latencyMax);
        if (ceiling == null) {
            throw invalid("`latency.max.ms` = " + latencyMax.toMillis() + " is below the smallest budget (1 ms)");
        }
        return ceiling;
    }

    /**
     * Checks the keys against each other, as {@code Config::validate} does.
     *
     * @throws IllegalArgumentException with the C library's message
     */
    public void validate() {
        PressureLevel ceiling = ceiling();
        if (level != null && level.compareTo(ceiling) > 0) {
            throw invalid("`level` = " + level + " has a " + level.budgetMillis() + " ms budget, above `latency.max.ms` = "
                    + latencyMax.toMillis());
        }
        long oneEventFrame = Frames.HEADER_BYTES + Frames.EVENT_PREFIX_BYTES + (long) eventMaxBytes;
        if (oneEventFrame > batchMaxBytes) {
            throw invalid("`event.max.bytes` = " + eventMaxBytes + " does not fit a frame of `batch.max.bytes` = "
                    + batchMaxBytes + " (needs " + oneEventFrame + ")");
        }
        long ringMax = maxEventForCapacity(ringCapacity(ringCapacityBytes));
        if (eventMaxBytes > ringMax) {
            throw invalid("`event.max.bytes` = " + eventMaxBytes + " exceeds what a ring of `ring.capacity.bytes` = "
                    + ringCapacityBytes + " can hold (" + ringMax + ")");
        }
    }

    /** {@code ring::ring_capacity}: at least 64, rounded up to a power of two. */
    static long ringCapacity(long requested) {
        long n = Math.max(requested, 64);
        return Long.highestOneBit(n - 1) << 1;
    }

    /** {@code ring::max_event_for_capacity}: the smaller of the SPSC and MPSC one-event limits. */
    static long maxEventForCapacity(long capacity) {
        long spsc = Math.max(0, capacity / 2 - SPSC_ONE_EVENT_OVERHEAD);
        long mpsc = Math.max(0, capacity / 2 - MPSC_RECORD_OVERHEAD);
        return Math.min(spsc, mpsc);
    }

    /** Slots of a Java ring: one per 64 bytes of {@code ring.capacity.bytes}, a power of two. */
    int ringSlots() {
        return (int) Math.max(64, ringCapacity(ringCapacityBytes) / 64);
    }

    // Read access for the implementations and tests.

    public int partitions() { return partitions; }
    public int flushThreads() { return flushThreads; }
    public RingType ringType() { return ringType; }
    public long ringCapacityBytes() { return ringCapacityBytes; }
    public int eventMaxBytes() { return eventMaxBytes; }
    public long batchMaxEvents() { return batchMaxEvents; }
    public int batchMaxBytes() { return batchMaxBytes; }
    /** {@code batch.linger.ms}, or null when each level keeps its own T. */
    public Duration batchLinger() { return batchLinger; }
    public Duration pressureWindow() { return pressureWindow; }
    public Duration latencyMax() { return latencyMax; }
    /** The forced level, or null for {@code auto}. */
    public PressureLevel level() { return level; }
    public Duration submitBlock() { return submitBlock; }
    public Duration closeTimeout() { return closeTimeout; }
    public int trackingSlots() { return trackingSlots; }
    public SinkType sink() { return sink; }
    public String kafkaTopic() { return kafkaTopic; }
    public KafkaMode kafkaMode() { return kafkaMode; }
    /** The {@code kafka.<property>} keys without their prefix, for the Kafka client. */
    public Map<String, String> kafkaProperties() { return Collections.unmodifiableMap(kafka); }
    public Duration ackTimeout() { return ackTimeout; }
    public boolean calibrationEnabled() { return calibrationEnabled; }
    public String calibrationPath() { return calibrationPath; }
    public boolean calibrationExplore() { return calibrationExplore; }
    public double calibrationExploreRatio() { return calibrationExploreRatio; }
    public long calibrationSeed() { return calibrationSeed; }
    public double calibrationTargetLatencyMicros() { return calibrationTargetLatencyMicros; }
}
