// Portable scalar kernels of the gemm contract (gemm_kernels.h): the f32 panel kernel
// every CPU can run, the widening of stored bf16/int8 blocks, and the activation
// conversions of the dot paths (the reference their AVX-512 twins must match exactly).
#include <cstring>

#include "core/dtype.h"
#include "kernels/gemm.h"
#include "kernels/gemm_kernels.h"

namespace wc {
namespace gemm {

void panel_f32_scalar(const PanelArgs& p) {
  constexpr int nr = 8;
  const float* A = static_cast<const float*>(p.a);
  const float* B = static_cast<const float*>(p.b);
  for (int64_t m = 0; m < p.m; ++m) {
    float acc[nr] = {0, 0, 0, 0, 0, 0, 0, 0};
    const float* a = A + m * p.lda;
    for (int k = 0; k < p.kc; ++k) {
      const float av = a[k];
      const float* b = B + size_t(k) * nr;
      for (int j = 0; j < nr; ++j) acc[j] += av * b[j];
    }
    float* c = p.c + m * p.ldc;
    for (int j = 0; j < p.n_valid; ++j) {
      if (p.accumulate) c[j] += acc[j];
      else c[j] = p.bias ? acc[j] + p.bias[j] : acc[j];
    }
  }
}

void widen_bf16_scalar(const uint16_t* src, int64_t n, float* dst) {
  for (int64_t i = 0; i < n; ++i) dst[i] = bf16_to_f32(src[i]);
}

void widen_i8_scalar(const int8_t* q, const float* scales, int kc, int nr, float* dst) {
  for (int k = 0; k < kc; ++k) {
    const float* s = scales + size_t(k / kQ8Block) * nr;
    for (int j = 0; j < nr; ++j) dst[size_t(k) * nr + j] = float(q[size_t(k) * nr + j]) * s[j];
  }
}

// RNE like f32_to_bf16, but denormal inputs become ±0 as VCVTNE2PS2BF16 does.
static uint16_t bf16_daz(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  if ((u & 0x7f800000u) == 0) return uint16_t((u >> 16) & 0x8000u);
  return f32_to_bf16(f);
}

void convert_rows_bf16_scalar(const float* x, int64_t ldx, int64_t rows, int K, int k_pad, uint16_t* dst) {
  for (int64_t r = 0; r < rows; ++r) {
    uint16_t* d = dst + r * k_pad;
    for (int k = 0; k < K; ++k) d[k] = bf16_daz(x[r * ldx + k]);
    for (int k = K; k < k_pad; ++k) d[k] = 0;
  }
}

void widen_i8_bf16pairs_scalar(const int8_t* q, const float* scales, int kc, int nr, uint16_t* dst) {
  for (int k = 0; k < kc; ++k) {
    const float* s = scales + size_t(k / kQ8Block) * nr;
    for (int j = 0; j < nr; ++j) {
      const size_t i = (size_t(k / 2) * nr + j) * 2 + (k & 1);
      dst[i] = bf16_daz(float(q[i]) * s[j]);
    }
  }
}

void quantize_rows_u8_scalar(const float* x, int64_t ldx, int64_t rows, int K, int k_pad, uint8_t* dst,
                             float* scales) {
  const int nb = k_pad / kQ8Block;
  int8_t q[kQ8Block];
  for (int64_t r = 0; r < rows; ++r) {
    for (int b = 0; b < nb; ++b) {
      const int k0 = b * kQ8Block;
      const int len = K - k0 <= 0 ? 0 : K - k0 < kQ8Block ? K - k0 : kQ8Block;
      scales[r * nb + b] = quantize_block_q8(x + r * ldx + k0, len, q);
      for (int i = 0; i < kQ8Block; ++i) dst[r * k_pad + k0 + i] = uint8_t(int(q[i]) + 128);
    }
  }
}

}  // namespace gemm
}  // namespace wc
