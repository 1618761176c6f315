// Linear layers: y[M,N] = x[M,K] · W[N,K]ᵀ + b[N], then an optional activation.
//
// W is repacked ONCE at load into panels of `nr` output columns in the layout the
// kernel of its path streams, stored as f32, bf16 or int8 (WeightType). Activations
// stay f32; the dot-product paths convert them on the fly (see GemmPath).
// linear_ref is the plain scalar reference; every path is tested against linear_ref on
// dequantize_weights(W) and round_activations(x) (test/kernels.test.ts).
#pragma once
#include <cstdint>

#include "core/buffer.h"
#include "core/cpu_features.h"
#include "core/thread_pool.h"

namespace wc {

enum class Epilogue : int { None = 0, GeluTanh = 1, Silu = 2 };

// How a linear's weights are stored.
//   F32:  as loaded.
//   BF16: round-to-nearest-even bf16 (relative error ≤ 2^-9 per weight).
//   I8:   Q8_0-like: per output column and per block of 32 along K, one f32 scale
//         d = max|w| / 127 and q = round_half_even(w / d) ∈ [-127, 127] (|error| ≤ d/2).
enum class WeightType : int { F32 = 0, BF16 = 1, I8 = 2 };
const char* weight_type_name(WeightType t);  // "f32", "bf16", "int8"
constexpr int kQ8Block = 32;                 // int8 block length along K (weights and activations)

// The kernel family a packed linear runs (fixed at pack time from the ISA, the weight
// type and the CPU's features).
//   F32:       f32 weights, f32 FMA.
//   Bf16Widen: bf16 weights widened to f32 per cache block, f32 FMA: the result is
//              x·bf16(W) with f32 accumulation (weights-only rounding).
//   I8Widen:   int8 weights dequantised (q·d, one f32 multiply) per cache block, f32 FMA.
//   Bf16Dot:   AVX512_BF16 vdpbf16ps: x is ALSO rounded to bf16 (RNE, denormals flushed,
//              as VCVTNE2PS2BF16 does); bf16·bf16 products are exact in f32, so the only
//              further error is f32 accumulation.
//   I8Dot:     AVX512_VNNI vpdpbusd: each row of x is quantised per block of 32 along K
//              exactly as the weights are (own scale, q ∈ [-127,127], stored +128 as u8);
//              integer dot products per block are exact, then scaled by d_x·d_w in f32.
//   Bf16Amx:   AMX-BF16 TDPBF16PS on 16×16 tiles: the same operands and rounding as
//              Bf16Dot (x rounded to bf16, bf16·bf16 exact, f32 accumulation); K padded
//              to 32 (one tile row).
//   I8Amx:     int8 weights widened per cache block to bf16 (bf16(q·d), RNE, as
//              VCVTNE2PS2BF16 rounds) and run as Bf16Amx: the result is
//              x_bf16 · bf16(q·d). The stored weights and their bytes are int8's; the
//              activations keep bf16's precision, not int8's.
enum class GemmPath : int { F32 = 0, Bf16Widen = 1, I8Widen = 2, Bf16Dot = 3, I8Dot = 4, Bf16Amx = 5, I8Amx = 6 };
const char* gemm_path_name(GemmPath p);  // "f32", "bf16_widen", "int8_widen", "bf16_dot", "int8_dot", "bf16_amx", "int8_amx"
bool gemm_path_amx(GemmPath p);           // Bf16Amx or I8Amx

// Whether bf16/int8 weights use the dot-product instructions (where the CPU has them).
//   Auto:   int8 → I8Dot whenever AVX512_VNNI exists (4 MACs per lane per instruction).
//           bf16 → Bf16Dot only if a one-time calibration finds VDPBF16PS clearly faster
//           (≥ 1.2×) than f32 FMA on widened weights: on the Sapphire Rapids dev machine
//           it issues at half the MAC rate of VFMADD (measured 1.3 G vs 5.5 G instr/s), so
//           the widen path wins there (and is more accurate); where VDPBF16PS issues as
//           fast as FMA (2× the MACs) the dot path wins.
//           WORLDCAST_BF16_DOT=1/0 overrides the calibration.
//           Where the process may use AMX (cpu_features().amx), Auto picks the AMX
//           paths for both (TDPBF16PS: 16 times VDPBF16PS's MACs per instruction).
//   Never:  the widen paths.   Always: the AVX-512 dot paths whenever the CPU has them.
//   Amx:    the AMX paths where usable, else as Always.
enum class DotPolicy : int { Auto = 0, Never = 1, Always = 2, Amx = 3 };
GemmPath gemm_path_for(Isa isa, WeightType wt, DotPolicy dot = DotPolicy::Auto);
bool bf16_dot_pays();  // the Auto decision for bf16 (calibrated once per process)

struct PackedLinear {
  int in = 0;     // K
  int out = 0;    // N
  int nr = 0;     // panel width (output columns per panel)
  int k_pad = 0;  // K rounded up to the path's granularity (1, 2 or 32); padding is zero
  Isa isa = Isa::Scalar;
  WeightType wtype = WeightType::F32;
  GemmPath path = GemmPath::F32;
  AlignedBuffer<uint8_t> w;      // n_panels() panels in the path's layout (gemm_pack.cpp)
  FloatBuffer scales;            // int8: [panel][k_pad/32][nr] block scales d_w
  AlignedBuffer<int32_t> wsum;   // I8Dot: [panel][k_pad/32][nr] 128·Σq (the u8 offset's correction)
  FloatBuffer bias;              // N (zeros when the layer has none)
  int n_panels() const { return (out + nr - 1) / nr; }
  size_t panel_bytes() const;    // bytes of one panel in `w`
  size_t bytes() const { return w.size() + (scales.size() + bias.size()) * sizeof(float) + wsum.size() * 4; }
};

// Pack W[N,K] (row-major, as nn.Linear stores it) and bias (may be null) for `isa` in
// storage type `wt`.
void pack_linear(const float* W, const float* bias, int N, int K, Isa isa, PackedLinear& out,
                 WeightType wt = WeightType::F32, DotPolicy dot = DotPolicy::Auto);

// y = epilogue(x·Wᵀ + b). x: M rows of stride ldx (>= K); y: M rows of stride ldy (>= N).
// Runs on `pool` (may be null: the caller's thread only). On AVX2/AVX-512 the epilogue
// is computed in f32 (≤ ~1e-6 relative to apply_epilogue; see gemm_kernels.h).
void linear(const float* x, int64_t M, int64_t ldx, const PackedLinear& w, float* y, int64_t ldy,
            ThreadPool* pool, Epilogue ep = Epilogue::None);

// Scalar reference on the unpacked matrix (double accumulation).
void linear_ref(const float* x, int64_t M, int K, const float* W, const float* bias, int N, float* y,
                Epilogue ep = Epilogue::None);

// W[N,K] as storage type `wt` holds it, back in f32 (what the kernels multiply by); for
// I8Amx the int8 value widened to bf16 as its kernel does.
void dequantize_weights(const float* W, int N, int K, WeightType wt, float* out, GemmPath path = GemmPath::F32);
// x[M,K] as `path`'s kernels see it, back in f32 (unchanged except for the dot and AMX paths).
void round_activations(const float* x, int64_t M, int K, GemmPath path, float* out);

// Apply an epilogue to n values in place: PyTorch's formulas in double (the reference,
// and what the scalar level runs).
void apply_epilogue(float* y, int64_t n, Epilogue ep);

int panel_width(Isa isa);  // 32 (avx512), 16 (avx2), 8 (scalar)

// Scalar Q8_0 quantisation of n ≤ 32 values (the one formula weights, activations and the
// reference share): d = amax/127, q = nearbyint(v·(1/d)) clamped to ±127; returns d.
float quantize_block_q8(const float* v, int n, int8_t* q);

}  // namespace wc
