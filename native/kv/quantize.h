// KV storage conversions. int8 is symmetric with one f32 scale per token per head:
// scale = max|x| / 127 over the head's head_dim values, q = round-half-even(x / scale).
// bf16 rounds to nearest even. Both are the scalar reference and the implementation.
#pragma once
#include <cstdint>

#include "kernels/attention.h"

namespace wc {

// x: [tokens][heads*head_dim] f32 → q: same layout int8, scales: [tokens][heads]
void quantize_i8(const float* x, int64_t tokens, int heads, int head_dim, int8_t* q, float* scales);
void dequantize_i8(const int8_t* q, const float* scales, int64_t tokens, int heads, int head_dim, float* x);
void to_bf16(const float* x, int64_t n, uint16_t* out);
// x: [tokens][heads*head_dim] f32 stored as `type` into dst (same layout; int8 also writes
// scales [tokens][heads]): what a page holds, and how a block's own K/V are read.
void store_kv(KvType type, const float* x, int64_t tokens, int heads, int head_dim, void* dst, float* scales);

}  // namespace wc
