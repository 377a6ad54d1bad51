package com.reactive.platform.gateway.microbatch;

import java.nio.ByteBuffer;
import java.time.Duration;

/**
 * Where the Java collector's flush threads send frames. Each send reports its outcome through
 * its {@link FrameCompletion} exactly once, at once or later from another thread.
 */
interface FrameSink {
    /**
     * True if the sink keeps the frame's array after {@link #sendFrame} returns (so each frame
     * needs an array of its own); false if it is done with it on return (so the flush thread
     * reuses one array).
     */
    boolean keepsFrames();

    /** True for {@code kafka.mode=record}: one {@link #sendEvent} per event, no frame. */
    default boolean recordMode() {
        return false;
    }

    /**
     * Sends one encoded frame: {@code frame[0 .. length)}, also viewed by {@code view}
     * (position 0, limit {@code length}, little-endian).
     */
    void sendFrame(byte[] frame, int length, ByteBuffer view, int events, int worker, FrameCompletion done);

    /** Record mode: sends the event at {@code index} of its would-be frame. */
    default void sendEvent(byte[] event, int index, int worker, FrameCompletion done) {
        throw new UnsupportedOperationException("this sink sends frames");
    }

    /** Waits up to {@code timeout} for outstanding sends, then releases the sink's resources. */
    void close(Duration timeout);

    /** A {@link BatchSink}: called on the flush thread; an exception fails the frame. */
    static FrameSink callback(BatchSink sink) {
        return new FrameSink() {
            @Override
            public boolean keepsFrames() {
                return false;
            }

            @Override
            public void sendFrame(byte[] frame, int length, ByteBuffer view, int events, int worker,
                                  FrameCompletion done) {
                try {
                    sink.accept(view, events);
                } catch (VirtualMachineError fatal) {
                    done.failed(fatal);
                    throw fatal;
                } catch (Throwable t) {
                    // Whatever the sink throws (an assertion too) fails this frame, not the
                    // flush thread that serves other frames.
                    done.failed(t);
                    return;
                }
                done.delivered(-1, -1);
            }

            @Override
            public void close(Duration timeout) {
            }
        };
    }

    /** {@code sink=null}: frames are built, counted and dropped. */
    static FrameSink nullSink() {
        return new FrameSink() {
            @Override
            public boolean keepsFrames() {
                return false;
            }

            @Override
            public void sendFrame(byte[] frame, int length, ByteBuffer view, int events, int worker,
                                  FrameCompletion done) {
                done.delivered(-1, -1);
            }

            @Override
            public void close(Duration timeout) {
            }
        };
    }
}
