#!/usr/bin/env bash
# Split inference across the emulated testbed: end-to-end latency per query of
# `deepedge run MODEL --server URL --split S` for S = none (all on the device), all
# (all on the server) and auto (the planner's adaptive choice), per zoo model and link
# profile, with the device under a CPU quota. Prints one Markdown table.
#
#   sudo benchmarks/split_testbed.sh [--queries N] [--device-cpus C] [--cpu-period-us US]
#                                    [--runs R]
#                                    [--threads T] [--profiles "3g lte wifi"]
#                                    [--models "alexnet_caffenet mobilenet_v1_1.0_224 resnet18"]
#                                    [--keep DIR]   # copy every run's JSON and log to DIR
#
# Needs root (scripts/testbed.sh: network namespaces, tc, cgroups) and the Release
# build (build/apps/deepedge/deepedge, build/src/testbed/deepedge-linkdelay); set
# DEEPEDGE=/path/to/deepedge to use another binary.
#
# Per model, `deepedge run MODEL --split auto --write-repo REPO` runs once on the
# device (under the quota, so the tails are planned for that device) and writes the
# whole model and the tails worth serving into one repository; per profile, one
# `deepedge serve --models REPO` runs in the server namespace. Device commands run
# with --threads T (default 1: the quota is below one CPU); the quota is C * US us of
# CPU per US us (testbed.sh's default period, 10 ms, unless --cpu-period-us). p50 is
# the median of the measured queries' total_ms from `deepedge run --json` (the upper
# median for an even count, as `run` itself reports); auto's p50 includes its
# adaptation (the first queries may run on another cut). "auto plan" is the plan most of
# its queries ran (not the last one's: a query may probe another cut). Gains are
# p50(baseline) / p50(auto): above 1, auto was faster.
set -euo pipefail

QUERIES=8
DEVICE_CPUS=0.5
CPU_PERIOD_US=""  # testbed.sh's default
RUNS=3
THREADS=1
PROFILES="3g lte wifi"
MODELS="alexnet_caffenet mobilenet_v1_1.0_224 resnet18"
TB_NAME=spbench
PORT=8000
KEEP=""

die() {
  echo "split_testbed.sh: error: $*" >&2
  exit 2
}

while (($#)); do
  case $1 in
    --queries) QUERIES=$2; shift 2 ;;
    --device-cpus) DEVICE_CPUS=$2; shift 2 ;;
    --cpu-period-us) CPU_PERIOD_US=$2; shift 2 ;;
    --runs) RUNS=$2; shift 2 ;;
    --threads) THREADS=$2; shift 2 ;;
    --profiles) PROFILES=$2; shift 2 ;;
    --models) MODELS=$2; shift 2 ;;
    --keep) KEEP=$2; shift 2 ;;
    -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown argument '$1' (see --help)" ;;
  esac
done

[[ $(id -u) -eq 0 ]] || die "needs root (the testbed builds network namespaces, tc qdiscs and a cgroup): run it with sudo"
[[ $QUERIES =~ ^[1-9][0-9]*$ ]] || die "--queries '$QUERIES': a positive integer expected"
[[ $RUNS =~ ^[1-9][0-9]*$ ]] || die "--runs '$RUNS': a positive integer expected"
[[ $THREADS =~ ^[0-9]+$ ]] || die "--threads '$THREADS': a non-negative integer expected"
command -v jq >/dev/null || die "jq is needed to read deepedge run --json"

ROOT=$(cd "$(dirname "$0")/.." && pwd)
TESTBED=$ROOT/scripts/testbed.sh
D=${DEEPEDGE:-$ROOT/build/apps/deepedge/deepedge}
[[ -x $D ]] || die "$D not found: build it (cmake --build build --target deepedge) or set DEEPEDGE"
why=$("$TESTBED" check) || die "$why"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/split_testbed.XXXXXX")
SERVE_PID=""

cleanup() {
  set +e
  if [[ -n $SERVE_PID ]]; then
    kill "$SERVE_PID" 2>/dev/null
    wait "$SERVE_PID" 2>/dev/null
  fi
  "$TESTBED" down --name "$TB_NAME" >/dev/null 2>&1
  if [[ -n $KEEP ]]; then
    mkdir -p "$KEEP" && cp "$WORK"/results/* "$WORK"/*.log "$KEEP"/ 2>/dev/null
  fi
  rm -rf "$WORK"  # the repository (AlexNet's alone is hundreds of MB) goes too
}
trap cleanup EXIT
trap 'exit 130' INT TERM
# A private copy of the binary: a rebuild of the tree during the run must not swap it.
# `deepedge` hands `run` and `serve` to deepedge-net and loads its backend modules from
# its own directory, so they are copied beside it.
cp "$D" "$WORK/deepedge"
for sibling in "$(dirname "$D")"/deepedge-net "$(dirname "$D")"/deepedge-backend-*.so; do
  [[ -e $sibling ]] && cp "$sibling" "$WORK/"
done
[[ -x $WORK/deepedge-net ]] || die "$(dirname "$D")/deepedge-net not found: build the deepedge target"
D=$WORK/deepedge

log() { echo "[$(date -u +%H:%M:%S)] $*" >&2; }

on() {  # SIDE CMD...: run in the testbed's device or server namespace
  "$TESTBED" exec --name "$TB_NAME" "$@"
}

start_server() {
  # Not through on(): $! must be the server itself (testbed.sh execs into it).
  "$TESTBED" exec --name "$TB_NAME" server "$D" serve --models "$WORK/repo" \
    --http "127.0.0.1:$PORT" >"$WORK/serve-$1.log" 2>&1 &
  SERVE_PID=$!
  local _
  for _ in $(seq 600); do
    grep -q '^listening on' "$WORK/serve-$1.log" && return 0
    kill -0 "$SERVE_PID" 2>/dev/null || break
    sleep 0.2
  done
  cat "$WORK/serve-$1.log" >&2
  die "deepedge serve did not start ($1)"
}

stop_server() {
  kill "$SERVE_PID" 2>/dev/null || true
  wait "$SERVE_PID" 2>/dev/null || true
  SERVE_PID=""
}

start=$(date +%s)
log "device: --device-cpus $DEVICE_CPUS${CPU_PERIOD_US:+ --cpu-period-us $CPU_PERIOD_US}, --threads $THREADS; $QUERIES queries per run; work dir $WORK"
mkdir -p "$WORK/results"
for m in $MODELS; do
  "$D" zoo export "$m" -o "$WORK/$m.onnx" >/dev/null || die "cannot export zoo model '$m'"
done

first=1
for p in $PROFILES; do
  log "testbed up: $p"
  "$TESTBED" up --name "$TB_NAME" --profile "$p" --device-cpus "$DEVICE_CPUS" \
    ${CPU_PERIOD_US:+--cpu-period-us "$CPU_PERIOD_US"} >&2
  # The quota as testbed.sh wrote it, for the table's footnote.
  QUOTA_USED=$("$TESTBED" status --name "$TB_NAME" |
    awk -F= '/^cpu_quota_us=/{q=$2} /^cpu_period_us=/{p=$2} END{printf "%s us per %s us", q, p}')
  if ((first)); then
    for m in $MODELS; do
      log "$m: writing the repository (measured under the device's quota)"
      on device "$D" run "$WORK/$m.onnx" --split auto --write-repo "$WORK/repo" \
        --runs "$RUNS" --threads "$THREADS" >"$WORK/repo-$m.log" 2>&1 ||
        { cat "$WORK/repo-$m.log" >&2; die "$m: --write-repo failed"; }
    done
    log "repository: $(du -sh "$WORK/repo" | cut -f1), $(find "$WORK/repo" -name model.onnx | wc -l) models"
    first=0
  fi
  start_server "$p"
  for m in $MODELS; do
    for s in none all auto; do
      log "$p $m --split $s"
      out=$WORK/results/$p-$m-$s
      # --timeout 60: a 600 KB upload over 3g takes ~5 s, the default (5 s) would fail it.
      if ! on device "$D" run "$WORK/$m.onnx" --server "http://10.77.0.2:$PORT" --split "$s" \
        --queries "$QUERIES" --timeout 60 --runs "$RUNS" --threads "$THREADS" \
        --json "$out.json" >"$out.log" 2>&1; then
        cat "$out.log" >&2
        die "$p $m --split $s failed"
      fi
    done
  done
  stop_server
  "$TESTBED" down --name "$TB_NAME" >&2
done

# p50 as deepedge run reports medians: sorted[n/2].
p50() { jq '[.queries[].total_ms] | sort | .[length / 2 | floor]' "$1"; }

printf '\n| model | link | all-device p50 ms | all-server p50 ms | auto p50 ms | auto plan (queries that ran it) | auto gain vs all-device | auto gain vs all-server |\n'
printf '|---|---|---:|---:|---:|---|---:|---:|\n'
notes=""
for m in $MODELS; do
  for p in $PROFILES; do
    r=$WORK/results/$p-$m
    dev=$(p50 "$r-none.json")
    srv=$(p50 "$r-all.json")
    aut=$(p50 "$r-auto.json")
    # The plan most queries ran: the last query may be a probe of another cut.
    cut=$(jq -r '(.queries | length) as $n | [.queries[].plan] | group_by(.) | max_by(length)
                 | "\(.[0]) (\(length) / \($n))"' "$r-auto.json")
    awk -v m="$m" -v p="$p" -v d="$dev" -v s="$srv" -v a="$aut" -v c="$cut" \
      'BEGIN{printf "| %s | %s | %.1f | %.1f | %.1f | %s | %.2fx | %.2fx |\n", m, p, d, s, a, c, d/a, s/a}'
    for s in none all auto; do
      fb=$(jq '[.queries[] | select(.mode == "fallback")] | length' "$r-$s.json")
      ((fb == 0)) || notes+="- $m $p --split $s: $fb of $QUERIES queries fell back to the device"$'\n'
    done
    sw=$(jq -r '.switches[] | "query \(.query): \(.from) -> \(.to)"' "$r-auto.json" | paste -sd ';' -)
    [[ -z $sw ]] || notes+="- $m $p auto switched: $sw"$'\n'
  done
done
printf '\n%s queries per run; device under --device-cpus %s (%s), --threads %s; profile --runs %s.\n' \
  "$QUERIES" "$DEVICE_CPUS" "$QUOTA_USED" "$THREADS" "$RUNS"
[[ -z $notes ]] || printf '%s' "$notes"
log "done in $(($(date +%s) - start)) s"
