// Normalisations, fp32 in and out with double statistics.
//   layer_norm:     (x - mean) / sqrt(var + eps) [* weight + bias]     (nn.LayerNorm, biased var)
//   layer_norm_mod: layer_norm(x, no affine) * (1 + scale) + shift     (Wan's modulated norm)
//   rms_norm:       x / sqrt(mean(x²) + eps) * weight                  (WanRMSNorm)
#pragma once
#include <cstdint>

namespace wc {

void layer_norm(const float* x, int64_t rows, int dim, int64_t ld, float eps, const float* weight, const float* bias,
                float* y, int64_t ldy);
void layer_norm_mod(const float* x, int64_t rows, int dim, int64_t ld, float eps, const float* shift,
                    const float* scale, float* y, int64_t ldy);
void rms_norm(const float* x, int64_t rows, int dim, int64_t ld, float eps, const float* weight, float* y,
              int64_t ldy);

// Σ x² in double (the statistic of rms_norm, shared with the fused rms_norm_rope).
double sum_squares(const float* x, int n);

}  // namespace wc
