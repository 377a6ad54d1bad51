package com.reactive.platform.gateway.microbatch;

/**
 * A frame that is not a valid frame of format v1: bad header, impossible count, an event
 * running past the end, or bytes trailing the last event. Its result is
 * {@link Result#MALFORMED}.
 */
public final class MalformedFrameException extends MicrobatchException {
    private static final long serialVersionUID = 1L;

    public MalformedFrameException(String message) {
        super(Result.MALFORMED, message);
    }
}
