#include "kernels/rope.h"

#include <cmath>

namespace wc {

RopeAxes rope_axes(int head_dim) {
  const int c = head_dim / 2;
  return {c - 2 * (c / 3), c / 3, c / 3};
}

namespace {

// cos/sin of position p for the `n` pairs of an axis of width 2n.
void axis_table(int64_t p, int n, std::vector<double>& cs, std::vector<double>& sn) {
  cs.resize(n);
  sn.resize(n);
  for (int j = 0; j < n; ++j) {
    const double inv = 1.0 / std::pow(10000.0, double(2 * j) / double(2 * n));
    const double a = double(p) * inv;
    cs[j] = std::cos(a);
    sn[j] = std::sin(a);
  }
}

inline void rotate(float* x, double c, double s) {
  const double a = x[0], b = x[1];
  x[0] = float(a * c - b * s);
  x[1] = float(a * s + b * c);
}

}  // namespace

void rope_apply(float* x, int64_t ld, int F, int H, int W, int64_t frame_start, int n_heads, int head_dim) {
  const RopeAxes ax = rope_axes(head_dim);
  std::vector<std::vector<double>> tc(F), ts(F), hc(H), hs(H), wcs(W), wsn(W);
  for (int f = 0; f < F; ++f) axis_table(frame_start + f, ax.c_t, tc[f], ts[f]);
  for (int h = 0; h < H; ++h) axis_table(h, ax.c_h, hc[h], hs[h]);
  for (int w = 0; w < W; ++w) axis_table(w, ax.c_w, wcs[w], wsn[w]);
  for (int f = 0; f < F; ++f)
    for (int h = 0; h < H; ++h)
      for (int w = 0; w < W; ++w) {
        float* row = x + ((int64_t(f) * H + h) * W + w) * ld;
        for (int hd = 0; hd < n_heads; ++hd) {
          float* p = row + hd * head_dim;
          int pair = 0;
          for (int j = 0; j < ax.c_t; ++j, ++pair) rotate(p + 2 * pair, tc[f][j], ts[f][j]);
          for (int j = 0; j < ax.c_h; ++j, ++pair) rotate(p + 2 * pair, hc[h][j], hs[h][j]);
          for (int j = 0; j < ax.c_w; ++j, ++pair) rotate(p + 2 * pair, wcs[w][j], wsn[w][j]);
        }
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
