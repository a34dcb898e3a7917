#!/usr/bin/env bash
# The emulated edge testbed (issue 7): a "device" and a "server" network namespace
# joined by a veth pair, token-bucket rate limits per direction (tc tbf), a user-space
# delay stage for latency (deepedge-linkdelay; this kernel has no netem), and a CPU
# quota for device processes (cgroup v2 cpu.max or v1 cpu.cfs_quota_us).
#
#   scripts/testbed.sh up --profile 3g|lte|wifi [--device-cpus C] [--cpu-period-us US]
#                         [--ports P,P..] [--up RATE] [--down RATE] [--rtt MS] [--name NAME]
#   scripts/testbed.sh set-rate [--up RATE] [--down RATE] [--name NAME]
#   scripts/testbed.sh exec [--name NAME] device|server CMD [ARGS...]
#   scripts/testbed.sh status [--name NAME]
#   scripts/testbed.sh check                  # can this machine run it? (exit 3: no)
#   scripts/testbed.sh down [--name NAME]     # idempotent
#
# Addresses: device 10.77.0.1, server 10.77.0.2. Rates in tc units (500kbit, 30mbit).
# The delay applies to TCP connections to the relayed --ports (default 8000 KServe
# HTTP, 8001 KServe gRPC, 5201 link probe): the device connects to 10.77.0.2:PORT, the
# relay in the server namespace holds each chunk RTT/2 in each direction and passes
# it to 127.0.0.1:PORT there, so servers listen on loopback inside the server
# namespace. Other traffic sees the rate limits only.
#
# CPU quota: the device gets C * US microseconds of CPU per period of US microseconds
# (default 10000: 10 ms). A short period spreads the quota evenly: at 0.1 CPU with a
# 100 ms period a job runs at full speed for 10 ms and then waits 90 ms, so jobs shorter
# than 10 ms look unthrottled and longer ones 10x slower. The kernel takes periods of
# 1000-1000000 us and quotas of at least 1000 us; with the default period, C below 0.1
# lengthens the period to C's 1 ms quota (0.05 CPU: 1 ms per 20 ms).
#
# Profiles (rounded typical figures; Neurosurgeon, ASPLOS 2017, planned against 3G,
# LTE and Wi-Fi uplinks of about 1.1, 5.9 and 18.9 Mbit/s measured by Huang et al.,
# MobiSys 2012, with LTE RTTs of 50-70 ms and 3G's above 100 ms):
#   3g:   uplink  1 Mbit/s, downlink   2 Mbit/s, RTT 100 ms
#   lte:  uplink 10 Mbit/s, downlink  30 Mbit/s, RTT  50 ms
#   wifi: uplink 50 Mbit/s, downlink 100 Mbit/s, RTT  10 ms
set -euo pipefail

NAME=detb
STATE_ROOT=/run/deepedge-testbed
DEV_ADDR=10.77.0.1
SRV_ADDR=10.77.0.2

die() {
  echo "testbed.sh: error: $*" >&2
  exit 2
}

usage() {
  sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'
  exit "${1:-0}"
}

names() {
  NS_DEV="$NAME-dev"
  NS_SRV="$NAME-srv"
  IF_DEV="$NAME-d"  # interface names: at most 15 characters
  IF_SRV="$NAME-s"
  STATE="$STATE_ROOT/$NAME"
}

# Why the testbed cannot run here ("" when it can).
missing() {
  [[ $(id -u) -eq 0 ]] || { echo "needs root (network namespaces, tc, cgroups)"; return; }
  command -v ip >/dev/null || { echo "the ip command (iproute2) is missing"; return; }
  command -v tc >/dev/null || { echo "the tc command (iproute2) is missing"; return; }
  local probe="detbchk$$"
  if ! ip netns add "$probe" 2>/dev/null; then
    echo "cannot create network namespaces (ip netns add failed)"
    return
  fi
  ip netns del "$probe" 2>/dev/null || true
  if [[ -z $(cgroup_kind) ]]; then
    echo "no cgroup CPU controller (neither v2 cpu.max nor v1 cpu.cfs_quota_us)"
    return
  fi
}

need_root() {
  local why
  why=$(missing)
  [[ -z $why ]] || die "$why"
}

# v2 when the unified hierarchy has the cpu controller, else v1 when mounted.
cgroup_kind() {
  if [[ -f /sys/fs/cgroup/cgroup.controllers ]] && grep -qw cpu /sys/fs/cgroup/cgroup.controllers; then
    echo v2
  elif [[ -f /sys/fs/cgroup/cpu/cpu.cfs_quota_us ]]; then
    echo v1
  fi
}

cgroup_dir() {
  case $(cgroup_kind) in
    v2) echo "/sys/fs/cgroup/deepedge-testbed-$NAME" ;;
    v1) echo "/sys/fs/cgroup/cpu/deepedge-testbed-$NAME" ;;
  esac
}

valid_rate() {
  [[ $1 =~ ^[0-9]+(\.[0-9]+)?(bit|kbit|mbit|gbit)$ ]] || die "rate '$1': expected e.g. 500kbit, 10mbit"
}

# Token bucket: burst of 4 ms at the rate (at least 2 full frames), queue of 50 ms.
apply_rate() {  # NS IF RATE VERB
  local ns=$1 dev=$2 rate=$3 verb=$4 bits burst
  bits=$(rate_bits "$rate")
  burst=$((bits / 8 / 250))
  ((burst < 3200)) && burst=3200
  tc -n "$ns" qdisc "$verb" dev "$dev" root tbf rate "$rate" burst "$burst" latency 50ms
}

rate_bits() {
  local r=$1 num unit
  num=${r%%[a-z]*}
  unit=${r#"$num"}
  case $unit in
    bit) awk -v n="$num" 'BEGIN{printf "%d", n}' ;;
    kbit) awk -v n="$num" 'BEGIN{printf "%d", n*1000}' ;;
    mbit) awk -v n="$num" 'BEGIN{printf "%d", n*1000000}' ;;
    gbit) awk -v n="$num" 'BEGIN{printf "%d", n*1000000000}' ;;
  esac
}

find_linkdelay() {
  if [[ -n ${DEEPEDGE_LINKDELAY:-} ]]; then
    echo "$DEEPEDGE_LINKDELAY"
    return
  fi
  local root
  root=$(cd "$(dirname "$0")/.." && pwd)
  for c in "$root"/build/src/testbed/deepedge-linkdelay "$root"/build-*/src/testbed/deepedge-linkdelay; do
    [[ -x $c ]] && { echo "$c"; return; }
  done
  command -v deepedge-linkdelay || true
}

cmd_up() {
  local profile="" up="" down="" rtt="" cpus=1 ports=8000,8001,5201 period=""
  while (($#)); do
    case $1 in
      --profile) profile=$2; shift 2 ;;
      --up) up=$2; shift 2 ;;
      --down) down=$2; shift 2 ;;
      --rtt) rtt=$2; shift 2 ;;
      --device-cpus) cpus=$2; shift 2 ;;
      --cpu-period-us) period=$2; shift 2 ;;
      --ports) ports=$2; shift 2 ;;
      --name) NAME=$2; shift 2 ;;
      *) die "up: unknown argument '$1'" ;;
    esac
  done
  case $profile in
    3g) : "${up:=1mbit}" "${down:=2mbit}" "${rtt:=100}" ;;
    lte) : "${up:=10mbit}" "${down:=30mbit}" "${rtt:=50}" ;;
    wifi) : "${up:=50mbit}" "${down:=100mbit}" "${rtt:=10}" ;;
    "") [[ -n $up && -n $down && -n $rtt ]] || die "up: --profile 3g|lte|wifi (or --up, --down and --rtt)" ;;
    *) die "up: unknown profile '$profile' (3g, lte, wifi)" ;;
  esac
  valid_rate "$up"
  valid_rate "$down"
  [[ $rtt =~ ^[0-9]+(\.[0-9]+)?$ ]] || die "--rtt '$rtt': milliseconds expected"
  if ! [[ $cpus =~ ^[0-9]+(\.[0-9]+)?$ ]] || ! awk -v c="$cpus" 'BEGIN{exit !(c > 0)}'; then
    die "--device-cpus '$cpus': a positive number of CPUs expected"
  fi
  [[ $ports =~ ^[0-9]+(,[0-9]+)*$ ]] || die "--ports '$ports': comma-separated port numbers expected"
  local quota
  if [[ -z $period ]]; then
    # The default 10 ms, or the shortest period that gives the kernel's 1 ms quota.
    period=$(awk -v c="$cpus" 'BEGIN{p = 10000; if (c * p < 1000) p = int(1000 / c + 0.999999); printf "%d", p}')
    ((period <= 1000000)) || die "--device-cpus '$cpus': below 0.001 CPU, the kernel's least quota (1 ms per 1 s)"
  else
    [[ $period =~ ^[1-9][0-9]*$ ]] && ((period >= 1000 && period <= 1000000)) ||
      die "--cpu-period-us '$period': an integer from 1000 to 1000000 (the kernel's range) expected"
  fi
  quota=$(awk -v c="$cpus" -v p="$period" 'BEGIN{printf "%d", c*p + 0.5}')
  ((quota >= 1000)) ||
    die "--device-cpus $cpus with --cpu-period-us $period: a quota of $quota us, below the kernel's 1000 us; use a longer period"
  names
  need_root
  [[ ${#NAME} -le 12 && $NAME =~ ^[a-z][a-z0-9]*$ ]] || die "--name '$NAME': 1-12 lowercase letters/digits"
  local linkdelay
  linkdelay=$(find_linkdelay)
  [[ -n $linkdelay && -x $linkdelay ]] ||
    die "deepedge-linkdelay not found: build it (cmake --build build --target deepedge-linkdelay) or set DEEPEDGE_LINKDELAY"
  if ip netns list | grep -qw "$NS_DEV" || [[ -d $STATE ]]; then
    die "testbed '$NAME' is already up: run 'scripts/testbed.sh down --name $NAME' first"
  fi

  # From here on, any failure removes what was built.
  trap 'echo "testbed.sh: up failed; cleaning up" >&2; teardown' ERR
  mkdir -p "$STATE"
  ip netns add "$NS_DEV"
  ip netns add "$NS_SRV"
  ip link add "$IF_DEV" type veth peer name "$IF_SRV"
  ip link set "$IF_DEV" netns "$NS_DEV"
  ip link set "$IF_SRV" netns "$NS_SRV"
  ip -n "$NS_DEV" addr add "$DEV_ADDR/24" dev "$IF_DEV"
  ip -n "$NS_SRV" addr add "$SRV_ADDR/24" dev "$IF_SRV"
  for ns in "$NS_DEV" "$NS_SRV"; do ip -n "$ns" link set lo up; done
  ip -n "$NS_DEV" link set "$IF_DEV" up
  ip -n "$NS_SRV" link set "$IF_SRV" up
  # Uplink = the device's egress, downlink = the server's egress.
  apply_rate "$NS_DEV" "$IF_DEV" "$up" add
  apply_rate "$NS_SRV" "$IF_SRV" "$down" add

  local half
  half=$(awk -v r="$rtt" 'BEGIN{printf "%g", r/2}')
  local p
  for p in ${ports//,/ }; do
    rm -f "$STATE/relay-$p.ready"
    ip netns exec "$NS_SRV" "$linkdelay" --listen "$SRV_ADDR:$p" --upstream "127.0.0.1:$p" \
      --delay-ms "$half" --ready-file "$STATE/relay-$p.ready" \
      </dev/null >"$STATE/relay-$p.log" 2>&1 &
    echo $! >"$STATE/relay-$p.pid"
  done
  for p in ${ports//,/ }; do
    local _
    for _ in $(seq 50); do
      [[ -s $STATE/relay-$p.ready ]] && break
      kill -0 "$(cat "$STATE/relay-$p.pid")" 2>/dev/null || break
      sleep 0.1
    done
    [[ -s $STATE/relay-$p.ready ]] || { cat "$STATE/relay-$p.log" >&2; false; }
  done

  local cg kind
  kind=$(cgroup_kind)
  cg=$(cgroup_dir)
  if [[ $kind == v2 ]]; then
    grep -qw cpu /sys/fs/cgroup/cgroup.subtree_control || echo +cpu >/sys/fs/cgroup/cgroup.subtree_control
    mkdir -p "$cg"
    echo "$quota $period" >"$cg/cpu.max"
  else
    mkdir -p "$cg"
    # Quota off first, so that no old quota is checked against the new period.
    echo -1 >"$cg/cpu.cfs_quota_us"
    echo "$period" >"$cg/cpu.cfs_period_us"
    echo "$quota" >"$cg/cpu.cfs_quota_us"
  fi
  cat >"$STATE/config" <<EOF
profile=${profile:-custom}
up=$up
down=$down
rtt_ms=$rtt
device_cpus=$cpus
cpu_period_us=$period
cpu_quota_us=$quota
ports=$ports
cgroup=$cg
cgroup_kind=$kind
EOF
  trap - ERR
  echo "testbed '$NAME' up: ${profile:-custom} link, uplink $up, downlink $down, RTT $rtt ms" \
    "on ports $ports; device $DEV_ADDR ($NS_DEV, $cpus CPUs: $quota us per $period us), server $SRV_ADDR ($NS_SRV)"
}

cmd_set_rate() {
  local up="" down=""
  while (($#)); do
    case $1 in
      --up) up=$2; shift 2 ;;
      --down) down=$2; shift 2 ;;
      --name) NAME=$2; shift 2 ;;
      *) die "set-rate: unknown argument '$1'" ;;
    esac
  done
  [[ -n $up || -n $down ]] || die "set-rate: give --up RATE and/or --down RATE"
  names
  need_root
  [[ -f $STATE/config ]] || die "testbed '$NAME' is not up"
  if [[ -n $up ]]; then
    valid_rate "$up"
    apply_rate "$NS_DEV" "$IF_DEV" "$up" change
    sed -i "s/^up=.*/up=$up/" "$STATE/config"
  fi
  if [[ -n $down ]]; then
    valid_rate "$down"
    apply_rate "$NS_SRV" "$IF_SRV" "$down" change
    sed -i "s/^down=.*/down=$down/" "$STATE/config"
  fi
  echo "testbed '$NAME': uplink $(grep ^up= "$STATE/config" | cut -d= -f2), downlink $(grep ^down= "$STATE/config" | cut -d= -f2)"
}

cmd_exec() {
  while [[ ${1:-} == --name ]]; do
    NAME=$2
    shift 2
  done
  local side=${1:-}
  shift || true
  (($#)) || die "exec: usage: exec device|server CMD [ARGS...]"
  names
  need_root
  [[ -f $STATE/config ]] || die "testbed '$NAME' is not up"
  case $side in
    server) exec ip netns exec "$NS_SRV" "$@" ;;
    device)
      local cg procs
      cg=$(grep ^cgroup= "$STATE/config" | cut -d= -f2)
      procs="$cg/cgroup.procs"
      # Join the CPU-limited cgroup before entering the namespace (ip netns exec
      # remounts /sys, hiding the cgroup tree); the command keeps this pid.
      echo $$ >"$procs" || die "cannot join the device cgroup $cg"
      exec ip netns exec "$NS_DEV" "$@"
      ;;
    *) die "exec: the side is 'device' or 'server', not '$side'" ;;
  esac
}

cmd_status() {
  while (($#)); do
    case $1 in
      --name) NAME=$2; shift 2 ;;
      *) die "status: unknown argument '$1'" ;;
    esac
  done
  names
  need_root
  [[ -f $STATE/config ]] || { echo "testbed '$NAME' is down"; return 0; }
  cat "$STATE/config"
  tc -n "$NS_DEV" qdisc show dev "$IF_DEV"
  tc -n "$NS_SRV" qdisc show dev "$IF_SRV"
  local f
  for f in "$STATE"/relay-*.pid; do
    [[ -e $f ]] || continue
    if kill -0 "$(cat "$f")" 2>/dev/null; then echo "$(basename "$f" .pid): running"; else echo "$(basename "$f" .pid): DEAD"; fi
  done
}

# Removes everything of testbed $NAME that exists; never fails.
teardown() {
  set +e
  names
  local f pid ns
  for f in "$STATE"/relay-*.pid; do
    [[ -e $f ]] || continue
    pid=$(cat "$f")
    kill "$pid" 2>/dev/null
  done
  # Processes still inside the namespaces were started through 'exec': stop them, or
  # the namespaces (and the veth pair) would outlive 'ip netns del'.
  for ns in "$NS_DEV" "$NS_SRV"; do
    if ip netns list 2>/dev/null | grep -qw "$ns"; then
      for pid in $(ip netns pids "$ns" 2>/dev/null); do kill "$pid" 2>/dev/null; done
    fi
  done
  sleep 0.2
  for ns in "$NS_DEV" "$NS_SRV"; do
    if ip netns list 2>/dev/null | grep -qw "$ns"; then
      for pid in $(ip netns pids "$ns" 2>/dev/null); do kill -9 "$pid" 2>/dev/null; done
      ip netns del "$ns" 2>/dev/null
    fi
  done
  ip link del "$IF_DEV" 2>/dev/null  # only if it never left the root namespace
  local cg
  cg=$(cgroup_dir)
  if [[ -n $cg && -d $cg ]]; then
    # Anything left in the device cgroup goes back to the root before removal.
    local parent
    parent=$(dirname "$cg")
    while read -r pid; do echo "$pid" >"$parent/cgroup.procs" 2>/dev/null; done <"$cg/cgroup.procs"
    rmdir "$cg" 2>/dev/null
  fi
  rm -rf "$STATE"
  return 0
}

cmd_down() {
  while (($#)); do
    case $1 in
      --name) NAME=$2; shift 2 ;;
      *) die "down: unknown argument '$1'" ;;
    esac
  done
  names
  need_root
  teardown
  echo "testbed '$NAME' down"
}

main() {
  local cmd=${1:-}
  shift || true
  case $cmd in
    up) cmd_up "$@" ;;
    set-rate) cmd_set_rate "$@" ;;
    exec) cmd_exec "$@" ;;
    status) cmd_status "$@" ;;
    down) cmd_down "$@" ;;
    check)
      local why
      why=$(missing)
      if [[ -n $why ]]; then
        echo "testbed unavailable: $why"
        exit 3
      fi
      echo "testbed available (cgroup $(cgroup_kind))"
      ;;
    -h | --help | help) usage 0 ;;
    *) echo "testbed.sh: error: unknown command '$cmd'" >&2; usage 2 >&2 ;;
  esac
}

main "$@"
