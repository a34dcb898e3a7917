#!/usr/bin/env bash
# Sets up a Debian 12 machine for DeepEdge: installs the Debian packages the
# project needs, then configures and builds the Release tree in build/.
# Idempotent: re-running it only does what is missing.
#
#   scripts/setup.sh            install packages + build
#   scripts/setup.sh --deps     install packages only
set -euo pipefail

cd "$(dirname "$0")/.."

PACKAGES=(
  build-essential cmake ninja-build pkg-config clang-format
  libgtest-dev libgmock-dev libbenchmark-dev
  libcli11-dev nlohmann-json3-dev
  libprotobuf-dev protobuf-compiler libonnx-dev
  libopencv-dev libjpeg-dev nettle-dev python3-jsonschema
  libfreetype-dev fonts-dejavu-core fonts-liberation
  libxnnpack-dev libpthreadpool-dev libonnx-testdata libflatbuffers-dev flatbuffers-compiler
  time libtorch-dev dataset-fashion-mnist zlib1g-dev darknet opencv-doc pocketsphinx-testdata
  espeak-ng
  libsqlite3-dev libcpp-httplib-dev libyaml-cpp-dev libgrpc++-dev protobuf-compiler-grpc
  chromium iproute2 clang libclang-rt-14-dev
)

# Node.js runs ONNX Runtime (npm onnxruntime-node), the reference in tests and benchmarks;
# Debian's packages only where no node is installed already.
command -v node >/dev/null 2>&1 || PACKAGES+=(nodejs)
command -v npm >/dev/null 2>&1 || PACKAGES+=(npm)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

[ "${1:-}" = "--deps" ] && exit 0

# Real models and the ONNX Runtime reference, pinned and checksummed (fixtures.lock).
scripts/fetch_fixtures.sh

cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build
