// Winograd F(4x4, 3x3) convolution (see conv2d.h): the weight transform at pack time, the
// driver conv2d calls for ConvAlgo::Winograd, and the portable (scalar) set of its pieces.
#include <algorithm>
#include <cstring>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/error.h"
#include "kernels/conv2d.h"

namespace wc {

// Declared in conv2d.cpp's caller chain: the driver and the weight transform.
void pack_winograd(const float* W, const float* bias, int cout, int cin, PackedConv& out);
void conv2d_winograd(const ConvInput* inputs, int n_inputs, int H, int W, const PackedConv& w, float* out,
                     const float* residual, ConvAct act, ThreadPool* pool, ConvScratch& scratch);

namespace {

constexpr int kLanes = 8;  // channels per vector of the layouts (cin_p, cout_p are multiples)

int round8(int n) { return (n + kLanes - 1) / kLanes * kLanes; }

// Column transforms of F(4x4, 3x3) on kLanes channels at a time.
// Input (B^T, 6 -> 6): t0 = 4 d0 - 5 d2 + d4, t1 = (d4 - 4 d2) + (d3 - 4 d1),
// t2 = (d4 - 4 d2) - (d3 - 4 d1), t3 = (d4 - d2) + 2 (d3 - d1), t4 = (d4 - d2) - 2 (d3 - d1),
// t5 = 4 d1 - 5 d3 + d5.
inline void bt_col(const float* const d[6], float* const t[6]) {
  for (int l = 0; l < kLanes; ++l) {
    const float a = d[4][l] - 4.0f * d[2][l], b = d[3][l] - 4.0f * d[1][l];
    const float c = d[4][l] - d[2][l], e = 2.0f * (d[3][l] - d[1][l]);
    t[0][l] = 4.0f * d[0][l] - 5.0f * d[2][l] + d[4][l];
    t[1][l] = a + b;
    t[2][l] = a - b;
    t[3][l] = c + e;
    t[4][l] = c - e;
    t[5][l] = 4.0f * d[1][l] - 5.0f * d[3][l] + d[5][l];
  }
}
// Output (A^T, 6 -> 4): o0 = m0 + (m1 + m2) + (m3 + m4), o1 = (m1 - m2) + 2 (m3 - m4),
// o2 = (m1 + m2) + 4 (m3 + m4), o3 = (m1 - m2) + 8 (m3 - m4) + m5.
inline void at_col(const float* const m[6], float* const o[4]) {
  for (int l = 0; l < kLanes; ++l) {
    const float s12 = m[1][l] + m[2][l], d12 = m[1][l] - m[2][l];
    const float s34 = m[3][l] + m[4][l], d34 = m[3][l] - m[4][l];
    o[0][l] = m[0][l] + s12 + s34;
    o[1][l] = d12 + 2.0f * d34;
    o[2][l] = s12 + 4.0f * s34;
    o[3][l] = d12 + 8.0f * d34 + m[5][l];
  }
}

void input_scalar(const float* hwc, int64_t Wq, int cin_p, int ty, int tx, float* V, int64_t vs) {
  float tmp[6][6][kLanes];
  for (int c0 = 0; c0 < cin_p; c0 += kLanes) {
    const float* base = hwc + (int64_t(4 * ty) * Wq + 4 * tx) * cin_p + c0;
    for (int l = 0; l < 6; ++l) {  // each column of the patch: transform down the rows
      const float* d[6];
      float* t[6];
      for (int k = 0; k < 6; ++k) d[k] = base + (k * Wq + l) * cin_p;
      for (int i = 0; i < 6; ++i) t[i] = tmp[i][l];
      bt_col(d, t);
    }
    for (int i = 0; i < 6; ++i) {  // each row of that: transform along the columns into V
      const float* d[6];
      float* t[6];
      for (int l = 0; l < 6; ++l) d[l] = tmp[i][l];
      for (int j = 0; j < 6; ++j) t[j] = V + (i * 6 + j) * vs + c0;
      bt_col(d, t);
    }
  }
}

void gemm_scalar(const float* V, const float* U, float* M, int rows, int cin_p, int cout_p) {
  for (int t = 0; t < rows; ++t) {
    float* m = M + int64_t(t) * cout_p;
    std::memset(m, 0, sizeof(float) * size_t(cout_p));
    const float* v = V + int64_t(t) * cin_p;
    for (int c = 0; c < cin_p; ++c) {
      const float x = v[c];
      const float* u = U + int64_t(c) * cout_p;
      for (int co = 0; co < cout_p; ++co) m[co] += x * u[co];
    }
  }
}

void output_scalar(const float* M, int64_t ms, int cout, const float* bias, int ty, int tx, int H, int W,
                   float* out, const float* residual, bool relu) {
  const int ny = std::min(4, H - 4 * ty), nx = std::min(4, W - 4 * tx);
  const int64_t HW = int64_t(H) * W;
  float tmp[4][6][kLanes], y[4][4][kLanes];
  for (int co0 = 0; co0 < cout; co0 += kLanes) {
    for (int j = 0; j < 6; ++j) {
      const float* m[6];
      float* o[4];
      for (int i = 0; i < 6; ++i) m[i] = M + (i * 6 + j) * ms + co0;
      for (int a = 0; a < 4; ++a) o[a] = tmp[a][j];
      at_col(m, o);
    }
    for (int a = 0; a < 4; ++a) {
      const float* m[6];
      float* o[4];
      for (int j = 0; j < 6; ++j) m[j] = tmp[a][j];
      for (int b = 0; b < 4; ++b) o[b] = y[a][b];
      at_col(m, o);
    }
    const int nco = std::min(kLanes, cout - co0);
    for (int l = 0; l < nco; ++l) {
      const int co = co0 + l;
      for (int a = 0; a < ny; ++a) {
        const int64_t at = co * HW + int64_t(4 * ty + a) * W + 4 * tx;
        for (int b = 0; b < nx; ++b) {
          float v = y[a][b][l] + bias[co];
          if (residual) v += residual[at + b];
          if (relu && !(v > 0.0f)) v = 0.0f;
          out[at + b] = v;
        }
      }
    }
  }
}

void fill_row_scalar(const float* const* base, const bool* up2, int cin_p, int W, int y, float* row) {
  const int Wq = (W + 3) / 4 * 4 + 2;
  std::memset(row, 0, sizeof(float) * size_t(cin_p));
  std::memset(row + int64_t(W + 1) * cin_p, 0, sizeof(float) * size_t(Wq - W - 1) * size_t(cin_p));
  for (int x = 0; x < W; ++x) {
    float* px = row + int64_t(x + 1) * cin_p;
    for (int c = 0; c < cin_p; ++c)
      px[c] = !base[c] ? 0.0f : up2[c] ? base[c][int64_t(y / 2) * (W / 2) + x / 2] : base[c][int64_t(y) * W + x];
  }
}

void run(ThreadPool* pool, int64_t n, const std::function<void(int64_t, int)>& fn) {
  if (n <= 0) return;
  if (pool && n > 1 && pool->size() > 1) pool->parallel_for(n, fn);
  else
    for (int64_t i = 0; i < n; ++i) fn(i, 0);
}

}  // namespace

const WinogradOps winograd_scalar = {input_scalar, gemm_scalar, output_scalar, fill_row_scalar};

void pack_winograd(const float* W, const float* bias, int cout, int cin, PackedConv& out) {
  // G (6 x 3) of F(4x4, 3x3): U = G g G^T, in double, rounded once.
  static const double G[6][3] = {{1.0 / 4, 0, 0},
                                 {-1.0 / 6, -1.0 / 6, -1.0 / 6},
                                 {-1.0 / 6, 1.0 / 6, -1.0 / 6},
                                 {1.0 / 24, 1.0 / 12, 1.0 / 6},
                                 {1.0 / 24, -1.0 / 12, 1.0 / 6},
                                 {0, 0, 1}};
  out.cin_p = round8(cin);
  out.cout_p = round8(cout);
  out.co_tile = out.px_tile = 0;
  out.kernel = nullptr;
  out.kernel_bf16 = nullptr;
  out.w = FloatBuffer();
  out.wb = AlignedBuffer<uint32_t>();
  const int cp = out.cin_p, op = out.cout_p;
  out.wu.resize(size_t(36) * cp * op);
  out.wu.zero();
  for (int co = 0; co < cout; ++co)
    for (int ci = 0; ci < cin; ++ci) {
      const float* g = W + (size_t(co) * cin + ci) * 9;
      double gg[6][3];  // G g
      for (int i = 0; i < 6; ++i)
        for (int l = 0; l < 3; ++l) gg[i][l] = G[i][0] * g[l] + G[i][1] * g[3 + l] + G[i][2] * g[6 + l];
      for (int i = 0; i < 6; ++i)
        for (int j = 0; j < 6; ++j) {
          const double u = gg[i][0] * G[j][0] + gg[i][1] * G[j][1] + gg[i][2] * G[j][2];
          out.wu[(size_t(i * 6 + j) * cp + ci) * op + co] = float(u);
        }
    }
  out.bias.resize(size_t(op));
  out.bias.zero();
  for (int co = 0; co < cout; ++co) out.bias[co] = bias ? bias[co] : 0.0f;
}

void conv2d_winograd(const ConvInput* inputs, int n_inputs, int H, int W, const PackedConv& w, float* out,
                     const float* residual, ConvAct act, ThreadPool* pool, ConvScratch& scratch) {
  const WinogradOps& ops = w.isa == Isa::Scalar ? winograd_scalar : winograd_avx2;
  const int cin = w.cin, cp = w.cin_p, op = w.cout_p;
  const int TH = (H + 3) / 4, TW = (W + 3) / 4;
  const int64_t Hq = 4 * int64_t(TH) + 2, Wq = 4 * int64_t(TW) + 2, n_tiles = int64_t(TH) * TW;
  scratch.pad.resize(size_t(Hq * Wq) * size_t(cp));
  float* hwc = scratch.pad.data();
  ThreadPool* fill_pool = int64_t(cp) * Hq * Wq >= (int64_t(1) << 16) ? pool : nullptr;
  ThreadPool* work_pool = int64_t(w.cout) * cin * 9 * H * W >= (int64_t(1) << 21) ? pool : nullptr;

  // 1. The HWC image: row yy holds input row yy - 1 (zero above and below the image).
  std::vector<const float*> chan_base(size_t(cp), nullptr);  // channel c's plane (row 0)
  std::unique_ptr<bool[]> chan_up(new bool[size_t(cp)]());
  for (int i = 0, c = 0; i < n_inputs; ++i)
    for (int j = 0; j < inputs[i].channels; ++j, ++c) {
      const ConvInput& in = inputs[i];
      chan_up[size_t(c)] = in.up2;
      chan_base[size_t(c)] = in.up2 ? in.data + int64_t(j) * (H / 2) * (W / 2) : in.data + int64_t(j) * H * W;
    }
  run(fill_pool, Hq, [&](int64_t yy, int) {
    float* row = hwc + yy * Wq * cp;
    const int64_t y = yy - 1;
    if (y < 0 || y >= H) {
      std::memset(row, 0, sizeof(float) * size_t(Wq) * size_t(cp));
      return;
    }
    ops.fill_row(chan_base.data(), chan_up.get(), cp, W, int(y), row);
  });

  // 2. Chunks of T tiles: transform, 36 GEMMs, inverse transform. T is a multiple of 6 (the
  // GEMM's rows) sized so a chunk's V and M (36 T (cp + op) floats) stay within ~256 KiB,
  // and small enough to give every thread a couple of chunks.
  const int threads = work_pool ? work_pool->size() : 1;
  int64_t T = std::max<int64_t>(6, std::min<int64_t>(48, (65536 / 36) / (cp + op) / 6 * 6));
  const int64_t per_thread_tiles = (n_tiles + 2 * threads - 1) / (2 * threads);
  T = std::max<int64_t>(6, std::min<int64_t>(T, (per_thread_tiles + 5) / 6 * 6));
  const int64_t n_chunks = (n_tiles + T - 1) / T;
  const size_t per = size_t(36) * size_t(T) * size_t(cp + op);
  scratch.wino.resize(per * size_t(threads));
  const bool relu = act == ConvAct::Relu;
  run(work_pool, n_chunks, [&](int64_t chunk, int th) {
    float* V = scratch.wino.data() + per * size_t(th);
    float* M = V + size_t(36) * size_t(T) * cp;
    const int64_t t0 = chunk * T, nt = std::min(T, n_tiles - t0), rows = (nt + 5) / 6 * 6;
    for (int64_t t = 0; t < nt; ++t) {
      const int64_t tile = t0 + t;
      ops.input(hwc, Wq, cp, int(tile / TW), int(tile % TW), V + t * cp, T * cp);
    }
    for (int64_t t = nt; t < rows; ++t)  // rows the GEMM computes past the last tile: zeros
      for (int xi = 0; xi < 36; ++xi) std::memset(V + (xi * T + t) * cp, 0, sizeof(float) * size_t(cp));
    for (int xi = 0; xi < 36; ++xi)
      ops.gemm(V + xi * T * cp, w.wu.data() + size_t(xi) * cp * op, M + xi * T * op, int(rows), cp, op);
    for (int64_t t = 0; t < nt; ++t) {
      const int64_t tile = t0 + t;
      ops.output(M + t * op, T * op, w.cout, w.bias.data(), int(tile / TW), int(tile % TW), H, W, out, residual,
                 relu);
    }
  });
}

}  // namespace wc
