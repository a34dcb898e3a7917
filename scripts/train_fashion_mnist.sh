#!/usr/bin/env bash
# Reproduces models/fashion_mnist_cnn.onnx: builds tools/train_fashion_mnist (needs
# Debian's libtorch-dev and dataset-fashion-mnist, see scripts/setup.sh), trains the
# classifier, writes the model, then runs the 10,000 test images through the DeepEdge
# engine (`deepedge infer`) and checks that its top-1 answers equal libtorch's.
#
#   scripts/train_fashion_mnist.sh                 the committed model: 4 epochs, seed 1, 2 threads
#   BUILD_DIR=build-x OUT=/tmp/m.onnx EPOCHS=2 scripts/train_fashion_mnist.sh
#
# Extra arguments go to the trainer (e.g. --batch, --lr). Exit status: 0 when the model is written and
# the engine agrees with libtorch on every test image.
set -euo pipefail

cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build}
OUT=${OUT:-models/fashion_mnist_cnn.onnx}
EPOCHS=${EPOCHS:-4}
SEED=${SEED:-1}

cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Release -DDEEPEDGE_BUILD_TRAINER=ON >/dev/null
cmake --build "$BUILD_DIR" --target train_fashion_mnist deepedge
trainer="$BUILD_DIR/tools/train_fashion_mnist/train_fashion_mnist"
deepedge="$BUILD_DIR/apps/deepedge/deepedge"

check=$(mktemp -d)
trap 'rm -rf "$check"' EXIT

# Passive OpenMP waiting: spinning threads only steal time on a shared machine.
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-PASSIVE}
/usr/bin/time -f "training wall %e s, CPU %U s user + %S s system" \
  "$trainer" -o "$OUT" --epochs "$EPOCHS" --seed "$SEED" --threads 2 --check-dir "$check" "$@"

for k in 0 1 2 3 4 5 6 7 8 9; do
  "$deepedge" infer "$OUT" -b deepedge --input-shape 1000x1x28x28 -i "$check/input_$k.npy" \
    -o "$check/engine_$k" >/dev/null
done
"$trainer" --compare "$check"
