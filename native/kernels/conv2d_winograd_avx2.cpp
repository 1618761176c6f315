// AVX2+FMA pieces of the Winograd F(4x4, 3x3) convolution (see conv2d.h): transforms on 8
// channels per ymm, a 6 x 16 GEMM tile (12 accumulators), the 8 x 8 transposing HWC fill.
// Compiled with -mavx2 -mfma only in this translation unit; used after the CPU probe.
#include <immintrin.h>

#include <algorithm>
#include <cstring>

#include "kernels/conv2d.h"

namespace wc {

namespace {

// The column transforms of conv2d_winograd.cpp's bt_col / at_col, the same operations.
inline void bt_col(const __m256 d[6], __m256 t[6]) {
  const __m256 four = _mm256_set1_ps(4.0f), five = _mm256_set1_ps(5.0f), two = _mm256_set1_ps(2.0f);
  const __m256 a = _mm256_fnmadd_ps(four, d[2], d[4]), b = _mm256_fnmadd_ps(four, d[1], d[3]);
  const __m256 c = _mm256_sub_ps(d[4], d[2]), e = _mm256_mul_ps(two, _mm256_sub_ps(d[3], d[1]));
  t[0] = _mm256_add_ps(_mm256_fmsub_ps(four, d[0], _mm256_mul_ps(five, d[2])), d[4]);
  t[1] = _mm256_add_ps(a, b);
  t[2] = _mm256_sub_ps(a, b);
  t[3] = _mm256_add_ps(c, e);
  t[4] = _mm256_sub_ps(c, e);
  t[5] = _mm256_add_ps(_mm256_fmsub_ps(four, d[1], _mm256_mul_ps(five, d[3])), d[5]);
}

inline void at_col(const __m256 m[6], __m256 o[4]) {
  const __m256 s12 = _mm256_add_ps(m[1], m[2]), d12 = _mm256_sub_ps(m[1], m[2]);
  const __m256 s34 = _mm256_add_ps(m[3], m[4]), d34 = _mm256_sub_ps(m[3], m[4]);
  o[0] = _mm256_add_ps(_mm256_add_ps(m[0], s12), s34);
  o[1] = _mm256_add_ps(d12, _mm256_mul_ps(_mm256_set1_ps(2.0f), d34));
  o[2] = _mm256_add_ps(s12, _mm256_mul_ps(_mm256_set1_ps(4.0f), s34));
  o[3] = _mm256_add_ps(_mm256_add_ps(d12, _mm256_mul_ps(_mm256_set1_ps(8.0f), d34)), m[5]);
}

void input_avx2(const float* hwc, int64_t Wq, int cin_p, int ty, int tx, float* V, int64_t vs) {
  for (int c0 = 0; c0 < cin_p; c0 += 8) {
    const float* base = hwc + (int64_t(4 * ty) * Wq + 4 * tx) * cin_p + c0;
    __m256 tmp[6][6];
    for (int l = 0; l < 6; ++l) {
      __m256 d[6], t[6];
      for (int k = 0; k < 6; ++k) d[k] = _mm256_loadu_ps(base + (k * Wq + l) * cin_p);
      bt_col(d, t);
      for (int i = 0; i < 6; ++i) tmp[i][l] = t[i];
    }
    for (int i = 0; i < 6; ++i) {
      __m256 t[6];
      bt_col(tmp[i], t);
      for (int j = 0; j < 6; ++j) _mm256_storeu_ps(V + (i * 6 + j) * vs + c0, t[j]);
    }
  }
}

// M rows [r, r + 6) x columns [co, co + 16) (two ymm) or [co, co + 8) (one). Named
// accumulators, not arrays: with arrays GCC stores all twelve to the stack every step.
inline void gemm_tile16(const float* V, const float* U, float* M, int cin_p, int cout_p) {
  __m256 a00 = _mm256_setzero_ps(), a01 = a00, a10 = a00, a11 = a00, a20 = a00, a21 = a00;
  __m256 a30 = a00, a31 = a00, a40 = a00, a41 = a00, a50 = a00, a51 = a00;
  const float *v0 = V, *v1 = V + cin_p, *v2 = v1 + cin_p, *v3 = v2 + cin_p, *v4 = v3 + cin_p, *v5 = v4 + cin_p;
  for (int c = 0; c < cin_p; ++c, U += cout_p) {
    const __m256 u0 = _mm256_loadu_ps(U), u1 = _mm256_loadu_ps(U + 8);
#define WC_ROW(r)                                     \
  {                                                   \
    const __m256 x = _mm256_broadcast_ss(v##r + c);   \
    a##r##0 = _mm256_fmadd_ps(x, u0, a##r##0);        \
    a##r##1 = _mm256_fmadd_ps(x, u1, a##r##1);        \
  }
    WC_ROW(0) WC_ROW(1) WC_ROW(2) WC_ROW(3) WC_ROW(4) WC_ROW(5)
#undef WC_ROW
  }
#define WC_STORE(r)                                           \
  _mm256_storeu_ps(M + int64_t(r) * cout_p, a##r##0);         \
  _mm256_storeu_ps(M + int64_t(r) * cout_p + 8, a##r##1);
  WC_STORE(0) WC_STORE(1) WC_STORE(2) WC_STORE(3) WC_STORE(4) WC_STORE(5)
#undef WC_STORE
}

inline void gemm_tile8(const float* V, const float* U, float* M, int cin_p, int cout_p) {
  __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0;
  const float *v0 = V, *v1 = V + cin_p, *v2 = v1 + cin_p, *v3 = v2 + cin_p, *v4 = v3 + cin_p, *v5 = v4 + cin_p;
  for (int c = 0; c < cin_p; ++c, U += cout_p) {
    const __m256 u = _mm256_loadu_ps(U);
    a0 = _mm256_fmadd_ps(_mm256_broadcast_ss(v0 + c), u, a0);
    a1 = _mm256_fmadd_ps(_mm256_broadcast_ss(v1 + c), u, a1);
    a2 = _mm256_fmadd_ps(_mm256_broadcast_ss(v2 + c), u, a2);
    a3 = _mm256_fmadd_ps(_mm256_broadcast_ss(v3 + c), u, a3);
    a4 = _mm256_fmadd_ps(_mm256_broadcast_ss(v4 + c), u, a4);
    a5 = _mm256_fmadd_ps(_mm256_broadcast_ss(v5 + c), u, a5);
  }
  _mm256_storeu_ps(M, a0);
  _mm256_storeu_ps(M + cout_p, a1);
  _mm256_storeu_ps(M + 2 * int64_t(cout_p), a2);
  _mm256_storeu_ps(M + 3 * int64_t(cout_p), a3);
  _mm256_storeu_ps(M + 4 * int64_t(cout_p), a4);
  _mm256_storeu_ps(M + 5 * int64_t(cout_p), a5);
}

void gemm_avx2(const float* V, const float* U, float* M, int rows, int cin_p, int cout_p) {
  for (int r = 0; r < rows; r += 6) {
    const float* v = V + int64_t(r) * cin_p;
    float* m = M + int64_t(r) * cout_p;
    int co = 0;
    for (; co + 16 <= cout_p; co += 16) gemm_tile16(v, U + co, m + co, cin_p, cout_p);
    if (co < cout_p) gemm_tile8(v, U + co, m + co, cin_p, cout_p);
  }
}

void output_avx2(const float* M, int64_t ms, int cout, const float* bias, int ty, int tx, int H, int W,
                 float* out, const float* residual, bool relu) {
  const int ny = std::min(4, H - 4 * ty), nx = std::min(4, W - 4 * tx);
  const int64_t HW = int64_t(H) * W;
  const __m128 zero = _mm_setzero_ps();
  for (int co0 = 0; co0 < cout; co0 += 8) {
    __m256 tmp[4][6];
    for (int j = 0; j < 6; ++j) {
      __m256 m[6], o[4];
      for (int i = 0; i < 6; ++i) m[i] = _mm256_loadu_ps(M + (i * 6 + j) * ms + co0);
      at_col(m, o);
      for (int a = 0; a < 4; ++a) tmp[a][j] = o[a];
    }
    const __m256 b = _mm256_loadu_ps(bias + co0);
    const int nco = std::min(8, cout - co0);
    for (int a = 0; a < ny; ++a) {
      __m256 y[4];
      at_col(tmp[a], y);
      for (int x = 0; x < 4; ++x) y[x] = _mm256_add_ps(y[x], b);
      // 4 pixels x 8 channels -> 8 channels x 4 pixels: lane l of q[l % 4] (low half for
      // l < 4, high half otherwise) is pixels 0..3 of channel co0 + l.
      const __m256 t0 = _mm256_unpacklo_ps(y[0], y[1]), t1 = _mm256_unpackhi_ps(y[0], y[1]);
      const __m256 t2 = _mm256_unpacklo_ps(y[2], y[3]), t3 = _mm256_unpackhi_ps(y[2], y[3]);
      const __m256 q[4] = {_mm256_shuffle_ps(t0, t2, 0x44), _mm256_shuffle_ps(t0, t2, 0xEE),
                           _mm256_shuffle_ps(t1, t3, 0x44), _mm256_shuffle_ps(t1, t3, 0xEE)};
      const int64_t row = int64_t(4 * ty + a) * W + 4 * tx;
      for (int l = 0; l < nco; ++l) {
        __m128 v = l < 4 ? _mm256_castps256_ps128(q[l]) : _mm256_extractf128_ps(q[l - 4], 1);
        const int64_t at = (co0 + l) * HW + row;
        if (nx == 4) {
          if (residual) v = _mm_add_ps(v, _mm_loadu_ps(residual + at));
          if (relu) v = _mm_max_ps(v, zero);
          _mm_storeu_ps(out + at, v);
        } else {
          alignas(16) float px[4];
          _mm_store_ps(px, v);
          for (int x = 0; x < nx; ++x) {
            float f = px[x] + (residual ? residual[at + x] : 0.0f);
            if (relu && !(f > 0.0f)) f = 0.0f;
            out[at + x] = f;
          }
        }
      }
    }
  }
}

// 8 x 8 transpose: r[k] lane x -> o[x] lane k.
inline void transpose8(const __m256 r[8], __m256 o[8]) {
  const __m256 t0 = _mm256_unpacklo_ps(r[0], r[1]), t1 = _mm256_unpackhi_ps(r[0], r[1]);
  const __m256 t2 = _mm256_unpacklo_ps(r[2], r[3]), t3 = _mm256_unpackhi_ps(r[2], r[3]);
  const __m256 t4 = _mm256_unpacklo_ps(r[4], r[5]), t5 = _mm256_unpackhi_ps(r[4], r[5]);
  const __m256 t6 = _mm256_unpacklo_ps(r[6], r[7]), t7 = _mm256_unpackhi_ps(r[6], r[7]);
  const __m256 s0 = _mm256_shuffle_ps(t0, t2, 0x44), s1 = _mm256_shuffle_ps(t0, t2, 0xEE);
  const __m256 s2 = _mm256_shuffle_ps(t1, t3, 0x44), s3 = _mm256_shuffle_ps(t1, t3, 0xEE);
  const __m256 s4 = _mm256_shuffle_ps(t4, t6, 0x44), s5 = _mm256_shuffle_ps(t4, t6, 0xEE);
  const __m256 s6 = _mm256_shuffle_ps(t5, t7, 0x44), s7 = _mm256_shuffle_ps(t5, t7, 0xEE);
  o[0] = _mm256_permute2f128_ps(s0, s4, 0x20);
  o[1] = _mm256_permute2f128_ps(s1, s5, 0x20);
  o[2] = _mm256_permute2f128_ps(s2, s6, 0x20);
  o[3] = _mm256_permute2f128_ps(s3, s7, 0x20);
  o[4] = _mm256_permute2f128_ps(s0, s4, 0x31);
  o[5] = _mm256_permute2f128_ps(s1, s5, 0x31);
  o[6] = _mm256_permute2f128_ps(s2, s6, 0x31);
  o[7] = _mm256_permute2f128_ps(s3, s7, 0x31);
}

void fill_row_avx2(const float* const* base, const bool* up2, int cin_p, int W, int y, float* row) {
  const int Wq = (W + 3) / 4 * 4 + 2;
  std::memset(row, 0, sizeof(float) * size_t(cin_p));
  std::memset(row + int64_t(W + 1) * cin_p, 0, sizeof(float) * size_t(Wq - W - 1) * size_t(cin_p));
  for (int c0 = 0; c0 < cin_p; c0 += 8) {
    // Eight channels of one kind (all present, all upsampled or none) go 8 columns at a time
    // through the transpose; the rest, and the last columns, one value at a time.
    bool uniform = true;
    for (int k = 0; k < 8; ++k) uniform = uniform && base[c0 + k] && up2[c0 + k] == up2[c0];
    const bool up = up2[c0];
    const int sw = up ? W / 2 : W;  // the source row's width
    int sx = 0;
    if (uniform) {
      const float* src[8];
      for (int k = 0; k < 8; ++k) src[k] = base[c0 + k] + (up ? int64_t(y / 2) * sw : int64_t(y) * sw);
      for (; sx + 8 <= sw; sx += 8) {
        __m256 r[8], o[8];
        for (int k = 0; k < 8; ++k) r[k] = _mm256_loadu_ps(src[k] + sx);
        transpose8(r, o);
        if (up) {
          for (int x = 0; x < 8; ++x) {
            float* px = row + int64_t(1 + 2 * (sx + x)) * cin_p + c0;
            _mm256_storeu_ps(px, o[x]);
            _mm256_storeu_ps(px + cin_p, o[x]);
          }
        } else {
          for (int x = 0; x < 8; ++x) _mm256_storeu_ps(row + int64_t(1 + sx + x) * cin_p + c0, o[x]);
        }
      }
    }
    const int x0 = up && uniform ? 2 * sx : uniform ? sx : 0;
    for (int x = x0; x < W; ++x) {
      float* px = row + int64_t(x + 1) * cin_p + c0;
      for (int k = 0; k < 8; ++k) {
        const int c = c0 + k;
        px[k] = !base[c] ? 0.0f : up2[c] ? base[c][int64_t(y / 2) * (W / 2) + x / 2] : base[c][int64_t(y) * W + x];
      }
    }
  }
}

}  // namespace

const WinogradOps winograd_avx2 = {input_avx2, gemm_avx2, output_avx2, fill_row_avx2};

}  // namespace wc
