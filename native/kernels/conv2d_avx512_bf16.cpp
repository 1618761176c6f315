// AVX512_BF16 micro-kernels of conv2d's bf16 precision: the padded input holds pairs of
// input channels as 32-bit (bf16 of channel 2c, bf16 of channel 2c + 1) words per position,
// the packed weights the matching (w[co][2c][t], w[co][2c + 1][t]) pairs. Per pair and tap,
// NV vectors of 16 positions and one 32-bit broadcast per output channel feed VDPBF16PS,
// which adds both exact bf16 products into the f32 accumulators: half the instructions of
// the f32 kernel for the same work. Same tiles as the f32 kernels (8 x 48; 4 x 96 for at
// most 4 outputs). Compiled with -mavx512bf16 only here; called when the CPU has it.
#include <immintrin.h>

#include <cstring>

#include "kernels/conv2d.h"

namespace wc {
namespace {

inline __m512bh as_bh(__m512i v) {
  __m512bh r;
  std::memcpy(&r, &v, sizeof r);
  return r;
}

template <int CO, int NV>
inline void tile_kernel(const uint32_t* in, int64_t cs, int cpairs, const int64_t* taps, int ntaps,
                        const uint32_t* wp, float* tile) {
  __m512 acc[CO][NV];
#pragma GCC unroll 8
  for (int r = 0; r < CO; ++r)
#pragma GCC unroll 8
    for (int v = 0; v < NV; ++v) acc[r][v] = _mm512_setzero_ps();
  const int rows = ntaps == 9 ? 3 : 1;
  for (int cp = 0; cp < cpairs; ++cp) {
    const uint32_t* ip = in + cp * cs;
    for (int r = 0; r < rows; ++r)
#pragma GCC unroll 8
      for (int v = 0; v < NV; ++v)
        _mm_prefetch(reinterpret_cast<const char*>(ip + taps[3 * r] + 16 * NV + 16 * v), _MM_HINT_T0);
    for (int t = 0; t < ntaps; ++t, wp += CO) {
      const uint32_t* p = ip + taps[t];
      __m512bh x[NV];
#pragma GCC unroll 8
      for (int v = 0; v < NV; ++v) x[v] = as_bh(_mm512_loadu_si512(p + 16 * v));
#pragma GCC unroll 8
      for (int r = 0; r < CO; ++r) {
        const __m512bh wv = as_bh(_mm512_set1_epi32(int(wp[r])));
#pragma GCC unroll 8
        for (int v = 0; v < NV; ++v) acc[r][v] = _mm512_dpbf16_ps(acc[r][v], wv, x[v]);
      }
    }
  }
#pragma GCC unroll 8
  for (int r = 0; r < CO; ++r)
#pragma GCC unroll 8
    for (int v = 0; v < NV; ++v) _mm512_storeu_ps(tile + r * 16 * NV + 16 * v, acc[r][v]);
}

}  // namespace

void conv_tile_bf16_avx512(const uint32_t* in, int64_t cs, int cpairs, const int64_t* taps, int ntaps,
                           const uint32_t* wp, float* tile) {
  tile_kernel<8, 3>(in, cs, cpairs, taps, ntaps, wp, tile);
}

void conv_tile_bf16_avx512_narrow(const uint32_t* in, int64_t cs, int cpairs, const int64_t* taps, int ntaps,
                                  const uint32_t* wp, float* tile) {
  tile_kernel<4, 6>(in, cs, cpairs, taps, ntaps, wp, tile);
}

}  // namespace wc
