package com.reactive.platform.kafka.benchmark;

import java.io.IOException;
import java.io.PrintStream;
import java.io.Reader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Properties;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.locks.LockSupport;
import java.util.function.Consumer;
import org.HdrHistogram.Histogram;

/**
 * Runs one cell of a brochure (issue 14) for the Java side: one variant at one level or rate
 * schedule, in this JVM, and writes what it measured. The {@code reactive} command (Rust,
 * tools/reactive) starts it once per cell:
 *
 * <pre>
 * java -cp java/target/classes:$(cat java/target/classpath.txt) [-Dmicrobatch.native.path=target/release/libmicrobatch.so] \
 *     com.reactive.platform.kafka.benchmark.BrochureCell SPEC.properties
 * </pre>
 *
 * <p>SPEC.properties ({@link java.util.Properties}): {@code impl} = {@code java} | {@code rust-jni};
 * {@code mode} = {@code adaptive} | {@code bulk} | {@code fixed} | {@code producer} (no collector:
 * one record per event through kafka-clients' producer); {@code level}; {@code event_bytes};
 * {@code payload} = {@code json} | {@code random}; {@code producers} (submitting threads);
 * {@code warmup_s}; {@code duration_s}; {@code rate} (events/s over all threads; absent = as fast
 * as possible); {@code steps} ({@code rate:seconds,...}, replaces {@code rate} and
 * {@code duration_s}); {@code timeline_ms}; {@code broker} = {@code mock} | {@code host:port};
 * {@code topic}; {@code hgrm} and {@code result} (absolute paths to write); and
 * {@code config.<key>}: the collector's configuration, complete, passed as is.
 *
 * <p>Output: on stdout only the progress lines of {@link CellSampler}; everything else on stderr.
 * At the end the latency histogram as an HdrHistogram percentile file ({@code hgrm}, values in
 * microseconds) and a {@link CellResult} as JSON ({@code result}), each written whole or not at
 * all. Exit code 0 on success, 2 for a bad spec (including a configuration key or value the
 * collector or Kafka client refuses), 1 when the run failed; the reason is one line on stderr.
 *
 * <p>See java/README.md, "Brochure cells", for how the runner builds the class path and where
 * the native library comes from.
 */
public final class BrochureCell {
    /** How long the end of a cell waits for outstanding acknowledgements. */
    static final Duration DRAIN = Duration.ofSeconds(30);
    /** Time for the submitting threads to start before the first event is due. */
    private static final long START_DELAY_NANOS = 50_000_000L;
    /** Memory for each thread's pool of distinct events. */
    private static final long POOL_BYTES = 64L << 20;

    private BrochureCell() {
    }

    public static void main(String[] args) {
        // The runner parses stdout: keep it for the progress lines, send everything else
        // (including libraries that print to System.out) to stderr.
        PrintStream progress = System.out;
        System.setOut(System.err);
        System.exit(execute(args, progress, System.err));
    }

    /** {@link #main} without exiting: the exit code. */
    static int execute(String[] args, PrintStream progress, PrintStream err) {
        if (args.length != 1) {
            err.println("usage: java -cp ... " + BrochureCell.class.getName() + " SPEC.properties");
            return 2;
        }
        try {
            CellResult r = run(load(Path.of(args[0])), progress);
            err.printf(Locale.ROOT, "cell done: %.1f events/s, p99 %.0f us, delivered %d of %d%n",
                    r.achievedPerSec(), r.percentile(99), r.delivered(), r.submitted());
            return 0;
        } catch (CellSpec.Invalid e) {
            err.println("bad spec: " + oneLine(e.getMessage()));
            return 2;
        } catch (Exception | LinkageError e) {
            err.println("run failed: " + oneLine(describe(e)));
            return 1;
        }
    }

    private static Properties load(Path spec) {
        Properties p = new Properties();
        try (Reader in = Files.newBufferedReader(spec, StandardCharsets.UTF_8)) {
            p.load(in);
        } catch (IOException e) {
            throw new CellSpec.Invalid("cannot read " + spec + ": " + e);
        }
        return p;
    }

    /**
     * Runs the cell {@code spec} describes, writes its {@code hgrm} and {@code result} files and
     * returns the result; progress lines go to {@code progress}.
     *
     * @throws CellSpec.Invalid for a bad spec or a configuration the target refuses
     */
    static CellResult run(Properties spec, PrintStream progress) throws Exception {
        CellSpec cell = CellSpec.parse(spec);
        Outcomes outcomes = new Outcomes();
        CellResult result;
        try (CellTarget target = cell.mode() == CellSpec.Mode.PRODUCER
                ? ProducerTarget.create(cell, outcomes)
                : CollectorTarget.create(cell, outcomes)) {
            result = measure(cell, target, outcomes, progress);
        }
        writeWhole(cell.hgrm(), out -> result.latency().outputPercentileDistribution(out, 1.0));
        writeWhole(cell.result(), out -> out.println(result.toJson()));
        return result;
    }

    private static CellResult measure(CellSpec cell, CellTarget target, Outcomes outcomes, PrintStream progress)
            throws Exception {
        RateSchedule schedule = cell.schedule();
        AtomicBoolean abort = new AtomicBoolean();
        long cellStart = System.nanoTime() + START_DELAY_NANOS;
        long measuredStart = cellStart + schedule.warmupNanos();
        List<Submitter> submitters = new ArrayList<>();
        List<Thread> threads = new ArrayList<>();
        for (int i = 0; i < cell.producers(); i++) {
            Submitter s = new Submitter(target, schedule, i, cell.producers(), pool(cell, i), cellStart, abort);
            Thread t = new Thread(s, "cell-producer-" + i);
            t.setDaemon(true);
            submitters.add(s);
            threads.add(t);
        }
        CellSampler sampler = new CellSampler(outcomes, schedule, target::level, measuredStart, cell.timelineMillis(),
                progress);
        sampler.start();
        try {
            threads.forEach(Thread::start);
            sleepUntil(measuredStart);
            CpuClock.Sample cpu0 = CpuClock.now();
            Long wire0 = target.wireBytes();
            for (Thread t : threads) {
                t.join();
            }
            for (Submitter s : submitters) {
                if (s.failure() != null) {
                    throw new IllegalStateException("a submitting thread failed: " + describe(s.failure()), s.failure());
                }
            }
            long submitted = submitters.stream().mapToLong(Submitter::submitted).sum();

            // Push out what is still batched and wait, bounded, for every outcome.
            long drainEnd = System.nanoTime() + DRAIN.toNanos();
            String flushProblem = target.flush(DRAIN);
            while (outcomes.settled() < submitted && System.nanoTime() < drainEnd) {
                LockSupport.parkNanos(1_000_000L);
            }
            long end = System.nanoTime();
            CpuClock.Sample cpu = CpuClock.now().minus(cpu0);
            Long wire1 = target.wireBytes();

            Histogram latency = sampler.finish();
            long delivered = latency.getTotalCount();
            long failed = outcomes.failed();
            long rejected = outcomes.rejected();
            long unsettled = submitted - delivered - failed - rejected;
            if (unsettled < 0) {
                throw new IllegalStateException("outcomes counted twice: submitted " + submitted + ", delivered "
                        + delivered + ", failed " + failed + ", rejected " + rejected);
            }
            List<String> notes = new ArrayList<>();
            addIfPresent(notes, target.note());
            addIfPresent(notes, flushProblem);
            if (unsettled > 0) {
                notes.add(unsettled + " events had no outcome " + DRAIN.toSeconds() + " s after the end: counted failed");
                failed += unsettled;
            }
            if (outcomes.firstFailure() != null) {
                notes.add("first failure: " + outcomes.firstFailure());
            }
            double offered = schedule.offeredEvents();
            if (!Double.isNaN(offered) && submitted < Math.floor(offered * 0.99) - cell.producers()) {
                notes.add(String.format(Locale.ROOT,
                        "the submitting threads fell behind: %d of %.0f scheduled events were sent", submitted, offered));
            }

            double seconds = (end - measuredStart) / 1e9;
            double achieved = delivered / seconds;
            double cpuMillis = (cpu.userNanos() + cpu.systemNanos()) / 1e6;
            return new CellResult(achieved, achieved * cell.eventBytes() / 1e6,
                    wire0 == null || wire1 == null ? null : (wire1 - wire0) / seconds,
                    delivered == 0 ? null : cpuMillis / (delivered / 1e6),
                    submitted, delivered, failed, rejected, latency, scheduleDelayP50(schedule, submitters),
                    notes.isEmpty() ? null : String.join("; ", notes),
                    System.getProperty("java.version") + " (" + System.getProperty("java.vendor") + ")",
                    sampler.points());
        } finally {
            abort.set(true);
            for (Thread t : threads) {
                t.join();
            }
            sampler.finish();
        }
    }

    /** Distinct events for thread {@code index}: up to 4096 of them, within {@link #POOL_BYTES}. */
    private static byte[][] pool(CellSpec cell, int index) {
        int count = (int) Math.max(1, Math.min(Events.POOL, Long.highestOneBit(POOL_BYTES / cell.eventBytes())));
        long seed = 0xCE11L + index;
        return cell.payload() == CellSpec.Payload.RANDOM
                ? Events.randomPool(count, cell.eventBytes(), seed)
                : Events.pool(count, cell.eventBytes(), seed);
    }

    private static Double scheduleDelayP50(RateSchedule schedule, List<Submitter> submitters) {
        if (!schedule.scheduled()) {
            return null;
        }
        Histogram all = new Histogram(3);
        submitters.forEach(s -> all.add(s.scheduleDelay()));
        return all.getTotalCount() == 0 ? null : (double) all.getValueAtPercentile(50);
    }

    private static void sleepUntil(long when) {
        long now;
        while ((now = System.nanoTime()) < when) {
            LockSupport.parkNanos(when - now);
        }
    }

    private static void addIfPresent(List<String> notes, String note) {
        if (note != null) {
            notes.add(note);
        }
    }

    /** Writes through a temporary file in the same folder, so a reader never sees half a file. */
    private static void writeWhole(Path path, Consumer<PrintStream> body) throws IOException {
        Path dir = path.toAbsolutePath().getParent();
        Files.createDirectories(dir);
        Path tmp = Files.createTempFile(dir, path.getFileName().toString(), ".tmp");
        try {
            try (PrintStream out = new PrintStream(Files.newOutputStream(tmp), false, StandardCharsets.UTF_8)) {
                body.accept(out);
                if (out.checkError()) {
                    throw new IOException("cannot write " + tmp);
                }
            }
            Files.move(tmp, path, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        } finally {
            Files.deleteIfExists(tmp);
        }
    }

    /** The exception and its causes, for a one-line reason. */
    private static String describe(Throwable e) {
        StringBuilder why = new StringBuilder(String.valueOf(e));
        for (Throwable c = e.getCause(); c != null && c != c.getCause(); c = c.getCause()) {
            why.append(" <- ").append(c);
        }
        return why.toString();
    }

    private static String oneLine(String s) {
        return String.valueOf(s).replaceAll("\\s*\\R\\s*", " ");
    }
}
