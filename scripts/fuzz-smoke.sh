#!/usr/bin/env bash
# Short fuzzing run of each fuzz target, one after the other:
#   frame_decode   the frame decoder (Rust and C ABI must agree, and a
#                  decoded frame must re-encode to its input)
#   config         the config parser (C ABI and Rust API agree, refusals
#                  change nothing, accepted values stay in range, a valid
#                  config creates a collector whose books balance)
#   abi_sequence   arbitrary sequences of C ABI calls (create, submit with
#                  odd sizes, flush, status, wait, poll, free, calls after
#                  free, decode, mb_last_error)
# Runs on stable Rust: the sanitizer is switched off, so no nightly-only
# -Zsanitizer flag is needed.
#
#   FUZZ_SECONDS=60 scripts/fuzz-smoke.sh          # seconds per target (default 20)
#   scripts/fuzz-smoke.sh config abi_sequence      # only these targets
#
# The committed seeds (fuzz/seeds/ for frame_decode, fuzz/seeds-<target>/
# for the others) are read-only inputs; new corpus entries go to
# fuzz/corpus/<target> (gitignored), crashes to fuzz/artifacts/<target>.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "cargo-fuzz not found; installing it (cargo install cargo-fuzz --locked)" >&2
    cargo install cargo-fuzz --locked
fi

seeds_of() {
    if [[ $1 == frame_decode ]]; then echo fuzz/seeds; else echo "fuzz/seeds-$1"; fi
}

targets=("$@")
((${#targets[@]})) || targets=(frame_decode config abi_sequence)
for t in "${targets[@]}"; do
    echo "==> fuzzing $t for ${FUZZ_SECONDS:-20} s"
    mkdir -p "fuzz/corpus/$t"
    # libFuzzer writes new inputs to the first corpus directory and only reads
    # the others, so the committed seeds stay untouched.
    cargo fuzz run --sanitizer none "$t" "fuzz/corpus/$t" "$(seeds_of "$t")" -- \
        -max_total_time="${FUZZ_SECONDS:-20}"
done
