// Multi-head attention over a list of K/V spans (KV pages, a block's scratch K/V,
// cached prompt K/V) read in place: no gather into a contiguous buffer.
// Rows are token vectors of all heads ([n_heads][head_dim]); head h uses columns
// [h*head_dim, (h+1)*head_dim). Every query sees every key of every span (masks are
// expressed by which spans are passed). Spans may be stored as f32, bf16 or int8
// (symmetric, one f32 scale per token per head for K and for V).
//
// FlashAttention-2 style: queries in blocks of up to 192 rows per head, each block reads
// every key tile (64 keys of one span, in place) once: Sᵀ = K·Qᵀ and O += P·V as
// register-blocked micro-kernels with fp32 accumulators, online softmax, no score matrix.
// Numerics per page type (what attention_ref computes, up to fp32 summation order, the
// vector exp, and for bf16 the rounding of P):
//  - f32 pages: s = q·k / sqrt(d), softmax, Σ p v — all fp32.
//  - bf16 pages: the query is rounded to bf16 (round-to-nearest-even) for q·k (AVX512_BF16
//    dot products or AMX tiles; bf16 × bf16 products are exact, sums fp32); the softmax weights p are
//    rounded to bf16 for P·V (and the normaliser sums the rounded weights). The reference
//    keeps p exact, so the two differ by at most 2⁻⁹ · max|v| (relative rounding of p).
//  - int8 pages: the query row of each head is quantised like a key (scale = max|q|/127,
//    round half even), s = (Σ q8·k8) · qscale · kscale / sqrt(d) with an exact integer
//    sum (AVX512_VNNI). For P·V, within each span-aligned tile of 64 keys, w_j = p_j ·
//    vscale_j is quantised to u8 against the tile's largest weight w*: u_j = rne(255·w_j/w*),
//    and the tile adds (w*/255)·Σ u_j v8_j (exact integer sum); the normaliser is Σ p_j.
//    attention_ref does the same per tile (in double), so the kernels match it to ~1e-6.
// Two parallel strategies:
//  - Heads (Ulysses-style): each task owns one head × one query block and reads every key;
//  - Sequence (ring-style): each task owns a run of the key tiles for one head × query
//    block and leaves a partial (max, sum, accumulator); partials are merged by
//    log-sum-exp. The same merge combines partials from other processes or devices.
// Both read each key tile once per query block; Auto picks Heads whenever its tasks
// balance over the threads (≥ 90%), else Sequence (bench/attention.ts measures both).
#pragma once
#include <cstddef>
#include <cstdint>

#include "core/thread_pool.h"

namespace wc {

enum class KvType : uint8_t { F32 = 0, BF16 = 1, I8 = 2 };

struct KvSpan {
  const void* k = nullptr;
  const void* v = nullptr;
  const float* k_scale = nullptr;  // I8 only: [tokens][n_heads]
  const float* v_scale = nullptr;
  int64_t tokens = 0;
  int64_t stride = 0;  // elements between consecutive token rows of k and of v
  KvType type = KvType::F32;
};

constexpr int kMaxHeadDim = 256;

enum class AttnStrategy { Auto = 0, Heads = 1, Sequence = 2 };

void attention(const float* q, int64_t n_q, int64_t q_stride, const KvSpan* spans, int n_spans, int n_heads,
               int head_dim, float* out, int64_t out_stride, ThreadPool* pool,
               AttnStrategy strategy = AttnStrategy::Auto);

// Whether the AVX-512 kernels use the AVX512_BF16 / AVX512_VNNI dot products for bf16 /
// int8 pages where the CPU has them (default), or widen those tiles to f32 (tests compare
// both paths; the numerics are the same); and whether bf16 pages go through AMX tiles
// where this process may use them (default; head_dim a multiple of 32). Process-wide.
void attention_set_dot_products(bool use, bool amx = true);

// Whether spans of type `t` (bf16 / int8) go through the AMX tile pieces at this head size
// on this CPU, with the process-wide settings now in force: the case where they are faster
// than f32 spans (elsewhere their dot-product or widening kernels are slower than f32's).
bool attention_amx_for(KvType t, int head_dim);

// Bytes of the attention kernels' scratch per compute thread (allocated once per thread).
size_t attention_scratch_bytes();

// The strategy Auto resolves to for a problem (exposed for the benchmark and tests).
AttnStrategy attention_auto_strategy(int64_t n_q, int n_heads, int64_t n_keys, int threads);

// A partial result over a subset of keys, and the log-sum-exp merge of partials
// (out = Σ e^{m_p − M} acc_p / Σ e^{m_p − M} l_p, M = max m_p).
struct AttnPartial {
  float m, l;
  const float* acc;  // head_dim values
};
void attention_merge(const AttnPartial* parts, int n, int head_dim, float* out);

// Scalar reference: full score row, max-subtracted softmax, double sums, with the query
// rounding / quantisation and int8 P quantisation described above.
void attention_ref(const float* q, int64_t n_q, int64_t q_stride, const KvSpan* spans, int n_spans, int n_heads,
                   int head_dim, float* out, int64_t out_stride);

// Element (token j, column c) of a span's K or V as f32 (dequantised; head = c / head_dim).
float kv_element(const KvSpan& s, bool value, int64_t j, int64_t c, int n_heads, int head_dim);

}  // namespace wc
