package com.reactive.platform.kafka.benchmark.rings;

import com.lmax.disruptor.EventPoller;
import com.lmax.disruptor.InsufficientCapacityException;
import com.lmax.disruptor.RingBuffer;
import com.lmax.disruptor.YieldingWaitStrategy;
import com.reactive.platform.gateway.microbatch.FastRingBuffer;
import com.reactive.platform.gateway.microbatch.MpscRingBuffer;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLongArray;
import org.jctools.queues.MessagePassingQueue;
import org.jctools.queues.MpscArrayQueue;
import org.jctools.queues.SpscArrayQueue;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Group;
import org.openjdk.jmh.annotations.GroupThreads;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;
import org.openjdk.jmh.infra.Blackhole;

/**
 * Ring throughput between one producer and one consumer thread, all rings moving a reference
 * to the same pre-allocated 100-byte array (no copy of the bytes anywhere here), in the manner
 * of JMHSample_15_Asymmetric: each benchmark is a {@link Group} of a producer method and a
 * consumer method that JMH runs on two threads at once against one {@link Scope#Group} state.
 * Neither side blocks or spins: a refused offer or an empty poll returns and is counted
 * ({@link Counters}), so the figure to read is {@code polled}, elements moved per second.
 * Consumed elements go to a {@link Blackhole} (JMHSample_09) so nothing is eliminated.
 *
 * <p>{@code single}: one element per call on both sides. {@code batch}: {@value #BATCH} per
 * call, each ring's own batch API (FastRingBuffer {@code offer(E[],..)}/{@code drainTo},
 * JCTools {@code fill}/{@code drain}, Disruptor {@code tryNext(n)}/{@code publish(lo, hi)} and
 * its {@code EventPoller}), which is how the collector's flush threads drain.
 *
 * <p>Capacity 65,536 for every ring (the Java collector's default slots per partition).
 * ConcurrentLinkedQueue is unbounded: its producer stops offering when it is more than the
 * capacity ahead (checked every 256 offers), so it cannot run away and measure the GC.
 */
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 2, time = 1)
@Measurement(iterations = 3, time = 1)
@Fork(1)
public class RingBenchmarks {
    /** Elements per batch call. */
    public static final int BATCH = 64;
    /** What every ring moves: a reference to this array. */
    static final byte[] EVENT = new byte[100];
    static final int CAPACITY = 1 << 16;

    // ---------------------------------------------------------------- FastRingBuffer (SPSC)

    @State(Scope.Group)
    public static class Fast {
        FastRingBuffer<byte[]> ring;
        final byte[][] batch = filled();
        final Object[] out = new Object[BATCH];

        @Setup(Level.Trial)
        public void make() {
            ring = new FastRingBuffer<>(CAPACITY);
        }
    }

    @Benchmark
    @Group("fastSingle")
    @GroupThreads(1)
    public void fastSingleOffer(Fast s, Counters.Offers c) {
        if (s.ring.offer(EVENT)) {
            c.offered++;
        } else {
            c.offersFull++;
        }
    }

    @Benchmark
    @Group("fastSingle")
    @GroupThreads(1)
    public void fastSinglePoll(Fast s, Counters.Polls c, Blackhole bh) {
        byte[] e = s.ring.poll();
        if (e == null) {
            c.pollsEmpty++;
        } else {
            c.polled++;
            bh.consume(e);
        }
    }

    @Benchmark
    @Group("fastBatch")
    @GroupThreads(1)
    public void fastBatchOffer(Fast s, Counters.Offers c) {
        int n = s.ring.offer(s.batch, 0, BATCH);
        if (n == 0) {
            c.offersFull++;
        }
        c.offered += n;
    }

    @Benchmark
    @Group("fastBatch")
    @GroupThreads(1)
    public void fastBatchDrain(Fast s, Counters.Polls c, Blackhole bh) {
        int n = s.ring.drainTo(s.out, 0, BATCH);
        if (n == 0) {
            c.pollsEmpty++;
        }
        for (int i = 0; i < n; i++) {
            bh.consume(s.out[i]);
        }
        c.polled += n;
    }

    // ---------------------------------------------------------------- MpscRingBuffer (one producer here)

    @State(Scope.Group)
    public static class Mpsc {
        MpscRingBuffer<byte[]> ring;
        final byte[][] batch = filled();
        final Object[] out = new Object[BATCH];

        @Setup(Level.Trial)
        public void make() {
            ring = new MpscRingBuffer<>(CAPACITY);
        }
    }

    @Benchmark
    @Group("mpscSingle")
    @GroupThreads(1)
    public void mpscSingleOffer(Mpsc s, Counters.Offers c) {
        if (s.ring.offer(EVENT)) {
            c.offered++;
        } else {
            c.offersFull++;
        }
    }

    @Benchmark
    @Group("mpscSingle")
    @GroupThreads(1)
    public void mpscSinglePoll(Mpsc s, Counters.Polls c, Blackhole bh) {
        byte[] e = s.ring.poll();
        if (e == null) {
            c.pollsEmpty++;
        } else {
            c.polled++;
            bh.consume(e);
        }
    }

    @Benchmark
    @Group("mpscBatch")
    @GroupThreads(1)
    public void mpscBatchOffer(Mpsc s, Counters.Offers c) {
        int n = s.ring.offer(s.batch, 0, BATCH);
        if (n == 0) {
            c.offersFull++;
        }
        c.offered += n;
    }

    @Benchmark
    @Group("mpscBatch")
    @GroupThreads(1)
    public void mpscBatchDrain(Mpsc s, Counters.Polls c, Blackhole bh) {
        int n = s.ring.drainTo(s.out, 0, BATCH);
        if (n == 0) {
            c.pollsEmpty++;
        }
        for (int i = 0; i < n; i++) {
            bh.consume(s.out[i]);
        }
        c.polled += n;
    }

    // ---------------------------------------------------------------- JCTools SpscArrayQueue

    @State(Scope.Group)
    public static class JcSpsc {
        SpscArrayQueue<byte[]> q;

        @Setup(Level.Trial)
        public void make() {
            q = new SpscArrayQueue<>(CAPACITY);
        }
    }

    @Benchmark
    @Group("jctoolsSpscSingle")
    @GroupThreads(1)
    public void jctoolsSpscSingleOffer(JcSpsc s, Counters.Offers c) {
        if (s.q.offer(EVENT)) {
            c.offered++;
        } else {
            c.offersFull++;
        }
    }

    @Benchmark
    @Group("jctoolsSpscSingle")
    @GroupThreads(1)
    public void jctoolsSpscSinglePoll(JcSpsc s, Counters.Polls c, Blackhole bh) {
        byte[] e = s.q.poll();
        if (e == null) {
            c.pollsEmpty++;
        } else {
            c.polled++;
            bh.consume(e);
        }
    }

    @Benchmark
    @Group("jctoolsSpscBatch")
    @GroupThreads(1)
    public void jctoolsSpscBatchFill(JcSpsc s, Counters.Offers c) {
        int n = s.q.fill(SUPPLIER, BATCH);
        if (n == 0) {
            c.offersFull++;
        }
        c.offered += n;
    }

    @Benchmark
    @Group("jctoolsSpscBatch")
    @GroupThreads(1)
    public void jctoolsSpscBatchDrain(JcSpsc s, Sink sink, Counters.Polls c, Blackhole bh) {
        sink.bh = bh;
        int n = s.q.drain(sink, BATCH);
        if (n == 0) {
            c.pollsEmpty++;
        }
        c.polled += n;
    }

    // ---------------------------------------------------------------- JCTools MpscArrayQueue (one producer here)

    @State(Scope.Group)
    public static class JcMpsc {
        MpscArrayQueue<byte[]> q;

        @Setup(Level.Trial)
        public void make() {
            q = new MpscArrayQueue<>(CAPACITY);
        }
    }

    @Benchmark
    @Group("jctoolsMpscSingle")
    @GroupThreads(1)
    public void jctoolsMpscSingleOffer(JcMpsc s, Counters.Offers c) {
        if (s.q.offer(EVENT)) {
            c.offered++;
        } else {
            c.offersFull++;
        }
    }

    @Benchmark
    @Group("jctoolsMpscSingle")
    @GroupThreads(1)
    public void jctoolsMpscSinglePoll(JcMpsc s, Counters.Polls c, Blackhole bh) {
        byte[] e = s.q.poll();
        if (e == null) {
            c.pollsEmpty++;
        } else {
            c.polled++;
            bh.consume(e);
        }
    }

    @Benchmark
    @Group("jctoolsMpscBatch")
    @GroupThreads(1)
    public void jctoolsMpscBatchFill(JcMpsc s, Counters.Offers c) {
        int n = s.q.fill(SUPPLIER, BATCH);
        if (n == 0) {
            c.offersFull++;
        }
        c.offered += n;
    }

    @Benchmark
    @Group("jctoolsMpscBatch")
    @GroupThreads(1)
    public void jctoolsMpscBatchDrain(JcMpsc s, Sink sink, Counters.Polls c, Blackhole bh) {
        sink.bh = bh;
        int n = s.q.drain(sink, BATCH);
        if (n == 0) {
            c.pollsEmpty++;
        }
        c.polled += n;
    }

    /** Supplies the event reference to JCTools' fill. */
    static final MessagePassingQueue.Supplier<byte[]> SUPPLIER = () -> EVENT;

    /** Hands drained elements to the consumer thread's Blackhole. */
    @State(Scope.Thread)
    public static class Sink implements MessagePassingQueue.Consumer<byte[]> {
        Blackhole bh;

        @Override
        public void accept(byte[] e) {
            bh.consume(e);
        }
    }

    // ---------------------------------------------------------------- LMAX Disruptor 4 (single producer)

    /** A Disruptor entry: pre-allocated, the producer sets the reference it carries. */
    public static final class Entry {
        byte[] value;
    }

    @State(Scope.Group)
    public static class Lmax {
        RingBuffer<Entry> ring;
        EventPoller<Entry> poller;

        @Setup(Level.Trial)
        public void make() {
            // The wait strategy is never used: the poller is pulled, no consumer thread waits.
            ring = RingBuffer.createSingleProducer(Entry::new, CAPACITY, new YieldingWaitStrategy());
            poller = ring.newPoller();
            ring.addGatingSequences(poller.getSequence());
        }
    }

    /** The consumer's poll handler: consumes each entry's reference into the Blackhole. */
    @State(Scope.Thread)
    public static class LmaxHandler implements EventPoller.Handler<Entry> {
        Blackhole bh;
        long taken;

        @Override
        public boolean onEvent(Entry e, long sequence, boolean endOfBatch) {
            bh.consume(e.value);
            taken++;
            return true;
        }
    }

    /** Poller handler that stops after one event, so {@code single} moves one element per call. */
    @State(Scope.Thread)
    public static class LmaxOneHandler implements EventPoller.Handler<Entry> {
        Blackhole bh;
        long taken;

        @Override
        public boolean onEvent(Entry e, long sequence, boolean endOfBatch) {
            bh.consume(e.value);
            taken++;
            return false;
        }
    }

    @Benchmark
    @Group("disruptorSingle")
    @GroupThreads(1)
    public void disruptorSinglePublish(Lmax s, Counters.Offers c) {
        try {
            long seq = s.ring.tryNext();
            s.ring.get(seq).value = EVENT;
            s.ring.publish(seq);
            c.offered++;
        } catch (InsufficientCapacityException full) {
            c.offersFull++;
        }
    }

    @Benchmark
    @Group("disruptorSingle")
    @GroupThreads(1)
    public void disruptorSinglePoll(Lmax s, LmaxOneHandler h, Counters.Polls c, Blackhole bh) throws Exception {
        h.bh = bh;
        long before = h.taken;
        s.poller.poll(h);
        long n = h.taken - before;
        if (n == 0) {
            c.pollsEmpty++;
        }
        c.polled += n;
    }

    @Benchmark
    @Group("disruptorBatch")
    @GroupThreads(1)
    public void disruptorBatchPublish(Lmax s, Counters.Offers c) {
        try {
            long hi = s.ring.tryNext(BATCH);
            long lo = hi - (BATCH - 1);
            for (long q = lo; q <= hi; q++) {
                s.ring.get(q).value = EVENT;
            }
            s.ring.publish(lo, hi);
            c.offered += BATCH;
        } catch (InsufficientCapacityException full) {
            c.offersFull++;
        }
    }

    @Benchmark
    @Group("disruptorBatch")
    @GroupThreads(1)
    public void disruptorBatchPoll(Lmax s, LmaxHandler h, Counters.Polls c, Blackhole bh) throws Exception {
        // The poller hands over everything published since the last poll (its batch).
        h.bh = bh;
        long before = h.taken;
        s.poller.poll(h);
        long n = h.taken - before;
        if (n == 0) {
            c.pollsEmpty++;
        }
        c.polled += n;
    }

    // ---------------------------------------------------------------- ConcurrentLinkedQueue (the seed's 5.7x claim)

    @State(Scope.Group)
    public static class Clq {
        final ConcurrentLinkedQueue<byte[]> q = new ConcurrentLinkedQueue<>();
        /**
         * Elements taken, published by the consumer every 64 polls, at index 16 of 32 so that
         * it shares no cache line with anything the producer writes (JMHSample_22).
         */
        final AtomicLongArray taken = new AtomicLongArray(32);
    }

    /** The CLQ producer's own count and bound state. */
    @State(Scope.Thread)
    public static class ClqProducer {
        long put;
        boolean blocked;
    }

    /** The CLQ consumer's own count. */
    @State(Scope.Thread)
    public static class ClqConsumer {
        long taken;
    }

    @Benchmark
    @Group("clqSingle")
    @GroupThreads(1)
    public void clqSingleOffer(Clq s, ClqProducer p, Counters.Offers c) {
        // Bound the unbounded queue at about CAPACITY: checked every 256 offers, and on every
        // offer while over the bound.
        if (p.blocked || (p.put & 255) == 0) {
            p.blocked = p.put - s.taken.get(16) > CAPACITY;
            if (p.blocked) {
                c.offersFull++;
                return;
            }
        }
        s.q.offer(EVENT);
        p.put++;
        c.offered++;
    }

    @Benchmark
    @Group("clqSingle")
    @GroupThreads(1)
    public void clqSinglePoll(Clq s, ClqConsumer k, Counters.Polls c, Blackhole bh) {
        byte[] e = s.q.poll();
        if (e == null) {
            c.pollsEmpty++;
        } else {
            if ((++k.taken & 63) == 0) {
                s.taken.lazySet(16, k.taken);
            }
            c.polled++;
            bh.consume(e);
        }
    }

    static byte[][] filled() {
        byte[][] b = new byte[BATCH][];
        java.util.Arrays.fill(b, EVENT);
        return b;
    }
}
