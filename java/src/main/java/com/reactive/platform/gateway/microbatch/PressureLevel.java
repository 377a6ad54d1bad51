package com.reactive.platform.gateway.microbatch;

import java.time.Duration;
import java.util.Locale;

/**
 * The ten pressure levels, L1 (lowest latency) to L10 (highest throughput), with the same
 * budgets, rate bands and bootstrap configurations as the Rust library ({@code src/pressure.rs}).
 *
 * <p>A level says how long an event may wait before it is flushed. Under light load the budget
 * is small (1 ms) so callers get fast answers; under heavy load it grows (up to 30 s) so frames
 * grow and Kafka works at its most efficient. The collector measures the rate of submitted
 * events over each pressure window and picks the level whose band holds it.
 */
public enum PressureLevel {
    L1_REALTIME(1, 0.0),
    L2_FAST(5, 10.0),
    L3_LOW(10, 100.0),
    L4_MODERATE(50, 500.0),
    L5_BALANCED(100, 2_000.0),
    L6_THROUGHPUT(500, 10_000.0),
    L7_HIGH(1_000, 50_000.0),
    L8_AGGRESSIVE(5_000, 200_000.0),
    L9_EXTREME(15_000, 1_000_000.0),
    L10_MAX(30_000, 5_000_000.0);

    /** The level a collector starts at before it has measured a rate. */
    public static final PressureLevel DEFAULT = L5_BALANCED;

    private static final PressureLevel[] ALL = values();

    private final long budgetMillis;
    private final double minRate;
    private final Duration budget;

    PressureLevel(long budgetMillis, double minRate) {
        this.budgetMillis = budgetMillis;
        this.minRate = minRate;
        this.budget = Duration.ofMillis(budgetMillis);
    }

    /** The latency budget: how long an event may wait from submit to acknowledgement. */
    public Duration budget() {
        return budget;
    }

    public long budgetMillis() {
        return budgetMillis;
    }

    public long budgetMicros() {
        return budgetMillis * 1_000L;
    }

    /** Lowest event rate of this level's band (events per second, inclusive). */
    public double minRate() {
        return minRate;
    }

    /** The level number 1..10, as in status and the C API. */
    public int number() {
        return ordinal() + 1;
    }

    /**
     * The level whose band holds {@code eventsPerSec}. NaN or a negative rate means "no
     * information" and maps to the calmest level.
     */
    public static PressureLevel fromRate(double eventsPerSec) {
        PressureLevel level = L1_REALTIME;
        for (PressureLevel candidate : ALL) {
            if (eventsPerSec >= candidate.minRate) {
                level = candidate;
            }
        }
        return level;
    }

    /**
     * The seed's selection: the level for a count of requests (events) per 10 seconds, i.e.
     * {@code fromRate(reqPer10Sec / 10.0)}.
     */
    public static PressureLevel fromRequestRate(long reqPer10Sec) {
        return fromRate(reqPer10Sec / 10.0);
    }

    /** The level numbered 1..10. */
    public static PressureLevel fromNumber(int number) {
        if (number < 1 || number > ALL.length) {
            throw new IllegalArgumentException("pressure levels are numbered 1 to 10, got " + number);
        }
        return ALL[number - 1];
    }

    /**
     * Parses {@code "1"}..{@code "10"} or a name such as {@code "L9_EXTREME"}
     * (case-insensitive), or returns null.
     */
    public static PressureLevel parseOrNull(String text) {
        if (text == null) {
            return null;
        }
        String s = text.trim();
        try {
            int n = Integer.parseInt(s);
            return n >= 1 && n <= ALL.length ? ALL[n - 1] : null;
        } catch (NumberFormatException notANumber) {
            String upper = s.toUpperCase(Locale.ROOT);
            for (PressureLevel level : ALL) {
                if (level.name().equals(upper)) {
                    return level;
                }
            }
            return null;
        }
    }

    /**
     * The highest level whose budget does not exceed {@code latencyMax}, or null if even
     * L1's budget (1 ms) exceeds it.
     */
    public static PressureLevel ceilingFor(Duration latencyMax) {
        for (int i = ALL.length - 1; i >= 0; i--) {
            if (ALL[i].budget.compareTo(latencyMax) <= 0) {
                return ALL[i];
            }
        }
        return null;
    }

    /**
     * The seed's bootstrap configuration: N = budget in ms x 1000 events, T = the budget,
     * no flush-when-idle. The starting point the calibration learns from.
     */
    public BatchCalibration.Config bootstrap() {
        return new BatchCalibration.Config(budgetMillis * 1_000L, budgetMicros(), false);
    }

    /** {@link #bootstrap()} with N capped at {@code batchMaxEvents} (at least 1). */
    public BatchCalibration.Config bootstrap(long batchMaxEvents) {
        long n = Math.max(1, Math.min(budgetMillis * 1_000L, batchMaxEvents));
        return new BatchCalibration.Config(n, budgetMicros(), false);
    }
}
