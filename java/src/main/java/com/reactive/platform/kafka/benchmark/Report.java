package com.reactive.platform.kafka.benchmark;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Collects a benchmark's rows, prints them side by side (Java on the left, Rust on the right,
 * their ratio between) and writes them as JSON.
 *
 * <p>JSON: {@code {"benchmark", "started", "args", "broker", "duration_s", "rounds",
 * "machine": {"cpus", "java"}, "unavailable": {impl: reason}, "failures": [...], "notes": [...],
 * "results": [Row...]}} (see {@link Row} for a result's fields).
 */
final class Report {
    final String benchmark;
    private final BenchArgs args;
    private final Instant started = Instant.now();
    private final List<Row> rows = new ArrayList<>();
    private final Map<String, String> unavailable = new LinkedHashMap<>();
    private final List<String> failures = new ArrayList<>();
    private final List<String> notes = new ArrayList<>();
    private double durationSeconds;
    private int rounds;

    Report(String benchmark, BenchArgs args) {
        this.benchmark = benchmark;
        this.args = args;
    }

    void setRun(double durationSeconds, int rounds) {
        this.durationSeconds = durationSeconds;
        this.rounds = rounds;
    }

    synchronized void add(List<Row> more) {
        rows.addAll(more);
    }

    List<Row> rows() {
        return rows;
    }

    void unavailable(String impl, String reason) {
        unavailable.put(impl, reason);
        System.out.println(impl + ": unavailable (" + reason + ")");
    }

    synchronized void note(String note) {
        notes.add(note);
    }

    /** Adds {@code note} unless already there (a note that every round would repeat). */
    synchronized void noteOnce(String note) {
        if (!notes.contains(note)) {
            notes.add(note);
            System.out.println("note: " + note);
        }
    }

    void failed(Variant v, Throwable e) {
        StringBuilder why = new StringBuilder(String.valueOf(e));
        for (Throwable c = e.getCause(); c != null && c != c.getCause(); c = c.getCause()) {
            why.append(" <- ").append(c);
        }
        String what = v.name() + " " + v.impl() + ": " + why;
        failures.add(what);
        System.out.println("  FAILED " + what);
        if (Boolean.getBoolean("bench.stacktraces")) {
            e.printStackTrace(System.out);
        }
    }

    /** Sets every row's ratio to the events/s of the row named {@code bulkName} (none: left null). */
    void ratiosTo(String bulkName) {
        Row bulk = rows.stream().filter(r -> r.name().equals(bulkName) && !rustSide(r)).findFirst().orElse(null);
        if (bulk == null || bulk.eventsPerSec() <= 0) {
            return;
        }
        rows.replaceAll(r -> r.withRatioToBulk(r.eventsPerSec() / bulk.eventsPerSec()));
    }

    private static boolean rustSide(Row r) {
        return r.impl().equals("rust") || r.impl().equals("librdkafka");
    }

    /**
     * Notes each row whose name starts with {@code prefix} as a percentage of its own
     * implementation's BULK (kafka-clients for Java, librdkafka for Rust, when measured) and of
     * the best BULK of the run, with the seed's verdict.
     */
    void ownAndBestBulkNotes(String bulkName, String prefix) {
        Row javaBulk = null;
        Row rustBulk = null;
        for (Row r : rows) {
            if (r.name().equals(bulkName)) {
                if (rustSide(r)) {
                    rustBulk = r;
                } else {
                    javaBulk = r;
                }
            }
        }
        double best = Math.max(javaBulk == null ? 0 : javaBulk.eventsPerSec(), rustBulk == null ? 0 : rustBulk.eventsPerSec());
        if (best <= 0) {
            return;
        }
        for (Row r : rows) {
            if (!r.name().startsWith(prefix)) {
                continue;
            }
            Row own = rustSide(r) ? rustBulk : javaBulk;
            StringBuilder b = new StringBuilder(String.format(Locale.ROOT, "%s %s:", r.name(), r.impl()));
            if (own != null && own.eventsPerSec() > 0) {
                double pct = 100 * r.eventsPerSec() / own.eventsPerSec();
                b.append(String.format(Locale.ROOT, " %.1f%% of its own BULK (%s): %s;", pct, own.impl(), verdict(pct)));
            } else {
                b.append(" its own BULK (").append(rustSide(r) ? "librdkafka: add --cargo or --rust-bench" : "kafka-clients")
                        .append(") not measured;");
            }
            double pct = 100 * r.eventsPerSec() / best;
            b.append(String.format(Locale.ROOT, " %.1f%% of the best BULK: %s", pct, verdict(pct)));
            notes.add(b.toString());
        }
    }

    /** The seed's scale for a percentage of BULK. */
    static String verdict(double percent) {
        if (percent < 10) {
            return "SEVERE REGRESSION";
        }
        if (percent < 50) {
            return "REGRESSION";
        }
        if (percent < 80) {
            return "Acceptable";
        }
        return "Good";
    }

    /**
     * Prints one line per test: Java events/s, Rust events/s, Rust / Java, each side's share of
     * BULK, p99 and CPU per million events. A test measured on one side only shows "-" on the other.
     */
    void print(PrintStream out) {
        out.println();
        out.printf(Locale.ROOT, "%s: %d-byte events, %s s rounds, median of %d (min..max in JSON)%n", benchmark,
                Events.DEFAULT_BYTES, Row.num(durationSeconds), rounds);
        String h = String.format(Locale.ROOT, "%-30s %3s %14s %14s %8s %8s %8s %10s %10s %9s %9s",
                "test", "thr", "java ev/s", "rust ev/s", "rust/jv", "jv %BULK", "rs %BULK", "p99us jv", "p99us rs",
                "cpu jv", "cpu rs");
        out.println(h);
        out.println("-".repeat(h.length()));
        Map<String, Row[]> byTest = new LinkedHashMap<>();
        for (Row r : rows) {
            Row[] pair = byTest.computeIfAbsent(r.name() + "\u0000" + r.threads(), k -> new Row[2]);
            pair[rustSide(r) ? 1 : 0] = r;
        }
        for (Row[] pair : byTest.values()) {
            Row j = pair[0];
            Row r = pair[1];
            Row any = j != null ? j : r;
            String ratio = j != null && r != null && j.eventsPerSec() > 0
                    ? String.format(Locale.ROOT, "%.2fx", r.eventsPerSec() / j.eventsPerSec()) : "-";
            out.printf(Locale.ROOT, "%-30s %3d %14s %14s %8s %8s %8s %10s %10s %9s %9s%n",
                    any.name() + (j != null && !j.impl().equals("java") ? " (" + j.impl() + ")" : ""),
                    any.threads(), eps(j), eps(r), ratio, pct(j), pct(r), lat(j), lat(r), cpu(j), cpu(r));
        }
        out.println("ev/s: events acknowledged per second; %BULK: share of the Java kafka-clients BULK row of this run;");
        out.println("p99us: the collector's enqueue-to-acknowledgement p99 (last complete pressure window);");
        out.println("cpu: process CPU ms (user+sys) per million events.");
        for (Map.Entry<String, String> u : unavailable.entrySet()) {
            out.println(u.getKey() + ": unavailable (" + u.getValue() + ")");
        }
        for (String f : failures) {
            out.println("failed: " + f);
        }
        for (String n : notes) {
            out.println("note: " + n);
        }
    }

    private static String eps(Row r) {
        return r == null ? "-" : String.format(Locale.ROOT, "%,.0f", r.eventsPerSec());
    }

    private static String pct(Row r) {
        return r == null || r.ratioToBulk() == null ? "-" : String.format(Locale.ROOT, "%.1f%%", 100 * r.ratioToBulk());
    }

    private static String lat(Row r) {
        return r == null || r.p99Micros() < 0 ? "-" : String.format(Locale.ROOT, "%,.0f", r.p99Micros());
    }

    private static String cpu(Row r) {
        return r == null || r.cpuUserMsPerM() < 0 ? "-"
                : String.format(Locale.ROOT, "%.0f", r.cpuUserMsPerM() + r.cpuSysMsPerM());
    }

    /** Writes the JSON file; prints where, or why it could not. */
    void writeJson(Path path) {
        StringBuilder b = new StringBuilder("{");
        Row.field(b, "benchmark", benchmark).append(',');
        Row.field(b, "started", started.toString()).append(',');
        b.append("\"args\":[");
        for (int i = 0; i < args.raw.size(); i++) {
            b.append(i > 0 ? "," : "").append(Row.quote(args.raw.get(i)));
        }
        b.append("],");
        Row.field(b, "broker", args.broker()).append(',');
        b.append("\"duration_s\":").append(Row.num(durationSeconds)).append(',');
        b.append("\"rounds\":").append(rounds).append(',');
        b.append("\"machine\":{\"cpus\":").append(Runtime.getRuntime().availableProcessors()).append(',');
        Row.field(b, "java", System.getProperty("java.vm.version")).append("},");
        b.append("\"unavailable\":{");
        int i = 0;
        for (Map.Entry<String, String> u : unavailable.entrySet()) {
            b.append(i++ > 0 ? "," : "").append(Row.quote(u.getKey())).append(':').append(Row.quote(u.getValue()));
        }
        b.append("},\"failures\":[");
        for (i = 0; i < failures.size(); i++) {
            b.append(i > 0 ? "," : "").append(Row.quote(failures.get(i)));
        }
        b.append("],\"notes\":[");
        for (i = 0; i < notes.size(); i++) {
            b.append(i > 0 ? "," : "").append(Row.quote(notes.get(i)));
        }
        b.append("],\"results\":[\n");
        for (i = 0; i < rows.size(); i++) {
            b.append(i > 0 ? ",\n" : "").append("  ").append(rows.get(i).toJson());
        }
        b.append("\n]}\n");
        try {
            if (path.getParent() != null) {
                Files.createDirectories(path.getParent());
            }
            Files.writeString(path, b);
            System.out.println("results written to " + path.toAbsolutePath());
        } catch (IOException e) {
            System.out.println("could not write " + path + ": " + e);
        }
    }

    boolean hasFailures() {
        return !failures.isEmpty();
    }
}
