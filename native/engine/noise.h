// Noise for the sampler. Default: a seeded counter-based generator, so the noise of
// any (block, step, element) is fixed by the seed alone, whatever ran before:
//   u = Philox4x32-10(key = (seed & 0xffffffff, seed >> 32),
//                     counter = (element / 4, 0, step, block_first_frame))
//   4 uniforms (x + 0.5)/2^32 → 2 Box–Muller pairs → 4 standard normals;
//   element e takes normal e % 4 of its counter's group.
// `step` 0 is a block's starting noise, step i the fresh noise re-noising x0 to step i.
// Alternatively a caller supplies the tensors (golden tests, cross-checks).
#pragma once
#include <array>
#include <cstdint>
#include <vector>

namespace wc {

std::array<uint32_t, 4> philox4x32_10(std::array<uint32_t, 4> ctr, std::array<uint32_t, 2> key);

// Fill n standard normals for (seed, block_first_frame, step), elements [0, n).
void seeded_normals(uint64_t seed, int64_t block_first_frame, int step, float* out, int64_t n);

}  // namespace wc
