// Which GemmPath a linear runs: the weight type, the ISA it is packed for, the CPU's
// dot-product extensions and, for bf16, a one-time calibration of VDPBF16PS against
// f32 FMA (its throughput differs a lot between CPUs; see DotPolicy in gemm.h).
#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <vector>

#include "core/buffer.h"
#include "kernels/gemm.h"
#include "kernels/gemm_kernels.h"

namespace wc {
namespace {

// Best-of-5 seconds of `reps` calls of one panel kernel on an L2-resident block.
double time_panel(gemm::PanelFn fn, const gemm::PanelArgs& a, int reps) {
  double best = 1e30;
  for (int t = 0; t < 5; ++t) {
    const auto t0 = std::chrono::steady_clock::now();
    for (int r = 0; r < reps; ++r) fn(a);
    best = std::min(best, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  return best;
}

// 28 rows × 512 k × 32 columns through the f32 kernel and the bf16 dot kernel
// (operands are small normal numbers; contents do not affect the timing).
bool calibrate_bf16_dot() {
  constexpr int M = 28, K = 512, NR = 32;
  FloatBuffer af(size_t(M) * K), bf(size_t(K) * NR), c(size_t(M) * NR);
  AlignedBuffer<uint16_t> ah(size_t(M) * K), bh(size_t(K) * NR);
  for (size_t i = 0; i < af.size(); ++i) af[i] = 0.25f + float(i % 7) * 0.01f;
  for (size_t i = 0; i < bf.size(); ++i) bf[i] = 0.5f - float(i % 5) * 0.01f;
  for (size_t i = 0; i < ah.size(); ++i) ah[i] = 0x3e80;  // 0.25
  for (size_t i = 0; i < bh.size(); ++i) bh[i] = 0x3f00;  // 0.5
  gemm::PanelArgs a{};
  a.m = M;
  a.kc = K;
  a.lda = K;
  a.c = c.data();
  a.ldc = NR;
  a.n_valid = NR;
  a.a = af.data();
  a.b = bf.data();
  const double t_f32 = time_panel(gemm::panel_f32_avx512, a, 20);
  a.a = ah.data();
  a.b = bh.data();
  const double t_dot = time_panel(gemm::panel_bf16dot_avx512, a, 20);
  return t_f32 >= 1.2 * t_dot;
}

}  // namespace

bool bf16_dot_pays() {
  static const bool pays = [] {
    if (const char* e = std::getenv("WORLDCAST_BF16_DOT")) return e[0] == '1';
    const CpuFeatures& f = cpu_features();
    if (!f.avx512_bf16 || best_isa() != Isa::Avx512) return false;
    return calibrate_bf16_dot();
  }();
  return pays;
}

GemmPath gemm_path_for(Isa isa, WeightType wt, DotPolicy dot) {
  const CpuFeatures& f = cpu_features();
  const bool dot512 = dot != DotPolicy::Never && isa == Isa::Avx512;
  if (dot512 && f.amx && (dot == DotPolicy::Auto || dot == DotPolicy::Amx) && wt != WeightType::F32)
    return wt == WeightType::BF16 ? GemmPath::Bf16Amx : GemmPath::I8Amx;
  switch (wt) {
    case WeightType::BF16:
      return dot512 && f.avx512_bf16 && (dot == DotPolicy::Always || dot == DotPolicy::Amx || bf16_dot_pays())
                 ? GemmPath::Bf16Dot
                 : GemmPath::Bf16Widen;
    case WeightType::I8: return dot512 && f.avx512_vnni ? GemmPath::I8Dot : GemmPath::I8Widen;
    default: return GemmPath::F32;
  }
}

}  // namespace wc
