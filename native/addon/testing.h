// Test hooks: each kernel's fast path and scalar reference, the parsers, the RNG and
// the schedule, callable from vitest. Not part of the SDK surface.
#pragma once
#include <napi.h>

namespace wcjs {
Napi::Object testing_exports(Napi::Env env);
}
