// AVX-512F attention tile: scores for 4 queries × 64 keys at a time from a transposed
// key tile (16 accumulators, no horizontal sums), a vector exp, and P·V with the
// accumulator rows held in registers. Compiled with -mavx512f; called only when the
// CPU and OS support it.
#include <immintrin.h>


#include "kernels/attention_tile.h"

namespace wc {
namespace {

// Local helpers instead of std:: templates/inlines: code in this TU is compiled for
// AVX-512 and must not be merged (ODR) with baseline copies used elsewhere.
inline int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }
inline int64_t max64(int64_t a, int64_t b) { return a > b ? a : b; }
inline int clampi(int v, int lo, int hi) { return v < lo ? lo : v > hi ? hi : v; }

// exp(x) for x <= 0 in practice; Cephes-style range reduction + degree-6 polynomial,
// relative error ~2 ulp; inputs below -87 flush towards 0.
inline __m512 exp512(__m512 x) {
  x = _mm512_max_ps(x, _mm512_set1_ps(-87.3f));
  x = _mm512_min_ps(x, _mm512_set1_ps(88.7f));
  const __m512 fx = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)),
                                         _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m512 r = _mm512_fnmadd_ps(fx, _mm512_set1_ps(0.693359375f), x);
  r = _mm512_fnmadd_ps(fx, _mm512_set1_ps(-2.12194440e-4f), r);
  __m512 p = _mm512_set1_ps(1.9875691500e-4f);
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.3981999507e-3f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(8.3334519073e-3f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(4.1665795894e-2f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.6666665459e-1f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(5.0000001201e-1f));
  __m512 y = _mm512_fmadd_ps(_mm512_mul_ps(p, r), r, _mm512_add_ps(r, _mm512_set1_ps(1.f)));
  return _mm512_scalef_ps(y, fx);
}

inline float hmax(__m512 v) { return _mm512_reduce_max_ps(v); }
inline float hsum(__m512 v) { return _mm512_reduce_add_ps(v); }

template <int R>
inline void scores(const AttnTile& t, AttnScratch& st, int i0, int n) {
  const int hd = t.head_dim;
  const int64_t hoff = int64_t(t.head) * hd;
  __m512 acc[R][4];
  for (int r = 0; r < R; ++r)
    for (int c = 0; c < 4; ++c) acc[r][c] = _mm512_setzero_ps();
  const float* q[R];
  for (int r = 0; r < R; ++r) q[r] = t.q + (i0 + r) * t.q_stride + hoff;
  for (int d = 0; d < hd; ++d) {
    const float* kd = st.kt[d];
    const __m512 k0 = _mm512_load_ps(kd), k1 = _mm512_load_ps(kd + 16), k2 = _mm512_load_ps(kd + 32),
                 k3 = _mm512_load_ps(kd + 48);
    for (int r = 0; r < R; ++r) {
      const __m512 qd = _mm512_set1_ps(q[r][d]);
      acc[r][0] = _mm512_fmadd_ps(qd, k0, acc[r][0]);
      acc[r][1] = _mm512_fmadd_ps(qd, k1, acc[r][1]);
      acc[r][2] = _mm512_fmadd_ps(qd, k2, acc[r][2]);
      acc[r][3] = _mm512_fmadd_ps(qd, k3, acc[r][3]);
    }
  }
  const __m512 sc = _mm512_set1_ps(t.scale);
  for (int r = 0; r < R; ++r) {
    const int i = i0 + r;
    float* srow = st.s[i];
    __m512 mxv = _mm512_set1_ps(st.m[i]);
    for (int c = 0; c < 4; ++c) {
      const int valid = clampi(n - 16 * c, 0, 16);
      const __mmask16 mk = valid >= 16 ? __mmask16(0xffff) : __mmask16((1u << valid) - 1);
      acc[r][c] = _mm512_mask_mul_ps(_mm512_set1_ps(-__builtin_inff()), mk, acc[r][c], sc);
      mxv = _mm512_max_ps(mxv, acc[r][c]);
    }
    const float mx = hmax(mxv);
    const float corr = __builtin_expf(st.m[i] - mx);
    const __m512 mv = _mm512_set1_ps(mx);
    __m512 sum = _mm512_setzero_ps();
    for (int c = 0; c < 4; ++c) {
      const int valid = clampi(n - 16 * c, 0, 16);
      const __mmask16 mk = valid >= 16 ? __mmask16(0xffff) : __mmask16((1u << valid) - 1);
      const __m512 p = _mm512_maskz_mov_ps(mk, exp512(_mm512_sub_ps(acc[r][c], mv)));
      _mm512_store_ps(srow + 16 * c, p);
      sum = _mm512_add_ps(sum, p);
    }
    st.l[i] = st.l[i] * corr + hsum(sum);
    st.m[i] = mx;
    float* a = st.acc[i];
    const __m512 cv = _mm512_set1_ps(corr);
    for (int d = 0; d < hd; d += 16) _mm512_store_ps(a + d, _mm512_mul_ps(_mm512_load_ps(a + d), cv));
  }
}

// acc[i] += Σ_j p[i][j] · v[j] for head_dim = 16·V registers.
template <int V>
inline void pv(AttnScratch& st, int nq, int n) {
  for (int i = 0; i < nq; ++i) {
    float* a = st.acc[i];
    __m512 acc[V];
    for (int c = 0; c < V; ++c) acc[c] = _mm512_load_ps(a + 16 * c);
    const float* p = st.s[i];
    for (int j = 0; j < n; ++j) {
      const __m512 pj = _mm512_set1_ps(p[j]);
      const float* vj = st.vptr[j];
      for (int c = 0; c < V; ++c) acc[c] = _mm512_fmadd_ps(pj, _mm512_loadu_ps(vj + 16 * c), acc[c]);
    }
    for (int c = 0; c < V; ++c) _mm512_store_ps(a + 16 * c, acc[c]);
  }
}

void pv_generic(AttnScratch& st, int nq, int n, int hd) {
  for (int i = 0; i < nq; ++i) {
    float* a = st.acc[i];
    for (int j = 0; j < n; ++j) {
      const __m512 pj = _mm512_set1_ps(st.s[i][j]);
      const float* vj = st.vptr[j];
      int d = 0;
      for (; d + 16 <= hd; d += 16)
        _mm512_store_ps(a + d, _mm512_fmadd_ps(pj, _mm512_loadu_ps(vj + d), _mm512_load_ps(a + d)));
      for (; d < hd; ++d) a[d] += st.s[i][j] * vj[d];
    }
  }
}

}  // namespace

void attn_tile_avx512(const AttnTile& t, AttnScratch& st) {
  if (t.head_dim % 16) {  // odd head sizes take the portable tile
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
      int i = 0;
      for (; i + 4 <= t.nq; i += 4) scores<4>(t, st, i, n);
      for (; i < t.nq; ++i) scores<1>(t, st, i, n);
      switch (t.head_dim) {
        case 64: pv<4>(st, t.nq, n); break;
        case 128: pv<8>(st, t.nq, n); break;
        case 32: pv<2>(st, t.nq, n); break;
        default: pv_generic(st, t.nq, n, t.head_dim); break;
      }
    }
    base += s.tokens;
    if (base >= t.token_end) break;
  }
}

}  // namespace wc
