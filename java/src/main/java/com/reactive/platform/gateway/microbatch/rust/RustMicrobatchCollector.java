package com.reactive.platform.gateway.microbatch.rust;

import com.reactive.platform.gateway.microbatch.Ack;
import com.reactive.platform.gateway.microbatch.BatchCalibration;
import com.reactive.platform.gateway.microbatch.BatchSink;
import com.reactive.platform.gateway.microbatch.CollectorConfig;
import com.reactive.platform.gateway.microbatch.Implementation;
import com.reactive.platform.gateway.microbatch.MicrobatchCollector;
import com.reactive.platform.gateway.microbatch.MicrobatchException;
import com.reactive.platform.gateway.microbatch.NativeLibrary;
import com.reactive.platform.gateway.microbatch.PressureLevel;
import com.reactive.platform.gateway.microbatch.Result;
import com.reactive.platform.gateway.microbatch.Status;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.LongAdder;

/**
 * The Rust collector ({@code libmicrobatch.so}) behind {@link MicrobatchCollector}: the owner of
 * one native handle, which it passes to {@link NativeBridge} and frees in {@link #close()}.
 *
 * <p><b>Configuration.</b> Every key is first checked by {@link CollectorConfig}, so both
 * implementations refuse a bad one with the same message; the keys the native library knows
 * ({@link #nativeKeys()} and {@code kafka.<property>}) are then passed on, and the rest
 * ({@code ack.timeout.ms}) are applied here. A {@link BatchCalibration} passed to {@link #create}
 * becomes {@code calibration.path} and {@code calibration.target.latency.us}: the native
 * collector learns into the same file.
 *
 * <p><b>Futures.</b> A tracked submit returns its future at once; no thread waits for it. One
 * daemon thread per collector (the drainer) takes outcomes from the native completion queue,
 * up to {@value #ACKS_PER_POLL} per JNI call, and completes the futures. An outcome can be
 * drained before the submitting thread has registered its future, so each ticket's entry in
 * {@link #outcomes} is either the waiting future or the early outcome, whichever came first.
 * The drainer also fails futures overdue by {@code ack.timeout.ms}: their entry becomes a
 * tombstone, removed when the outcome finally arrives. The native side reports every tracked
 * event's outcome exactly once, also through close, so the table empties itself: futures
 * nobody waits for cost nothing once their outcome is drained.
 *
 * <p><b>Close.</b> Refuses further calls, closes the native collector (which drains and
 * flushes, waiting at most {@code close.timeout.ms} for the sink) on a thread of its own, then
 * waits for the drainer to see the queue end. A {@link BatchSink} that does not return holds
 * the native close; after {@code close.timeout.ms} plus {@value #CLOSE_GRACE_MS} ms
 * {@code close()} stops waiting, fails the futures still pending with {@link Result#CLOSED},
 * and lets the native close finish in the background. A collector that is never closed keeps
 * its native threads and its drainer for the life of the process.
 *
 * <p><b>Status.</b> The native status, field by field ({@code calibration_windows},
 * {@code idle_flush} and {@code calibration_persistent} have no place in {@link Status}).
 * {@code trackedInUse} leaves out timed-out futures: their native slot stays taken until the
 * event settles (the native side cannot forget a ticket), but nobody waits for it any more.
 * After close, status is the collector's final one.
 */
public final class RustMicrobatchCollector implements MicrobatchCollector {
    private static final System.Logger LOG = System.getLogger(RustMicrobatchCollector.class.getName());

    /** Records per {@link NativeBridge#pollAcks} call: 32 KiB of direct buffer per collector. */
    static final int ACKS_PER_POLL = 1024;
    /** How long close waits beyond {@code close.timeout.ms} for the rings to drain and the threads to stop. */
    static final long CLOSE_GRACE_MS = 1_000;
    /** The staging block's size (the native {@code STAGING_BYTES}). */
    static final int STAGING_BYTES = 64 * 1024;
    /**
     * A virtual thread's "staging block": empty, so every non-empty event crosses as an array. The
     * native block belongs to the carrier thread, and a virtual thread may run on another carrier
     * at its next submit (or outlive the carrier and so the block), so it must not keep one.
     */
    private static final ByteBuffer NO_STAGING = ByteBuffer.allocate(0);
    /** {@code Thread.isVirtual()} from Java 21 on; null on 17, which has no virtual threads. */
    private static final MethodHandle IS_VIRTUAL = isVirtualHandle();
    /**
     * Each submitting thread's staging block, native memory seen as a direct buffer (little-endian:
     * the frame format's byte order): a submit writes its events there and crosses with primitives
     * only ({@link NativeBridge#submitStagedEvent}, {@link NativeBridge#submitStaged},
     * {@link NativeBridge#submitTrackedStaged}). A batch larger than the block crosses in pieces; an
     * event larger than it crosses alone, copied by the native side out of its array
     * ({@link NativeBridge#submit}). {@link #NO_STAGING} on virtual threads.
     */
    private static final ThreadLocal<ByteBuffer> STAGED = ThreadLocal.withInitial(
            () -> currentThreadIsVirtual() ? NO_STAGING : NativeBridge.stagingBuffer().order(ByteOrder.LITTLE_ENDIAN));

    private static MethodHandle isVirtualHandle() {
        try {
            return MethodHandles.publicLookup().findVirtual(Thread.class, "isVirtual", MethodType.methodType(boolean.class));
        } catch (ReflectiveOperationException before21) {
            return null;
        }
    }

    /** Whether the calling thread is a virtual thread (never on Java 17). */
    static boolean currentThreadIsVirtual() {
        if (IS_VIRTUAL == null) {
            return false;
        }
        try {
            return (boolean) IS_VIRTUAL.invokeExact(Thread.currentThread());
        } catch (Throwable unexpected) {
            return true; // unknown: take the path that is safe on any thread
        }
    }

    /** The drainer's longest wait in one poll, so overdue futures are failed without much delay. */
    private static final long MAX_POLL_MS = 100;

    /** Stands for a ticket whose future timed out or was abandoned: its outcome is dropped on arrival. */
    private static final Object TOMBSTONE = new Object() {
        @Override
        public String toString() {
            return "TOMBSTONE";
        }
    };

    private static final String UNAVAILABLE;
    private static volatile Set<String> nativeKeys;

    static {
        String reason = null;
        try {
            NativeLibrary.load();
        } catch (UnsatisfiedLinkError | SecurityException e) {
            reason = e.getMessage();
        }
        UNAVAILABLE = reason;
    }

    /** A tracked submit's future, with what the drainer needs to time it out. */
    private static final class Pending extends CompletableFuture<Ack> {
        final long ticket;
        final long deadlineNanos;

        Pending(long ticket, long deadlineNanos) {
            this.ticket = ticket;
            this.deadlineNanos = deadlineNanos;
        }
    }

    private final long handle;
    private final int eventMaxBytes;
    private final long ackTimeoutNanos;
    private final long closeTimeoutMillis;
    /** Ticket to {@link Pending}, early outcome ({@link Ack} or {@link MicrobatchException}), or {@link #TOMBSTONE}. */
    private final ConcurrentHashMap<Long, Object> outcomes = new ConcurrentHashMap<>();
    /**
     * Registered futures in registration order, which is deadline order (one timeout for all) to
     * within the moment between taking a deadline and queueing it; null without a timeout.
     */
    private final ConcurrentLinkedQueue<Pending> deadlines;
    /** Tombstones in {@link #outcomes}: native slots nobody waits for. */
    private final AtomicLong tombstones = new AtomicLong();
    /** Events refused here before crossing to the native side (too large), counted as rejected. */
    private final LongAdder rejectedHere = new LongAdder();
    private final Thread drainer;
    private final CountDownLatch nativeClosed = new CountDownLatch(1);
    private final Object closeLock = new Object();

    private volatile boolean closed;
    /** Set when close gave up waiting: futures registered from now on fail at once. */
    private volatile boolean abandoned;
    /** The status when close began, shown until the final one is known. */
    private volatile long[] statusAtClose;
    private volatile long[] finalStatus;

    private RustMicrobatchCollector(long handle, CollectorConfig config) {
        this.handle = handle;
        this.eventMaxBytes = config.eventMaxBytes();
        this.ackTimeoutNanos = config.ackTimeout().toNanos();
        this.closeTimeoutMillis = config.closeTimeout().toMillis();
        this.deadlines = ackTimeoutNanos > 0 ? new ConcurrentLinkedQueue<>() : null;
        this.drainer = new Thread(this::drain, "microbatch-acks");
        drainer.setDaemon(true);
        drainer.setUncaughtExceptionHandler((t, e) -> LOG.log(System.Logger.Level.ERROR,
                t.getName() + " stopped: futures of this collector no longer complete", e));
        drainer.start();
    }

    /**
     * Creates a Rust collector (called through {@link com.reactive.platform.gateway.microbatch.NativeCollectorFactory}).
     *
     * @param sink        receives the frames when not null (and {@code sink} then defaults to
     *                    {@code callback}); called on the native flush threads
     * @param calibration its file becomes {@code calibration.path} (and calibration is on); the
     *                    native collector opens the file itself; not closed by the collector
     * @throws IllegalArgumentException for a bad key or value, with the same message as the Java collector
     * @throws IllegalStateException    when the native library is not available
     */
    public static MicrobatchCollector create(Map<String, String> config, BatchSink sink, BatchCalibration calibration) {
        Objects.requireNonNull(config, "config");
        if (UNAVAILABLE != null) {
            throw new IllegalStateException("Rust implementation not available: " + UNAVAILABLE);
        }
        CollectorConfig parsed = CollectorConfig.parse(config, sink != null);

        Set<String> known = nativeKeys();
        List<String> keys = new ArrayList<>();
        List<String> values = new ArrayList<>();
        for (Map.Entry<String, String> e : config.entrySet()) {
            String key = e.getKey();
            // sink=callback names the BatchSink handed over below, which the native config
            // cannot name (its callback is a C function).
            boolean callback = key.equals("sink") && e.getValue().trim().equals("callback");
            if ((key.startsWith("kafka.") || known.contains(key)) && !callback) {
                keys.add(key);
                values.add(e.getValue());
            }
        }
        if (calibration != null) {
            // The native collector opens the same file itself: one database for both implementations.
            forward(known, config, keys, values, "calibration.enabled", "true");
            forward(known, config, keys, values, "calibration.path", calibration.location());
            long targetMicros = Math.round(Math.max(0, Math.min(30_000_000, calibration.targetLatencyMicros())));
            forward(known, config, keys, values, "calibration.target.latency.us", String.valueOf(targetMicros));
        }
        BatchSink frames = parsed.sink() == CollectorConfig.SinkType.CALLBACK ? littleEndian(sink) : null;
        long handle = NativeBridge.create(keys.toArray(new String[0]), values.toArray(new String[0]), frames);
        return new RustMicrobatchCollector(handle, parsed);
    }

    /** Adds {@code key=value} unless the native side does not know the key or the caller set it. */
    private static void forward(Set<String> known, Map<String, String> config, List<String> keys, List<String> values,
                                String key, String value) {
        if (known.contains(key) && !config.containsKey(key)) {
            keys.add(key);
            values.add(value);
        }
    }

    /** The frame arrives as a direct buffer over native memory; BatchSink promises little-endian order. */
    private static BatchSink littleEndian(BatchSink sink) {
        return (frame, eventCount) -> sink.accept(frame.order(ByteOrder.LITTLE_ENDIAN), eventCount);
    }

    /** Null when the native library is loaded, else why not (for NativeCollectorFactory). */
    public static String unavailableReason() {
        return UNAVAILABLE;
    }

    /**
     * The configuration keys the native collector knows, besides {@code kafka.<property>}.
     *
     * @throws IllegalStateException when the native library is not available
     */
    public static Set<String> nativeKeys() {
        Set<String> keys = nativeKeys;
        if (keys == null) {
            if (UNAVAILABLE != null) {
                throw new IllegalStateException("Rust implementation not available: " + UNAVAILABLE);
            }
            keys = Set.of(NativeBridge.configKeys());
            nativeKeys = keys;
        }
        return keys;
    }

    @Override
    public Implementation implementation() {
        return Implementation.RUST;
    }

    // ---------------------------------------------------------------- submit

    private void checkEvent(byte[] event) {
        if (event == null) {
            throw new IllegalArgumentException("event must not be null");
        }
        if (event.length > eventMaxBytes) {
            rejectedHere.increment();
            throw new IllegalArgumentException("event of " + event.length + " bytes exceeds `event.max.bytes` = "
                    + eventMaxBytes);
        }
    }

    private void checkOpen() {
        if (closed) {
            throw closedException();
        }
    }

    private static IllegalStateException closedException() {
        return new IllegalStateException("the collector is closed");
    }

    @Override
    public boolean submitFireAndForget(byte[] event) {
        checkEvent(event);
        checkOpen();
        ByteBuffer staged = STAGED.get();
        if (event.length > staged.capacity()) {
            return NativeBridge.submit(handle, event);
        }
        staged.put(0, event);
        return NativeBridge.submitStagedEvent(handle, event.length);
    }

    @Override
    public int submitFireAndForget(byte[][] events, int offset, int count) {
        if (events == null) {
            throw new IllegalArgumentException("events must not be null");
        }
        if (offset < 0 || count < 0 || offset > events.length - count) {
            throw new IllegalArgumentException("offset " + offset + " and count " + count
                    + " do not fit an array of " + events.length + " events");
        }
        // All checked before any is submitted: a bad batch submits none of its events. The same
        // pass packs them into this thread's staging block while they fit, so a batch that fits
        // (the usual case) is read once here.
        ByteBuffer packed = STAGED.get();
        int end = offset + count;
        int room = packed.capacity();
        int at = 0;
        int packedEnd = offset;
        for (int i = offset; i < end; i++) {
            byte[] e = events[i];
            if (e == null) {
                throw new IllegalArgumentException("event " + i + " is null");
            }
            if (e.length > eventMaxBytes) {
                rejectedHere.increment();
                throw new IllegalArgumentException("event " + i + " of " + e.length
                        + " bytes exceeds `event.max.bytes` = " + eventMaxBytes);
            }
            if (packedEnd == i && at + NativeBridge.PACKED_PREFIX + e.length <= room) {
                packed.putInt(at, e.length);
                packed.put(at + NativeBridge.PACKED_PREFIX, e);
                at += NativeBridge.PACKED_PREFIX + e.length;
                packedEnd = i + 1;
            }
        }
        checkOpen();
        if (count == 0) {
            return 0;
        }
        int accepted;
        if (packedEnd == offset) {
            accepted = submitPacked(events, offset, count);
        } else {
            int n = packedEnd - offset;
            accepted = NativeBridge.submitStaged(handle, at, n);
            if (accepted == n && packedEnd < end) {
                accepted += submitPacked(events, packedEnd, end - packedEnd);
            }
        }
        if (accepted < count - 1) {
            // The native side counted the one it refused; the ones after it were never tried.
            rejectedHere.add(count - accepted - 1);
        }
        return accepted;
    }

    /**
     * Packs checked events into this thread's staging block in the frame format's event encoding
     * and crosses to the native side once per block-full: the native side copies whole runs of
     * them into the open frame, so a batch costs about one JNI call and two copies of its bytes.
     * An event too large for the block crosses alone. Returns how many were accepted, stopping at
     * the first refused. For what did not fit the block in
     * {@link #submitFireAndForget(byte[][], int, int)}'s checking pass.
     */
    private int submitPacked(byte[][] events, int offset, int count) {
        ByteBuffer packed = STAGED.get();
        int limit = packed.capacity();
        int end = offset + count;
        int accepted = 0;
        int i = offset;
        while (i < end) {
            if (NativeBridge.PACKED_PREFIX + events[i].length > limit) {
                if (!NativeBridge.submit(handle, events[i])) {
                    break;
                }
                accepted++;
                i++;
                continue;
            }
            int first = i;
            int at = 0;
            do {
                byte[] e = events[i];
                int next = at + NativeBridge.PACKED_PREFIX + e.length;
                if (next > limit) {
                    break;
                }
                packed.putInt(at, e.length);
                packed.put(at + NativeBridge.PACKED_PREFIX, e);
                at = next;
                i++;
            } while (i < end);
            int n = i - first;
            int took = NativeBridge.submitStaged(handle, at, n);
            accepted += took;
            if (took < n) {
                break;
            }
        }
        return accepted;
    }

    @Override
    public CompletableFuture<Ack> submit(byte[] event) {
        checkEvent(event);
        checkOpen();
        ByteBuffer staged = STAGED.get();
        long ticket;
        if (event.length > staged.capacity()) {
            ticket = NativeBridge.submitTracked(handle, event);
        } else {
            staged.put(0, event);
            ticket = NativeBridge.submitTrackedStaged(handle, event.length);
        }
        if (ticket <= 0) {
            return CompletableFuture.failedFuture(ticket == NativeBridge.REFUSED_TRACKING_FULL
                    ? new MicrobatchException(Result.TRACKING_FULL, "every tracking slot (`tracking.slots`) awaits an outcome")
                    : new MicrobatchException(Result.FULL, "the ring of this thread's partition is full"));
        }
        Pending pending = new Pending(ticket, ackTimeoutNanos > 0 ? System.nanoTime() + ackTimeoutNanos : 0);
        Object early = outcomes.putIfAbsent(ticket, pending);
        if (early != null) {
            // Drained before we got here: the entry is ours alone now.
            outcomes.remove(ticket);
            complete(pending, early);
            return pending;
        }
        if (deadlines != null) {
            deadlines.add(pending);
        }
        if (abandoned) {
            abandon(pending);
        }
        return pending;
    }

    private static void complete(Pending pending, Object outcome) {
        if (outcome instanceof Ack ack) {
            pending.complete(ack);
        } else {
            pending.completeExceptionally((Throwable) outcome);
        }
    }

    /** Fails a future close gave up on; its outcome, when it comes, is dropped. */
    private void abandon(Pending pending) {
        if (outcomes.replace(pending.ticket, pending, TOMBSTONE)) {
            tombstones.incrementAndGet();
            pending.completeExceptionally(new MicrobatchException(Result.CLOSED,
                    "the collector closed before the event was acknowledged"));
        }
    }

    // ---------------------------------------------------------------- the drainer thread

    private void drain() {
        ByteBuffer buffer = ByteBuffer.allocateDirect(ACKS_PER_POLL * NativeBridge.ACK_RECORD_BYTES + 8)
                .alignedSlice(8).order(ByteOrder.nativeOrder());
        long tick = ackTimeoutNanos > 0
                ? Math.max(1, Math.min(MAX_POLL_MS, TimeUnit.NANOSECONDS.toMillis(ackTimeoutNanos) / 8))
                : MAX_POLL_MS;
        while (true) {
            int n;
            try {
                n = NativeBridge.pollAcks(handle, buffer, (int) pollMillis(tick));
            } catch (RuntimeException e) {
                // Not expected (the queue is always on and outlives close); keep the futures' only
                // source of outcomes alive rather than strand them.
                LOG.log(System.Logger.Level.ERROR, "draining acknowledgements failed; retrying", e);
                sleepQuietly(tick);
                continue;
            }
            if (n == NativeBridge.DRAINED) {
                break;
            }
            for (int i = 0; i < n; i++) {
                int at = i * NativeBridge.ACK_RECORD_BYTES;
                settle(buffer.getLong(at + NativeBridge.ACK_TICKET), buffer.getInt(at + NativeBridge.ACK_RESULT),
                        buffer.getInt(at + NativeBridge.ACK_PARTITION), buffer.getLong(at + NativeBridge.ACK_OFFSET),
                        buffer.getInt(at + NativeBridge.ACK_INDEX));
            }
            expireOverdue();
        }
        // Every outcome has been drained, so no future can still be waiting for one.
        for (Object left : outcomes.values()) {
            if (left instanceof Pending pending) {
                LOG.log(System.Logger.Level.WARNING, "ticket {0} had no outcome when the queue ended", pending.ticket);
                abandon(pending);
            }
        }
    }

    /** How long the next poll may wait: until the oldest future is due, at most {@code tick}. */
    private long pollMillis(long tick) {
        Pending head = deadlines == null ? null : deadlines.peek();
        if (head == null) {
            return tick;
        }
        long left = TimeUnit.NANOSECONDS.toMillis(head.deadlineNanos - System.nanoTime());
        return Math.max(1, Math.min(tick, left + 1));
    }

    private void settle(long ticket, int result, int partition, long offset, int index) {
        Object registered = outcomes.remove(ticket);
        Object outcome = null;
        if (registered == null) {
            outcome = outcomeOf(ticket, result, partition, offset, index);
            registered = outcomes.putIfAbsent(ticket, outcome);
            if (registered == null) {
                return; // the submitting thread will find it
            }
            outcomes.remove(ticket);
        }
        if (registered == TOMBSTONE) {
            tombstones.decrementAndGet();
        } else if (registered instanceof Pending pending) {
            complete(pending, outcome != null ? outcome : outcomeOf(ticket, result, partition, offset, index));
        } else {
            LOG.log(System.Logger.Level.WARNING, "a second outcome for ticket {0} was ignored", ticket);
        }
    }

    private static Object outcomeOf(long ticket, int result, int partition, long offset, int index) {
        if (result == Result.OK.code()) {
            return new Ack(partition, offset, index);
        }
        return MicrobatchException.fromCode(result, result == Result.DELIVERY.code()
                ? "the frame holding the event could not be delivered"
                : "ticket " + ticket + " failed");
    }

    /** Fails the futures whose acknowledgement is overdue; drops settled ones from the queue. */
    private void expireOverdue() {
        if (deadlines == null) {
            return;
        }
        long now = System.nanoTime();
        Pending head;
        while ((head = deadlines.peek()) != null) {
            if (!head.isDone() && now - head.deadlineNanos < 0) {
                break;
            }
            deadlines.poll();
            if (!head.isDone() && outcomes.replace(head.ticket, head, TOMBSTONE)) {
                tombstones.incrementAndGet();
                head.completeExceptionally(new MicrobatchException(Result.TIMEOUT, "no acknowledgement within `ack.timeout.ms` = "
                        + TimeUnit.NANOSECONDS.toMillis(ackTimeoutNanos)));
            }
        }
    }

    private static void sleepQuietly(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    // ---------------------------------------------------------------- flush, status, close

    @Override
    public void flush(Duration timeout) {
        if (timeout == null || timeout.isNegative()) {
            throw new IllegalArgumentException("timeout must be zero or positive, got " + timeout);
        }
        checkOpen();
        long millis;
        try {
            millis = timeout.toMillis();
        } catch (ArithmeticException tooLong) {
            millis = Long.MAX_VALUE;
        }
        NativeBridge.flush(handle, millis);
    }

    @Override
    public Status status() {
        long[] fields = finalStatus;
        if (fields == null && !closed) {
            long[] now = new long[NativeBridge.STATUS_FIELDS.size()];
            try {
                NativeBridge.status(handle, now);
                fields = now;
            } catch (IllegalStateException closedMeanwhile) {
                fields = null;
            }
        }
        if (fields == null) {
            fields = finalStatus != null ? finalStatus : statusAtClose;
            if (fields == null) {
                throw new IllegalStateException("the collector is closing and its status is not known yet");
            }
        }
        return toStatus(fields);
    }

    private Status toStatus(long[] f) {
        long awaited = Math.max(0, f[NativeBridge.TRACKING_IN_USE] - tombstones.get());
        return new Status(f[NativeBridge.SUBMITTED], f[NativeBridge.REJECTED] + rejectedHere.sum(),
                f[NativeBridge.DELIVERED], f[NativeBridge.FAILED], f[NativeBridge.PENDING],
                f[NativeBridge.FLUSHED_BATCHES], PressureLevel.fromNumber((int) f[NativeBridge.LEVEL]),
                f[NativeBridge.BATCH_EVENTS], f[NativeBridge.INTERVAL_US],
                Double.longBitsToDouble(f[NativeBridge.RATE_PER_SEC_BITS]), f[NativeBridge.SINK_ERRORS],
                f[NativeBridge.LATENCY_P50_US], f[NativeBridge.LATENCY_P99_US], f[NativeBridge.LATENCY_P999_US],
                f[NativeBridge.LATENCY_MAX_US], awaited, f[NativeBridge.TRACKING_HIGH_WATER],
                f[NativeBridge.REGRESSIONS], f[NativeBridge.CALIBRATION_ERRORS]);
    }

    @Override
    public void close() {
        synchronized (closeLock) {
            if (closed) {
                return;
            }
            long[] before = new long[NativeBridge.STATUS_FIELDS.size()];
            try {
                NativeBridge.status(handle, before);
                statusAtClose = before;
            } catch (RuntimeException e) {
                // Only a bug can fail it; closing matters more than the interim status.
                LOG.log(System.Logger.Level.WARNING, "status before close failed: {0}", e.toString());
            }
            closed = true;
            Thread closer = new Thread(this::closeNative, "microbatch-close");
            closer.setDaemon(true);
            closer.start();
            long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(closeTimeoutMillis + CLOSE_GRACE_MS);
            boolean interrupted = false;
            boolean done = false;
            try {
                done = nativeClosed.await(deadline - System.nanoTime(), TimeUnit.NANOSECONDS);
                if (done) {
                    // The queue ends once the outcomes settled by the close are drained.
                    drainer.join(Math.max(1, TimeUnit.NANOSECONDS.toMillis(deadline - System.nanoTime())));
                    done = !drainer.isAlive();
                }
            } catch (InterruptedException e) {
                interrupted = true;
            }
            if (!done) {
                LOG.log(System.Logger.Level.WARNING, "the sink has not finished within `close.timeout.ms` = {0}; "
                        + "failing the futures still pending, the native close goes on in the background",
                        closeTimeoutMillis);
                abandoned = true;
                for (Object entry : outcomes.values()) {
                    if (entry instanceof Pending pending) {
                        abandon(pending);
                    }
                }
            }
            if (interrupted) {
                Thread.currentThread().interrupt();
            }
        }
    }

    private void closeNative() {
        long[] last = new long[NativeBridge.STATUS_FIELDS.size()];
        try {
            NativeBridge.close(handle, last);
        } catch (RuntimeException e) {
            // The final status is written even when flushing failed (e.g. Kafka timed out).
            LOG.log(System.Logger.Level.WARNING, "closing the native collector: {0}", e.getMessage());
        }
        if (last[NativeBridge.LEVEL] != 0) {
            finalStatus = last;
        }
        nativeClosed.countDown();
    }

    /** Entries in the ticket table: futures awaiting outcomes, early outcomes, tombstones (for tests). */
    int ticketTableSize() {
        return outcomes.size();
    }

    /** The native handle (for tests of the bridge; never to be used after the collector is gone). */
    long handle() {
        return handle;
    }

    @Override
    public String toString() {
        return "RustMicrobatchCollector[" + (closed ? "closed" : "open") + "]";
    }
}
