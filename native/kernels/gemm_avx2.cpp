// AVX2+FMA kernels of the gemm contract (gemm_kernels.h): the f32 panel kernel
// (6 rows × 16 columns per micro-tile: 12 ymm accumulators) and the widening of stored
// bf16/int8 blocks to f32. Compiled with -mavx2 -mfma; only called when the CPU has them.
// Everything here is in an anonymous namespace or has an _avx2 name (no ODR sharing).
#include <immintrin.h>

#include <cstdint>

#include "kernels/gemm_kernels.h"

namespace wc {
namespace gemm {
namespace {

constexpr int kMR = 6;

// C[MR][16] (= or +=) A[MR][kc] · B[kc][16] (+ bias); pf (may be null): one 64-byte line
// per k is prefetched into L2 from there (the next weight block).
template <int MR>
inline void tile(const float* A, int64_t lda, const float* B, int kc, float* C, int64_t ldc, int n_valid,
                 const float* bias, bool accumulate, const char* pf) {
  // Every loop over r is fully unrolled so the accumulators stay in registers.
  if (accumulate) {
#pragma GCC unroll 6
    for (int r = 0; r < MR; ++r) _mm_prefetch(reinterpret_cast<const char*>(C + r * ldc), _MM_HINT_T0);
  }
  __m256 c0[MR], c1[MR];
#pragma GCC unroll 6
  for (int r = 0; r < MR; ++r) c0[r] = c1[r] = _mm256_setzero_ps();
#pragma GCC unroll 2
  for (int k = 0; k < kc; ++k) {
    if (pf) _mm_prefetch(pf + size_t(k) * 64, _MM_HINT_T1);
    const __m256 b0 = _mm256_load_ps(B + size_t(k) * 16);
    const __m256 b1 = _mm256_load_ps(B + size_t(k) * 16 + 8);
#pragma GCC unroll 6
    for (int r = 0; r < MR; ++r) {
      const __m256 a = _mm256_broadcast_ss(A + r * lda + k);
      c0[r] = _mm256_fmadd_ps(a, b0, c0[r]);
      c1[r] = _mm256_fmadd_ps(a, b1, c1[r]);
    }
  }
  alignas(32) float add[16];
#pragma GCC unroll 6
  for (int r = 0; r < MR; ++r) {
    float* c = C + r * ldc;
    if (n_valid == 16) {
      __m256 v0 = c0[r], v1 = c1[r];
      if (accumulate) {
        v0 = _mm256_add_ps(v0, _mm256_loadu_ps(c));
        v1 = _mm256_add_ps(v1, _mm256_loadu_ps(c + 8));
      } else if (bias) {
        v0 = _mm256_add_ps(v0, _mm256_loadu_ps(bias));
        v1 = _mm256_add_ps(v1, _mm256_loadu_ps(bias + 8));
      }
      _mm256_storeu_ps(c, v0);
      _mm256_storeu_ps(c + 8, v1);
    } else {
      _mm256_store_ps(add, c0[r]);
      _mm256_store_ps(add + 8, c1[r]);
      for (int j = 0; j < n_valid; ++j) c[j] = accumulate ? c[j] + add[j] : bias ? add[j] + bias[j] : add[j];
    }
  }
}

using TileFn = void (*)(const float*, int64_t, const float*, int, float*, int64_t, int, const float*, bool,
                        const char*);
const TileFn kTail[kMR] = {nullptr, tile<1>, tile<2>, tile<3>, tile<4>, tile<5>};

// exp(x) in f32 as epilogue_avx512 computes it, with 2^n built in the exponent field:
// x is clamped to [-87.3, 88.3] so n stays in [-126, 127] (exp(-87.3) ≈ 1.2e-38 and
// exp(88.3) ≈ 2.2e38 leave x / (1 + exp(t)) at x and ≈ 0 as the exact values are).
inline __m256 exp_ps(__m256 x) {
  x = _mm256_min_ps(_mm256_max_ps(x, _mm256_set1_ps(-87.3f)), _mm256_set1_ps(88.3f));
  const __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)),
                                   _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693145751953125f), x);
  r = _mm256_fnmadd_ps(n, _mm256_set1_ps(1.428606765330187e-06f), r);
  __m256 p = _mm256_set1_ps(1.f / 5040);
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.f / 720));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.f / 120));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.f / 24));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.f / 6));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(0.5f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.f));
  const __m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
  return _mm256_mul_ps(p, _mm256_castsi256_ps(e));
}

inline __m256 act(__m256 x, int ep) {
  __m256 t;
  if (ep == 1) {
    const __m256 x2 = _mm256_mul_ps(x, x);
    const __m256 inner = _mm256_mul_ps(x, _mm256_fmadd_ps(x2, _mm256_set1_ps(0.044715f), _mm256_set1_ps(1.f)));
    t = _mm256_mul_ps(inner, _mm256_set1_ps(-2.f * 0.7978845608028654f));
  } else {
    t = _mm256_sub_ps(_mm256_setzero_ps(), x);
  }
  // Where exp(t) would overflow (its input is clamped), the quotient is ±0 (x·0).
  const __m256 y = _mm256_div_ps(x, _mm256_add_ps(_mm256_set1_ps(1.f), exp_ps(t)));
  return _mm256_blendv_ps(y, _mm256_mul_ps(x, _mm256_setzero_ps()), _mm256_cmp_ps(t, _mm256_set1_ps(88.f), _CMP_GT_OQ));
}

}  // namespace

void epilogue_avx2(float* y, int64_t n, int ep) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, act(_mm256_loadu_ps(y + i), ep));
  if (i < n) {
    alignas(32) float tmp[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    for (int64_t j = i; j < n; ++j) tmp[j - i] = y[j];
    _mm256_store_ps(tmp, act(_mm256_load_ps(tmp), ep));
    for (int64_t j = i; j < n; ++j) y[j] = tmp[j - i];
  }
}

void panel_f32_avx2(const PanelArgs& p) {
  const float* A = static_cast<const float*>(p.a);
  const float* B = static_cast<const float*>(p.b);
  const char* next = static_cast<const char*>(p.b_next);
  auto pf = [&](int64_t t) -> const char* {
    return next && t * p.kc < p.b_next_lines ? next + t * p.kc * 64 : nullptr;
  };
  int64_t m = 0, t = 0;
  for (; m + kMR <= p.m; m += kMR, ++t)
    tile<kMR>(A + m * p.lda, p.lda, B, p.kc, p.c + m * p.ldc, p.ldc, p.n_valid, p.bias, p.accumulate, pf(t));
  if (m < p.m)
    kTail[p.m - m](A + m * p.lda, p.lda, B, p.kc, p.c + m * p.ldc, p.ldc, p.n_valid, p.bias, p.accumulate, pf(t));
}

void widen_bf16_avx2(const uint16_t* src, int64_t n, float* dst) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256i h = _mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(src + i)));
    _mm256_storeu_ps(dst + i, _mm256_castsi256_ps(_mm256_slli_epi32(h, 16)));
  }
  for (; i < n; ++i) {
    const uint32_t u = uint32_t(src[i]) << 16;
    dst[i] = _mm_cvtss_f32(_mm_castsi128_ps(_mm_cvtsi32_si128(int(u))));
  }
}

void widen_i8_avx2(const int8_t* q, const float* scales, int kc, int nr, float* dst) {
  // nr is 16 for AVX2 panels: two vectors of 8 columns per k.
  for (int k = 0; k < kc; ++k) {
    const float* s = scales + (k / 32) * nr;
    for (int j = 0; j < nr; j += 8) {
      const __m256i v = _mm256_cvtepi8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(q + size_t(k) * nr + j)));
      _mm256_storeu_ps(dst + size_t(k) * nr + j, _mm256_mul_ps(_mm256_cvtepi32_ps(v), _mm256_loadu_ps(s + j)));
    }
  }
}

}  // namespace gemm
}  // namespace wc
