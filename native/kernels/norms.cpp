#include "kernels/norms.h"

#include <cmath>

namespace wc {
namespace {

// Σ term(x[i]) in double over eight independent partial sums, then the tail: each lane is
// its own serial chain, so the loop vectorises without reassociation (a single running
// double sum is one dependent add per element, ~4 cycles each, which made the norms a
// tenth of a small block's step).
template <typename Term>
inline double lane_sum(const float* x, int n, Term term) {
  constexpr int kLanes = 8;
  double s[kLanes] = {};
  int i = 0;
  for (; i + kLanes <= n; i += kLanes)
    for (int k = 0; k < kLanes; ++k) s[k] += term(x[i + k]);
  double t = 0;
  for (int k = 0; k < kLanes; ++k) t += s[k];
  for (; i < n; ++i) t += term(x[i]);
  return t;
}

inline void moments(const float* x, int dim, double& mean, double& rstd, float eps) {
  mean = lane_sum(x, dim, [](float v) { return double(v); }) / dim;
  const double m = mean;
  const double var = lane_sum(x, dim, [m](float v) { const double d = v - m; return d * d; }) / dim;
  rstd = 1.0 / std::sqrt(var + double(eps));
}

}  // namespace

double sum_squares(const float* x, int n) {
  return lane_sum(x, n, [](float v) { return double(v) * v; });
}

void layer_norm(const float* x, int64_t rows, int dim, int64_t ld, float eps, const float* weight, const float* bias,
                float* y, int64_t ldy) {
  for (int64_t r = 0; r < rows; ++r) {
    const float* xr = x + r * ld;
    float* yr = y + r * ldy;
    double mean, rstd;
    moments(xr, dim, mean, rstd, eps);
    for (int i = 0; i < dim; ++i) {
      float n = float((xr[i] - mean) * rstd);
      if (weight) n = n * weight[i] + (bias ? bias[i] : 0.f);
      yr[i] = n;
    }
  }
}

void layer_norm_mod(const float* x, int64_t rows, int dim, int64_t ld, float eps, const float* shift,
                    const float* scale, float* y, int64_t ldy) {
  for (int64_t r = 0; r < rows; ++r) {
    const float* xr = x + r * ld;
    float* yr = y + r * ldy;
    double mean, rstd;
    moments(xr, dim, mean, rstd, eps);
    for (int i = 0; i < dim; ++i) yr[i] = float((xr[i] - mean) * rstd) * (1.f + scale[i]) + shift[i];
  }
}

void rms_norm(const float* x, int64_t rows, int dim, int64_t ld, float eps, const float* weight, float* y,
              int64_t ldy) {
  for (int64_t r = 0; r < rows; ++r) {
    const float* xr = x + r * ld;
    float* yr = y + r * ldy;
    const double rr = 1.0 / std::sqrt(sum_squares(xr, dim) / dim + double(eps));
    for (int i = 0; i < dim; ++i) yr[i] = float(xr[i] * rr) * weight[i];
  }
}

}  // namespace wc
