// AVX512_BF16 kernels of the gemm contract (gemm_kernels.h), path Bf16Dot:
//  - convert_rows_bf16_avx512: activations → bf16 (VCVTNE2PS2BF16: round to nearest
//    even, denormals flushed), rows zero padded to k_pad;
//  - panel_bf16dot_avx512: 14 rows × 32 columns per micro-tile; per pair of k, two
//    panel vectors ([32 columns][2 k] bf16) and one 32-bit broadcast (the row's bf16
//    pair) per row feed VDPBF16PS, which adds both exact bf16·bf16 products into the
//    f32 accumulators. Result = x_bf16 · W_bf16 with f32 accumulation.
// Compiled with -mavx512bf16 (+f/bw/vl/dq); only called when the CPU has AVX512_BF16.
#include <immintrin.h>

#include <cstdint>
#include <cstring>

#include "kernels/gemm_kernels.h"

namespace wc {
namespace gemm {
namespace {

constexpr int kMR = 14;

inline __mmask16 lane_mask(int n) { return n >= 16 ? __mmask16(0xffff) : n <= 0 ? __mmask16(0) : __mmask16((1u << n) - 1); }

inline __m512bh load_bh(const uint16_t* p) {
  const __m512i v = _mm512_loadu_si512(p);
  __m512bh r;
  std::memcpy(&r, &v, sizeof r);
  return r;
}

inline __m512bh bcast_pair(const uint16_t* p) {
  int32_t w;
  std::memcpy(&w, p, 4);
  const __m512i v = _mm512_set1_epi32(w);
  __m512bh r;
  std::memcpy(&r, &v, sizeof r);
  return r;
}

template <int MR>
inline void tile(const uint16_t* A, int64_t lda, const uint16_t* B, int kc, float* C, int64_t ldc, int n_valid,
                 const float* bias, bool accumulate) {
  if (accumulate) {
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
  for (int k = 0; k < kc; k += 2) {
    const __m512bh b0 = load_bh(B + size_t(k) * 32);
    const __m512bh b1 = load_bh(B + size_t(k) * 32 + 32);
#pragma GCC unroll 14
    for (int r = 0; r < MR; ++r) {
      const __m512bh a = bcast_pair(A + r * lda + k);
      c0[r] = _mm512_dpbf16_ps(c0[r], a, b0);
      c1[r] = _mm512_dpbf16_ps(c1[r], a, b1);
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

using TileFn = void (*)(const uint16_t*, int64_t, const uint16_t*, int, float*, int64_t, int, const float*, bool);
const TileFn kTail[kMR] = {nullptr,  tile<1>,  tile<2>,  tile<3>,  tile<4>,  tile<5>,  tile<6>,
                           tile<7>,  tile<8>,  tile<9>,  tile<10>, tile<11>, tile<12>, tile<13>};

}  // namespace

void panel_bf16dot_avx512(const PanelArgs& p) {
  const uint16_t* A = static_cast<const uint16_t*>(p.a);
  const uint16_t* B = static_cast<const uint16_t*>(p.b);
  int64_t m = 0;
  for (; m + kMR <= p.m; m += kMR)
    tile<kMR>(A + m * p.lda, p.lda, B, p.kc, p.c + m * p.ldc, p.ldc, p.n_valid, p.bias, p.accumulate);
  if (m < p.m)
    kTail[p.m - m](A + m * p.lda, p.lda, B, p.kc, p.c + m * p.ldc, p.ldc, p.n_valid, p.bias, p.accumulate);
}

void convert_rows_bf16_avx512(const float* x, int64_t ldx, int64_t rows, int K, int k_pad, uint16_t* dst) {
  for (int64_t r = 0; r < rows; ++r) {
    const float* s = x + r * ldx;
    uint16_t* d = dst + r * k_pad;
    for (int k = 0; k < k_pad; k += 32) {
      const __m512 lo = _mm512_maskz_loadu_ps(lane_mask(K - k), s + k);
      const __m512 hi = _mm512_maskz_loadu_ps(lane_mask(K - k - 16), s + k + 16);
      const __m512bh v = _mm512_cvtne2ps_pbh(hi, lo);  // lanes 0..15 from lo, 16..31 from hi
      __m512i bits;
      std::memcpy(&bits, &v, sizeof bits);
      const int n = k_pad - k < 32 ? k_pad - k : 32;
      _mm512_mask_storeu_epi16(d + k, n >= 32 ? __mmask32(0xffffffffu) : __mmask32((1u << n) - 1), bits);
    }
  }
}

}  // namespace gemm
}  // namespace wc
