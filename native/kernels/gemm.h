// Linear layers: y[M,N] = x[M,K] · W[N,K]ᵀ + b[N], then an optional activation.
// W is packed once at load into panels of `nr` output columns ([K][nr] each, zero
// padded), the layout the SIMD micro-kernels stream. linear_ref is the plain scalar
// reference every variant is tested against.
#pragma once
#include <cstdint>

#include "core/buffer.h"
#include "core/cpu_features.h"
#include "core/thread_pool.h"

namespace wc {

enum class Epilogue : int { None = 0, GeluTanh = 1, Silu = 2 };

struct PackedLinear {
  int in = 0;   // K
  int out = 0;  // N
  int nr = 0;   // panel width
  Isa isa = Isa::Scalar;
  FloatBuffer panels;  // ceil(N/nr) * K * nr
  FloatBuffer bias;    // N (zeros when the layer has none)
  int n_panels() const { return (out + nr - 1) / nr; }
  size_t bytes() const { return (panels.size() + bias.size()) * sizeof(float); }
};

// Pack W[N,K] (row-major, as nn.Linear stores it) and bias (may be null) for `isa`.
void pack_linear(const float* W, const float* bias, int N, int K, Isa isa, PackedLinear& out);

// y = epilogue(x·Wᵀ + b). x: M rows of stride ldx (>= K); y: M rows of stride ldy (>= N).
void linear(const float* x, int64_t M, int64_t ldx, const PackedLinear& w, float* y, int64_t ldy,
            ThreadPool* pool, Epilogue ep = Epilogue::None);

// Scalar reference on the unpacked matrix (double accumulation).
void linear_ref(const float* x, int64_t M, int K, const float* W, const float* bias, int N, float* y,
                Epilogue ep = Epilogue::None);

// Apply an epilogue to n values in place (the exact formulas the kernels use).
void apply_epilogue(float* y, int64_t n, Epilogue ep);

// ISA-specific panel kernels: rows [0,M) of A times one packed panel → C columns [0,n_valid).
// Bias (n_valid values) is added; the epilogue is applied by the caller.
using PanelKernel = void (*)(const float* A, int64_t lda, int64_t M, const float* panel, int K, float* C,
                             int64_t ldc, int n_valid, const float* bias);
void gemm_panel_scalar(const float* A, int64_t lda, int64_t M, const float* panel, int K, float* C, int64_t ldc,
                       int n_valid, const float* bias);
void gemm_panel_avx2(const float* A, int64_t lda, int64_t M, const float* panel, int K, float* C, int64_t ldc,
                     int n_valid, const float* bias);
void gemm_panel_avx512(const float* A, int64_t lda, int64_t M, const float* panel, int K, float* C, int64_t ldc,
                       int n_valid, const float* bias);

int panel_width(Isa isa);  // 32 (avx512), 16 (avx2), 8 (scalar)

}  // namespace wc
