package com.reactive.platform.kafka.benchmark;

import com.reactive.platform.gateway.microbatch.Implementation;
import com.reactive.platform.gateway.microbatch.MicrobatchCollector;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Which implementations can run here. The benchmarks reach both only through
 * {@link MicrobatchCollector#create}: availability is probed by creating (and closing) a
 * collector with the null sink, so a missing native library shows as a reason, not a failure.
 */
final class Impls {
    private static final Map<Implementation, String> REASONS = new EnumMap<>(Implementation.class);

    private Impls() {
    }

    static String label(Implementation impl) {
        return impl.name().toLowerCase(Locale.ROOT);
    }

    /** Null when {@code impl} can be created here, else why not. */
    static synchronized String unavailableReason(Implementation impl) {
        if (REASONS.containsKey(impl)) {
            return REASONS.get(impl);
        }
        String reason = null;
        try (MicrobatchCollector c = MicrobatchCollector.create(impl, Map.of("sink", "null"))) {
            c.status();
        } catch (RuntimeException | LinkageError e) {
            reason = e.getMessage() != null ? e.getMessage() : e.toString();
        }
        REASONS.put(impl, reason);
        return reason;
    }

    /** The implementations asked for that can run; the others are reported unavailable. */
    static List<Implementation> runnable(BenchArgs args, Report report) {
        List<Implementation> ok = new ArrayList<>();
        for (Implementation impl : args.impls()) {
            String reason = unavailableReason(impl);
            if (reason == null) {
                ok.add(impl);
            } else {
                report.unavailable(label(impl), reason);
            }
        }
        return ok;
    }
}
