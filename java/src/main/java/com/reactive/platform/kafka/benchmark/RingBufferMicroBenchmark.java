package com.reactive.platform.kafka.benchmark;

import com.reactive.platform.gateway.microbatch.Implementation;
import com.reactive.platform.kafka.benchmark.rings.CollectorSubmitBenchmark;
import com.reactive.platform.kafka.benchmark.rings.RingBenchmarks;
import java.io.File;
import java.net.URL;
import java.net.URLClassLoader;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import org.openjdk.jmh.results.BenchmarkResult;
import org.openjdk.jmh.results.Result;
import org.openjdk.jmh.results.RunResult;
import org.openjdk.jmh.runner.Runner;
import org.openjdk.jmh.runner.options.ChainedOptionsBuilder;
import org.openjdk.jmh.runner.options.OptionsBuilder;
import org.openjdk.jmh.runner.options.TimeValue;

/**
 * Drives the JMH ring benchmarks ({@link RingBenchmarks}: FastRingBuffer, MpscRingBuffer,
 * JCTools SpscArrayQueue and MpscArrayQueue, LMAX Disruptor 4, ConcurrentLinkedQueue, one
 * producer and one consumer thread each, single and batch) and the collectors' submit path
 * ({@link CollectorSubmitBenchmark}: Java and Rust through JNI, single and batch submit, null
 * sink), and prints what each moves per element next to its rate.
 *
 * <pre>
 * mvn -f java/pom.xml exec:java -Dexec.mainClass=com.reactive.platform.kafka.benchmark.RingBufferMicroBenchmark \
 *     -Dexec.args="[--duration 1] [--iterations 3] [--warmups 2] [--forks 1] [--include REGEX] [--impl both]"
 * </pre>
 *
 * Short iterations by default (1 s, 2 warm-up and 3 measured, one fork) so the set runs in about
 * a minute and a half; raise them for figures to quote. {@code --impl java} leaves out the Rust
 * collector, {@code --impl rust} runs only the collector benchmark. JMH forks a JVM per
 * benchmark (JMHSample_12); under {@code mvn exec:java} the fork gets this JVM's class path
 * (the project's, not Maven's) and its {@code java.library.path} and {@code microbatch.*}
 * properties.
 */
public final class RingBufferMicroBenchmark {
    private RingBufferMicroBenchmark() {
    }

    /** What each benchmark moves per element, and on which structure. */
    private static final Map<String, String[]> LABELS = new LinkedHashMap<>();

    static {
        label("fastSingle", "FastRingBuffer (SPSC)", "java", "ref, 1 per call");
        label("fastBatch", "FastRingBuffer (SPSC)", "java", "ref, 64 per call (offer[]/drainTo)");
        label("mpscSingle", "MpscRingBuffer (1 producer)", "java", "ref, 1 per call");
        label("mpscBatch", "MpscRingBuffer (1 producer)", "java", "ref, 64 per call (offer[]/drainTo)");
        label("jctoolsSpscSingle", "JCTools SpscArrayQueue", "jctools", "ref, 1 per call");
        label("jctoolsSpscBatch", "JCTools SpscArrayQueue", "jctools", "ref, 64 per call (fill/drain)");
        label("jctoolsMpscSingle", "JCTools MpscArrayQueue (1 producer)", "jctools", "ref, 1 per call");
        label("jctoolsMpscBatch", "JCTools MpscArrayQueue (1 producer)", "jctools", "ref, 64 per call (fill/drain)");
        label("disruptorSingle", "LMAX Disruptor 4 (single producer)", "disruptor", "ref, 1 per call (tryNext/poll)");
        label("disruptorBatch", "LMAX Disruptor 4 (single producer)", "disruptor",
                "ref, 64 per publish, poller takes all");
        label("clqSingle", "ConcurrentLinkedQueue", "jdk", "ref + a node allocation, 1 per call");
        label("submitSingle:java", "Java collector submit", "java", "ref into ring; copy at encode (null sink)");
        label("submitBatch:java", "Java collector submit", "java", "ref, 64 per call; copy at encode (null sink)");
        label("submitSingle:rust", "Rust collector submit (JNI)", "rust", "copy of 100 B per JNI call (null sink)");
        label("submitBatch:rust", "Rust collector submit (JNI)", "rust", "copy of 64 x 100 B per JNI call (null sink)");
    }

    private static void label(String key, String structure, String impl, String moves) {
        LABELS.put(key, new String[] {structure, impl, moves});
    }

    public static void main(String[] argv) throws Exception {
        Bench.main("RingBufferMicroBenchmark", argv, RingBufferMicroBenchmark::run);
    }

    @SuppressWarnings("rawtypes") // JMH hands results out as raw Result
    static void run(BenchArgs args, Report report) throws Exception {
        Set<Implementation> wanted = args.impls();
        // Fractions of a second are allowed (the CI smoke runs 0.5 s iterations).
        long millis = Math.max(100, args.duration(1).toMillis());
        double seconds = millis / 1000.0;
        int iterations = args.intOption("--iterations", 3);
        int warmups = args.intOption("--warmups", 2);
        // --forks 0 runs in this JVM (JMH's warning applies: only for smoke runs).
        int forks = Math.max(0, args.intOption("--forks", 1));
        report.setRun(seconds, iterations);
        String include = args.option("--include", null);

        ChainedOptionsBuilder o = new OptionsBuilder()
                .warmupIterations(warmups).warmupTime(TimeValue.milliseconds(millis))
                .measurementIterations(iterations).measurementTime(TimeValue.milliseconds(millis))
                .forks(forks).shouldFailOnError(false)
                .jvmArgsAppend(forkedJvmArgs());
        List<String> params = new ArrayList<>();
        if (include != null) {
            o.include(include);
        } else {
            if (wanted.contains(Implementation.JAVA)) {
                o.include(RingBenchmarks.class.getName() + "\\.");
            }
            o.include(CollectorSubmitBenchmark.class.getName() + "\\.");
        }
        for (Implementation impl : wanted) {
            String reason = Impls.unavailableReason(impl);
            if (reason == null) {
                params.add(Impls.label(impl));
            } else {
                report.unavailable(Impls.label(impl), reason);
            }
        }
        if (params.isEmpty()) {
            return;
        }
        o.param("impl", params.toArray(new String[0]));
        useProjectClassPath();

        List<RunResult> results = new ArrayList<>(new Runner(o.build()).run());
        List<String> order = new ArrayList<>(LABELS.keySet());
        results.sort(java.util.Comparator.comparingInt(rr -> {
            String b = rr.getParams().getBenchmark();
            String m = b.substring(b.lastIndexOf('.') + 1);
            int i = order.indexOf(b.contains("CollectorSubmitBenchmark") ? m + ":" + rr.getParams().getParam("impl") : m);
            return i < 0 ? order.size() : i;
        }));

        List<Row> rows = new ArrayList<>();
        System.out.println();
        System.out.printf(Locale.ROOT, "%-38s %-10s %16s %12s %9s %9s  %s%n", "structure", "impl", "moved/s",
                "+/- (99.9%)", "full %", "empty %", "moves");
        for (RunResult rr : results) {
            String bench = rr.getParams().getBenchmark();
            String method = bench.substring(bench.lastIndexOf('.') + 1);
            String param = rr.getParams().getParam("impl");
            String key = bench.contains("CollectorSubmitBenchmark") ? method + ":" + param : method;
            String[] label = LABELS.getOrDefault(key, new String[] {key, "?", "?"});
            double rate;
            double error;
            double fullPct = -1;
            double emptyPct = -1;
            Map<String, Result> sec = rr.getSecondaryResults();
            if (sec.containsKey("polled")) {
                Result polled = sec.get("polled");
                rate = polled.getScore();
                error = polled.getScoreError();
                double offered = score(sec, "offered");
                double full = score(sec, "offersFull");
                double empty = score(sec, "pollsEmpty");
                fullPct = offered + full > 0 ? 100 * full / (offered + full) : 0;
                emptyPct = rate + empty > 0 ? 100 * empty / (rate + empty) : 0;
            } else {
                rate = rr.getPrimaryResult().getScore();
                error = rr.getPrimaryResult().getScoreError();
            }
            System.out.printf(Locale.ROOT, "%-38s %-10s %,16.0f %12s %9s %9s  %s%n", label[0], label[1], rate,
                    Double.isNaN(error) ? "-" : String.format(Locale.ROOT, "%,.0f", error),
                    fullPct < 0 ? "-" : String.format(Locale.ROOT, "%.1f", fullPct),
                    emptyPct < 0 ? "-" : String.format(Locale.ROOT, "%.1f", emptyPct), label[2]);
            String name = bench.contains("CollectorSubmitBenchmark")
                    ? (method.equals("submitSingle") ? "COLLECTOR_SUBMIT_SINGLE" : "COLLECTOR_SUBMIT_BATCH64")
                    : "RING_" + method;
            double[] perIteration = iterationScores(rr, sec.containsKey("polled") ? "polled" : null);
            rows.add(new Row(name, label[1], "-", 1, Events.DEFAULT_BYTES, rate, -1, -1, -1, null, -1, -1,
                    perIteration.length, min(perIteration), max(perIteration), -1, label[0] + ": " + label[2],
                    "JMH " + forks + " fork(s) x " + iterations + " x " + seconds + " s; +/- " + error));
        }
        report.add(rows);
        report.note("moved/s: for rings, elements the consumer took per second (JMH secondary result `polled`); "
                + "full %/empty %: share of offers refused by a full ring / polls that found it empty; "
                + "for collectors, events submitted per second with the flush threads as consumers");
    }

    @SuppressWarnings("rawtypes") // JMH hands results out as raw Result
    private static double score(Map<String, Result> sec, String name) {
        Result r = sec.get(name);
        return r == null ? 0 : r.getScore();
    }

    @SuppressWarnings("rawtypes") // JMH hands results out as raw Result
    private static double[] iterationScores(RunResult rr, String secondary) {
        List<Double> xs = new ArrayList<>();
        for (BenchmarkResult br : rr.getBenchmarkResults()) {
            for (org.openjdk.jmh.results.IterationResult ir : br.getIterationResults()) {
                Result r = secondary == null ? ir.getPrimaryResult() : ir.getSecondaryResults().get(secondary);
                if (r != null) {
                    xs.add(r.getScore());
                }
            }
        }
        return xs.stream().mapToDouble(Double::doubleValue).toArray();
    }

    private static double min(double[] xs) {
        return java.util.Arrays.stream(xs).min().orElse(0);
    }

    private static double max(double[] xs) {
        return java.util.Arrays.stream(xs).max().orElse(0);
    }

    private static String[] forkedJvmArgs() {
        List<String> a = new ArrayList<>(List.of("-Xms512m", "-Xmx512m"));
        String lib = System.getProperty("java.library.path");
        if (lib != null) {
            a.add("-Djava.library.path=" + lib);
        }
        for (String k : System.getProperties().stringPropertyNames()) {
            if (k.startsWith("microbatch.")) {
                a.add("-D" + k + "=" + System.getProperty(k));
            }
        }
        return a.toArray(new String[0]);
    }

    /**
     * JMH gives its forks this JVM's {@code java.class.path}. Under {@code mvn exec:java} that is
     * Maven's launcher, and the project's classes (and the generated benchmarks) sit in the
     * context class loader instead: put those on the property for the forks.
     */
    private static void useProjectClassPath() {
        Set<String> entries = new LinkedHashSet<>();
        for (ClassLoader cl = Thread.currentThread().getContextClassLoader(); cl != null; cl = cl.getParent()) {
            if (cl instanceof URLClassLoader u) {
                for (URL url : u.getURLs()) {
                    try {
                        entries.add(Path.of(url.toURI()).toString());
                    } catch (Exception ignored) {
                        // not a file URL: not something a forked JVM can use
                    }
                }
            }
        }
        if (entries.isEmpty()) {
            return; // plain `java -cp`: the property is already right
        }
        String own = System.getProperty("java.class.path", "");
        for (String e : own.split(File.pathSeparator)) {
            if (!e.isEmpty() && !e.contains("plexus-classworlds")) {
                entries.add(e);
            }
        }
        System.setProperty("java.class.path", String.join(File.pathSeparator, entries));
    }
}
