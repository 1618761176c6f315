#!/usr/bin/env bash
# npm run fuzz — coverage-guided fuzzing, each harness for a bounded time:
#   native (libFuzzer, clang, ASan + UBSan): safetensors header, model config.json, TAEHV config
#   TypeScript (fuzz/js, V8 block coverage): client messages, frame envelopes, env protocol
# Seeds come from fuzz/corpus/<name>/ (committed); what a run discovers goes to
# build-fuzz/corpus*/<name>/ and is reused by the next run; crashing inputs go to build-fuzz/crashes/.
#   WORLDCAST_FUZZ_TIME=60          seconds per harness
#   WORLDCAST_FUZZ_ONLY="a b"       run only these harnesses
# Every harness runs even when one fails; the exit status is 1 if any found something.
set -euo pipefail
cd "$(dirname "$0")/../.."
T=${WORLDCAST_FUZZ_TIME:-60}
only=${WORLDCAST_FUZZ_ONLY:-}
want() { [ -z "$only" ] || [[ " $only " == *" $1 "* ]]; }
t0=$SECONDS
mkdir -p build-fuzz/crashes
failed=()

native=(safetensors model_config taehv_config)
need_native=0
for h in "${native[@]}"; do want "$h" && need_native=1; done
if [ $need_native = 1 ]; then
  command -v clang++ >/dev/null || { echo "npm run fuzz needs clang (apt-get install clang libclang-rt-14-dev)" >&2; exit 1; }
  cmake -S fuzz/native -B build-fuzz/native -G Ninja -DCMAKE_CXX_COMPILER=clang++ >/dev/null
  ninja -C build-fuzz/native
  echo "fuzz build: $((SECONDS - t0)) s"
fi
for h in "${native[@]}"; do
  want "$h" || continue
  mkdir -p "build-fuzz/corpus/$h"
  t1=$SECONDS
  if ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
    "build-fuzz/native/fuzz_$h" "build-fuzz/corpus/$h" "fuzz/corpus/$h" -dict="fuzz/dict/$h.dict" \
      -max_total_time="$T" -max_len=8192 -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
      -artifact_prefix="build-fuzz/crashes/$h-" > "build-fuzz/$h.log" 2>&1; then
    echo "$h: ok, $(grep -o 'stat::number_of_executed_units: *[0-9]*' "build-fuzz/$h.log" | grep -o '[0-9]*$') runs in $((SECONDS - t1)) s, $(grep -o 'cov: [0-9]*' "build-fuzz/$h.log" | tail -1)"
  else
    echo "$h: FAILED (build-fuzz/$h.log)" >&2
    grep -A30 -E "ERROR|==[0-9]+==|deadly signal" "build-fuzz/$h.log" | head -60 >&2 || tail -40 "build-fuzz/$h.log" >&2
    failed+=("$h")
  fi
done

for h in gameserver_messages envelope env_protocol; do
  want "$h" || continue
  if ! node --import tsx fuzz/js/run.ts "$h" --time "$T"; then
    echo "$h: FAILED" >&2
    failed+=("$h")
  fi
done

echo "fuzz: $((SECONDS - t0)) s in all"
if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz: findings in ${failed[*]} (inputs in build-fuzz/crashes/)" >&2
  exit 1
fi
