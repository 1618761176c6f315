// JS classes Decoder (TAEHV weights + its own engine thread) and DecoderStream (one
// stream's MemBlock state). The conv2d test hooks are in decoder_testing.cpp (test addon only).
// Every stream operation runs on the decoder's engine thread in submission order and
// settles a Promise; frames come back as external Buffers (no copy).
#pragma once
#include <napi.h>

#include <atomic>
#include <memory>

#include "engine/executor.h"
#include "model/taehv.h"

namespace wcjs {

// Owned only by JS-thread objects so the executor is never destroyed from its own thread.
struct DecoderCtx {
  std::shared_ptr<const wc::TaehvWeights> weights;
  // Held by the jobs too: the executor may be a model's, which outlives this.
  std::shared_ptr<wc::TaehvWorkspace> ws;
  // Its own, or the engine thread of a model it decodes for (loadDecoder's `engine`).
  std::shared_ptr<wc::Executor> executor;
  std::atomic<bool> closed{false};
};

// A TaehvConfig as the JS object Decoder.config() returns.
Napi::Object decoder_config_object(Napi::Env env, const wc::TaehvConfig& c);

class DecoderWrap : public Napi::ObjectWrap<DecoderWrap> {
 public:
  // Registers Decoder and DecoderStream on `exports`.
  static void Init(Napi::Env env, Napi::Object exports);
  explicit DecoderWrap(const Napi::CallbackInfo& info);
  static Napi::FunctionReference* ctor;
  std::shared_ptr<DecoderCtx> ctx() const { return ctx_; }

 private:
  Napi::Value Config(const Napi::CallbackInfo& info);
  Napi::Value Info(const Napi::CallbackInfo& info);
  Napi::Value CreateStream(const Napi::CallbackInfo& info);
  Napi::Value Close(const Napi::CallbackInfo& info);
  Napi::Value Closed(const Napi::CallbackInfo& info);
  std::shared_ptr<DecoderCtx> ctx_;
};

class DecoderStreamWrap : public Napi::ObjectWrap<DecoderStreamWrap> {
 public:
  static void Init(Napi::Env env, Napi::Object exports);
  explicit DecoderStreamWrap(const Napi::CallbackInfo& info);
  static Napi::FunctionReference* ctor;

 private:
  Napi::Value Decode(const Napi::CallbackInfo& info);
  Napi::Value DecodeF32(const Napi::CallbackInfo& info);
  Napi::Value DecodeImpl(const Napi::CallbackInfo& info, bool f32);
  Napi::Value Reset(const Napi::CallbackInfo& info);
  Napi::Value Fork(const Napi::CallbackInfo& info);
  Napi::Value Stats(const Napi::CallbackInfo& info);
  Napi::Value Close(const Napi::CallbackInfo& info);
  Napi::Value Closed(const Napi::CallbackInfo& info);
  void check_open(Napi::Env env) const;
  void submit(std::function<void()> job) { ctx_->executor->submit(std::move(job)); }

  std::shared_ptr<DecoderCtx> ctx_;
  Napi::ObjectReference decoder_ref_;       // keeps the JS Decoder alive while its streams are
  std::shared_ptr<wc::TaehvStream> stream_;  // touched only on the engine thread
  std::atomic<bool> closed_{false};
};

}  // namespace wcjs
