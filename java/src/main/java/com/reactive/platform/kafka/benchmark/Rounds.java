package com.reactive.platform.kafka.benchmark;

import java.io.PrintStream;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Runs variants the way the Rust side-by-side benchmarks do: one unmeasured warm-up round each
 * (JIT, page faults, broker topic creation), then measured rounds in which the variants take
 * turns, in alternating order (forward, then backward) so that no variant always runs first or
 * right after the same neighbour; each row is the median of its rounds, with min and max.
 */
final class Rounds {
    private Rounds() {
    }

    static List<Row> run(List<Variant> variants, Duration warmup, Duration measured, int rounds, Report report) {
        PrintStream out = System.out;
        List<Variant> live = new ArrayList<>();
        for (Variant v : variants) {
            if (warmup.isZero()) {
                live.add(v);
                continue;
            }
            try {
                Measurement m = v.trial().run(warmup);
                out.printf(Locale.ROOT, "  warm-up  %-22s %-13s %,14.0f events/s%n", v.name(), v.impl(), m.eventsPerSec());
                live.add(v);
            } catch (Exception | LinkageError e) {
                report.failed(v, e);
            }
        }
        Map<Variant, List<Measurement>> results = new LinkedHashMap<>();
        for (Variant v : live) {
            results.put(v, new ArrayList<>());
        }
        for (int r = 0; r < rounds; r++) {
            List<Variant> order = new ArrayList<>(live);
            if (r % 2 == 1) {
                java.util.Collections.reverse(order);
            }
            for (Variant v : order) {
                if (!results.containsKey(v)) {
                    continue;
                }
                try {
                    Measurement m = v.trial().run(measured);
                    results.get(v).add(m);
                    out.printf(Locale.ROOT, "  round %d/%d %-22s %-13s %,14.0f events/s  (%,d events in %.2f s)%n", r + 1,
                            rounds, v.name(), v.impl(), m.eventsPerSec(), m.events(), m.seconds());
                } catch (Exception | LinkageError e) {
                    report.failed(v, e);
                    results.remove(v);
                }
            }
        }
        List<Row> rows = new ArrayList<>();
        for (Map.Entry<Variant, List<Measurement>> e : results.entrySet()) {
            rows.add(summarize(e.getKey(), e.getValue()));
        }
        report.add(rows);
        return rows;
    }

    static Row summarize(Variant v, List<Measurement> ms) {
        double[] eps = ms.stream().mapToDouble(Measurement::eventsPerSec).toArray();
        String level = ms.isEmpty() ? v.level() : ms.get(ms.size() / 2).level();
        if (!v.level().equals("auto") && !v.level().equals("-")) {
            level = v.level();
        } else if (v.level().equals("auto")) {
            level = "auto -> " + level;
        }
        return new Row(v.name(), v.impl(), level, v.threads(), Events.DEFAULT_BYTES, median(eps),
                medianOf(ms, Measurement::p50Micros), medianOf(ms, Measurement::p99Micros),
                medianOf(ms, Measurement::p999Micros), null,
                median(ms.stream().mapToDouble(Measurement::cpuUserMsPerMillion).toArray()),
                median(ms.stream().mapToDouble(Measurement::cpuSysMsPerMillion).toArray()), ms.size(),
                Arrays.stream(eps).min().orElse(0), Arrays.stream(eps).max().orElse(0), bytesPerEvent(ms), v.moves(), null);
    }

    private static double bytesPerEvent(List<Measurement> ms) {
        double[] xs = ms.stream().filter(m -> m.sinkBytes() > 0 && m.events() > 0)
                .mapToDouble(m -> (double) m.sinkBytes() / m.events()).toArray();
        return xs.length == 0 ? -1 : median(xs);
    }

    private static double medianOf(List<Measurement> ms, java.util.function.ToLongFunction<Measurement> f) {
        double[] xs = ms.stream().mapToLong(f).filter(x -> x >= 0).asDoubleStream().toArray();
        return xs.length == 0 ? -1 : median(xs);
    }

    static double median(double[] xs) {
        if (xs.length == 0) {
            return 0;
        }
        double[] s = xs.clone();
        Arrays.sort(s);
        int n = s.length;
        return n % 2 == 1 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
    }
}
