// AVX2+FMA micro-kernel of conv2d: 4 output channels x 24 positions (12 ymm accumulators).
// Compiled with -mavx2 -mfma only in this translation unit; called after the CPU probe.
#include <immintrin.h>

#include "kernels/conv2d.h"

namespace wc {

void conv_tile_avx2(const float* in, int64_t cs, int cin, const int64_t* taps, int ntaps, const float* wp,
                    float* tile) {
  __m256 a00 = _mm256_setzero_ps(), a01 = a00, a02 = a00, a10 = a00, a11 = a00, a12 = a00;
  __m256 a20 = a00, a21 = a00, a22 = a00, a30 = a00, a31 = a00, a32 = a00;
  // The input of the next tile (the same rows, 24 positions on) is prefetched while this
  // one computes: cin * rows streams are too many for the hardware prefetcher.
  const int rows = ntaps == 9 ? 3 : 1;
  for (int ci = 0; ci < cin; ++ci) {
    const float* ip = in + ci * cs;
    for (int r = 0; r < rows; ++r) {
      _mm_prefetch(reinterpret_cast<const char*>(ip + taps[3 * r] + 24), _MM_HINT_T0);
      _mm_prefetch(reinterpret_cast<const char*>(ip + taps[3 * r] + 40), _MM_HINT_T0);
    }
    for (int t = 0; t < ntaps; ++t, wp += 4) {
      const float* p = ip + taps[t];
      const __m256 x0 = _mm256_loadu_ps(p), x1 = _mm256_loadu_ps(p + 8), x2 = _mm256_loadu_ps(p + 16);
#define WC_ROW(r)                                      \
  {                                                    \
    const __m256 wv = _mm256_broadcast_ss(wp + r);     \
    a##r##0 = _mm256_fmadd_ps(wv, x0, a##r##0);        \
    a##r##1 = _mm256_fmadd_ps(wv, x1, a##r##1);        \
    a##r##2 = _mm256_fmadd_ps(wv, x2, a##r##2);        \
  }
      WC_ROW(0) WC_ROW(1) WC_ROW(2) WC_ROW(3)
#undef WC_ROW
    }
  }
#define WC_STORE(r)                                \
  _mm256_storeu_ps(tile + r * 24, a##r##0);        \
  _mm256_storeu_ps(tile + r * 24 + 8, a##r##1);    \
  _mm256_storeu_ps(tile + r * 24 + 16, a##r##2);
  WC_STORE(0) WC_STORE(1) WC_STORE(2) WC_STORE(3)
#undef WC_STORE
}

}  // namespace wc
