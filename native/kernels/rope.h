// Wan 3D rotary embedding. head_dim d holds d/2 complex pairs (x[2i], x[2i+1]);
// the pairs split [c - 2(c/3), c/3, c/3] (c = d/2) over the (t, h, w) axes, each axis
// with its own θ_j = 10000^(-2j / axis_dim). The t position is the ABSOLUTE latent
// frame index; h and w are the token's row and column in the patch grid.
// Angles and the rotation are computed in double, as upstream does.
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

namespace wc {

struct RopeAxes {
  int c_t, c_h, c_w;  // complex pairs per axis
};
RopeAxes rope_axes(int head_dim);

// cos/sin tables of one block layout, rebuilt only when the layout changes
// (the h/w tables depend on H, W, head_dim; the t table on frame_start and F).
class RopeTable {
 public:
  void prepare(int F, int H, int W, int64_t frame_start, int head_dim);
  int H() const { return H_; }
  size_t bytes() const {
    return (tc_.capacity() + ts_.capacity() + hc_.capacity() + hs_.capacity() + wc_.capacity() + ws_.capacity()) *
           sizeof(double);
  }
  int W() const { return W_; }
  // Rotate one token vector (n_heads × head_dim) of frame f (0-based in the block), row h, column w.
  void rotate(float* x, int n_heads, int f, int h, int w) const;

 private:
  int F_ = -1, H_ = -1, W_ = -1, hd_ = -1;
  int64_t fs_ = -1;
  RopeAxes ax_{0, 0, 0};
  std::vector<double> tc_, ts_, hc_, hs_, wc_, ws_;
};

// x: tokens of F frames × H × W in (f, h, w) order, row stride ld, rotated in place.
void rope_apply(float* x, int64_t ld, int F, int H, int W, int64_t frame_start, int n_heads, int head_dim);

// Fused q/k path for tokens of one frame f of a block: RMSNorm over the full dim with a
// learned weight (skipped when weight is null), then the rotation. x's first row is row
// row0 of the frame (rows in (h, w) order), so a frame may be done in chunks.
void rms_norm_rope(float* x, int64_t rows, int dim, int64_t ld, float eps, const float* weight, int n_heads,
                   const RopeTable& table, int f, int64_t row0 = 0);

// The same by the obvious per-element formula (reference for tests).
void rope_apply_ref(float* x, int64_t ld, int F, int H, int W, int64_t frame_start, int n_heads, int head_dim);

}  // namespace wc
