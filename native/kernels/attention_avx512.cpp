// AVX-512F attention block kernel (FlashAttention-2 style). Per key tile of 64 keys:
//  - Sᵀ = K·Qᵀ as a register-blocked micro-kernel (8 keys × 48 queries, 24 accumulators):
//    key rows are read in place from the page (one broadcast per key and head element),
//    queries come pre-transposed per block, so the softmax runs down columns with no
//    horizontal reductions;
//  - online softmax with a vector exp, P written in the layout its P·V product needs;
//  - O += P·V as a second micro-kernel (6 queries × 64 head elements), value rows read in
//    place, with the softmax correction fused into its read-modify-write of O.
// bf16 / int8 pages use the AVX512_BF16 / AVX512_VNNI tile pieces when the CPU has them
// (attention_avx512_bf16.cpp, attention_avx512_vnni.cpp), else their tiles are widened to
// f32 (exact: bf16 values, int8 integers) and run through the f32 micro-kernels with the
// same numerics. Compiled with -mavx512f -mavx512bw; called only when the CPU has them.
#include <immintrin.h>

#include <cstring>

#include "kernels/attention_tile.h"
#include "kernels/exp_avx512.h"

namespace wc {
namespace {

// Local helpers instead of std:: templates/inlines: code in this TU is compiled for
// AVX-512 and must not be merged (ODR) with baseline copies used elsewhere.
inline int mini(int a, int b) { return a < b ? a : b; }


// Sᵀ[j][i0 + 0..16C) for the keys j < n (rows of K at kbase + j·kstride, the last row
// repeated past n): raw dot products × qmul[i] (if given) × kmul_j, where kmul_j is
// kmul[j·kmul_stride] if kmul is given, else `scale`.
template <int C>
void scores_chunk(const float* qt, int nqp, int i0, const float* kbase, int64_t kstride, int n, int hd,
                  float* st, float scale, const float* kmul, int64_t kmul_stride, const float* qmul) {
  for (int j = 0; j < n; j += 8) {
    const float* kr[8];
    for (int r = 0; r < 8; ++r) kr[r] = kbase + mini(j + r, n - 1) * kstride;
    __m512 acc[8][C];
    for (int r = 0; r < 8; ++r)
      for (int c = 0; c < C; ++c) acc[r][c] = _mm512_setzero_ps();
    const float* qd = qt + i0;
    for (int d = 0; d < hd; ++d, qd += nqp) {
      __m512 qv[C];
      for (int c = 0; c < C; ++c) qv[c] = _mm512_load_ps(qd + 16 * c);
      for (int r = 0; r < 8; ++r) {
        const __m512 kb = _mm512_set1_ps(kr[r][d]);
        for (int c = 0; c < C; ++c) acc[r][c] = _mm512_fmadd_ps(kb, qv[c], acc[r][c]);
      }
    }
    const int rows = mini(8, n - j);
    for (int r = 0; r < rows; ++r) {
      const __m512 km = _mm512_set1_ps(kmul ? kmul[(j + r) * kmul_stride] : scale);
      float* dst = st + (j + r) * nqp + i0;
      for (int c = 0; c < C; ++c) {
        __m512 s = acc[r][c];
        if (qmul) s = _mm512_mul_ps(s, _mm512_load_ps(qmul + i0 + 16 * c));
        _mm512_store_ps(dst + 16 * c, _mm512_mul_ps(s, km));
      }
    }
  }
}

void scores_f32(const AttnWork& w, const float* qt, const float* kbase, int64_t kstride, int n, int hd, float* st,
                float scale, const float* kmul, int64_t kmul_stride, const float* qmul) {
  const int nqp = w.nqp;
  int i0 = 0;
  for (; i0 + 48 <= nqp; i0 += 48) scores_chunk<3>(qt, nqp, i0, kbase, kstride, n, hd, st, scale, kmul, kmul_stride, qmul);
  if (nqp - i0 == 32) scores_chunk<2>(qt, nqp, i0, kbase, kstride, n, hd, st, scale, kmul, kmul_stride, qmul);
  else if (nqp - i0 == 16) scores_chunk<1>(qt, nqp, i0, kbase, kstride, n, hd, st, scale, kmul, kmul_stride, qmul);
}

// O[i][dc..dc+16V) = O·corr[i] + post[i]·Σ_j P[j][i] v_j[dc..] for rows i0..i0+R.
template <int V, int R>
inline void pv_rows(AttnWork& w, const float* P, int i0, const float* vbase, int64_t vstride, int n, int dc, int hd) {
  const int nqp = w.nqp;
  __m512 acc[R][V];
  for (int r = 0; r < R; ++r)
    for (int c = 0; c < V; ++c) acc[r][c] = _mm512_setzero_ps();
  const float* vj = vbase + dc;
  const float* pj = P + i0;
  for (int j = 0; j < n; ++j, vj += vstride, pj += nqp) {
    __m512 vv[V];
    for (int c = 0; c < V; ++c) vv[c] = _mm512_loadu_ps(vj + 16 * c);
    for (int r = 0; r < R; ++r) {
      const __m512 pb = _mm512_set1_ps(pj[r]);
      for (int c = 0; c < V; ++c) acc[r][c] = _mm512_fmadd_ps(pb, vv[c], acc[r][c]);
    }
  }
  for (int r = 0; r < R; ++r) {
    float* o = w.o + (i0 + r) * hd + dc;
    const __m512 cr = _mm512_set1_ps(w.corr[i0 + r]), po = _mm512_set1_ps(w.post[i0 + r]);
    for (int c = 0; c < V; ++c)
      _mm512_storeu_ps(o + 16 * c, _mm512_fmadd_ps(acc[r][c], po, _mm512_mul_ps(_mm512_loadu_ps(o + 16 * c), cr)));
  }
}

template <int V>
void pv_cols(AttnWork& w, const float* P, int nq, const float* vbase, int64_t vstride, int n, int dc, int hd) {
  int i = 0;
  for (; i + 6 <= nq; i += 6) pv_rows<V, 6>(w, P, i, vbase, vstride, n, dc, hd);
  switch (nq - i) {
    case 5: pv_rows<V, 5>(w, P, i, vbase, vstride, n, dc, hd); break;
    case 4: pv_rows<V, 4>(w, P, i, vbase, vstride, n, dc, hd); break;
    case 3: pv_rows<V, 3>(w, P, i, vbase, vstride, n, dc, hd); break;
    case 2: pv_rows<V, 2>(w, P, i, vbase, vstride, n, dc, hd); break;
    case 1: pv_rows<V, 1>(w, P, i, vbase, vstride, n, dc, hd); break;
    default: break;
  }
}

void pv_f32(AttnWork& w, int nq, const float* vbase, int64_t vstride, int n, int hd) {
  int dc = 0;
  for (; dc + 64 <= hd; dc += 64) pv_cols<4>(w, w.p, nq, vbase, vstride, n, dc, hd);
  switch ((hd - dc) / 16) {
    case 3: pv_cols<3>(w, w.p, nq, vbase, vstride, n, dc, hd); break;
    case 2: pv_cols<2>(w, w.p, nq, vbase, vstride, n, dc, hd); break;
    case 1: pv_cols<1>(w, w.p, nq, vbase, vstride, n, dc, hd); break;
    default: break;
  }
}

enum class PForm { F32, Bf16Pairs, Bf16Round, U8Quads, U8Values };

inline __m512i bf16_bits(__m512 p) {  // round to nearest even; p is finite and >= 0
  const __m512i u = _mm512_castps_si512(p);
  const __m512i lsb = _mm512_and_si512(_mm512_srli_epi32(u, 16), _mm512_set1_epi32(1));
  return _mm512_srli_epi32(_mm512_add_epi32(_mm512_add_epi32(u, _mm512_set1_epi32(0x7fff)), lsb), 16);
}

// Online softmax over Sᵀ (w.st) for the tile's n keys; sets m, l, corr, post and P (w.p).
// vscale/vscale_stride: the int8 value scales of the tile's keys.
void softmax(AttnWork& w, int n, PForm form, const float* vscale, int64_t vscale_stride) {
  const int nqp = w.nqp;
  float* st = w.st;
  uint32_t* p32 = reinterpret_cast<uint32_t*>(w.p);
  for (int i0 = 0; i0 < nqp; i0 += 16) {
    const __m512 mo = _mm512_load_ps(w.m + i0);
    __m512 mx = mo;
    for (int j = 0; j < n; ++j) mx = _mm512_max_ps(mx, _mm512_load_ps(st + j * nqp + i0));
    const __m512 corr = exp512(_mm512_sub_ps(mo, mx));
    _mm512_store_ps(w.m + i0, mx);
    _mm512_store_ps(w.corr + i0, corr);
    __m512 sum = _mm512_setzero_ps();
    __m512 post = _mm512_set1_ps(1.f);
    switch (form) {
      case PForm::F32:
        for (int j = 0; j < n; ++j) {
          const __m512 p = exp512(_mm512_sub_ps(_mm512_load_ps(st + j * nqp + i0), mx));
          _mm512_store_ps(w.p + j * nqp + i0, p);
          sum = _mm512_add_ps(sum, p);
        }
        break;
      case PForm::Bf16Round:
      case PForm::Bf16Pairs: {
        __m512i lo = _mm512_setzero_si512();
        for (int j = 0; j < n; ++j) {
          const __m512i h = bf16_bits(exp512(_mm512_sub_ps(_mm512_load_ps(st + j * nqp + i0), mx)));
          sum = _mm512_add_ps(sum, _mm512_castsi512_ps(_mm512_slli_epi32(h, 16)));
          if (form == PForm::Bf16Round) {
            _mm512_store_ps(w.p + j * nqp + i0, _mm512_castsi512_ps(_mm512_slli_epi32(h, 16)));
          } else if (j % 2 == 0) {
            lo = h;
            if (j == n - 1) _mm512_store_si512(p32 + (j / 2) * nqp + i0, lo);
          } else {
            _mm512_store_si512(p32 + (j / 2) * nqp + i0, _mm512_or_si512(lo, _mm512_slli_epi32(h, 16)));
          }
        }
        break;
      }
      case PForm::U8Quads:
      case PForm::U8Values: {
        __m512 wmax = _mm512_setzero_ps();
        for (int j = 0; j < n; ++j) {
          const __m512 p = exp512(_mm512_sub_ps(_mm512_load_ps(st + j * nqp + i0), mx));
          sum = _mm512_add_ps(sum, p);
          const __m512 wv = _mm512_mul_ps(p, _mm512_set1_ps(vscale[j * vscale_stride]));
          _mm512_store_ps(st + j * nqp + i0, wv);
          wmax = _mm512_max_ps(wmax, wv);
        }
        const __mmask16 pos = _mm512_cmp_ps_mask(wmax, _mm512_setzero_ps(), _CMP_GT_OQ);
        const __m512 inv = _mm512_maskz_div_ps(pos, _mm512_set1_ps(255.f), wmax);
        post = _mm512_div_ps(wmax, _mm512_set1_ps(255.f));
        __m512i quad = _mm512_setzero_si512();
        for (int j = 0; j < n; ++j) {
          __m512i u = _mm512_cvtps_epi32(_mm512_mul_ps(_mm512_load_ps(st + j * nqp + i0), inv));
          u = _mm512_min_epi32(u, _mm512_set1_epi32(255));
          if (form == PForm::U8Values) {
            _mm512_store_ps(w.p + j * nqp + i0, _mm512_cvtepi32_ps(u));
          } else {
            quad = j % 4 == 0 ? u : _mm512_or_si512(quad, _mm512_slli_epi32(u, 8 * (j % 4)));
            if (j % 4 == 3 || j == n - 1) _mm512_store_si512(p32 + (j / 4) * nqp + i0, quad);
          }
        }
        break;
      }
    }
    _mm512_store_ps(w.l + i0, _mm512_fmadd_ps(_mm512_load_ps(w.l + i0), corr, sum));
    _mm512_store_ps(w.post + i0, post);
  }
}

}  // namespace

void attn_block_avx512(const AttnBlock& b, AttnWork& w) {
  const int hd = b.head_dim;
  const int64_t hoff = int64_t(b.head) * hd;
  for (int t = 0; t < b.n_tiles; ++t) {
    const AttnKeyTile& kt = b.tiles[t];
    const KvSpan& s = b.spans[kt.span];
    const int n = kt.n;
    const int64_t row0 = kt.j0 * s.stride + hoff;
    switch (s.type) {
      case KvType::F32: {
        const float* k = static_cast<const float*>(s.k) + row0;
        const float* v = static_cast<const float*>(s.v) + row0;
        scores_f32(w, w.qt, k, s.stride, n, hd, w.st, b.scale, nullptr, 0, nullptr);
        softmax(w, n, PForm::F32, nullptr, 0);
        pv_f32(w, b.nq, v, s.stride, n, hd);
        break;
      }
      case KvType::BF16:
        if (b.amx) {
          attn_tile_bf16_amx(b, w, s, kt.j0, n);
        } else if (b.dot_bf16) {
          attn_scores_bf16_avx512bf16(b, w, s, kt.j0, n);
          softmax(w, n, PForm::Bf16Pairs, nullptr, 0);
          attn_pv_bf16_avx512bf16(b, w, s, kt.j0, n);
        } else {
          attn_widen_tile(s, kt.j0, n, b.head, b.n_heads, hd, w);
          scores_f32(w, w.qtb, w.kw, hd, n, hd, w.st, b.scale, nullptr, 0, nullptr);
          softmax(w, n, PForm::Bf16Round, nullptr, 0);
          pv_f32(w, b.nq, w.vw, hd, n, hd);
        }
        break;
      case KvType::I8: {
        const float* vs = s.v_scale + kt.j0 * b.n_heads + b.head;
        if (b.amx_i8) {
          attn_tile_i8_amx(b, w, s, kt.j0, n);
        } else if (b.dot_i8) {
          attn_scores_i8_avx512vnni(b, w, s, kt.j0, n);
          softmax(w, n, PForm::U8Quads, vs, b.n_heads);
          attn_pv_i8_avx512vnni(b, w, s, kt.j0, n);
        } else {
          attn_widen_tile(s, kt.j0, n, b.head, b.n_heads, hd, w);
          scores_f32(w, w.qti, w.kw, hd, n, hd, w.st, 0.f, s.k_scale + kt.j0 * b.n_heads + b.head, b.n_heads, w.qss);
          softmax(w, n, PForm::U8Values, vs, b.n_heads);
          pv_f32(w, b.nq, w.vw, hd, n, hd);
        }
        break;
      }
    }
  }
}

}  // namespace wc
