package com.reactive.platform.kafka.benchmark.rings;

import org.openjdk.jmh.annotations.AuxCounters;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;

/**
 * Per-thread counters reported by JMH next to each group's score. A group's primary score
 * counts calls on both sides, including offers refused by a full ring and polls of an empty
 * one; what a ring is for is the elements it moves, which is {@code polled} (per second).
 */
public final class Counters {
    private Counters() {
    }

    /** The producer side: elements accepted, and offers refused because the ring was full. */
    @State(Scope.Thread)
    @AuxCounters(AuxCounters.Type.OPERATIONS)
    public static class Offers {
        public long offered;
        public long offersFull;

        @Setup(Level.Iteration)
        public void clear() {
            offered = 0;
            offersFull = 0;
        }
    }

    /** The consumer side: elements taken (handed to a Blackhole), and polls that found nothing. */
    @State(Scope.Thread)
    @AuxCounters(AuxCounters.Type.OPERATIONS)
    public static class Polls {
        public long polled;
        public long pollsEmpty;

        @Setup(Level.Iteration)
        public void clear() {
            polled = 0;
            pollsEmpty = 0;
        }
    }
}
