#!/usr/bin/env bash
# The consumer test (`npm run test:consumer`, run by .ci/run): pack the project as it would be
# published, install the tarball into fresh projects outside the repository (their own
# `npm install` from the registry; the npm cache is fine; the repo's node_modules is out of
# reach), and run test/consumer/smoke.mjs there:
#   1. prebuilt: PATH hides every compiler, cmake and make, so the install must keep the
#      prebuilt addon (prebuilds/linux-x64) and compile nothing;
#   2. source:   WORLDCAST_BUILD_FROM_SOURCE=1 forces the cmake-js build (build/Release wins).
# Each install is timed. Node is whatever `node` is first in PATH (.ci/run: Node 22).
# WORLDCAST_CONSUMER_KEEP=1 keeps the temporary folder.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/worldcast-consumer.XXXXXX")
[ "${WORLDCAST_CONSUMER_KEEP:-}" = 1 ] && echo "consumer: keeping $work" || trap 'rm -rf "$work"' EXIT
case "$work/" in "$root"/*) echo "consumer: $work is inside the repository" >&2; exit 1 ;; esac
unset NODE_PATH npm_config_build_from_source WORLDCAST_BUILD_FROM_SOURCE WORLDCAST_ADDON
now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }
echo "consumer: node $(node -v), npm $(npm -v)"

# ---- pack (prepack builds the prebuilt addon, prepare the dist) ----
t=$(now)
(cd "$root" && npm pack --pack-destination "$work" >"$work/pack.log" 2>&1) || { cat "$work/pack.log"; exit 1; }
tgz=$(ls "$work"/worldcast-*.tgz)
grep -E 'worldcast prebuild: prebuilds|package size|unpacked size|total files' "$work/pack.log" | sed 's/^npm notice /consumer: /'
echo "consumer: packed $(basename "$tgz") in $(secs "$t" "$(now)") s"
tar -tzf "$tgz" >"$work/contents.txt"
if grep -E '^package/(tools|test|bench|fuzz|examples/web-client|build|world/src|sdk/src|gameserver/src|env/src|models/default/eval)/|testing\.(cpp|h)$|\.map$' "$work/contents.txt"; then
  echo "consumer: the tarball holds files users do not run (above)" >&2; exit 1
fi
grep -qx 'package/prebuilds/linux-x64/worldcast.node' "$work/contents.txt" || { echo "consumer: no prebuilt addon in the tarball" >&2; exit 1; }
sdk=$(node -p "require('$root/package.json').devDependencies['@colyseus/sdk']")

# ---- a PATH without the toolchain: links to everything else on PATH ----
nocc="$work/path-without-toolchain"
mkdir -p "$nocc"
IFS=: read -ra dirs <<<"$PATH"
for d in "${dirs[@]}"; do
  [ -d "$d" ] || continue
  for f in "$d"/*; do
    n=${f##*/}
    case "$n" in
      g++* | gcc* | c++* | cc | c89* | c99* | cpp* | clang* | cmake* | ctest* | cpack* | make | gmake | ninja | ld | ld.* | *-linux-gnu-*) continue ;;
    esac
    [ -e "$nocc/$n" ] || [ ! -x "$f" ] || ln -s "$f" "$nocc/$n"
  done
done
for tool in g++ gcc c++ cc cmake make; do
  if PATH="$nocc" command -v "$tool" >/dev/null; then echo "consumer: $tool still on the hidden PATH" >&2; exit 1; fi
done

consumer() { # name → a fresh project folder with the smoke script
  mkdir -p "$work/$1"
  # npm 11 runs dependencies' install scripts but warns about those its allowScripts does not
  # cover: approved as `npm install-scripts approve` would (a tarball's key is its file: path).
  # msgpackr-extract is msgpackr's optional native part (a prebuilt check, no compile).
  printf '{ "name": "worldcast-consumer-%s", "version": "1.0.0", "private": true, "type": "module",\n  "allowScripts": { "worldcast": true, "file:%s": true, "msgpackr-extract": true } }\n' "$1" "$tgz" >"$work/$1/package.json"
  cp "$root/test/consumer/smoke.mjs" "$work/$1/"
}
install() { # name, extra env... → npm install of the tarball + the client SDK, timed, checked
  local name=$1; shift
  local t; t=$(now)
  (cd "$work/$name" && env "$@" npm install --no-audit --no-fund --foreground-scripts "$tgz" "@colyseus/sdk@$sdk" >install.log 2>&1) || { cat "$work/$name/install.log"; exit 1; }
  local dt; dt=$(secs "$t" "$(now)")
  grep -E '^worldcast: ' "$work/$name/install.log" | sed "s/^/consumer ($name): /"
  if grep -E 'EBADENGINE|npm (warn|WARN|error|ERR)' "$work/$name/install.log"; then echo "consumer ($name): npm warned (above)" >&2; exit 1; fi
  echo "consumer ($name): npm install took $dt s"
  echo "$name $dt" >>"$work/times"
}

# ---- 1. prebuilt, no toolchain ----
consumer prebuilt
install prebuilt PATH="$nocc"
grep -q 'worldcast: using the prebuilt addon' "$work/prebuilt/install.log" || { echo 'consumer (prebuilt): the install did not keep the prebuilt addon' >&2; exit 1; }
(cd "$work/prebuilt" && PATH="$nocc" node smoke.mjs prebuilt)

# ---- 2. forced source build ----
consumer source
install source WORLDCAST_BUILD_FROM_SOURCE=1
grep -q 'worldcast: built ' "$work/source/install.log" || { echo 'consumer (source): the install did not build from source' >&2; exit 1; }
(cd "$work/source" && node smoke.mjs source)

echo "consumer: install times (s): $(tr '\n' ' ' <"$work/times")"
echo "consumer: ok"
