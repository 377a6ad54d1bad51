package com.reactive.platform.kafka.benchmark;

import com.reactive.platform.gateway.microbatch.BatchSink;
import java.nio.ByteBuffer;
import java.util.concurrent.atomic.LongAdder;

/**
 * A frame sink that only counts: frames, events and bytes. Both collectors encode the same
 * format v1 frame before calling it, so "submit to a frame handed to this sink" is the same
 * work on both sides, whichever side copies the bytes (Java at flush, Rust at submit).
 */
final class CountingSink implements BatchSink {
    final LongAdder frames = new LongAdder();
    final LongAdder events = new LongAdder();
    final LongAdder bytes = new LongAdder();

    @Override
    public void accept(ByteBuffer frame, int eventCount) {
        frames.increment();
        events.add(eventCount);
        bytes.add(frame.remaining());
    }
}
