// Test hooks (`testing`), built into worldcast_testing.node only. They keep the
// never-abort rule: every size is a checked positive integer (with a cap on what it
// allocates), every typed array has its expected length, every option its type, so bad
// arguments are JS errors, never a crash.
#include "addon/testing.h"

#include "addon/common.h"
#include "core/cpu_features.h"
#include "engine/noise.h"
#include "engine/schedule.h"
#include "kernels/attention.h"
#include "kernels/gemm.h"
#include "kernels/norms.h"
#include "kernels/rope.h"
#include "kv/quantize.h"

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <cstring>
#include "model/config.h"
#include "model/forward.h"
#include "model/json.h"
#include "model/safetensors.h"

namespace wcjs {
namespace {

wc::ThreadPool& test_pool() {
  static wc::ThreadPool pool(0);
  return pool;
}

// A size argument: an integer in [lo, hi] (default [1, 2^24]).
int int_arg(const Napi::CallbackInfo& info, size_t i, const char* name, int64_t lo = 1, int64_t hi = int64_t(1) << 24) {
  return int(int_in_range(info.Env(), info[i], name, lo, hi));
}

// The most elements one hook allocates for any tensor (1 GiB of f32).
constexpr int64_t kMaxElems = int64_t(1) << 28;
void check_elems(Napi::Env env, int64_t a, int64_t b, const char* what, int64_t c = 1) {
  // the callers pass checked non-negative sizes whose product stays below 2^63
  if (a * b * c > kMaxElems) throw_arg(env, std::string(what) + " is too large for a test hook");
}

wc::Isa isa_arg(Napi::Env env, const Napi::Value& v) {
  if (v.IsUndefined() || v.IsNull()) return wc::active_isa();
  std::string s = string_arg(env, v, "isa");
  if (s == "scalar") return wc::Isa::Scalar;
  if (s == "avx2") return wc::Isa::Avx2;
  if (s == "avx512") return wc::Isa::Avx512;
  throw_arg(env, "isa must be scalar, avx2 or avx512");
}

// cpu() → {features, best, active}
Napi::Value Cpu(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object o = Napi::Object::New(env);
  o.Set("features", wc::cpu_features_string());
  o.Set("best", wc::isa_name(wc::best_isa()));
  o.Set("active", wc::isa_name(wc::active_isa()));
  return o;
}

// setIsa(name) → the level now active (clamped to what the CPU has); models loaded
// afterwards pack their weights for it.
Napi::Value SetIsa(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guarded(env, [&]() -> Napi::Value {
    string_arg(env, info[0], "isa");
    return Napi::String::New(env, wc::isa_name(wc::set_active_isa(isa_arg(env, info[0]))));
  });
}

wc::WeightType weight_type_arg(Napi::Env env, const Napi::Value& v) {
  if (v.IsUndefined()) return wc::WeightType::F32;
  std::string s = v.IsString() ? v.As<Napi::String>().Utf8Value() : "";
  if (s == "f32") return wc::WeightType::F32;
  if (s == "bf16") return wc::WeightType::BF16;
  if (s == "int8") return wc::WeightType::I8;
  throw_arg(env, "weights must be 'f32', 'bf16' or 'int8'");
}

// dot: true → the AVX-512 dot-product paths wherever the CPU has them, false → never,
// 'amx' → the AMX paths where this process may use them (else as true),
// undefined → the engine's own choice (DotPolicy::Auto).
wc::DotPolicy dot_arg(const Napi::Value& v) {
  if (v.IsUndefined() || v.IsNull()) return wc::DotPolicy::Auto;
  if (v.IsString()) {
    if (v.As<Napi::String>().Utf8Value() == "amx") return wc::DotPolicy::Amx;
    throw_arg(v.Env(), "dot must be a boolean or 'amx'");
  }
  return v.ToBoolean() ? wc::DotPolicy::Always : wc::DotPolicy::Never;
}

// gemm(x, M, K, W, N, bias|null, isa, epilogue, ref, {weights?, dot?}) → y
// ref: linear_ref on dequantize_weights(W) and round_activations(x) for the path that
// (isa, weights, dot) selects — what that path's kernel must reproduce.
Napi::Value Gemm(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guarded(env, [&]() -> Napi::Value {
    const int M = int_arg(info, 1, "M"), K = int_arg(info, 2, "K"), N = int_arg(info, 4, "N");
    check_elems(env, M, N, "M x N");
    std::vector<float> x = float_array(env, info[0], "x", int64_t(M) * K);
    std::vector<float> W = float_array(env, info[3], "W", int64_t(N) * K);
    std::vector<float> b;
    if (!info[5].IsNull() && !info[5].IsUndefined()) b = float_array(env, info[5], "bias", N);
    wc::Isa isa = isa_arg(env, info[6]);
    if (int(isa) > int(wc::best_isa())) throw_arg(env, "this CPU lacks that ISA");
    wc::Epilogue ep = wc::Epilogue(int_arg(info, 7, "epilogue", 0, 2));  // None, GeluTanh, Silu
    bool ref = info.Length() > 8 && info[8].ToBoolean();
    wc::WeightType wt = wc::WeightType::F32;
    wc::DotPolicy dot = wc::DotPolicy::Auto;
    if (info.Length() > 9 && !info[9].IsUndefined()) {
      if (!info[9].IsObject()) throw_arg(env, "gemm opts must be an object");
      Napi::Object o = info[9].As<Napi::Object>();
      wt = weight_type_arg(env, o.Get("weights"));
      dot = dot_arg(o.Get("dot"));
    }
    std::vector<float> y(size_t(M) * N);
    if (ref) {
      const wc::GemmPath path = wc::gemm_path_for(isa, wt, dot);
      std::vector<float> xr(x.size()), Wr(W.size());
      wc::round_activations(x.data(), M, K, path, xr.data());
      wc::dequantize_weights(W.data(), N, K, wt, Wr.data(), path);
      wc::linear_ref(xr.data(), M, K, Wr.data(), b.empty() ? nullptr : b.data(), N, y.data(), ep);
    } else {
      wc::PackedLinear p;
      wc::pack_linear(W.data(), b.empty() ? nullptr : b.data(), N, K, isa, p, wt, dot);
      wc::linear(x.data(), M, K, p, y.data(), N, &test_pool(), ep);
    }
    return to_float32(env, std::move(y));
  });
}

// gemmPath(isa, weights, dot) → the GemmPath name pack_linear picks on this CPU.
Napi::Value GemmPathName(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guarded(env, [&]() -> Napi::Value {
    wc::Isa isa = isa_arg(env, info[0]);
    wc::WeightType wt = weight_type_arg(env, info[1]);
    return Napi::String::New(env, wc::gemm_path_name(wc::gemm_path_for(isa, wt, dot_arg(info[2]))));
  });
}

// benchGemm(M, K, N, weights, threads, reps, dot?, epilogue?) → {seconds: number[], path, isa}
// Times linear() (with bias) on pseudo-random data at the active ISA.
Napi::Value BenchGemm(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guarded(env, [&]() -> Napi::Value {
    const int M = int_arg(info, 0, "M"), K = int_arg(info, 1, "K"), N = int_arg(info, 2, "N");
    check_elems(env, M, K, "M x K");
    check_elems(env, N, K, "N x K");
    check_elems(env, M, N, "M x N");
    wc::WeightType wt = weight_type_arg(env, info[3]);
    const int threads = int_arg(info, 4, "threads", 1, 256), reps = int_arg(info, 5, "reps", 1, 100000);
    const wc::DotPolicy dot = dot_arg(info[6]);
    const wc::Epilogue ep = info.Length() > 7 && !info[7].IsUndefined() ? wc::Epilogue(int_arg(info, 7, "epilogue", 0, 2))
                                                                         : wc::Epilogue::None;
    std::vector<float> x(size_t(M) * K), W(size_t(N) * K), b(N), y(size_t(M) * N);
    uint32_t s = 12345;
    auto rnd = [&] { s = s * 1664525u + 1013904223u; return float(int32_t(s >> 8) - (1 << 23)) / float(1 << 23); };
    for (auto& v : x) v = rnd();
    for (auto& v : W) v = rnd() * 0.05f;
    for (auto& v : b) v = rnd();
    wc::PackedLinear p;
    const wc::Isa isa = wc::active_isa();
    wc::pack_linear(W.data(), b.data(), N, K, isa, p, wt, dot);
    // One long-lived pool per thread count, as an engine has: a pool made per call starts
    // its workers where the scheduler first puts them (often the caller's core) and
    // small GEMMs would time that placement instead of the kernels.
    static std::unique_ptr<wc::ThreadPool> bench_pool;
    if (!bench_pool || bench_pool->size() != threads) bench_pool = std::make_unique<wc::ThreadPool>(threads);
    wc::ThreadPool& pool = *bench_pool;
    wc::linear(x.data(), M, K, p, y.data(), N, &pool, ep);  // warm-up (scratch, caches)
    Napi::Array secs = Napi::Array::New(env, reps);
    for (int r = 0; r < reps; ++r) {
      auto t0 = std::chrono::steady_clock::now();
      wc::linear(x.data(), M, K, p, y.data(), N, &pool, ep);
      secs.Set(uint32_t(r), std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    }
    Napi::Object o = Napi::Object::New(env);
    o.Set("seconds", secs);
    o.Set("path", wc::gemm_path_name(p.path));
    o.Set("isa", wc::isa_name(isa));
    return o;
  });
}

wc::AttnStrategy strategy_arg(Napi::Env env, const Napi::Value& v) {
  const std::string st = string_arg(env, v, "strategy");
  if (st == "auto") return wc::AttnStrategy::Auto;
  if (st == "heads") return wc::AttnStrategy::Heads;
  if (st == "sequence") return wc::AttnStrategy::Sequence;
  throw_arg(env, "strategy must be auto, heads or sequence");
}

// attention(q, nQ, [{k, v, tokens, type?}], nHeads, headDim, ref) → out
// Span data comes as f32 and is stored as `type` ('f32' | 'bf16' | 'int8') first, as pages store it.
Napi::Value Attention(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guarded(env, [&]() -> Napi::Value {
    const int nq = int_arg(info, 1, "nQ"), nh = int_arg(info, 3, "nHeads", 1, 1024), hd = int_arg(info, 4, "headDim", 2, 256);
    if (hd % 2) throw_arg(env, "headDim must be even");
    const int64_t D = int64_t(nh) * hd;
    check_elems(env, nq, D, "nQ x nHeads x headDim");
    std::vector<float> q = float_array(env, info[0], "q", nq * D);
    if (!info[2].IsArray()) throw_arg(env, "spans must be an array");
    Napi::Array arr = info[2].As<Napi::Array>();
    if (arr.Length() > 4096) throw_arg(env, "at most 4096 spans");
    struct Store {
      std::vector<float> kf, vf, ks, vs;
      std::vector<uint16_t> kb, vb;
      std::vector<int8_t> ki, vi;
    };
    std::vector<Store> store(arr.Length());
    std::vector<wc::KvSpan> spans;
    for (uint32_t i = 0; i < arr.Length(); ++i) {
      if (!arr.Get(i).IsObject()) throw_arg(env, "spans must be objects {k, v, tokens, type?}");
      Napi::Object o = arr.Get(i).As<Napi::Object>();
      const int t = int(int_in_range(env, o.Get("tokens"), "tokens", 0, 1 << 24));
      check_elems(env, t, D, "tokens x nHeads x headDim");
      Store& st = store[i];
      st.kf = float_array(env, o.Get("k"), "k", t * D);
      st.vf = float_array(env, o.Get("v"), "v", t * D);
      wc::KvSpan sp;
      sp.tokens = t;
      sp.stride = D;
      std::string type = o.Get("type").IsUndefined() ? "f32" : string_arg(env, o.Get("type"), "span type");
      if (type == "f32") {
        sp.k = st.kf.data();
        sp.v = st.vf.data();
      } else if (type == "bf16") {
        st.kb.resize(st.kf.size());
        st.vb.resize(st.vf.size());
        wc::to_bf16(st.kf.data(), int64_t(st.kf.size()), st.kb.data());
        wc::to_bf16(st.vf.data(), int64_t(st.vf.size()), st.vb.data());
        sp.k = st.kb.data();
        sp.v = st.vb.data();
        sp.type = wc::KvType::BF16;
      } else if (type == "int8") {
        st.ki.resize(st.kf.size());
        st.vi.resize(st.vf.size());
        st.ks.resize(size_t(t) * nh);
        st.vs.resize(size_t(t) * nh);
        wc::quantize_i8(st.kf.data(), t, nh, hd, st.ki.data(), st.ks.data());
        wc::quantize_i8(st.vf.data(), t, nh, hd, st.vi.data(), st.vs.data());
        sp.k = st.ki.data();
        sp.v = st.vi.data();
        sp.k_scale = st.ks.data();
        sp.v_scale = st.vs.data();
        sp.type = wc::KvType::I8;
      } else {
        throw_arg(env, "span type must be f32, bf16 or int8");
      }
      spans.push_back(sp);
    }
    std::vector<float> out(size_t(nq) * D);
    // opts: {isa?, strategy?: 'auto'|'heads'|'sequence', dot?: false → AVX-512 widens bf16/int8 tiles}
    wc::AttnStrategy strategy = wc::AttnStrategy::Auto;
    wc::Isa isa = wc::active_isa();
    bool dot = true, amx = true;
    if (info.Length() > 6 && !info[6].IsUndefined()) {
      if (!info[6].IsObject()) throw_arg(env, "attention opts must be an object");
      Napi::Object o = info[6].As<Napi::Object>();
      isa = isa_arg(env, o.Get("isa"));
      if (int(isa) > int(wc::best_isa())) throw_arg(env, "this CPU lacks that ISA");
      if (!o.Get("strategy").IsUndefined()) strategy = strategy_arg(env, o.Get("strategy"));
      Napi::Value dv = o.Get("dot");
      if (!dv.IsUndefined()) {
        // false: widen bf16/int8 tiles; true: the AVX-512 dot products, no AMX; 'amx': AMX
        // for bf16 pages where usable (the engine's default, as when dot is absent).
        if (dv.IsString() && dv.As<Napi::String>().Utf8Value() == "amx") {
          dot = amx = true;
        } else {
          if (!dv.IsBoolean()) throw_arg(env, "attention opts.dot must be a boolean or 'amx'");
          dot = dv.As<Napi::Boolean>().Value();
          amx = false;
        }
      }
    }
    if (info.Length() > 5 && info[5].ToBoolean()) {
      wc::attention_ref(q.data(), nq, D, spans.data(), int(spans.size()), nh, hd, out.data(), D);
    } else {
      const wc::Isa before = wc::active_isa();
      wc::set_active_isa(isa);
      wc::attention_set_dot_products(dot, amx);
      try {
        wc::attention(q.data(), nq, D, spans.data(), int(spans.size()), nh, hd, out.data(), D, &test_pool(), strategy);
      } catch (...) {
        wc::set_active_isa(before);
        wc::attention_set_dot_products(true);
        throw;
      }
      wc::set_active_isa(before);
      wc::attention_set_dot_products(true);
    }
    return to_float32(env, std::move(out));
  });
}

// benchAttention(nQ, frames, tokensPerFrame, heads, headDim, type, reps, strategy?, threads?, {samples?}) →
// {pagesSec, contiguousSec, pagesSamples, contiguousSamples, auto}: the same keys as one span
// per frame page vs one contiguous span (medians of the samples).
Napi::Value BenchAttention(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guarded(env, [&]() -> Napi::Value {
    const int nq = int_arg(info, 0, "nQ"), frames = int_arg(info, 1, "frames", 1, 1 << 16), tpf = int_arg(info, 2, "tokensPerFrame");
    const int nh = int_arg(info, 3, "heads", 1, 1024), hd = int_arg(info, 4, "headDim", 2, 256), reps = int_arg(info, 6, "reps", 1, 100000);
    if (hd % 2) throw_arg(env, "headDim must be even");
    const std::string type = string_arg(env, info[5], "type");
    if (type != "f32" && type != "bf16" && type != "int8") throw_arg(env, "type must be f32, bf16 or int8");
    check_elems(env, nq, int64_t(nh) * hd, "nQ x heads x headDim");
    check_elems(env, int64_t(frames) * tpf, int64_t(nh) * hd, "frames x tokensPerFrame x heads x headDim");
    // optional: strategy ('auto' | 'heads' | 'sequence') and threads (1 = no pool)
    wc::AttnStrategy strategy = wc::AttnStrategy::Auto;
    if (info.Length() > 7 && !info[7].IsUndefined()) strategy = strategy_arg(env, info[7]);
    const bool single = info.Length() > 8 && info[8].IsNumber() && info[8].As<Napi::Number>().Int32Value() == 1;
    wc::ThreadPool* bp = single ? nullptr : &test_pool();
    const int64_t D = int64_t(nh) * hd, T = int64_t(frames) * tpf;
    std::vector<float> q(size_t(nq) * D), k(size_t(T) * D), v(size_t(T) * D), out(size_t(nq) * D);
    uint32_t st = 12345;
    auto rnd = [&] { st = st * 1664525u + 1013904223u; return float(int32_t(st >> 8) - (1 << 23)) / float(1 << 23); };
    for (auto* a : {&q, &k, &v}) for (float& x : *a) x = rnd();
    std::vector<uint16_t> kb, vb;
    std::vector<int8_t> ki, vi;
    std::vector<float> ks, vs;
    wc::KvSpan whole;
    whole.tokens = T;
    whole.stride = D;
    if (type == "bf16") {
      kb.resize(k.size()); vb.resize(v.size());
      wc::to_bf16(k.data(), int64_t(k.size()), kb.data());
      wc::to_bf16(v.data(), int64_t(v.size()), vb.data());
      whole.k = kb.data(); whole.v = vb.data(); whole.type = wc::KvType::BF16;
    } else if (type == "int8") {
      ki.resize(k.size()); vi.resize(v.size()); ks.resize(size_t(T) * nh); vs.resize(size_t(T) * nh);
      wc::quantize_i8(k.data(), T, nh, hd, ki.data(), ks.data());
      wc::quantize_i8(v.data(), T, nh, hd, vi.data(), vs.data());
      whole.k = ki.data(); whole.v = vi.data(); whole.k_scale = ks.data(); whole.v_scale = vs.data();
      whole.type = wc::KvType::I8;
    } else {
      whole.k = k.data(); whole.v = v.data();
    }
    const size_t esz = type == "f32" ? 4 : type == "bf16" ? 2 : 1;
    std::vector<wc::KvSpan> pages;
    for (int f = 0; f < frames; ++f) {
      wc::KvSpan p = whole;
      p.tokens = tpf;
      p.k = static_cast<const uint8_t*>(whole.k) + size_t(f) * tpf * D * esz;
      p.v = static_cast<const uint8_t*>(whole.v) + size_t(f) * tpf * D * esz;
      if (whole.k_scale) { p.k_scale = whole.k_scale + size_t(f) * tpf * nh; p.v_scale = whole.v_scale + size_t(f) * tpf * nh; }
      pages.push_back(p);
    }
    auto time_with = [&](const std::vector<wc::KvSpan>& sp, wc::AttnStrategy sg) {
      auto t0 = std::chrono::steady_clock::now();
      for (int r = 0; r < reps; ++r)
        wc::attention(q.data(), nq, D, sp.data(), int(sp.size()), nh, hd, out.data(), D, bp, sg);
      return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() / reps;
    };
    auto time = [&](const std::vector<wc::KvSpan>& sp) { return time_with(sp, strategy); };
    // opts {samples?: n}: n interleaved (contiguous, paged) samples of `reps` calls each
    // after one warm-up call of each; pagesSec / contiguousSec are their medians.
    // {which?: 'both' | 'paged' | 'contiguous'} times only those layouts (NaN for the other).
    // {compare?: true}: instead, each sample times the paged keys with Heads, with Sequence
    // and the contiguous keys with the strategy Auto picks, in a rotating order, so that the
    // host's drift falls on all three alike: {headsSec, sequenceSec, contiguousSec} medians,
    // and medians of the per-sample ratios autoOverOther (Auto's paged time over the other
    // strategy's) and pagedOverContiguous (Auto's paged over contiguous).
    int samples = 2;
    bool do_c = true, do_p = true, compare = false;
    if (info.Length() > 9 && !info[9].IsUndefined()) {
      if (!info[9].IsObject()) throw_arg(env, "benchAttention opts must be an object");
      Napi::Object op = info[9].As<Napi::Object>();
      Napi::Value sv = op.Get("samples");
      if (!sv.IsUndefined()) {
        if (!sv.IsNumber()) throw_arg(env, "benchAttention opts.samples must be a number");
        samples = std::max(1, std::min(50, sv.As<Napi::Number>().Int32Value()));
      }
      Napi::Value wv = op.Get("which");
      if (!wv.IsUndefined()) {
        const std::string w = string_arg(env, wv, "benchAttention opts.which");
        if (w != "both" && w != "paged" && w != "contiguous") throw_arg(env, "opts.which must be both, paged or contiguous");
        do_c = w != "paged";
        do_p = w != "contiguous";
      }
      Napi::Value cv = op.Get("compare");
      if (!cv.IsUndefined()) {
        if (!cv.IsBoolean()) throw_arg(env, "benchAttention opts.compare must be a boolean");
        compare = cv.As<Napi::Boolean>().Value();
      }
    }
    auto median = [](std::vector<double> v) {
      if (v.empty()) return std::nan("");
      std::sort(v.begin(), v.end());
      const size_t n = v.size();
      return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
    };
    const wc::AttnStrategy auto_sg =
        wc::attention_auto_strategy(nq, nh, T, single ? 1 : test_pool().size());
    std::vector<wc::KvSpan> one{whole};
    if (compare) {
      const wc::AttnStrategy sgs[2] = {wc::AttnStrategy::Heads, wc::AttnStrategy::Sequence};
      for (const auto sg : sgs) wc::attention(q.data(), nq, D, pages.data(), int(pages.size()), nh, hd, out.data(), D, bp, sg);
      wc::attention(q.data(), nq, D, one.data(), 1, nh, hd, out.data(), D, bp, auto_sg);
      const int a = auto_sg == wc::AttnStrategy::Heads ? 0 : 1;  // Auto's index in t
      std::vector<double> hs, ss, cs, ao, pc;
      for (int i = 0; i < samples; ++i) {
        double t[3];  // heads paged, sequence paged, auto contiguous
        for (int j = 0; j < 3; ++j) {
          const int w = (i + j) % 3;
          t[w] = w == 2 ? time_with(one, auto_sg) : time_with(pages, sgs[w]);
        }
        hs.push_back(t[0]);
        ss.push_back(t[1]);
        cs.push_back(t[2]);
        ao.push_back(t[a] / t[1 - a]);
        pc.push_back(t[a] / t[2]);
      }
      Napi::Object o = Napi::Object::New(env);
      o.Set("headsSec", median(hs));
      o.Set("sequenceSec", median(ss));
      o.Set("contiguousSec", median(cs));
      o.Set("autoOverOther", median(ao));
      o.Set("pagedOverContiguous", median(pc));
      o.Set("auto", auto_sg == wc::AttnStrategy::Heads ? "heads" : "sequence");
      return o;
    }
    if (do_c) wc::attention(q.data(), nq, D, one.data(), 1, nh, hd, out.data(), D, bp, strategy);
    if (do_p) wc::attention(q.data(), nq, D, pages.data(), int(pages.size()), nh, hd, out.data(), D, bp, strategy);
    std::vector<double> cs, ps;
    for (int i = 0; i < samples; ++i) {
      if (do_c) cs.push_back(time(one));
      if (do_p) ps.push_back(time(pages));
    }
    Napi::Object o = Napi::Object::New(env);
    o.Set("pagesSec", median(ps));
    o.Set("contiguousSec", median(cs));
    Napi::Array pa = Napi::Array::New(env, ps.size()), ca = Napi::Array::New(env, cs.size());
    for (size_t i = 0; i < ps.size(); ++i) pa.Set(uint32_t(i), ps[i]);
    for (size_t i = 0; i < cs.size(); ++i) ca.Set(uint32_t(i), cs[i]);
    o.Set("pagesSamples", pa);
    o.Set("contiguousSamples", ca);
    o.Set("auto", auto_sg == wc::AttnStrategy::Heads ? "heads" : "sequence");
    return o;
  });
}

// quantizeI8(x, tokens, heads, headDim) → {q: Int8Array, scales: Float32Array, back: Float32Array}
Napi::Value QuantizeI8(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guarded(env, [&]() -> Napi::Value {
    const int t = int_arg(info, 1, "tokens"), nh = int_arg(info, 2, "heads", 1, 1024), hd = int_arg(info, 3, "headDim", 1, 4096);
    check_elems(env, t, nh, "tokens x heads x headDim", hd);
    std::vector<float> x = float_array(env, info[0], "x", int64_t(t) * nh * hd);
    std::vector<int8_t> q(x.size());
    std::vector<float> sc(size_t(t) * nh), back(x.size());
    wc::quantize_i8(x.data(), t, nh, hd, q.data(), sc.data());
    wc::dequantize_i8(q.data(), sc.data(), t, nh, hd, back.data());
    Napi::Object o = Napi::Object::New(env);
    Napi::Int8Array qa = Napi::Int8Array::New(env, q.size());
    std::memcpy(qa.Data(), q.data(), q.size());
    o.Set("q", qa);
    o.Set("scales", to_float32(env, std::move(sc)));
    o.Set("back", to_float32(env, std::move(back)));
    return o;
  });
}

// norm(kind, x, rows, dim, eps, a|null, b|null) with kind 'layer' | 'layer_mod' | 'rms'
Napi::Value Norm(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guarded(env, [&]() -> Napi::Value {
    std::string kind = string_arg(env, info[0], "kind");
    if (kind != "layer" && kind != "layer_mod" && kind != "rms") throw_arg(env, "unknown norm kind");
    const int rows = int_arg(info, 2, "rows"), dim = int_arg(info, 3, "dim");
    check_elems(env, rows, dim, "rows x dim");
    if (!info[4].IsNumber()) throw_arg(env, "eps must be a number");
    const float eps = info[4].As<Napi::Number>().FloatValue();
    std::vector<float> x = float_array(env, info[1], "x", int64_t(rows) * dim);
    std::vector<float> a, b;
    if (!info[5].IsNull() && !info[5].IsUndefined()) a = float_array(env, info[5], "a", dim);
    if (!info[6].IsNull() && !info[6].IsUndefined()) b = float_array(env, info[6], "b", dim);
    // layer_mod needs a shift (a) and a scale (b); rms a weight (a): the kernels read them.
    if (kind == "layer_mod" && (a.empty() || b.empty())) throw_arg(env, "layer_mod needs a (shift) and b (scale)");
    if (kind == "rms" && a.empty()) throw_arg(env, "rms needs a (weight)");
    std::vector<float> y(x.size());
    if (kind == "layer") wc::layer_norm(x.data(), rows, dim, dim, eps, a.empty() ? nullptr : a.data(), b.empty() ? nullptr : b.data(), y.data(), dim);
    else if (kind == "layer_mod") wc::layer_norm_mod(x.data(), rows, dim, dim, eps, a.data(), b.data(), y.data(), dim);
    else if (kind == "rms") wc::rms_norm(x.data(), rows, dim, dim, eps, a.data(), y.data(), dim);
    else throw_arg(env, "unknown norm kind");
    return to_float32(env, std::move(y));
  });
}

// rope(x, F, H, W, frameStart, nHeads, headDim, ref) → rotated copy
Napi::Value Rope(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guarded(env, [&]() -> Napi::Value {
    const int F = int_arg(info, 1, "F", 1, 4096), H = int_arg(info, 2, "H", 1, 4096), W = int_arg(info, 3, "W", 1, 4096);
    const int64_t fs = int_in_range(env, info[4], "frameStart", 0, int64_t(1) << 40);
    const int nh = int_arg(info, 5, "nHeads", 1, 1024), hd = int_arg(info, 6, "headDim", 2, 256);
    if (hd % 2) throw_arg(env, "headDim must be even");
    check_elems(env, int64_t(F) * H, W, "F x H x W x nHeads x headDim", int64_t(nh) * hd);
    std::vector<float> x = float_array(env, info[0], "x", int64_t(F) * H * W * nh * hd);
    if (info.Length() > 7 && info[7].ToBoolean()) wc::rope_apply_ref(x.data(), int64_t(nh) * hd, F, H, W, fs, nh, hd);
    else wc::rope_apply(x.data(), int64_t(nh) * hd, F, H, W, fs, nh, hd);
    return to_float32(env, std::move(x));
  });
}

// parseSafetensors(Uint8Array) → [{name, dtype, shape, nbytes}] or throws a WEIGHTS error
Napi::Value ParseSafetensors(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guarded(env, [&]() -> Napi::Value {
    if (!info[0].IsTypedArray()) throw_arg(env, "expected a Uint8Array");
    Napi::TypedArray ta = info[0].As<Napi::TypedArray>();
    const uint8_t* p = static_cast<const uint8_t*>(ta.ArrayBuffer().Data()) + ta.ByteOffset();
    auto st = wc::SafeTensors::from_bytes(p, ta.ByteLength(), "<fuzz>");
    Napi::Array out = Napi::Array::New(env, st->tensors().size());
    uint32_t i = 0;
    for (auto& t : st->tensors()) {
      Napi::Object o = Napi::Object::New(env);
      o.Set("name", t.name);
      o.Set("dtype", t.dtype_str);
      Napi::Array sh = Napi::Array::New(env, t.shape.size());
      for (size_t j = 0; j < t.shape.size(); ++j) sh.Set(uint32_t(j), double(t.shape[j]));
      o.Set("shape", sh);
      o.Set("nbytes", double(t.nbytes));
      out.Set(i++, o);
    }
    return out;
  });
}

// parseConfig(text) → {dim, ...} or throws a CONFIG error
Napi::Value ParseConfig(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guarded(env, [&]() -> Napi::Value {
    std::string text = string_arg(env, info[0], "text");
    wc::ModelConfig c = wc::parse_model_config(wc::Json::parse(text, "<config>"), "<config>");
    Napi::Object o = Napi::Object::New(env);
    o.Set("dim", c.dim);
    o.Set("num_heads", c.num_heads);
    o.Set("num_layers", c.num_layers);
    o.Set("actionSize", c.has_action ? c.action.size() : 0);
    return o;
  });
}

// philox([c0..c3], [k0, k1]) → [4 uint32]
Napi::Value Philox(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guarded(env, [&]() -> Napi::Value {
    auto words = [&](const Napi::Value& v, uint32_t n, const char* name) {
      if (!v.IsArray() || v.As<Napi::Array>().Length() != n)
        throw_arg(env, std::string(name) + " must be an array of " + std::to_string(n) + " uint32");
      std::array<uint32_t, 4> w{};
      for (uint32_t i = 0; i < n; ++i) w[i] = uint32_t(int_in_range(env, v.As<Napi::Array>().Get(i), name, 0, 0xffffffffLL));
      return w;
    };
    const std::array<uint32_t, 4> ctr = words(info[0], 4, "ctr"), key = words(info[1], 2, "key");
    auto r = wc::philox4x32_10(ctr, {key[0], key[1]});
    Napi::Array out = Napi::Array::New(env, 4);
    for (uint32_t i = 0; i < 4; ++i) out.Set(i, double(r[i]));
    return out;
  });
}

// normals(seed: bigint|number, blockFirstFrame, step, n) → Float32Array
Napi::Value Normals(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guarded(env, [&]() -> Napi::Value {
    uint64_t seed;
    if (info[0].IsBigInt()) { bool l; seed = info[0].As<Napi::BigInt>().Uint64Value(&l); }
    else seed = uint64_t(int_in_range(env, info[0], "seed", 0, (int64_t(1) << 53) - 1));
    const int64_t first = int_in_range(env, info[1], "blockFirstFrame", 0, int64_t(1) << 40);
    const int step = int_arg(info, 2, "step", 0, 1 << 20);
    std::vector<float> out(size_t(int_arg(info, 3, "n", 0, 1 << 26)));
    wc::seeded_normals(seed, first, step, out.data(), int64_t(out.size()));
    return to_float32(env, std::move(out));
  });
}

// schedule(shift, n, steps[], warp) → {steps, sigmas}
Napi::Value Schedule(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guarded(env, [&]() -> Napi::Value {
    if (!info[0].IsNumber() || !std::isfinite(info[0].As<Napi::Number>().DoubleValue()))
      throw_arg(env, "shift must be a finite number");
    wc::FlowMatchSchedule s(info[0].As<Napi::Number>().DoubleValue(), int_arg(info, 1, "n", 1, 1 << 20));
    if (!info[2].IsArray() || info[2].As<Napi::Array>().Length() > 1024) throw_arg(env, "steps must be an array of at most 1024 numbers");
    Napi::Array a = info[2].As<Napi::Array>();
    std::vector<double> list;
    for (uint32_t i = 0; i < a.Length(); ++i) {
      if (!a.Get(i).IsNumber()) throw_arg(env, "steps must be numbers");
      list.push_back(a.Get(i).As<Napi::Number>().DoubleValue());
    }
    auto st = s.steps(list, info[3].ToBoolean());
    Napi::Array steps = Napi::Array::New(env, st.size()), sig = Napi::Array::New(env, st.size());
    for (size_t i = 0; i < st.size(); ++i) {
      steps.Set(uint32_t(i), st[i]);
      sig.Set(uint32_t(i), s.sigma(st[i]));
    }
    Napi::Object o = Napi::Object::New(env);
    o.Set("steps", steps);
    o.Set("sigmas", sig);
    return o;
  });
}

// sinusoid(t, dim) → Float32Array
Napi::Value Sinusoid(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guarded(env, [&]() -> Napi::Value {
    if (!info[0].IsNumber()) throw_arg(env, "t must be a number");
    std::vector<float> out(size_t(int_arg(info, 1, "dim", 0, 1 << 20)));
    wc::timestep_sinusoid(info[0].As<Napi::Number>().DoubleValue(), int(out.size()), out.data());
    return to_float32(env, std::move(out));
  });
}

}  // namespace

Napi::Object testing_exports(Napi::Env env) {
  Napi::Object t = Napi::Object::New(env);
  t.Set("cpu", Napi::Function::New(env, Cpu));
  t.Set("setIsa", Napi::Function::New(env, SetIsa));
  t.Set("gemm", Napi::Function::New(env, Gemm));
  t.Set("gemmPath", Napi::Function::New(env, GemmPathName));
  t.Set("benchGemm", Napi::Function::New(env, BenchGemm));
  t.Set("attention", Napi::Function::New(env, Attention));
  t.Set("quantizeI8", Napi::Function::New(env, QuantizeI8));
  t.Set("benchAttention", Napi::Function::New(env, BenchAttention));
  t.Set("norm", Napi::Function::New(env, Norm));
  t.Set("rope", Napi::Function::New(env, Rope));
  t.Set("parseSafetensors", Napi::Function::New(env, ParseSafetensors));
  t.Set("parseConfig", Napi::Function::New(env, ParseConfig));
  t.Set("philox", Napi::Function::New(env, Philox));
  t.Set("normals", Napi::Function::New(env, Normals));
  t.Set("schedule", Napi::Function::New(env, Schedule));
  t.Set("sinusoid", Napi::Function::New(env, Sinusoid));
  return t;
}

}  // namespace wcjs
