// Weight packing for linear(): W[N,K] (nn.Linear layout) → panels of nr output columns
// in the layout of the layer's GemmPath, stored once at load. Layouts (per panel):
//   F32        [K][nr] f32
//   Bf16Widen  [K][nr] bf16
//   Bf16Dot    [k_pad/2][nr][2] bf16   (k pairs interleaved for vdpbf16ps; k_pad = K rounded to 2)
//   I8Widen    [k_pad][nr] int8        (k_pad = K rounded to 32)
//   I8Dot      [k_pad/4][nr][4] int8   (k quads interleaved for vpdpbusd)
//   Bf16Amx    [k_pad/2][nr][2] bf16   (as Bf16Dot; k_pad = K rounded to 32, a tile row)
//   I8Amx      [k_pad/2][nr][2] int8   (k pairs, widened per cache block to Bf16Amx's layout)
// int8 layouts also carry scales [k_pad/32][nr] (and I8Dot wsum = 128·Σq, the correction
// for storing activations as q+128). Columns past N and k past K are zero (scale 0).
#include <cmath>
#include <cstring>

#include "core/dtype.h"
#include "core/error.h"
#include "kernels/gemm.h"

namespace wc {

const char* weight_type_name(WeightType t) {
  switch (t) {
    case WeightType::BF16: return "bf16";
    case WeightType::I8: return "int8";
    default: return "f32";
  }
}

const char* gemm_path_name(GemmPath p) {
  switch (p) {
    case GemmPath::Bf16Widen: return "bf16_widen";
    case GemmPath::I8Widen: return "int8_widen";
    case GemmPath::Bf16Dot: return "bf16_dot";
    case GemmPath::I8Dot: return "int8_dot";
    case GemmPath::Bf16Amx: return "bf16_amx";
    case GemmPath::I8Amx: return "int8_amx";
    default: return "f32";
  }
}

bool gemm_path_amx(GemmPath p) { return p == GemmPath::Bf16Amx || p == GemmPath::I8Amx; }

int panel_width(Isa isa) {
  switch (isa) {
    case Isa::Avx512: return 32;
    case Isa::Avx2: return 16;
    default: return 8;
  }
}

size_t PackedLinear::panel_bytes() const {
  switch (path) {
    case GemmPath::F32: return size_t(k_pad) * nr * 4;
    case GemmPath::Bf16Widen:
    case GemmPath::Bf16Dot:
    case GemmPath::Bf16Amx: return size_t(k_pad) * nr * 2;
    default: return size_t(k_pad) * nr;
  }
}

float quantize_block_q8(const float* v, int n, int8_t* q) {
  float amax = 0.f;
  for (int i = 0; i < n; ++i) amax = std::fmax(amax, std::fabs(v[i]));
  const float d = amax / 127.f;
  const float id = d >= 0x1p-126f ? 1.f / d : 0.f;  // a denormal scale would overflow 1/d
  for (int i = 0; i < n; ++i) {
    float r = std::nearbyint(v[i] * id);  // round half to even (the default FP mode)
    r = r > 127.f ? 127.f : r < -127.f ? -127.f : r;
    q[i] = int8_t(r);
  }
  for (int i = n; i < kQ8Block; ++i) q[i] = 0;
  return d;
}

void pack_linear(const float* W, const float* bias, int N, int K, Isa isa, PackedLinear& out, WeightType wt,
                 DotPolicy dot) {
  if (N <= 0 || K <= 0) fail(ErrorKind::Shape, "pack_linear: empty matrix");
  out.in = K;
  out.out = N;
  out.isa = isa;
  out.wtype = wt;
  out.path = gemm_path_for(isa, wt, dot);
  out.nr = panel_width(isa);
  const int nr = out.nr;
  switch (out.path) {
    case GemmPath::Bf16Dot: out.k_pad = (K + 1) / 2 * 2; break;
    case GemmPath::I8Widen:
    case GemmPath::I8Dot:
    case GemmPath::Bf16Amx:
    case GemmPath::I8Amx: out.k_pad = (K + kQ8Block - 1) / kQ8Block * kQ8Block; break;
    default: out.k_pad = K;
  }
  const int kp = out.k_pad, np = out.n_panels(), nb = kp / kQ8Block;
  const size_t pb = out.panel_bytes();
  out.w.resize(pb * np);
  out.w.zero();
  out.scales.resize(0);
  out.wsum.resize(0);
  for (int p = 0; p < np; ++p) {
    uint8_t* dst = out.w.data() + pb * p;
    for (int j = 0; j < nr; ++j) {
      const int n = p * nr + j;
      if (n >= N) break;
      const float* src = W + size_t(n) * K;
      switch (out.path) {
        case GemmPath::F32: {
          float* d = reinterpret_cast<float*>(dst);
          for (int k = 0; k < K; ++k) d[size_t(k) * nr + j] = src[k];
          break;
        }
        case GemmPath::Bf16Widen: {
          uint16_t* d = reinterpret_cast<uint16_t*>(dst);
          for (int k = 0; k < K; ++k) d[size_t(k) * nr + j] = f32_to_bf16(src[k]);
          break;
        }
        case GemmPath::Bf16Dot:
        case GemmPath::Bf16Amx: {
          uint16_t* d = reinterpret_cast<uint16_t*>(dst);
          for (int k = 0; k < K; ++k) d[(size_t(k / 2) * nr + j) * 2 + (k & 1)] = f32_to_bf16(src[k]);
          break;
        }
        default: break;  // int8: below, block by block
      }
    }
  }
  if (wt == WeightType::I8) {
    out.scales.resize(size_t(np) * nb * nr);
    out.scales.zero();
    if (out.path == GemmPath::I8Dot) {
      out.wsum.resize(size_t(np) * nb * nr);
      out.wsum.zero();
    }
    int8_t q[kQ8Block];
    for (int n = 0; n < N; ++n) {
      const int p = n / nr, j = n % nr;
      int8_t* d = reinterpret_cast<int8_t*>(out.w.data() + pb * p);
      for (int b = 0; b < nb; ++b) {
        const int k0 = b * kQ8Block, len = K - k0 < kQ8Block ? K - k0 : kQ8Block;
        const float s = quantize_block_q8(W + size_t(n) * K + k0, len, q);
        const size_t si = (size_t(p) * nb + b) * nr + j;
        out.scales[si] = s;
        int32_t sum = 0;
        for (int i = 0; i < kQ8Block; ++i) {
          const int k = k0 + i;
          if (out.path == GemmPath::I8Dot) d[(size_t(k / 4) * nr + j) * 4 + (k & 3)] = q[i];
          else if (out.path == GemmPath::I8Amx) d[(size_t(k / 2) * nr + j) * 2 + (k & 1)] = q[i];
          else d[size_t(k) * nr + j] = q[i];
          sum += q[i];
        }
        if (out.path == GemmPath::I8Dot) out.wsum[si] = 128 * sum;
      }
    }
  }
  out.bias.resize(N);
  if (bias) std::memcpy(out.bias.data(), bias, sizeof(float) * N);
  else out.bias.zero();
}

}  // namespace wc
