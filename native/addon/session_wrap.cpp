#include "addon/session_wrap.h"

#include <cmath>

#include "addon/common.h"

namespace wcjs {

Napi::FunctionReference* SessionWrap::ctor = nullptr;

Napi::Value block_to_js(Napi::Env env, wc::BlockOutput& out) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("x0", to_float32(env, std::move(out.x0)));
  o.Set("frameStart", double(out.frame_start));
  o.Set("frames", out.frames);
  o.Set("channels", out.channels);
  o.Set("height", out.height);
  o.Set("width", out.width);
  o.Set("forwards", out.forwards);
  o.Set("seconds", out.seconds);
  Napi::Object t = Napi::Object::New(env);
  for (int i = 0; i < int(wc::Stage::Count); ++i) t.Set(wc::stage_name(wc::Stage(i)), out.times.sec[i]);
  o.Set("times", t);
  return o;
}

void SessionWrap::Init(Napi::Env env, Napi::Object exports) {
  Napi::Function f = DefineClass(env, "Session",
                                 {
                                     InstanceMethod("step", &SessionWrap::Step),
                                     InstanceMethod("probe", &SessionWrap::Probe),
                                     InstanceMethod("commit", &SessionWrap::Commit),
                                     InstanceMethod("setPrompt", &SessionWrap::SetPrompt),
                                     InstanceMethod("setImageLatent", &SessionWrap::SetImageLatent),
                                     InstanceMethod("setWindow", &SessionWrap::SetWindow),
                                     InstanceMethod("stats", &SessionWrap::Stats),
                                     InstanceMethod("fork", &SessionWrap::Fork),
                                     InstanceMethod("setSelection", &SessionWrap::SetSelection),
                                     InstanceMethod("kvPages", &SessionWrap::KvPages),
                                     InstanceMethod("close", &SessionWrap::Close),
                                     InstanceAccessor("closed", &SessionWrap::Closed, nullptr),
                                     InstanceAccessor("layout", &SessionWrap::Layout, nullptr),
                                 });
  ctor = new Napi::FunctionReference(Napi::Persistent(f));
  exports.Set("Session", f);
}

namespace {

int rows_of(const std::vector<float>& a, int n_act) { return a.empty() || n_act == 0 ? -1 : int(a.size() / size_t(n_act)); }

int opt_int(Napi::Env env, const Napi::Object& o, const char* key, int def, double lo, double hi) {
  Napi::Value v = o.Get(key);
  if (v.IsUndefined()) return def;
  if (!v.IsNumber()) throw_arg(env, std::string(key) + " must be a number");
  double d = v.As<Napi::Number>().DoubleValue();
  if (!(d >= lo && d <= hi) || d != std::floor(d))
    throw_arg(env, std::string(key) + " must be an integer in [" + std::to_string(int64_t(lo)) + ", " +
                       std::to_string(int64_t(hi)) + "]");
  return int(d);
}

}  // namespace

// new Session(model, {seed?, localAttnSize?, sinkSize?, latentHeight?, latentWidth?, kvDtype?})
// (internally also new Session(model, External<shared_ptr<Session>>) for forks)
SessionWrap::SessionWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<SessionWrap>(info) {
  Napi::Env env = info.Env();
  guarded(env, [&] {
    if (info.Length() < 1 || !info[0].IsObject() || !info[0].As<Napi::Object>().InstanceOf(ModelWrap::ctor->Value()))
      throw_arg(env, "Session: the first argument must be a Model (use model.createSession())");
    ModelWrap* mw = ModelWrap::Unwrap(info[0].As<Napi::Object>());
    ctx_ = mw->ctx();
    model_ref_ = Napi::Persistent(info[0].As<Napi::Object>());
    if (ctx_->closed) throw make_error(env, "CLOSED", "model is closed");
    if (info.Length() > 1 && info[1].IsExternal()) {
      session_ = *info[1].As<Napi::External<std::shared_ptr<wc::Session>>>().Data();
      init_layout();
      return 0;
    }
    const wc::ModelConfig& c = ctx_->model->config;
    wc::SessionOptions so;
    so.kv_type = ctx_->kv_type;
    if (info.Length() > 1 && !info[1].IsUndefined()) {
      if (!info[1].IsObject()) throw_arg(env, "session options must be an object");
      Napi::Object o = info[1].As<Napi::Object>();
      Napi::Value seed = o.Get("seed");
      if (seed.IsBigInt()) {
        bool lossless;
        so.seed = seed.As<Napi::BigInt>().Uint64Value(&lossless);
        if (!lossless) throw_arg(env, "seed must fit in 64 bits");
      } else if (seed.IsNumber()) {
        double d = seed.As<Napi::Number>().DoubleValue();
        if (!(d >= 0) || d != std::floor(d) || d > 9007199254740991.0)
          throw_arg(env, "seed must be a non-negative integer (or a bigint)");
        so.seed = uint64_t(d);
      } else if (!seed.IsUndefined()) {
        throw_arg(env, "seed must be a number or a bigint");
      }
      Napi::Value las = o.Get("localAttnSize"), sk = o.Get("sinkSize");
      if (!las.IsUndefined() || !sk.IsUndefined()) {
        so.has_window = true;
        so.local_attn_size = opt_int(env, o, "localAttnSize", c.local_attn_size, -1, 1 << 20);
        so.sink_size = opt_int(env, o, "sinkSize", c.sink_size, 0, 1 << 20);
      }
      so.latent_height = opt_int(env, o, "latentHeight", 0, 0, 1 << 14);
      so.latent_width = opt_int(env, o, "latentWidth", 0, 0, 1 << 14);
      Napi::Value kt = o.Get("kvDtype");
      if (!kt.IsUndefined()) so.kv_type = kv_type_arg(env, kt);
      Napi::Value fc = o.Get("foldCommit");
      if (!fc.IsUndefined()) {
        if (!fc.IsBoolean()) throw_arg(env, "foldCommit must be a boolean");
        so.fold_commit = fc.As<Napi::Boolean>().Value();
      }
      so.min_block_frames = opt_int(env, o, "minBlockFrames", 0, 1, c.num_frame_per_block);
    }
    // Admission to the KV pool happens here, under the pool's lock: refused up front.
    so.workspace = ctx_->ws;
    session_ = std::make_shared<wc::Session>(ctx_->model, *ctx_->pool, ctx_->executor->pool(), so);
    init_layout();
    return 0;
  });
}

void SessionWrap::init_layout() {
  const wc::ModelConfig& c = ctx_->model->config;
  frames_ = session_->block_frames();
  min_frames_ = session_->min_block_frames();
  channels_ = c.latent_channels();
  height_ = session_->latent_height();
  width_ = session_->latent_width();
  // floats per action row (the action vector), and of a block's geometry map at this session's latent size
  n_act_ = c.action_row();
  n_geo_ = c.geometry_size(height_, width_);
  per_video_frame_ = c.mg_action();
  steps_ = int(session_->step_list().size());
  timesteps_ = session_->step_list();
  window_ = c.staggered_window;
  forwards_per_call_ = session_->forwards_per_call();
  fold_commit_ = session_->fold_commit();
}

void SessionWrap::check_open(Napi::Env env) const {
  if (closed_) throw make_error(env, "CLOSED", "session is closed");
  if (ctx_->closed) throw make_error(env, "CLOSED", "model is closed");
}

int SessionWrap::frames_arg(Napi::Env env, const Napi::Value& v) const {
  if (v.IsUndefined()) return frames_;
  return checked_frames(env, v.IsNumber() ? v.As<Napi::Number>().DoubleValue() : -1, "frames");
}

int SessionWrap::checked_frames(Napi::Env env, double d, const std::string& what) const {
  if (!(d >= min_frames_ && d <= frames_) || d != std::floor(d))
    throw_arg(env, what + " must be an integer " +
                       (min_frames_ == frames_ ? "equal to " + std::to_string(frames_) +
                                                     (frames_ > 1 ? " (createSession's minBlockFrames allows smaller blocks)" : "")
                                               : "in " + std::to_string(min_frames_) + ".." + std::to_string(frames_)));
  return int(d);
}

std::vector<float> SessionWrap::actions_arg(Napi::Env env, const Napi::Value& v, int frames) const {
  if (v.IsUndefined() || v.IsNull()) return {};
  if (n_act_ == 0) throw_arg(env, "this model has no action input");
  if (!per_video_frame_) return float_array(env, v, "actions", int64_t(frames) * n_act_);
  std::vector<float> a = float_array(env, v, "actions");
  if (a.empty() || a.size() % size_t(n_act_))
    throw_shape(env, "actions have " + std::to_string(a.size()) + " values, not a whole number of rows of " +
                         std::to_string(n_act_) + " (one row per video frame, or one row for all)");
  return a;
}

std::vector<float> SessionWrap::geometry_arg(Napi::Env env, const Napi::Value& v, int frames) const {
  if (v.IsUndefined() || v.IsNull()) return {};
  if (n_geo_ == 0) throw_arg(env, "this model takes no geometry map");
  return float_array(env, v, "geometry", n_geo_ / frames_ * frames);
}

Napi::Value SessionWrap::Layout(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object o = Napi::Object::New(env);
  o.Set("frames", frames_);
  o.Set("minFrames", min_frames_);
  o.Set("channels", channels_);
  o.Set("height", height_);
  o.Set("width", width_);
  o.Set("actionSize", n_act_);
  o.Set("geometrySize", double(n_geo_));
  o.Set("steps", steps_);
  Napi::Array sl = Napi::Array::New(env, timesteps_.size());
  for (size_t i = 0; i < timesteps_.size(); ++i) sl.Set(uint32_t(i), timesteps_[i]);
  o.Set("timesteps", sl);
  o.Set("window", window_);
  o.Set("forwardsPerCall", forwards_per_call_);
  o.Set("foldCommit", fold_commit_);
  return o;
}

Napi::Value SessionWrap::Closed(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), closed_.load()); }

// step({actions?, geometry?, noise?, frames?}) → Promise<{x0, frameStart, frames, channels, height, width, forwards, seconds, times}>
Napi::Value SessionWrap::Step(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guarded(env, [&]() -> Napi::Value {
    check_open(env);
    std::vector<float> actions, geometry;
    std::vector<std::vector<float>> noise;
    bool has_noise = false;
    int frames = frames_;
    if (info.Length() > 0 && !info[0].IsUndefined()) {
      if (!info[0].IsObject()) throw_arg(env, "step options must be an object");
      Napi::Object o = info[0].As<Napi::Object>();
      frames = frames_arg(env, o.Get("frames"));
      actions = actions_arg(env, o.Get("actions"), frames);
      geometry = geometry_arg(env, o.Get("geometry"), frames);
      Napi::Value nz = o.Get("noise");
      if (!nz.IsUndefined()) {
        if (!nz.IsArray()) throw_arg(env, "noise must be an array of Float32Array");
        Napi::Array a = nz.As<Napi::Array>();
        if (int(a.Length()) != steps_)
          throw_shape(env, "noise has " + std::to_string(a.Length()) + " tensors, expected " + std::to_string(steps_) +
                               " (one per denoising step)");
        const int64_t n = int64_t(channels_) * frames * height_ * width_;
        for (uint32_t i = 0; i < a.Length(); ++i)
          noise.push_back(float_array(env, a.Get(i), "noise[" + std::to_string(i) + "]", n));
        has_noise = true;
      }
    }
    auto s = session_;
    return run_async(env, [this](std::function<void()> j) { submit(std::move(j)); },
                     [s, actions = std::move(actions), geometry = std::move(geometry), noise = std::move(noise), has_noise,
                      n_act = n_act_, frames]() {
                       std::vector<const float*> ptrs;
                       for (auto& n : noise) ptrs.push_back(n.data());
                       auto out = std::make_shared<wc::BlockOutput>();
                       s->step(actions.empty() ? nullptr : actions.data(), has_noise ? &ptrs : nullptr, *out,
                               rows_of(actions, n_act), geometry.empty() ? nullptr : geometry.data(), frames);
                       return [out](Napi::Env env) -> Napi::Value { return block_to_js(env, *out); };
                     });
  });
}

// probe(x, t, actions?, geometry?) → Promise<Float32Array v>
Napi::Value SessionWrap::Probe(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guarded(env, [&]() -> Napi::Value {
    check_open(env);
    // the block's size is t's length: one timestep per frame
    std::vector<float> t = float_array(env, info.Length() > 1 ? info[1] : env.Undefined(), "t");
    const int frames = checked_frames(env, double(t.size()), "t's length (one timestep per frame of the block)");
    const int64_t n = int64_t(channels_) * frames * height_ * width_;
    std::vector<float> x = float_array(env, info[0], "x", n);
    std::vector<float> actions = actions_arg(env, info.Length() > 2 ? info[2] : env.Undefined(), frames);
    std::vector<float> geometry = geometry_arg(env, info.Length() > 3 ? info[3] : env.Undefined(), frames);
    auto s = session_;
    const int out_n = int(ctx_->model->config.out_dim) * frames * height_ * width_;
    return run_async(env, [this](std::function<void()> j) { submit(std::move(j)); },
                     [s, x = std::move(x), t = std::move(t), actions = std::move(actions), geometry = std::move(geometry),
                      out_n, n_act = n_act_, frames]() {
                       auto v = std::make_shared<std::vector<float>>(out_n);
                       s->probe(x.data(), t.data(), actions.empty() ? nullptr : actions.data(), v->data(),
                                rows_of(actions, n_act), geometry.empty() ? nullptr : geometry.data(), frames);
                       return [v](Napi::Env env) -> Napi::Value { return to_float32(env, std::move(*v)); };
                     });
  });
}

// commit(x0, actions?, geometry?) → Promise<void>
Napi::Value SessionWrap::Commit(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guarded(env, [&]() -> Napi::Value {
    check_open(env);
    // the block's size is x0's: whole frames of [channels, H, W]
    std::vector<float> x0 = float_array(env, info[0], "x0");
    const int64_t frame = int64_t(channels_) * height_ * width_;
    if (x0.size() % size_t(frame))
      throw_shape(env, "x0 has " + std::to_string(x0.size()) + " values, not whole latent frames of " + std::to_string(frame) +
                           " (" + std::to_string(channels_) + " x " + std::to_string(height_) + " x " + std::to_string(width_) + ")");
    const int frames = checked_frames(env, double(x0.size() / size_t(frame)), "x0's latent frames");
    std::vector<float> actions = actions_arg(env, info.Length() > 1 ? info[1] : env.Undefined(), frames);
    std::vector<float> geometry = geometry_arg(env, info.Length() > 2 ? info[2] : env.Undefined(), frames);
    auto s = session_;
    return run_async(env, [this](std::function<void()> j) { submit(std::move(j)); },
                     [s, x0 = std::move(x0), actions = std::move(actions), geometry = std::move(geometry), n_act = n_act_,
                      frames]() {
                       s->commit(x0.data(), actions.empty() ? nullptr : actions.data(), rows_of(actions, n_act),
                                 geometry.empty() ? nullptr : geometry.data(), frames);
                       return std::function<Napi::Value(Napi::Env)>();
                     });
  });
}

// setPrompt(embedding: Float32Array [rows × text_dim]) — applies from the next block.
Napi::Value SessionWrap::SetPrompt(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guarded(env, [&]() -> Napi::Value {
    check_open(env);
    const wc::ModelConfig& c = ctx_->model->config;
    std::vector<float> emb = float_array(env, info[0], "prompt embedding");
    if (emb.size() % size_t(c.text_dim))
      throw_shape(env, "prompt embedding has " + std::to_string(emb.size()) + " values, not a multiple of text_dim " +
                           std::to_string(c.text_dim));
    const int64_t rows = int64_t(emb.size() / size_t(c.text_dim));
    if (rows > c.text_len)
      throw_shape(env, "prompt embedding has " + std::to_string(rows) + " rows; this model takes at most text_len = " +
                           std::to_string(c.text_len));
    for (float v : emb)
      if (!std::isfinite(v)) throw_arg(env, "prompt embedding contains NaN or infinity");
    auto s = session_;
    return run_async(env, [this](std::function<void()> j) { submit(std::move(j)); },
                     [s, emb = std::move(emb), rows]() {
                       s->set_prompt(emb.data(), int(rows));
                       return std::function<Napi::Value(Napi::Env)>();
                     });
  });
}

// setImageLatent(latent: Float32Array [image_channels × N × H × W]) — i2v models; from the next block.
Napi::Value SessionWrap::SetImageLatent(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guarded(env, [&]() -> Napi::Value {
    check_open(env);
    const wc::ModelConfig& c = ctx_->model->config;
    if (!c.i2v) throw_arg(env, "this model takes no image latent (model_type is not \"i2v\")");
    std::vector<float> lat = float_array(env, info[0], "image latent");
    const size_t per = size_t(c.image_channels) * height_ * width_;
    if (lat.empty() || lat.size() % per)
      throw_shape(env, "image latent has " + std::to_string(lat.size()) + " values, not [" +
                           std::to_string(c.image_channels) + ", N, " + std::to_string(height_) + ", " +
                           std::to_string(width_) + "] with N >= 1");
    const int n = int(lat.size() / per);
    auto s = session_;
    return run_async(env, [this](std::function<void()> j) { submit(std::move(j)); }, [s, lat = std::move(lat), n]() {
      s->set_image_latent(lat.data(), n);
      return std::function<Napi::Value(Napi::Env)>();
    });
  });
}

// setWindow(localAttnSize, sinkSize) — applies from the next block.
Napi::Value SessionWrap::SetWindow(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guarded(env, [&]() -> Napi::Value {
    check_open(env);
    if (info.Length() < 2 || !info[0].IsNumber() || !info[1].IsNumber())
      throw_arg(env, "setWindow(localAttnSize, sinkSize) takes two integers");
    const int L = info[0].As<Napi::Number>().Int32Value(), S = info[1].As<Napi::Number>().Int32Value();
    wc::validate_window(L, S, frames_, "setWindow");
    auto s = session_;
    return run_async(env, [this](std::function<void()> j) { submit(std::move(j)); }, [s, L, S]() {
      s->set_window(L, S);
      return std::function<Napi::Value(Napi::Env)>();
    });
  });
}

// stats() → Promise<{nextFrame, kvFrames, kvBytes, crossBytes, times}>
Napi::Value SessionWrap::Stats(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guarded(env, [&]() -> Napi::Value {
    check_open(env);
    auto s = session_;
    return run_async(env, [this](std::function<void()> j) { submit(std::move(j)); }, [s]() {
      struct Snap {
        int64_t next, frames;
        size_t bytes, cross;
        wc::StageTimes times;
      };
      auto snap = std::make_shared<Snap>(
          Snap{s->next_frame(), s->kv().frames(), s->kv().bytes(),
               s->kv().cross() ? s->kv().cross()->kv.bytes() : 0, s->total_times()});
      return [snap](Napi::Env env) -> Napi::Value {
        Napi::Object o = Napi::Object::New(env);
        o.Set("nextFrame", double(snap->next));
        o.Set("kvFrames", double(snap->frames));
        o.Set("kvBytes", double(snap->bytes));
        o.Set("crossBytes", double(snap->cross));
        Napi::Object t = Napi::Object::New(env);
        for (int i = 0; i < int(wc::Stage::Count); ++i) t.Set(wc::stage_name(wc::Stage(i)), snap->times.sec[i]);
        o.Set("times", t);
        return o;
      };
    });
  });
}

// fork({seed?}) → Promise<Session>: after this session's pending work, a new session
// sharing every committed page and the prompt cache (admitted against the KV budget).
Napi::Value SessionWrap::Fork(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guarded(env, [&]() -> Napi::Value {
    check_open(env);
    bool has_seed = false;
    uint64_t seed = 0;
    if (info.Length() > 0 && info[0].IsObject()) {
      Napi::Value sv = info[0].As<Napi::Object>().Get("seed");
      if (sv.IsBigInt()) {
        bool l;
        seed = sv.As<Napi::BigInt>().Uint64Value(&l);
        has_seed = true;
      } else if (sv.IsNumber()) {
        double d = sv.As<Napi::Number>().DoubleValue();
        if (!(d >= 0) || d != std::floor(d) || d > 9007199254740991.0)
          throw_arg(env, "seed must be a non-negative integer (or a bigint)");
        seed = uint64_t(d);
        has_seed = true;
      } else if (!sv.IsUndefined()) {
        throw_arg(env, "seed must be a number or a bigint");
      }
    }
    auto s = session_;
    auto ctx = ctx_;
    auto model_ref = std::make_shared<Napi::ObjectReference>(Napi::Persistent(model_ref_.Value()));
    return run_async(env, [this](std::function<void()> j) { submit(std::move(j)); },
                     [s, has_seed, seed, model_ref]() {
                       s->flush();  // a commit waiting to be folded joins the shared prefix first
                       auto child = std::make_shared<std::shared_ptr<wc::Session>>(
                           std::make_shared<wc::Session>(*s, has_seed ? seed : s->seed()));
                       return [child, model_ref](Napi::Env env) -> Napi::Value {
                         auto ext = Napi::External<std::shared_ptr<wc::Session>>::New(env, child.get());
                         Napi::Value v = SessionWrap::ctor->New({model_ref->Value(), ext});
                         model_ref->Reset();
                         return v;
                       };
                     });
  });
}

// setSelection({all?, sink?, recent?, frames?, ranges?}) — applies from the next block;
// frames it can no longer reach are freed at once.
Napi::Value SessionWrap::SetSelection(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guarded(env, [&]() -> Napi::Value {
    check_open(env);
    if (info.Length() < 1 || !info[0].IsObject()) throw_arg(env, "setSelection takes an object");
    Napi::Object o = info[0].As<Napi::Object>();
    wc::Selection sel;
    auto nonneg = [&](const char* key) -> int64_t {
      Napi::Value v = o.Get(key);
      if (v.IsUndefined()) return 0;
      double d = v.IsNumber() ? v.As<Napi::Number>().DoubleValue() : -1;
      if (!(d >= 0) || d != std::floor(d) || d > 1e12) throw_arg(env, std::string("selection.") + key + " must be a non-negative integer");
      return int64_t(d);
    };
    Napi::Value all = o.Get("all");
    sel.all = all.IsBoolean() && all.As<Napi::Boolean>().Value();
    sel.sink = nonneg("sink");
    sel.recent = nonneg("recent");
    Napi::Value fr = o.Get("frames");
    if (!fr.IsUndefined()) {
      if (!fr.IsArray()) throw_arg(env, "selection.frames must be an array of frame indices");
      Napi::Array a = fr.As<Napi::Array>();
      for (uint32_t i = 0; i < a.Length(); ++i) {
        Napi::Value e = a.Get(i);
        double d = e.IsNumber() ? e.As<Napi::Number>().DoubleValue() : -1;
        if (!(d >= 0) || d != std::floor(d) || d > 1e12) throw_arg(env, "selection.frames entries must be non-negative integers");
        sel.frames.push_back(int64_t(d));
      }
    }
    Napi::Value rg = o.Get("ranges");
    if (!rg.IsUndefined()) {
      if (!rg.IsArray()) throw_arg(env, "selection.ranges must be an array of [start, end) pairs");
      Napi::Array a = rg.As<Napi::Array>();
      for (uint32_t i = 0; i < a.Length(); ++i) {
        Napi::Value e = a.Get(i);
        if (!e.IsArray() || e.As<Napi::Array>().Length() != 2) throw_arg(env, "selection.ranges entries must be [start, end)");
        double x = e.As<Napi::Array>().Get(0u).ToNumber().DoubleValue(), y = e.As<Napi::Array>().Get(1u).ToNumber().DoubleValue();
        if (!(x >= 0) || !(y >= x) || x != std::floor(x) || y != std::floor(y) || y > 1e12)
          throw_arg(env, "selection.ranges entries must be [start, end) with 0 <= start <= end");
        sel.ranges.emplace_back(int64_t(x), int64_t(y));
      }
    }
    sel.normalise();
    auto s = session_;
    return run_async(env, [this](std::function<void()> j) { submit(std::move(j)); }, [s, sel]() {
      s->set_selection(sel);
      return std::function<Napi::Value(Napi::Env)>();
    });
  });
}

// kvPages() → [{frame, page, refs}] of the committed frames this session holds (read under the pool's lock)
Napi::Value SessionWrap::KvPages(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  check_open(env);
  auto pages = session_->kv().pages();
  Napi::Array out = Napi::Array::New(env, pages.size());
  for (size_t i = 0; i < pages.size(); ++i) {
    Napi::Object o = Napi::Object::New(env);
    o.Set("frame", double(pages[i].frame));
    o.Set("page", double(pages[i].page));
    o.Set("refs", pages[i].refs);
    out.Set(uint32_t(i), o);
  }
  return out;
}

// close() → Promise<void>: pending work finishes, then the session's memory is released.
Napi::Value SessionWrap::Close(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guarded(env, [&]() -> Napi::Value {
    return close_on_engine(env, closed_, session_, [this](std::function<void()> j) { submit(std::move(j)); });
  });
}

}  // namespace wcjs
