// Module entry: Model, Session and the kernel test hooks. Bindings only; the
// engine below knows nothing of Node.
#include <napi.h>

#include "addon/common.h"
#include "addon/model_wrap.h"
#include "addon/session_wrap.h"
#include "addon/testing.h"

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

static Napi::Object Init(Napi::Env env, Napi::Object exports) {
  wcjs::ModelWrap::Init(env, exports);
  wcjs::SessionWrap::Init(env, exports);
  exports.Set("testing", wcjs::testing_exports(env));
  return exports;
}

NODE_API_MODULE(worldcast, Init)
