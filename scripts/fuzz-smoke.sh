#!/usr/bin/env bash
# Short fuzzing run of the frame decoder (Rust and C ABI must agree, and a
# decoded frame must re-encode to its input). Runs on stable Rust: the
# sanitizer is switched off, so no nightly-only -Zsanitizer flag is needed.
#
#   FUZZ_SECONDS=60 scripts/fuzz-smoke.sh
#
# The seeds in fuzz/seeds/ are read-only inputs; new corpus entries go to
# fuzz/corpus/frame_decode (gitignored), crashes to fuzz/artifacts/.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "cargo-fuzz not found; installing it (cargo install cargo-fuzz --locked)" >&2
    cargo install cargo-fuzz --locked
fi

mkdir -p fuzz/corpus/frame_decode
# libFuzzer writes new inputs to the first corpus directory and only reads
# the others, so the committed seeds stay untouched.
exec cargo fuzz run --sanitizer none frame_decode fuzz/corpus/frame_decode fuzz/seeds -- \
    -max_total_time="${FUZZ_SECONDS:-20}"
