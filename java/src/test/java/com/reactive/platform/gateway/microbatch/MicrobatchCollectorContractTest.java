package com.reactive.platform.gateway.microbatch;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.stream.Stream;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * What every {@link MicrobatchCollector} promises, run against each {@link Implementation}.
 * The RUST rows are skipped, visibly, while the native library is not built.
 *
 * <p>Tests that send to Kafka use the in-process stand-in, or the broker named by the system
 * property {@value #BROKER_PROPERTY} (e.g. {@code -Dmicrobatch.test.kafka=127.0.0.1:9092}, the
 * address {@code scripts/kafka-broker.sh start} prints).
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
@ExtendWith(ReportSkips.class)
class MicrobatchCollectorContractTest {
    static final String BROKER_PROPERTY = "microbatch.test.kafka";

    @TempDir
    Path dir;

    private static MicrobatchCollector open(Implementation impl, Map<String, String> config, BatchSink sink) {
        if (impl == Implementation.RUST) {
            assumeTrue(NativeCollectorFactory.isAvailable(),
                    "skipped: native library not built (" + NativeCollectorFactory.unavailableReason() + ")");
        }
        Map<String, String> all = new HashMap<>();
        all.put("calibration.enabled", "false");
        all.put("partitions", "4");
        all.putAll(config);
        String broker = System.getProperty(BROKER_PROPERTY, "");
        if (!broker.isBlank() && sink == null && !all.containsKey("sink")) {
            all.put("kafka.bootstrap.servers", broker.trim());
        }
        return MicrobatchCollector.create(impl, all, sink, null);
    }

    /** A 100-byte event that says which thread submitted it and its sequence number. */
    private static byte[] event(int thread, long seq) {
        ByteBuffer b = ByteBuffer.allocate(100);
        b.putInt(thread).putLong(seq);
        return b.array();
    }

    private static void assertQuiescentAccounting(Status s) {
        assertEquals(s.submitted(), s.delivered() + s.failed() + s.pending(), s.toString());
    }

    static Stream<Arguments> implementationsAndRings() {
        List<Arguments> out = new ArrayList<>();
        for (Implementation impl : Implementation.values()) {
            for (String ring : List.of("spsc", "mpsc")) {
                out.add(Arguments.of(impl, ring));
            }
        }
        return out.stream();
    }

    @ParameterizedTest(name = "{0} {1}")
    @MethodSource("implementationsAndRings")
    void nothingIsLostAndEachThreadKeepsItsOrder(Implementation impl, String ring) throws Exception {
        RecordingSink sink = new RecordingSink();
        int threads = 4;
        int each = 30_000;
        AtomicLong refused = new AtomicLong();
        // Four threads over two partitions: threads take turns on a partition's ring.
        try (MicrobatchCollector c = open(impl, Map.of("partitions", "2", "ring.type", ring, "level", "L3_LOW",
                "ring.capacity.bytes", "65536", "event.max.bytes", "1000"), sink)) {
            List<Thread> workers = new ArrayList<>();
            for (int t = 0; t < threads; t++) {
                final int id = t;
                workers.add(new Thread(() -> {
                    long seq = 0;
                    byte[][] batch = new byte[10][];
                    while (seq < each) {
                        if (seq % 100 < 50) {
                            while (!c.submitFireAndForget(event(id, seq))) {
                                refused.incrementAndGet();
                                Thread.yield();
                            }
                            seq++;
                        } else {
                            int n = (int) Math.min(batch.length, each - seq);
                            for (int i = 0; i < n; i++) {
                                batch[i] = event(id, seq + i);
                            }
                            int done = 0;
                            while (done < n) {
                                int accepted = c.submitFireAndForget(batch, done, n - done);
                                if (accepted < n - done) {
                                    refused.addAndGet(n - done - accepted);
                                    Thread.yield();
                                }
                                done += accepted;
                            }
                            seq += n;
                        }
                    }
                }));
            }
            workers.forEach(Thread::start);
            for (Thread w : workers) {
                w.join();
            }
            c.flush(Duration.ofSeconds(20));
            Status s = c.status();
            assertEquals((long) threads * each, s.submitted());
            assertEquals(s.submitted(), s.delivered());
            assertEquals(0, s.pending());
            assertEquals(0, s.failed());
            assertEquals(refused.get(), s.rejected(), "every refused submit is counted, and only those");
            assertQuiescentAccounting(s);
        }
        long[] next = new long[threads];
        List<byte[]> events = sink.events();
        assertEquals(threads * each, events.size());
        for (byte[] e : events) {
            ByteBuffer b = ByteBuffer.wrap(e);
            int id = b.getInt();
            long seq = b.getLong();
            assertEquals(next[id], seq, "thread " + id + " out of order");
            next[id]++;
        }
    }

    @ParameterizedTest
    @EnumSource(Implementation.class)
    void flushSendsEverythingSubmittedBeforeIt(Implementation impl) {
        RecordingSink sink = new RecordingSink();
        try (MicrobatchCollector c = open(impl, Map.of("level", "L10_MAX"), sink)) {
            for (int i = 0; i < 1000; i++) {
                assertTrue(c.submitFireAndForget(event(0, i)));
            }
            // At L10_MAX nothing would leave for 30 s; flush sends it now.
            c.flush(Duration.ofSeconds(10));
            assertEquals(1000, sink.eventCount());
            Status s = c.status();
            assertEquals(1000, s.delivered());
            assertTrue(s.flushedBatches() >= 1);
            assertEquals(PressureLevel.L10_MAX, s.level());
            c.flush(Duration.ofSeconds(1)); // nothing pending: returns at once
        }
    }

    @ParameterizedTest
    @EnumSource(Implementation.class)
    void closeDrainsFlushesAndIsIdempotent(Implementation impl) {
        RecordingSink sink = new RecordingSink();
        MicrobatchCollector c = open(impl, Map.of("level", "L10_MAX"), sink);
        for (int i = 0; i < 5000; i++) {
            assertTrue(c.submitFireAndForget(event(0, i)));
        }
        c.close();
        assertEquals(5000, sink.eventCount(), "close sends what was pending");
        Status s = c.status();
        assertEquals(5000, s.delivered());
        assertEquals(0, s.pending());
        c.close();
        assertThrows(IllegalStateException.class, () -> c.submitFireAndForget(event(0, 0)));
        assertThrows(IllegalStateException.class, () -> c.submitFireAndForget(new byte[][] {event(0, 0)}, 0, 1));
        assertThrows(IllegalStateException.class, () -> c.submit(event(0, 0)));
        assertThrows(IllegalStateException.class, () -> c.flush(Duration.ofSeconds(1)));
        assertEquals(5000, c.status().submitted());
    }

    @ParameterizedTest(name = "{0} {1}")
    @MethodSource("implementationsAndRings")
    void closeRacingSubmitsLosesNothingAccepted(Implementation impl, String ring) throws Exception {
        for (int round = 0; round < 5; round++) {
            RecordingSink sink = new RecordingSink();
            MicrobatchCollector c = open(impl, Map.of("partitions", "2", "ring.type", ring, "level", "L4_MODERATE"),
                    sink);
            int threads = 3;
            AtomicLong accepted = new AtomicLong();
            AtomicLong unexpected = new AtomicLong();
            CountDownLatch started = new CountDownLatch(threads);
            List<Thread> workers = new ArrayList<>();
            for (int t = 0; t < threads; t++) {
                final int id = t;
                workers.add(new Thread(() -> {
                    started.countDown();
                    boolean closedSeen = false;
                    for (long i = 0; ; i++) {
                        try {
                            if (c.submitFireAndForget(event(id, i))) {
                                if (closedSeen) {
                                    unexpected.incrementAndGet(); // accepted after a refusal for close
                                }
                                accepted.incrementAndGet();
                            }
                        } catch (IllegalStateException closed) {
                            if (closedSeen) {
                                return;
                            }
                            closedSeen = true;
                        } catch (RuntimeException other) {
                            unexpected.incrementAndGet();
                            return;
                        }
                    }
                }));
            }
            workers.forEach(Thread::start);
            started.await();
            Thread.sleep(20 + 10 * round);
            c.close();
            for (Thread w : workers) {
                w.join();
            }
            assertEquals(0, unexpected.get());
            Status s = c.status();
            assertEquals(accepted.get(), s.submitted(), "every accepted submit is counted");
            assertEquals(accepted.get(), s.delivered(), "and delivered by close");
            assertEquals(accepted.get(), sink.eventCount());
        }
    }

    @ParameterizedTest
    @EnumSource(Implementation.class)
    void futuresCompleteOnAcknowledgementWithDistinctPositions(Implementation impl) throws Exception {
        int threads = 4;
        int each = 2000;
        List<CompletableFuture<Ack>> futures = new ArrayList<>();
        try (MicrobatchCollector c = open(impl, Map.of("level", "L2_FAST"), null)) {
            List<Thread> workers = new ArrayList<>();
            List<List<CompletableFuture<Ack>>> perThread = new ArrayList<>();
            for (int t = 0; t < threads; t++) {
                final int id = t;
                List<CompletableFuture<Ack>> mine = new ArrayList<>();
                perThread.add(mine);
                workers.add(new Thread(() -> {
                    for (int i = 0; i < each; i++) {
                        mine.add(c.submit(event(id, i)));
                    }
                }));
            }
            workers.forEach(Thread::start);
            for (Thread w : workers) {
                w.join();
            }
            perThread.forEach(futures::addAll);
            CompletableFuture.allOf(futures.toArray(new CompletableFuture<?>[0])).get(20, TimeUnit.SECONDS);
            Set<Ack> positions = new HashSet<>();
            for (CompletableFuture<Ack> f : futures) {
                Ack ack = f.get();
                assertTrue(ack.partition() >= 0 && ack.offset() >= 0 && ack.index() >= 0, ack.toString());
                positions.add(ack);
            }
            assertEquals(threads * each, positions.size(), "every acknowledged event has its own position");
            Status s = c.status();
            assertEquals(threads * each, s.delivered());
            assertEquals(0, s.trackedInUse(), "acknowledged slots are free again");
            assertTrue(s.trackedHighWater() >= 1);
        }
    }

    @ParameterizedTest
    @EnumSource(Implementation.class)
    void everyAcknowledgedEventIsInKafkaWhereItsAckSays(Implementation impl) throws Exception {
        String broker = System.getProperty(BROKER_PROPERTY, "");
        assumeTrue(!broker.isBlank(), "skipped: no broker (set -D" + BROKER_PROPERTY + "=host:port)");
        String topic = "contract-" + impl.name().toLowerCase(Locale.ROOT) + "-" + System.nanoTime();
        Map<Ack, byte[]> sent = new HashMap<>();
        try (MicrobatchCollector c = open(impl, Map.of("level", "L3_LOW", "kafka.topic", topic), null)) {
            Map<CompletableFuture<Ack>, byte[]> futures = new HashMap<>();
            for (int i = 0; i < 3000; i++) {
                byte[] e = event(7, i);
                futures.put(c.submit(e), e);
            }
            for (Map.Entry<CompletableFuture<Ack>, byte[]> f : futures.entrySet()) {
                sent.put(f.getKey().get(30, TimeUnit.SECONDS), f.getValue());
            }
        }
        Map<String, Object> props = new HashMap<>();
        props.put("bootstrap.servers", broker.trim());
        props.put("key.deserializer", ByteArrayDeserializer.class.getName());
        props.put("value.deserializer", ByteArrayDeserializer.class.getName());
        int found = 0;
        try (KafkaConsumer<byte[], byte[]> consumer =
                     new KafkaConsumer<>(props)) {
            Set<Integer> partitions = new HashSet<>();
            sent.keySet().forEach(a -> partitions.add(a.partition()));
            List<TopicPartition> tps = new ArrayList<>();
            partitions.forEach(p -> tps.add(new TopicPartition(topic, p)));
            consumer.assign(tps);
            consumer.seekToBeginning(tps);
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
            while (found < sent.size() && System.nanoTime() < deadline) {
                for (ConsumerRecord<byte[], byte[]> r
                        : consumer.poll(Duration.ofMillis(200))) {
                    List<byte[]> events = Frames.decode(r.value());
                    for (int i = 0; i < events.size(); i++) {
                        byte[] expected = sent.get(new Ack(r.partition(), r.offset(), i));
                        assertNotNull(expected, "an event Kafka holds was not acknowledged there");
                        assertEquals(ByteBuffer.wrap(expected), ByteBuffer.wrap(events.get(i)));
                        found++;
                    }
                }
            }
        }
        assertEquals(sent.size(), found, "every acknowledged event was read back at its position");
    }

    @ParameterizedTest
    @EnumSource(Implementation.class)
    void kafkaRecordModeAcknowledgesEachEventAsItsOwnRecord(Implementation impl) throws Exception {
        try (MicrobatchCollector c = open(impl, Map.of("level", "L1_REALTIME", "kafka.mode", "record",
                "kafka.topic", "records"), null)) {
            List<CompletableFuture<Ack>> futures = new ArrayList<>();
            // More records than the in-process stand-in keeps in its history (it is cleared
            // every 1024 sends): positions stay distinct across the clearing.
            for (int i = 0; i < 1500; i++) {
                futures.add(c.submit(event(0, i)));
            }
            Set<Long> offsets = new HashSet<>();
            for (CompletableFuture<Ack> f : futures) {
                Ack ack = f.get(10, TimeUnit.SECONDS);
                assertEquals(0, ack.index(), "in record mode an event is alone in its record");
                offsets.add(ack.partition() * 1_000_000L + ack.offset());
            }
            assertEquals(1500, offsets.size());
        }
    }

    @ParameterizedTest
    @EnumSource(Implementation.class)
    void refusedSubmitsAreCountedAndNothingAcceptedIsLost(Implementation impl) throws Exception {
        RecordingSink sink = new RecordingSink().blocking();
        try (MicrobatchCollector c = open(impl, Map.of("partitions", "1", "level", "L1_REALTIME",
                "ring.capacity.bytes", "4096", "event.max.bytes", "1000"), sink)) {
            // First stall the flush thread inside the sink, then fill the ring behind it.
            assertTrue(c.submitFireAndForget(event(0, 0)));
            assertTrue(sink.entered.await(10, TimeUnit.SECONDS));
            long accepted = 1;
            long refused = 0;
            for (int i = 0; i < 100_000 && refused < 10; i++) {
                if (c.submitFireAndForget(event(0, accepted))) {
                    accepted++;
                } else {
                    refused++;
                }
            }
            assertEquals(10, refused, "a stalled sink fills the ring");
            CompletableFuture<Ack> refusedTracked = c.submit(event(0, -1));
            ExecutionException e = assertThrows(ExecutionException.class, () -> refusedTracked.get(5, TimeUnit.SECONDS));
            assertEquals(Result.FULL, assertInstanceOf(MicrobatchException.class, e.getCause()).result());
            assertEquals(11, c.status().rejected());
            sink.release();
            c.flush(Duration.ofSeconds(10));
            Status s = c.status();
            assertEquals(accepted, s.submitted());
            assertEquals(accepted, s.delivered());
            assertEquals(accepted, sink.eventCount());
            assertQuiescentAccounting(s);
        }
    }

    @ParameterizedTest
    @EnumSource(Implementation.class)
    void misuseSurfacesAsTheDocumentedExceptions(Implementation impl) {
        try (MicrobatchCollector c = open(impl, Map.of("event.max.bytes", "100", "sink", "null"), null)) {
            assertThrows(IllegalArgumentException.class, () -> c.submitFireAndForget((byte[]) null));
            assertThrows(IllegalArgumentException.class, () -> c.submit(null));
            assertThrows(IllegalArgumentException.class, () -> c.submitFireAndForget(new byte[101]));
            assertThrows(IllegalArgumentException.class, () -> c.submit(new byte[101]));
            assertThrows(IllegalArgumentException.class, () -> c.submitFireAndForget(null, 0, 1));
            byte[][] three = {new byte[1], new byte[2], new byte[3]};
            assertThrows(IllegalArgumentException.class, () -> c.submitFireAndForget(three, -1, 1));
            assertThrows(IllegalArgumentException.class, () -> c.submitFireAndForget(three, 2, 2));
            assertThrows(IllegalArgumentException.class, () -> c.submitFireAndForget(three, 0, -1));
            byte[][] withNull = {new byte[1], null};
            assertThrows(IllegalArgumentException.class, () -> c.submitFireAndForget(withNull, 0, 2));
            assertEquals(0, c.status().submitted(), "a refused batch submits none of its events");
            assertEquals(3, c.submitFireAndForget(three, 0, 3));
            assertEquals(0, c.submitFireAndForget(three, 3, 0));
            assertTrue(c.submitFireAndForget(new byte[100]));
            assertTrue(c.submitFireAndForget(new byte[0]));
            c.flush(Duration.ofSeconds(5));
            Status s = c.status();
            assertEquals(5, s.submitted());
            assertEquals(2, s.rejected(), "too-large events are counted as rejected");
        }
        IllegalArgumentException bad = assertThrows(IllegalArgumentException.class,
                () -> open(impl, Map.of("partitions", "0"), null));
        assertEquals("`partitions` must be an integer from 1 to 1024, got \"0\"", bad.getMessage());
        IllegalArgumentException unknown = assertThrows(IllegalArgumentException.class,
                () -> open(impl, Map.of("no.such.key", "1"), null));
        assertTrue(unknown.getMessage().startsWith("unknown key `no.such.key`"), unknown.getMessage());
        // The Kafka client's own checks apply at creation, with or without a broker.
        assertThrows(IllegalArgumentException.class, () -> open(impl, Map.of("kafka.acks", "bogus"), null));
        IllegalArgumentException cross = assertThrows(IllegalArgumentException.class,
                () -> open(impl, Map.of("latency.max.ms", "50", "level", "L5_BALANCED"), null));
        assertEquals("`level` = L5_BALANCED has a 100 ms budget, above `latency.max.ms` = 50", cross.getMessage());
    }

    @ParameterizedTest
    @EnumSource(Implementation.class)
    void sinkFailuresFailTheirEventsAndFutures(Implementation impl) throws Exception {
        RecordingSink sink = new RecordingSink().failing();
        try (MicrobatchCollector c = open(impl, Map.of("level", "L1_REALTIME"), sink)) {
            List<CompletableFuture<Ack>> futures = new ArrayList<>();
            for (int i = 0; i < 50; i++) {
                futures.add(c.submit(event(0, i)));
                assertTrue(c.submitFireAndForget(event(1, i)));
            }
            for (CompletableFuture<Ack> f : futures) {
                ExecutionException e = assertThrows(ExecutionException.class, () -> f.get(10, TimeUnit.SECONDS));
                assertEquals(Result.DELIVERY, assertInstanceOf(MicrobatchException.class, e.getCause()).result());
            }
            c.flush(Duration.ofSeconds(10));
            Status s = c.status();
            assertEquals(100, s.failed());
            assertEquals(0, s.delivered());
            assertTrue(s.sinkErrors() >= 1);
            assertEquals(0, s.trackedInUse());
            assertQuiescentAccounting(s);
        }
    }

    @ParameterizedTest
    @EnumSource(Implementation.class)
    void flushTimesOutWhileTheSinkIsStuck(Implementation impl) throws Exception {
        RecordingSink sink = new RecordingSink().blocking();
        try (MicrobatchCollector c = open(impl, Map.of("level", "L1_REALTIME"), sink)) {
            assertTrue(c.submitFireAndForget(event(0, 0)));
            MicrobatchException e = assertThrows(MicrobatchException.class, () -> c.flush(Duration.ofMillis(200)));
            assertEquals(Result.TIMEOUT, e.result());
            assertEquals(1, c.status().pending());
            sink.release();
            c.flush(Duration.ofSeconds(10));
            assertEquals(1, c.status().delivered());
        }
    }

    @ParameterizedTest
    @EnumSource(Implementation.class)
    void anUnacknowledgedFutureTimesOutAndReleasesItsSlot(Implementation impl) throws Exception {
        RecordingSink sink = new RecordingSink().blocking();
        try (MicrobatchCollector c = open(impl, Map.of("level", "L1_REALTIME", "ack.timeout.ms", "200"), sink)) {
            CompletableFuture<Ack> f = c.submit(event(0, 0));
            ExecutionException e = assertThrows(ExecutionException.class, () -> f.get(10, TimeUnit.SECONDS));
            assertEquals(Result.TIMEOUT, assertInstanceOf(MicrobatchException.class, e.getCause()).result());
            assertEquals(0, c.status().trackedInUse(), "a timed-out future holds no slot");
            sink.release();
            c.flush(Duration.ofSeconds(10));
            assertEquals(1, c.status().delivered(), "the event itself still goes out");
        }
    }

    @ParameterizedTest
    @EnumSource(Implementation.class)
    void trackingSlotsAreALimit(Implementation impl) throws Exception {
        RecordingSink sink = new RecordingSink().blocking();
        try (MicrobatchCollector c = open(impl, Map.of("level", "L1_REALTIME", "tracking.slots", "2"), sink)) {
            CompletableFuture<Ack> a = c.submit(event(0, 0));
            CompletableFuture<Ack> b = c.submit(event(0, 1));
            CompletableFuture<Ack> refused = c.submit(event(0, 2));
            ExecutionException e = assertThrows(ExecutionException.class, () -> refused.get(5, TimeUnit.SECONDS));
            assertEquals(Result.TRACKING_FULL, assertInstanceOf(MicrobatchException.class, e.getCause()).result());
            assertEquals(1, c.status().rejected());
            assertEquals(2, c.status().trackedHighWater());
            sink.release();
            assertNotNull(a.get(10, TimeUnit.SECONDS));
            assertNotNull(b.get(10, TimeUnit.SECONDS));
            assertNotNull(c.submit(event(0, 3)).get(10, TimeUnit.SECONDS), "slots are reusable once acknowledged");
        }
    }

    @ParameterizedTest
    @EnumSource(Implementation.class)
    void closeCompletesEveryFuture(Implementation impl) {
        RecordingSink sink = new RecordingSink().blocking();
        MicrobatchCollector c = open(impl, Map.of("level", "L1_REALTIME", "close.timeout.ms", "300",
                "ack.timeout.ms", "0"), sink);
        List<CompletableFuture<Ack>> futures = new ArrayList<>();
        for (int i = 0; i < 20; i++) {
            futures.add(c.submit(event(0, i)));
        }
        c.close();
        sink.release();
        for (CompletableFuture<Ack> f : futures) {
            assertTrue(f.isDone(), "close leaves no future hanging");
        }
    }

    @ParameterizedTest
    @EnumSource(Implementation.class)
    void anIdleCollectorFallsToTheCalmestLevel(Implementation impl) throws Exception {
        try (MicrobatchCollector c = open(impl, Map.of("pressure.window.ms", "50", "sink", "null"), null)) {
            assertEquals(PressureLevel.L5_BALANCED, c.status().level(), "starts balanced");
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
            while (c.status().level() != PressureLevel.L1_REALTIME && System.nanoTime() < deadline) {
                Thread.sleep(20);
            }
            Status s = c.status();
            assertEquals(PressureLevel.L1_REALTIME, s.level());
            assertEquals(0.0, s.ratePerSec());
            assertEquals(PressureLevel.L1_REALTIME.bootstrap().batchEvents(), s.batchEvents());
            assertEquals(PressureLevel.L1_REALTIME.budgetMicros(), s.intervalMicros());
        }
    }

    @ParameterizedTest
    @EnumSource(Implementation.class)
    void theLevelFollowsTheSubmittedRateUpToTheCeiling(Implementation impl) throws Exception {
        for (String ceiling : List.of("30000", "100")) {
            try (MicrobatchCollector c = open(impl, Map.of("pressure.window.ms", "200", "sink", "null",
                    "latency.max.ms", ceiling), null)) {
                // 200,000 events at once: at least 500,000/s over a 200 ms window, however the
                // windows fall.
                byte[][] burst = new byte[1000][];
                for (int i = 0; i < burst.length; i++) {
                    burst[i] = event(0, i);
                }
                for (int i = 0; i < 200; i++) {
                    int done = 0;
                    while (done < burst.length) {
                        done += c.submitFireAndForget(burst, done, burst.length - done);
                    }
                }
                PressureLevel highest = c.status().level(); // the start: L5, or the ceiling below it
                long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
                while (System.nanoTime() < deadline && highest.compareTo(PressureLevel.L8_AGGRESSIVE) < 0) {
                    Status s = c.status();
                    if (s.level().compareTo(highest) > 0) {
                        highest = s.level();
                        assertEquals(highest.bootstrap(1_000_000).batchEvents(), s.batchEvents());
                        assertEquals(highest.budgetMicros(), s.intervalMicros());
                        assertTrue(s.ratePerSec() >= highest.minRate(), s.toString());
                    }
                    Thread.sleep(5);
                }
                PressureLevel expected = ceiling.equals("100") ? PressureLevel.L5_BALANCED : PressureLevel.L8_AGGRESSIVE;
                assertTrue(highest.compareTo(expected) >= 0 && (ceiling.equals("30000") || highest == expected),
                        "highest level " + highest + " with latency.max.ms=" + ceiling);
            }
        }
    }

    @ParameterizedTest
    @EnumSource(Implementation.class)
    void windowsAreRecordedInTheSharedCalibrationFile(Implementation impl) throws Exception {
        Path db = dir.resolve("calibration.db");
        try (MicrobatchCollector c = open(impl, Map.of("calibration.enabled", "true",
                "calibration.path", db.toString(), "pressure.window.ms", "100", "sink", "null"), null)) {
            long end = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(700);
            long i = 0;
            while (System.nanoTime() < end) {
                c.submitFireAndForget(event(0, i++));
                if (i % 1000 == 0) {
                    Thread.sleep(1);
                }
            }
            c.flush(Duration.ofSeconds(10));
            Thread.sleep(250);
            Status s = c.status();
            assertEquals(0, s.calibrationErrors());
            assertTrue(s.latencyMaxMicros() >= s.latencyP50Micros(), s.toString());
        }
        try (Connection conn = DriverManager.getConnection("jdbc:sqlite:" + db);
             Statement st = conn.createStatement();
             ResultSet rs = st.executeQuery("SELECT COUNT(*), MIN(impl), MAX(impl) FROM observations")) {
            assertTrue(rs.next());
            assertTrue(rs.getLong(1) >= 2, "one observation per busy window, got " + rs.getLong(1));
            String name = impl.name().toLowerCase(Locale.ROOT);
            assertEquals(name, rs.getString(2));
            assertEquals(name, rs.getString(3));
        }
    }

    @ParameterizedTest
    @EnumSource(Implementation.class)
    void theImplementationIsTheOneAskedFor(Implementation impl) {
        try (MicrobatchCollector c = open(impl, Map.of("sink", "null", "microbatch.impl", impl.name()), null)) {
            assertEquals(impl, c.implementation());
        }
    }

    @Test
    void theKeyOrTheSystemPropertyChoosesTheImplementation() {
        String saved = System.getProperty(MicrobatchCollector.IMPL_KEY);
        try {
            System.clearProperty(MicrobatchCollector.IMPL_KEY);
            assertEquals(Implementation.RUST, MicrobatchCollector.implementationFor(Map.of()));
            try (MicrobatchCollector c = MicrobatchCollector.create(Map.of("microbatch.impl", "java",
                    "calibration.enabled", "false", "sink", "null"))) {
                assertEquals(Implementation.JAVA, c.implementation());
            }
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> MicrobatchCollector.create(Map.of("microbatch.impl", "go")));
            assertEquals("`microbatch.impl` must be java or rust, got \"go\"", e.getMessage());
            if (!NativeCollectorFactory.isAvailable()) {
                IllegalStateException missing = assertThrows(IllegalStateException.class,
                        () -> MicrobatchCollector.create(Map.of("sink", "null")));
                assertTrue(missing.getMessage().startsWith("Rust implementation not available: "), missing.getMessage());
            }
            System.setProperty(MicrobatchCollector.IMPL_KEY, "java");
            RecordingSink sink = new RecordingSink();
            try (BatchCalibration cal = BatchCalibration.create(dir.resolve("seed.db"), 5000.0);
                 MicrobatchCollector c = MicrobatchCollector.create(sink, cal)) {
                assertEquals(Implementation.JAVA, c.implementation());
                assertTrue(c.submitFireAndForget("seed".getBytes()));
                c.flush(Duration.ofSeconds(5));
                assertEquals("seed", new String(sink.events().get(0)));
            }
        } finally {
            if (saved == null) {
                System.clearProperty(MicrobatchCollector.IMPL_KEY);
            } else {
                System.setProperty(MicrobatchCollector.IMPL_KEY, saved);
            }
        }
        assertFalse(NativeCollectorFactory.isAvailable() && NativeCollectorFactory.unavailableReason() != null);
    }
}
