// AMX-BF16 micro-kernels of the bf16 convolution (conv2d.h, ConvPrecision::Bf16), where
// cpu_features().amx. The padded input is already channel pairs in 32-bit words, one plane
// per pair, so for a tap the 16 planes of a block of pairs at 16 consecutive positions are
// a TDPBF16PS B tile read in place (rows cs apart); the A tile is the packed weights' 16
// output channels × 16 pairs of that tap and block ([block][tap][co_tile][16] pairs, see
// pack_conv). C = [co][positions], the tile layout conv2d's epilogue reads. Products are
// exact bf16·bf16, sums f32: the numerics of the VDPBF16PS kernels (their order of
// additions differs). Pair planes past cpairs (up to a multiple of 16) must be zero.
// Compiled with -mamx-tile -mamx-bf16; called only where cpu_features().amx.
#include <immintrin.h>

#include <cstdint>

#include "kernels/amx_tiles.h"
#include "kernels/conv2d.h"

namespace wc {

namespace {

// kCo = 32: 32 output channels × 32 positions, C tiles 0..3 = (co 0-15, 16-31) × (px 0-15, 16-31).
// kCo = 16: 16 output channels × 64 positions (cout <= 16), C tiles 0..3 = px 0-15, …, 48-63.
template <int kCo>
void tile_kernel(const uint32_t* in, int64_t cs, int cpairs, const int64_t* taps, int ntaps, const uint32_t* wp,
                 float* tile) {
  constexpr int kPx = 1024 / kCo;
  configure_tiles();
  _tile_zero(0);
  _tile_zero(1);
  _tile_zero(2);
  _tile_zero(3);
  const int nb = (cpairs + 15) / 16;
  const int64_t sb = cs * 4;
  for (int b = 0; b < nb; ++b) {
    const uint32_t* ib = in + int64_t(b) * 16 * cs;
    for (int t = 0; t < ntaps; ++t, wp += kCo * 16) {
      const uint32_t* p = ib + taps[t];
      _tile_loadd(4, wp, 64);
      if constexpr (kCo == 32) {
        _tile_loadd(6, p, sb);
        _tile_dpbf16ps(0, 4, 6);
        _tile_loadd(7, p + 16, sb);
        _tile_dpbf16ps(1, 4, 7);
        _tile_loadd(5, wp + 16 * 16, 64);
        _tile_dpbf16ps(2, 5, 6);
        _tile_dpbf16ps(3, 5, 7);
      } else {
        _tile_loadd(5, p, sb);
        _tile_dpbf16ps(0, 4, 5);
        _tile_loadd(6, p + 16, sb);
        _tile_dpbf16ps(1, 4, 6);
        _tile_loadd(7, p + 32, sb);
        _tile_dpbf16ps(2, 4, 7);
        _tile_loadd(5, p + 48, sb);
        _tile_dpbf16ps(3, 4, 5);
      }
    }
  }
  // C tile i at (row block, column block) = kCo == 32 ? (i / 2, i % 2) : (0, i)
  constexpr int64_t kStride = kPx * 4;
  if constexpr (kCo == 32) {
    _tile_stored(0, tile, kStride);
    _tile_stored(1, tile + 16, kStride);
    _tile_stored(2, tile + 16 * kPx, kStride);
    _tile_stored(3, tile + 16 * kPx + 16, kStride);
  } else {
    _tile_stored(0, tile, kStride);
    _tile_stored(1, tile + 16, kStride);
    _tile_stored(2, tile + 32, kStride);
    _tile_stored(3, tile + 48, kStride);
  }
}

}  // namespace

void conv_tile_bf16_amx32(const uint32_t* in, int64_t cs, int cpairs, const int64_t* taps, int ntaps,
                          const uint32_t* wp, float* tile) {
  tile_kernel<32>(in, cs, cpairs, taps, ntaps, wp, tile);
}

void conv_tile_bf16_amx16(const uint32_t* in, int64_t cs, int cpairs, const int64_t* taps, int ntaps,
                          const uint32_t* wp, float* tile) {
  tile_kernel<16>(in, cs, cpairs, taps, ntaps, wp, tile);
}

}  // namespace wc
