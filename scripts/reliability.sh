#!/usr/bin/env bash
# The reliability suite in one command: runs every fault, process-death,
# misuse and bad-input scenario and prints, per scenario, what was injected
# and what was counted (submitted, delivered, failed, found in the topic,
# duplicates, reordered). Exits non-zero if any scenario's checks failed.
#
#   scripts/reliability.sh          short (about 2 minutes once built): the
#                                   mock-cluster faults, SIGKILL of a producer
#                                   process, C ABI misuse under valgrind,
#                                   handle churn, 5 s of stepped and bursty
#                                   load, 10 s of each fuzz target; the
#                                   real-broker scenarios print SKIPPED
#   scripts/reliability.sh --long   also starts a 3-node KRaft cluster and a
#                                   killable single broker (Kafka 4.1.1 via
#                                   scripts/kafka-broker.sh; needs Java 17 and
#                                   Maven), SIGKILLs the partition leader and
#                                   the single broker mid-run, runs the load
#                                   cycle for 120 s (each phase held 5 s), and
#                                   fuzzes 60 s per target (about 12 minutes)
#
# The full test log goes to target/reliability/log.txt.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

LONG=0
case ${1:-} in
  --long) LONG=1 ;;
  "") ;;
  *) sed -n '2,/^set -uo/{/^set -uo/d;s/^# \{0,1\}//;p}' "$0" >&2; exit 2 ;;
esac

OUT=${CARGO_TARGET_DIR:-target}/reliability
mkdir -p "$OUT"
LOG=$OUT/log.txt
: >"$LOG"
failed=()

step() { printf '==> %s\n' "$*" | tee -a "$LOG" >&2; }

# Runs a command, logging everything; remembers a failure by name.
run() {
  local name=$1
  shift
  step "$name"
  if ! "$@" >>"$LOG" 2>&1; then
    failed+=("$name")
    printf '    FAILED (see %s)\n' "$LOG" >&2
  fi
}

cleanup() {
  if ((LONG)); then
    scripts/kafka-broker.sh cluster stop "$OUT/cluster" >/dev/null 2>&1 || true
    KAFKA_BROKER_STATE_DIR="$OUT/killable" scripts/kafka-broker.sh stop >/dev/null 2>&1 || true
  fi
}
trap cleanup EXIT

step "building the tests (release)"
cargo test --release --no-run --test kafka_faults --test c_programs --test handle_churn --test kafka_cluster --test load >>"$LOG" 2>&1 \
  || { echo "build failed; see $LOG" >&2; exit 1; }

if ((LONG)); then
  step "starting a 3-node Kafka cluster and a killable single broker"
  if B=$(scripts/kafka-broker.sh cluster start "$OUT/cluster" 2>>"$LOG"); then
    export MICROBATCH_TEST_CLUSTER_BOOTSTRAP=$B
  else
    failed+=("cluster start")
  fi
  export KAFKA_BROKER_STATE_DIR="$OUT/killable"
  if B=$(scripts/kafka-broker.sh start 2>>"$LOG"); then
    export MICROBATCH_TEST_KILLABLE_BOOTSTRAP=$B
  else
    failed+=("killable broker start")
  fi
  export KAFKA_CLUSTER_STATE_DIR="$OUT/cluster"
fi

run "broker faults on the mock cluster" cargo test --release --test kafka_faults -- --nocapture --test-threads 1
run "producer process killed (SIGKILL)" cargo test --release --test c_programs process_death -- --nocapture
run "C ABI misuse, under valgrind" cargo test --release --test c_programs misuse -- --nocapture
run "handle churn" cargo test --release --test handle_churn -- --nocapture --test-threads 1
run "real brokers killed (SIGKILL)" cargo test --release --test kafka_cluster -- --nocapture --test-threads 1
load_seconds=0
((LONG)) && load_seconds=120
run "stepped and bursty load" env MICROBATCH_LOAD_SECONDS=$load_seconds cargo test --release --test load -- --nocapture

fuzz_seconds=10
((LONG)) && fuzz_seconds=60
for t in frame_decode config abi_sequence; do
  step "fuzz $t for ${fuzz_seconds} s"
  # The fuzz crate builds in fuzz/target (its own workspace and flags).
  if env -u CARGO_TARGET_DIR FUZZ_SECONDS=$fuzz_seconds scripts/fuzz-smoke.sh "$t" >"$OUT/fuzz-$t.txt" 2>&1; then
    runs=$(sed -n 's/^Done \([0-9]*\) runs.*/\1/p' "$OUT/fuzz-$t.txt" | tail -1)
    echo "RELIABILITY scenario=fuzz_$t | injected: ${fuzz_seconds} s of generated inputs from the committed seeds | runs=${runs:-?} crashes=0" >>"$LOG"
  else
    cat "$OUT/fuzz-$t.txt" >>"$LOG"
    echo "RELIABILITY scenario=fuzz_$t | injected: ${fuzz_seconds} s of generated inputs | FAILED: build error or crash (see $OUT/fuzz-$t.txt and fuzz/artifacts/$t)" >>"$LOG"
    failed+=("fuzz $t")
  fi
done

echo
echo "Reliability report ($(date -u +%FT%TZ), $([[ $LONG == 1 ]] && echo long || echo short))"
echo
grep -o 'RELIABILITY scenario=.*' "$LOG" | sed 's/^RELIABILITY scenario=//' | while IFS= read -r line; do
  name=${line%% |*}
  rest=${line#* | }
  printf '%s\n' "$name"
  printf '%s\n' "$rest" | tr '|' '\n' | sed 's/^ */    /'
done
echo
if ((${#failed[@]})); then
  echo "FAILED: ${failed[*]} (log: $LOG)"
  exit 1
fi
echo "every scenario's checks passed (log: $LOG)"
