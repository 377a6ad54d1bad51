package com.reactive.platform.gateway.microbatch.rust;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.reactive.platform.gateway.microbatch.Ack;
import com.reactive.platform.gateway.microbatch.BatchSink;
import com.reactive.platform.gateway.microbatch.Implementation;
import com.reactive.platform.gateway.microbatch.MicrobatchCollector;
import com.reactive.platform.gateway.microbatch.MicrobatchException;
import com.reactive.platform.gateway.microbatch.Result;
import com.reactive.platform.gateway.microbatch.Status;
import java.lang.ref.WeakReference;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Queue;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The Rust collector's own promises beyond the contract suite: futures that cost only memory
 * and leave nothing behind, and a JVM that survives any interleaving of close with everything
 * else, from many threads, through the collector and straight through the bridge.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class RustMicrobatchCollectorTest {
    @BeforeEach
    void nativeLibrary() {
        assumeTrue(RustMicrobatchCollector.unavailableReason() == null,
                "skipped: native library not built (" + RustMicrobatchCollector.unavailableReason() + ")");
    }

    private static RustMicrobatchCollector open(Map<String, String> config, BatchSink sink) {
        Map<String, String> all = new HashMap<>(Map.of("calibration.enabled", "false"));
        all.putAll(config);
        return (RustMicrobatchCollector) MicrobatchCollector.create(Implementation.RUST, all, sink, null);
    }

    /** A sink that holds every frame until released, and counts events and checks byte order. */
    private static final class GateSink implements BatchSink {
        final CountDownLatch release = new CountDownLatch(1);
        final CountDownLatch entered = new CountDownLatch(1);
        final AtomicInteger events = new AtomicInteger();

        @Override
        public void accept(ByteBuffer frame, int eventCount) throws Exception {
            entered.countDown();
            assertEquals(ByteOrder.LITTLE_ENDIAN, frame.order(), "as BatchSink promises");
            if (!release.await(60, TimeUnit.SECONDS)) {
                throw new IllegalStateException("never released");
            }
            events.addAndGet(eventCount);
        }
    }

    private static void await(String what, BooleanSupplier condition) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
        while (!condition.getAsBoolean()) {
            assertTrue(System.nanoTime() < deadline, "timed out waiting until " + what);
            Thread.sleep(5);
        }
    }

    /**
     * Submits cross through the thread's staging block, batches in pieces of
     * {@link RustMicrobatchCollector#STAGING_BYTES}: batches spanning several pieces, an event
     * larger than the block (in a batch and alone: it crosses as an array), empty events and single
     * and tracked submits in between all arrive once, in order.
     */
    @Test
    void packedBatchesArriveWholeAndInOrderAcrossPieces() throws Exception {
        List<byte[]> received = new ArrayList<>();
        BatchSink sink = (frame, eventCount) -> {
            List<byte[]> mine = new ArrayList<>();
            com.reactive.platform.gateway.microbatch.Frames.forEach(frame, ev -> {
                byte[] b = new byte[ev.remaining()];
                ev.get(b);
                mine.add(b);
            });
            assertEquals(eventCount, mine.size());
            synchronized (received) {
                received.addAll(mine);
            }
        };
        int big = RustMicrobatchCollector.STAGING_BYTES + 1000;
        List<byte[]> sent = new ArrayList<>();
        List<CompletableFuture<Ack>> acks = new ArrayList<>();
        try (RustMicrobatchCollector c = open(Map.of("event.max.bytes", String.valueOf(big),
                "batch.max.bytes", String.valueOf(4 * big), "partitions", "1", "submit.block.ms", "10000"), sink)) {
            int id = 0;
            for (int round = 0; round < 40; round++) {
                int n = round * 97 % 1500;
                byte[][] batch = new byte[n + 2][];
                for (int i = 0; i < n; i++) {
                    int len = id % 13 == 0 ? 0 : 4 + (id * 31) % 300;
                    byte[] e = new byte[len];
                    if (len >= 4) {
                        ByteBuffer.wrap(e).putInt(id);
                    }
                    batch[i + 1] = e;
                    id++;
                }
                if (round % 10 == 3 && n > 0) {
                    batch[1 + n / 2] = new byte[big]; // larger than a piece
                    batch[1 + n / 2][0] = (byte) round;
                }
                // offset 1: the slice of the array is what counts.
                assertEquals(n, c.submitFireAndForget(batch, 1, n));
                sent.addAll(Arrays.asList(batch).subList(1, n + 1));
                byte[] single = round % 10 == 7 ? new byte[big] : ("single " + round).getBytes();
                single[single.length - 1] = (byte) round;
                assertTrue(c.submitFireAndForget(single));
                sent.add(single);
                if (round % 10 == 5 || round % 10 == 9) {
                    // Tracked, through the staging block, and alone as an array when too large.
                    byte[] tracked = round % 10 == 9 ? new byte[big] : ("tracked " + round).getBytes();
                    tracked[0] = (byte) (round + 1);
                    acks.add(c.submit(tracked));
                    sent.add(tracked);
                }
            }
            for (CompletableFuture<Ack> ack : acks) {
                ack.get(30, java.util.concurrent.TimeUnit.SECONDS);
            }
            c.flush(Duration.ofSeconds(30));
            Status st = c.status();
            assertEquals(sent.size(), st.submitted());
            assertEquals(sent.size(), st.delivered());
            assertEquals(0, st.rejected());
        }
        assertEquals(sent.size(), received.size());
        for (int i = 0; i < sent.size(); i++) {
            assertTrue(Arrays.equals(sent.get(i), received.get(i)), "event " + i + " differs");
        }
    }

    /**
     * Virtual threads (Java 21+; skipped on 17) move between carrier threads, so they must not
     * write into a carrier's native staging block: each of many virtual threads, parking between
     * submits so they change carriers, sends distinct events (single, batch, tracked), and every
     * one arrives once with its own bytes.
     */
    @Test
    void virtualThreadsSubmitIntactEvents() throws Exception {
        java.lang.reflect.Method ofVirtual;
        try {
            ofVirtual = Thread.class.getMethod("ofVirtual");
        } catch (NoSuchMethodException before21) {
            assumeTrue(false, "skipped: this JVM has no virtual threads (Java " + Runtime.version().feature() + ")");
            return;
        }
        Object builder = ofVirtual.invoke(null);
        java.lang.reflect.Method start = Class.forName("java.lang.Thread$Builder").getMethod("start", Runnable.class);
        Set<String> received = ConcurrentHashMap.newKeySet();
        List<String> duplicates = new java.util.concurrent.CopyOnWriteArrayList<>();
        BatchSink sink = (frame, eventCount) -> com.reactive.platform.gateway.microbatch.Frames.forEach(frame, ev -> {
            byte[] b = new byte[ev.remaining()];
            ev.get(b);
            String text = new String(b, java.nio.charset.StandardCharsets.UTF_8);
            if (!received.add(text)) {
                duplicates.add(text);
            }
        });
        int threads = 200;
        int rounds = 20;
        Queue<Throwable> failures = new ConcurrentLinkedQueue<>();
        Queue<CompletableFuture<Ack>> acks = new ConcurrentLinkedQueue<>();
        try (RustMicrobatchCollector c = open(Map.of("submit.block.ms", "10000"), sink)) {
            List<Thread> started = new ArrayList<>();
            for (int t = 0; t < threads; t++) {
                int id = t;
                started.add((Thread) start.invoke(builder, (Runnable) () -> {
                    try {
                        assertTrue(RustMicrobatchCollector.currentThreadIsVirtual());
                        for (int r = 0; r < rounds; r++) {
                            String prefix = "v" + id + "-" + r + "-";
                            assertTrue(c.submitFireAndForget((prefix + "single").getBytes()));
                            byte[][] batch = {(prefix + "b0").getBytes(), (prefix + "b1").getBytes(), (prefix + "b2").getBytes()};
                            assertEquals(3, c.submitFireAndForget(batch, 0, 3));
                            acks.add(c.submit((prefix + "tracked").getBytes()));
                            Thread.sleep(1); // unmounts: the next round may run on another carrier
                        }
                    } catch (Throwable e) {
                        failures.add(e);
                    }
                }));
            }
            for (Thread t : started) {
                t.join();
            }
            assertTrue(failures.isEmpty(), () -> "a virtual thread failed: " + failures.peek());
            for (CompletableFuture<Ack> ack : acks) {
                ack.get(30, TimeUnit.SECONDS);
            }
            c.flush(Duration.ofSeconds(30));
        }
        assertEquals(List.of(), duplicates);
        assertEquals(threads * rounds * 5, received.size());
        for (int t = 0; t < threads; t++) {
            for (int r = 0; r < rounds; r++) {
                for (String what : List.of("single", "b0", "b1", "b2", "tracked")) {
                    String expected = "v" + t + "-" + r + "-" + what;
                    assertTrue(received.contains(expected), expected);
                }
            }
        }
    }

    @Test
    void aHundredThousandOutstandingFuturesCostOnlyMemoryAndAllComplete() throws Exception {
        int n = 100_000;
        GateSink sink = new GateSink();
        try (RustMicrobatchCollector c = open(Map.of("partitions", "1", "level", "L1_REALTIME",
                "ring.capacity.bytes", String.valueOf(64 << 20), "tracking.slots", "131072", "ack.timeout.ms", "0"),
                sink)) {
            int threadsBefore = Thread.activeCount();
            List<CompletableFuture<Ack>> futures = new ArrayList<>(n);
            byte[] event = new byte[32];
            for (int i = 0; i < n; i++) {
                futures.add(c.submit(event));
            }
            assertTrue(sink.entered.await(10, TimeUnit.SECONDS));
            Status held = c.status();
            assertEquals(n, held.trackedInUse(), "every future is outstanding: " + held);
            assertEquals(n, c.ticketTableSize());
            assertTrue(Thread.activeCount() <= threadsBefore + 1, "no thread per request");
            assertTrue(futures.stream().noneMatch(CompletableFuture::isDone));

            sink.release.countDown();
            CompletableFuture.allOf(futures.toArray(new CompletableFuture<?>[0])).get(60, TimeUnit.SECONDS);
            for (CompletableFuture<Ack> f : futures) {
                assertEquals(-1, f.get().offset(), "a BatchSink has no offsets");
            }
            assertEquals(n, sink.events.get());
            await("the table is empty", () -> c.ticketTableSize() == 0);
            Status s = c.status();
            assertEquals(0, s.trackedInUse());
            assertEquals(n, s.trackedHighWater());
            assertEquals(n, s.delivered());
        }
    }

    @Test
    void abandonedFuturesLeaveNothingBehind() throws Exception {
        List<WeakReference<CompletableFuture<Ack>>> sample = new ArrayList<>();
        try (RustMicrobatchCollector c = open(Map.of("sink", "null", "level", "L2_FAST"), null)) {
            for (int i = 0; i < 50_000; i++) {
                CompletableFuture<Ack> f = c.submit(new byte[16]);
                if (i % 500 == 0) {
                    sample.add(new WeakReference<>(f));
                }
            }
            c.flush(Duration.ofSeconds(10));
            await("every outcome is drained", () -> c.status().trackedInUse() == 0 && c.ticketTableSize() == 0);
            assertEquals(50_000, c.status().delivered());
            for (int round = 0; round < 10 && sample.stream().anyMatch(r -> r.get() != null); round++) {
                System.gc();
                Thread.sleep(20);
            }
            for (WeakReference<CompletableFuture<Ack>> r : sample) {
                assertNull(r.get(), "nothing keeps a future nobody holds");
            }
        }
    }

    @Test
    void timedOutFuturesReleaseTheirEntryWhenTheOutcomeArrives() throws Exception {
        GateSink sink = new GateSink();
        try (RustMicrobatchCollector c = open(Map.of("level", "L1_REALTIME", "ack.timeout.ms", "100"), sink)) {
            List<CompletableFuture<Ack>> futures = new ArrayList<>();
            for (int i = 0; i < 1000; i++) {
                futures.add(c.submit(new byte[8]));
            }
            for (CompletableFuture<Ack> f : futures) {
                ExecutionException e = assertThrows(ExecutionException.class, () -> f.get(10, TimeUnit.SECONDS));
                assertEquals(Result.TIMEOUT, assertInstanceOf(MicrobatchException.class, e.getCause()).result());
            }
            assertEquals(0, c.status().trackedInUse(), "nobody waits for them any more");
            assertEquals(1000, c.ticketTableSize(), "a tombstone each, until the outcome comes");
            sink.release.countDown();
            c.flush(Duration.ofSeconds(10));
            await("the tombstones are gone", () -> c.ticketTableSize() == 0);
            assertEquals(1000, c.status().delivered(), "the events themselves still went out");
            assertEquals(0, c.status().trackedInUse());
        }
    }

    @Test
    void closeRacingSubmitsFromManyThreadsCompletesEveryFuture() throws Exception {
        for (int round = 0; round < 5; round++) {
            RustMicrobatchCollector c = open(Map.of("sink", "null", "partitions", "2", "level", "L3_LOW"), null);
            Queue<CompletableFuture<Ack>> futures = new ConcurrentLinkedQueue<>();
            Queue<Throwable> unexpected = new ConcurrentLinkedQueue<>();
            CountDownLatch started = new CountDownLatch(6);
            List<Thread> threads = new ArrayList<>();
            for (int t = 0; t < 6; t++) {
                final int kind = t % 3;
                threads.add(new Thread(() -> {
                    started.countDown();
                    byte[][] batch = {new byte[10], new byte[20], new byte[30]};
                    try {
                        while (true) {
                            switch (kind) {
                                case 0 -> c.submitFireAndForget(new byte[50]);
                                case 1 -> c.submitFireAndForget(batch, 0, batch.length);
                                default -> futures.add(c.submit(new byte[50]));
                            }
                            if (kind == 1) {
                                c.status();
                            }
                        }
                    } catch (IllegalStateException closed) {
                        // the end of this thread's work
                    } catch (Throwable other) {
                        unexpected.add(other);
                    }
                }));
            }
            threads.forEach(Thread::start);
            started.await();
            // Close while every kind of submit is under way (on a busy machine threads start late).
            await("tracked submits are under way", () -> futures.size() >= 100);
            Thread.sleep(5 * round);
            // Several closers at once: one closes, the others return once it is closed.
            List<Thread> closers = new ArrayList<>();
            for (int i = 0; i < 3; i++) {
                closers.add(new Thread(c::close));
            }
            closers.forEach(Thread::start);
            for (Thread t : closers) {
                t.join();
            }
            for (Thread t : threads) {
                t.join();
            }
            assertTrue(unexpected.isEmpty(), unexpected.toString());
            for (CompletableFuture<Ack> f : futures) {
                assertTrue(f.isDone(), "close leaves no future hanging");
                if (f.isCompletedExceptionally()) {
                    ExecutionException e = assertThrows(ExecutionException.class, f::get);
                    assertEquals(Result.FULL, assertInstanceOf(MicrobatchException.class, e.getCause()).result(),
                            "a future accepted before close is delivered by it");
                }
            }
            Status s = c.status();
            assertEquals(s.submitted(), s.delivered(), "close delivered everything accepted: " + s);
            assertEquals(0, s.pending());
        }
    }

    @Test
    void useAfterCloseIsIllegalStateAndStatusStaysFinal() {
        RustMicrobatchCollector c = open(Map.of("sink", "null"), null);
        assertTrue(c.submitFireAndForget(new byte[5]));
        c.close();
        c.close();
        assertThrows(IllegalStateException.class, () -> c.submitFireAndForget(new byte[1]));
        assertThrows(IllegalStateException.class, () -> c.submitFireAndForget(new byte[][] {new byte[1]}, 0, 1));
        assertThrows(IllegalStateException.class, () -> c.submit(new byte[1]));
        assertThrows(IllegalStateException.class, () -> c.flush(Duration.ZERO));
        // Argument errors still come first, as on an open collector.
        assertThrows(IllegalArgumentException.class, () -> c.submitFireAndForget((byte[]) null));
        Status s = c.status();
        assertEquals(1, s.submitted());
        assertEquals(1, s.delivered());
        assertEquals(s, c.status(), "the final status does not change");
    }

    /**
     * Straight through the bridge, bypassing every check of the collector: submits, tracked
     * submits, polls from several threads, status and flush, while several threads close.
     * Nothing may crash, only IllegalStateException may surface, and every ticket issued is
     * drained exactly once, by some poller, before the queue reports its end.
     */
    @Test
    void theBridgeSurvivesCloseRacingEverythingAndDrainsEachOutcomeOnce() throws Exception {
        for (int round = 0; round < 5; round++) {
            long h = NativeBridge.create(new String[] {"sink", "partitions", "tracking.slots", "calibration.enabled"},
                    new String[] {"null", "2", "1000000", "false"}, null);
            Set<Long> issued = ConcurrentHashMap.newKeySet();
            Set<Long> drained = ConcurrentHashMap.newKeySet();
            AtomicInteger duplicates = new AtomicInteger();
            AtomicInteger pollersEnded = new AtomicInteger();
            Queue<Throwable> unexpected = new ConcurrentLinkedQueue<>();
            List<Thread> threads = new ArrayList<>();
            for (int t = 0; t < 8; t++) {
                final int kind = t % 4;
                threads.add(new Thread(() -> {
                    ByteBuffer out = ByteBuffer.allocateDirect(64 * NativeBridge.ACK_RECORD_BYTES + 8).alignedSlice(8)
                            .order(ByteOrder.nativeOrder());
                    byte[][] batch = {new byte[7], new byte[8], new byte[9]};
                    long[] tickets = new long[3];
                    long[] status = new long[NativeBridge.STATUS_FIELDS.size()];
                    try {
                        while (true) {
                            switch (kind) {
                                case 0 -> {
                                    NativeBridge.submit(h, batch[0]);
                                    NativeBridge.submitBatch(h, batch, 0, 3);
                                }
                                case 1 -> {
                                    long ticket = NativeBridge.submitTracked(h, batch[1]);
                                    if (ticket > 0) {
                                        issued.add(ticket);
                                    }
                                    // A batch cut short by close still reports the tickets it issued.
                                    Arrays.fill(tickets, 0);
                                    try {
                                        NativeBridge.submitTrackedBatch(h, batch, 0, 3, tickets);
                                    } finally {
                                        for (long issuedTicket : tickets) {
                                            if (issuedTicket > 0) {
                                                issued.add(issuedTicket);
                                            }
                                        }
                                    }
                                }
                                case 2 -> {
                                    int n = NativeBridge.pollAcks(h, out, 5);
                                    if (n == NativeBridge.DRAINED) {
                                        pollersEnded.incrementAndGet();
                                        return;
                                    }
                                    for (int i = 0; i < n; i++) {
                                        if (!drained.add(out.getLong(i * NativeBridge.ACK_RECORD_BYTES))) {
                                            duplicates.incrementAndGet();
                                        }
                                    }
                                }
                                default -> {
                                    NativeBridge.status(h, status);
                                    try {
                                        NativeBridge.flush(h, 1);
                                    } catch (MicrobatchException e) {
                                        if (e.result() != Result.TIMEOUT) {
                                            throw e;
                                        }
                                    }
                                }
                            }
                        }
                    } catch (IllegalStateException closed) {
                        // expected once the collector is closed
                    } catch (Throwable other) {
                        unexpected.add(other);
                    }
                }));
            }
            threads.forEach(Thread::start);
            await("tickets are being issued and drained", () -> issued.size() >= 100 && !drained.isEmpty());
            Thread.sleep(5 * round);
            List<Thread> closers = new ArrayList<>();
            for (int i = 0; i < 3; i++) {
                closers.add(new Thread(() -> NativeBridge.close(h, null)));
            }
            closers.forEach(Thread::start);
            for (Thread t : closers) {
                t.join();
            }
            for (Thread t : threads) {
                t.join();
            }
            assertTrue(unexpected.isEmpty(), unexpected.toString());
            assertEquals(2, pollersEnded.get(), "both pollers saw the queue end");
            assertEquals(0, duplicates.get(), "no outcome drained twice");
            assertEquals(issued, drained, "every ticket's outcome drained");
        }
    }
}
