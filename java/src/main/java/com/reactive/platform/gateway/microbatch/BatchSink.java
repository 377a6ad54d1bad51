package com.reactive.platform.gateway.microbatch;

import java.nio.ByteBuffer;

/**
 * Receives each encoded frame (format v1, see {@link Frames}) from a collector's flush threads.
 *
 * <p>The buffer holds exactly one frame between its position and limit and is valid only during
 * the call: the collector reuses it (and its backing array) for the next frame, so copy what
 * must outlive the call, and do not write to it.
 * Returning normally marks the frame's events delivered; throwing marks them failed (and
 * completes their futures with {@link Result#DELIVERY}). Several flush threads may call the
 * sink at once, so it must be thread-safe.
 */
@FunctionalInterface
public interface BatchSink {
    /**
     * @param frame      one encoded frame, between position and limit (little-endian order)
     * @param eventCount how many events it holds (also in its header)
     * @throws Exception to mark the frame's events failed
     */
    void accept(ByteBuffer frame, int eventCount) throws Exception;
}
