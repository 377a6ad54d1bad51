package com.reactive.platform.kafka.benchmark;

import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * CPU time of this whole process (every thread: the submitting threads, the collector's flush
 * threads, Kafka clients' I/O threads, native threads of the Rust library, the JIT and the GC),
 * split into user and system time where Linux tells us ({@code /proc/self/stat}, clock ticks of
 * usually 10 ms); elsewhere the JVM's process CPU time, all counted as user. This is what a
 * producer costs when the broker runs on other machines.
 */
final class CpuClock {
    record Sample(long userNanos, long systemNanos) {
        Sample minus(Sample o) {
            return new Sample(userNanos - o.userNanos, systemNanos - o.systemNanos);
        }
    }

    /** USER_HZ: 100 on every Linux the JVM runs on in practice. */
    private static final long TICK_NANOS = 10_000_000L;
    private static final Path STAT = Path.of("/proc/self/stat");

    private CpuClock() {
    }

    static Sample now() {
        try {
            String s = Files.readString(STAT);
            // Fields after the command name (which may hold spaces) start after the last ')'.
            String[] f = s.substring(s.lastIndexOf(')') + 2).split(" ");
            // f[0] is field 3 (state); utime is field 14, stime 15.
            long user = Long.parseLong(f[11]);
            long sys = Long.parseLong(f[12]);
            return new Sample(user * TICK_NANOS, sys * TICK_NANOS);
        } catch (IOException | RuntimeException notLinux) {
            java.lang.management.OperatingSystemMXBean os = ManagementFactory.getOperatingSystemMXBean();
            if (os instanceof com.sun.management.OperatingSystemMXBean sun) {
                return new Sample(sun.getProcessCpuTime(), 0);
            }
            return new Sample(0, 0);
        }
    }
}
