#include "engine/noise.h"

#include <cmath>

namespace wc {

std::array<uint32_t, 4> philox4x32_10(std::array<uint32_t, 4> c, std::array<uint32_t, 2> k) {
  const uint32_t M0 = 0xD2511F53u, M1 = 0xCD9E8D57u, W0 = 0x9E3779B9u, W1 = 0xBB67AE85u;
  for (int r = 0; r < 10; ++r) {
    const uint64_t p0 = uint64_t(M0) * c[0];
    const uint64_t p1 = uint64_t(M1) * c[2];
    const uint32_t hi0 = uint32_t(p0 >> 32), lo0 = uint32_t(p0);
    const uint32_t hi1 = uint32_t(p1 >> 32), lo1 = uint32_t(p1);
    c = {hi1 ^ c[1] ^ k[0], lo1, hi0 ^ c[3] ^ k[1], lo0};
    k[0] += W0;
    k[1] += W1;
  }
  return c;
}

void seeded_normals(uint64_t seed, int64_t block_first_frame, int step, float* out, int64_t n) {
  const std::array<uint32_t, 2> key = {uint32_t(seed), uint32_t(seed >> 32)};
  const double two_pi = 6.283185307179586;
  for (int64_t g = 0; g * 4 < n; ++g) {
    auto r = philox4x32_10({uint32_t(g), uint32_t(uint64_t(g) >> 32), uint32_t(step), uint32_t(block_first_frame)},
                           key);
    double u[4];
    for (int i = 0; i < 4; ++i) u[i] = (double(r[i]) + 0.5) / 4294967296.0;
    const double r0 = std::sqrt(-2.0 * std::log(u[0])), r1 = std::sqrt(-2.0 * std::log(u[2]));
    const double z[4] = {r0 * std::cos(two_pi * u[1]), r0 * std::sin(two_pi * u[1]), r1 * std::cos(two_pi * u[3]),
                         r1 * std::sin(two_pi * u[3])};
    for (int i = 0; i < 4 && g * 4 + i < n; ++i) out[g * 4 + i] = float(z[i]);
  }
}

}  // namespace wc
