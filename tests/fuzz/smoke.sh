#!/bin/sh
# A short libFuzzer run over the KServe v2 decoders (the CI smoke run): kserve_fuzz
# (the REST codec) and, where the build has the gRPC front end, kserve_grpc_fuzz (the
# gRPC codec), each for half the time.
# Usage: tests/fuzz/smoke.sh [SECONDS in all (default 20)]
# Configures BUILD_DIR (default build-fuzz) with clang and DEEPEDGE_FUZZ=ON, builds
# the fuzzers, and fuzzes each from its seed corpus (tests/fuzz/corpus,
# tests/fuzz/corpus_grpc) in a scratch copy (new inputs found are not written into the
# tree). -Wno-unknown-warning-option: the project's warning list carries GCC-only
# options (-Wno-restrict) that clang does not know. Exit status non-zero on a crash or
# a failed check.
set -eu
cd "$(dirname "$0")/../.."
seconds=${1:-20}
build=${BUILD_DIR:-build-fuzz}
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_CXX_COMPILER=clang++ \
  -DCMAKE_CXX_FLAGS=-Wno-unknown-warning-option \
  -DDEEPEDGE_FUZZ=ON -DDEEPEDGE_UNIT_TESTS_ONLY=ON -DDEEPEDGE_WITH_OPENCV=OFF >/dev/null
# kserve_grpc_fuzz exists only where CMake found gRPC and DEEPEDGE_WITH_GRPC is ON.
if cmake --build "$build" --target help | grep -q '^kserve_grpc_fuzz:'; then
  targets="kserve_fuzz kserve_grpc_fuzz"
  share=$(((seconds + 1) / 2))
else
  echo "smoke.sh: skipping kserve_grpc_fuzz: this build has no gRPC front end" \
    "(gRPC or grpc_cpp_plugin not found, or DEEPEDGE_WITH_GRPC=OFF)" >&2
  targets=kserve_fuzz
  share=$seconds
fi
# shellcheck disable=SC2086  # two target names, split on purpose
cmake --build "$build" --target $targets -j2
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
for target in $targets; do
  case $target in
    kserve_fuzz) seeds=tests/fuzz/corpus ;;
    kserve_grpc_fuzz) seeds=tests/fuzz/corpus_grpc ;;
  esac
  mkdir "$scratch/$target"
  cp "$seeds"/* "$scratch/$target"/
  echo "smoke.sh: $target for ${share} s" >&2
  "$build/tests/fuzz/$target" -max_total_time="$share" -max_len=4096 -rss_limit_mb=2048 \
    -print_final_stats=1 "$scratch/$target"
done
