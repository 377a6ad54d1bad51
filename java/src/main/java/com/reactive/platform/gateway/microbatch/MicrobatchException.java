package com.reactive.platform.gateway.microbatch;

/**
 * A failure that carries the library's {@link Result} code: a delivery that failed, a flush
 * or acknowledgement that timed out, a full tracking table, a calibration store error.
 *
 * <p>Misuse is reported with the standard exceptions instead: {@link IllegalArgumentException}
 * for a bad argument or configuration, {@link IllegalStateException} for a closed collector.
 */
public class MicrobatchException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    private final Result result;

    public MicrobatchException(Result result, String message) {
        super(message);
        this.result = requireError(result);
    }

    public MicrobatchException(Result result, String message, Throwable cause) {
        super(message, cause);
        this.result = requireError(result);
    }

    private static Result requireError(Result result) {
        if (result == null || result == Result.OK) {
            throw new IllegalArgumentException("a MicrobatchException needs an error result, got " + result);
        }
        return result;
    }

    /** What went wrong, as the C library would have returned it. */
    public Result result() {
        return result;
    }

    @Override
    public String getMessage() {
        return result.cName() + ": " + super.getMessage();
    }
}
