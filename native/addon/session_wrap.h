// JS class Session: per-session engine state; every operation runs on the model's
// engine thread in submission order and settles a Promise.
#pragma once
#include <napi.h>

#include <atomic>
#include <memory>

#include "addon/model_wrap.h"
#include "engine/session.h"

namespace wcjs {

// A finished block as the JS object step() and stepBatch() resolve with (x0 moved out, zero-copy).
Napi::Value block_to_js(Napi::Env env, wc::BlockOutput& out);

class SessionWrap : public Napi::ObjectWrap<SessionWrap> {
 public:
  static void Init(Napi::Env env, Napi::Object exports);
  explicit SessionWrap(const Napi::CallbackInfo& info);
  static Napi::FunctionReference* ctor;

 public:
  std::shared_ptr<wc::Session> session() const { return session_; }
  bool is_closed() const { return closed_.load(); }
  int frames() const { return frames_; }
  int numel() const { return channels_ * frames_ * height_ * width_; }
  int action_size() const { return n_act_; }
  // Actions of a step/probe/commit call (empty: none); matrix_game takes any whole number of rows
  // (the engine checks them against the block it lands on).
  // `frames`: the block's latent frames (frames_arg).
  std::vector<float> actions_arg(Napi::Env env, const Napi::Value& v, int frames) const;
  // A block's geometry map [channels, F, H, W] (empty when not given; its values are checked by the engine).
  std::vector<float> geometry_arg(Napi::Env env, const Napi::Value& v, int frames) const;
  // A step's `frames` option: min_frames_..frames_ (undefined: frames_).
  int frames_arg(Napi::Env env, const Napi::Value& v) const;
  int checked_frames(Napi::Env env, double frames, const std::string& what) const;
  int steps() const { return steps_; }

 private:
  Napi::Value Step(const Napi::CallbackInfo& info);
  Napi::Value Probe(const Napi::CallbackInfo& info);
  Napi::Value Commit(const Napi::CallbackInfo& info);
  Napi::Value SetPrompt(const Napi::CallbackInfo& info);
  Napi::Value SetImageLatent(const Napi::CallbackInfo& info);
  Napi::Value SetWindow(const Napi::CallbackInfo& info);
  Napi::Value Stats(const Napi::CallbackInfo& info);
  Napi::Value Fork(const Napi::CallbackInfo& info);
  Napi::Value SetSelection(const Napi::CallbackInfo& info);
  Napi::Value KvPages(const Napi::CallbackInfo& info);
  void init_layout();
  Napi::Value Close(const Napi::CallbackInfo& info);
  Napi::Value Closed(const Napi::CallbackInfo& info);
  Napi::Value Layout(const Napi::CallbackInfo& info);

  void check_open(Napi::Env env) const;
  void submit(std::function<void()> job) { ctx_->executor->submit(std::move(job)); }

  std::shared_ptr<ModelCtx> ctx_;
  Napi::ObjectReference model_ref_;  // keeps the JS Model alive while its sessions are
  std::shared_ptr<wc::Session> session_;  // touched only on the engine thread
  std::atomic<bool> closed_{false};
  int frames_ = 0, min_frames_ = 0, channels_ = 0, height_ = 0, width_ = 0, n_act_ = 0, steps_ = 0, window_ = 0, forwards_per_call_ = 0;
  bool fold_commit_ = false;
  int64_t n_geo_ = 0;  // floats of a block's geometry map (0: the model takes none)
  bool per_video_frame_ = false;  // matrix_game: actions come per video frame (rows vary by block)
  std::vector<double> timesteps_;
};

}  // namespace wcjs
