// AVX-512F panel kernel: 8 rows × 32 columns (two zmm) per micro-tile, masked edge stores.
// Compiled with -mavx512f (+bw/vl/dq); only called when the CPU and OS support it.
#include <immintrin.h>

#include <cstdint>

namespace wc {
namespace {

template <int MR>
inline void tile(const float* A, int64_t lda, const float* P, int K, float* C, int64_t ldc, int n_valid,
                 const float* bias) {
  __m512 acc[MR][2];
  for (int r = 0; r < MR; ++r) acc[r][0] = acc[r][1] = _mm512_setzero_ps();
  for (int k = 0; k < K; ++k) {
    const __m512 b0 = _mm512_load_ps(P + size_t(k) * 32);
    const __m512 b1 = _mm512_load_ps(P + size_t(k) * 32 + 16);
    for (int r = 0; r < MR; ++r) {
      const __m512 a = _mm512_set1_ps(A[r * lda + k]);
      acc[r][0] = _mm512_fmadd_ps(a, b0, acc[r][0]);
      acc[r][1] = _mm512_fmadd_ps(a, b1, acc[r][1]);
    }
  }
  const __mmask16 m0 = n_valid >= 16 ? __mmask16(0xffff) : __mmask16((1u << n_valid) - 1);
  const __mmask16 m1 = n_valid >= 32 ? __mmask16(0xffff) : n_valid > 16 ? __mmask16((1u << (n_valid - 16)) - 1) : __mmask16(0);
  const __m512 bb0 = _mm512_maskz_loadu_ps(m0, bias);
  const __m512 bb1 = _mm512_maskz_loadu_ps(m1, bias + 16);
  for (int r = 0; r < MR; ++r) {
    _mm512_mask_storeu_ps(C + r * ldc, m0, _mm512_add_ps(acc[r][0], bb0));
    _mm512_mask_storeu_ps(C + r * ldc + 16, m1, _mm512_add_ps(acc[r][1], bb1));
  }
}

}  // namespace

void gemm_panel_avx512(const float* A, int64_t lda, int64_t M, const float* panel, int K, float* C, int64_t ldc,
                       int n_valid, const float* bias) {
  int64_t m = 0;
  for (; m + 8 <= M; m += 8) tile<8>(A + m * lda, lda, panel, K, C + m * ldc, ldc, n_valid, bias);
  switch (M - m) {
    case 7: tile<7>(A + m * lda, lda, panel, K, C + m * ldc, ldc, n_valid, bias); break;
    case 6: tile<6>(A + m * lda, lda, panel, K, C + m * ldc, ldc, n_valid, bias); break;
    case 5: tile<5>(A + m * lda, lda, panel, K, C + m * ldc, ldc, n_valid, bias); break;
    case 4: tile<4>(A + m * lda, lda, panel, K, C + m * ldc, ldc, n_valid, bias); break;
    case 3: tile<3>(A + m * lda, lda, panel, K, C + m * ldc, ldc, n_valid, bias); break;
    case 2: tile<2>(A + m * lda, lda, panel, K, C + m * ldc, ldc, n_valid, bias); break;
    case 1: tile<1>(A + m * lda, lda, panel, K, C + m * ldc, ldc, n_valid, bias); break;
    default: break;
  }
}

}  // namespace wc
