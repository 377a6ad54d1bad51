package com.reactive.platform.kafka.benchmark;

import com.reactive.platform.gateway.microbatch.Implementation;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.EnumSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;

/**
 * The command line every benchmark main shares: the seed's positional arguments (mode,
 * duration, broker, report directory, level names, ...) plus options.
 *
 * <pre>
 *   --impl java|rust|both   which collectors to run (default both: interleaved in one run)
 *   --duration S            seconds per measured round (a positional number is also a duration)
 *   --rounds R              measured rounds per variant (default 3); the median is reported
 *   --warmup S              seconds of the unmeasured warm-up round per variant (default min(2, duration))
 *   --threads 1,2,4         submitting threads, where the benchmark takes several
 *   --json PATH             where to write the JSON results (default reports/&lt;benchmark&gt;.json)
 * </pre>
 *
 * Anything else that starts with {@code --} is kept as a flag ({@link #flag}) or an option with
 * a value ({@link #option}); the rest are positional, in order.
 */
final class BenchArgs {
    final List<String> raw;
    final List<String> positional = new ArrayList<>();
    private final List<String[]> options = new ArrayList<>();
    private final Set<String> flags = new java.util.HashSet<>();

    /** Options that take a value; any other {@code --x} is a flag. */
    private static final Set<String> VALUED = Set.of("--impl", "--duration", "--rounds", "--warmup", "--threads",
            "--json", "--broker", "--db", "--sizes", "--forks", "--iterations", "--batch", "--levels", "--phases",
            "--include", "--events", "--submit", "--sink", "--crate", "--warmups", "--rust-bench");

    BenchArgs(String[] args) {
        raw = List.of(args);
        for (int i = 0; i < args.length; i++) {
            String a = args[i];
            if (a.startsWith("--")) {
                String name = a;
                String value = null;
                int eq = a.indexOf('=');
                if (eq > 0) {
                    name = a.substring(0, eq);
                    value = a.substring(eq + 1);
                } else if (VALUED.contains(a)) {
                    if (i + 1 >= args.length) {
                        throw new IllegalArgumentException(a + " needs a value");
                    }
                    value = args[++i];
                }
                if (value == null) {
                    flags.add(name);
                } else {
                    options.add(new String[] {name, value});
                }
            } else {
                positional.add(a);
            }
        }
    }

    boolean flag(String name) {
        return flags.contains(name);
    }

    String option(String name, String otherwise) {
        String found = otherwise;
        for (String[] o : options) {
            if (o[0].equals(name)) {
                found = o[1];
            }
        }
        return found;
    }

    int intOption(String name, int otherwise) {
        return Integer.parseInt(option(name, Integer.toString(otherwise)));
    }

    /** The implementations asked for: {@code --impl java|rust|both} (default both). */
    Set<Implementation> impls() {
        String v = option("--impl", "both").trim().toLowerCase(Locale.ROOT);
        if (v.equals("both")) {
            return EnumSet.of(Implementation.JAVA, Implementation.RUST);
        }
        return EnumSet.of(Implementation.parse(v));
    }

    /** {@code --duration S}, else the first positional integer, else {@code otherwise}. */
    Duration duration(int otherwiseSeconds) {
        String d = option("--duration", null);
        if (d == null) {
            for (String p : positional) {
                if (p.matches("\\d+(\\.\\d+)?")) {
                    d = p;
                    break;
                }
            }
        }
        double s = d == null ? otherwiseSeconds : Double.parseDouble(d);
        if (s <= 0) {
            throw new IllegalArgumentException("duration must be positive, got " + d);
        }
        return Duration.ofMillis((long) (s * 1000));
    }

    Duration warmup(Duration measured) {
        String w = option("--warmup", null);
        if (w != null) {
            return Duration.ofMillis((long) (Double.parseDouble(w) * 1000));
        }
        return measured.compareTo(Duration.ofSeconds(2)) < 0 ? measured : Duration.ofSeconds(2);
    }

    int rounds(int otherwise) {
        return Math.max(1, intOption("--rounds", otherwise));
    }

    List<Integer> threads(String otherwise) {
        List<Integer> t = new ArrayList<>();
        for (String s : option("--threads", otherwise).split(",")) {
            t.add(Integer.parseInt(s.trim()));
        }
        return Collections.unmodifiableList(t);
    }

    /**
     * The broker: {@code --broker}, else the first positional that looks like an address or is
     * {@code mock}/{@code none}; "mock" when absent.
     */
    String broker() {
        String b = option("--broker", null);
        if (b == null) {
            for (String p : positional) {
                if (p.equals("mock") || p.equals("none") || p.matches("[\\w.\\-]+:\\d+(,[\\w.\\-]+:\\d+)*")) {
                    b = p;
                    break;
                }
            }
        }
        return b == null || b.equals("none") ? "mock" : b;
    }

    boolean mockBroker() {
        return broker().equals("mock");
    }

    Path json(String benchmark) {
        return Path.of(option("--json", "reports/" + benchmark + ".json"));
    }
}
