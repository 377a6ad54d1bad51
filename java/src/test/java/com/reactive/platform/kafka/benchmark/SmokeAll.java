package com.reactive.platform.kafka.benchmark;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Runs several benchmark mains one after another in this JVM, for the CI smoke
 * ({@code scripts/java-bench-smoke.sh}): one Maven and JVM start instead of one per main. The
 * arguments are the mains' command lines, separated by {@code ;} words:
 * {@code QuickBatchTest mock --duration 0.5 ; BatchSizeExplorer mock --sizes 100}. Each main is
 * called as {@code mvn exec:java} calls it (the mains never call {@code System.exit}, and each
 * prints its own command line); the first that throws ends the run with its exception.
 */
public final class SmokeAll {
    private SmokeAll() {
    }

    public static void main(String[] args) throws Throwable {
        List<List<String>> runs = new ArrayList<>();
        List<String> current = new ArrayList<>();
        for (String a : args) {
            if (a.equals(";")) {
                runs.add(current);
                current = new ArrayList<>();
            } else {
                current.add(a);
            }
        }
        runs.add(current);
        for (List<String> run : runs) {
            if (run.isEmpty()) {
                continue;
            }
            Class<?> main = Class.forName(SmokeAll.class.getPackageName() + "." + run.get(0));
            String[] mainArgs = run.subList(1, run.size()).toArray(new String[0]);
            try {
                main.getMethod("main", String[].class).invoke(null, (Object) mainArgs);
            } catch (java.lang.reflect.InvocationTargetException e) {
                throw new IllegalStateException(run.get(0) + " " + Arrays.toString(mainArgs) + " failed", e.getCause());
            }
        }
    }
}
