// Scalar references for linear(): the plain double-accumulated product, and the two
// round trips that say what each GemmPath multiplies (stored weights, converted
// activations). Every path is checked as linear(x, W) ≈ linear_ref(round_activations(x),
// dequantize_weights(W)) with f32-accumulation tolerance (test/kernels.test.ts).
#include <vector>

#include "core/dtype.h"
#include "kernels/gemm.h"
#include "kernels/gemm_kernels.h"

namespace wc {

void linear_ref(const float* x, int64_t M, int K, const float* W, const float* bias, int N, float* y, Epilogue ep) {
  for (int64_t m = 0; m < M; ++m) {
    for (int n = 0; n < N; ++n) {
      double acc = bias ? bias[n] : 0.0;
      for (int k = 0; k < K; ++k) acc += double(x[m * K + k]) * double(W[size_t(n) * K + k]);
      y[m * N + n] = float(acc);
    }
    apply_epilogue(y + m * N, N, ep);
  }
}

void dequantize_weights(const float* W, int N, int K, WeightType wt, float* out, GemmPath path) {
  if (wt == WeightType::BF16) {
    for (size_t i = 0; i < size_t(N) * K; ++i) out[i] = bf16_to_f32(f32_to_bf16(W[i]));
  } else if (wt == WeightType::I8) {
    int8_t q[kQ8Block];
    for (int n = 0; n < N; ++n)
      for (int k0 = 0; k0 < K; k0 += kQ8Block) {
        const int len = K - k0 < kQ8Block ? K - k0 : kQ8Block;
        const float d = quantize_block_q8(W + size_t(n) * K + k0, len, q);
        for (int i = 0; i < len; ++i) out[size_t(n) * K + k0 + i] = float(q[i]) * d;
      }
    if (path == GemmPath::I8Amx) {  // the kernel widens q·d to bf16 (denormals flushed)
      std::vector<uint16_t> row(static_cast<size_t>(K));
      for (int n = 0; n < N; ++n) {
        gemm::convert_rows_bf16_scalar(out + size_t(n) * K, K, 1, K, K, row.data());
        for (int k = 0; k < K; ++k) out[size_t(n) * K + k] = bf16_to_f32(row[k]);
      }
    }
  } else {
    for (size_t i = 0; i < size_t(N) * K; ++i) out[i] = W[i];
  }
}

void round_activations(const float* x, int64_t M, int K, GemmPath path, float* out) {
  if (path == GemmPath::Bf16Dot || gemm_path_amx(path)) {
    std::vector<uint16_t> row(size_t(K) + 1);
    for (int64_t m = 0; m < M; ++m) {
      gemm::convert_rows_bf16_scalar(x + m * K, K, 1, K, K, row.data());
      for (int k = 0; k < K; ++k) out[m * K + k] = bf16_to_f32(row[k]);
    }
  } else if (path == GemmPath::I8Dot) {
    const int kp = (K + kQ8Block - 1) / kQ8Block * kQ8Block;
    std::vector<uint8_t> row(kp);
    std::vector<float> sc(kp / kQ8Block);
    for (int64_t m = 0; m < M; ++m) {
      gemm::quantize_rows_u8_scalar(x + m * K, K, 1, K, kp, row.data(), sc.data());
      for (int k = 0; k < K; ++k) out[m * K + k] = float(int(row[k]) - 128) * sc[k / kQ8Block];
    }
  } else {
    for (int64_t i = 0; i < M * K; ++i) out[i] = x[i];
  }
}

}  // namespace wc
