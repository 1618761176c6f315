#include "engine/schedule.h"

#include <cmath>

#include "core/error.h"

namespace wc {

FlowMatchSchedule::FlowMatchSchedule(double shift, int n) : n_(n) {
  sigmas_.resize(n);
  timesteps_.resize(n);
  for (int i = 0; i < n; ++i) {
    const double s = 1.0 - double(i) / double(n);
    const double sg = shift * s / (1.0 + (shift - 1.0) * s);
    sigmas_[i] = sg;
    timesteps_[i] = sg * n;
  }
}

double FlowMatchSchedule::sigma(double t) const {
  int best = 0;
  double bd = std::fabs(timesteps_[0] - t);
  for (int i = 1; i < n_; ++i) {
    const double d = std::fabs(timesteps_[i] - t);
    if (d < bd) { bd = d; best = i; }
  }
  return sigmas_[best];
}

std::vector<double> FlowMatchSchedule::steps(const std::vector<double>& list, bool warp) const {
  if (!warp) return list;
  std::vector<double> out;
  for (double k : list) {
    if (std::floor(k) != k || k < 0 || k > n_)
      fail(ErrorKind::Config, "warp_denoising_step needs integer steps in [0, " + std::to_string(n_) + "]");
    const int idx = n_ - int(k);
    out.push_back(idx == n_ ? 0.0 : timesteps_[idx]);
  }
  return out;
}

}  // namespace wc
