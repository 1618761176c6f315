// Module entry: Model, Session, Decoder and the profiler (worldcast.node, what the package
// ships). Built a second time with WORLDCAST_TESTING_ADDON as worldcast_testing.node, which
// adds the kernel test hooks (`testing`, `decoderTesting`). Bindings only; the engine below
// knows nothing of Node.
#include <napi.h>

#include <cstring>

#include "addon/common.h"
#include "core/cpu_features.h"
#include "core/trace.h"
#include "kernels/gemm.h"
#include "addon/model_wrap.h"
#include "addon/session_wrap.h"
#ifdef WORLDCAST_TESTING_ADDON
#include "addon/testing.h"
#endif
#include "addon/decoder_wrap.h"

namespace wcjs {

namespace {

struct Pending {
  Napi::Promise::Deferred deferred;
  Napi::ThreadSafeFunction tsfn;
  JobResult result;
};

}  // namespace

Napi::Promise run_async(Napi::Env env, const std::function<void(std::function<void()>)>& submit,
                        std::function<std::function<Napi::Value(Napi::Env)>()> work) {
  auto* p = new Pending{Napi::Promise::Deferred::New(env), Napi::ThreadSafeFunction(), JobResult()};
  Napi::Promise promise = p->deferred.Promise();
  p->tsfn = Napi::ThreadSafeFunction::New(env, Napi::Function(), "worldcast-job", 0, 1);
  auto job = [p, work = std::move(work)]() {
    try {
      p->result.make = work();
    } catch (const wc::Error& e) {
      p->result.ok = false;
      p->result.code = wc::error_kind_name(e.kind());
      p->result.message = e.what();
    } catch (const std::bad_alloc&) {
      p->result.ok = false;
      p->result.code = "OUT_OF_MEMORY";
      p->result.message = "out of memory";
    } catch (const std::exception& e) {
      p->result.ok = false;
      p->result.code = "INTERNAL";
      p->result.message = e.what();
    }
    auto settle = [](Napi::Env env, Napi::Function, Pending* p) {
      if (env != nullptr) {
        Napi::HandleScope scope(env);
        if (p->result.ok) {
          try {
            p->deferred.Resolve(p->result.make ? p->result.make(env) : env.Undefined());
          } catch (const Napi::Error& e) {
            p->deferred.Reject(e.Value());
          } catch (const std::exception& e) {
            p->deferred.Reject(make_error(env, "INTERNAL", e.what()).Value());
          }
        } else {
          p->deferred.Reject(make_error(env, p->result.code, p->result.message).Value());
        }
      }
      p->tsfn.Release();
      delete p;
    };
    if (p->tsfn.BlockingCall(p, settle) != napi_ok) {
      // The environment is shutting down; nothing can be settled any more.
      p->tsfn.Release();
      delete p;
    }
  };
  try {
    submit(std::move(job));
  } catch (...) {
    p->tsfn.Release();
    delete p;
    throw;
  }
  return promise;
}

}  // namespace wcjs

// profiler.start(); profiler.stop() → {names: string[], cats: string[], data: Float64Array}
// with data = [nameIndex, catIndex, tsMicros, durMicros, tid] per event; profiler.now() → µs.
static Napi::Object profiler_exports(Napi::Env env) {
  Napi::Object p = Napi::Object::New(env);
  p.Set("start", Napi::Function::New(env, [](const Napi::CallbackInfo& info) {
    wc::Trace::start();
    return info.Env().Undefined();
  }));
  p.Set("now", Napi::Function::New(env, [](const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), double(wc::Trace::now_ns()) / 1e3);
  }));
  p.Set("stop", Napi::Function::New(env, [](const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    std::vector<wc::TraceEvent> ev = wc::Trace::stop();
    std::vector<const char*> names, cats;
    auto index = [](std::vector<const char*>& v, const char* s) {
      for (size_t i = 0; i < v.size(); ++i)
        if (v[i] == s || std::strcmp(v[i], s) == 0) return double(i);
      v.push_back(s);
      return double(v.size() - 1);
    };
    Napi::Float64Array data = Napi::Float64Array::New(env, ev.size() * 5);
    for (size_t i = 0; i < ev.size(); ++i) {
      data[i * 5] = index(names, ev[i].name);
      data[i * 5 + 1] = index(cats, ev[i].cat);
      data[i * 5 + 2] = double(ev[i].ts_ns) / 1e3;
      data[i * 5 + 3] = double(ev[i].dur_ns) / 1e3;
      data[i * 5 + 4] = ev[i].tid;
    }
    Napi::Array n = Napi::Array::New(env, names.size()), c = Napi::Array::New(env, cats.size());
    for (size_t i = 0; i < names.size(); ++i) n.Set(uint32_t(i), names[i]);
    for (size_t i = 0; i < cats.size(); ++i) c.Set(uint32_t(i), cats[i]);
    Napi::Object o = Napi::Object::New(env);
    o.Set("names", n);
    o.Set("cats", c);
    o.Set("data", data);
    return o;
  }));
  return p;
}

// gemmPaths() → {f32, bf16, int8}: the GEMM kernel family each weight storage runs on this
// CPU at its best SIMD level (what ModelInfo.gemmPath says of a model loaded so).
static Napi::Value GemmPaths(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return wcjs::guarded(env, [&]() -> Napi::Value {
    const wc::Isa isa = wc::best_isa();
    Napi::Object o = Napi::Object::New(env);
    for (wc::WeightType wt : {wc::WeightType::F32, wc::WeightType::BF16, wc::WeightType::I8})
      o.Set(wc::weight_type_name(wt), wc::gemm_path_name(wc::gemm_path_for(isa, wt)));
    return o;
  });
}

static Napi::Object Init(Napi::Env env, Napi::Object exports) {
  wcjs::ModelWrap::Init(env, exports);
  wcjs::SessionWrap::Init(env, exports);
  wcjs::DecoderWrap::Init(env, exports);
  exports.Set("profiler", profiler_exports(env));
  exports.Set("gemmPaths", Napi::Function::New(env, GemmPaths, "gemmPaths"));
#ifdef WORLDCAST_TESTING_ADDON
  exports.Set("testing", wcjs::testing_exports(env));
  exports.Set("decoderTesting", wcjs::decoder_testing_exports(env));
#endif
  return exports;
}

#ifdef WORLDCAST_TESTING_ADDON
NODE_API_MODULE(worldcast_testing, Init)
#else
NODE_API_MODULE(worldcast, Init)
#endif
