// Multi-head attention over a list of K/V spans (KV pages, a block's scratch K/V,
// cached prompt K/V) read in place: no gather into a contiguous buffer.
// Rows are token vectors of all heads ([n_heads][head_dim]); head h uses columns
// [h*head_dim, (h+1)*head_dim). Every query sees every key of every span (masks are
// expressed by which spans are passed). Spans may be stored as f32, bf16 or int8
// (symmetric, one f32 scale per token per head for K and for V).
//
// Flash-style: online softmax over key tiles, no score matrix. Two parallel strategies:
//  - Heads (Ulysses-style): each task owns whole heads × a tile of queries and reads
//    every key;
//  - Sequence (ring-style): each task owns a slice of the keys (pages) for a tile of
//    queries and leaves a partial (max, sum, accumulator); partials are merged by
//    log-sum-exp. The same merge combines partials from other processes or devices.
// Auto picks Heads when there are enough (head, query-tile) tasks to keep every
// thread busy, else Sequence (see bench/attention.ts for the measurement behind it).
#pragma once
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

// The strategy Auto resolves to for a problem (exposed for the benchmark and tests).
AttnStrategy attention_auto_strategy(int64_t n_q, int n_heads, int64_t n_keys, int threads);

// A partial result over a subset of keys, and the log-sum-exp merge of partials
// (out = Σ e^{m_p − M} acc_p / Σ e^{m_p − M} l_p, M = max m_p).
struct AttnPartial {
  float m, l;
  const float* acc;  // head_dim values
};
void attention_merge(const AttnPartial* parts, int n, int head_dim, float* out);

// Scalar reference: full score row, max-subtracted softmax, double sums.
void attention_ref(const float* q, int64_t n_q, int64_t q_stride, const KvSpan* spans, int n_spans, int n_heads,
                   int head_dim, float* out, int64_t out_stride);

// Element (token j, column c) of a span's K or V as f32 (dequantised; head = c / head_dim).
float kv_element(const KvSpan& s, bool value, int64_t j, int64_t c, int n_heads, int head_dim);

}  // namespace wc
