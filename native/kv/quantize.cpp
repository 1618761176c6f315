#include "kv/quantize.h"

#include <cmath>
#include <cstring>

#include "core/dtype.h"

namespace wc {

void quantize_i8(const float* x, int64_t tokens, int heads, int hd, int8_t* q, float* scales) {
  for (int64_t t = 0; t < tokens; ++t)
    for (int h = 0; h < heads; ++h) {
      const float* xs = x + (t * heads + h) * hd;
      int8_t* qs = q + (t * heads + h) * hd;
      float amax = 0.f;
      for (int i = 0; i < hd; ++i) amax = std::fmax(amax, std::fabs(xs[i]));
      const float scale = amax / 127.f;
      scales[t * heads + h] = scale;
      const float inv = scale > 0.f ? 1.f / scale : 0.f;
      for (int i = 0; i < hd; ++i) {
        float r = std::nearbyint(xs[i] * inv);
        r = r > 127.f ? 127.f : r < -127.f ? -127.f : r;
        qs[i] = int8_t(r);
      }
    }
}

void dequantize_i8(const int8_t* q, const float* scales, int64_t tokens, int heads, int hd, float* x) {
  for (int64_t t = 0; t < tokens; ++t)
    for (int h = 0; h < heads; ++h)
      for (int i = 0; i < hd; ++i) x[(t * heads + h) * hd + i] = float(q[(t * heads + h) * hd + i]) * scales[t * heads + h];
}

void to_bf16(const float* x, int64_t n, uint16_t* out) {
  for (int64_t i = 0; i < n; ++i) out[i] = f32_to_bf16(x[i]);
}

void store_kv(KvType type, const float* x, int64_t tokens, int heads, int head_dim, void* dst, float* scales) {
  const int64_t n = tokens * heads * head_dim;
  switch (type) {
    case KvType::F32: std::memcpy(dst, x, size_t(n) * sizeof(float)); break;
    case KvType::BF16: to_bf16(x, n, static_cast<uint16_t*>(dst)); break;
    case KvType::I8: quantize_i8(x, tokens, heads, head_dim, static_cast<int8_t*>(dst), scales); break;
  }
}

}  // namespace wc
