// AVX2+FMA attention block kernel: the AVX-512 one's structure at 8 lanes. Sᵀ = K·Qᵀ as a
// 6 keys × 16 queries micro-kernel (12 accumulators) with key rows read in place (f32
// pages) or from a per-tile widened copy (bf16 values / int8 integers, exact), online
// softmax down the columns, O += P·V as a 6 queries × 16 head elements micro-kernel.
// bf16/int8 numerics are those of the dot-product paths (queries rounded to bf16 or
// quantised to int8, P rounded to bf16 or quantised to u8; integer sums exact in f32).
// Compiled with -mavx2 -mfma; called only when the CPU has them.
#include <immintrin.h>

#include "kernels/attention_tile.h"

namespace wc {
namespace {

inline int mini(int a, int b) { return a < b ? a : b; }

inline __m256 exp256(__m256 x) {
  x = _mm256_max_ps(x, _mm256_set1_ps(-87.3f));
  x = _mm256_min_ps(x, _mm256_set1_ps(88.7f));
  const __m256 fx = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)),
                                    _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m256 r = _mm256_fnmadd_ps(fx, _mm256_set1_ps(0.693359375f), x);
  r = _mm256_fnmadd_ps(fx, _mm256_set1_ps(-2.12194440e-4f), r);
  __m256 p = _mm256_set1_ps(1.9875691500e-4f);
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.3981999507e-3f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(8.3334519073e-3f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(4.1665795894e-2f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.6666665459e-1f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(5.0000001201e-1f));
  __m256 y = _mm256_fmadd_ps(_mm256_mul_ps(p, r), r, _mm256_add_ps(r, _mm256_set1_ps(1.f)));
  const __m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(fx), _mm256_set1_epi32(127)), 23);
  return _mm256_mul_ps(y, _mm256_castsi256_ps(e));
}

// Sᵀ[j][i0 .. i0+16) for keys j < n; see attention_avx512.cpp scores_chunk.
void scores_chunk(const float* qt, int nqp, int i0, const float* kbase, int64_t kstride, int n, int hd, float* st,
                  float scale, const float* kmul, int64_t kmul_stride, const float* qmul) {
  // Every loop over r (and c) is fully unrolled, and the accumulators are two flat arrays,
  // so GCC keeps them in registers: with acc[6][2] and runtime-bounded loops it spilled all
  // twelve to the stack on every d (12 stores per 12 FMAs, about half the FMA rate here).
  for (int j = 0; j < n; j += 6) {
    const float* kr[6];
#pragma GCC unroll 6
    for (int r = 0; r < 6; ++r) kr[r] = kbase + mini(j + r, n - 1) * kstride;
    __m256 a0[6], a1[6];
#pragma GCC unroll 6
    for (int r = 0; r < 6; ++r) a0[r] = a1[r] = _mm256_setzero_ps();
    const float* qd = qt + i0;
    for (int d = 0; d < hd; ++d, qd += nqp) {
      const __m256 q0 = _mm256_load_ps(qd), q1 = _mm256_load_ps(qd + 8);
#pragma GCC unroll 6
      for (int r = 0; r < 6; ++r) {
        const __m256 kb = _mm256_broadcast_ss(kr[r] + d);
        a0[r] = _mm256_fmadd_ps(kb, q0, a0[r]);
        a1[r] = _mm256_fmadd_ps(kb, q1, a1[r]);
      }
    }
    const int rows = mini(6, n - j);
    __m256 qm0 = _mm256_set1_ps(1.f), qm1 = qm0;
    if (qmul) {
      qm0 = _mm256_load_ps(qmul + i0);
      qm1 = _mm256_load_ps(qmul + i0 + 8);
    }
#pragma GCC unroll 6
    for (int r = 0; r < 6; ++r) {
      if (r >= rows) break;
      const __m256 km = _mm256_set1_ps(kmul ? kmul[(j + r) * kmul_stride] : scale);
      float* dst = st + (j + r) * nqp + i0;
      _mm256_store_ps(dst, _mm256_mul_ps(_mm256_mul_ps(a0[r], qm0), km));
      _mm256_store_ps(dst + 8, _mm256_mul_ps(_mm256_mul_ps(a1[r], qm1), km));
    }
  }
}

template <int R>
inline void pv_rows(AttnWork& w, int i0, const float* vbase, int64_t vstride, int n, int dc, int hd) {
  const int nqp = w.nqp;
  __m256 a0[R], a1[R];  // flat and fully unrolled, as in scores_chunk, so they stay in registers
#pragma GCC unroll 6
  for (int r = 0; r < R; ++r) a0[r] = a1[r] = _mm256_setzero_ps();
  const float* vj = vbase + dc;
  const float* pj = w.p + i0;
  for (int j = 0; j < n; ++j, vj += vstride, pj += nqp) {
    const __m256 v0 = _mm256_loadu_ps(vj), v1 = _mm256_loadu_ps(vj + 8);
#pragma GCC unroll 6
    for (int r = 0; r < R; ++r) {
      const __m256 pb = _mm256_broadcast_ss(pj + r);
      a0[r] = _mm256_fmadd_ps(pb, v0, a0[r]);
      a1[r] = _mm256_fmadd_ps(pb, v1, a1[r]);
    }
  }
#pragma GCC unroll 6
  for (int r = 0; r < R; ++r) {
    float* o = w.o + (i0 + r) * hd + dc;
    const __m256 cr = _mm256_set1_ps(w.corr[i0 + r]), po = _mm256_set1_ps(w.post[i0 + r]);
    _mm256_storeu_ps(o, _mm256_fmadd_ps(a0[r], po, _mm256_mul_ps(_mm256_loadu_ps(o), cr)));
    _mm256_storeu_ps(o + 8, _mm256_fmadd_ps(a1[r], po, _mm256_mul_ps(_mm256_loadu_ps(o + 8), cr)));
  }
}

// One 8-wide column remainder (head_dim % 16 == 8), row by row.
inline void pv_rows8(AttnWork& w, int i, const float* vbase, int64_t vstride, int n, int dc, int hd) {
  __m256 acc = _mm256_setzero_ps();
  for (int j = 0; j < n; ++j) acc = _mm256_fmadd_ps(_mm256_broadcast_ss(w.p + j * w.nqp + i), _mm256_loadu_ps(vbase + j * vstride + dc), acc);
  float* o = w.o + i * hd + dc;
  _mm256_storeu_ps(o, _mm256_fmadd_ps(acc, _mm256_set1_ps(w.post[i]), _mm256_mul_ps(_mm256_loadu_ps(o), _mm256_set1_ps(w.corr[i]))));
}

void pv_f32(AttnWork& w, int nq, const float* vbase, int64_t vstride, int n, int hd) {
  int dc = 0;
  for (; dc + 16 <= hd; dc += 16) {
    int i = 0;
    for (; i + 6 <= nq; i += 6) pv_rows<6>(w, i, vbase, vstride, n, dc, hd);
    switch (nq - i) {
      case 5: pv_rows<5>(w, i, vbase, vstride, n, dc, hd); break;
      case 4: pv_rows<4>(w, i, vbase, vstride, n, dc, hd); break;
      case 3: pv_rows<3>(w, i, vbase, vstride, n, dc, hd); break;
      case 2: pv_rows<2>(w, i, vbase, vstride, n, dc, hd); break;
      case 1: pv_rows<1>(w, i, vbase, vstride, n, dc, hd); break;
      default: break;
    }
  }
  if (dc < hd)
    for (int i = 0; i < nq; ++i) pv_rows8(w, i, vbase, vstride, n, dc, hd);
}

enum class PForm { F32, Bf16Round, U8Values };

inline __m256 round_bf16(__m256 p) {  // round to nearest even; p is finite and >= 0
  const __m256i u = _mm256_castps_si256(p);
  const __m256i lsb = _mm256_and_si256(_mm256_srli_epi32(u, 16), _mm256_set1_epi32(1));
  const __m256i r = _mm256_add_epi32(_mm256_add_epi32(u, _mm256_set1_epi32(0x7fff)), lsb);
  return _mm256_castsi256_ps(_mm256_and_si256(r, _mm256_set1_epi32(int(0xffff0000u))));
}

void softmax(AttnWork& w, int n, PForm form, const float* vscale, int64_t vscale_stride) {
  const int nqp = w.nqp;
  float* st = w.st;
  for (int i0 = 0; i0 < nqp; i0 += 8) {
    const __m256 mo = _mm256_load_ps(w.m + i0);
    __m256 mx = mo;
    for (int j = 0; j < n; ++j) mx = _mm256_max_ps(mx, _mm256_load_ps(st + j * nqp + i0));
    const __m256 corr = exp256(_mm256_sub_ps(mo, mx));
    _mm256_store_ps(w.m + i0, mx);
    _mm256_store_ps(w.corr + i0, corr);
    __m256 sum = _mm256_setzero_ps(), post = _mm256_set1_ps(1.f);
    if (form == PForm::U8Values) {
      __m256 wmax = _mm256_setzero_ps();
      for (int j = 0; j < n; ++j) {
        const __m256 p = exp256(_mm256_sub_ps(_mm256_load_ps(st + j * nqp + i0), mx));
        sum = _mm256_add_ps(sum, p);
        const __m256 wv = _mm256_mul_ps(p, _mm256_set1_ps(vscale[j * vscale_stride]));
        _mm256_store_ps(st + j * nqp + i0, wv);
        wmax = _mm256_max_ps(wmax, wv);
      }
      const __m256 pos = _mm256_cmp_ps(wmax, _mm256_setzero_ps(), _CMP_GT_OQ);
      const __m256 inv = _mm256_and_ps(pos, _mm256_div_ps(_mm256_set1_ps(255.f), wmax));
      post = _mm256_div_ps(wmax, _mm256_set1_ps(255.f));
      for (int j = 0; j < n; ++j) {
        __m256i u = _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_load_ps(st + j * nqp + i0), inv));
        u = _mm256_min_epi32(u, _mm256_set1_epi32(255));
        _mm256_store_ps(w.p + j * nqp + i0, _mm256_cvtepi32_ps(u));
      }
    } else {
      for (int j = 0; j < n; ++j) {
        __m256 p = exp256(_mm256_sub_ps(_mm256_load_ps(st + j * nqp + i0), mx));
        if (form == PForm::Bf16Round) p = round_bf16(p);
        _mm256_store_ps(w.p + j * nqp + i0, p);
        sum = _mm256_add_ps(sum, p);
      }
    }
    _mm256_store_ps(w.l + i0, _mm256_fmadd_ps(_mm256_load_ps(w.l + i0), corr, sum));
    _mm256_store_ps(w.post + i0, post);
  }
}

void scores(const AttnWork& w, const float* qt, const float* kbase, int64_t kstride, int n, int hd, float scale,
            const float* kmul, int64_t kmul_stride, const float* qmul) {
  for (int i0 = 0; i0 < w.nqp; i0 += 16)
    scores_chunk(qt, w.nqp, i0, kbase, kstride, n, hd, const_cast<float*>(w.st), scale, kmul, kmul_stride, qmul);
}

// attn_widen_tile's values (bf16 widened exactly, int8 as its integers) 8 at a time;
// head_dim is a multiple of 8 on this path.
void widen_tile(const KvSpan& s, int64_t j0, int n, int head, int hd, AttnWork& w) {
  const int64_t hoff = int64_t(head) * hd;
  for (int j = 0; j < n; ++j) {
    const int64_t off = (j0 + j) * s.stride + hoff;
    float* kr = w.kw + j * hd;
    float* vr = w.vw + j * hd;
    if (s.type == KvType::BF16) {
      const uint16_t* k = static_cast<const uint16_t*>(s.k) + off;
      const uint16_t* v = static_cast<const uint16_t*>(s.v) + off;
      for (int d = 0; d < hd; d += 8) {
        const __m256i kh = _mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(k + d)));
        const __m256i vh = _mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(v + d)));
        _mm256_storeu_ps(kr + d, _mm256_castsi256_ps(_mm256_slli_epi32(kh, 16)));
        _mm256_storeu_ps(vr + d, _mm256_castsi256_ps(_mm256_slli_epi32(vh, 16)));
      }
    } else {
      const int8_t* k = static_cast<const int8_t*>(s.k) + off;
      const int8_t* v = static_cast<const int8_t*>(s.v) + off;
      for (int d = 0; d < hd; d += 8) {
        const __m256i kq = _mm256_cvtepi8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(k + d)));
        const __m256i vq = _mm256_cvtepi8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(v + d)));
        _mm256_storeu_ps(kr + d, _mm256_cvtepi32_ps(kq));
        _mm256_storeu_ps(vr + d, _mm256_cvtepi32_ps(vq));
      }
    }
  }
}

}  // namespace

void attn_block_avx2(const AttnBlock& b, AttnWork& w) {
  const int hd = b.head_dim;
  const int64_t hoff = int64_t(b.head) * hd;
  for (int t = 0; t < b.n_tiles; ++t) {
    const AttnKeyTile& kt = b.tiles[t];
    const KvSpan& s = b.spans[kt.span];
    const int n = kt.n;
    switch (s.type) {
      case KvType::F32: {
        const int64_t row0 = kt.j0 * s.stride + hoff;
        scores(w, w.qt, static_cast<const float*>(s.k) + row0, s.stride, n, hd, b.scale, nullptr, 0, nullptr);
        softmax(w, n, PForm::F32, nullptr, 0);
        pv_f32(w, b.nq, static_cast<const float*>(s.v) + row0, s.stride, n, hd);
        break;
      }
      case KvType::BF16:
        widen_tile(s, kt.j0, n, b.head, hd, w);
        scores(w, w.qtb, w.kw, hd, n, hd, b.scale, nullptr, 0, nullptr);
        softmax(w, n, PForm::Bf16Round, nullptr, 0);
        pv_f32(w, b.nq, w.vw, hd, n, hd);
        break;
      case KvType::I8:
        widen_tile(s, kt.j0, n, b.head, hd, w);
        scores(w, w.qti, w.kw, hd, n, hd, 0.f, s.k_scale + kt.j0 * b.n_heads + b.head, b.n_heads, w.qss);
        softmax(w, n, PForm::U8Values, s.v_scale + kt.j0 * b.n_heads + b.head, b.n_heads);
        pv_f32(w, b.nq, w.vw, hd, n, hd);
        break;
    }
  }
}

}  // namespace wc
