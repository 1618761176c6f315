#include "addon/decoder_wrap.h"

#include <chrono>
#include <cmath>
#include <string>
#include <vector>

#include "addon/common.h"
#include "addon/model_wrap.h"
#include "core/cpu_features.h"

namespace wcjs {

Napi::FunctionReference* DecoderWrap::ctor = nullptr;
Napi::FunctionReference* DecoderStreamWrap::ctor = nullptr;

namespace {

int int_arg(Napi::Env env, const Napi::Value& v, const std::string& name, double lo, double hi) {
  if (!v.IsNumber()) throw_arg(env, name + " must be a number");
  const double d = v.As<Napi::Number>().DoubleValue();
  if (!(d >= lo && d <= hi) || d != std::floor(d))
    throw_arg(env, name + " must be an integer in [" + std::to_string(int64_t(lo)) + ", " + std::to_string(int64_t(hi)) + "]");
  return int(d);
}

}  // namespace

Napi::Object decoder_config_object(Napi::Env env, const wc::TaehvConfig& c) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("type", "taehv");
  o.Set("latent_channels", c.latent_channels);
  o.Set("image_channels", c.image_channels);
  o.Set("patch_size", c.patch_size);
  Napi::Array nf = Napi::Array::New(env, 4);
  for (uint32_t i = 0; i < 4; ++i) nf.Set(i, c.n_f[i]);
  o.Set("n_f", nf);
  Napi::Array tu = Napi::Array::New(env, 3), su = Napi::Array::New(env, 3);
  for (uint32_t i = 0; i < 3; ++i) {
    tu.Set(i, c.time_upscale[i]);
    su.Set(i, c.space_upscale[i]);
  }
  o.Set("decoder_time_upscale", tu);
  o.Set("decoder_space_upscale", su);
  o.Set("trim_first_frames", c.trim_first_frames);
  o.Set("t_upscale", c.t_upscale());
  o.Set("frames_to_trim", c.frames_to_trim());
  o.Set("space_scale", c.space_scale());
  if (c.geometry.channels) {
    Napi::Object g = Napi::Object::New(env);
    g.Set("channels", c.geometry.channels);
    g.Set("scale", c.geometry.scale);
    g.Set("samples", c.geometry.samples);
    g.Set("near", c.geometry.near);
    o.Set("geometry", g);
  }
  return o;
}

// ---- Decoder ------------------------------------------------------------------------

void DecoderWrap::Init(Napi::Env env, Napi::Object exports) {
  Napi::Function f = DefineClass(env, "Decoder",
                                 {
                                     InstanceMethod("config", &DecoderWrap::Config),
                                     InstanceMethod("info", &DecoderWrap::Info),
                                     InstanceMethod("createStream", &DecoderWrap::CreateStream),
                                     InstanceMethod("close", &DecoderWrap::Close),
                                     InstanceAccessor("closed", &DecoderWrap::Closed, nullptr),
                                 });
  ctor = new Napi::FunctionReference(Napi::Persistent(f));
  exports.Set("Decoder", f);
  DecoderStreamWrap::Init(env, exports);
}

// new Decoder(dir, {threads?, engine?, precision?}): engine = a native Model whose engine
// thread and compute threads the decoder shares (instead of threads of its own); precision
// 'f32' (default) or 'bf16' (bf16 weights and activations, f32 sums; AVX512_BF16 only).
DecoderWrap::DecoderWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<DecoderWrap>(info) {
  Napi::Env env = info.Env();
  guarded(env, [&] {
    if (info.Length() < 1 || !info[0].IsString()) throw_arg(env, "Decoder: the first argument must be a directory path");
    int threads = 0;
    wc::ConvPrecision precision = wc::ConvPrecision::F32;
    std::shared_ptr<wc::Executor> shared;
    if (info.Length() > 1 && !info[1].IsUndefined()) {
      if (!info[1].IsObject()) throw_arg(env, "decoder options must be an object");
      Napi::Value t = info[1].As<Napi::Object>().Get("threads");
      if (!t.IsUndefined()) threads = int_arg(env, t, "threads", 1, 256);
      Napi::Value pr = info[1].As<Napi::Object>().Get("precision");
      if (!pr.IsUndefined()) {
        const std::string ps = pr.IsString() ? pr.As<Napi::String>().Utf8Value() : std::string();
        if (ps == "bf16") precision = wc::ConvPrecision::Bf16;
        else if (ps != "f32") throw_arg(env, "decoder option precision must be 'f32' or 'bf16'");
      }
      Napi::Value e = info[1].As<Napi::Object>().Get("engine");
      if (!e.IsUndefined()) {
        if (!e.IsObject() || !e.As<Napi::Object>().InstanceOf(ModelWrap::ctor->Value()))
          throw_arg(env, "decoder option engine must be a loaded model");
        if (!t.IsUndefined()) throw_arg(env, "decoder options: threads or engine, not both (an engine brings its threads)");
        std::shared_ptr<ModelCtx> mc = ModelWrap::Unwrap(e.As<Napi::Object>())->ctx();
        if (mc->closed) throw make_error(env, "CLOSED", "decoder option engine: the model is closed");
        shared = mc->executor;
      }
    }
    auto ctx = std::make_shared<DecoderCtx>();
    ctx->weights = wc::load_taehv(info[0].As<Napi::String>().Utf8Value(), wc::active_isa(), precision);
    ctx->ws = std::make_shared<wc::TaehvWorkspace>();
    ctx->executor = shared ? shared : std::make_shared<wc::Executor>(threads);
    ctx_ = ctx;
    return 0;
  });
}

Napi::Value DecoderWrap::Closed(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), ctx_->closed.load());
}

Napi::Value DecoderWrap::Config(const Napi::CallbackInfo& info) {
  return decoder_config_object(info.Env(), ctx_->weights->config);
}

Napi::Value DecoderWrap::Info(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object o = Napi::Object::New(env);
  o.Set("dir", ctx_->weights->dir);
  o.Set("isa", wc::isa_name(ctx_->weights->conv1.isa));
  o.Set("precision", ctx_->weights->conv1.precision == wc::ConvPrecision::Bf16 ? "bf16" : "f32");
  o.Set("threads", ctx_->executor->threads());
  o.Set("weightBytes", double(ctx_->weights->weight_bytes));
  Napi::Object convs = Napi::Object::New(env);
  convs.Set("direct", ctx_->weights->direct_convs);
  convs.Set("winograd", ctx_->weights->winograd_convs);
  o.Set("convolutions", convs);
  const wc::TaehvGeometry& g = ctx_->weights->config.geometry;
  if (g.channels) {
    Napi::Object go = Napi::Object::New(env);
    go.Set("channels", g.channels);
    go.Set("scale", g.scale);
    go.Set("samples", g.samples);
    go.Set("near", g.near);
    o.Set("geometry", go);
  }
  return o;
}

Napi::Value DecoderWrap::CreateStream(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (ctx_->closed) throw make_error(env, "CLOSED", "decoder is closed");
  return DecoderStreamWrap::ctor->New({Value()});
}

Napi::Value DecoderWrap::Close(const Napi::CallbackInfo& info) {
  ctx_->closed = true;
  return info.Env().Undefined();
}

// ---- DecoderStream ------------------------------------------------------------------

void DecoderStreamWrap::Init(Napi::Env env, Napi::Object exports) {
  Napi::Function f = DefineClass(env, "DecoderStream",
                                 {
                                     InstanceMethod("decode", &DecoderStreamWrap::Decode),
                                     InstanceMethod("decodeF32", &DecoderStreamWrap::DecodeF32),
                                     InstanceMethod("reset", &DecoderStreamWrap::Reset),
                                     InstanceMethod("fork", &DecoderStreamWrap::Fork),
                                     InstanceMethod("stats", &DecoderStreamWrap::Stats),
                                     InstanceMethod("close", &DecoderStreamWrap::Close),
                                     InstanceAccessor("closed", &DecoderStreamWrap::Closed, nullptr),
                                 });
  ctor = new Napi::FunctionReference(Napi::Persistent(f));
  exports.Set("DecoderStream", f);
}

// new DecoderStream(decoder)
DecoderStreamWrap::DecoderStreamWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<DecoderStreamWrap>(info) {
  Napi::Env env = info.Env();
  guarded(env, [&] {
    if (info.Length() < 1 || !info[0].IsObject() || !info[0].As<Napi::Object>().InstanceOf(DecoderWrap::ctor->Value()))
      throw_arg(env, "DecoderStream: the argument must be a Decoder (use decoder.createStream())");
    ctx_ = DecoderWrap::Unwrap(info[0].As<Napi::Object>())->ctx();
    if (ctx_->closed) throw make_error(env, "CLOSED", "decoder is closed");
    decoder_ref_ = Napi::Persistent(info[0].As<Napi::Object>());
    if (info.Length() > 1 && info[1].IsExternal())  // fork(): a copy of another stream's state
      stream_ = *info[1].As<Napi::External<std::shared_ptr<wc::TaehvStream>>>().Data();
    else
      stream_ = std::make_shared<wc::TaehvStream>(ctx_->weights);
    return 0;
  });
}

void DecoderStreamWrap::check_open(Napi::Env env) const {
  if (closed_) throw make_error(env, "CLOSED", "decoder stream is closed");
  if (ctx_->closed) throw make_error(env, "CLOSED", "decoder is closed");
}

Napi::Value DecoderStreamWrap::Closed(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), closed_.load());
}

Napi::Value DecoderStreamWrap::Decode(const Napi::CallbackInfo& info) { return DecodeImpl(info, false); }
Napi::Value DecoderStreamWrap::DecodeF32(const Napi::CallbackInfo& info) { return DecodeImpl(info, true); }

// decode(latents (C, F, H, W), frames, height, width, {geometry?}) → Promise<{frames: Buffer[]
// (RGB uint8, HWC), channels, width, height, seconds, latentFrames, framesOut}>; decodeF32
// gives Float32Array (C, H, W) frames instead. geometry: a geometry decoder's maps, one per
// frame (F x G x Hm x Wm, each frame CHW), required there and refused elsewhere (ARGUMENT,
// before anything is queued).
Napi::Value DecoderStreamWrap::DecodeImpl(const Napi::CallbackInfo& info, bool f32) {
  Napi::Env env = info.Env();
  return guarded(env, [&]() -> Napi::Value {
    check_open(env);
    if (info.Length() < 4) throw_arg(env, "decode(latents, frames, height, width)");
    const wc::TaehvConfig& c = ctx_->weights->config;
    const int F = int_arg(env, info[1], "frames", 1, 1 << 16);
    const int H = int_arg(env, info[2], "height", 1, 4096);
    const int W = int_arg(env, info[3], "width", 1, 4096);
    std::vector<float> lat = float_array(env, info[0], "latents", int64_t(c.latent_channels) * F * H * W);
    Napi::Value gv = env.Undefined();
    if (info.Length() > 4 && !info[4].IsUndefined()) {
      if (!info[4].IsObject()) throw_arg(env, "decode options must be an object {geometry?}");
      gv = info[4].As<Napi::Object>().Get("geometry");
    }
    std::vector<float> geo;
    const int G = c.geometry.channels;
    if (!G && !gv.IsUndefined()) throw_arg(env, "decode: this decoder takes no geometry map");
    if (G) {
      if (gv.IsUndefined())
        throw_arg(env, "decode: this decoder takes a geometry map per frame (options.geometry, F x " + std::to_string(G) +
                           " x Hm x Wm)");
      int hm = 0, wm = 0;
      wc::taehv_geometry_size(c, H, W, hm, wm);
      const int64_t want = int64_t(F) * G * hm * wm;
      if (!gv.IsTypedArray() || gv.As<Napi::TypedArray>().TypedArrayType() != napi_float32_array)
        throw_arg(env, "decode: options.geometry must be a Float32Array");
      const int64_t got = int64_t(gv.As<Napi::Float32Array>().ElementLength());
      if (got != want)
        throw_arg(env, "decode: options.geometry has " + std::to_string(got) + " values, expected " + std::to_string(want) +
                           " (" + std::to_string(F) + " frames x " + std::to_string(G) + " x " + std::to_string(hm) +
                           " x " + std::to_string(wm) + ")");
      geo = float_array(env, gv, "options.geometry", want);
    }
    struct Out {
      std::vector<std::vector<uint8_t>*> u8;
      std::vector<std::vector<float>*> f;
      int channels = 0, width = 0, height = 0;
      double seconds = 0;
      int64_t latent_frames = 0, frames_out = 0;
      ~Out() {
        for (auto* p : u8) delete p;
        for (auto* p : f) delete p;
      }
    };
    // Jobs capture the stream, the workspace and the pool, never ctx_ (whose executor must
    // not be destroyed from its own thread); both outlive the queued jobs.
    auto s = stream_;
    std::shared_ptr<wc::TaehvWorkspace> ws = ctx_->ws;
    wc::ThreadPool* pool = ctx_->executor->pool();
    return run_async(env, [this](std::function<void()> j) { submit(std::move(j)); },
                     [s, ws, pool, lat = std::move(lat), geo = std::move(geo), G, F, H, W, f32]() {
                       auto out = std::make_shared<Out>();
                       const auto t0 = std::chrono::steady_clock::now();
                       s->decode(lat.data(), F, H, W, G ? geo.data() : nullptr, *ws, pool,
                                 [&](const float* chw, int C, int h, int w) {
                                   const size_t n = size_t(C) * h * w;
                                   if (f32) {
                                     out->f.push_back(new std::vector<float>(chw, chw + n));
                                   } else {
                                     auto* b = new std::vector<uint8_t>(n);
                                     out->u8.push_back(b);
                                     wc::frame_to_u8(chw, C, h, w, b->data());
                                   }
                                   out->channels = C;
                                   out->height = h;
                                   out->width = w;
                                 });
                       out->seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
                       out->latent_frames = s->latent_frames();
                       out->frames_out = s->frames_out();
                       const wc::TaehvConfig& cc = s->config();
                       if (!out->channels) {  // every frame was a trimmed start-up frame
                         out->channels = cc.image_channels;
                         out->height = H * cc.space_scale();
                         out->width = W * cc.space_scale();
                       }
                       return [out](Napi::Env env) -> Napi::Value {
                         Napi::Object o = Napi::Object::New(env);
                         const size_t n = out->u8.size() + out->f.size();
                         Napi::Array frames = Napi::Array::New(env, n);
                         for (size_t i = 0; i < out->u8.size(); ++i) {
                           std::vector<uint8_t>* b = out->u8[i];
                           out->u8[i] = nullptr;
                           frames.Set(uint32_t(i), Napi::Buffer<uint8_t>::New(
                                                       env, b->data(), b->size(),
                                                       [](Napi::Env, uint8_t*, std::vector<uint8_t>* p) { delete p; }, b));
                         }
                         for (size_t i = 0; i < out->f.size(); ++i) {
                           std::vector<float>* v = out->f[i];
                           out->f[i] = nullptr;
                           frames.Set(uint32_t(i), to_float32(env, std::move(*v)));
                           delete v;
                         }
                         o.Set("frames", frames);
                         o.Set("channels", out->channels);
                         o.Set("height", out->height);
                         o.Set("width", out->width);
                         o.Set("seconds", out->seconds);
                         o.Set("latentFrames", double(out->latent_frames));
                         o.Set("framesOut", double(out->frames_out));
                         return o;
                       };
                     });
  });
}

// reset() → Promise<void>: after pending decodes, the stream starts over (no MemBlock
// state, the start-up frames trimmed again, any latent size).
// fork() → Promise<DecoderStream>: after the pending decodes, a new stream continuing from
// this one's temporal state (a forked session's video goes on without a seam).
Napi::Value DecoderStreamWrap::Fork(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guarded(env, [&]() -> Napi::Value {
    check_open(env);
    auto s = stream_;
    auto dec = std::make_shared<Napi::ObjectReference>(Napi::Persistent(decoder_ref_.Value()));
    return run_async(env, [this](std::function<void()> j) { submit(std::move(j)); }, [s, dec]() {
      auto copy = std::make_shared<std::shared_ptr<wc::TaehvStream>>(std::make_shared<wc::TaehvStream>(*s));
      return [copy, dec](Napi::Env env) -> Napi::Value {
        auto ext = Napi::External<std::shared_ptr<wc::TaehvStream>>::New(env, copy.get());
        Napi::Value v = DecoderStreamWrap::ctor->New({dec->Value(), ext});
        dec->Reset();
        return v;
      };
    });
  });
}

Napi::Value DecoderStreamWrap::Reset(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guarded(env, [&]() -> Napi::Value {
    check_open(env);
    auto s = stream_;
    return run_async(env, [this](std::function<void()> j) { submit(std::move(j)); }, [s]() {
      s->reset();
      return std::function<Napi::Value(Napi::Env)>();
    });
  });
}

// stats() → Promise<{latentFrames, framesOut, stateBytes, workspaceBytes, latentHeight, latentWidth}>
Napi::Value DecoderStreamWrap::Stats(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guarded(env, [&]() -> Napi::Value {
    check_open(env);
    auto s = stream_;
    std::shared_ptr<wc::TaehvWorkspace> ws = ctx_->ws;
    return run_async(env, [this](std::function<void()> j) { submit(std::move(j)); }, [s, ws]() {
      struct Snap {
        int64_t latent, out;
        size_t state, work;
        int h, w;
      };
      auto snap = std::make_shared<Snap>(
          Snap{s->latent_frames(), s->frames_out(), s->state_bytes(), ws->bytes(), s->latent_height(), s->latent_width()});
      return [snap](Napi::Env env) -> Napi::Value {
        Napi::Object o = Napi::Object::New(env);
        o.Set("latentFrames", double(snap->latent));
        o.Set("framesOut", double(snap->out));
        o.Set("stateBytes", double(snap->state));
        o.Set("workspaceBytes", double(snap->work));
        o.Set("latentHeight", snap->h);
        o.Set("latentWidth", snap->w);
        return o;
      };
    });
  });
}

// close() → Promise<void>: pending decodes finish, then the stream's state is released.
Napi::Value DecoderStreamWrap::Close(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guarded(env, [&]() -> Napi::Value {
    return close_on_engine(env, closed_, stream_, [this](std::function<void()> j) { submit(std::move(j)); });
  });
}

}  // namespace wcjs
