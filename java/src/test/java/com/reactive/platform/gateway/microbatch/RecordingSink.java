package com.reactive.platform.gateway.microbatch;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A BatchSink for tests: decodes every frame with the pure-Java decoder and keeps copies of
 * the events in arrival order. It can be made to block (until {@link #release()}) or to fail.
 */
final class RecordingSink implements BatchSink {
    private final List<byte[]> events = new ArrayList<>();
    private final AtomicInteger frames = new AtomicInteger();
    private volatile CountDownLatch gate;
    private volatile boolean failing;
    final CountDownLatch entered = new CountDownLatch(1);

    /** Frames will wait in accept() until release(). */
    RecordingSink blocking() {
        gate = new CountDownLatch(1);
        return this;
    }

    /** Frames will be refused with an exception. */
    RecordingSink failing() {
        failing = true;
        return this;
    }

    void release() {
        CountDownLatch g = gate;
        if (g != null) {
            g.countDown();
        }
    }

    @Override
    public void accept(ByteBuffer frame, int eventCount) throws Exception {
        entered.countDown();
        CountDownLatch g = gate;
        if (g != null && !g.await(30, TimeUnit.SECONDS)) {
            throw new IllegalStateException("the test never released the sink");
        }
        if (failing) {
            throw new java.io.IOException("refused by the test");
        }
        List<byte[]> mine = new ArrayList<>(eventCount);
        int n = Frames.forEach(frame, ev -> {
            byte[] b = new byte[ev.remaining()];
            ev.get(b);
            mine.add(b);
        });
        if (n != eventCount) {
            throw new AssertionError("frame header says " + n + " events, the collector said " + eventCount);
        }
        synchronized (events) {
            events.addAll(mine);
        }
        frames.incrementAndGet();
    }

    List<byte[]> events() {
        synchronized (events) {
            return new ArrayList<>(events);
        }
    }

    int eventCount() {
        synchronized (events) {
            return events.size();
        }
    }

    int frames() {
        return frames.get();
    }
}
