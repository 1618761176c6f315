#include "kernels/rope.h"

#include <cmath>

#include "kernels/norms.h"

namespace wc {

RopeAxes rope_axes(int head_dim) {
  const int c = head_dim / 2;
  return {c - 2 * (c / 3), c / 3, c / 3};
}

namespace {

// cos/sin of positions [0, n_pos) (offset by p0) for the `n` pairs of an axis of width 2n.
void axis_table(int64_t p0, int n_pos, int n, std::vector<double>& cs, std::vector<double>& sn) {
  cs.resize(size_t(n_pos) * n);
  sn.resize(size_t(n_pos) * n);
  for (int j = 0; j < n; ++j) {
    const double inv = 1.0 / std::pow(10000.0, double(2 * j) / double(2 * n));
    for (int p = 0; p < n_pos; ++p) {
      const double a = double(p0 + p) * inv;
      cs[size_t(p) * n + j] = std::cos(a);
      sn[size_t(p) * n + j] = std::sin(a);
    }
  }
}

inline void rotate_pairs(float* x, const double* c, const double* s, int n) {
  for (int j = 0; j < n; ++j) {
    const double a = x[2 * j], b = x[2 * j + 1];
    x[2 * j] = float(a * c[j] - b * s[j]);
    x[2 * j + 1] = float(a * s[j] + b * c[j]);
  }
}

}  // namespace

void RopeTable::prepare(int F, int H, int W, int64_t frame_start, int head_dim) {
  if (head_dim != hd_ || H != H_ || W != W_) {
    hd_ = head_dim;
    H_ = H;
    W_ = W;
    ax_ = rope_axes(head_dim);
    axis_table(0, H, ax_.c_h, hc_, hs_);
    axis_table(0, W, ax_.c_w, wc_, ws_);
    F_ = -1;
  }
  if (F != F_ || frame_start != fs_) {
    F_ = F;
    fs_ = frame_start;
    axis_table(frame_start, F, ax_.c_t, tc_, ts_);
  }
}

void RopeTable::rotate(float* x, int n_heads, int f, int h, int w) const {
  const double* tc = tc_.data() + size_t(f) * ax_.c_t;
  const double* ts = ts_.data() + size_t(f) * ax_.c_t;
  const double* hc = hc_.data() + size_t(h) * ax_.c_h;
  const double* hs = hs_.data() + size_t(h) * ax_.c_h;
  const double* wcs = wc_.data() + size_t(w) * ax_.c_w;
  const double* wsn = ws_.data() + size_t(w) * ax_.c_w;
  for (int hd = 0; hd < n_heads; ++hd) {
    float* p = x + hd * hd_;
    rotate_pairs(p, tc, ts, ax_.c_t);
    rotate_pairs(p + 2 * ax_.c_t, hc, hs, ax_.c_h);
    rotate_pairs(p + 2 * (ax_.c_t + ax_.c_h), wcs, wsn, ax_.c_w);
  }
}

void rope_apply(float* x, int64_t ld, int F, int H, int W, int64_t frame_start, int n_heads, int head_dim) {
  RopeTable t;
  t.prepare(F, H, W, frame_start, head_dim);
  for (int f = 0; f < F; ++f)
    for (int h = 0; h < H; ++h)
      for (int w = 0; w < W; ++w) t.rotate(x + ((int64_t(f) * H + h) * W + w) * ld, n_heads, f, h, w);
}

void rms_norm_rope(float* x, int64_t rows, int dim, int64_t ld, float eps, const float* weight, int n_heads,
                   const RopeTable& table, int f, int64_t row0) {
  const int W = table.W();
  for (int64_t r = 0; r < rows; ++r) {
    float* xr = x + r * ld;
    if (weight) {
      const double rr = 1.0 / std::sqrt(sum_squares(xr, dim) / dim + double(eps));
      for (int i = 0; i < dim; ++i) xr[i] = float(xr[i] * rr) * weight[i];
    }
    table.rotate(xr, n_heads, f, int((row0 + r) / W), int((row0 + r) % W));
  }
}

void rope_apply_ref(float* x, int64_t ld, int F, int H, int W, int64_t frame_start, int n_heads, int head_dim) {
  const RopeAxes ax = rope_axes(head_dim);
  for (int f = 0; f < F; ++f)
    for (int h = 0; h < H; ++h)
      for (int w = 0; w < W; ++w)
        for (int hd = 0; hd < n_heads; ++hd)
          for (int pair = 0; pair < head_dim / 2; ++pair) {
            int64_t pos;
            int j, n;
            if (pair < ax.c_t) { pos = frame_start + f; j = pair; n = ax.c_t; }
            else if (pair < ax.c_t + ax.c_h) { pos = h; j = pair - ax.c_t; n = ax.c_h; }
            else { pos = w; j = pair - ax.c_t - ax.c_h; n = ax.c_w; }
            const double theta = std::pow(10000.0, -double(2 * j) / double(2 * n));
            const double a = double(pos) * theta;
            float* p = x + ((int64_t(f) * H + h) * W + w) * ld + hd * head_dim + 2 * pair;
            const double re = p[0], im = p[1];
            p[0] = float(re * std::cos(a) - im * std::sin(a));
            p[1] = float(re * std::sin(a) + im * std::cos(a));
          }
}

}  // namespace wc
