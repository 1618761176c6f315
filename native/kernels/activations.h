// Activations, exactly as PyTorch defines them (GELU approximate='tanh', SiLU).
#pragma once
#include <cmath>
#include <cstdint>

namespace wc {

inline float gelu_tanh(float x) {
  const double k = 0.7978845608028654;  // sqrt(2/pi)
  double xd = x;
  return float(0.5 * xd * (1.0 + std::tanh(k * (xd + 0.044715 * xd * xd * xd))));
}
inline float silu(float x) { return float(double(x) / (1.0 + std::exp(-double(x)))); }

void gelu_tanh_inplace(float* x, int64_t n);
void silu_inplace(float* x, int64_t n);

}  // namespace wc
