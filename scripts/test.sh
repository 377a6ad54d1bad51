#!/usr/bin/env bash
# Runs every test on a fresh machine: installs what is missing, builds the
# library, starts a real Kafka broker (KRaft, from Maven Central jars), runs
# the Rust, C, C++, stress, allocation, Kafka integration, Java (Maven, both
# implementations through JNI), benchmark-smoke, loom and fuzz-smoke tests,
# and stops the broker again, also when a test fails.
#
#   scripts/test.sh                       the default path (about 15 minutes on 2 cores, cold)
#   FUZZ_SECONDS=60 scripts/test.sh       longer fuzz smoke (default 5 s per target)
#   JAVA_BENCH_SMOKE=0 scripts/test.sh    skip the short run of the seed's Java benchmark mains
#                                         (about a minute; scripts/java-bench-smoke.sh on its own)
# Longer suites are separate commands: scripts/reliability.sh --long (a
# 3-node cluster, broker kills, 120 s of load) and the benchmarks in README.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

# Each step prints the minutes spent so far: CI's default path must stay under 15.
step() { printf '\n==> [%dm%02ds] %s\n' $((SECONDS / 60)) $((SECONDS % 60)) "$*"; }

need_apt=()
command -v cc >/dev/null || need_apt+=(gcc)
command -v c++ >/dev/null || need_apt+=(g++)
command -v make >/dev/null || need_apt+=(make)
# The C example is also built against an installed copy through pkg-config
# (tests/c_programs.rs, example_builds_with_pkg_config_against_the_installed_library).
command -v pkg-config >/dev/null || need_apt+=(pkg-config)
command -v valgrind >/dev/null || need_apt+=(valgrind)
command -v java >/dev/null || need_apt+=(openjdk-17-jdk-headless)
command -v mvn >/dev/null || need_apt+=(maven)
if ((${#need_apt[@]})); then
  step "installing ${need_apt[*]}"
  SUDO=; [[ $(id -u) -eq 0 ]] || SUDO=sudo
  $SUDO apt-get update -q && $SUDO apt-get install -y -q "${need_apt[@]}"
fi

# One JAVA_HOME for every step. The jni crate's build script reruns when it
# changes, and Maven hands the cargo it starts a JAVA_HOME of its own, so
# without this each Maven step rebuilt the library (15-20 s each).
if [[ -z ${JAVA_HOME:-} ]]; then
  JAVA_HOME=$(dirname "$(dirname "$(readlink -f "$(command -v javac || command -v java)")")")
  export JAVA_HOME
fi

step "building (release)"
# The library, its header and the CLI. The tests are built by `cargo test`
# below; the benches are compiled (checked, not linked) by clippy's
# --all-targets, which is what CI needs of them: linking each bench with
# thin LTO would add about a minute on two cores.
cargo build --release

step "clippy, warnings denied (library, tests, benches)"
# clippy ships with rustup's default profile; a toolchain without it says so.
if cargo clippy --version >/dev/null 2>&1; then
  # --release: the build scripts' output (librdkafka above all) is the
  # release build's, so clippy does not compile librdkafka a second time.
  cargo clippy --release --all-targets -- -D warnings
else
  echo "SKIPPED: clippy is not installed (rustup component add clippy)" >&2
fi

step "starting a Kafka broker"
scripts/kafka-broker.sh start >/dev/null
trap 'scripts/kafka-broker.sh stop >/dev/null 2>&1 || true' EXIT
MICROBATCH_TEST_BOOTSTRAP=$(scripts/kafka-broker.sh bootstrap)
export MICROBATCH_TEST_BOOTSTRAP
# A broker was promised: the broker tests fail instead of skipping without it.
export MICROBATCH_REQUIRE_BROKER=1
echo "broker at $MICROBATCH_TEST_BOOTSTRAP"

step "cargo test (unit, integration, C/C++ programs under valgrind, stress, allocation, Kafka)"
cargo test --release

step "Java library (mvn verify): both implementations through one contract suite, JNI misuse, the gateway example, against the broker"
# The native profile runs cargo (a no-op: the library was built above) and
# packs libmicrobatch.so into the jar; the Java tests load it from there.
mvn -B -ntp -f java/pom.xml verify -Dmicrobatch.native=true -Dmicrobatch.test.kafka="$MICROBATCH_TEST_BOOTSTRAP"

# Virtual threads exist from Java 21 on. The project targets 17 and does not
# need a newer JDK, but when one is installed beside it, the test that submits
# from virtual threads (skipped under 17) runs under it.
newer_jdk=
for home in /usr/lib/jvm/*/; do
  v=$(sed -n 's/^JAVA_VERSION="\([0-9]*\).*/\1/p' "${home}release" 2>/dev/null || true)
  if [[ -n $v && $v -ge 21 ]]; then newer_jdk=$home; break; fi
done
if [[ -n $newer_jdk ]]; then
  step "submits from virtual threads, under the Java $v at $newer_jdk"
  # microbatch.cargo.skip: the library built above as it is (cargo under another
  # JAVA_HOME would rebuild it).
  JAVA_HOME=$newer_jdk mvn -B -ntp -q -f java/pom.xml test -Dmicrobatch.native=true -Dmicrobatch.cargo.skip=true \
      -Dtest='RustMicrobatchCollectorTest#virtualThreadsSubmitIntactEvents' -Dsurefire.failIfNoSpecifiedTests=false
else
  echo "SKIPPED: no JDK 21 or later in /usr/lib/jvm, so the virtual-thread test ran skipped under Java 17" >&2
fi

if [[ ${JAVA_BENCH_SMOKE:-1} == 1 ]]; then
  step "the seed's Java benchmark mains, smoke run (both implementations, embedded brokers, no performance assertion)"
  MVN_ARGS=-Dmicrobatch.native=true scripts/java-bench-smoke.sh
fi

step "the reactive command: its tests, then one quick brochure end to end (java-vs-rust, embedded default broker)"
cargo test --release -p reactive
# A fresh folder, so no earlier smoke is taken as the baseline; budgets are
# recorded in the report but do not fail the step: on a loaded machine the
# 10 ms budget of L3 is missed by scheduling noise, not by the collector.
rm -rf target/brochure-smoke
./reactive bench brochure run java-vs-rust --quick --budgets-advisory --out target/brochure-smoke

if [[ -f tests/loom.rs ]]; then
  step "loom model checks of the ring and gate protocols"
  # A separate target dir: --cfg loom rebuilds everything. Without the kafka
  # feature: the models need no librdkafka build. The loom profile (Cargo.toml)
  # optimises only the crate and loom, which halves the build.
  RUSTFLAGS="--cfg loom" CARGO_TARGET_DIR=target/loom cargo test --profile loom --no-default-features --test loom
fi

if [[ -x scripts/fuzz-smoke.sh ]]; then
  step "fuzz smoke of the frame decoder"
  FUZZ_SECONDS=${FUZZ_SECONDS:-5} scripts/fuzz-smoke.sh
fi

step "all tests passed"
