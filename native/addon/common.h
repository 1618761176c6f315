// Shared helpers of the Node bindings: engine errors → JS Errors with a `code`,
// typed-array argument checks, and running a job on the engine thread with its
// result delivered to a Promise through a ThreadSafeFunction.
#pragma once
#include <napi.h>

#include <atomic>
#include <cmath>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/error.h"

namespace wcjs {

inline Napi::Error make_error(Napi::Env env, const std::string& code, const std::string& msg) {
  Napi::Error e = Napi::Error::New(env, msg);
  e.Set("code", Napi::String::New(env, code));
  return e;
}

// Run fn, converting engine and std exceptions into JS exceptions with a code.
template <typename F>
auto guarded(Napi::Env env, F&& fn) -> decltype(fn()) {
  try {
    return fn();
  } catch (const Napi::Error&) {
    throw;
  } catch (const wc::Error& e) {
    throw make_error(env, wc::error_kind_name(e.kind()), e.what());
  } catch (const std::bad_alloc&) {
    throw make_error(env, "OUT_OF_MEMORY", "out of memory");
  } catch (const std::exception& e) {
    throw make_error(env, "INTERNAL", e.what());
  }
}

[[noreturn]] inline void throw_arg(Napi::Env env, const std::string& msg) { throw make_error(env, "ARGUMENT", msg); }
[[noreturn]] inline void throw_shape(Napi::Env env, const std::string& msg) { throw make_error(env, "SHAPE", msg); }

// An integer argument in [lo, hi]: anything else (not a number, NaN, ±∞, a fraction, out
// of range) is an ARGUMENT error, so a size is never negative or wrapped.
inline int64_t int_in_range(Napi::Env env, const Napi::Value& v, const std::string& name, int64_t lo, int64_t hi) {
  if (!v.IsNumber()) throw_arg(env, name + " must be a number");
  const double d = v.As<Napi::Number>().DoubleValue();
  if (!(d >= double(lo) && d <= double(hi)) || d != std::floor(d))
    throw_arg(env, name + " must be an integer in [" + std::to_string(lo) + ", " + std::to_string(hi) + "]");
  return int64_t(d);
}

// A string argument (an ARGUMENT error otherwise).
inline std::string string_arg(Napi::Env env, const Napi::Value& v, const std::string& name) {
  if (!v.IsString()) throw_arg(env, name + " must be a string");
  return v.As<Napi::String>().Utf8Value();
}

// A Float32Array argument copied out (engine jobs never touch JS memory).
inline std::vector<float> float_array(Napi::Env env, const Napi::Value& v, const std::string& what,
                                      int64_t expect = -1) {
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_float32_array)
    throw_arg(env, what + " must be a Float32Array");
  Napi::Float32Array a = v.As<Napi::Float32Array>();
  if (expect >= 0 && int64_t(a.ElementLength()) != expect)
    throw_shape(env, what + " has " + std::to_string(a.ElementLength()) + " values, expected " + std::to_string(expect));
  return std::vector<float>(a.Data(), a.Data() + a.ElementLength());
}

inline Napi::Float32Array to_float32(Napi::Env env, std::vector<float>&& data) {
  // An external buffer over no memory reads as detached in V8: an empty result is a plain one.
  if (data.empty()) return Napi::Float32Array::New(env, 0);
  auto* owned = new std::vector<float>(std::move(data));
  Napi::ArrayBuffer ab = Napi::ArrayBuffer::New(env, owned->data(), owned->size() * sizeof(float),
                                                [](Napi::Env, void*, std::vector<float>* p) { delete p; }, owned);
  return Napi::Float32Array::New(env, owned->size(), ab, 0);
}

// The outcome of an engine job: either an error (kind + message) or a value built on the JS thread.
struct JobResult {
  bool ok = true;
  std::string code, message;
  std::function<Napi::Value(Napi::Env)> make;  // builds the resolved value on the JS thread
};

// Submit `work` (run on the engine thread; returns the builder of the JS value) and
// return a Promise settled on the JS thread with its result.
Napi::Promise run_async(Napi::Env env, const std::function<void(std::function<void()>)>& submit,
                        std::function<std::function<Napi::Value(Napi::Env)>()> work);

// close(): refuse new work from now on, and release `state` on the engine thread once the
// work already submitted has run. A second close resolves at once.
template <typename T, typename Submit>
Napi::Value close_on_engine(Napi::Env env, std::atomic<bool>& closed, std::shared_ptr<T>& state, Submit submit) {
  if (closed.exchange(true)) {
    auto d = Napi::Promise::Deferred::New(env);
    d.Resolve(env.Undefined());
    return d.Promise();
  }
  std::shared_ptr<T> s = std::move(state);
  state = nullptr;
  return run_async(env, submit, [s]() mutable {
    s.reset();
    return std::function<Napi::Value(Napi::Env)>();
  });
}

}  // namespace wcjs
