package com.reactive.platform.kafka.benchmark;

import com.reactive.platform.gateway.microbatch.Implementation;
import com.reactive.platform.gateway.microbatch.MicrobatchCollector;
import com.reactive.platform.gateway.microbatch.Status;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;

/**
 * Continuous learning under a changing load: one collector per implementation and round, with
 * calibration on and the level chosen from the rate ({@code level=auto}), fed by one producer
 * whose rate steps through phases (default 1,000 / 20,000 / 500,000 events/s, then as fast as
 * the collector takes them). At the end of each phase the collector's status says which level
 * it reached and which N and T it applies; each phase is a row (median over rounds).
 *
 * <pre>
 * mvn -f java/pom.xml exec:java -Dexec.mainClass=com.reactive.platform.kafka.benchmark.OnlineLearningBenchmark \
 *     -Dexec.args="localhost:9092 [--phases 1000,20000,500000,0] [--duration 10] [--rounds 1] [--db PATH] [--impl both]"
 * </pre>
 *
 * {@code --duration} is per phase; pressure windows are 1 s, so a phase needs a few seconds for
 * the level to follow the rate. The database defaults to a fresh temporary file per run, so the
 * run starts from the bootstraps ({@code --db} to continue from an existing one).
 */
public final class OnlineLearningBenchmark {
    private OnlineLearningBenchmark() {
    }

    public static void main(String[] argv) throws Exception {
        Bench.main("OnlineLearningBenchmark", argv, OnlineLearningBenchmark::run);
    }

    /** What one phase of one round saw. */
    private record PhaseResult(Measurement m, Status end) {
    }

    static void run(BenchArgs args, Report report) throws Exception {
        Duration d = args.duration(10);
        int rounds = args.rounds(1);
        Bench.setRun(report, d, rounds);
        Bench.mockNote(args, report);
        List<Long> phases = new ArrayList<>();
        for (String p : args.option("--phases", "1000,20000,500000,0").split(",")) {
            phases.add(Long.parseLong(p.trim()));
        }
        String db = args.option("--db", null);
        if (db == null) {
            java.nio.file.Path tmp = java.nio.file.Files.createTempFile("online-learning-", ".db");
            db = tmp.toString();
            for (String suffix : new String[] {"", "-wal", "-shm", "-journal"}) {
                new java.io.File(db + suffix).deleteOnExit();
            }
        }
        List<Implementation> impls = Impls.runnable(args, report);
        Map<String, List<PhaseResult>> byKey = new LinkedHashMap<>();
        for (int r = 0; r < rounds; r++) {
            List<Implementation> order = new ArrayList<>(impls);
            if (r % 2 == 1) {
                java.util.Collections.reverse(order);
            }
            for (Implementation impl : order) {
                Map<String, String> c = CollectorTrial.base(CollectorTrial.Sink.KAFKA, args.broker(),
                        Bench.topic("online", "phases", Bench.label(impl)), "auto");
                c.put("calibration.enabled", "true");
                c.put("calibration.path", db);
                c.put("calibration.explore", "true");
                CollectorTrial factory = new CollectorTrial(impl, c, CollectorTrial.Sink.KAFKA, 1, 1, 0, report);
                List<PhaseResult> results;
                try {
                    results = runPhases(factory, phases, d);
                } catch (RuntimeException e) {
                    report.failed(new Variant("PHASES", Bench.label(impl), "auto", 1, "-", x -> null), e);
                    continue;
                }
                for (int i = 0; i < phases.size(); i++) {
                    PhaseResult pr = results.get(i);
                    Status s = pr.end();
                    System.out.printf(Locale.ROOT, "  round %d/%d %-5s phase %d (%s/s): %,12.0f events/s -> %s, "
                                    + "N=%,d T=%,d us, rate %,.0f/s, p99 %,d us%n", r + 1, rounds, Bench.label(impl), i + 1,
                            phases.get(i) == 0 ? "max" : String.format(Locale.ROOT, "%,d", phases.get(i)),
                            pr.m().eventsPerSec(), s.level(), s.batchEvents(), s.intervalMicros(), s.ratePerSec(),
                            s.latencyP99Micros());
                    byKey.computeIfAbsent(i + "\u0000" + Bench.label(impl), k -> new ArrayList<>()).add(pr);
                }
            }
        }
        List<Row> rows = new ArrayList<>();
        for (Map.Entry<String, List<PhaseResult>> e : byKey.entrySet()) {
            int i = Integer.parseInt(e.getKey().substring(0, e.getKey().indexOf('\u0000')));
            String impl = e.getKey().substring(e.getKey().indexOf('\u0000') + 1);
            long rate = phases.get(i);
            String name = String.format(Locale.ROOT, "PHASE%d_%s", i + 1, rate == 0 ? "MAX" : rate + "/s");
            List<Measurement> ms = e.getValue().stream().map(PhaseResult::m).toList();
            Status last = e.getValue().get(e.getValue().size() / 2).end();
            Row row = Rounds.summarize(new Variant(name, impl, "auto", 1, "one event per call", x -> null), ms);
            rows.add(new Row(row.name(), row.impl(), "auto -> " + last.level() + " N=" + last.batchEvents()
                    + " T=" + last.intervalMicros() + "us", row.threads(), row.eventBytes(), row.eventsPerSec(),
                    row.p50Micros(), row.p99Micros(), row.p999Micros(), null, row.cpuUserMsPerM(), row.cpuSysMsPerM(),
                    row.rounds(), row.minEventsPerSec(), row.maxEventsPerSec(), -1, row.moves(), null));
        }
        report.add(rows);
        report.note("calibration database " + db + "; events/s per phase counts accepted submits over the phase "
                + "(the producer is paced to the phase's rate; MAX is as fast as the collector takes them)");
        CalibrationBenchmark.printStatus(java.nio.file.Path.of(db),
                List.of(com.reactive.platform.gateway.microbatch.PressureLevel.values()));
    }

    /** One collector, one paced producer stepping through the phases; flushed and closed at the end. */
    private static List<PhaseResult> runPhases(CollectorTrial factory, List<Long> phases, Duration perPhase)
            throws Exception {
        List<PhaseResult> out = new ArrayList<>();
        AtomicLong rate = new AtomicLong(phases.get(0));
        AtomicLong accepted = new AtomicLong();
        AtomicBoolean stop = new AtomicBoolean();
        AtomicLong phaseStart = new AtomicLong(System.nanoTime());
        AtomicLong phaseBase = new AtomicLong();
        try (MicrobatchCollector c = factory.create(null)) {
            Thread producer = new Thread(() -> {
                byte[][] pool = Events.pool(0x0111);
                int i = 0;
                long mine = 0;
                while (!stop.get()) {
                    long r = rate.get();
                    if (c.submitFireAndForget(pool[i++ & (pool.length - 1)])) {
                        mine++;
                    }
                    if ((mine & 63) == 0 || r > 0) {
                        accepted.lazySet(mine);
                    }
                    if (r > 0) {
                        long due = phaseStart.get() + (long) ((mine - phaseBase.get()) * 1e9 / r);
                        long now = System.nanoTime();
                        if (due > now) {
                            LockSupport.parkNanos(Math.min(due - now, 5_000_000L));
                        }
                    }
                }
                accepted.set(mine);
            }, "bench-online-producer");
            producer.setDaemon(true);
            producer.start();
            for (int i = 0; i < phases.size(); i++) {
                long t0 = System.nanoTime();
                long a0 = accepted.get();
                CpuClock.Sample cpu0 = CpuClock.now();
                if (i > 0) {
                    phaseBase.set(a0);
                    phaseStart.set(t0);
                    rate.set(phases.get(i));
                }
                Thread.sleep(perPhase.toMillis());
                long t1 = System.nanoTime();
                long events = accepted.get() - a0;
                Status s = c.status();
                out.add(new PhaseResult(new Measurement(events, (t1 - t0) / 1e9, CpuClock.now().minus(cpu0),
                        s.latencyP50Micros(), s.latencyP99Micros(), s.latencyP999Micros(), s.level().name(), -1), s));
            }
            stop.set(true);
            producer.join();
            c.flush(Duration.ofSeconds(120));
        }
        return out;
    }
}
