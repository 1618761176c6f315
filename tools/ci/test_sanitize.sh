#!/usr/bin/env bash
# npm run test:sanitize — the engine and both addons built with AddressSanitizer +
# UndefinedBehaviorSanitizer (WORLDCAST_SANITIZE, -O1, no recovery) into build-sanitize/,
# then the native-heavy vitest files run against that build: weights/config fuzz, KV
# property tests, kernels vs references, the test hooks' bad arguments, the decoder, the
# block loop, and the env protocol fuzz. Any ASan or UBSan report fails the run.
#   WORLDCAST_SANITIZE_FILES="test/a.test.ts ..."  run other files instead
#   WORLDCAST_SANITIZE_TESTS=<regex>              test names to run (default: all but the
#     Python-client env test, ~100 s under ASan, which drives the same server code over stdio
#     as the TypeScript stdio/WebSocket tests that do run)
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
out=build-sanitize
t0=$SECONDS

npx cmake-js compile --release -O "$out" --CDWORLDCAST_SANITIZE=ON
echo "sanitizer build: $((SECONDS - t0)) s"

# gcc's ASan runtime must come first in the process: Node is not instrumented, so it is preloaded.
libasan=$(g++ -print-file-name=libasan.so)
[ -f "$libasan" ] || { echo "libasan.so not found (g++ -print-file-name=libasan.so)" >&2; exit 1; }
log="$root/$out/vitest.log"

files=${WORLDCAST_SANITIZE_FILES:-"test/weights.test.ts test/weights_types.test.ts test/kv.test.ts test/kernels.test.ts test/testing_hooks.test.ts test/decoder.test.ts test/session.test.ts test/golden.test.ts test/env_protocol.test.ts"}
t1=$SECONDS
# detect_leaks=0: Node itself does not free everything at exit.
# allocator_may_return_null=1: a refused huge allocation is std::bad_alloc (a JS error), as without ASan.
# handle_segv=0: V8 handles its own SIGSEGVs (WebAssembly bounds traps in rapier).
# The output is kept in $log and searched for reports too: a worker that dies on one is
# also a failed run, but a report must never pass unnoticed.
set +e
LD_PRELOAD="$libasan" \
ASAN_OPTIONS="detect_leaks=0:allocator_may_return_null=1:handle_segv=0:abort_on_error=1" \
UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1" \
WORLDCAST_ADDON="$root/$out/Release/worldcast.node" \
WORLDCAST_TESTING_ADDON="$root/$out/Release/worldcast_testing.node" \
  npx vitest run $files -t "${WORLDCAST_SANITIZE_TESTS:-^(?!.*from Python)}" 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e
echo "sanitized tests: $((SECONDS - t1)) s (total $((SECONDS - t0)) s)"

if grep -qE "runtime error:|ERROR: AddressSanitizer|SUMMARY: (Address|UndefinedBehavior)Sanitizer" "$log"; then
  echo "test:sanitize: sanitizer reports above (and in $log)" >&2
  exit 1
fi
exit $status
