#include "addon/model_wrap.h"

#include "addon/common.h"
#include "addon/session_wrap.h"
#include "core/cpu_features.h"
#include "engine/session.h"
#include "kernels/attention.h"

#include <unistd.h>

#include <algorithm>

namespace wcjs {

Napi::FunctionReference* ModelWrap::ctor = nullptr;

void ModelWrap::Init(Napi::Env env, Napi::Object exports) {
  Napi::Function f = DefineClass(env, "Model",
                                 {
                                     InstanceMethod("config", &ModelWrap::Config),
                                     InstanceMethod("info", &ModelWrap::Info),
                                     InstanceMethod("createSession", &ModelWrap::CreateSession),
                                     InstanceMethod("kvStats", &ModelWrap::KvStats),
                                     InstanceMethod("stepBatch", &ModelWrap::StepBatch),
                                     InstanceMethod("commitBatch", &ModelWrap::CommitBatch),
                                     InstanceMethod("close", &ModelWrap::Close),
                                     InstanceAccessor("closed", &ModelWrap::Closed, nullptr),
                                 });
  ctor = new Napi::FunctionReference(Napi::Persistent(f));
  exports.Set("Model", f);
}

namespace {

// Default KV budget: half the machine's memory, at most 8 GiB.
size_t default_kv_budget() {
  const long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGE_SIZE);
  size_t half = pages > 0 && page > 0 ? size_t(pages) * size_t(page) / 2 : (size_t(4) << 30);
  return std::min(half, size_t(8) << 30);
}

}  // namespace

wc::KvType kv_type_arg(Napi::Env env, const Napi::Value& v) {
  if (!v.IsString()) throw_arg(env, "kv dtype must be 'f32', 'bf16' or 'int8'");
  std::string s = v.As<Napi::String>().Utf8Value();
  if (s == "f32") return wc::KvType::F32;
  if (s == "bf16") return wc::KvType::BF16;
  if (s == "int8") return wc::KvType::I8;
  throw_arg(env, "kv dtype must be 'f32', 'bf16' or 'int8', not '" + s + "'");
}

// new Model(dir, {threads?, weights?: 'f32'|'bf16'|'int8', kv?: {budgetBytes?, dtype?}})
ModelWrap::ModelWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<ModelWrap>(info) {
  Napi::Env env = info.Env();
  guarded(env, [&] {
    if (info.Length() < 1 || !info[0].IsString()) throw_arg(env, "Model: the first argument must be a directory path");
    int threads = 0;
    size_t budget = default_kv_budget();
    wc::KvType kv_type = wc::KvType::BF16;  // the documented default (README: KV memory)
    wc::WeightType weights = wc::WeightType::F32;  // storage of the linears' weights
    int block_frames = 0;                          // 0: config.json's num_frame_per_block
    std::vector<double> denoising_steps;          // empty: config.json's denoising_step_list
    if (info.Length() > 1 && info[1].IsObject()) {
      Napi::Value kv = info[1].As<Napi::Object>().Get("kv");
      if (!kv.IsUndefined()) {
        if (!kv.IsObject()) throw_arg(env, "kv options must be an object");
        Napi::Value b = kv.As<Napi::Object>().Get("budgetBytes");
        if (!b.IsUndefined()) {
          double d = b.IsNumber() ? b.As<Napi::Number>().DoubleValue() : -1;
          if (!(d >= 0) || d > 1e15) throw_arg(env, "kv.budgetBytes must be a non-negative number of bytes");
          budget = size_t(d);
        }
        Napi::Value t = kv.As<Napi::Object>().Get("dtype");
        if (!t.IsUndefined()) kv_type = kv_type_arg(env, t);
      }
      Napi::Value wt = info[1].As<Napi::Object>().Get("weights");
      if (!wt.IsUndefined()) {
        std::string ws = wt.IsString() ? wt.As<Napi::String>().Utf8Value() : "";
        if (ws == "f32") weights = wc::WeightType::F32;
        else if (ws == "bf16") weights = wc::WeightType::BF16;
        else if (ws == "int8") weights = wc::WeightType::I8;
        else throw_arg(env, "weights must be 'f32', 'bf16' or 'int8'");
      }
      Napi::Value bf = info[1].As<Napi::Object>().Get("blockFrames");
      if (!bf.IsUndefined()) {
        double d = bf.IsNumber() ? bf.As<Napi::Number>().DoubleValue() : -1;
        if (!(d >= 1 && d <= 64) || d != double(int(d))) throw_arg(env, "blockFrames must be an integer in [1, 64]");
        block_frames = int(d);
      }
      Napi::Value ds = info[1].As<Napi::Object>().Get("denoisingSteps");
      if (!ds.IsUndefined()) {
        if (!ds.IsArray()) throw_arg(env, "denoisingSteps must be an array of timesteps");
        Napi::Array a = ds.As<Napi::Array>();
        if (a.Length() == 0 || a.Length() > 64) throw_arg(env, "denoisingSteps must have 1 to 64 timesteps");
        for (uint32_t i = 0; i < a.Length(); ++i) {
          Napi::Value e = a.Get(i);
          if (!e.IsNumber()) throw_arg(env, "denoisingSteps entries must be numbers");
          denoising_steps.push_back(e.As<Napi::Number>().DoubleValue());
        }
      }
      Napi::Value t = info[1].As<Napi::Object>().Get("threads");
      if (!t.IsUndefined()) {
        if (!t.IsNumber()) throw_arg(env, "threads must be a number");
        double d = t.As<Napi::Number>().DoubleValue();
        if (!(d >= 1 && d <= 256) || d != double(int(d))) throw_arg(env, "threads must be an integer in [1, 256]");
        threads = int(d);
      }
    }
    auto ctx = std::make_shared<ModelCtx>();
    wc::LoadOptions lo;
    lo.isa = wc::active_isa();
    lo.weights = weights;
    lo.config.block_frames = block_frames;
    lo.config.denoising_steps = std::move(denoising_steps);
    ctx->model = wc::load_wan_model(info[0].As<Napi::String>().Utf8Value(), lo);
    ctx->pool = std::make_unique<wc::KvPool>(budget);
    ctx->kv_type = kv_type;
    ctx->executor = std::make_shared<wc::Executor>(threads);
    ctx_ = ctx;
    return 0;
  });
}

Napi::Value ModelWrap::Closed(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), ctx_->closed.load());
}

Napi::Value ModelWrap::Config(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const wc::ModelConfig& c = ctx_->model->config;
  Napi::Object o = Napi::Object::New(env);
  auto num = [&](const char* k, double v) { o.Set(k, Napi::Number::New(env, v)); };
  auto num_in = [&](Napi::Object& t, const char* k, double v) { t.Set(k, Napi::Number::New(env, v)); };
  o.Set("model_type", c.model_type);
  Napi::Array ps = Napi::Array::New(env, 3);
  ps.Set(0u, c.patch_t); ps.Set(1u, c.patch_h); ps.Set(2u, c.patch_w);
  o.Set("patch_size", ps);
  num("text_len", c.text_len); num("in_dim", c.in_dim); num("dim", c.dim); num("ffn_dim", c.ffn_dim);
  num("freq_dim", c.freq_dim); num("text_dim", c.text_dim); num("out_dim", c.out_dim);
  num("num_heads", c.num_heads); num("num_layers", c.num_layers);
  o.Set("qk_norm", c.qk_norm); o.Set("cross_attn_norm", c.cross_attn_norm); num("eps", c.eps);
  num("num_frame_per_block", c.num_frame_per_block); num("local_attn_size", c.local_attn_size);
  num("sink_size", c.sink_size);
  Napi::Array sl = Napi::Array::New(env, c.denoising_step_list.size());
  for (size_t i = 0; i < c.denoising_step_list.size(); ++i) sl.Set(uint32_t(i), c.denoising_step_list[i]);
  o.Set("denoising_step_list", sl);
  o.Set("warp_denoising_step", c.warp_denoising_step);
  num("timestep_shift", c.timestep_shift); num("num_train_timesteps", c.num_train_timesteps);
  num("latent_channels", c.latent_channels());
  if (c.i2v) {
    Napi::Object il = Napi::Object::New(env);
    il.Set("channels", c.image_channels);
    il.Set("mask_channels", c.mask_channels);
    o.Set("image_latent", il);
  } else {
    o.Set("image_latent", env.Null());
  }
  num("context_noise", c.context_noise); num("latent_fps", c.latent_fps); num("latent_height", c.latent_height); num("latent_width", c.latent_width);
  {
    Napi::Object sch = Napi::Object::New(env);
    sch.Set("type", c.staggered_window > 0 ? "staggered" : "block");
    if (c.staggered_window > 0) num_in(sch, "window", c.staggered_window);
    o.Set("schedule", sch);
  }
  if (c.has_action) {
    Napi::Object a = Napi::Object::New(env);
    a.Set("mode", c.action.mode);
    Napi::Array keys = Napi::Array::New(env, c.action.keys.size());
    for (size_t i = 0; i < c.action.keys.size(); ++i) keys.Set(uint32_t(i), c.action.keys[i]);
    a.Set("keys", keys);
    Napi::Array mouse = Napi::Array::New(env, c.action.mouse.size());
    for (size_t i = 0; i < c.action.mouse.size(); ++i) {
      Napi::Object ax = Napi::Object::New(env);
      ax.Set("name", c.action.mouse[i].name);
      ax.Set("min", c.action.mouse[i].min);
      ax.Set("max", c.action.mouse[i].max);
      mouse.Set(uint32_t(i), ax);
    }
    a.Set("mouse", mouse);
    if (c.action.pose.enabled) {
      Napi::Object ps = Napi::Object::New(env);
      ps.Set("extent", c.action.pose.extent);
      ps.Set("height", c.action.pose.height);
      Napi::Array fr = Napi::Array::New(env, c.action.pose.frequencies.size());
      for (size_t i = 0; i < c.action.pose.frequencies.size(); ++i) fr.Set(uint32_t(i), c.action.pose.frequencies[i]);
      ps.Set("frequencies", fr);
      a.Set("pose", ps);
    }
    if (c.action.geometry.channels > 0) {
      Napi::Object gs = Napi::Object::New(env);
      gs.Set("channels", c.action.geometry.channels);
      gs.Set("samples", c.action.geometry.samples);
      gs.Set("near", c.action.geometry.near);
      a.Set("geometry", gs);
    }
    if (c.mg_action()) {
      // per-video-frame actions: 1 + r(F-1) rows for the first block, rF after
      a.Set("video_frames_per_latent", c.mg.vae_time_compression_ratio);
      a.Set("window_video_frames", c.mg.pad_t());
      Napi::Array bl = Napi::Array::New(env, c.mg.blocks.size());
      for (size_t i = 0; i < c.mg.blocks.size(); ++i) bl.Set(uint32_t(i), c.mg.blocks[i]);
      a.Set("blocks", bl);
      a.Set("local_attn_size", c.mg.local_attn_size);
    }
    o.Set("action", a);
  } else {
    o.Set("action", env.Null());
  }
  o.Set("decoder", env.Global().Get("JSON").As<Napi::Object>().Get("parse").As<Napi::Function>().Call({Napi::String::New(env, c.decoder)}));
  return o;
}

Napi::Value ModelWrap::Info(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object o = Napi::Object::New(env);
  o.Set("dir", ctx_->model->dir);
  o.Set("isa", wc::isa_name(ctx_->model->head_head.isa));
  o.Set("weights", wc::weight_type_name(ctx_->model->weights));
  o.Set("gemmPath", wc::gemm_path_name(ctx_->model->head_head.path));
  o.Set("cpuFeatures", wc::cpu_features_string());
  o.Set("threads", ctx_->executor->threads());
  o.Set("weightBytes", double(ctx_->model->weight_bytes));
  // Activation memory: the engine's one forward workspace (as of its last forward) and the
  // attention kernels' per-thread scratch (fixed size, one per compute thread).
  o.Set("workspaceBytes", double(ctx_->ws->reported_bytes()));
  o.Set("attentionScratchBytes", double(wc::attention_scratch_bytes() * size_t(ctx_->executor->threads())));
  return o;
}

Napi::Value ModelWrap::CreateSession(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (ctx_->closed) throw make_error(env, "CLOSED", "model is closed");
  Napi::Value opts = info.Length() > 0 ? info[0] : env.Undefined();
  return SessionWrap::ctor->New({Value(), opts});
}

// kvStats() → pool statistics (exact, read under the pool's lock)
Napi::Value ModelWrap::KvStats(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const wc::ModelConfig& c = ctx_->model->config;
  wc::KvPoolStats s = ctx_->pool->stats(wc::page_geometry(c, c.latent_height, c.latent_width, ctx_->kv_type));
  Napi::Object o = Napi::Object::New(env);
  o.Set("budgetBytes", double(s.budget));
  o.Set("usedBytes", double(s.used));
  o.Set("reservedBytes", double(s.reserved));
  o.Set("availableBytes", double(s.available));
  o.Set("sessions", s.sessions);
  Napi::Object pages = Napi::Object::New(env);
  pages.Set("used", double(s.pages_used));
  pages.Set("shared", double(s.pages_shared));
  pages.Set("free", double(s.pages_free));
  pages.Set("total", double(s.pages_used + s.pages_free));
  pages.Set("cached", double(s.pages_cached));
  pages.Set("refs", double(s.page_refs));
  pages.Set("pageBytes", double(s.page_bytes));
  o.Set("pages", pages);
  Napi::Object by = Napi::Object::New(env);
  by.Set("f32", double(s.bytes_f32));
  by.Set("bf16", double(s.bytes_bf16));
  by.Set("int8", double(s.bytes_i8));
  o.Set("bytesByDtype", by);
  o.Set("crossCaches", double(s.cross_caches));
  o.Set("crossBytes", double(s.cross_bytes));
  o.Set("payloadBytes", double(s.payload));
  o.Set("wasteBytes", double(s.waste));
  o.Set("wastePercent", s.payload + s.waste ? 100.0 * double(s.waste) / double(s.payload + s.waste) : 0.0);
  return o;
}

// A failure caught on the engine thread, as the JS error the SDK maps to its classes.
static Napi::Value error_to_js(Napi::Env env, const std::exception_ptr& err) {
  std::string code = "INTERNAL", msg = "unknown error";
  try {
    std::rethrow_exception(err);
  } catch (const wc::Error& e) {
    code = wc::error_kind_name(e.kind());
    msg = e.what();
  } catch (const std::bad_alloc&) {
    code = "OUT_OF_MEMORY";
    msg = "out of memory";
  } catch (const std::exception& e) {
    msg = e.what();
  }
  return make_error(env, code, msg).Value();
}

// Item i of a batch call (`call`): an open session of this model, or a typed JS error.
SessionWrap* ModelWrap::batch_session(Napi::Env env, const Napi::Value& v, const char* call, uint32_t i) const {
  if (!v.IsObject() || !v.As<Napi::Object>().InstanceOf(SessionWrap::ctor->Value()))
    throw_arg(env, std::string(call) + ": item " + std::to_string(i) + " has no session");
  SessionWrap* sw = SessionWrap::Unwrap(v.As<Napi::Object>());
  if (sw->is_closed()) throw make_error(env, "CLOSED", std::string(call) + ": session " + std::to_string(i) + " is closed");
  if (&sw->session()->kv().pool() != ctx_->pool.get())
    throw_arg(env, std::string(call) + ": session " + std::to_string(i) + " belongs to another model");
  return sw;
}

// stepBatch([{session, actions?, geometry?, noise?, frames?}]) → Promise<[{block} | {error: {code, message}}]>:
// one block for each session, run as batched forwards (stacked tokens in the GEMMs).
Napi::Value ModelWrap::StepBatch(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guarded(env, [&]() -> Napi::Value {
    if (ctx_->closed) throw make_error(env, "CLOSED", "model is closed");
    if (info.Length() < 1 || !info[0].IsArray()) throw_arg(env, "stepBatch takes an array of {session, actions?, noise?}");
    Napi::Array arr = info[0].As<Napi::Array>();
    struct Item {
      std::shared_ptr<wc::Session> s;
      std::vector<float> actions, geometry;
      std::vector<std::vector<float>> noise;
      std::vector<const float*> noise_ptrs;
      bool has_noise = false;
      int frames = 0;
    };
    auto items = std::make_shared<std::vector<Item>>(arr.Length());
    for (uint32_t i = 0; i < arr.Length(); ++i) {
      Napi::Value v = arr.Get(i);
      if (!v.IsObject()) throw_arg(env, "stepBatch: item " + std::to_string(i) + " is not an object");
      Napi::Object o = v.As<Napi::Object>();
      SessionWrap* sw = batch_session(env, o.Get("session"), "stepBatch", i);
      Item& it = (*items)[i];
      it.s = sw->session();
      it.frames = sw->frames_arg(env, o.Get("frames"));
      Napi::Value a = o.Get("actions");
      if (!a.IsUndefined() && !a.IsNull()) {
        if (sw->action_size() == 0) throw_arg(env, "this model has no action input");
        it.actions = sw->actions_arg(env, a, it.frames);
      }
      it.geometry = sw->geometry_arg(env, o.Get("geometry"), it.frames);
      Napi::Value nz = o.Get("noise");
      if (!nz.IsUndefined()) {
        if (!nz.IsArray() || int(nz.As<Napi::Array>().Length()) != sw->steps())
          throw_shape(env, "stepBatch: noise must be an array of " + std::to_string(sw->steps()) + " Float32Array");
        for (uint32_t k = 0; k < nz.As<Napi::Array>().Length(); ++k)
          it.noise.push_back(float_array(env, nz.As<Napi::Array>().Get(k), "noise", sw->numel() / sw->frames() * it.frames));
        it.has_noise = true;
      }
    }
    auto ctx = ctx_;
    return run_async(env, [ctx](std::function<void()> j) { ctx->executor->submit(std::move(j)); }, [items, ctx]() {
      const int n = int(items->size());
      std::vector<wc::Session*> ss;
      std::vector<wc::StepRequest> reqs(n);
      for (int k = 0; k < n; ++k) {
        Item& it = (*items)[size_t(k)];
        ss.push_back(it.s.get());
        for (auto& v : it.noise) it.noise_ptrs.push_back(v.data());
        reqs[size_t(k)].actions = it.actions.empty() ? nullptr : it.actions.data();
        reqs[size_t(k)].geometry = it.geometry.empty() ? nullptr : it.geometry.data();
        const int64_t n_act = it.s->model().config.action_row();
        if (!it.actions.empty() && n_act) reqs[size_t(k)].action_rows = int(it.actions.size() / size_t(n_act));
        reqs[size_t(k)].noise = it.has_noise ? &it.noise_ptrs : nullptr;
        reqs[size_t(k)].frames = it.frames;
      }
      auto outs = std::make_shared<std::vector<wc::BlockOutput>>(size_t(n));
      auto errs = std::make_shared<std::vector<std::exception_ptr>>(size_t(n));
      wc::step_batch(ss.data(), reqs.data(), n, outs->data(), errs->data(), *ctx->ws, ctx->executor->pool());
      return [outs, errs](Napi::Env env) -> Napi::Value {
        Napi::Array res = Napi::Array::New(env, outs->size());
        for (size_t k = 0; k < outs->size(); ++k) {
          Napi::Object r = Napi::Object::New(env);
          if ((*errs)[k]) {
            r.Set("error", error_to_js(env, (*errs)[k]));
          } else {
            r.Set("block", block_to_js(env, (*outs)[k]));
          }
          res.Set(uint32_t(k), r);
        }
        return res;
      };
    });
  });
}

// commitBatch([session, ...]) → Promise<{committed, errors: [null | Error]}>: the commits
// foldCommit sessions hold back, run now as one batched forward (wc::commit_batch).
Napi::Value ModelWrap::CommitBatch(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guarded(env, [&]() -> Napi::Value {
    if (ctx_->closed) throw make_error(env, "CLOSED", "model is closed");
    if (info.Length() < 1 || !info[0].IsArray()) throw_arg(env, "commitBatch takes an array of sessions");
    Napi::Array arr = info[0].As<Napi::Array>();
    auto sessions = std::make_shared<std::vector<std::shared_ptr<wc::Session>>>();
    for (uint32_t i = 0; i < arr.Length(); ++i) sessions->push_back(batch_session(env, arr.Get(i), "commitBatch", i)->session());
    auto ctx = ctx_;
    return run_async(env, [ctx](std::function<void()> j) { ctx->executor->submit(std::move(j)); }, [sessions, ctx]() {
      const int n = int(sessions->size());
      std::vector<wc::Session*> ss;
      for (auto& s : *sessions) ss.push_back(s.get());
      auto errs = std::make_shared<std::vector<std::exception_ptr>>(size_t(n));
      const int committed = wc::commit_batch(ss.data(), n, errs->data(), *ctx->ws, ctx->executor->pool());
      return [errs, committed](Napi::Env env) -> Napi::Value {
        Napi::Object r = Napi::Object::New(env);
        Napi::Array list = Napi::Array::New(env, errs->size());
        for (size_t k = 0; k < errs->size(); ++k) list.Set(uint32_t(k), (*errs)[k] ? error_to_js(env, (*errs)[k]) : env.Null());
        r.Set("committed", double(committed));
        r.Set("errors", list);
        return r;
      };
    });
  });
}

Napi::Value ModelWrap::Close(const Napi::CallbackInfo& info) {
  ctx_->closed = true;
  return info.Env().Undefined();
}

}  // namespace wcjs
