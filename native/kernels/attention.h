// Multi-head attention over a list of K/V spans (pages, a scratch block, cached
// prompt K/V) read in place: no gather into a contiguous buffer.
// Rows are token vectors of all heads ([n_heads][head_dim]); head h uses
// columns [h*head_dim, (h+1)*head_dim). Every query sees every key of every span
// (masks are expressed by which spans are passed).
#pragma once
#include <cstdint>

#include "core/thread_pool.h"

namespace wc {

struct KvSpan {
  const float* k = nullptr;
  const float* v = nullptr;
  int64_t tokens = 0;
  int64_t stride = 0;  // floats between consecutive token rows of k and of v
};

constexpr int kMaxHeadDim = 256;

// Flash-style (online softmax, no score matrix), parallel over heads × query tiles.
void attention(const float* q, int64_t n_q, int64_t q_stride, const KvSpan* spans, int n_spans, int n_heads,
               int head_dim, float* out, int64_t out_stride, ThreadPool* pool);

// Scalar reference: full score row, max-subtracted softmax, double sums.
void attention_ref(const float* q, int64_t n_q, int64_t q_stride, const KvSpan* spans, int n_spans, int n_heads,
                   int head_dim, float* out, int64_t out_stride);

}  // namespace wc
