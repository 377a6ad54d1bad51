package com.reactive.platform.kafka.benchmark;

import java.util.List;
import org.HdrHistogram.Histogram;

/**
 * What one brochure cell measured: the JSON object {@link BrochureCell} writes to the spec's
 * {@code result} path, which the {@code reactive} runner reads into its {@code results.json}
 * (tools/reactive/src/results.rs, {@code Run}). Rates are over the measured part, from its
 * start until the last outcome came in (so the final flush is paid for).
 *
 * @param wireBytesPerSec      kafka-clients' {@code outgoing-byte-total} over the measured part,
 *                             null without a kafka-clients producer talking to a broker
 * @param cpuMsPerMillion      process CPU (user + system) per million delivered events, null when none was
 * @param submitted            measured events sent: {@code delivered + failed + rejected}
 * @param scheduleDelayP50us   median lateness of the submitting threads, null when unscheduled
 * @param latency              delivered events' latency, microseconds, from the due time
 *                             (coordinated omission corrected) or, unscheduled, from the submit
 */
record CellResult(double achievedPerSec, double mbPerSec, Double wireBytesPerSec, Double cpuMsPerMillion,
                  long submitted, long delivered, long failed, long rejected, Histogram latency,
                  Double scheduleDelayP50us, String note, String jdk, List<CellSampler.Point> timeline) {

    double percentile(double p) {
        return latency.getTotalCount() == 0 ? 0 : latency.getValueAtPercentile(p);
    }

    String toJson() {
        StringBuilder b = new StringBuilder("{");
        b.append("\"achieved_events_per_sec\":").append(Row.num(achievedPerSec)).append(',');
        b.append("\"mb_per_sec\":").append(Row.num(mbPerSec)).append(',');
        b.append("\"wire_bytes_per_sec\":").append(orNull(wireBytesPerSec)).append(',');
        b.append("\"cpu_ms_per_million\":").append(orNull(cpuMsPerMillion)).append(',');
        b.append("\"submitted\":").append(submitted).append(',');
        b.append("\"delivered\":").append(delivered).append(',');
        b.append("\"failed\":").append(failed).append(',');
        b.append("\"rejected\":").append(rejected).append(',');
        b.append("\"latency\":{");
        b.append("\"p50_us\":").append(Row.num(percentile(50))).append(',');
        b.append("\"p90_us\":").append(Row.num(percentile(90))).append(',');
        b.append("\"p99_us\":").append(Row.num(percentile(99))).append(',');
        b.append("\"p999_us\":").append(Row.num(percentile(99.9))).append(',');
        b.append("\"p9999_us\":").append(Row.num(percentile(99.99))).append(',');
        b.append("\"max_us\":").append(latency.getTotalCount() == 0 ? "0" : Long.toString(latency.getMaxValue()))
                .append(',');
        b.append("\"count\":").append(latency.getTotalCount()).append("},");
        b.append("\"schedule_delay_p50_us\":").append(orNull(scheduleDelayP50us)).append(',');
        Row.field(b, "note", note).append(',');
        Row.field(b, "jdk", jdk).append(',');
        b.append("\"timeline\":[");
        for (int i = 0; i < timeline.size(); i++) {
            CellSampler.Point p = timeline.get(i);
            b.append(i == 0 ? "" : ",").append('{');
            b.append("\"t_s\":").append(Row.num(p.tSeconds())).append(',');
            b.append("\"offered_events_per_sec\":").append(orNull(p.offeredPerSec())).append(',');
            b.append("\"achieved_events_per_sec\":").append(Row.num(p.achievedPerSec())).append(',');
            b.append("\"p99_us\":").append(Row.num(p.p99Micros())).append(',');
            b.append("\"level\":").append(p.level() == null ? "null" : p.level().toString());
            b.append('}');
        }
        return b.append("]}").toString();
    }

    private static String orNull(Double v) {
        return v == null ? "null" : Row.num(v);
    }
}
