package com.reactive.platform.gateway.microbatch;

/**
 * A snapshot of a collector's counters and current flush parameters, field for field the C
 * library's {@code mb_status}. At any quiescent point
 * {@code submitted == delivered + failed + pending}.
 *
 * @param submitted          events accepted by submit
 * @param rejected           submits refused: ring full, tracking slots exhausted, event too large
 * @param delivered          events the sink reported delivered
 * @param failed             events the sink reported failed
 * @param pending            events accepted but not yet delivered or failed
 * @param flushedBatches     frames handed to the sink
 * @param level              current pressure level
 * @param batchEvents        current N: a frame is flushed once it holds this many events
 * @param intervalMicros     current T: a frame is flushed once its oldest event waited this long
 * @param ratePerSec         submitted events per second over the last complete pressure window
 * @param sinkErrors         errors the sink reported (each failed frame counts once)
 * @param latencyP50Micros   median wait from enqueue to acknowledgement, last complete window
 * @param latencyP99Micros   99th percentile of that wait
 * @param latencyP999Micros  99.9th percentile of that wait
 * @param latencyMaxMicros   largest wait in that window
 * @param trackedInUse       acknowledged submits ({@code submit}) awaiting their outcome
 * @param trackedHighWater   the most that were ever awaiting at once
 * @param regressions        windows whose score fell more than 10% below the expectation
 * @param calibrationErrors  failures of the calibration store (delivery is never affected)
 */
public record Status(
        long submitted,
        long rejected,
        long delivered,
        long failed,
        long pending,
        long flushedBatches,
        PressureLevel level,
        long batchEvents,
        long intervalMicros,
        double ratePerSec,
        long sinkErrors,
        long latencyP50Micros,
        long latencyP99Micros,
        long latencyP999Micros,
        long latencyMaxMicros,
        long trackedInUse,
        long trackedHighWater,
        long regressions,
        long calibrationErrors) {
}
