// AVX-512 micro-kernels of conv2d: co_tile output channels x 16*NV positions in zmm
// accumulators (8 x 48 normally; 4 x 96 for convs with at most 4 outputs, e.g. the RGB
// head). Compiled with -mavx512f only in this translation unit; called after the CPU probe.
#include <immintrin.h>

#include "kernels/conv2d.h"

namespace wc {
namespace {

template <int CO, int NV>
inline void tile_kernel(const float* in, int64_t cs, int cin, const int64_t* taps, int ntaps, const float* wp,
                        float* tile) {
  __m512 acc[CO][NV];
#pragma GCC unroll 8
  for (int r = 0; r < CO; ++r)
#pragma GCC unroll 8
    for (int v = 0; v < NV; ++v) acc[r][v] = _mm512_setzero_ps();
  // The input of the next tile (the same rows, 16 * NV positions on) is prefetched while
  // this one computes: cin * rows streams are too many for the hardware prefetcher.
  const int rows = ntaps == 9 ? 3 : 1;
  for (int ci = 0; ci < cin; ++ci) {
    const float* ip = in + ci * cs;
    for (int r = 0; r < rows; ++r)
#pragma GCC unroll 8
      for (int v = 0; v < NV; ++v)
        _mm_prefetch(reinterpret_cast<const char*>(ip + taps[3 * r] + 16 * NV + 16 * v), _MM_HINT_T0);
    for (int t = 0; t < ntaps; ++t, wp += CO) {
      const float* p = ip + taps[t];
      __m512 x[NV];
#pragma GCC unroll 8
      for (int v = 0; v < NV; ++v) x[v] = _mm512_loadu_ps(p + 16 * v);
#pragma GCC unroll 8
      for (int r = 0; r < CO; ++r) {
        const __m512 wv = _mm512_set1_ps(wp[r]);
#pragma GCC unroll 8
        for (int v = 0; v < NV; ++v) acc[r][v] = _mm512_fmadd_ps(wv, x[v], acc[r][v]);
      }
    }
  }
#pragma GCC unroll 8
  for (int r = 0; r < CO; ++r)
#pragma GCC unroll 8
    for (int v = 0; v < NV; ++v) _mm512_storeu_ps(tile + r * 16 * NV + 16 * v, acc[r][v]);
}

}  // namespace

void bf16_pairs_avx512(const float* a, const float* b, int64_t n, uint32_t* out) {
  // Round to nearest even in the integer domain (as f32_to_bf16 for finite values): the
  // high halves of u + 0x7fff + ((u >> 16) & 1); a's in the low 16 bits, b's in the high.
  const __m512i bias = _mm512_set1_epi32(0x7fff), one = _mm512_set1_epi32(1), hi = _mm512_set1_epi32(int(0xffff0000u));
  auto round = [&](__m512i u) { return _mm512_add_epi32(u, _mm512_add_epi32(bias, _mm512_and_si512(_mm512_srli_epi32(u, 16), one))); };
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const __m512i lo = _mm512_srli_epi32(round(_mm512_castps_si512(_mm512_loadu_ps(a + i))), 16);
    const __m512i up = b ? _mm512_and_si512(round(_mm512_castps_si512(_mm512_loadu_ps(b + i))), hi) : _mm512_setzero_si512();
    _mm512_storeu_si512(out + i, _mm512_or_si512(lo, up));
  }
  if (i < n) bf16_pairs_scalar(a + i, b ? b + i : nullptr, n - i, out + i);
}

void conv_tile_avx512(const float* in, int64_t cs, int cin, const int64_t* taps, int ntaps, const float* wp,
                      float* tile) {
  tile_kernel<8, 3>(in, cs, cin, taps, ntaps, wp, tile);
}

void conv_tile_avx512_narrow(const float* in, int64_t cs, int cin, const int64_t* taps, int ntaps, const float* wp,
                             float* tile) {
  tile_kernel<4, 6>(in, cs, cin, taps, ntaps, wp, tile);
}

}  // namespace wc
