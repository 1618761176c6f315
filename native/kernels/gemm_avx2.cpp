// AVX2+FMA panel kernel: 6 rows × 16 columns (two ymm) per micro-tile.
// Compiled with -mavx2 -mfma; only called when the CPU has them.
#include <immintrin.h>

#include <cstdint>

namespace wc {
namespace {

template <int MR>
inline void tile(const float* A, int64_t lda, const float* P, int K, float* C, int64_t ldc, int n_valid,
                 const float* bias) {
  __m256 acc[MR][2];
  for (int r = 0; r < MR; ++r) acc[r][0] = acc[r][1] = _mm256_setzero_ps();
  for (int k = 0; k < K; ++k) {
    const __m256 b0 = _mm256_load_ps(P + size_t(k) * 16);
    const __m256 b1 = _mm256_load_ps(P + size_t(k) * 16 + 8);
    for (int r = 0; r < MR; ++r) {
      const __m256 a = _mm256_broadcast_ss(A + r * lda + k);
      acc[r][0] = _mm256_fmadd_ps(a, b0, acc[r][0]);
      acc[r][1] = _mm256_fmadd_ps(a, b1, acc[r][1]);
    }
  }
  if (n_valid == 16) {
    const __m256 bb0 = _mm256_loadu_ps(bias), bb1 = _mm256_loadu_ps(bias + 8);
    for (int r = 0; r < MR; ++r) {
      _mm256_storeu_ps(C + r * ldc, _mm256_add_ps(acc[r][0], bb0));
      _mm256_storeu_ps(C + r * ldc + 8, _mm256_add_ps(acc[r][1], bb1));
    }
  } else {
    alignas(32) float tmp[16];
    for (int r = 0; r < MR; ++r) {
      _mm256_store_ps(tmp, acc[r][0]);
      _mm256_store_ps(tmp + 8, acc[r][1]);
      for (int j = 0; j < n_valid; ++j) C[r * ldc + j] = tmp[j] + bias[j];
    }
  }
}

}  // namespace

void gemm_panel_avx2(const float* A, int64_t lda, int64_t M, const float* panel, int K, float* C, int64_t ldc,
                     int n_valid, const float* bias) {
  int64_t m = 0;
  for (; m + 6 <= M; m += 6) tile<6>(A + m * lda, lda, panel, K, C + m * ldc, ldc, n_valid, bias);
  switch (M - m) {
    case 5: tile<5>(A + m * lda, lda, panel, K, C + m * ldc, ldc, n_valid, bias); break;
    case 4: tile<4>(A + m * lda, lda, panel, K, C + m * ldc, ldc, n_valid, bias); break;
    case 3: tile<3>(A + m * lda, lda, panel, K, C + m * ldc, ldc, n_valid, bias); break;
    case 2: tile<2>(A + m * lda, lda, panel, K, C + m * ldc, ldc, n_valid, bias); break;
    case 1: tile<1>(A + m * lda, lda, panel, K, C + m * ldc, ldc, n_valid, bias); break;
    default: break;
  }
}

}  // namespace wc
