package com.reactive.platform.kafka.benchmark;

/**
 * One measured round of one variant.
 *
 * @param events     events the sink (or Kafka) acknowledged in the round
 * @param seconds    from the first submit or send until everything submitted was acknowledged
 * @param cpu        CPU time of the process over the same span ({@link CpuClock})
 * @param p50Micros  median enqueue-to-acknowledgement wait the collector reports
 *                   ({@code Status}, last complete pressure window); -1 where there is none
 * @param p99Micros  its 99th percentile
 * @param p999Micros its 99.9th percentile
 * @param level      the pressure level at the end of the round (or "-" where there is none)
 * @param sinkBytes  bytes of frames handed to the sink, or -1 when not known
 */
record Measurement(long events, double seconds, CpuClock.Sample cpu, long p50Micros, long p99Micros,
                   long p999Micros, String level, long sinkBytes) {

    double eventsPerSec() {
        return seconds <= 0 ? 0 : events / seconds;
    }

    /** CPU milliseconds per million events (user, system). */
    double cpuUserMsPerMillion() {
        if (cpu.userNanos() < 0) {
            return -1; // not measured
        }
        return events == 0 ? 0 : cpu.userNanos() / 1e6 / (events / 1e6);
    }

    double cpuSysMsPerMillion() {
        if (cpu.systemNanos() < 0) {
            return -1;
        }
        return events == 0 ? 0 : cpu.systemNanos() / 1e6 / (events / 1e6);
    }
}
