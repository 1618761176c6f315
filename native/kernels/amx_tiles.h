// What the AMX translation units share (gemm_amx.cpp, attention_amx.cpp): the one tile
// configuration they use and a compiler barrier. Include only from TUs compiled with
// -mamx-tile; everything here has internal linkage (no ODR merging across ISAs).
#pragma once
#include <immintrin.h>

#include <cstdint>

namespace wc {
namespace {

struct alignas(64) TileConfig {
  uint8_t palette = 1, start_row = 0;
  uint8_t reserved[14] = {};
  uint16_t colsb[16] = {};
  uint8_t rows[16] = {};
};

// Tiles 0..7, each 16 rows × 64 bytes (16×16 f32/int32, 16×32 bf16, 16×64 int8). Loaded at
// the start of each kernel call: cheap next to a call's work, and no state is assumed to
// survive between calls.
[[maybe_unused]] inline void configure_tiles() {
  TileConfig c;
  for (int t = 0; t < 8; ++t) {
    c.rows[t] = 16;
    c.colsb[t] = 64;
  }
  _tile_loadconfig(&c);
}

// The tile intrinsics' asm declares no memory inputs: a compiler barrier keeps stores to a
// buffer before the tile load that reads it.
[[maybe_unused]] inline void mem_barrier() { __asm__ volatile("" ::: "memory"); }

}  // namespace
}  // namespace wc
