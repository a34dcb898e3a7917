#!/bin/sh
# A short libFuzzer run over the KServe v2 decoders (the CI smoke run).
# Usage: tests/fuzz/smoke.sh [SECONDS (default 20)]
# Configures BUILD_DIR (default build-fuzz) with clang and DEEPEDGE_FUZZ=ON, builds
# kserve_fuzz, and fuzzes from the seed corpus in a scratch copy (new inputs found
# are not written into the tree). -Wno-unknown-warning-option: the project's warning
# list carries GCC-only options (-Wno-restrict) that clang does not know. Exit status non-zero on a crash or a failed check.
set -eu
cd "$(dirname "$0")/../.."
seconds=${1:-20}
build=${BUILD_DIR:-build-fuzz}
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_CXX_COMPILER=clang++ \
  -DCMAKE_CXX_FLAGS=-Wno-unknown-warning-option \
  -DDEEPEDGE_FUZZ=ON -DDEEPEDGE_UNIT_TESTS_ONLY=ON -DDEEPEDGE_WITH_OPENCV=OFF >/dev/null
cmake --build "$build" --target kserve_fuzz -j2
corpus=$(mktemp -d)
trap 'rm -rf "$corpus"' EXIT
cp tests/fuzz/corpus/* "$corpus"/
"$build"/tests/fuzz/kserve_fuzz -max_total_time="$seconds" -max_len=4096 -rss_limit_mb=2048 \
  -print_final_stats=1 "$corpus"
