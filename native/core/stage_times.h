// Wall-clock seconds per forward stage, accumulated by the model forward and read by
// the engine's profiler. Stages: gemm, attention, norm (layer/RMS norms + modulation),
// rope (q/k RMSNorm fused with the 3D RoPE), other (patchify, time embedding,
// residual/gating, unpatchify, KV commit).
#pragma once
#include <chrono>

namespace wc {

enum class Stage { Gemm = 0, Attention, Norm, Rope, Other, Count };

struct StageTimes {
  double sec[int(Stage::Count)] = {0, 0, 0, 0, 0};
  void add(const StageTimes& o) {
    for (int i = 0; i < int(Stage::Count); ++i) sec[i] += o.sec[i];
  }
  double total() const {
    double t = 0;
    for (double s : sec) t += s;
    return t;
  }
};

// Adds the scope's duration to one stage (no-op when times is null).
class StageTimer {
 public:
  StageTimer(StageTimes* t, Stage s) : t_(t), s_(s) {
    if (t_) start_ = std::chrono::steady_clock::now();
  }
  ~StageTimer() {
    if (t_) t_->sec[int(s_)] += std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  }

 private:
  StageTimes* t_;
  Stage s_;
  std::chrono::steady_clock::time_point start_;
};

inline const char* stage_name(Stage s) {
  switch (s) {
    case Stage::Gemm: return "gemm";
    case Stage::Attention: return "attention";
    case Stage::Norm: return "norm";
    case Stage::Rope: return "rope";
    default: return "other";
  }
}

}  // namespace wc
