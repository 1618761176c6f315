// The unit of work of the attention kernels (FlashAttention-2 style): a block of up to
// kQBlock queries of one head against a run of key tiles (kKTile keys of one span, read
// in place), with online-softmax state (m, l) and an fp32 output accumulator per query.
// Each key tile is read once per query block. Shared by the portable block kernel
// (attention.cpp) and the SIMD ones (attention_avx2.cpp, attention_avx512*.cpp). Plain
// data only, so translation units compiled with different ISA flags share no inline code.
//
// Numerics every variant reproduces (attention_ref models the same, see attention.h):
//  per key tile t (the keys [64·k, 64·k + 64) of one span, clipped to it), per query i:
//   s_ij  = f32 scores (see attention.h for how each page type forms them)
//   m'    = max(m, max_j s_ij);  corr = e^{m − m'};  p_ij = e^{s_ij − m'}
//   f32:  l = l·corr + Σ p_ij;            O = O·corr + Σ p_ij v_j
//   bf16: p̂ = bf16(p_ij); l = l·corr + Σ p̂;  O = O·corr + Σ p̂ v_j
//   int8: w_ij = p_ij·vscale_j, w* = max_j w_ij, u_ij = rne(w_ij·(255/w*)) ∈ [0, 255];
//         l = l·corr + Σ p_ij;            O = O·corr + (w*/255)·Σ u_ij v8_j  (integer sum)
#pragma once
#include <cstdint>

#include "kernels/attention.h"

namespace wc {

constexpr int kKTile = 64;    // keys per tile (never straddles a span)
constexpr int kQBlock = 192;  // most queries per block
constexpr int kQPad = 16;     // query counts are padded to this inside a block

struct AttnKeyTile {
  int span;
  int n;       // keys in the tile (1..kKTile)
  int64_t j0;  // first key within the span
};

struct AttnBlock {
  const float* q;  // first query row of the block
  int nq;          // queries (<= kQBlock)
  int64_t q_stride;
  const KvSpan* spans;
  const AttnKeyTile* tiles;  // the key tiles this block reads, in order
  int n_tiles;
  int head, n_heads, head_dim;
  float scale;  // 1/sqrt(head_dim)
  bool dot_bf16 = false;  // AVX-512 block: use the AVX512_BF16 tile pieces for bf16 spans
  bool dot_i8 = false;    // ... and the AVX512_VNNI ones for int8 spans
  bool simd = true;       // run by attn_block_avx2/avx512 (Qᵀ forms), not attn_block_portable (query rows)
  bool amx = false;       // AVX-512 block: bf16 spans through the AMX tile piece (head_dim % 32 == 0)
  bool amx_i8 = false;    // ... and int8 spans through the AMX-INT8 one (head_dim % 64 == 0)
};

// Per-thread scratch (one per engine thread, allocated once at the largest sizes).
// Query-side layouts are prepared once per block (attn_prep_queries), key/value tiles are
// read in place or, for the widening fallbacks, decoded per tile (attn_widen_tile).
struct AttnWork {
  int nqp = 0;  // nq rounded up to kQPad
  alignas(64) float m[kQBlock];
  alignas(64) float l[kQBlock];
  alignas(64) float corr[kQBlock];  // e^{m_old − m_new} of the current tile
  alignas(64) float post[kQBlock];  // multiplier of the tile's P·V sum (1, or w*/255 for int8)
  alignas(64) float o[kQBlock * kMaxHeadDim];  // [nqp][head_dim] output accumulator
  // query forms, prepared per block for the span types present
  alignas(64) float qt[kMaxHeadDim * kQBlock];    // f32 Qᵀ [head_dim][nqp]
  alignas(64) float qtb[kMaxHeadDim * kQBlock];   // f32 Qᵀ of bf16-rounded queries
  alignas(64) float qti[kMaxHeadDim * kQBlock];   // f32 Qᵀ of the int8 query values
  alignas(64) uint32_t q2[kMaxHeadDim / 2 * kQBlock];  // bf16 pairs [head_dim/2][nqp] (lo = even d)
  alignas(64) uint32_t q4[kMaxHeadDim / 4 * kQBlock];  // int8 quads [head_dim/4][nqp]
  alignas(64) float qss[kQBlock];     // int8: query scale · 1/sqrt(d)
  alignas(64) int32_t qcomp[kQBlock];  // int8: 128·Σ_d q8 (for u8 = k8 ^ 0x80 dot products)
  alignas(64) float qrow_b[kQBlock * kMaxHeadDim];  // portable: bf16-rounded query rows
  alignas(64) int8_t qrow_i[kQBlock * kMaxHeadDim];  // portable: int8 query rows
  bool prep_f32 = false, prep_bf16 = false, prep_i8 = false;
  // per tile
  alignas(64) float st[kKTile * kQBlock];  // scores Sᵀ [key][nqp]
  alignas(64) float p[kKTile * kQBlock];   // P: f32 [key][nqp] | u32 pairs [key/2][nqp] | u8 quads [key/4][nqp]
  alignas(64) float kw[kKTile * kMaxHeadDim];  // widened key tile [key][head_dim] (fallbacks)
  alignas(64) float vw[kKTile * kMaxHeadDim];  // widened value tile
  alignas(64) uint32_t vi[kKTile / 2 * kMaxHeadDim];  // interleaved values: bf16 pairs / int8 quads
  alignas(64) float zero[kMaxHeadDim] = {};
  // AMX (bf16 spans): query rows, keys transposed into pairs, P rows
  alignas(64) uint16_t qrow_h[kQBlock * kMaxHeadDim];     // bf16 query rows [nqp][head_dim]
  alignas(64) uint32_t kt[kMaxHeadDim / 2 * kKTile];      // Kᵀ pairs [head_dim/2][kKTile]
  alignas(64) uint16_t prow[kQBlock * kKTile];            // bf16 P rows [nqp][kKTile]
};

// Per-thread scratch of the calling thread.
AttnWork& attn_work();

// Reset m, l, o for a block and prepare the query forms its spans and its kernel read.
void attn_begin_block(const AttnBlock& b, AttnWork& w);
// Decode keys/values [j0, j0+n) of one span and head to f32 rows in w.kw / w.vw: bf16
// widened exactly, int8 as the integer values (scales are applied by the caller).
void attn_widen_tile(const KvSpan& s, int64_t j0, int n, int head, int n_heads, int hd, AttnWork& w);

// Run the block's tiles; leave un-normalised m, l, o in w.
void attn_block_portable(const AttnBlock& b, AttnWork& w);
void attn_block_avx2(const AttnBlock& b, AttnWork& w);
void attn_block_avx512(const AttnBlock& b, AttnWork& w);

// AMX-BF16 tile piece for one bf16 key tile (scores, online softmax, P·V), used by
// attn_block_avx512 when b.amx. Scores S = Q·Kᵀ on 16×16 tiles (the block's bf16 query
// rows × the tile's keys transposed into (even, odd) element pairs), the softmax along
// each query's row with P rounded to bf16 (as the AVX512_BF16 piece), O += P·V with the
// value rows interleaved in pairs, accumulated in O's tiles in place (a row whose max
// moves is rescaled first). The same numerics as the AVX512_BF16 piece.
void attn_tile_bf16_amx(const AttnBlock& b, AttnWork& w, const KvSpan& s, int64_t j0, int n);
// The same for an int8 key tile with AMX-INT8 (exact integer sums for Q8·K8ᵀ and for
// Σ u·v8) and the AVX512_VNNI piece's numerics; O is updated in vector code per tile.
void attn_tile_i8_amx(const AttnBlock& b, AttnWork& w, const KvSpan& s, int64_t j0, int n);

// The value rows of one head and key tile interleaved for the dot-product B operands, key
// rows past n repeating row n−1 (their weights are 0): pairs vi[jp][d] = v[2jp][d] |
// v[2jp+1][d] << 16 for jp < pairs (bf16 rows), quads vi[jq][d] = bytes v[4jq..4jq+3][d]
// for jq < quads (int8 rows). AVX-512F code (in the bf16 and VNNI translation units); the
// AMX pieces call them too.
void attn_value_pairs_avx512(const uint16_t* v, int64_t stride, int n, int pairs, int hd, uint32_t* vi);
void attn_value_quads_avx512(const int8_t* v, int64_t stride, int n, int quads, int hd, uint32_t* vi);

// AVX512_BF16 / AVX512_VNNI tile pieces, used by attn_block_avx512 when the CPU has them.
// Scores: w.st[j][i] for j < n (rows n..kKTile-1 are left undefined).
void attn_scores_bf16_avx512bf16(const AttnBlock& b, AttnWork& w, const KvSpan& s, int64_t j0, int n);
// O[i] = O[i]·corr[i] + post[i]·Σ_j P[i][j] v_j with P in w.p as bf16 pairs.
void attn_pv_bf16_avx512bf16(const AttnBlock& b, AttnWork& w, const KvSpan& s, int64_t j0, int n);
void attn_scores_i8_avx512vnni(const AttnBlock& b, AttnWork& w, const KvSpan& s, int64_t j0, int n);
// P in w.p as u8 quads.
void attn_pv_i8_avx512vnni(const AttnBlock& b, AttnWork& w, const KvSpan& s, int64_t j0, int n);

}  // namespace wc
