#include "kernels/norms.h"

#include <cmath>

namespace wc {
namespace {

inline void moments(const float* x, int dim, double& mean, double& rstd, float eps) {
  double s = 0;
  for (int i = 0; i < dim; ++i) s += x[i];
  mean = s / dim;
  double v = 0;
  for (int i = 0; i < dim; ++i) {
    double d = x[i] - mean;
    v += d * d;
  }
  rstd = 1.0 / std::sqrt(v / dim + double(eps));
}

}  // namespace

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
    double s = 0;
    for (int i = 0; i < dim; ++i) s += double(xr[i]) * xr[i];
    const double rr = 1.0 / std::sqrt(s / dim + double(eps));
    for (int i = 0; i < dim; ++i) yr[i] = float(xr[i] * rr) * weight[i];
  }
}

}  // namespace wc
