package com.reactive.platform.kafka.benchmark;

import java.util.Locale;

/**
 * One line of a benchmark's results: the median of its measured rounds. Its JSON form is the
 * documented shape (see BENCHMARKS-JAVA.md):
 *
 * <pre>{@code
 * {"name": "ADAPTIVE_L10", "impl": "java", "level": "L10_MAX", "threads": 1, "event_bytes": 100,
 *  "events_per_sec": 1.9E7, "mb_per_sec": 1900.0,
 *  "latency_p50_us": 812, "latency_p99_us": 1800, "latency_p999_us": 1900,
 *  "ratio_to_bulk": 0.93, "cpu_user_ms_per_m_events": 61.2, "cpu_sys_ms_per_m_events": 3.1,
 *  "rounds": 3, "events_per_sec_min": ..., "events_per_sec_max": ...,
 *  "out_bytes_per_event": 104.0, "moves": "...", "note": "..."}
 * }</pre>
 *
 * {@code out_bytes_per_event}: bytes leaving per event, where known: after compression on the
 * wire for a raw kafka-clients sender (its {@code outgoing-byte-total}), frame bytes for a
 * counting sink; null elsewhere. {@code ratio_to_bulk} is null when the run measured no BULK baseline; latencies are -1 where
 * the variant has none (a raw Kafka sender).
 */
record Row(String name, String impl, String level, int threads, int eventBytes, double eventsPerSec,
           double p50Micros, double p99Micros, double p999Micros, Double ratioToBulk, double cpuUserMsPerM,
           double cpuSysMsPerM, int rounds, double minEventsPerSec, double maxEventsPerSec, double outBytesPerEvent,
           String moves, String note) {

    double mbPerSec() {
        return eventsPerSec * eventBytes / 1e6;
    }

    Row withRatioToBulk(Double ratio) {
        return new Row(name, impl, level, threads, eventBytes, eventsPerSec, p50Micros, p99Micros, p999Micros, ratio,
                cpuUserMsPerM, cpuSysMsPerM, rounds, minEventsPerSec, maxEventsPerSec, outBytesPerEvent, moves, note);
    }

    String toJson() {
        StringBuilder b = new StringBuilder("{");
        field(b, "name", name).append(',');
        field(b, "impl", impl).append(',');
        field(b, "level", level).append(',');
        b.append("\"threads\":").append(threads).append(',');
        b.append("\"event_bytes\":").append(eventBytes).append(',');
        b.append("\"events_per_sec\":").append(num(eventsPerSec)).append(',');
        b.append("\"mb_per_sec\":").append(num(mbPerSec())).append(',');
        b.append("\"latency_p50_us\":").append(num(p50Micros)).append(',');
        b.append("\"latency_p99_us\":").append(num(p99Micros)).append(',');
        b.append("\"latency_p999_us\":").append(num(p999Micros)).append(',');
        b.append("\"ratio_to_bulk\":").append(ratioToBulk == null ? "null" : num(ratioToBulk)).append(',');
        b.append("\"cpu_user_ms_per_m_events\":").append(cpuUserMsPerM < 0 ? "null" : num(cpuUserMsPerM)).append(',');
        b.append("\"cpu_sys_ms_per_m_events\":").append(cpuSysMsPerM < 0 ? "null" : num(cpuSysMsPerM)).append(',');
        b.append("\"rounds\":").append(rounds).append(',');
        b.append("\"events_per_sec_min\":").append(num(minEventsPerSec)).append(',');
        b.append("\"events_per_sec_max\":").append(num(maxEventsPerSec)).append(',');
        b.append("\"out_bytes_per_event\":").append(outBytesPerEvent < 0 ? "null" : num(outBytesPerEvent)).append(',');
        field(b, "moves", moves).append(',');
        field(b, "note", note);
        return b.append('}').toString();
    }

    static String num(double v) {
        if (Double.isNaN(v) || Double.isInfinite(v)) {
            return "null";
        }
        return String.format(Locale.ROOT, "%.4f", v).replaceAll("0+$", "").replaceAll("\\.$", "");
    }

    static StringBuilder field(StringBuilder b, String key, String value) {
        b.append('"').append(key).append("\":");
        return value == null ? b.append("null") : b.append(quote(value));
    }

    static String quote(String s) {
        StringBuilder b = new StringBuilder("\"");
        for (char c : s.toCharArray()) {
            switch (c) {
                case '"' -> b.append("\\\"");
                case '\\' -> b.append("\\\\");
                case '\n' -> b.append("\\n");
                case '\t' -> b.append("\\t");
                default -> {
                    if (c < 0x20) {
                        b.append(String.format("\\u%04x", (int) c));
                    } else {
                        b.append(c);
                    }
                }
            }
        }
        return b.append('"').toString();
    }
}
