#include "kernels/conv2d.h"

#include <algorithm>
#include <atomic>
#include <cstring>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "core/dtype.h"
#include "core/error.h"

namespace wc {

namespace {

constexpr int kScalarCo = 4, kScalarPx = 16;

void run(ThreadPool* pool, int64_t n, const std::function<void(int64_t, int)>& fn) {
  if (n <= 0) return;
  if (pool && n > 1 && pool->size() > 1) {
    pool->parallel_for(n, fn);
  } else {
    for (int64_t i = 0; i < n; ++i) fn(i, 0);
  }
}

}  // namespace

// conv2d_winograd.cpp
void pack_winograd(const float* W, const float* bias, int cout, int cin, PackedConv& out);
void conv2d_winograd(const ConvInput* inputs, int n_inputs, int H, int W, const PackedConv& w, float* out,
                     const float* residual, ConvAct act, ThreadPool* pool, ConvScratch& scratch);

bool conv_winograd_default(int cout, int k, Isa isa, ConvPrecision precision) {
  return k == 3 && cout >= 8 && precision == ConvPrecision::F32 && isa != Isa::Avx512;
}

ConvTileKernel conv_tile_shape(Isa isa, int cout, int& co_tile, int& px_tile) {
  switch (isa) {
    case Isa::Avx512:
      if (cout <= 4) { co_tile = 4; px_tile = 96; return conv_tile_avx512_narrow; }
      co_tile = 8; px_tile = 48; return conv_tile_avx512;
    case Isa::Avx2: co_tile = 4; px_tile = 24; return conv_tile_avx2;
    default: co_tile = kScalarCo; px_tile = kScalarPx; return conv_tile_scalar;
  }
}

bool conv_bf16_fast(Isa isa) { return isa == Isa::Avx512 && cpu_features().avx512_bf16; }

namespace {
std::atomic<bool> g_conv_amx{true};
}

void conv_set_amx(bool use) { g_conv_amx = use; }

ConvTileKernelBf16 conv_tile_shape_bf16(Isa isa, int cout, int& co_tile, int& px_tile, bool* amx) {
  if (amx) *amx = false;
  if (conv_bf16_fast(isa) && cpu_features().amx && g_conv_amx) {
    if (amx) *amx = true;
    if (cout <= 16) { co_tile = 16; px_tile = 64; return conv_tile_bf16_amx16; }
    co_tile = 32; px_tile = 32; return conv_tile_bf16_amx32;
  }
  if (conv_bf16_fast(isa)) {
    if (cout <= 4) { co_tile = 4; px_tile = 96; return conv_tile_bf16_avx512_narrow; }
    co_tile = 8; px_tile = 48; return conv_tile_bf16_avx512;
  }
  co_tile = kScalarCo; px_tile = kScalarPx; return conv_tile_bf16_scalar;
}

void conv_tile_bf16_scalar(const uint32_t* in, int64_t cs, int cpairs, const int64_t* taps, int ntaps,
                           const uint32_t* wp, float* tile) {
  float acc[kScalarCo][kScalarPx] = {};
  for (int cp = 0; cp < cpairs; ++cp) {
    const uint32_t* ip = in + cp * cs;
    for (int t = 0; t < ntaps; ++t, wp += kScalarCo) {
      const uint32_t* p = ip + taps[t];
      for (int co = 0; co < kScalarCo; ++co) {
        const float w0 = bf16_to_f32(uint16_t(wp[co])), w1 = bf16_to_f32(uint16_t(wp[co] >> 16));
        for (int j = 0; j < kScalarPx; ++j)
          acc[co][j] += w0 * bf16_to_f32(uint16_t(p[j])) + w1 * bf16_to_f32(uint16_t(p[j] >> 16));
      }
    }
  }
  std::memcpy(tile, acc, sizeof(acc));
}

void bf16_pairs_scalar(const float* a, const float* b, int64_t n, uint32_t* out) {
  for (int64_t i = 0; i < n; ++i)
    out[i] = uint32_t(f32_to_bf16(a[i])) | (b ? uint32_t(f32_to_bf16(b[i])) << 16 : 0u);
}

void conv_tile_scalar(const float* in, int64_t cs, int cin, const int64_t* taps, int ntaps, const float* wp,
                      float* tile) {
  float acc[kScalarCo][kScalarPx] = {};
  for (int ci = 0; ci < cin; ++ci) {
    const float* ip = in + ci * cs;
    for (int t = 0; t < ntaps; ++t, wp += kScalarCo) {
      const float* p = ip + taps[t];
      for (int co = 0; co < kScalarCo; ++co) {
        const float wv = wp[co];
        for (int j = 0; j < kScalarPx; ++j) acc[co][j] += wv * p[j];
      }
    }
  }
  std::memcpy(tile, acc, sizeof(acc));
}

void pack_conv(const float* W, const float* bias, int cout, int cin, int k, Isa isa, PackedConv& out,
               ConvPrecision precision, ConvAlgo algo) {
  if (k != 1 && k != 3) fail(ErrorKind::Argument, "conv2d: kernel size must be 1 or 3, not " + std::to_string(k));
  if (cout <= 0 || cin <= 0) fail(ErrorKind::Argument, "conv2d: channel counts must be positive");
  if (int(isa) > int(best_isa())) fail(ErrorKind::Argument, std::string("conv2d: this CPU lacks ") + isa_name(isa));
  out.cin = cin;
  out.cout = cout;
  out.k = k;
  out.isa = isa;
  out.precision = precision;
  if (algo == ConvAlgo::Auto) algo = conv_winograd_default(cout, k, isa, precision) ? ConvAlgo::Winograd : ConvAlgo::Direct;
  if (algo == ConvAlgo::Winograd && (k != 3 || precision != ConvPrecision::F32))
    fail(ErrorKind::Argument, "conv2d: the Winograd algorithm takes f32 3x3 convolutions only");
  out.algo = algo;
  out.wu = FloatBuffer();
  out.cin_p = out.cout_p = 0;
  if (algo == ConvAlgo::Winograd) {
    pack_winograd(W, bias, cout, cin, out);
    return;
  }
  const bool bf16 = precision == ConvPrecision::Bf16;
  out.kernel = bf16 ? nullptr : conv_tile_shape(isa, cout, out.co_tile, out.px_tile);
  out.kernel_bf16 = bf16 ? conv_tile_shape_bf16(isa, cout, out.co_tile, out.px_tile, &out.amx) : nullptr;
  // The planes the kernel walks: input channels, or (bf16) pairs of them in 32-bit words.
  const int ct = out.co_tile, kk = k * k, n_cob = (cout + ct - 1) / ct, planes = bf16 ? (cin + 1) / 2 : cin;
  out.planes_w = out.amx ? (planes + 15) / 16 * 16 : planes;
  const size_t n = size_t(n_cob) * out.planes_w * kk * ct;
  out.w = FloatBuffer();
  out.wb = AlignedBuffer<uint32_t>();
  if (bf16) {
    out.wb.resize(n);
    out.wb.zero();
  } else {
    out.w.resize(n);
    out.w.zero();
  }
  for (int co = 0; co < cout; ++co) {
    const int cob = co / ct, cc = co % ct;
    for (int ci = 0; ci < cin; ++ci)
      for (int t = 0; t < kk; ++t) {
        const float v = W[(size_t(co) * cin + ci) * kk + t];
        const int pl = bf16 ? ci / 2 : ci;
        // AMX: [cob][pair block][tap][co][16 pairs]; otherwise [cob][plane][tap][co]
        const size_t at = out.amx ? ((((size_t(cob) * (out.planes_w / 16) + pl / 16) * kk + t) * ct + cc) * 16 + pl % 16)
                                  : ((size_t(cob) * planes + pl) * kk + t) * ct + cc;
        if (bf16) out.wb[at] |= uint32_t(f32_to_bf16(v)) << (16 * (ci % 2));
        else out.w[at] = v;
      }
  }
  out.bias.resize(size_t(cout));
  for (int co = 0; co < cout; ++co) out.bias[co] = bias ? bias[co] : 0.0f;
}

void conv2d(const ConvInput* inputs, int n_inputs, int H, int W, const PackedConv& w, float* out,
            const float* residual, ConvAct act, ThreadPool* pool, ConvScratch& scratch) {
  if (H <= 0 || W <= 0) fail(ErrorKind::Shape, "conv2d: image size must be positive");
  const bool bf16 = w.precision == ConvPrecision::Bf16, wino = w.algo == ConvAlgo::Winograd;
  if ((w.k != 1 && w.k != 3) || !(wino ? w.wu.size() > 0 : bf16 ? bool(w.kernel_bf16) : bool(w.kernel)))
    fail(ErrorKind::Internal, "conv2d: weights are not packed");
  int cin = 0;
  for (int i = 0; i < n_inputs; ++i) {
    if (!inputs[i].data || inputs[i].channels <= 0) fail(ErrorKind::Argument, "conv2d: empty input");
    if (inputs[i].up2 && (H % 2 || W % 2)) fail(ErrorKind::Shape, "conv2d: an upsampled input needs an even output size");
    cin += inputs[i].channels;
  }
  if (cin != w.cin)
    fail(ErrorKind::Shape, "conv2d: inputs have " + std::to_string(cin) + " channels, the weights take " +
                               std::to_string(w.cin));
  if (wino) {
    conv2d_winograd(inputs, n_inputs, H, W, w, out, residual, act, pool, scratch);
    return;
  }

  const int p = w.k / 2, kk = w.k * w.k;
  const int64_t Wp = W + 2 * p, Hp = H + 2 * p, cs = Hp * Wp;
  const int ct = w.co_tile, pt = w.px_tile;
  const size_t slack = size_t(pt) + 64;
  // The planes the kernels read: f32 channels, or bf16 channel pairs (one 32-bit word each).
  const int planes = bf16 ? (cin + 1) / 2 : cin;
  float* pad = nullptr;
  uint32_t* padb = nullptr;
  if (bf16) {
    // AMX kernels read whole blocks of 16 pair planes: the planes past `planes` are zero.
    scratch.padb.resize(size_t(w.planes_w) * size_t(cs) + slack);
    padb = scratch.padb.data();
    if (w.planes_w > planes)
      std::memset(padb + size_t(planes) * size_t(cs), 0, sizeof(uint32_t) * size_t(w.planes_w - planes) * size_t(cs));
  } else {
    scratch.pad.resize(size_t(cin) * size_t(cs) + slack);
    pad = scratch.pad.data();
  }

  // 1. The padded input image (zero border, inputs concatenated, x2 upsampling applied).
  std::vector<std::pair<int, int>> chan_src(static_cast<size_t>(cin));  // channel → (input, channel within it)
  for (int i = 0, c = 0; i < n_inputs; ++i)
    for (int j = 0; j < inputs[i].channels; ++j) chan_src[size_t(c++)] = {i, j};
  // Small convs stay on the calling thread: a parallel_for costs more than they do.
  ThreadPool* fill_pool = int64_t(cin) * cs >= (int64_t(1) << 16) ? pool : nullptr;
  ThreadPool* work_pool = int64_t(w.cout) * cin * kk * H * W >= (int64_t(1) << 21) ? pool : nullptr;
  // A source row of channel c (y of the output, halved for an upsampled input).
  auto src_row = [&](int c, int y) -> const float* {
    const ConvInput& in = inputs[chan_src[size_t(c)].first];
    const int j = chan_src[size_t(c)].second;
    return in.up2 ? in.data + (int64_t(j) * (H / 2) + y / 2) * (W / 2) : in.data + (int64_t(j) * H + y) * W;
  };
  if (bf16) {
    void (*pairs)(const float*, const float*, int64_t, uint32_t*) =
        w.isa == Isa::Avx512 ? bf16_pairs_avx512 : bf16_pairs_scalar;
    run(fill_pool, planes, [&](int64_t cp, int) {
      uint32_t* dst = padb + cp * cs;
      const int c0 = int(2 * cp), c1 = c0 + 1 < cin ? c0 + 1 : -1;
      // Channels of one pair come from the same kind of input only when both upsample or
      // neither does; convert each row at the source size and widen when upsampled.
      const bool up0 = inputs[chan_src[size_t(c0)].first].up2, up1 = c1 >= 0 && inputs[chan_src[size_t(c1)].first].up2;
      std::vector<float> wide(up0 != up1 ? size_t(W) : 0);  // only for a pair of one of each kind
      if (p) {
        std::memset(dst, 0, sizeof(uint32_t) * size_t(p * Wp));
        std::memset(dst + (Hp - p) * Wp, 0, sizeof(uint32_t) * size_t(p * Wp));
      }
      for (int y = 0; y < H; ++y) {
        uint32_t* row = dst + (y + p) * Wp;
        for (int x = 0; x < p; ++x) row[x] = row[Wp - 1 - x] = 0u;
        const float* a = src_row(c0, y);
        const float* b = c1 >= 0 ? src_row(c1, y) : nullptr;
        if (up0 && (c1 < 0 || up1)) {  // both at half width: convert, then repeat each word in place
          pairs(a, b, W / 2, row + p);
          for (int x = W / 2 - 1; x >= 0; --x) row[p + 2 * x] = row[p + 2 * x + 1] = row[p + x];
        } else if (!up0 && !up1) {
          pairs(a, b, W, row + p);
        } else {  // one of each: widen the upsampled row first
          const float* half = up0 ? a : b;
          for (int x = 0; x < W; ++x) wide[size_t(x)] = half[x / 2];
          pairs(up0 ? wide.data() : a, up0 ? b : wide.data(), W, row + p);
        }
      }
    });
    std::memset(padb + size_t(w.planes_w) * size_t(cs), 0, sizeof(uint32_t) * slack);
  } else {
    run(fill_pool, cin, [&](int64_t c, int) {
      float* dst = pad + c * cs;
      const bool up = inputs[chan_src[size_t(c)].first].up2;
      if (p) {
        std::memset(dst, 0, sizeof(float) * size_t(p * Wp));
        std::memset(dst + (Hp - p) * Wp, 0, sizeof(float) * size_t(p * Wp));
      }
      for (int y = 0; y < H; ++y) {
        float* row = dst + (y + p) * Wp;
        for (int x = 0; x < p; ++x) row[x] = row[Wp - 1 - x] = 0.0f;
        const float* src = src_row(int(c), y);
        if (up)
          for (int x = 0; x < W / 2; ++x) row[p + 2 * x] = row[p + 2 * x + 1] = src[x];
        else
          std::memcpy(row + p, src, sizeof(float) * size_t(W));
      }
    });
    std::memset(pad + size_t(cin) * size_t(cs), 0, sizeof(float) * slack);
  }

  // 2. Tiles of consecutive flat positions [s, e] x blocks of co_tile output channels.
  const int64_t s = p * Wp + p, e = (H - 1 + p) * Wp + (W - 1 + p), L = e - s + 1;
  const int64_t n_tiles = (L + pt - 1) / pt;
  const int n_cob = (w.cout + ct - 1) / ct;
  int64_t taps[9];
  for (int ky = 0, t = 0; ky < w.k; ++ky)
    for (int kx = 0; kx < w.k; ++kx) taps[t++] = (ky - p) * Wp + (kx - p);
  // Chunks of ~512 positions (the input rows they read stay in L2 across the channel blocks);
  // split the channel blocks into groups when there are too few chunks to feed the threads.
  const int64_t tiles_per_chunk = std::max<int64_t>(1, 512 / pt);
  const int64_t n_chunks = (n_tiles + tiles_per_chunk - 1) / tiles_per_chunk;
  const int threads = work_pool ? work_pool->size() : 1;
  int64_t groups = 1;
  if (n_chunks < 4 * threads) groups = std::min<int64_t>(n_cob, (4 * threads + n_chunks - 1) / n_chunks);
  const ConvTileKernel kernel = w.kernel;
  const int64_t HW = int64_t(H) * W;

  run(work_pool, n_chunks * groups, [&](int64_t task, int) {
    const int64_t chunk = task / groups, grp = task % groups;
    const int cob0 = int(grp * n_cob / groups), cob1 = int((grp + 1) * n_cob / groups);
    const int64_t t0 = chunk * tiles_per_chunk, t1 = std::min(n_tiles, t0 + tiles_per_chunk);
    alignas(64) float tile[1024];
    // A tile's valid positions are a few runs of consecutive output pixels (split at row ends).
    struct Run { int j0, n; int64_t o; };
    Run runs[64];  // with padding a row holds >= 3 positions: <= 96 / 3 + 1 runs
    for (int64_t t = t0; t < t1; ++t) {
      const int64_t q0 = s + t * pt, q1 = std::min(q0 + pt, e + 1);  // positions [q0, q1)
      int nr = 0;
      for (int64_t q = q0; q < q1;) {
        const int64_t y = q / Wp, x = q % Wp;  // padded coordinates
        const int64_t row_end = y * Wp + p + W;  // one past the last interior x of this row
        if (x < p) { q = y * Wp + p; continue; }
        if (q >= row_end) { q = (y + 1) * Wp + p; continue; }
        const int64_t n = std::min(q1, row_end) - q, o = (y - p) * W + (x - p);
        if (nr && runs[nr - 1].o + runs[nr - 1].n == o && runs[nr - 1].j0 + runs[nr - 1].n == int(q - q0))
          runs[nr - 1].n += int(n);  // contiguous in the tile and in the output (no padding: k = 1)
        else
          runs[nr++] = {int(q - q0), int(n), o};
        q += n;
      }
      if (!nr) continue;
      for (int cob = cob0; cob < cob1; ++cob) {
        if (bf16)
          w.kernel_bf16(padb + q0, cs, planes, taps, kk, w.wb.data() + size_t(cob) * w.planes_w * kk * ct, tile);
        else
          kernel(pad + q0, cs, cin, taps, kk, w.w.data() + size_t(cob) * cin * kk * ct, tile);
        const int nco = std::min(ct, w.cout - cob * ct);
        for (int cc = 0; cc < nco; ++cc) {
          const int co = cob * ct + cc;
          const float b = w.bias[co];
          for (int r = 0; r < nr; ++r) {
            const float* tr = tile + cc * pt + runs[r].j0;
            float* o = out + co * HW + runs[r].o;
            const float* res = residual ? residual + co * HW + runs[r].o : nullptr;
            const int n = runs[r].n;
            if (res) {
              if (act == ConvAct::Relu)
                for (int j = 0; j < n; ++j) { const float v = tr[j] + b + res[j]; o[j] = v > 0.0f ? v : 0.0f; }
              else
                for (int j = 0; j < n; ++j) o[j] = tr[j] + b + res[j];
            } else {
              if (act == ConvAct::Relu)
                for (int j = 0; j < n; ++j) { const float v = tr[j] + b; o[j] = v > 0.0f ? v : 0.0f; }
              else
                for (int j = 0; j < n; ++j) o[j] = tr[j] + b;
            }
          }
        }
      }
    }
  });
}

void conv2d_ref(const float* in, int cin, int H, int W, const float* Wt, const float* bias, int cout, int k,
                float* out, const float* residual, ConvAct act) {
  const int p = k / 2;
  const int64_t HW = int64_t(H) * W;
  for (int co = 0; co < cout; ++co)
    for (int y = 0; y < H; ++y)
      for (int x = 0; x < W; ++x) {
        double acc = 0;
        for (int ci = 0; ci < cin; ++ci)
          for (int ky = 0; ky < k; ++ky) {
            const int yy = y + ky - p;
            if (yy < 0 || yy >= H) continue;
            for (int kx = 0; kx < k; ++kx) {
              const int xx = x + kx - p;
              if (xx < 0 || xx >= W) continue;
              acc += double(Wt[((int64_t(co) * cin + ci) * k + ky) * k + kx]) * double(in[ci * HW + yy * W + xx]);
            }
          }
        if (bias) acc += double(bias[co]);
        if (residual) acc += double(residual[co * HW + y * W + x]);
        float v = float(acc);
        if (act == ConvAct::Relu && !(v > 0.0f)) v = 0.0f;
        out[co * HW + y * W + x] = v;
      }
}

void upsample_nearest2(const float* in, int C, int H, int W, float* out, ThreadPool* pool) {
  const int64_t W2 = 2 * int64_t(W);
  run(pool, int64_t(C) * H, [&](int64_t r, int) {
    const float* src = in + r * W;
    float* d0 = out + (r * 2) * W2;  // rows (c, 2y) and (c, 2y+1) are adjacent in CHW
    for (int x = 0; x < W; ++x) d0[2 * x] = d0[2 * x + 1] = src[x];
    std::memcpy(d0 + W2, d0, sizeof(float) * size_t(W2));
  });
}

}  // namespace wc
