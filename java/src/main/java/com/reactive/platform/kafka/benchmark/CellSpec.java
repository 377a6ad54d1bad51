package com.reactive.platform.kafka.benchmark;

import com.reactive.platform.gateway.microbatch.PressureLevel;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.TreeSet;

/**
 * What one brochure cell runs, as the {@code reactive} runner writes it in a {@code .properties}
 * file (see {@link BrochureCell} for the keys). Parsing checks every key and refuses unknown
 * ones, so a typo on either side fails loudly instead of running something else.
 *
 * @param config the collector configuration ({@code config.<key>} without the prefix), complete:
 *               the runner has resolved the mode into keys; passed to the collector (or, for
 *               {@code mode=producer}, its {@code kafka.*} keys to the producer) as is
 */
record CellSpec(Impl impl, Mode mode, String level, int eventBytes, Payload payload, int producers,
                RateSchedule schedule, Long timelineMillis, String broker, String topic, Path hgrm, Path result,
                Map<String, String> config) {

    /** Which code submits the events. */
    enum Impl {
        /** The pure-Java collector. */
        JAVA("java"),
        /** The Rust collector through JNI. */
        RUST_JNI("rust-jni");

        final String key;

        Impl(String key) {
            this.key = key;
        }
    }

    /** The brochure's variant mode; only {@code producer} changes what runs here. */
    enum Mode { ADAPTIVE, BULK, FIXED, PRODUCER }

    /** What each event's bytes are. */
    enum Payload { JSON, RANDOM }

    /** A spec the runner got wrong: exit code 2. */
    static final class Invalid extends RuntimeException {
        private static final long serialVersionUID = 1L;

        Invalid(String message) {
            super(message);
        }
    }

    static final String CONFIG_PREFIX = "config.";
    private static final Set<String> KEYS = Set.of("impl", "mode", "level", "event_bytes", "payload", "producers",
            "warmup_s", "duration_s", "rate", "steps", "timeline_ms", "broker", "topic", "hgrm", "result");

    CellSpec {
        config = Collections.unmodifiableMap(new LinkedHashMap<>(config));
    }

    /** True when the broker is each implementation's in-process stand-in. */
    boolean mockBroker() {
        return broker.equals("mock");
    }

    /**
     * Reads and checks a spec.
     *
     * @throws Invalid naming the first key that is missing, unknown or malformed
     */
    static CellSpec parse(Properties p) {
        Set<String> unknown = new TreeSet<>();
        Map<String, String> config = new LinkedHashMap<>();
        for (String key : p.stringPropertyNames()) {
            if (key.startsWith(CONFIG_PREFIX) && key.length() > CONFIG_PREFIX.length()) {
                config.put(key.substring(CONFIG_PREFIX.length()), p.getProperty(key).trim());
            } else if (!KEYS.contains(key)) {
                unknown.add(key);
            }
        }
        if (!unknown.isEmpty()) {
            throw new Invalid("unknown key" + (unknown.size() > 1 ? "s " : " ") + String.join(", ", unknown)
                    + "; known: " + String.join(", ", new TreeSet<>(KEYS)) + ", config.<collector key>");
        }
        Impl impl = choice(p, "impl", Impl.values(), i -> i.key);
        Mode mode = choice(p, "mode", Mode.values(), m -> m.name().toLowerCase(Locale.ROOT));
        if (mode == Mode.PRODUCER && impl != Impl.JAVA) {
            throw new Invalid("`mode=producer` runs kafka-clients' KafkaProducer: it needs `impl=java`, got `impl="
                    + impl.key + "` (the Rust side runs its own producer cells)");
        }
        String level = required(p, "level");
        if (!level.equalsIgnoreCase("auto") && PressureLevel.parseOrNull(level) == null) {
            throw new Invalid("`level` must be auto or L1_REALTIME..L10_MAX, got \"" + level + "\"");
        }
        int eventBytes = (int) integer(p, "event_bytes", 1, 64L << 20);
        Payload payload = choice(p, "payload", Payload.values(), x -> x.name().toLowerCase(Locale.ROOT));
        int producers = (int) integer(p, "producers", 1, 1024);
        double warmup = number(p, "warmup_s", 0, 86_400, true);
        RateSchedule schedule = schedule(p, warmup);
        Long timeline = optional(p, "timeline_ms") == null ? null : integer(p, "timeline_ms", 10, 3_600_000);
        String broker = required(p, "broker");
        String topic = required(p, "topic");
        Path hgrm = absolutePath(p, "hgrm");
        Path result = absolutePath(p, "result");
        if (mode == Mode.PRODUCER) {
            List<String> notKafka = new ArrayList<>();
            config.keySet().stream().filter(k -> !k.startsWith("kafka.")).forEach(notKafka::add);
            if (!notKafka.isEmpty()) {
                throw new Invalid("`mode=producer` has no collector: only config.kafka.* keys apply, got config."
                        + String.join(", config.", notKafka));
            }
        }
        return new CellSpec(impl, mode, level, eventBytes, payload, producers, schedule, timeline, broker, topic, hgrm,
                result, config);
    }

    /** {@code steps} when given (then {@code duration_s} is ignored), else {@code rate} for {@code duration_s}. */
    private static RateSchedule schedule(Properties p, double warmupSeconds) {
        String steps = optional(p, "steps");
        String rate = optional(p, "rate");
        if (steps != null) {
            List<RateSchedule.Step> parsed = new ArrayList<>();
            for (String step : steps.split(",")) {
                String[] rateAndSeconds = step.trim().split(":");
                if (rateAndSeconds.length != 2) {
                    throw new Invalid("`steps` must be rate:duration_s,rate:duration_s,..., got \"" + steps + "\"");
                }
                parsed.add(new RateSchedule.Step(positive("steps", rateAndSeconds[0]),
                        positive("steps", rateAndSeconds[1])));
            }
            return RateSchedule.steps(warmupSeconds, parsed);
        }
        double duration = number(p, "duration_s", 0, 86_400, false);
        if (rate == null) {
            return RateSchedule.unscheduled(warmupSeconds, duration);
        }
        return RateSchedule.steps(warmupSeconds, List.of(new RateSchedule.Step(positive("rate", rate), duration)));
    }

    private static String optional(Properties p, String key) {
        String v = p.getProperty(key);
        return v == null || v.isBlank() ? null : v.trim();
    }

    private static String required(Properties p, String key) {
        String v = optional(p, key);
        if (v == null) {
            throw new Invalid("missing key `" + key + "`");
        }
        return v;
    }

    private static <T> T choice(Properties p, String key, T[] values, java.util.function.Function<T, String> name) {
        String v = required(p, key);
        List<String> names = new ArrayList<>();
        for (T t : values) {
            if (name.apply(t).equals(v)) {
                return t;
            }
            names.add(name.apply(t));
        }
        throw new Invalid("`" + key + "` must be " + String.join(" or ", names) + ", got \"" + v + "\"");
    }

    private static long integer(Properties p, String key, long min, long max) {
        String v = required(p, key);
        try {
            long n = Long.parseLong(v);
            if (n >= min && n <= max) {
                return n;
            }
        } catch (NumberFormatException e) {
            // Reported below with the allowed range.
        }
        throw new Invalid("`" + key + "` must be an integer from " + min + " to " + max + ", got \"" + v + "\"");
    }

    /** A number within [min, max]; {@code zeroAllowed} false makes the range (0, max]. */
    private static double number(Properties p, String key, double min, double max, boolean zeroAllowed) {
        String v = required(p, key);
        double x;
        try {
            x = Double.parseDouble(v);
        } catch (NumberFormatException e) {
            x = Double.NaN;
        }
        if (!(x >= min && x <= max) || (!zeroAllowed && x == 0)) {
            throw new Invalid("`" + key + "` must be a number of seconds " + (zeroAllowed ? "from 0" : "above 0")
                    + " to " + (long) max + ", got \"" + v + "\"");
        }
        return x;
    }

    private static double positive(String key, String v) {
        double x;
        try {
            x = Double.parseDouble(v.trim());
        } catch (NumberFormatException e) {
            x = Double.NaN;
        }
        if (!(x > 0) || Double.isInfinite(x)) {
            throw new Invalid("`" + key + "` needs positive numbers, got \"" + v.trim() + "\"");
        }
        return x;
    }

    private static Path absolutePath(Properties p, String key) {
        String v = required(p, key);
        Path path = Path.of(v);
        if (!path.isAbsolute()) {
            throw new Invalid("`" + key + "` must be an absolute path, got \"" + v + "\"");
        }
        return path;
    }
}
