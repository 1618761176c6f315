// Internal contract between the gemm driver (gemm.cpp) and the per-ISA kernels
// (gemm_scalar.cpp, gemm_avx2.cpp, gemm_avx512.cpp, gemm_avx512_bf16.cpp,
// gemm_avx512_vnni.cpp). This header is included by translation units compiled with
// different -m flags, so it holds ONLY plain structs and function declarations: no
// inline functions, no templates (an inline body compiled with AVX-512 in one TU could
// be the copy the linker keeps for all of them).
#pragma once
#include <cstdint>

namespace wc {
namespace gemm {

// One panel kernel call: rows [0, m) of A times one panel's k-block [k0, k0+kc) →
// C columns [0, n_valid). The kernel tiles m by its own MR.
struct PanelArgs {
  const void* a;          // A at (row 0, k0): f32 rows of x (F32/widen paths), bf16 rows
                          // (Bf16Dot) or u8 rows (I8Dot) of the converted activations
  int64_t lda;            // A row stride, in elements of A's type
  const float* a_scale;   // I8Dot: scale of (row 0, block k0/32); row stride lda_scale
  int64_t lda_scale;
  const void* b;          // the panel at k0 in the path's layout (widen paths: f32 [kc][nr])
  const float* b_scale;   // I8Dot: [kc/32][nr] block scales of this k-block
  const int32_t* b_sum;   // I8Dot: [kc/32][nr] 128·Σq of this k-block
  int kc;                 // k extent (even for Bf16Dot, a multiple of 32 for I8Dot)
  int64_t m;              // rows
  float* c;               // C at (row 0, first column of the panel)
  int64_t ldc;
  int n_valid;            // columns of this panel that exist (≤ nr)
  const float* bias;      // non-null on the first k-block: C = A·B + bias
  bool accumulate;        // later k-blocks: C += A·B
  const void* b_next;     // packed weights the task reads next (may be null): the kernel
  int64_t b_next_lines;   // prefetches these 64-byte lines into L2 while it computes
};
using PanelFn = void (*)(const PanelArgs&);

// f32 panels [kc][nr] (nr = 8 / 16 / 32).
void panel_f32_scalar(const PanelArgs& p);
void panel_f32_avx2(const PanelArgs& p);
void panel_f32_avx512(const PanelArgs& p);
// Bf16Dot: panel [kc/2][32][2] bf16, A bf16 rows (pairs broadcast as 32-bit words).
void panel_bf16dot_avx512(const PanelArgs& p);
// I8Dot: panel [kc/4][32][4] int8, A u8 rows (q+128), per-block scales.
void panel_i8dot_avx512(const PanelArgs& p);

// Bf16Amx / I8Amx: panel [kc/2][32][2] bf16 (kc % 32 == 0), A bf16 rows; tiles of 16
// rows × 16 columns (TDPBF16PS). A may be read up to 31 rows past m (the caller keeps
// them addressable); only rows < m and columns < n_valid of C are written.
void panel_bf16amx(const PanelArgs& p);
// I8Amx: int8 [kc/2][nr][2] with scales [kc/32][nr] → bf16 [kc/2][nr][2], bf16(q·d).
void widen_i8_bf16pairs_avx512(const int8_t* q, const float* scales, int kc, int nr, uint16_t* dst);
void widen_i8_bf16pairs_scalar(const int8_t* q, const float* scales, int kc, int nr, uint16_t* dst);

// Widen a stored block to f32 for the f32 panel kernels.
// bf16: n contiguous values. int8: [kc][nr] values with scales [kc/32][nr] (kc % 32 == 0).
void widen_bf16_scalar(const uint16_t* src, int64_t n, float* dst);
void widen_bf16_avx2(const uint16_t* src, int64_t n, float* dst);
void widen_bf16_avx512(const uint16_t* src, int64_t n, float* dst);
void widen_i8_scalar(const int8_t* q, const float* scales, int kc, int nr, float* dst);
void widen_i8_avx2(const int8_t* q, const float* scales, int kc, int nr, float* dst);
void widen_i8_avx512(const int8_t* q, const float* scales, int kc, int nr, float* dst);

// Epilogues applied by linear() on its SIMD levels (ep: 1 = GELU-tanh, 2 = SiLU), in f32:
// both as x / (1 + exp(t)) (GELU-tanh: t = -2·√(2/π)·(x + 0.044715x³), the same value as
// 0.5x(1 + tanh(…)); SiLU: t = -x), exp by range reduction + degree-7 polynomial (≈1 ulp),
// a true division. Against apply_epilogue's double formulas (measured over [-20, 20]):
// SiLU ≤ 1.5e-7 relative; GELU ≤ 1.1e-6 relative where |y| > 1e-3 (the f32 rounding of
// t, amplified where the output is small), ≤ 5e-7 absolute everywhere.
void epilogue_avx2(float* y, int64_t n, int ep);
void epilogue_avx512(float* y, int64_t n, int ep);

// Activation conversion for the dot paths, rows of x → rows of k_pad (zero padded).
// bf16: round-to-nearest-even with denormals flushed (VCVTNE2PS2BF16).
// u8: per row and block of 32, quantize_block_q8's formula, stored as q+128; scales
// [rows][k_pad/32].
void convert_rows_bf16_avx512(const float* x, int64_t ldx, int64_t rows, int K, int k_pad, uint16_t* dst);
void quantize_rows_u8_avx512(const float* x, int64_t ldx, int64_t rows, int K, int k_pad, uint8_t* dst,
                             float* scales);
// Scalar twins (the reference for the two above, and what round_activations uses).
void convert_rows_bf16_scalar(const float* x, int64_t ldx, int64_t rows, int K, int k_pad, uint16_t* dst);
void quantize_rows_u8_scalar(const float* x, int64_t ldx, int64_t rows, int K, int k_pad, uint8_t* dst,
                             float* scales);

}  // namespace gemm
}  // namespace wc
