// JS class Model: the weights (shared by its sessions) and the engine thread.
#pragma once
#include <napi.h>

#include <atomic>
#include <memory>

#include "engine/executor.h"
#include "kv/page_pool.h"
#include "model/forward.h"
#include "model/wan_model.h"

namespace wcjs {

class SessionWrap;

// Owned only by JS-thread objects (ModelWrap, SessionWrap) so the executor is never
// destroyed from its own thread; engine jobs capture the model weights, not this.
struct ModelCtx {
  std::shared_ptr<const wc::WanModel> model;
  std::unique_ptr<wc::KvPool> pool;  // declared before the executor: destroyed after its jobs drain
  wc::KvType kv_type = wc::KvType::BF16;
  // Shared with the model's own decoder (its jobs take turns on the same compute threads).
  std::shared_ptr<wc::Executor> executor;
  // The engine thread's forward workspace: step_batch and every session of this model use
  // it (on the engine thread only), so activation memory does not grow with sessions.
  std::shared_ptr<wc::ForwardWorkspace> ws = std::make_shared<wc::ForwardWorkspace>();
  std::atomic<bool> closed{false};
  // The executor may outlive this (a decoder shares it): the jobs queued so far, which
  // may use the pool, run first.
  ~ModelCtx() {
    if (executor) executor->drain();
  }
};

wc::KvType kv_type_arg(Napi::Env env, const Napi::Value& v);

class ModelWrap : public Napi::ObjectWrap<ModelWrap> {
 public:
  static void Init(Napi::Env env, Napi::Object exports);
  explicit ModelWrap(const Napi::CallbackInfo& info);
  static Napi::FunctionReference* ctor;
  std::shared_ptr<ModelCtx> ctx() const { return ctx_; }

 private:
  Napi::Value Config(const Napi::CallbackInfo& info);
  Napi::Value Info(const Napi::CallbackInfo& info);
  Napi::Value CreateSession(const Napi::CallbackInfo& info);
  Napi::Value KvStats(const Napi::CallbackInfo& info);
  Napi::Value StepBatch(const Napi::CallbackInfo& info);
  Napi::Value CommitBatch(const Napi::CallbackInfo& info);
  SessionWrap* batch_session(Napi::Env env, const Napi::Value& v, const char* call, uint32_t i) const;
  Napi::Value Close(const Napi::CallbackInfo& info);
  Napi::Value Closed(const Napi::CallbackInfo& info);
  std::shared_ptr<ModelCtx> ctx_;
};

}  // namespace wcjs
