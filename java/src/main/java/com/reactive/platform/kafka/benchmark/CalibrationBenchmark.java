package com.reactive.platform.kafka.benchmark;

import com.reactive.platform.gateway.microbatch.BatchCalibration;
import com.reactive.platform.gateway.microbatch.Implementation;
import com.reactive.platform.gateway.microbatch.PressureLevel;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Per-level calibration runs, and the calibration status, as in the seed:
 *
 * <pre>
 * mvn -f java/pom.xml exec:java -Dexec.mainClass=com.reactive.platform.kafka.benchmark.CalibrationBenchmark -Dexec.args="--status"
 * mvn ... -Dexec.args="localhost:9092 L9_EXTREME L7_HIGH L10_MAX --rounds 5 --duration 30"
 * mvn ... -Dexec.args="localhost:9092 --all --rounds 5 --duration 30"
 *   options: --db PATH (default ~/.reactive/calibration.db), --impl java|rust|both
 * </pre>
 *
 * Each named level is run by each implementation, forced to that level, with calibration on
 * (exploring, {@code calibration.path} = the database, 1 s pressure windows so every second
 * records an observation), one producer as fast as the collector takes events, into Kafka.
 * Both implementations write the same database (schema version 1; rows carry {@code impl}).
 * After the runs the status of the levels is printed. A Rust library without calibration
 * refuses the {@code calibration.*} keys: its rows then fail with that reason.
 */
public final class CalibrationBenchmark {
    private CalibrationBenchmark() {
    }

    public static void main(String[] argv) throws Exception {
        BenchArgs args = new BenchArgs(argv);
        if (args.flag("--status")) {
            Path db = db(args);
            String path = db.toString();
            Path real = path.startsWith("~") ? Path.of(System.getProperty("user.home") + path.substring(1)) : db;
            if (!path.equals(":memory:") && !java.nio.file.Files.exists(real)) {
                // Looking must not create: a status of a database that is not there says so.
                System.out.println("no calibration database at " + real + " (every level runs on its bootstrap)");
                return;
            }
            printStatus(db, List.of(PressureLevel.values()));
            return;
        }
        Bench.main("CalibrationBenchmark", argv, CalibrationBenchmark::run);
    }

    static Path db(BenchArgs args) {
        return Path.of(args.option("--db", "~/.reactive/calibration.db"));
    }

    static void run(BenchArgs args, Report report) {
        Duration d = args.duration(30);
        int rounds = args.rounds(5);
        String broker = args.broker();
        Bench.setRun(report, d, rounds);
        Bench.mockNote(args, report);
        List<PressureLevel> levels = new ArrayList<>();
        if (args.flag("--all")) {
            levels.addAll(List.of(PressureLevel.values()));
        } else {
            for (String p : args.positional) {
                PressureLevel l = PressureLevel.parseOrNull(p);
                if (l != null) {
                    levels.add(l);
                }
            }
        }
        if (levels.isEmpty()) {
            throw new IllegalArgumentException("name levels (e.g. L9_EXTREME L7_HIGH) or give --all, or --status");
        }
        List<Implementation> impls = Impls.runnable(args, report);
        String db = db(args).toString();
        List<Variant> vs = new ArrayList<>();
        for (PressureLevel level : levels) {
            for (Implementation impl : impls) {
                Map<String, String> c = CollectorTrial.base(CollectorTrial.Sink.KAFKA, broker,
                        Bench.topic("calibration", level.name(), Bench.label(impl)), level.name());
                c.put("calibration.enabled", "true");
                c.put("calibration.path", db);
                c.put("calibration.explore", "true");
                vs.add(new Variant(level.name(), Bench.label(impl), level.name(), 1, "one event per call",
                        new CollectorTrial(impl, c, CollectorTrial.Sink.KAFKA, 1, 1, 0, report)));
            }
        }
        Rounds.run(vs, Duration.ZERO, d, rounds, report);
        report.note("calibration database " + db + " (shared by both implementations)");
        printStatus(db(args), levels);
    }

    static void printStatus(Path db, List<PressureLevel> levels) {
        try (BatchCalibration cal = BatchCalibration.create(db, 5000.0)) {
            System.out.println();
            System.out.println("Calibration status: " + cal.location() + (cal.readOnly() ? " (read-only: newer schema)" : ""));
            System.out.printf(Locale.ROOT, "%-14s %-8s %12s %12s %5s %14s %8s %8s%n", "level", "learned", "N",
                    "T us", "idle", "score", "obs", "regr");
            for (BatchCalibration.LevelStatus s : cal.status()) {
                if (!levels.contains(s.level())) {
                    continue;
                }
                System.out.printf(Locale.ROOT, "%-14s %-8s %,12d %,12d %5s %,14.0f %8d %8d%n", s.level(),
                        s.learned() ? "yes" : "no", s.best().batchEvents(), s.best().intervalMicros(),
                        s.best().idleFlush() ? "yes" : "no", s.score(), s.observations(), s.regressions());
            }
            System.out.println("learned=no: the level's bootstrap (N = budget ms x 1000, T = the budget); "
                    + "score: delivered/s per busy flush-thread second (EMA)");
        }
    }
}
