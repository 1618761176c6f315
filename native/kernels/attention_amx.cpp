// AMX-BF16 tile piece of the AVX-512 attention block kernel, for bf16 pages
// (attn_tile_bf16_amx, see attention_tile.h). Per key tile of up to 64 keys and a block of
// nqp queries of one head:
//  1. Kᵀ in pairs: the tile's key rows (read in place) transposed as 32-bit (even, odd)
//     element pairs, 16×16 at a time in registers → w.kt [head_dim/2][64], the B operand
//     of TDPBF16PS; the values interleaved in key pairs → w.vi [32][head_dim].
//  2. S = Q·Kᵀ: 16×16 f32 tiles, 2 query tiles × 2 key tiles per pass (4 C, 2 A, 2 B
//     registers), A = the block's bf16 query rows (w.qrow_h), stored as rows [nqp][64].
//  3. Softmax along each query's row of the tile: scaled by 1/sqrt(d), max, p = e^{s−m}
//     rounded to bf16 (VCVTNE2PS2BF16) into w.prow [nqp][64], l += Σ p̂ (a VDPBF16PS
//     against ones: the exact sum of the rounded weights). Where the tile raises a row's
//     max, that row of O and l is rescaled by e^{m_old − m_new} here (rows whose max
//     stays are not touched), so step 4 accumulates into O's tiles in place.
//  4. O += P·V: C = O's 16×16 tiles loaded in place, A = P rows (32 keys), B = value pairs.
// Keys past n are zero in Kᵀ and P; value rows past n repeat row n−1 (weight 0), so nothing
// past the span is read.
//
// attn_tile_i8_amx, the same for int8 pages with AMX-INT8 and the VNNI piece's numerics:
// S = Q8·K8ᵀ as exact int32 (TDPBSSD: the block's int8 query rows × the key tile
// transposed into quads), scaled by the query's and the key's scales; the softmax with
// w = p·vscale quantised to u8 per row against the row's largest w (rows [nqp][64]); the
// tile's Σ u·v8 as exact int32 (TDPBUSD against the value quads), then
// O = O·corr + (w*/255)·Σ in vector code (the per-row factor changes every tile, so O
// cannot stay in the tiles).
// Compiled with -mamx-tile -mamx-bf16 -mamx-int8 (+AVX-512 BF16); called only where
// cpu_features().amx (and amx_int8 for the int8 piece).
#include <immintrin.h>

#include <cmath>
#include <cstdint>
#include <cstring>

#include "kernels/amx_tiles.h"
#include "kernels/attention_tile.h"
#include "kernels/exp_avx512.h"

namespace wc {
namespace {

inline __mmask16 lane_mask(int n) { return n >= 16 ? __mmask16(0xffff) : n <= 0 ? __mmask16(0) : __mmask16((1u << n) - 1); }

// 16×16 transpose of 32-bit elements: r[i] row i in, r[c] column c out.
inline void transpose16(__m512i r[16]) {
  __m512i t[16];
  for (int i = 0; i < 8; ++i) {
    t[2 * i] = _mm512_unpacklo_epi32(r[2 * i], r[2 * i + 1]);
    t[2 * i + 1] = _mm512_unpackhi_epi32(r[2 * i], r[2 * i + 1]);
  }
  __m512i u[16];  // u[4i+c], 128-bit lane L: column 4L+c of rows 4i..4i+3
  for (int i = 0; i < 4; ++i) {
    u[4 * i] = _mm512_unpacklo_epi64(t[4 * i], t[4 * i + 2]);
    u[4 * i + 1] = _mm512_unpackhi_epi64(t[4 * i], t[4 * i + 2]);
    u[4 * i + 2] = _mm512_unpacklo_epi64(t[4 * i + 1], t[4 * i + 3]);
    u[4 * i + 3] = _mm512_unpackhi_epi64(t[4 * i + 1], t[4 * i + 3]);
  }
  for (int c = 0; c < 4; ++c) {
    const __m512i v0 = _mm512_shuffle_i32x4(u[c], u[4 + c], 0x44);
    const __m512i v1 = _mm512_shuffle_i32x4(u[c], u[4 + c], 0xEE);
    const __m512i v2 = _mm512_shuffle_i32x4(u[8 + c], u[12 + c], 0x44);
    const __m512i v3 = _mm512_shuffle_i32x4(u[8 + c], u[12 + c], 0xEE);
    r[c] = _mm512_shuffle_i32x4(v0, v2, 0x88);
    r[4 + c] = _mm512_shuffle_i32x4(v0, v2, 0xDD);
    r[8 + c] = _mm512_shuffle_i32x4(v1, v3, 0x88);
    r[12 + c] = _mm512_shuffle_i32x4(v1, v3, 0xDD);
  }
}

// Kᵀ in 32-bit groups: w.kt[c][key] = the c-th 32-bit word of key row `key` (zero past n),
// for the keys [0, 16·ceil(n/16)) and words [0, words).
inline void transpose_keys(const uint8_t* k, int64_t stride_bytes, int n, int words, AttnWork& w) {
  const int nkt = (n + 15) / 16;
  for (int kg = 0; kg < nkt * 16; kg += 16)
    for (int dg = 0; dg < words; dg += 16) {
      __m512i r[16];
      for (int i = 0; i < 16; ++i)
        r[i] = kg + i < n ? _mm512_loadu_si512(k + (kg + i) * stride_bytes + 4 * dg) : _mm512_setzero_si512();
      transpose16(r);
      for (int i = 0; i < 16; ++i) _mm512_store_si512(w.kt + (dg + i) * kKTile + kg, r[i]);
    }
}

// S = Q·Kᵀ for a block and a key tile on 16×16 tiles, 2 query tiles × 2 key tiles per pass
// (4 C, 2 A, 2 B registers): A = the block's query rows (`row_bytes` each: bf16 or int8),
// B = w.kt (one 32-bit word of each key per row), 64 bytes of each row per step; C stored
// as rows [nqp][64] (f32 for bf16, int32 for int8) into w.st.
template <bool kInt8>
void scores_tiles(const uint8_t* q, int row_bytes, int nqt, int nkt, AttnWork& w) {
  uint8_t* st = reinterpret_cast<uint8_t*>(w.st);
  constexpr int64_t kSRow = kKTile * 4;  // bytes per row of S
  for (int qt = 0; qt < nqt; qt += 2) {
    const bool two_q = qt + 1 < nqt;
    const uint8_t* a0 = q + int64_t(qt) * 16 * row_bytes;
    const uint8_t* a1 = a0 + 16 * row_bytes;
    uint8_t* s0 = st + int64_t(qt) * 16 * kSRow;
    uint8_t* s1 = s0 + 16 * kSRow;
    for (int ct = 0; ct < nkt; ct += 2) {
      const bool two_k = ct + 1 < nkt;
      _tile_zero(0);
      _tile_zero(1);
      _tile_zero(2);
      _tile_zero(3);
      for (int d = 0; d < row_bytes; d += 64) {
        const uint32_t* bk = w.kt + (d / 4) * kKTile + ct * 16;
        _tile_loadd(4, a0 + d, row_bytes);
        _tile_loadd(6, bk, kKTile * 4);
        if constexpr (kInt8) _tile_dpbssd(0, 4, 6); else _tile_dpbf16ps(0, 4, 6);
        if (two_k) {
          _tile_loadd(7, bk + 16, kKTile * 4);
          if constexpr (kInt8) _tile_dpbssd(1, 4, 7); else _tile_dpbf16ps(1, 4, 7);
        }
        if (two_q) {
          _tile_loadd(5, a1 + d, row_bytes);
          if constexpr (kInt8) _tile_dpbssd(2, 5, 6); else _tile_dpbf16ps(2, 5, 6);
          if (two_k) {
            if constexpr (kInt8) _tile_dpbssd(3, 5, 7); else _tile_dpbf16ps(3, 5, 7);
          }
        }
      }
      _tile_stored(0, s0 + ct * 64, kSRow);
      if (two_k) _tile_stored(1, s0 + ct * 64 + 64, kSRow);
      if (two_q) {
        _tile_stored(2, s1 + ct * 64, kSRow);
        if (two_k) _tile_stored(3, s1 + ct * 64 + 64, kSRow);
      }
    }
  }
}

inline __m512i bh_bits(__m512bh v) {
  __m512i r;
  std::memcpy(&r, &v, sizeof r);
  return r;
}

}  // namespace

void attn_tile_bf16_amx(const AttnBlock& b, AttnWork& w, const KvSpan& s, int64_t j0, int n) {
  const int hd = b.head_dim, hp = hd / 2, nqp = w.nqp, nqt = nqp / 16;
  const uint16_t* k = static_cast<const uint16_t*>(s.k) + j0 * s.stride + int64_t(b.head) * hd;
  const uint16_t* v = static_cast<const uint16_t*>(s.v) + j0 * s.stride + int64_t(b.head) * hd;
  const int nkt = (n + 15) / 16;  // 16-key column tiles of S
  const int nks = (n + 31) / 32;  // 32-key steps of P·V

  // 1. Kᵀ pairs and value pairs.
  transpose_keys(reinterpret_cast<const uint8_t*>(k), s.stride * 2, n, hp, w);
  attn_value_pairs_avx512(v, s.stride, n, nks * 16, hd, w.vi);
  mem_barrier();
  configure_tiles();

  // 2. S = Q·Kᵀ into w.st as rows [nqp][64].
  scores_tiles<false>(reinterpret_cast<const uint8_t*>(w.qrow_h), hd * 2, nqt, nkt, w);

  // 3. Softmax along rows; P as bf16 rows.
  const __m512 scale = _mm512_set1_ps(b.scale), neg_inf = _mm512_set1_ps(-INFINITY);
  __m512bh ones;
  {
    const __m512i one_pairs = _mm512_set1_epi32(0x3f803f80);  // (1.0, 1.0) in bf16
    std::memcpy(&ones, &one_pairs, sizeof ones);
  }
  __mmask16 km[4];
  for (int c = 0; c < 4; ++c) km[c] = lane_mask(n - 16 * c);
  for (int i = 0; i < nqp; ++i) {
    const float* srow = w.st + int64_t(i) * kKTile;
    __m512 sv[4];
    __m512 mxv = neg_inf;
    for (int c = 0; c < 4; ++c) {
      sv[c] = _mm512_mask_mul_ps(neg_inf, km[c], _mm512_load_ps(srow + 16 * c), scale);
      mxv = _mm512_max_ps(mxv, sv[c]);
    }
    const float mx = _mm512_reduce_max_ps(mxv);
    float m = w.m[i];
    if (mx > m) {  // the max moved: rescale this row's O and l (nothing yet on the first tile)
      if (m != -INFINITY) {
        const float corr = _mm512_cvtss_f32(exp512(_mm512_set1_ps(m - mx)));
        w.l[i] *= corr;
        float* o = w.o + int64_t(i) * hd;
        const __m512 cv = _mm512_set1_ps(corr);
        for (int d = 0; d < hd; d += 16) _mm512_store_ps(o + d, _mm512_mul_ps(_mm512_load_ps(o + d), cv));
      }
      m = mx;
      w.m[i] = m;
    }
    const __m512 mv = _mm512_set1_ps(m);
    __m512 p[4];
    for (int c = 0; c < 4; ++c) p[c] = _mm512_maskz_mov_ps(km[c], exp512(_mm512_sub_ps(sv[c], mv)));
    const __m512bh lo = _mm512_cvtne2ps_pbh(p[1], p[0]);
    const __m512bh hi = _mm512_cvtne2ps_pbh(p[3], p[2]);
    uint16_t* prow = w.prow + int64_t(i) * kKTile;
    _mm512_store_si512(prow, bh_bits(lo));
    _mm512_store_si512(prow + 32, bh_bits(hi));
    const __m512 sum = _mm512_dpbf16_ps(_mm512_dpbf16_ps(_mm512_setzero_ps(), lo, ones), hi, ones);
    w.l[i] += _mm512_reduce_add_ps(sum);
  }
  mem_barrier();

  // 4. O += P·V in place.
  const int64_t so = int64_t(hd) * 4;  // bytes per O row
  for (int qt = 0; qt < nqt; qt += 2) {
    const bool two_q = qt + 1 < nqt;
    float* o0 = w.o + int64_t(qt) * 16 * hd;
    float* o1 = o0 + 16 * hd;
    const uint16_t* p0 = w.prow + int64_t(qt) * 16 * kKTile;
    const uint16_t* p1 = p0 + 16 * kKTile;
    for (int dt = 0; dt < hd; dt += 32) {
      _tile_loadd(0, o0 + dt, so);
      _tile_loadd(1, o0 + dt + 16, so);
      if (two_q) {
        _tile_loadd(2, o1 + dt, so);
        _tile_loadd(3, o1 + dt + 16, so);
      }
      for (int ks = 0; ks < nks; ++ks) {
        const uint32_t* bv = w.vi + int64_t(ks) * 16 * hd + dt;
        _tile_loadd(4, p0 + ks * 32, kKTile * 2);
        _tile_loadd(6, bv, so);
        _tile_loadd(7, bv + 16, so);
        _tile_dpbf16ps(0, 4, 6);
        _tile_dpbf16ps(1, 4, 7);
        if (two_q) {
          _tile_loadd(5, p1 + ks * 32, kKTile * 2);
          _tile_dpbf16ps(2, 5, 6);
          _tile_dpbf16ps(3, 5, 7);
        }
      }
      _tile_stored(0, o0 + dt, so);
      _tile_stored(1, o0 + dt + 16, so);
      if (two_q) {
        _tile_stored(2, o1 + dt, so);
        _tile_stored(3, o1 + dt + 16, so);
      }
    }
  }
}

void attn_tile_i8_amx(const AttnBlock& b, AttnWork& w, const KvSpan& s, int64_t j0, int n) {
  const int hd = b.head_dim, nqp = w.nqp, nqt = nqp / 16;
  const int8_t* k = static_cast<const int8_t*>(s.k) + j0 * s.stride + int64_t(b.head) * hd;
  const int8_t* v = static_cast<const int8_t*>(s.v) + j0 * s.stride + int64_t(b.head) * hd;
  const int nkt = (n + 15) / 16;

  // 1. Kᵀ quads; the tile's 16 value quads (rows past n repeat row n−1: their u is 0).
  transpose_keys(reinterpret_cast<const uint8_t*>(k), s.stride, n, hd / 4, w);
  attn_value_quads_avx512(v, s.stride, n, 16, hd, w.vi);
  alignas(64) float ks[kKTile], vs[kKTile];
  for (int j = 0; j < kKTile; ++j) {
    ks[j] = j < n ? s.k_scale[(j0 + j) * b.n_heads + b.head] : 0.f;
    vs[j] = j < n ? s.v_scale[(j0 + j) * b.n_heads + b.head] : 0.f;
  }
  mem_barrier();
  configure_tiles();

  // 2. S = Q8·K8ᵀ (int32) into w.st as rows [nqp][64].
  scores_tiles<true>(reinterpret_cast<const uint8_t*>(w.qrow_i), hd, nqt, nkt, w);
  const int32_t* st = reinterpret_cast<const int32_t*>(w.st);

  // 3. Softmax along rows: s = (Σ · qscale·1/√d) · kscale; u8 rows of w = p·vscale.
  const __m512 neg_inf = _mm512_set1_ps(-INFINITY);
  __mmask16 km[4];
  __m512 ksv[4], vsv[4];
  for (int c = 0; c < 4; ++c) {
    km[c] = lane_mask(n - 16 * c);
    ksv[c] = _mm512_load_ps(ks + 16 * c);
    vsv[c] = _mm512_load_ps(vs + 16 * c);
  }
  uint8_t* prow = reinterpret_cast<uint8_t*>(w.prow);  // [nqp][64] u8
  for (int i = 0; i < nqp; ++i) {
    const int32_t* srow = st + int64_t(i) * kKTile;
    const __m512 qs = _mm512_set1_ps(w.qss[i]);
    __m512 sv[4];
    __m512 mxv = neg_inf;
    for (int c = 0; c < 4; ++c) {
      const __m512 x = _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_load_si512(srow + 16 * c)), qs);
      sv[c] = _mm512_mask_mul_ps(neg_inf, km[c], x, ksv[c]);
      mxv = _mm512_max_ps(mxv, sv[c]);
    }
    const float mo = w.m[i];
    const float tmax = _mm512_reduce_max_ps(mxv);
    const float mx = tmax > mo ? tmax : mo;
    w.corr[i] = mo == -INFINITY ? 0.f : _mm512_cvtss_f32(exp512(_mm512_set1_ps(mo - mx)));
    w.m[i] = mx;
    const __m512 mv = _mm512_set1_ps(mx);
    __m512 wv[4];
    __m512 sum = _mm512_setzero_ps(), wmax = _mm512_setzero_ps();
    for (int c = 0; c < 4; ++c) {
      const __m512 p = _mm512_maskz_mov_ps(km[c], exp512(_mm512_sub_ps(sv[c], mv)));
      sum = _mm512_add_ps(sum, p);
      wv[c] = _mm512_mul_ps(p, vsv[c]);
      wmax = _mm512_max_ps(wmax, wv[c]);
    }
    const float wm = _mm512_reduce_max_ps(wmax);
    const __m512 inv = _mm512_set1_ps(wm > 0.f ? 255.f / wm : 0.f);
    w.post[i] = wm / 255.f;
    for (int c = 0; c < 4; ++c) {
      const __m512i u = _mm512_min_epi32(_mm512_cvtps_epi32(_mm512_mul_ps(wv[c], inv)), _mm512_set1_epi32(255));
      _mm_store_si128(reinterpret_cast<__m128i*>(prow + int64_t(i) * kKTile + 16 * c), _mm512_cvtepi32_epi8(u));
    }
    w.l[i] = __builtin_fmaf(w.l[i], w.corr[i], _mm512_reduce_add_ps(sum));
  }
  mem_barrier();

  // 4. Σ u·v8 (int32) per 32 query rows into scratch, then O = O·corr + post·Σ.
  int32_t* acc = reinterpret_cast<int32_t*>(w.vw);  // [32][hd]
  for (int qt = 0; qt < nqt; qt += 2) {
    const bool two_q = qt + 1 < nqt;
    const uint8_t* p0 = prow + int64_t(qt) * 16 * kKTile;
    const uint8_t* p1 = p0 + 16 * kKTile;
    for (int dt = 0; dt < hd; dt += 32) {
      _tile_zero(0);
      _tile_zero(1);
      _tile_loadd(4, p0, kKTile);
      _tile_loadd(6, w.vi + dt, hd * 4);
      _tile_loadd(7, w.vi + dt + 16, hd * 4);
      _tile_dpbusd(0, 4, 6);
      _tile_dpbusd(1, 4, 7);
      _tile_stored(0, acc + dt, hd * 4);
      _tile_stored(1, acc + dt + 16, hd * 4);
      if (two_q) {
        _tile_zero(2);
        _tile_zero(3);
        _tile_loadd(5, p1, kKTile);
        _tile_dpbusd(2, 5, 6);
        _tile_dpbusd(3, 5, 7);
        _tile_stored(2, acc + 16 * hd + dt, hd * 4);
        _tile_stored(3, acc + 16 * hd + dt + 16, hd * 4);
      }
    }
    const int rows = two_q ? 32 : 16;
    for (int r = 0; r < rows; ++r) {
      const int i = qt * 16 + r;
      float* o = w.o + int64_t(i) * hd;
      const int32_t* a = acc + int64_t(r) * hd;
      const __m512 cr = _mm512_set1_ps(w.corr[i]), po = _mm512_set1_ps(w.post[i]);
      for (int d = 0; d < hd; d += 16)
        _mm512_store_ps(o + d, _mm512_fmadd_ps(_mm512_cvtepi32_ps(_mm512_load_si512(a + d)), po,
                                               _mm512_mul_ps(_mm512_load_ps(o + d), cr)));
    }
  }
}

}  // namespace wc
