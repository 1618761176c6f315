#include "kernels/norms.h"

#include <cmath>

namespace wc {
namespace {

// Eight independent double partial sums: each lane is its own serial chain, so the loop
// vectorises without reassociation (a single running double sum is one dependent add per
// element, ~4 cycles each, which made the norms a tenth of a small block's step).
constexpr int kLanes = 8;

inline void moments(const float* x, int dim, double& mean, double& rstd, float eps) {
  double s[kLanes] = {};
  int i = 0;
  for (; i + kLanes <= dim; i += kLanes)
    for (int k = 0; k < kLanes; ++k) s[k] += x[i + k];
  double t = 0;
  for (int k = 0; k < kLanes; ++k) t += s[k];
  for (; i < dim; ++i) t += x[i];
  mean = t / dim;
  double v[kLanes] = {};
  i = 0;
  for (; i + kLanes <= dim; i += kLanes)
    for (int k = 0; k < kLanes; ++k) {
      const double d = x[i + k] - mean;
      v[k] += d * d;
    }
  double u = 0;
  for (int k = 0; k < kLanes; ++k) u += v[k];
  for (; i < dim; ++i) {
    const double d = x[i] - mean;
    u += d * d;
  }
  rstd = 1.0 / std::sqrt(u / dim + double(eps));
}

}  // namespace

double sum_squares(const float* x, int n) {
  double s[kLanes] = {};
  int i = 0;
  for (; i + kLanes <= n; i += kLanes)
    for (int k = 0; k < kLanes; ++k) s[k] += double(x[i + k]) * x[i + k];
  double t = 0;
  for (int k = 0; k < kLanes; ++k) t += s[k];
  for (; i < n; ++i) t += double(x[i]) * x[i];
  return t;
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
