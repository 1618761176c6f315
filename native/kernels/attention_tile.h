// The unit of work of the attention kernels: up to kQTile queries of one head against
// every span, with online-softmax state. Shared by the portable tile (attention.cpp)
// and the SIMD tiles (attention_avx2.cpp, attention_avx512.cpp). Plain data only, so
// translation units compiled with different ISA flags share no inline code.
#pragma once
#include <cstdint>

#include "kernels/attention.h"

namespace wc {

constexpr int kQTile = 16;  // queries per tile
constexpr int kKTile = 64;  // keys per inner tile

struct AttnScratch {
  float m[kQTile], l[kQTile];
  alignas(64) float acc[kQTile][kMaxHeadDim];
  alignas(64) float s[kQTile][kKTile];
  alignas(64) float kt[kMaxHeadDim][kKTile];  // a key tile, transposed and dequantised
  alignas(64) float vrow[kKTile][kMaxHeadDim];  // a value tile, dequantised (bf16/int8 spans)
  const float* vptr[kKTile];                    // each value row (into the span for f32, else vrow)
};

struct AttnTile {
  const float* q;     // first query row of the tile
  int nq;             // queries in the tile (<= kQTile)
  int64_t q_stride;
  const KvSpan* spans;
  int n_spans;
  int64_t token_begin, token_end;  // the keys [begin, end) of the concatenated spans this tile reads
  int head, n_heads, head_dim;
  float scale;        // 1/sqrt(head_dim)
};

// Online softmax over the tile's keys; leaves un-normalised m, l, acc in `st`
// (initialised by the caller with attn_tile_init).
void attn_tile_init(AttnScratch& st, int nq, int hd);
void attn_tile_portable(const AttnTile& t, AttnScratch& st);
void attn_tile_avx2(const AttnTile& t, AttnScratch& st);
void attn_tile_avx512(const AttnTile& t, AttnScratch& st);

// Decode keys [j0, j0+n) of one span and head into st.kt (transposed, scaled) and values
// into st.vrow (scaled). Portable; used by every tile variant.
void attn_load_kv(const KvSpan& s, int64_t j0, int n, int head, int n_heads, int hd, AttnScratch& st);

}  // namespace wc
