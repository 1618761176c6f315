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

void conv_tile_avx512(const float* in, int64_t cs, int cin, const int64_t* taps, int ntaps, const float* wp,
                      float* tile) {
  tile_kernel<8, 3>(in, cs, cin, taps, ntaps, wp, tile);
}

void conv_tile_avx512_narrow(const float* in, int64_t cs, int cin, const int64_t* taps, int ntaps, const float* wp,
                             float* tile) {
  tile_kernel<4, 6>(in, cs, cin, taps, ntaps, wp, tile);
}

}  // namespace wc
