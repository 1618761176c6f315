// Test hooks: each kernel's fast path and scalar reference, the parsers, the RNG and
// the schedule, callable from vitest. Built into worldcast_testing.node only (never into
// the shipped worldcast.node); tests and benchmarks load it through sdk/src/native_testing.ts.
#pragma once
#include <napi.h>

namespace wcjs {
Napi::Object testing_exports(Napi::Env env);          // testing.cpp
Napi::Object decoder_testing_exports(Napi::Env env);  // decoder_testing.cpp
}
