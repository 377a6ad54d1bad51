package com.reactive.platform.gateway.microbatch;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;

class RingBufferTest {
    @Test
    void capacityIsRoundedUpToAPowerOfTwo() {
        assertEquals(8, new FastRingBuffer<>(5).capacity());
        assertEquals(8, new FastRingBuffer<>(8).capacity());
        assertEquals(16, new MpscRingBuffer<>(9).capacity());
        assertThrows(IllegalArgumentException.class, () -> new FastRingBuffer<>(1));
        assertThrows(IllegalArgumentException.class, () -> new MpscRingBuffer<>(0));
    }

    @Test
    void spscKeepsOrderRefusesWhenFullAndWrapsAround() {
        FastRingBuffer<Integer> ring = new FastRingBuffer<>(4);
        int next = 0;
        int expected = 0;
        for (int round = 0; round < 10; round++) {
            while (ring.offer(next)) {
                next++;
            }
            assertEquals(4, ring.size(), "full at 4");
            assertFalse(ring.offer(-1));
            for (int i = 0; i < 3; i++) {
                assertEquals(expected++, ring.poll());
            }
        }
        while (ring.poll() != null) {
            expected++;
        }
        assertEquals(next, expected);
        assertNull(ring.poll());
        assertTrue(ring.isEmpty());
    }

    @Test
    void spscBatchOfferTakesWhatFitsAndDrainToCopiesAcrossTheWrap() {
        FastRingBuffer<String> ring = new FastRingBuffer<>(8);
        for (int i = 0; i < 6; i++) {
            assertTrue(ring.offer("pre" + i));
        }
        Object[] sink = new Object[16];
        assertEquals(6, ring.drainTo(sink, 0, 16));
        String[] batch = {"a", "b", "c", "d", "e", "f", "g", "h", "i", "j"};
        assertEquals(8, ring.offer(batch, 0, 10), "only 8 fit");
        assertEquals(0, ring.offer(batch, 8, 2));
        Object[] out = new Object[10];
        assertEquals(8, ring.drainTo(out, 1, 100), "the copy wraps at slot 8");
        assertArrayEquals(new Object[] {null, "a", "b", "c", "d", "e", "f", "g", "h", null}, out);
        assertEquals(14, ring.consumedCount());
        assertEquals(14, ring.producedCount());
        assertThrows(NullPointerException.class, () -> ring.offer(new String[] {"x", null}, 0, 2));
        assertEquals(14, ring.producedCount(), "a refused batch publishes nothing");
    }

    @Test
    void drainStopsAtTheLimitAndCountsWhatAThrowingHandlerReceived() {
        FastRingBuffer<Integer> ring = new FastRingBuffer<>(16);
        for (int i = 0; i < 10; i++) {
            ring.offer(i);
        }
        List<Integer> seen = new ArrayList<>();
        assertEquals(3, ring.drain(seen::add, 3));
        assertThrows(IllegalStateException.class, () -> ring.drain(e -> {
            seen.add(e);
            if (e == 5) {
                throw new IllegalStateException("stop");
            }
        }, 100));
        assertEquals(List.of(0, 1, 2, 3, 4, 5), seen);
        assertEquals(6, ring.poll(), "the element that made the handler throw is consumed, the next is not");
    }

    @Test
    void spscMovesMillionsInOrderBetweenTwoThreads() throws Exception {
        FastRingBuffer<Integer> ring = new FastRingBuffer<>(1024);
        int total = 2_000_000;
        Thread producer = new Thread(() -> {
            Integer[] batch = new Integer[16];
            int i = 0;
            while (i < total) {
                if ((i & 1) == 0) {
                    while (!ring.offer(i)) {
                        Thread.onSpinWait();
                    }
                    i++;
                } else {
                    int n = Math.min(batch.length, total - i);
                    for (int k = 0; k < n; k++) {
                        batch[k] = i + k;
                    }
                    int done = 0;
                    while (done < n) {
                        done += ring.offer(batch, done, n - done);
                    }
                    i += n;
                }
            }
        });
        producer.start();
        int[] expected = {0};
        AtomicReference<String> error = new AtomicReference<>();
        Object[] chunk = new Object[256];
        while (expected[0] < total) {
            if ((expected[0] & 3) == 0) {
                int n = ring.drainTo(chunk, 0, chunk.length);
                for (int k = 0; k < n; k++) {
                    if ((Integer) chunk[k] != expected[0]++) {
                        error.compareAndSet(null, "out of order at " + (expected[0] - 1));
                    }
                }
            } else {
                ring.drain(e -> {
                    if (e != expected[0]++) {
                        error.compareAndSet(null, "out of order at " + (expected[0] - 1));
                    }
                }, 64);
            }
        }
        producer.join();
        assertNull(error.get());
        assertTrue(ring.isEmpty());
    }

    @Test
    void mpscKeepsEachProducersOrderAndLosesNothing() throws Exception {
        MpscRingBuffer<long[]> ring = new MpscRingBuffer<>(512);
        int producers = 4;
        int each = 250_000;
        List<Thread> threads = new ArrayList<>();
        for (int p = 0; p < producers; p++) {
            final int id = p;
            Thread t = new Thread(() -> {
                for (int i = 0; i < each; ) {
                    if (i % 3 == 0 && i + 4 <= each) {
                        long[][] batch = {{id, i}, {id, i + 1}, {id, i + 2}, {id, i + 3}};
                        int done = 0;
                        while (done < 4) {
                            done += ring.offer(batch, done, 4 - done);
                        }
                        i += 4;
                    } else {
                        while (!ring.offer(new long[] {id, i})) {
                            Thread.onSpinWait();
                        }
                        i++;
                    }
                }
            });
            threads.add(t);
            t.start();
        }
        long[] next = new long[producers];
        long received = 0;
        Object[] chunk = new Object[128];
        String error = null;
        while (received < (long) producers * each) {
            long[] single = ring.poll();
            if (single != null) {
                error = check(next, single, error);
                received++;
            }
            int n = ring.drainTo(chunk, 0, chunk.length);
            for (int k = 0; k < n; k++) {
                error = check(next, (long[]) chunk[k], error);
            }
            received += n;
        }
        for (Thread t : threads) {
            t.join();
        }
        assertNull(error);
        for (long n : next) {
            assertEquals(each, n);
        }
        assertTrue(ring.isEmpty());
        assertNull(ring.poll());
    }

    private static String check(long[] next, long[] e, String error) {
        int id = (int) e[0];
        if (e[1] != next[id] && error == null) {
            error = "producer " + id + ": expected " + next[id] + ", got " + e[1];
        }
        next[id] = e[1] + 1;
        return error;
    }

    @Test
    void mpscRefusesWhenFull() {
        MpscRingBuffer<Integer> ring = new MpscRingBuffer<>(4);
        for (int i = 0; i < 4; i++) {
            assertTrue(ring.offer(i));
        }
        assertFalse(ring.offer(99));
        assertEquals(0, ring.offer(new Integer[] {1, 2}, 0, 2));
        assertEquals(0, ring.poll());
        assertEquals(1, ring.offer(new Integer[] {4, 5}, 0, 2));
        List<Integer> rest = new ArrayList<>();
        assertEquals(4, ring.drain(rest::add, 10));
        assertEquals(List.of(1, 2, 3, 4), rest);
    }
}
