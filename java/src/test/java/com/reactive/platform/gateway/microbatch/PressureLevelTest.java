package com.reactive.platform.gateway.microbatch;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.time.Duration;
import java.util.Arrays;
import org.junit.jupiter.api.Test;

/** The same budgets, bands and bootstraps as src/pressure.rs. */
class PressureLevelTest {
    @Test
    void budgetsMatchTheSeed() {
        long[] budgets = Arrays.stream(PressureLevel.values()).mapToLong(PressureLevel::budgetMillis).toArray();
        assertEquals(Arrays.toString(new long[] {1, 5, 10, 50, 100, 500, 1_000, 5_000, 15_000, 30_000}),
                Arrays.toString(budgets));
        assertEquals(Duration.ofSeconds(30), PressureLevel.L10_MAX.budget());
        assertEquals(10, PressureLevel.L10_MAX.number());
    }

    @Test
    void everyBandBoundaryMapsToTheRightLevel() {
        double[] boundaries = {10, 100, 500, 2_000, 10_000, 50_000, 200_000, 1_000_000, 5_000_000};
        for (int i = 0; i < boundaries.length; i++) {
            PressureLevel at = PressureLevel.fromNumber(i + 2);
            PressureLevel below = PressureLevel.fromNumber(i + 1);
            assertEquals(below, PressureLevel.fromRate(boundaries[i] - 0.001), "just below " + boundaries[i]);
            assertEquals(at, PressureLevel.fromRate(boundaries[i]), "at " + boundaries[i]);
            assertEquals(at, PressureLevel.fromRate(boundaries[i] + 0.001), "just above " + boundaries[i]);
        }
        assertEquals(PressureLevel.L1_REALTIME, PressureLevel.fromRate(0));
        assertEquals(PressureLevel.L1_REALTIME, PressureLevel.fromRate(-1));
        assertEquals(PressureLevel.L1_REALTIME, PressureLevel.fromRate(Double.NaN));
        assertEquals(PressureLevel.L10_MAX, PressureLevel.fromRate(1e12));
    }

    @Test
    void fromRequestRateTakesRequestsPerTenSeconds() {
        assertEquals(PressureLevel.L1_REALTIME, PressureLevel.fromRequestRate(99));
        assertEquals(PressureLevel.L2_FAST, PressureLevel.fromRequestRate(100));
        assertEquals(PressureLevel.L8_AGGRESSIVE, PressureLevel.fromRequestRate(3_000_000));
        assertEquals(PressureLevel.L10_MAX, PressureLevel.fromRequestRate(50_000_000));
    }

    @Test
    void namesAndNumbersParse() {
        for (PressureLevel level : PressureLevel.values()) {
            assertEquals(level, PressureLevel.parseOrNull(level.name()));
            assertEquals(level, PressureLevel.parseOrNull(level.name().toLowerCase()));
            assertEquals(level, PressureLevel.parseOrNull(Integer.toString(level.number())));
        }
        assertNull(PressureLevel.parseOrNull("0"));
        assertNull(PressureLevel.parseOrNull("11"));
        assertNull(PressureLevel.parseOrNull("L11_MORE"));
        assertThrows(IllegalArgumentException.class, () -> PressureLevel.fromNumber(0));
    }

    @Test
    void bootstrapIsBudgetTimes1000Capped() {
        assertEquals(new BatchCalibration.Config(100_000, 100_000, false), PressureLevel.L5_BALANCED.bootstrap());
        assertEquals(1_000, PressureLevel.L1_REALTIME.bootstrap().batchEvents());
        assertEquals(30_000_000, PressureLevel.L10_MAX.bootstrap().batchEvents());
        assertEquals(10_000, PressureLevel.L10_MAX.bootstrap(10_000).batchEvents());
    }

    @Test
    void ceilingIsTheHighestLevelWithinTheBudget() {
        assertEquals(PressureLevel.L10_MAX, PressureLevel.ceilingFor(Duration.ofSeconds(30)));
        assertEquals(PressureLevel.L9_EXTREME, PressureLevel.ceilingFor(Duration.ofMillis(29_999)));
        assertEquals(PressureLevel.L5_BALANCED, PressureLevel.ceilingFor(Duration.ofMillis(100)));
        assertEquals(PressureLevel.L1_REALTIME, PressureLevel.ceilingFor(Duration.ofMillis(1)));
        assertNull(PressureLevel.ceilingFor(Duration.ofNanos(999_999)));
    }

    @Test
    void resultCodesMirrorTheCEnum() {
        assertEquals(0, Result.OK.code());
        assertEquals(3, Result.FULL.code());
        assertEquals(12, Result.INTERNAL.code());
        assertEquals(13, Result.UNKNOWN_TICKET.code());
        assertEquals(14, Result.TRACKING_FULL.code());
        for (Result r : Result.values()) {
            assertEquals(r.ordinal(), r.code(), r + " moved");
            assertEquals(r, Result.fromCode(r.code()));
        }
        assertEquals("MB_ERR_INVALID_CONFIG", Result.INVALID_CONFIG.cName());
        assertEquals("MB_OK", Result.OK.cName());
        assertThrows(IllegalArgumentException.class, () -> Result.fromCode(99));
        assertThrows(IllegalArgumentException.class, () -> new MicrobatchException(Result.OK, "not an error"));
    }
}
