package com.reactive.platform.gateway.microbatch;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;

/**
 * One flush thread of the Java collector. It owns a fixed set of partitions (partition i goes
 * to thread i mod flush.threads) and, in a loop: drains each partition's ring into its stage,
 * applies the flush rule (N events, or the oldest waited T; also the frame byte cap, a
 * flush or close in progress, and flush-when-idle), and encodes frames in format v1 straight
 * from the staged events (the one copy of the event bytes), handing them to the sink.
 *
 * <p>When a pass finds no work it spins briefly, yields, then parks for at most a quarter of T
 * (20 us to 1 ms) or until the oldest staged event is due, so the budget holds without
 * producers ever having to wake it.
 */
final class FlushWorker implements Runnable {
    static final int COUNT = 0;
    static final int TIME = 1;
    static final int BYTES = 2;
    static final int IDLE = 3;

    /** Most events moved from one ring per pass, so one busy partition cannot starve the others. */
    private static final int DRAIN_CHUNK = 8192;
    private static final long MIN_PARK_NANOS = 20_000;
    private static final long MAX_PARK_NANOS = 1_000_000;
    private static final VarHandle INT_LE = MethodHandles.byteArrayViewVarHandle(int[].class, ByteOrder.LITTLE_ENDIAN);

    final int index;
    private final JavaMicrobatchCollector collector;
    private final CollectorPartition[] partitions;
    private final FrameSink sink;
    private final int maxFrameBytes;

    /** Frames sent and not yet settled by the sink (flush-when-idle looks at it). */
    final AtomicInteger inFlight = new AtomicInteger();
    /**
     * Cumulative, written by this thread only; read by the window at its end. Busy time is the
     * length of every pass that drained or sent something.
     */
    final AtomicLong busyNanos = new AtomicLong();
    final AtomicLong frames = new AtomicLong();
    final AtomicLong frameEvents = new AtomicLong();
    final AtomicLong frameBytes = new AtomicLong();
    final AtomicLong[] closedBy = {new AtomicLong(), new AtomicLong(), new AtomicLong(), new AtomicLong()};

    private byte[] scratch = new byte[64 << 10];
    private ByteBuffer scratchView = ByteBuffer.wrap(scratch).order(ByteOrder.LITTLE_ENDIAN);
    /** Earliest time a staged event of this thread is due by T, seen in the last pass. */
    private long nextDueNanos;

    FlushWorker(int index, JavaMicrobatchCollector collector, CollectorPartition[] partitions, FrameSink sink,
                int maxFrameBytes) {
        this.index = index;
        this.collector = collector;
        this.partitions = partitions;
        this.sink = sink;
        this.maxFrameBytes = maxFrameBytes;
    }

    @Override
    public void run() {
        long lastPass = System.nanoTime();
        for (CollectorPartition p : partitions) {
            p.stage.lastDrainNanos = lastPass;
        }
        int idleRounds = 0;
        long park = MIN_PARK_NANOS;
        while (true) {
            final boolean stopping = collector.stopping;
            if (collector.abandoned) {
                return;
            }
            final long now = System.nanoTime();
            final JavaMicrobatchCollector.Settings s = collector.settings;
            nextDueNanos = Long.MAX_VALUE;
            boolean worked = false;
            for (CollectorPartition p : partitions) {
                worked |= serve(p, now, s, stopping);
            }
            if (worked) {
                // Draining, encoding and sending: the flush side's cost, which the score divides by.
                busyNanos.lazySet(busyNanos.get() + System.nanoTime() - now);
            }
            if (index == 0) {
                collector.endWindowIfDue(now);
            }
            if (stopping && !worked && drainedAll()) {
                return;
            }
            if (worked) {
                idleRounds = 0;
                park = MIN_PARK_NANOS;
            } else if (++idleRounds < 64) {
                Thread.onSpinWait();
            } else if (idleRounds < 80) {
                Thread.yield();
            } else {
                long cap = Math.max(MIN_PARK_NANOS, Math.min(MAX_PARK_NANOS, s.intervalNanos() / 4));
                park = Math.min(Math.min(park * 2, cap), Math.max(0, nextDueNanos - now));
                LockSupport.parkNanos(this, Math.max(1_000, park));
            }
        }
    }

    private boolean drainedAll() {
        for (CollectorPartition p : partitions) {
            if (p.stage.count != 0 || !p.ringEmpty()) {
                return false;
            }
        }
        return true;
    }

    /** Drains one partition and sends what the flush rule says is due. True if it did anything. */
    private boolean serve(CollectorPartition p, long now, JavaMicrobatchCollector.Settings s, boolean stopping) {
        final CollectorPartition.Stage st = p.stage;
        boolean worked = false;
        int room = st.events.length - st.count;
        if (room == 0) {
            int limit = stageLimit(s);
            if (st.events.length < limit) {
                int grown = (int) Math.min(limit, 2L * st.events.length);
                st.events = Arrays.copyOf(st.events, grown);
                st.stamps = Arrays.copyOf(st.stamps, grown);
                room = st.events.length - st.count;
            }
        }
        if (room > 0) {
            int n = p.drainTo(st.events, st.count, Math.min(room, DRAIN_CHUNK));
            if (n > 0) {
                if (st.count == 0) {
                    st.oldestNanos = st.lastDrainNanos;
                }
                Arrays.fill(st.stamps, st.count, st.count + n, st.lastDrainNanos);
                long bytes = 0;
                final Object[] ev = st.events;
                for (int i = st.count, end = st.count + n; i < end; i++) {
                    bytes += Frames.EVENT_PREFIX_BYTES + Tracked.bytesOf(ev[i]).length;
                }
                st.bytes += bytes;
                st.count += n;
                st.drained += n;
                worked = true;
            }
        }
        st.lastDrainNanos = now;
        if (st.count == 0) {
            return worked;
        }
        final boolean forced = stopping || st.drained - st.count < p.forceUntil.get();
        final boolean late = now - st.oldestNanos >= s.intervalNanos();
        final boolean idle = s.idleFlush() && inFlight.get() == 0;
        final boolean full = st.count >= s.batchEvents() || st.bytes + Frames.HEADER_BYTES > maxFrameBytes;
        if (!(forced || late || idle || full)) {
            nextDueNanos = Math.min(nextDueNanos, st.oldestNanos + s.intervalNanos());
            return worked;
        }
        int partialReason = forced || late ? TIME : (idle ? IDLE : -1);
        sendStaged(p, st, s, partialReason);
        if (st.count > 0) {
            nextDueNanos = Math.min(nextDueNanos, st.oldestNanos + s.intervalNanos());
        }
        return true;
    }

    /** Staged events the flush rule can need at once: a frame of N events or of the byte cap. */
    private int stageLimit(JavaMicrobatchCollector.Settings s) {
        long byBytes = (maxFrameBytes - Frames.HEADER_BYTES) / Frames.EVENT_PREFIX_BYTES + 1;
        return (int) Math.max(1024, Math.min(Math.min(s.batchEvents(), byBytes), Integer.MAX_VALUE - 16));
    }

    /**
     * Cuts the staged events into frames of at most N events and the byte cap, in order, and
     * sends them; a last, partial frame goes only if {@code partialReason} is not -1 (the frame
     * is late, idle-flushable or forced), otherwise it stays staged.
     */
    private void sendStaged(CollectorPartition p, CollectorPartition.Stage st, JavaMicrobatchCollector.Settings s,
                            int partialReason) {
        final Object[] ev = st.events;
        final long n = s.batchEvents();
        int from = 0;
        while (from < st.count) {
            int k = 0;
            long bytes = Frames.HEADER_BYTES;
            while (from + k < st.count && k < n) {
                int len = Frames.EVENT_PREFIX_BYTES + Tracked.bytesOf(ev[from + k]).length;
                if (bytes + len > maxFrameBytes && k > 0) {
                    break;
                }
                bytes += len;
                k++;
            }
            int reason;
            if (k >= n) {
                reason = COUNT;
            } else if (from + k < st.count) {
                reason = BYTES;
            } else if (partialReason >= 0) {
                reason = partialReason;
            } else {
                break;
            }
            sendFrame(p, ev, from, k, (int) bytes, st.stamps[from], reason);
            st.bytes -= bytes - Frames.HEADER_BYTES;
            from += k;
        }
        if (from > 0) {
            int left = st.count - from;
            System.arraycopy(ev, from, ev, 0, left);
            System.arraycopy(st.stamps, from, st.stamps, 0, left);
            Arrays.fill(ev, left, st.count, null);
            st.count = left;
            // The events left staged came later than the ones sent: their own oldest time
            // decides when they are late (keeping the old one sent them early and overstated
            // their wait).
            if (left > 0) {
                st.oldestNanos = st.stamps[0];
            }
        }
    }

    private void sendFrame(CollectorPartition p, Object[] ev, int from, int k, int bytes, long oldestNanos, int reason) {
        final FrameCompletion done = new FrameCompletion(collector, p, this, k, oldestNanos);
        inFlight.incrementAndGet();
        if (sink.recordMode()) {
            for (int i = 0; i < k; i++) {
                Object o = ev[from + i];
                if (o instanceof Tracked) {
                    done.track((Tracked) o, i);
                }
            }
            for (int i = 0; i < k; i++) {
                Object o = ev[from + i];
                byte[] e = Tracked.bytesOf(o);
                if (o instanceof Tracked) {
                    ((Tracked) o).event = null;
                }
                sink.sendEvent(e, i, index, done);
            }
        } else {
            final byte[] frame;
            final ByteBuffer view;
            if (sink.keepsFrames()) {
                frame = new byte[bytes];
                view = null;
            } else {
                if (scratch.length < bytes) {
                    scratch = new byte[Math.max(bytes, (int) Math.min(Integer.MAX_VALUE - 16, 2L * scratch.length))];
                    scratchView = ByteBuffer.wrap(scratch).order(ByteOrder.LITTLE_ENDIAN);
                }
                frame = scratch;
                view = scratchView;
                view.clear().limit(bytes);
            }
            encode(frame, ev, from, k, done);
            sink.sendFrame(frame, bytes, view, k, index, done);
        }
        frames.lazySet(frames.get() + 1);
        frameEvents.lazySet(frameEvents.get() + k);
        frameBytes.lazySet(frameBytes.get() + bytes);
        closedBy[reason].lazySet(closedBy[reason].get() + 1);
        collector.flushedBatches.incrementAndGet();
    }

    /** Writes a v1 frame of {@code ev[from .. from+k)} into {@code frame} and notes tracked events. */
    private static void encode(byte[] frame, Object[] ev, int from, int k, FrameCompletion done) {
        frame[0] = Frames.MAGIC_0;
        frame[1] = Frames.MAGIC_1;
        frame[2] = Frames.VERSION;
        frame[3] = 0;
        INT_LE.set(frame, 4, k);
        int pos = Frames.HEADER_BYTES;
        for (int i = 0; i < k; i++) {
            Object o = ev[from + i];
            byte[] e;
            if (o instanceof byte[]) {
                e = (byte[]) o;
            } else {
                Tracked t = (Tracked) o;
                e = t.event;
                t.event = null; // framed: the future need not keep the bytes alive
                done.track(t, i);
            }
            INT_LE.set(frame, pos, e.length);
            System.arraycopy(e, 0, frame, pos + Frames.EVENT_PREFIX_BYTES, e.length);
            pos += Frames.EVENT_PREFIX_BYTES + e.length;
        }
    }

    /** A frame this thread sent was settled by the sink (any thread). */
    void frameSettled() {
        inFlight.decrementAndGet();
    }
}
