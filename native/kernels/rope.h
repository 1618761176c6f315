// Wan 3D rotary embedding. head_dim d holds d/2 complex pairs (x[2i], x[2i+1]);
// the pairs split [c - 2(c/3), c/3, c/3] (c = d/2) over the (t, h, w) axes, each axis
// with its own θ_j = 10000^(-2j / axis_dim). The t position is the ABSOLUTE latent
// frame index; h and w are the token's row and column in the patch grid.
#pragma once
#include <cstdint>
#include <vector>

namespace wc {

struct RopeAxes {
  int c_t, c_h, c_w;  // complex pairs per axis
};
RopeAxes rope_axes(int head_dim);

// x: tokens of F frames × H × W in (f, h, w) order, row stride ld, n_heads × head_dim each.
// Rotated in place; the product is computed in double as upstream does.
void rope_apply(float* x, int64_t ld, int F, int H, int W, int64_t frame_start, int n_heads, int head_dim);

// The same by the obvious per-element formula (reference for tests).
void rope_apply_ref(float* x, int64_t ld, int F, int H, int W, int64_t frame_start, int n_heads, int head_dim);

}  // namespace wc
