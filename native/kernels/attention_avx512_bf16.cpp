// AVX512_BF16 tile pieces of the AVX-512 attention block kernel, for bf16 pages read in
// place: Sᵀ = K·Qᵀ with _mm512_dpbf16_ps (queries rounded to bf16 once per block and
// stored as (even, odd) head-element pairs, key pairs broadcast straight from the page),
// and O += P·V with P rounded to bf16 (pairs of keys) against value rows interleaved in
// pairs per tile (two rows → one vector of 16 (v_j, v_j+1) pairs, no widening to f32).
// Compiled with -mavx512bf16; called only when the CPU has it.
#include <immintrin.h>

#include <cstring>

#include "kernels/attention_tile.h"

namespace wc {
namespace {

inline int mini(int a, int b) { return a < b ? a : b; }

inline __m512i bcast32(const uint16_t* p) {
  uint32_t x;
  std::memcpy(&x, p, 4);
  return _mm512_set1_epi32(int(x));
}

template <int C>
void scores_chunk(const AttnBlock& b, AttnWork& w, const uint16_t* kbase, int64_t kstride, int n, int i0) {
  const int nqp = w.nqp, hd = b.head_dim;
  for (int j = 0; j < n; j += 8) {
    const uint16_t* kr[8];
    for (int r = 0; r < 8; ++r) kr[r] = kbase + mini(j + r, n - 1) * kstride;
    __m512 acc[8][C];
    for (int r = 0; r < 8; ++r)
      for (int c = 0; c < C; ++c) acc[r][c] = _mm512_setzero_ps();
    const uint32_t* qd = w.q2 + i0;
    for (int d = 0; d < hd; d += 2, qd += nqp) {
      __m512bh qv[C];
      for (int c = 0; c < C; ++c) qv[c] = (__m512bh)_mm512_load_si512(qd + 16 * c);
      for (int r = 0; r < 8; ++r) {
        const __m512bh kb = (__m512bh)bcast32(kr[r] + d);
        for (int c = 0; c < C; ++c) acc[r][c] = _mm512_dpbf16_ps(acc[r][c], kb, qv[c]);
      }
    }
    const __m512 sc = _mm512_set1_ps(b.scale);
    const int rows = mini(8, n - j);
    for (int r = 0; r < rows; ++r)
      for (int c = 0; c < C; ++c) _mm512_store_ps(w.st + (j + r) * nqp + i0 + 16 * c, _mm512_mul_ps(acc[r][c], sc));
  }
}

template <int V, int R>
inline void pv_rows(AttnWork& w, const uint32_t* P, int i0, int n2, int dc, int hd) {
  const int nqp = w.nqp;
  __m512 acc[R][V];
  for (int r = 0; r < R; ++r)
    for (int c = 0; c < V; ++c) acc[r][c] = _mm512_setzero_ps();
  const uint32_t* vj = w.vi + dc;
  const uint32_t* pj = P + i0;
  for (int j = 0; j < n2; ++j, vj += hd, pj += nqp) {
    __m512bh vv[V];
    for (int c = 0; c < V; ++c) vv[c] = (__m512bh)_mm512_load_si512(vj + 16 * c);
    for (int r = 0; r < R; ++r) {
      const __m512bh pb = (__m512bh)_mm512_set1_epi32(int(pj[r]));
      for (int c = 0; c < V; ++c) acc[r][c] = _mm512_dpbf16_ps(acc[r][c], pb, vv[c]);
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
void pv_cols(AttnWork& w, const uint32_t* P, int nq, int n2, int dc, int hd) {
  int i = 0;
  for (; i + 6 <= nq; i += 6) pv_rows<V, 6>(w, P, i, n2, dc, hd);
  switch (nq - i) {
    case 5: pv_rows<V, 5>(w, P, i, n2, dc, hd); break;
    case 4: pv_rows<V, 4>(w, P, i, n2, dc, hd); break;
    case 3: pv_rows<V, 3>(w, P, i, n2, dc, hd); break;
    case 2: pv_rows<V, 2>(w, P, i, n2, dc, hd); break;
    case 1: pv_rows<V, 1>(w, P, i, n2, dc, hd); break;
    default: break;
  }
}

}  // namespace

void attn_scores_bf16_avx512bf16(const AttnBlock& b, AttnWork& w, const KvSpan& s, int64_t j0, int n) {
  const uint16_t* k = static_cast<const uint16_t*>(s.k) + j0 * s.stride + int64_t(b.head) * b.head_dim;
  const int nqp = w.nqp;
  int i0 = 0;
  for (; i0 + 48 <= nqp; i0 += 48) scores_chunk<3>(b, w, k, s.stride, n, i0);
  if (nqp - i0 == 32) scores_chunk<2>(b, w, k, s.stride, n, i0);
  else if (nqp - i0 == 16) scores_chunk<1>(b, w, k, s.stride, n, i0);
}

void attn_pv_bf16_avx512bf16(const AttnBlock& b, AttnWork& w, const KvSpan& s, int64_t j0, int n) {
  const int hd = b.head_dim;
  const uint16_t* v = static_cast<const uint16_t*>(s.v) + j0 * s.stride + int64_t(b.head) * hd;
  const int n2 = (n + 1) / 2;
  attn_value_pairs_avx512(v, s.stride, n, n2, hd, w.vi);
  const uint32_t* P = reinterpret_cast<const uint32_t*>(w.p);
  int dc = 0;
  for (; dc + 64 <= hd; dc += 64) pv_cols<4>(w, P, b.nq, n2, dc, hd);
  switch ((hd - dc) / 16) {
    case 3: pv_cols<3>(w, P, b.nq, n2, dc, hd); break;
    case 2: pv_cols<2>(w, P, b.nq, n2, dc, hd); break;
    case 1: pv_cols<1>(w, P, b.nq, n2, dc, hd); break;
    default: break;
  }
}

void attn_value_pairs_avx512(const uint16_t* v, int64_t stride, int n, int pairs, int hd, uint32_t* vi) {
  for (int jp = 0; jp < pairs; ++jp) {
    const uint16_t* r0 = v + mini(2 * jp, n - 1) * stride;
    const uint16_t* r1 = v + mini(2 * jp + 1, n - 1) * stride;
    uint32_t* dst = vi + jp * hd;
    for (int d = 0; d < hd; d += 16) {
      const __m512i lo = _mm512_cvtepu16_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(r0 + d)));
      const __m512i hi = _mm512_cvtepu16_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(r1 + d)));
      _mm512_store_si512(dst + d, _mm512_or_si512(lo, _mm512_slli_epi32(hi, 16)));
    }
  }
}

}  // namespace wc
