// AVX2+FMA attention tile: scores for 4 queries × 16 keys per pass from a transposed
// key tile, a vector exp, and P·V over 8-wide head slices. Compiled with -mavx2 -mfma;
// called only when the CPU has them. No std:: templates here (ODR across ISA flags).
#include <immintrin.h>

#include "kernels/attention_tile.h"

namespace wc {
namespace {

inline int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }
inline int64_t max64(int64_t a, int64_t b) { return a > b ? a : b; }

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

inline float hmax8(__m256 v) {
  __m128 m = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  m = _mm_max_ps(m, _mm_movehl_ps(m, m));
  m = _mm_max_ss(m, _mm_shuffle_ps(m, m, 1));
  return _mm_cvtss_f32(m);
}
inline float hsum8(__m256 v) {
  __m128 m = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  m = _mm_add_ps(m, _mm_movehl_ps(m, m));
  m = _mm_add_ss(m, _mm_shuffle_ps(m, m, 1));
  return _mm_cvtss_f32(m);
}

// Raw scores q·k for queries [i0, i0+R) and keys [j0, j0+16) of the tile.
template <int R>
inline void raw_scores(const AttnTile& t, AttnScratch& st, int i0, int j0) {
  const int hd = t.head_dim;
  const int64_t hoff = int64_t(t.head) * hd;
  __m256 acc[R][2];
  for (int r = 0; r < R; ++r) acc[r][0] = acc[r][1] = _mm256_setzero_ps();
  const float* q[R];
  for (int r = 0; r < R; ++r) q[r] = t.q + (i0 + r) * t.q_stride + hoff;
  for (int d = 0; d < hd; ++d) {
    const __m256 k0 = _mm256_load_ps(st.kt[d] + j0), k1 = _mm256_load_ps(st.kt[d] + j0 + 8);
    for (int r = 0; r < R; ++r) {
      const __m256 qd = _mm256_broadcast_ss(q[r] + d);
      acc[r][0] = _mm256_fmadd_ps(qd, k0, acc[r][0]);
      acc[r][1] = _mm256_fmadd_ps(qd, k1, acc[r][1]);
    }
  }
  for (int r = 0; r < R; ++r) {
    _mm256_store_ps(st.s[i0 + r] + j0, acc[r][0]);
    _mm256_store_ps(st.s[i0 + r] + j0 + 8, acc[r][1]);
  }
}

void softmax_update(const AttnTile& t, AttnScratch& st, int i, int n) {
  float* s = st.s[i];
  const int nv = (n + 7) / 8 * 8;
  for (int j = n; j < nv; ++j) s[j] = -__builtin_inff();
  const __m256 sc = _mm256_set1_ps(t.scale);
  __m256 mxv = _mm256_set1_ps(st.m[i]);
  for (int j = 0; j < nv; j += 8) {
    const __m256 v = _mm256_mul_ps(_mm256_load_ps(s + j), sc);
    _mm256_store_ps(s + j, v);
    mxv = _mm256_max_ps(mxv, v);
  }
  const float mx = hmax8(mxv);
  const float corr = __builtin_expf(st.m[i] - mx);
  const __m256 mv = _mm256_set1_ps(mx);
  __m256 sum = _mm256_setzero_ps();
  for (int j = 0; j < nv; j += 8) {
    __m256 p = exp256(_mm256_sub_ps(_mm256_load_ps(s + j), mv));
    if (j + 8 > n) {  // zero the lanes past the tile's keys
      const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
      const __m256 keep = _mm256_castsi256_ps(_mm256_cmpgt_epi32(_mm256_set1_epi32(n - j), lane));
      p = _mm256_and_ps(p, keep);
    }
    _mm256_store_ps(s + j, p);
    sum = _mm256_add_ps(sum, p);
  }
  st.l[i] = st.l[i] * corr + hsum8(sum);
  st.m[i] = mx;
  float* a = st.acc[i];
  const __m256 cv = _mm256_set1_ps(corr);
  for (int d = 0; d < t.head_dim; d += 8) _mm256_store_ps(a + d, _mm256_mul_ps(_mm256_load_ps(a + d), cv));
}

void pv(AttnScratch& st, int nq, int n, int hd) {
  for (int i = 0; i < nq; ++i) {
    float* a = st.acc[i];
    for (int d0 = 0; d0 < hd; d0 += 32) {  // 4 registers of the accumulator row at a time
      const int nd = hd - d0 < 32 ? hd - d0 : 32;
      __m256 acc[4];
      for (int c = 0; c < nd / 8; ++c) acc[c] = _mm256_load_ps(a + d0 + 8 * c);
      for (int j = 0; j < n; ++j) {
        const __m256 pj = _mm256_broadcast_ss(st.s[i] + j);
        const float* vj = st.vptr[j] + d0;
        for (int c = 0; c < nd / 8; ++c) acc[c] = _mm256_fmadd_ps(pj, _mm256_loadu_ps(vj + 8 * c), acc[c]);
      }
      for (int c = 0; c < nd / 8; ++c) _mm256_store_ps(a + d0 + 8 * c, acc[c]);
    }
  }
}

}  // namespace

void attn_tile_avx2(const AttnTile& t, AttnScratch& st) {
  if (t.head_dim % 8) {
    attn_tile_portable(t, st);
    return;
  }
  int64_t base = 0;
  for (int sp = 0; sp < t.n_spans; ++sp) {
    const KvSpan& s = t.spans[sp];
    const int64_t lo = max64(t.token_begin - base, 0), hi = min64(t.token_end - base, s.tokens);
    for (int64_t j0 = lo; j0 < hi; j0 += kKTile) {
      const int n = int(min64(kKTile, hi - j0));
      attn_load_kv(s, j0, n, t.head, t.n_heads, t.head_dim, st);
      for (int jb = 0; jb < n; jb += 16) {
        int i = 0;
        for (; i + 4 <= t.nq; i += 4) raw_scores<4>(t, st, i, jb);
        for (; i < t.nq; ++i) raw_scores<1>(t, st, i, jb);
      }
      for (int i = 0; i < t.nq; ++i) softmax_update(t, st, i, n);
      pv(st, t.nq, n, t.head_dim);
    }
    base += s.tokens;
    if (base >= t.token_end) break;
  }
}

}  // namespace wc
