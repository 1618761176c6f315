// AVX512_VNNI kernels of the gemm contract (gemm_kernels.h), path I8Dot:
//  - quantize_rows_u8_avx512: each row of x, per block of 32 along K, gets its own
//    scale d = amax/127 and q = round_half_even(x/d) ∈ [-127,127] (bit-identical to
//    quantize_block_q8), stored as u8 q+128 because VPDPBUSD multiplies u8 by s8;
//  - panel_i8dot_avx512: 6 rows × 32 columns per micro-tile. Per block of 32 k: integer
//    accumulators start at -128·Σq_w (undoing the +128), eight k-quads of VPDPBUSD add
//    exact int32 dot products, then C += float(acc) · (d_w · d_x) in f32.
// Compiled with -mavx512vnni (+f/bw/vl/dq); only called when the CPU has AVX512_VNNI.
#include <immintrin.h>

#include <cstdint>
#include <cstring>

#include "kernels/gemm_kernels.h"

namespace wc {
namespace gemm {
namespace {

constexpr int kMR = 6;

inline __mmask16 lane_mask(int n) { return n >= 16 ? __mmask16(0xffff) : n <= 0 ? __mmask16(0) : __mmask16((1u << n) - 1); }

inline __m512i bcast_quad(const uint8_t* p) {
  int32_t w;
  std::memcpy(&w, p, 4);
  return _mm512_set1_epi32(w);
}

template <int MR>
inline void tile(const uint8_t* A, int64_t lda, const float* as, int64_t lds, const int8_t* B, const float* bs,
                 const int32_t* bsum, int kc, float* C, int64_t ldc, int n_valid, const float* bias, bool accumulate) {
  if (accumulate) {
    for (int r = 0; r < MR; ++r) {
      _mm_prefetch(reinterpret_cast<const char*>(C + r * ldc), _MM_HINT_T0);
      _mm_prefetch(reinterpret_cast<const char*>(C + r * ldc + 16), _MM_HINT_T0);
    }
  }
  __m512 f0[MR], f1[MR];
  for (int r = 0; r < MR; ++r) f0[r] = f1[r] = _mm512_setzero_ps();
  const __m512i zero = _mm512_setzero_si512();
  for (int blk = 0; blk < kc / 32; ++blk) {
    const __m512i n0 = _mm512_sub_epi32(zero, _mm512_loadu_si512(bsum + blk * 32));
    const __m512i n1 = _mm512_sub_epi32(zero, _mm512_loadu_si512(bsum + blk * 32 + 16));
    __m512i i0[MR], i1[MR];
    for (int r = 0; r < MR; ++r) {
      i0[r] = n0;
      i1[r] = n1;
    }
    const int8_t* b = B + size_t(blk) * 32 * 32;
    const uint8_t* a = A + blk * 32;
#pragma GCC unroll 8
    for (int q = 0; q < 8; ++q) {
      const __m512i b0 = _mm512_loadu_si512(b + q * 128);
      const __m512i b1 = _mm512_loadu_si512(b + q * 128 + 64);
#pragma GCC unroll 6
      for (int r = 0; r < MR; ++r) {
        const __m512i av = bcast_quad(a + r * lda + q * 4);
        i0[r] = _mm512_dpbusd_epi32(i0[r], av, b0);
        i1[r] = _mm512_dpbusd_epi32(i1[r], av, b1);
      }
    }
    const __m512 s0 = _mm512_loadu_ps(bs + blk * 32), s1 = _mm512_loadu_ps(bs + blk * 32 + 16);
#pragma GCC unroll 6
    for (int r = 0; r < MR; ++r) {
      const __m512 d = _mm512_set1_ps(as[r * lds + blk]);
      f0[r] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(i0[r]), _mm512_mul_ps(s0, d), f0[r]);
      f1[r] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(i1[r]), _mm512_mul_ps(s1, d), f1[r]);
    }
  }
  const __mmask16 m0 = lane_mask(n_valid), m1 = lane_mask(n_valid - 16);
  if (accumulate) {
    for (int r = 0; r < MR; ++r) {
      float* c = C + r * ldc;
      _mm512_mask_storeu_ps(c, m0, _mm512_add_ps(f0[r], _mm512_maskz_loadu_ps(m0, c)));
      _mm512_mask_storeu_ps(c + 16, m1, _mm512_add_ps(f1[r], _mm512_maskz_loadu_ps(m1, c + 16)));
    }
  } else {
    const __m512 bb0 = bias ? _mm512_maskz_loadu_ps(m0, bias) : _mm512_setzero_ps();
    const __m512 bb1 = bias ? _mm512_maskz_loadu_ps(m1, bias + 16) : _mm512_setzero_ps();
    for (int r = 0; r < MR; ++r) {
      _mm512_mask_storeu_ps(C + r * ldc, m0, _mm512_add_ps(f0[r], bb0));
      _mm512_mask_storeu_ps(C + r * ldc + 16, m1, _mm512_add_ps(f1[r], bb1));
    }
  }
}

using TileFn = void (*)(const uint8_t*, int64_t, const float*, int64_t, const int8_t*, const float*, const int32_t*,
                        int, float*, int64_t, int, const float*, bool);
const TileFn kTail[kMR] = {nullptr, tile<1>, tile<2>, tile<3>, tile<4>, tile<5>};

}  // namespace

void panel_i8dot_avx512(const PanelArgs& p) {
  const uint8_t* A = static_cast<const uint8_t*>(p.a);
  const int8_t* B = static_cast<const int8_t*>(p.b);
  int64_t m = 0;
  for (; m + kMR <= p.m; m += kMR)
    tile<kMR>(A + m * p.lda, p.lda, p.a_scale + m * p.lda_scale, p.lda_scale, B, p.b_scale, p.b_sum, p.kc,
              p.c + m * p.ldc, p.ldc, p.n_valid, p.bias, p.accumulate);
  if (m < p.m)
    kTail[p.m - m](A + m * p.lda, p.lda, p.a_scale + m * p.lda_scale, p.lda_scale, B, p.b_scale, p.b_sum, p.kc,
                   p.c + m * p.ldc, p.ldc, p.n_valid, p.bias, p.accumulate);
}

void quantize_rows_u8_avx512(const float* x, int64_t ldx, int64_t rows, int K, int k_pad, uint8_t* dst,
                             float* scales) {
  const int nb = k_pad / 32;
  const __m512 sign = _mm512_set1_ps(-0.0f);
  const __m512i lo = _mm512_set1_epi32(-127), hi = _mm512_set1_epi32(127), off = _mm512_set1_epi32(128);
  for (int64_t r = 0; r < rows; ++r) {
    const float* s = x + r * ldx;
    for (int b = 0; b < nb; ++b) {
      const int k = b * 32;
      const __m512 v0 = _mm512_maskz_loadu_ps(lane_mask(K - k), s + k);
      const __m512 v1 = _mm512_maskz_loadu_ps(lane_mask(K - k - 16), s + k + 16);
      const float amax = _mm512_reduce_max_ps(_mm512_max_ps(_mm512_andnot_ps(sign, v0), _mm512_andnot_ps(sign, v1)));
      const float d = amax / 127.f;
      const float id = d >= 0x1p-126f ? 1.f / d : 0.f;  // as quantize_block_q8
      const __m512 vid = _mm512_set1_ps(id);
      // cvtps rounds with MXCSR's mode: round to nearest even, like nearbyint.
      __m512i q0 = _mm512_cvtps_epi32(_mm512_mul_ps(v0, vid));
      __m512i q1 = _mm512_cvtps_epi32(_mm512_mul_ps(v1, vid));
      q0 = _mm512_add_epi32(_mm512_min_epi32(_mm512_max_epi32(q0, lo), hi), off);
      q1 = _mm512_add_epi32(_mm512_min_epi32(_mm512_max_epi32(q1, lo), hi), off);
      _mm_storeu_si128(reinterpret_cast<__m128i*>(dst + r * k_pad + k), _mm512_cvtepi32_epi8(q0));
      _mm_storeu_si128(reinterpret_cast<__m128i*>(dst + r * k_pad + k + 16), _mm512_cvtepi32_epi8(q1));
      scales[r * nb + b] = d;
    }
  }
}

}  // namespace gemm
}  // namespace wc
