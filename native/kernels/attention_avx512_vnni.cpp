// AVX512_VNNI tile pieces of the AVX-512 attention block kernel, for int8 pages read in
// place: Sᵀ = K·Qᵀ with _mm512_dpbusd_epi32 (queries quantised per row to int8 once per
// block, stored as quads of head elements; key quads broadcast from the page and offset to
// u8 by xor 0x80, the offset removed with 128·Σq), scaled by the query scale and the key's
// per-token-per-head scale; and O += P·V with P·vscale quantised to u8 per row and tile
// against value rows interleaved in quads per tile (four rows → one vector of 16 quads).
// Integer sums are exact. Compiled with -mavx512vnni; called only when the CPU has it.
#include <immintrin.h>

#include <cstring>

#include "kernels/attention_tile.h"

namespace wc {
namespace {

inline int mini(int a, int b) { return a < b ? a : b; }

inline __m512i bcast32(const int8_t* p) {
  uint32_t x;
  std::memcpy(&x, p, 4);
  return _mm512_set1_epi32(int(x));
}

template <int C>
void scores_chunk(const AttnBlock& b, AttnWork& w, const KvSpan& s, const int8_t* kbase, int64_t j0, int n, int i0) {
  const int nqp = w.nqp, hd = b.head_dim;
  const __m512i x80 = _mm512_set1_epi32(int(0x80808080u));
  for (int j = 0; j < n; j += 8) {
    const int8_t* kr[8];
    for (int r = 0; r < 8; ++r) kr[r] = kbase + mini(j + r, n - 1) * s.stride;
    __m512i acc[8][C];
    for (int r = 0; r < 8; ++r)
      for (int c = 0; c < C; ++c) acc[r][c] = _mm512_setzero_si512();
    const uint32_t* qd = w.q4 + i0;
    for (int d = 0; d < hd; d += 4, qd += nqp) {
      __m512i qv[C];
      for (int c = 0; c < C; ++c) qv[c] = _mm512_load_si512(qd + 16 * c);
      for (int r = 0; r < 8; ++r) {
        const __m512i kb = _mm512_xor_si512(bcast32(kr[r] + d), x80);
        for (int c = 0; c < C; ++c) acc[r][c] = _mm512_dpbusd_epi32(acc[r][c], kb, qv[c]);
      }
    }
    const int rows = mini(8, n - j);
    for (int r = 0; r < rows; ++r) {
      const __m512 ks = _mm512_set1_ps(s.k_scale[(j0 + j + r) * b.n_heads + b.head]);
      for (int c = 0; c < C; ++c) {
        const __m512i isum = _mm512_sub_epi32(acc[r][c], _mm512_load_si512(w.qcomp + i0 + 16 * c));
        const __m512 sv = _mm512_mul_ps(_mm512_cvtepi32_ps(isum), _mm512_load_ps(w.qss + i0 + 16 * c));
        _mm512_store_ps(w.st + (j + r) * nqp + i0 + 16 * c, _mm512_mul_ps(sv, ks));
      }
    }
  }
}

template <int V, int R>
inline void pv_rows(AttnWork& w, const uint32_t* P, int i0, int n4, int dc, int hd) {
  const int nqp = w.nqp;
  __m512i acc[R][V];
  for (int r = 0; r < R; ++r)
    for (int c = 0; c < V; ++c) acc[r][c] = _mm512_setzero_si512();
  const uint32_t* vj = w.vi + dc;
  const uint32_t* pj = P + i0;
  for (int j = 0; j < n4; ++j, vj += hd, pj += nqp) {
    __m512i vv[V];
    for (int c = 0; c < V; ++c) vv[c] = _mm512_load_si512(vj + 16 * c);
    for (int r = 0; r < R; ++r) {
      const __m512i pb = _mm512_set1_epi32(int(pj[r]));
      for (int c = 0; c < V; ++c) acc[r][c] = _mm512_dpbusd_epi32(acc[r][c], pb, vv[c]);
    }
  }
  for (int r = 0; r < R; ++r) {
    float* o = w.o + (i0 + r) * hd + dc;
    const __m512 cr = _mm512_set1_ps(w.corr[i0 + r]), po = _mm512_set1_ps(w.post[i0 + r]);
    for (int c = 0; c < V; ++c)
      _mm512_storeu_ps(o + 16 * c, _mm512_fmadd_ps(_mm512_cvtepi32_ps(acc[r][c]), po,
                                                   _mm512_mul_ps(_mm512_loadu_ps(o + 16 * c), cr)));
  }
}

template <int V>
void pv_cols(AttnWork& w, const uint32_t* P, int nq, int n4, int dc, int hd) {
  int i = 0;
  for (; i + 6 <= nq; i += 6) pv_rows<V, 6>(w, P, i, n4, dc, hd);
  switch (nq - i) {
    case 5: pv_rows<V, 5>(w, P, i, n4, dc, hd); break;
    case 4: pv_rows<V, 4>(w, P, i, n4, dc, hd); break;
    case 3: pv_rows<V, 3>(w, P, i, n4, dc, hd); break;
    case 2: pv_rows<V, 2>(w, P, i, n4, dc, hd); break;
    case 1: pv_rows<V, 1>(w, P, i, n4, dc, hd); break;
    default: break;
  }
}

}  // namespace

void attn_scores_i8_avx512vnni(const AttnBlock& b, AttnWork& w, const KvSpan& s, int64_t j0, int n) {
  const int8_t* k = static_cast<const int8_t*>(s.k) + j0 * s.stride + int64_t(b.head) * b.head_dim;
  const int nqp = w.nqp;
  int i0 = 0;
  for (; i0 + 48 <= nqp; i0 += 48) scores_chunk<3>(b, w, s, k, j0, n, i0);
  if (nqp - i0 == 32) scores_chunk<2>(b, w, s, k, j0, n, i0);
  else if (nqp - i0 == 16) scores_chunk<1>(b, w, s, k, j0, n, i0);
}

void attn_pv_i8_avx512vnni(const AttnBlock& b, AttnWork& w, const KvSpan& s, int64_t j0, int n) {
  const int hd = b.head_dim;
  const int8_t* v = static_cast<const int8_t*>(s.v) + j0 * s.stride + int64_t(b.head) * hd;
  const int n4 = (n + 3) / 4;
  attn_value_quads_avx512(v, s.stride, n, n4, hd, w.vi);
  const uint32_t* P = reinterpret_cast<const uint32_t*>(w.p);
  int dc = 0;
  for (; dc + 64 <= hd; dc += 64) pv_cols<4>(w, P, b.nq, n4, dc, hd);
  switch ((hd - dc) / 16) {
    case 3: pv_cols<3>(w, P, b.nq, n4, dc, hd); break;
    case 2: pv_cols<2>(w, P, b.nq, n4, dc, hd); break;
    case 1: pv_cols<1>(w, P, b.nq, n4, dc, hd); break;
    default: break;
  }
}

void attn_value_quads_avx512(const int8_t* v, int64_t stride, int n, int quads, int hd, uint32_t* vi) {
  for (int jq = 0; jq < quads; ++jq) {
    const int8_t* r[4];
    for (int k = 0; k < 4; ++k) r[k] = v + mini(4 * jq + k, n - 1) * stride;
    uint32_t* dst = vi + jq * hd;
    for (int d = 0; d < hd; d += 16) {
      __m512i q = _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(r[0] + d)));
      for (int k = 1; k < 4; ++k)
        q = _mm512_or_si512(q, _mm512_slli_epi32(_mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(r[k] + d))), 8 * k));
      _mm512_store_si512(dst + d, q);
    }
  }
}

}  // namespace wc
