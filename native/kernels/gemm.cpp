// linear(): the cache-blocked, threaded driver over the per-ISA panel kernels.
//
// Blocking (BLIS-like, with W packed once at load):
//   - K is cut into k-blocks of about KC so a k-block of one panel (KC × nr) stays in
//     L1/L2 while every MR-row tile of an MC-row block streams past it; C accumulates
//     across k-blocks (bias on the first, C += on the others).
//   - M is cut into MC-row blocks whose k-block of A (MC × KC) stays in L2.
//   - Tasks are (M block, group of panels); the number of groups is picked so the
//     pool's threads get equal shares (each task re-reads its A block once per panel
//     group, so groups are only split when rows alone cannot feed every thread).
// Widen paths expand each (k-block, panel) of bf16/int8 weights to f32 in a per-thread
// buffer, once per MC rows (I8Amx: to bf16 pairs for the AMX kernel). Dot and AMX paths
// first convert the activations of a chunk of rows (bf16 or u8 + scales, in parallel)
// into a per-caller buffer that the tasks read.
#include "kernels/gemm.h"

#include <algorithm>
#include <cstdint>

#include "core/error.h"
#include "kernels/activations.h"
#include "kernels/gemm_kernels.h"

namespace wc {

void apply_epilogue(float* y, int64_t n, Epilogue ep) {
  if (ep == Epilogue::GeluTanh) gelu_tanh_inplace(y, n);
  else if (ep == Epilogue::Silu) silu_inplace(y, n);
}

namespace {

struct Kernels {
  gemm::PanelFn panel = nullptr;
  int mr = 1;                  // micro-tile rows (row blocks are multiples of it)
  int kc = 256;                // target k-block length (tuned per level on a 2 MB-L2 Xeon)
  int mc = 64;                 // target row block
  void (*widen_bf16)(const uint16_t*, int64_t, float*) = nullptr;
  void (*widen_i8)(const int8_t*, const float*, int, int, float*) = nullptr;
  void (*epilogue)(float*, int64_t, int) = nullptr;  // null: apply_epilogue (scalar, double)
};

Kernels kernels_for(const PackedLinear& w) {
  Kernels k;
  switch (w.isa) {
    case Isa::Avx512:
      // KC 768: the k-block of a panel (96 KB) and of an MC block of A (1 MB) stay in a
      // 2 MB L2; fewer passes over C than 512 (measured +3–5% at the 1.3B FFN shapes).
      k = {gemm::panel_f32_avx512, 14, 768, 336, gemm::widen_bf16_avx512, gemm::widen_i8_avx512,
           gemm::epilogue_avx512};
      break;
    case Isa::Avx2:
      k = {gemm::panel_f32_avx2, 6, 256, 144, gemm::widen_bf16_avx2, gemm::widen_i8_avx2, gemm::epilogue_avx2};
      break;
    default: k = {gemm::panel_f32_scalar, 1, 256, 64, gemm::widen_bf16_scalar, gemm::widen_i8_scalar};
  }
  if (w.path == GemmPath::Bf16Dot) {
    k.panel = gemm::panel_bf16dot_avx512;
    k.kc = 768;
  } else if (w.path == GemmPath::I8Dot) {
    k.panel = gemm::panel_i8dot_avx512;
    k.mr = 6;
    k.kc = 1024;
  } else if (gemm_path_amx(w.path)) {
    k.panel = gemm::panel_bf16amx;
    k.mr = 32;
    // KC 1536: one pass over C for the 1.3B model's K = 1536 (C's f32 traffic, not the
    // tiles, bounds a k-blocked AMX GEMM); MC 128 keeps the A block in L2.
    k.kc = 1536;
    k.mc = 128;
  }
  return k;
}

int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

// Panel groups per row block. At least ~4 tasks per thread when rows alone give fewer
// (so a thread slowed by another process hands work to the others) but no task under
// ~2M multiply-adds; among those, the fewest groups with the shortest makespan
// ceil(tasks/threads)·ceil(panels/group) (each group re-reads its A block).
int pick_groups(int64_t n_mb, int np, int threads, int64_t macs_per_panel) {
  if (threads <= 1) return 1;
  int lo = int(std::min<int64_t>(np, std::max<int64_t>(1, ceil_div(4 * threads, n_mb))));
  while (lo > 1 && ceil_div(np, lo) * macs_per_panel < (int64_t(1) << 21)) --lo;
  int best = lo;
  int64_t best_cost = INT64_MAX;
  for (int g = lo; g <= np && g <= 2 * lo + threads; ++g) {
    const int64_t cost = ceil_div(n_mb * g, threads) * ceil_div(np, g);
    if (cost < best_cost) {
      best_cost = cost;
      best = g;
    }
  }
  return best;
}

// Scratch that lives as long as its thread: the widened weight block of each worker,
// the converted activations of each caller (engine threads call linear one at a time).
thread_local FloatBuffer t_widen;
thread_local AlignedBuffer<uint16_t> t_widen_bf16;  // I8Amx: a k-block of a panel as bf16 pairs
thread_local AlignedBuffer<uint8_t> t_act;
thread_local FloatBuffer t_act_scale;

}  // namespace

void linear(const float* x, int64_t M, int64_t ldx, const PackedLinear& w, float* y, int64_t ldy,
            ThreadPool* pool, Epilogue ep) {
  if (M <= 0) return;
  const Kernels kn = kernels_for(w);
  const int nr = w.nr, K = w.in, N = w.out, kp = w.k_pad, np = w.n_panels();
  const int nb = kp / kQ8Block;  // int8 blocks per row (I8 paths)
  const size_t pb = w.panel_bytes();
  const bool amx = gemm_path_amx(w.path);
  const bool bf16_act = w.path == GemmPath::Bf16Dot || amx;  // activations converted to bf16 rows
  const bool dot = bf16_act || w.path == GemmPath::I8Dot;
  const bool small = double(M) * N * K < double(1 << 18);
  const int threads = pool && !small ? pool->size() : 1;
  auto run = [&](int64_t n, const std::function<void(int64_t, int)>& fn) {
    if (threads > 1 && n > 1) pool->parallel_for(n, fn);
    else for (int64_t t = 0; t < n; ++t) fn(t, 0);
  };

  // k-blocks: equal lengths, multiples of 32 (the int8 block) unless there is only one.
  const int n_kb = int(ceil_div(kp, kn.kc));
  const int kc_step = n_kb == 1 ? kp : int(std::min<int64_t>(kp, ceil_div(ceil_div(kp, n_kb), 32) * 32));

  // Dot paths convert activations chunk by chunk (bounded scratch: ~8 MB or one row block).
  const size_t act_row = dot ? size_t(kp) * (bf16_act ? 2 : 1) : 0;
  int64_t chunk = M;
  if (dot) {
    chunk = std::max<int64_t>(kn.mc, int64_t((size_t(8) << 20) / act_row) / kn.mc * kn.mc);
    chunk = std::min(chunk, M);
    // AMX tiles read whole 16-row tiles: up to 31 rows past a chunk's end stay addressable
    // (zeroed when the buffer grows, afterwards what an earlier call left; their results are
    // never stored).
    const size_t slack = amx ? 32 * act_row : 0;
    if (t_act.size() < act_row * chunk + slack) {
      t_act.resize(act_row * chunk + slack);
      t_act.zero();
    }
    if (w.path == GemmPath::I8Dot) t_act_scale.resize(size_t(nb) * chunk);
  }
  uint8_t* act = dot ? t_act.data() : nullptr;
  float* act_scale = w.path == GemmPath::I8Dot ? t_act_scale.data() : nullptr;
  const bool avx512 = w.isa == Isa::Avx512;
  const int elem = w.path == GemmPath::F32 ? 4 : w.wtype == WeightType::BF16 ? 2 : 1;  // stored bytes per weight

  for (int64_t r0 = 0; r0 < M; r0 += chunk) {
    const int64_t rows = std::min(chunk, M - r0);
    if (dot) {
      const int64_t n_slices = threads > 1 ? std::min<int64_t>(rows, 4 * threads) : 1;
      run(n_slices, [&](int64_t s, int) {
        const int64_t a = rows * s / n_slices, b = rows * (s + 1) / n_slices;
        if (bf16_act) {
          uint16_t* d = reinterpret_cast<uint16_t*>(act) + a * kp;
          if (avx512) gemm::convert_rows_bf16_avx512(x + (r0 + a) * ldx, ldx, b - a, K, kp, d);
          else gemm::convert_rows_bf16_scalar(x + (r0 + a) * ldx, ldx, b - a, K, kp, d);
        } else {
          uint8_t* d = act + a * kp;
          if (avx512) gemm::quantize_rows_u8_avx512(x + (r0 + a) * ldx, ldx, b - a, K, kp, d, act_scale + a * nb);
          else gemm::quantize_rows_u8_scalar(x + (r0 + a) * ldx, ldx, b - a, K, kp, d, act_scale + a * nb);
        }
      });
    }

    const int64_t n_mb = ceil_div(rows, kn.mc);
    const int64_t mc = std::min(rows, ceil_div(ceil_div(rows, n_mb), kn.mr) * kn.mr);
    const int64_t n_mb2 = ceil_div(rows, mc);
    const int groups = pick_groups(n_mb2, np, threads, mc * K * int64_t(nr));
    const int per_group = int(ceil_div(np, groups));

    run(n_mb2 * groups, [&](int64_t t, int) {
      const int64_t mb = t / groups;
      const int g = int(t % groups);
      const int64_t m0 = mb * mc, m1 = std::min(rows, m0 + mc);  // rows within the chunk
      const int p0 = g * per_group, p1 = std::min(np, p0 + per_group);
      if (p0 >= p1) return;
      float* wide = nullptr;
      uint16_t* wide_bf16 = nullptr;
      if (w.path == GemmPath::Bf16Widen || w.path == GemmPath::I8Widen) {
        t_widen.resize(size_t(kc_step) * nr);
        wide = t_widen.data();
      } else if (w.path == GemmPath::I8Amx) {
        t_widen_bf16.resize(size_t(kc_step) * nr);
        wide_bf16 = t_widen_bf16.data();
      }
      for (int k0 = 0; k0 < kp; k0 += kc_step) {
        const int kc = std::min(kc_step, kp - k0);
        gemm::PanelArgs a{};
        a.m = m1 - m0;
        a.ldc = ldy;
        a.accumulate = k0 > 0;
        if (dot) {
          a.kc = kc;
          a.lda = kp;
          if (bf16_act) a.a = reinterpret_cast<const uint16_t*>(act) + m0 * kp + k0;
          else {
            a.a = act + m0 * kp + k0;
            a.a_scale = act_scale + m0 * nb + k0 / kQ8Block;
            a.lda_scale = nb;
          }
        } else {
          a.kc = std::min(kc, K - k0);  // k past K is padding (int8 blocks)
          a.lda = ldx;
          a.a = x + (r0 + m0) * ldx + k0;
        }
        for (int p = p0; p < p1; ++p) {
          const uint8_t* panel = w.w.data() + pb * p;
          const size_t sb = (size_t(p) * nb + k0 / kQ8Block) * nr;  // int8 scale block
          switch (w.path) {
            case GemmPath::F32: a.b = reinterpret_cast<const float*>(panel) + size_t(k0) * nr; break;
            case GemmPath::Bf16Widen:
              kn.widen_bf16(reinterpret_cast<const uint16_t*>(panel) + size_t(k0) * nr, int64_t(kc) * nr, wide);
              a.b = wide;
              break;
            case GemmPath::I8Widen:
              kn.widen_i8(reinterpret_cast<const int8_t*>(panel) + size_t(k0) * nr, w.scales.data() + sb, kc, nr,
                          wide);
              a.b = wide;
              break;
            case GemmPath::Bf16Dot:
            case GemmPath::Bf16Amx: a.b = reinterpret_cast<const uint16_t*>(panel) + size_t(k0) * nr; break;
            case GemmPath::I8Amx:
              gemm::widen_i8_bf16pairs_avx512(reinterpret_cast<const int8_t*>(panel) + size_t(k0) * nr,
                                              w.scales.data() + sb, kc, nr, wide_bf16);
              a.b = wide_bf16;
              break;
            case GemmPath::I8Dot:
              a.b = reinterpret_cast<const int8_t*>(panel) + size_t(k0) * nr;
              a.b_scale = w.scales.data() + sb;
              a.b_sum = w.wsum.data() + sb;
              break;
          }
          // The weights this task reads next: the next panel, or the group's first at the next k-block.
          int next_p = -1, next_k0 = k0;
          if (p + 1 < p1) next_p = p + 1;
          else if (k0 + kc_step < kp) next_p = p0, next_k0 = k0 + kc_step;
          a.b_next = next_p < 0 ? nullptr : w.w.data() + pb * next_p + size_t(next_k0) * nr * elem;
          a.b_next_lines = next_p < 0 ? 0 : int64_t(std::min(kc_step, kp - next_k0)) * nr * elem / 64;
          const int n0 = p * nr;
          a.n_valid = std::min(nr, N - n0);
          a.c = y + (r0 + m0) * ldy + n0;
          a.bias = k0 == 0 ? w.bias.data() + n0 : nullptr;
          kn.panel(a);
        }
      }
      if (ep != Epilogue::None) {  // on the task's block while it is still in cache
        const int c0 = p0 * nr, c1 = std::min(N, p1 * nr);
        for (int64_t m = m0; m < m1; ++m) {
          float* row = y + (r0 + m) * ldy + c0;
          if (kn.epilogue) kn.epilogue(row, c1 - c0, int(ep));
          else apply_epilogue(row, c1 - c0, ep);
        }
      }
    });
  }
}

}  // namespace wc
