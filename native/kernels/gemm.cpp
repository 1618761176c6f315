#include "kernels/gemm.h"

#include <algorithm>
#include <cstring>

#include "core/error.h"
#include "kernels/activations.h"

namespace wc {

int panel_width(Isa isa) {
  switch (isa) {
    case Isa::Avx512: return 32;
    case Isa::Avx2: return 16;
    default: return 8;
  }
}

void pack_linear(const float* W, const float* bias, int N, int K, Isa isa, PackedLinear& out) {
  if (N <= 0 || K <= 0) fail(ErrorKind::Shape, "pack_linear: empty matrix");
  out.in = K;
  out.out = N;
  out.isa = isa;
  out.nr = panel_width(isa);
  const int nr = out.nr;
  const int np = out.n_panels();
  out.panels.resize(size_t(np) * K * nr);
  out.panels.zero();
  for (int p = 0; p < np; ++p) {
    float* dst = out.panels.data() + size_t(p) * K * nr;
    for (int j = 0; j < nr; ++j) {
      int n = p * nr + j;
      if (n >= N) break;
      const float* src = W + size_t(n) * K;
      for (int k = 0; k < K; ++k) dst[size_t(k) * nr + j] = src[k];
    }
  }
  out.bias.resize(N);
  if (bias) std::memcpy(out.bias.data(), bias, sizeof(float) * N);
  else out.bias.zero();
}

void apply_epilogue(float* y, int64_t n, Epilogue ep) {
  if (ep == Epilogue::GeluTanh) gelu_tanh_inplace(y, n);
  else if (ep == Epilogue::Silu) silu_inplace(y, n);
}

void gemm_panel_scalar(const float* A, int64_t lda, int64_t M, const float* panel, int K, float* C, int64_t ldc,
                       int n_valid, const float* bias) {
  constexpr int nr = 8;
  for (int64_t m = 0; m < M; ++m) {
    float acc[nr] = {0, 0, 0, 0, 0, 0, 0, 0};
    const float* a = A + m * lda;
    for (int k = 0; k < K; ++k) {
      const float av = a[k];
      const float* b = panel + size_t(k) * nr;
      for (int j = 0; j < nr; ++j) acc[j] += av * b[j];
    }
    for (int j = 0; j < n_valid; ++j) C[m * ldc + j] = acc[j] + bias[j];
  }
}

void linear(const float* x, int64_t M, int64_t ldx, const PackedLinear& w, float* y, int64_t ldy,
            ThreadPool* pool, Epilogue ep) {
  if (M <= 0) return;
  PanelKernel kernel = gemm_panel_scalar;
  if (w.isa == Isa::Avx512) kernel = gemm_panel_avx512;
  else if (w.isa == Isa::Avx2) kernel = gemm_panel_avx2;
  const int nr = w.nr, K = w.in, N = w.out;
  const int np = w.n_panels();
  // Row blocks keep a block of x hot while several panels stream past it.
  const int64_t rb = 96;
  const int64_t n_rb = (M + rb - 1) / rb;
  // Group panels per task so each task has a few hundred kFLOP at least.
  int group = 1;
  while (group < np && int64_t(group) * nr * K * std::min<int64_t>(M, rb) < (1 << 17)) group *= 2;
  const int n_groups = (np + group - 1) / group;
  auto task = [&](int64_t t, int) {
    const int64_t r = t % n_rb;
    const int g = int(t / n_rb);
    const int64_t m0 = r * rb, m1 = std::min(M, m0 + rb);
    for (int p = g * group; p < std::min(np, (g + 1) * group); ++p) {
      const int n0 = p * nr;
      const int nv = std::min(nr, N - n0);
      kernel(x + m0 * ldx, ldx, m1 - m0, w.panels.data() + size_t(p) * K * nr, K, y + m0 * ldy + n0, ldy, nv,
             w.bias.data() + n0);
      if (ep != Epilogue::None)
        for (int64_t m = m0; m < m1; ++m) apply_epilogue(y + m * ldy + n0, nv, ep);
    }
  };
  const int64_t n_tasks = n_rb * n_groups;
  if (pool && n_tasks > 1) pool->parallel_for(n_tasks, task);
  else for (int64_t t = 0; t < n_tasks; ++t) task(t, 0);
}

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

}  // namespace wc
