#!/usr/bin/env bash
# Sets up, builds and runs the demos on a fresh machine: the C example
# (callback sink) and the Kafka demo (acknowledged submits against the
# embedded mock cluster; pass a bootstrap address to use a real broker).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
command -v cc >/dev/null || { SUDO=; [[ $(id -u) -eq 0 ]] || SUDO=sudo; $SUDO apt-get update -q && $SUDO apt-get install -y -q gcc make; }
cargo build --release
mkdir -p target/demo
for demo in example kafka_demo; do
  cc -O2 -Wall -Wextra -Iinclude "bindings/c/$demo.c" -Ltarget/release -lmicrobatch -lpthread \
     -Wl,-rpath,"$PWD/target/release" -o "target/demo/$demo"
done
echo "==> C example: callback sink"
target/demo/example
echo "==> Kafka demo: tracked submits${1:+ against $1}"
target/demo/kafka_demo "$@"
