// AMX kernels of the gemm contract (gemm_kernels.h), paths Bf16Amx and I8Amx:
//  - panel_bf16amx: C += A·B on 16×16 f32 tiles with TDPBF16PS. A micro-tile is 32 rows
//    × 32 columns: two A tiles (16 rows × 32 bf16 of k), two B tiles (16 k-pairs × 16
//    columns × 2, read straight from the [kc/2][32][2] panel with a 128-byte stride) and
//    four C tiles, all eight tile registers. C tiles start from C (later k-blocks), from
//    the bias row (stride 0) or zero, and are stored back once per k-block. Edge tiles
//    (fewer rows or columns) go through a 16×16 scratch so nothing outside [m, n_valid)
//    is touched.
//  - widen_i8_bf16pairs_avx512: int8 pairs × block scales → bf16 pairs (VCVTNE2PS2BF16).
// Compiled with -mamx-tile -mamx-bf16 (+AVX-512 BF16); only called where
// cpu_features().amx (the OS granted this process the tile state).
#include <immintrin.h>

#include <cstdint>
#include <cstring>

#include "kernels/amx_tiles.h"
#include "kernels/gemm.h"
#include "kernels/gemm_kernels.h"

namespace wc {
namespace gemm {
namespace {

// The tile intrinsics name their register in the asm text (a literal, not a template
// argument): these switch on a constant that inlining folds.
#define WC_TILE_CASES(OP) \
  switch (t) {            \
    case 0: OP(0); break; \
    case 1: OP(1); break; \
    case 2: OP(2); break; \
    default: OP(3); break; \
  }
inline void tile_load(int t, const void* base, int64_t stride) {
#define WC_OP(i) _tile_loadd(i, base, stride)
  WC_TILE_CASES(WC_OP)
#undef WC_OP
}
inline void tile_store(int t, void* base, int64_t stride) {
#define WC_OP(i) _tile_stored(i, base, stride)
  WC_TILE_CASES(WC_OP)
#undef WC_OP
}
inline void tile_zero(int t) {
#define WC_OP(i) _tile_zero(i)
  WC_TILE_CASES(WC_OP)
#undef WC_OP
}
#undef WC_TILE_CASES

// C tile t ∈ {0..3} (row half t/2, column half t%2): initialise / store, direct when the
// whole 16×16 tile exists, through `tmp` otherwise.
template <int T>
inline void c_init(const PanelArgs& p, int64_t m0, int rows, int cols, const float* bias32, float* tmp) {
  float* c = p.c + (m0 + 16 * (T / 2)) * p.ldc + 16 * (T % 2);
  const bool full = rows == 16 && cols == 16;
  if (p.accumulate) {
    if (full) {
      tile_load(T, c, p.ldc * 4);
      return;
    }
    std::memset(tmp, 0, 16 * 16 * 4);
    for (int r = 0; r < rows; ++r) std::memcpy(tmp + r * 16, c + r * p.ldc, size_t(cols) * 4);
    mem_barrier();
    tile_load(T, tmp, 64);
  } else if (bias32) {
    tile_load(T, bias32 + 16 * (T % 2), 0);  // the same 16 biases in every row
  } else {
    tile_zero(T);
  }
}

template <int T>
inline void c_store(const PanelArgs& p, int64_t m0, int rows, int cols, float* tmp) {
  float* c = p.c + (m0 + 16 * (T / 2)) * p.ldc + 16 * (T % 2);
  if (rows == 16 && cols == 16) {
    tile_store(T, c, p.ldc * 4);
    return;
  }
  tile_store(T, tmp, 64);
  for (int r = 0; r < rows; ++r) std::memcpy(c + r * p.ldc, tmp + r * 16, size_t(cols) * 4);
}

inline int clamp16(int64_t v) { return v <= 0 ? 0 : v >= 16 ? 16 : int(v); }

}  // namespace

void panel_bf16amx(const PanelArgs& p) {
  configure_tiles();
  const uint16_t* A = static_cast<const uint16_t*>(p.a);
  const uint16_t* B = static_cast<const uint16_t*>(p.b);
  const int64_t sa = p.lda * 2;  // A row stride, bytes
  alignas(64) float bias32[32];
  const float* bias = nullptr;
  if (p.bias && !p.accumulate) {
    std::memset(bias32, 0, sizeof bias32);
    std::memcpy(bias32, p.bias, size_t(p.n_valid) * 4);
    mem_barrier();
    bias = bias32;
  }
  alignas(64) float tmp[16 * 16];
  const int c0 = clamp16(p.n_valid), c1 = clamp16(p.n_valid - 16);
  for (int64_t m0 = 0; m0 < p.m; m0 += 32) {
    const int r0 = clamp16(p.m - m0), r1 = clamp16(p.m - m0 - 16);
    const uint16_t* a0 = A + m0 * p.lda;
    if (r1 > 0) {
      c_init<0>(p, m0, r0, c0, bias, tmp);
      c_init<1>(p, m0, r0, c1, bias, tmp);
      c_init<2>(p, m0, r1, c0, bias, tmp);
      c_init<3>(p, m0, r1, c1, bias, tmp);
      const uint16_t* a1 = a0 + 16 * p.lda;
      for (int k = 0; k < p.kc; k += 32) {
        _tile_loadd(4, a0 + k, sa);
        _tile_loadd(6, B + size_t(k) * 32, 128);
        _tile_loadd(7, B + size_t(k) * 32 + 32, 128);
        _tile_dpbf16ps(0, 4, 6);
        _tile_loadd(5, a1 + k, sa);
        _tile_dpbf16ps(1, 4, 7);
        _tile_dpbf16ps(2, 5, 6);
        _tile_dpbf16ps(3, 5, 7);
      }
      c_store<0>(p, m0, r0, c0, tmp);
      c_store<1>(p, m0, r0, c1, tmp);
      c_store<2>(p, m0, r1, c0, tmp);
      c_store<3>(p, m0, r1, c1, tmp);
    } else {
      c_init<0>(p, m0, r0, c0, bias, tmp);
      c_init<1>(p, m0, r0, c1, bias, tmp);
      for (int k = 0; k < p.kc; k += 32) {
        _tile_loadd(4, a0 + k, sa);
        _tile_loadd(6, B + size_t(k) * 32, 128);
        _tile_loadd(7, B + size_t(k) * 32 + 32, 128);
        _tile_dpbf16ps(0, 4, 6);
        _tile_dpbf16ps(1, 4, 7);
      }
      c_store<0>(p, m0, r0, c0, tmp);
      c_store<1>(p, m0, r0, c1, tmp);
    }
  }
}

void widen_i8_bf16pairs_avx512(const int8_t* q, const float* scales, int kc, int nr, uint16_t* dst) {
  // nr == 32: a k-pair row is 64 int8 (32 columns × 2 k); column j's scale is needed at
  // lanes 2j and 2j+1. Per block of 32 k (16 pair rows) the 64 lane scales are fixed.
  const __m512i dup_lo = _mm512_set_epi32(7, 7, 6, 6, 5, 5, 4, 4, 3, 3, 2, 2, 1, 1, 0, 0);
  for (int kb = 0; kb < kc; kb += kQ8Block) {
    const float* s = scales + size_t(kb / kQ8Block) * nr;
    __m512 sc[4];
    for (int i = 0; i < 4; ++i) sc[i] = _mm512_permutexvar_ps(dup_lo, _mm512_castps256_ps512(_mm256_loadu_ps(s + 8 * i)));
    for (int r = kb / 2; r < (kb + kQ8Block) / 2 && r < kc / 2; ++r) {
      const int8_t* src = q + size_t(r) * nr * 2;
      uint16_t* d = dst + size_t(r) * nr * 2;
      __m512 v[4];
      for (int i = 0; i < 4; ++i)
        v[i] = _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(src + 16 * i)))), sc[i]);
      const __m512bh lo = _mm512_cvtne2ps_pbh(v[1], v[0]);
      const __m512bh hi = _mm512_cvtne2ps_pbh(v[3], v[2]);
      __m512i bits[2];
      std::memcpy(&bits[0], &lo, 64);
      std::memcpy(&bits[1], &hi, 64);
      _mm512_storeu_si512(d, bits[0]);
      _mm512_storeu_si512(d + 32, bits[1]);
    }
  }
}

}  // namespace gemm
}  // namespace wc
