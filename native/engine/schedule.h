// Flow-matching schedule as Self Forcing's FlowMatchScheduler(shift, sigma_min=0,
// extra_one_step=True) with 1000 inference steps: s = linspace(1, 0, N+1)[:-1],
// σ(s) = shift·s / (1 + (shift−1)·s), timesteps = σ·N (N = num_train_timesteps).
// The net predicts v = ε − x0, so x0 = x_t − σ(t)·v, where σ(t) is the table entry
// whose timestep is nearest t (upstream's lookup). Re-noising to t':
// x = (1−σ(t'))·x0 + σ(t')·ε.
#pragma once
#include <vector>

namespace wc {

class FlowMatchSchedule {
 public:
  FlowMatchSchedule(double shift, int num_train_timesteps);
  double sigma(double t) const;  // nearest-table lookup
  // The denoising step list as the sampler uses it. With warp, step k maps to
  // cat(timesteps, [0])[N − k] (so [1000, 750, 500, 250] → [1000, 937.5, 833.3, 625] at shift 5).
  std::vector<double> steps(const std::vector<double>& list, bool warp) const;
  const std::vector<double>& timesteps() const { return timesteps_; }

 private:
  int n_;
  std::vector<double> sigmas_, timesteps_;
};

}  // namespace wc
