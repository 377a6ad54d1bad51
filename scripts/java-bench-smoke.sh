#!/usr/bin/env bash
# Smoke run of the seed's seven Java benchmark mains (and the collector comparison), each for
# half a second per round against the embedded stand-ins (broker "mock"), with --impl both:
# checks that every main runs, prints its table and writes its JSON with no failed variant.
# No performance assertion: the figures of a one-second run on a shared machine mean nothing.
#
#   scripts/java-bench-smoke.sh              # pure Java; Rust rows say "rust: unavailable (...)"
#   MVN_ARGS=-Dmicrobatch.native=true scripts/java-bench-smoke.sh   # with the Rust collector built in
#
#   BENCH_BROKER=127.0.0.1:9092 scripts/java-bench-smoke.sh           # Kafka rows against a real broker
#
# Takes about a minute and a half (SMOKE_SECONDS, default 0.5, sets the rounds' length). JSON goes to $OUT (default target/bench-smoke/ under java/).
# For CI, after the broker is started in scripts/test.sh:
#   MVN_ARGS=-Dmicrobatch.native=true BENCH_BROKER=$MICROBATCH_TEST_BOOTSTRAP scripts/java-bench-smoke.sh
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
POM=java/pom.xml
OUT=${OUT:-java/target/bench-smoke}
MVN_ARGS=${MVN_ARGS:-}
B=${BENCH_BROKER:-mock}
PKG=com.reactive.platform.kafka.benchmark
mkdir -p "$OUT"
rm -f "$OUT"/*.json

# Compile once (and build the native library when asked), then run each main without recompiling.
mvn -q -f "$POM" $MVN_ARGS -DskipTests package >/dev/null

# The mains run in one JVM (SmokeAll, a test-scope class, calls each main as exec:java
# would): a Maven and JVM start per main would cost more than the mains themselves.
runs=()
mains=()
add() {
  local main=$1; shift
  mains+=("$main")
  runs+=("$main" "$@" --json "$OUT/$main.json" ";")
}

S=${SMOKE_SECONDS:-0.5}
short="--duration $S --rounds 1 --warmup 0.2"
# The seed's positional form: mode, duration, broker, report folder.
add KafkaBaselineBenchmark ALL "$S" "$B" "$OUT/kafka-baseline" $short
add AdaptiveVsBulkBenchmark "$S" "$B" $short
add CalibrationBenchmark "$B" L9_EXTREME L7_HIGH --rounds 1 --duration "$S" --db "$OUT/calibration.db"
add QuickBatchTest "$B" $short
add BatchSizeExplorer "$B" --sizes 100,10000 $short
add OnlineLearningBenchmark "$B" --duration "$S" --phases 1000,100000,0
add CollectorComparisonBenchmark --threads 1,2 $short
mvn -q -f "$POM" $MVN_ARGS exec:java -Dexec.classpathScope=test -Dexec.mainClass="$PKG.SmokeAll" \
    -Dexec.args="${runs[*]}" 2>&1 | grep -v '^SLF4J:' | sed 's/^/  /'
# JMH finds its benchmark list through the runtime class path, so this one runs on its own;
# --forks 0: the JMH benchmarks in this JVM (a fork per benchmark costs a JVM start each).
mains+=(RingBufferMicroBenchmark)
mvn -q -f "$POM" $MVN_ARGS exec:java -Dexec.mainClass="$PKG.RingBufferMicroBenchmark" \
    -Dexec.args="--duration $S --iterations 1 --warmups 0 --forks 0 --json $OUT/RingBufferMicroBenchmark.json" \
    2>&1 | grep -v '^SLF4J:' | sed 's/^/  /'
for main in "${mains[@]}"; do
  json="$OUT/$main.json"
  if [[ ! -s $json ]]; then
    echo "FAIL: $main wrote no JSON" >&2; exit 1
  fi
  if ! grep -q '"failures":\[\]' "$json"; then
    echo "FAIL: $main had failed variants:" >&2
    grep -o '"failures":\[[^]]*\]' "$json" >&2; exit 1
  fi
done

# One main the way the seed runs them, through exec:java on its own: the database the
# calibration run above wrote (no JSON).
echo "=== CalibrationBenchmark --status"
mvn -q -f "$POM" $MVN_ARGS exec:java -Dexec.mainClass="$PKG.CalibrationBenchmark" \
    -Dexec.args="--status --db $OUT/calibration.db" 2>&1 | grep -v '^SLF4J:' | sed 's/^/  /'
echo "java benchmark smoke: all mains ran"
