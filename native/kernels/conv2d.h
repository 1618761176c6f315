// 2-D convolutions (stride 1, zero padding k/2, k = 1 or 3) on CHW f32 images, with bias,
// and nearest-neighbour x2 upsampling — the ops of the TAEHV video decoder.
//
// Fast path (conv2d): the input channels — several CHW tensors concatenated along C, each
// optionally upsampled x2 on the fly — are copied once into a zero-bordered scratch image
// of padded width Wp = W + 2p, channel stride (H + 2p) * Wp.  In that flat layout every
// output pixel (y, x) sits at q = (y + p) * Wp + (x + p), and tap (ky, kx) reads the input
// at q + (ky - p) * Wp + (kx - p): a constant offset, so a run of consecutive q (which
// crosses row ends; the border columns it computes are dropped) is a contiguous vector
// load for every tap.  The micro-kernel holds a tile of co_tile output channels x px_tile
// positions in registers and streams cin * k * k (input vector, broadcast weight) FMAs
// into it; the epilogue adds bias and an optional residual, applies ReLU and scatters the
// valid pixels to the CHW output.  Weights are packed once (pack_conv) per ISA:
// [ceil(cout / co_tile)][cin][k*k][co_tile].  Tiles run in parallel on the ThreadPool.
//
// Precision bf16 (ConvPrecision::Bf16): weights and the padded input are rounded to bf16
// (nearest even) and stored as pairs of input channels in 32-bit words, products exact and
// summed in f32 (AMX TDPBF16PS tiles where the process may use AMX, else VDPBF16PS where the
// CPU has AVX512_BF16, a scalar twin elsewhere); its reference is conv2d_ref on the
// bf16-rounded weights and input.
//
// Algorithm Winograd (ConvAlgo::Winograd, f32 3x3 only): F(4x4, 3x3) (Lavin & Gray 2016,
// points 0, +-1, +-2, inf). The output is cut into 4x4 tiles; each tile's 6x6 input patch
// d becomes V = B^T d B, the weights U = G g G^T (packed once), and the tile's output is
// A^T [sum over ci of U (.) V] A: 36 multiply-adds per input channel where the direct
// kernel does 144, plus the two transforms. The input is copied once into a zero-bordered
// HWC image (channels padded to 8) so a tile's patch is 36 contiguous channel vectors; tiles
// are transformed and multiplied in chunks of T (a multiple of 6) that stay in L2:
// V [36][T][cinP] x U [36][cinP][coP] -> M [36][T][coP], 36 small GEMMs. It is not the
// direct kernel's order of additions: the transforms' coefficients (up to 8 and 1/24)
// raise the rounding error by about an order of magnitude (measured ~1e-6 of the output's
// scale at the decoder's shapes, against ~1e-7 direct), well inside the decoder's 1e-4.
// ConvAlgo::Auto picks it for f32 3x3 convs with at least 8 outputs where it was measured
// to be faster (AVX2 and scalar); AVX-512 keeps its direct kernels (the 8x48 f32 tile and
// VDPBF16PS), not yet measured against it.
//
// conv2d_ref is the plain scalar reference (double accumulation) every variant is tested
// against.  Summation order of the fast path: for each input channel in order, the k*k
// taps in row-major order, one fp32 FMA each; bias and residual are added at the end.
#pragma once
#include <cstdint>

#include "core/buffer.h"
#include "core/cpu_features.h"
#include "core/thread_pool.h"

namespace wc {

enum class ConvAct : int { None = 0, Relu = 1 };
enum class ConvPrecision : int { F32 = 0, Bf16 = 1 };
enum class ConvAlgo : int { Auto = 0, Direct = 1, Winograd = 2 };

// bf16 micro-kernels: tile[co][j] = sum over cp < cpairs, t < ntaps of the two products of
// the bf16 pair wp[(cp * ntaps + t) * co_tile + co] with the pair in[cp * cs + taps[t] + j].
using ConvTileKernelBf16 = void (*)(const uint32_t* in, int64_t cs, int cpairs, const int64_t* taps, int ntaps,
                                    const uint32_t* wp, float* tile);

struct PackedConv {
  int cin = 0, cout = 0, k = 0;  // kernel k x k, padding k / 2
  int co_tile = 0, px_tile = 0;  // micro-tile (conv_tile_shape)
  bool amx = false;              // bf16 on AMX tiles: weights [cob][ceil(cin/32)][k*k][co_tile][16] pairs
  int planes_w = 0;              // bf16: pair planes per block of output channels in wb (ceil(cin/2), or
                                 // rounded up to 16 for AMX, whose input scratch carries zero planes to match
  Isa isa = Isa::Scalar;
  ConvPrecision precision = ConvPrecision::F32;
  ConvAlgo algo = ConvAlgo::Direct;  // Direct or Winograd once packed
  int cin_p = 0, cout_p = 0;         // Winograd: channel counts padded to 8
  void (*kernel)(const float*, int64_t, int, const int64_t*, int, const float*, float*) = nullptr;
  ConvTileKernelBf16 kernel_bf16 = nullptr;
  FloatBuffer w;                 // f32: [ceil(cout/co_tile)][cin][k*k][co_tile], zero padded
  AlignedBuffer<uint32_t> wb;    // bf16: [ceil(cout/co_tile)][ceil(cin/2)][k*k][co_tile] pairs
  FloatBuffer wu;                // Winograd: U = G g G^T as [36][cin_p][cout_p], zero padded
  FloatBuffer bias;              // cout (zeros when the conv has none); Winograd: cout_p
  size_t bytes() const {
    return (w.size() + wu.size() + bias.size()) * sizeof(float) + wb.size() * sizeof(uint32_t);
  }
};

// Pack W [cout][cin][k][k] (nn.Conv2d layout) and bias (may be null) for `isa` at
// `precision`. Bf16 runs VDPBF16PS at Isa::Avx512 on a CPU with AVX512_BF16, else its
// scalar twin (see conv_bf16_fast).
// `algo` Auto: Winograd where conv_winograd_default says so, else Direct; Winograd is
// refused for k = 1 and for bf16.
void pack_conv(const float* W, const float* bias, int cout, int cin, int k, Isa isa, PackedConv& out,
               ConvPrecision precision = ConvPrecision::F32, ConvAlgo algo = ConvAlgo::Auto);

// Whether ConvAlgo::Auto takes Winograd for this conv at `isa`.
bool conv_winograd_default(int cout, int k, Isa isa, ConvPrecision precision);

// Whether bf16 convolutions run with bf16 dot products at `isa` on this CPU (else they
// take the scalar twin: correct, and slower than f32).
bool conv_bf16_fast(Isa isa);

// One input of a convolution: `channels` planes of the output size (H x W), or of
// (H / 2) x (W / 2) upsampled nearest x2 on the fly when `up2` is set.
struct ConvInput {
  const float* data = nullptr;
  int channels = 0;
  bool up2 = false;
};

// Reusable scratch of conv2d (the padded input image); grows, never shrinks.
struct ConvScratch {
  FloatBuffer pad;   // direct: CHW padded planes; Winograd: the HWC padded image
  FloatBuffer wino;  // Winograd: per thread, one chunk's V and M
  AlignedBuffer<uint32_t> padb;  // bf16 precision: the padded input as channel pairs
};

// out[cout][H][W] = act(conv(cat(inputs)) + bias + residual). The inputs' channels must
// add up to w.cin; residual (may be null) is [cout][H][W]; out must not alias an input
// (it may alias residual). pool may be null (single thread).
void conv2d(const ConvInput* inputs, int n_inputs, int H, int W, const PackedConv& w, float* out,
            const float* residual, ConvAct act, ThreadPool* pool, ConvScratch& scratch);

// Plain scalar reference on the unpacked weights (double accumulation), zero padding k/2.
void conv2d_ref(const float* in, int cin, int H, int W, const float* Wt, const float* bias, int cout, int k,
                float* out, const float* residual = nullptr, ConvAct act = ConvAct::None);

// out[C][2H][2W] = in[C][H][W] repeated 2x2 (nearest neighbour).
void upsample_nearest2(const float* in, int C, int H, int W, float* out, ThreadPool* pool);

// ISA-specific micro-kernels: tile[co][j] (co < co_tile, j < px_tile) =
//   sum over ci < cin, t < ntaps of wp[(ci * ntaps + t) * co_tile + co] * in[ci * cs + taps[t] + j].
using ConvTileKernel = void (*)(const float* in, int64_t cs, int cin, const int64_t* taps, int ntaps,
                                const float* wp, float* tile);
void conv_tile_scalar(const float* in, int64_t cs, int cin, const int64_t* taps, int ntaps, const float* wp,
                      float* tile);
void conv_tile_avx2(const float* in, int64_t cs, int cin, const int64_t* taps, int ntaps, const float* wp,
                    float* tile);
void conv_tile_avx512(const float* in, int64_t cs, int cin, const int64_t* taps, int ntaps, const float* wp,
                      float* tile);  // 8 x 48
void conv_tile_avx512_narrow(const float* in, int64_t cs, int cin, const int64_t* taps, int ntaps,
                             const float* wp, float* tile);  // 4 x 96, for cout <= 4

void conv_tile_bf16_scalar(const uint32_t* in, int64_t cs, int cpairs, const int64_t* taps, int ntaps,
                           const uint32_t* wp, float* tile);  // 4 x 16
void conv_tile_bf16_avx512(const uint32_t* in, int64_t cs, int cpairs, const int64_t* taps, int ntaps,
                           const uint32_t* wp, float* tile);  // 8 x 48
void conv_tile_bf16_avx512_narrow(const uint32_t* in, int64_t cs, int cpairs, const int64_t* taps, int ntaps,
                                  const uint32_t* wp, float* tile);  // 4 x 96, for cout <= 4
void conv_tile_bf16_amx32(const uint32_t* in, int64_t cs, int cpairs, const int64_t* taps, int ntaps,
                          const uint32_t* wp, float* tile);  // 32 x 32, AMX
void conv_tile_bf16_amx16(const uint32_t* in, int64_t cs, int cpairs, const int64_t* taps, int ntaps,
                          const uint32_t* wp, float* tile);  // 16 x 64, AMX, for cout <= 16

// Winograd F(4x4, 3x3) pieces, one set per ISA (scalar, AVX2; AVX-512 hosts run the AVX2
// set). hwc is the padded image [Hq][Wq][cin_p] (one zero row/column above and left); a
// tile (ty, tx) reads rows 4 ty .. 4 ty + 5 and columns 4 tx .. 4 tx + 5 of it.
//   input:  V[xi * vs + c] = (B^T d B)[xi] of the tile's patch, for every channel c < cin_p.
//   gemm:   M[xi][t][co] = sum over c of V[xi][t][c] * U[xi][c][co] for t < rows (a
//           multiple of 6), co < cout_p (a multiple of 8); V rows are cin_p apart, M rows cout_p.
//   output: the tile's 4x4 pixels (A^T m A) of channels co < cout, from M[xi * ms + co],
//           plus bias[co] and residual, ReLU'd, stored to the valid ny x nx corner of out (CHW).
//   fill:   the image row of input row y (all Wq columns, borders zero) from the planes
//           base[c] (null: a zero channel) of H x W, or of (H/2) x (W/2) read at (y/2, x/2)
//           when up2[c].
struct WinogradOps {
  void (*input)(const float* hwc, int64_t Wq, int cin_p, int ty, int tx, float* V, int64_t vs);
  void (*gemm)(const float* V, const float* U, float* M, int rows, int cin_p, int cout_p);
  void (*output)(const float* M, int64_t ms, int cout, const float* bias, int ty, int tx, int H, int W,
                 float* out, const float* residual, bool relu);
  void (*fill_row)(const float* const* base, const bool* up2, int cin_p, int W, int y, float* row);
};
extern const WinogradOps winograd_scalar;
extern const WinogradOps winograd_avx2;

// out[i] = bf16(a[i]) | bf16(b[i]) << 16 (round to nearest even; b null: zero high half).
void bf16_pairs_scalar(const float* a, const float* b, int64_t n, uint32_t* out);
void bf16_pairs_avx512(const float* a, const float* b, int64_t n, uint32_t* out);

// The micro-tile pack_conv uses for an ISA and output count: (co_tile, px_tile, kernel).
// co_tile * px_tile <= 1024 and px_tile <= 96 for every variant. bf16 at Isa::Avx512 takes
// the AMX kernels where cpu_features().amx and conv_set_amx has not turned them off (amx).
ConvTileKernel conv_tile_shape(Isa isa, int cout, int& co_tile, int& px_tile);
ConvTileKernelBf16 conv_tile_shape_bf16(Isa isa, int cout, int& co_tile, int& px_tile, bool* amx = nullptr);
// Whether bf16 convolutions packed from now on may use AMX (default true; tests compare the
// AMX and VDPBF16PS kernels). Process-wide.
void conv_set_amx(bool use);

}  // namespace wc
