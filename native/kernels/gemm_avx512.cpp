// AVX-512F kernels of the gemm contract (gemm_kernels.h): the f32 panel kernel
// (14 rows × 32 columns per micro-tile: 28 zmm accumulators, two B loads and 14
// broadcasts of A per k) and the widening of stored bf16/int8 blocks to f32.
// Compiled with -mavx512f/bw/vl/dq; only called when the CPU and OS support it.
// Everything here is in an anonymous namespace or has an _avx512 name (no ODR sharing).
#include <immintrin.h>

#include <cstdint>

#include "kernels/gemm_kernels.h"

namespace wc {
namespace gemm {
namespace {

constexpr int kMR = 14;

inline __mmask16 lane_mask(int n) { return n >= 16 ? __mmask16(0xffff) : n <= 0 ? __mmask16(0) : __mmask16((1u << n) - 1); }

// C[MR][32] (= or +=) A[MR][kc] · B[kc][32] (+ bias). A rows are read in place.
// pf (may be null): one 64-byte line per k is prefetched into L2 from there.
template <int MR>
inline void tile(const float* A, int64_t lda, const float* B, int kc, float* C, int64_t ldc, int n_valid,
                 const float* bias, bool accumulate, const char* pf) {
  if (accumulate) {  // the C tile comes back at the end: start fetching it now
#pragma GCC unroll 14
    for (int r = 0; r < MR; ++r) {
      _mm_prefetch(reinterpret_cast<const char*>(C + r * ldc), _MM_HINT_T0);
      _mm_prefetch(reinterpret_cast<const char*>(C + r * ldc + 16), _MM_HINT_T0);
    }
  }
  __m512 c0[MR], c1[MR];
#pragma GCC unroll 14
  for (int r = 0; r < MR; ++r) c0[r] = c1[r] = _mm512_setzero_ps();
#pragma GCC unroll 2
  for (int k = 0; k < kc; ++k) {
    if (pf) _mm_prefetch(pf + size_t(k) * 64, _MM_HINT_T1);
    const __m512 b0 = _mm512_load_ps(B + size_t(k) * 32);
    const __m512 b1 = _mm512_load_ps(B + size_t(k) * 32 + 16);
#pragma GCC unroll 14
    for (int r = 0; r < MR; ++r) {
      const __m512 a = _mm512_set1_ps(A[r * lda + k]);
      c0[r] = _mm512_fmadd_ps(a, b0, c0[r]);
      c1[r] = _mm512_fmadd_ps(a, b1, c1[r]);
    }
  }
  const __mmask16 m0 = lane_mask(n_valid), m1 = lane_mask(n_valid - 16);
  if (accumulate) {
#pragma GCC unroll 14
    for (int r = 0; r < MR; ++r) {
      float* c = C + r * ldc;
      _mm512_mask_storeu_ps(c, m0, _mm512_add_ps(c0[r], _mm512_maskz_loadu_ps(m0, c)));
      _mm512_mask_storeu_ps(c + 16, m1, _mm512_add_ps(c1[r], _mm512_maskz_loadu_ps(m1, c + 16)));
    }
  } else {
    const __m512 bb0 = bias ? _mm512_maskz_loadu_ps(m0, bias) : _mm512_setzero_ps();
    const __m512 bb1 = bias ? _mm512_maskz_loadu_ps(m1, bias + 16) : _mm512_setzero_ps();
#pragma GCC unroll 14
    for (int r = 0; r < MR; ++r) {
      _mm512_mask_storeu_ps(C + r * ldc, m0, _mm512_add_ps(c0[r], bb0));
      _mm512_mask_storeu_ps(C + r * ldc + 16, m1, _mm512_add_ps(c1[r], bb1));
    }
  }
}

using TileFn = void (*)(const float*, int64_t, const float*, int, float*, int64_t, int, const float*, bool,
                        const char*);
const TileFn kTail[kMR] = {nullptr,  tile<1>,  tile<2>,  tile<3>,  tile<4>,  tile<5>,  tile<6>,
                           tile<7>,  tile<8>,  tile<9>,  tile<10>, tile<11>, tile<12>, tile<13>};

// exp(x) in f32: n = round(x·log2 e), r = x − n·ln2 (two-constant Cody–Waite), e^r by a
// degree-7 Taylor polynomial (|r| ≤ ln2/2: truncation < 6e-9 relative), scaled by 2^n with
// VSCALEFPS (correct overflow to inf and underflow to 0).
inline __m512 exp_ps(__m512 x) {
  const __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)),
                                        _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693145751953125f), x);
  r = _mm512_fnmadd_ps(n, _mm512_set1_ps(1.428606765330187e-06f), r);
  __m512 p = _mm512_set1_ps(1.f / 5040);
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.f / 720));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.f / 120));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.f / 24));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.f / 6));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(0.5f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.f));
  return _mm512_scalef_ps(p, n);
}

// x / (1 + exp(t)) with t as in gemm_kernels.h; t is clamped to [-100, 100] first, where
// exp is already 0 or inf for the quotient (and ±inf, from x³ overflowing, stays finite).
inline __m512 act(__m512 x, int ep) {
  __m512 t;
  if (ep == 1) {
    const __m512 x2 = _mm512_mul_ps(x, x);
    const __m512 inner = _mm512_mul_ps(x, _mm512_fmadd_ps(x2, _mm512_set1_ps(0.044715f), _mm512_set1_ps(1.f)));
    t = _mm512_mul_ps(inner, _mm512_set1_ps(-2.f * 0.7978845608028654f));
  } else {
    t = _mm512_sub_ps(_mm512_setzero_ps(), x);
  }
  t = _mm512_min_ps(_mm512_max_ps(t, _mm512_set1_ps(-100.f)), _mm512_set1_ps(100.f));
  return _mm512_div_ps(x, _mm512_add_ps(_mm512_set1_ps(1.f), exp_ps(t)));
}

}  // namespace

void epilogue_avx512(float* y, int64_t n, int ep) {
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) _mm512_storeu_ps(y + i, act(_mm512_loadu_ps(y + i), ep));
  if (i < n) {
    const __mmask16 m = lane_mask(int(n - i));
    _mm512_mask_storeu_ps(y + i, m, act(_mm512_maskz_loadu_ps(m, y + i), ep));
  }
}

void panel_f32_avx512(const PanelArgs& p) {
  const float* A = static_cast<const float*>(p.a);
  const float* B = static_cast<const float*>(p.b);
  // The next weight block streams into L2 over the first tiles (kc lines per tile), so
  // the next panel does not start on cache misses.
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

void widen_bf16_avx512(const uint16_t* src, int64_t n, float* dst) {
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const __m512i h = _mm512_cvtepu16_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(src + i)));
    _mm512_storeu_ps(dst + i, _mm512_castsi512_ps(_mm512_slli_epi32(h, 16)));
  }
  for (; i < n; ++i) {
    const uint32_t u = uint32_t(src[i]) << 16;
    dst[i] = _mm_cvtss_f32(_mm_castsi128_ps(_mm_cvtsi32_si128(int(u))));
  }
}

void widen_i8_avx512(const int8_t* q, const float* scales, int kc, int nr, float* dst) {
  // nr is 32 for AVX-512 panels: two vectors of 16 columns per k.
  for (int k = 0; k < kc; ++k) {
    const float* s = scales + (k / 32) * nr;
    for (int j = 0; j < nr; j += 16) {
      const __m512i v = _mm512_cvtepi8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(q + size_t(k) * nr + j)));
      _mm512_storeu_ps(dst + size_t(k) * nr + j, _mm512_mul_ps(_mm512_cvtepi32_ps(v), _mm512_loadu_ps(s + j)));
    }
  }
}

}  // namespace gemm
}  // namespace wc
