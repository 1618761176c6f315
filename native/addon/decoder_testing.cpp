// Test hooks of the video decoder's kernels and config parser (`decoderTesting`), built
// into worldcast_testing.node only. Every argument is checked: bad input is a JS error.
#include "addon/common.h"
#include "addon/decoder_wrap.h"
#include "addon/testing.h"
#include "core/cpu_features.h"
#include "core/thread_pool.h"
#include "core/dtype.h"
#include "kernels/conv2d.h"
#include "model/json.h"
#include "model/taehv.h"

#include <algorithm>
#include <string>
#include <vector>

namespace wcjs {
namespace {

wc::ThreadPool& test_pool() {
  static wc::ThreadPool pool(0);
  return pool;
}

wc::Isa isa_arg(Napi::Env env, const Napi::Value& v) {
  if (v.IsUndefined() || v.IsNull()) return wc::active_isa();
  const std::string s = string_arg(env, v, "isa");
  if (s == "scalar") return wc::Isa::Scalar;
  if (s == "avx2") return wc::Isa::Avx2;
  if (s == "avx512") return wc::Isa::Avx512;
  throw_arg(env, "isa must be scalar, avx2 or avx512");
}

// conv2d(inputs: {data, channels, up2?}[], H, W, weight, bias|null, cout, k,
//        {isa?, residual?, relu?, ref?, threads?, precision?: 'f32' | 'bf16',
//         algo?: 'auto' | 'direct' | 'winograd', amx?: boolean}) → Float32Array
// [cout, H, W]. With precision bf16 and ref, the reference runs on the bf16-rounded weights
// and input (what the bf16 kernels compute).
Napi::Value TestConv2d(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guarded(env, [&]() -> Napi::Value {
    if (info.Length() < 7 || !info[0].IsArray()) throw_arg(env, "conv2d(inputs, H, W, weight, bias, cout, k, opts?)");
    const int H = int(int_in_range(env, info[1], "H", 1, 4096)), W = int(int_in_range(env, info[2], "W", 1, 4096));
    const int cout = int(int_in_range(env, info[5], "cout", 1, 1 << 16));
    const int k = int(int_in_range(env, info[6], "k", 1, 3));
    if (k == 2) throw_arg(env, "conv2d: kernel size must be 1 or 3, not 2");  // the reference path would take it
    Napi::Array arr = info[0].As<Napi::Array>();
    if (arr.Length() < 1 || arr.Length() > 16) throw_arg(env, "conv2d takes 1 to 16 inputs");
    std::vector<std::vector<float>> datas;
    std::vector<wc::ConvInput> ins;
    int64_t cin = 0;
    for (uint32_t i = 0; i < arr.Length(); ++i) {
      if (!arr.Get(i).IsObject()) throw_arg(env, "inputs must be objects {data, channels, up2?}");
      Napi::Object o = arr.Get(i).As<Napi::Object>();
      const int ch = int(int_in_range(env, o.Get("channels"), "channels", 1, 1 << 16));
      const bool up2 = o.Get("up2").ToBoolean();
      if (up2 && (H % 2 || W % 2)) throw_shape(env, "an upsampled input needs an even H and W");
      const int64_t n = int64_t(ch) * (up2 ? int64_t(H / 2) * (W / 2) : int64_t(H) * W);
      datas.push_back(float_array(env, o.Get("data"), "inputs[" + std::to_string(i) + "].data", n));
      ins.push_back({nullptr, ch, up2});
      cin += ch;
    }
    if (cin > (1 << 16)) throw_arg(env, "conv2d: at most 65536 input channels in all");
    for (size_t i = 0; i < ins.size(); ++i) ins[i].data = datas[i].data();
    std::vector<float> w = float_array(env, info[3], "weight", int64_t(cout) * cin * k * k);
    std::vector<float> b;
    if (!info[4].IsNull() && !info[4].IsUndefined()) b = float_array(env, info[4], "bias", cout);
    if (info.Length() > 7 && !info[7].IsUndefined() && !info[7].IsObject()) throw_arg(env, "opts must be an object");
    Napi::Object opts = info.Length() > 7 && info[7].IsObject() ? info[7].As<Napi::Object>() : Napi::Object::New(env);
    const wc::Isa isa = isa_arg(env, opts.Get("isa"));
    std::vector<float> res;
    if (!opts.Get("residual").IsUndefined()) res = float_array(env, opts.Get("residual"), "residual", int64_t(cout) * H * W);
    const wc::ConvAct act = opts.Get("relu").ToBoolean() ? wc::ConvAct::Relu : wc::ConvAct::None;
    const bool ref = opts.Get("ref").ToBoolean();
    wc::ConvPrecision prec = wc::ConvPrecision::F32;
    if (!opts.Get("precision").IsUndefined()) {
      const std::string ps = string_arg(env, opts.Get("precision"), "precision");
      if (ps == "bf16") prec = wc::ConvPrecision::Bf16;
      else if (ps != "f32") throw_arg(env, "precision must be f32 or bf16");
    }
    wc::ConvAlgo algo = wc::ConvAlgo::Auto;
    if (!opts.Get("algo").IsUndefined()) {
      const std::string as = string_arg(env, opts.Get("algo"), "algo");
      if (as == "direct") algo = wc::ConvAlgo::Direct;
      else if (as == "winograd") algo = wc::ConvAlgo::Winograd;
      else if (as != "auto") throw_arg(env, "algo must be auto, direct or winograd");
    }
    if (prec == wc::ConvPrecision::Bf16 && ref) {
      auto round_all = [](std::vector<float>& v) { for (float& x : v) x = wc::bf16_to_f32(wc::f32_to_bf16(x)); };
      for (auto& d : datas) round_all(d);
      round_all(w);
    }
    const bool single = opts.Get("threads").IsNumber() && opts.Get("threads").As<Napi::Number>().DoubleValue() == 1;
    std::vector<float> out(size_t(cout) * H * W);
    if (ref) {  // concatenate (upsampling with upsample_nearest2) and run the scalar reference
      std::vector<float> cat(size_t(cin) * H * W);
      size_t off = 0;
      for (auto& in : ins) {
        const size_t n = size_t(in.channels) * H * W;
        if (in.up2) wc::upsample_nearest2(in.data, in.channels, H / 2, W / 2, cat.data() + off, nullptr);
        else std::copy(in.data, in.data + n, cat.begin() + int64_t(off));
        off += n;
      }
      wc::conv2d_ref(cat.data(), int(cin), H, W, w.data(), b.empty() ? nullptr : b.data(), cout, k, out.data(),
                     res.empty() ? nullptr : res.data(), act);
    } else {
      // amx: false packs bf16 for the VDPBF16PS kernels even where AMX is usable
      const bool amx = !opts.Get("amx").IsBoolean() || opts.Get("amx").As<Napi::Boolean>().Value();
      wc::PackedConv pc;
      wc::conv_set_amx(amx);
      try {
        wc::pack_conv(w.data(), b.empty() ? nullptr : b.data(), cout, int(cin), k, isa, pc, prec, algo);
      } catch (...) {
        wc::conv_set_amx(true);
        throw;
      }
      wc::conv_set_amx(true);
      wc::ConvScratch scratch;
      wc::conv2d(ins.data(), int(ins.size()), H, W, pc, out.data(), res.empty() ? nullptr : res.data(), act,
                 single ? nullptr : &test_pool(), scratch);
    }
    return to_float32(env, std::move(out));
  });
}

// upsample2(x, C, H, W) → Float32Array [C, 2H, 2W]
Napi::Value TestUpsample2(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guarded(env, [&]() -> Napi::Value {
    const int C = int(int_in_range(env, info[1], "C", 1, 1 << 16)), H = int(int_in_range(env, info[2], "H", 1, 4096)),
              W = int(int_in_range(env, info[3], "W", 1, 4096));
    std::vector<float> x = float_array(env, info[0], "x", int64_t(C) * H * W);
    std::vector<float> out(size_t(C) * 4 * H * W);
    wc::upsample_nearest2(x.data(), C, H, W, out.data(), &test_pool());
    return to_float32(env, std::move(out));
  });
}

// frameToU8(x, C, H, W) → Uint8Array [H, W, C]
Napi::Value TestFrameToU8(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guarded(env, [&]() -> Napi::Value {
    const int C = int(int_in_range(env, info[1], "C", 1, 4)), H = int(int_in_range(env, info[2], "H", 1, 1 << 15)),
              W = int(int_in_range(env, info[3], "W", 1, 1 << 15));
    std::vector<float> x = float_array(env, info[0], "x", int64_t(C) * H * W);
    Napi::Uint8Array out = Napi::Uint8Array::New(env, size_t(C) * H * W);
    wc::frame_to_u8(x.data(), C, H, W, out.Data());
    return out;
  });
}

// parseConfig(text) → the parsed decoder config
Napi::Value TestParseConfig(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guarded(env, [&]() -> Napi::Value {
    const std::string text = string_arg(env, info[0], "parseConfig(text): text");
    return decoder_config_object(env, wc::parse_taehv_config(wc::Json::parse(text, "config"), "config"));
  });
}

// decode(dir, {isa?, precision?: 'f32' | 'bf16', amx?: boolean}, blocks: {latents, frames,
//        height, width, geometry?}[]) → Float32Array[]: the decoder loaded at that ISA (amx:
// false packs bf16 for the VDPBF16PS kernels even where AMX is usable), the blocks decoded one
// after the other on one stream, synchronously; every frame (C, H, W) in order.
Napi::Value TestDecode(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guarded(env, [&]() -> Napi::Value {
    if (info.Length() < 3 || !info[1].IsObject() || !info[2].IsArray())
      throw_arg(env, "decode(dir, {isa?, precision?, amx?}, blocks)");
    const std::string dir = string_arg(env, info[0], "dir");
    Napi::Object opts = info[1].As<Napi::Object>();
    const wc::Isa isa = isa_arg(env, opts.Get("isa"));
    wc::ConvPrecision prec = wc::ConvPrecision::F32;
    if (!opts.Get("precision").IsUndefined()) {
      const std::string ps = string_arg(env, opts.Get("precision"), "precision");
      if (ps == "bf16") prec = wc::ConvPrecision::Bf16;
      else if (ps != "f32") throw_arg(env, "precision must be f32 or bf16");
    }
    const bool amx = !opts.Get("amx").IsBoolean() || opts.Get("amx").As<Napi::Boolean>().Value();
    std::shared_ptr<wc::TaehvWeights> w;
    wc::conv_set_amx(amx);
    try {
      w = wc::load_taehv(dir, isa, prec);
    } catch (...) {
      wc::conv_set_amx(true);
      throw;
    }
    wc::conv_set_amx(true);
    const wc::TaehvConfig& c = w->config;
    wc::TaehvStream stream(w);
    wc::TaehvWorkspace ws;
    std::vector<std::vector<float>> frames;
    Napi::Array blocks = info[2].As<Napi::Array>();
    for (uint32_t b = 0; b < blocks.Length(); ++b) {
      if (!blocks.Get(b).IsObject()) throw_arg(env, "blocks must be objects {latents, frames, height, width, geometry?}");
      Napi::Object o = blocks.Get(b).As<Napi::Object>();
      const int F = int(int_in_range(env, o.Get("frames"), "frames", 1, 1 << 12));
      const int H = int(int_in_range(env, o.Get("height"), "height", 1, 4096));
      const int W = int(int_in_range(env, o.Get("width"), "width", 1, 4096));
      const std::vector<float> lat = float_array(env, o.Get("latents"), "latents", int64_t(c.latent_channels) * F * H * W);
      const bool has_geo = !o.Get("geometry").IsUndefined();
      std::vector<float> geo;
      if (has_geo) {
        geo = float_array(env, o.Get("geometry"), "geometry");
        if (c.geometry.channels) {
          int hm = 0, wm = 0;
          wc::taehv_geometry_size(c, H, W, hm, wm);
          if (int64_t(geo.size()) != int64_t(F) * c.geometry.channels * hm * wm) throw_shape(env, "geometry has the wrong length");
        }
      }
      float none = 0.0f;  // a map given empty is still a map (which a plain decoder refuses)
      stream.decode(lat.data(), F, H, W, has_geo ? (geo.empty() ? &none : geo.data()) : nullptr, ws, &test_pool(),
                    [&](const float* chw, int C, int h, int wd) { frames.emplace_back(chw, chw + size_t(C) * h * wd); });
    }
    Napi::Array out = Napi::Array::New(env, frames.size());
    for (size_t i = 0; i < frames.size(); ++i) out.Set(uint32_t(i), to_float32(env, std::move(frames[i])));
    return out;
  });
}

}  // namespace

Napi::Object decoder_testing_exports(Napi::Env env) {
  Napi::Object t = Napi::Object::New(env);
  t.Set("conv2d", Napi::Function::New(env, TestConv2d, "conv2d"));
  t.Set("upsample2", Napi::Function::New(env, TestUpsample2, "upsample2"));
  t.Set("frameToU8", Napi::Function::New(env, TestFrameToU8, "frameToU8"));
  t.Set("parseConfig", Napi::Function::New(env, TestParseConfig, "parseConfig"));
  t.Set("decode", Napi::Function::New(env, TestDecode, "decode"));
  return t;
}

}  // namespace wcjs
