// Cross-attention K/V of one prompt: per layer [text_len, dim] f32, computed once per
// prompt (model/forward.cpp) and shared, through the pool, by every session using it.
#pragma once
#include <vector>

#include "core/buffer.h"

namespace wc {

struct CrossKv {
  int text_len = 0, dim = 0;
  std::vector<FloatBuffer> k, v;
  size_t bytes() const { return k.size() * 2 * size_t(text_len) * dim * sizeof(float); }
};

}  // namespace wc
