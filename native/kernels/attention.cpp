#include "kernels/attention.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>
#include <memory>
#include <vector>

#include "core/buffer.h"
#include "core/cpu_features.h"
#include "core/dtype.h"
#include "core/error.h"
#include "kernels/attention_tile.h"
#include "kv/quantize.h"

namespace wc {

float kv_element(const KvSpan& s, bool value, int64_t j, int64_t c, int n_heads, int head_dim) {
  const void* base = value ? s.v : s.k;
  const int64_t off = j * s.stride + c;
  switch (s.type) {
    case KvType::F32: return static_cast<const float*>(base)[off];
    case KvType::BF16: return bf16_to_f32(static_cast<const uint16_t*>(base)[off]);
    default: {
      const float* sc = value ? s.v_scale : s.k_scale;
      return float(static_cast<const int8_t*>(base)[off]) * sc[j * n_heads + c / head_dim];
    }
  }
}

float attn_round_bf16(float x) { return bf16_to_f32(f32_to_bf16(x)); }

void attn_quantize_query(const float* q, int hd, int8_t* q8, float* qs) {
  quantize_i8(q, 1, 1, hd, q8, qs);
}

size_t attention_scratch_bytes() { return sizeof(AttnWork); }

AttnWork& attn_work() {
  static thread_local std::unique_ptr<AttnWork> w;
  if (!w) w = std::make_unique<AttnWork>();
  return *w;
}

// ---- per-block preparation (portable; O(queries · head_dim) per block) ----

void attn_begin_block(const AttnBlock& b, AttnWork& w) {
  const int hd = b.head_dim, nq = b.nq;
  const int nqp = (nq + kQPad - 1) / kQPad * kQPad;
  w.nqp = nqp;
  for (int i = 0; i < nqp; ++i) {
    w.m[i] = -INFINITY;
    w.l[i] = 0.f;
  }
  std::memset(w.o, 0, sizeof(float) * size_t(nqp) * hd);
  bool f32 = false, bf16 = false, i8 = false;
  for (int t = 0; t < b.n_tiles; ++t) {
    const KvType ty = b.spans[b.tiles[t].span].type;
    f32 |= ty == KvType::F32;
    bf16 |= ty == KvType::BF16;
    i8 |= ty == KvType::I8;
  }
  w.prep_f32 = f32;
  w.prep_bf16 = bf16;
  w.prep_i8 = i8;
  const int64_t hoff = int64_t(b.head) * hd;
  auto qrow = [&](int i) { return b.q + i * b.q_stride + hoff; };
  // Only the forms this block's kernel reads (see AttnBlock::simd): the SIMD kernels take
  // Qᵀ layouts, the portable one query rows; bf16/int8 spans take one form per path.
  if (f32 && b.simd) {
    for (int i = 0; i < nqp; ++i)
      for (int d = 0; d < hd; ++d) w.qt[d * nqp + i] = i < nq ? qrow(i)[d] : 0.f;
  }
  if (bf16) {
    for (int i = 0; i < nqp; ++i)
      for (int d = 0; d < hd; ++d) {
        const uint16_t h = i < nq ? f32_to_bf16(qrow(i)[d]) : uint16_t(0);
        if (!b.simd) {
          if (i < nq) w.qrow_b[i * hd + d] = bf16_to_f32(h);
        } else if (b.amx) {
          w.qrow_h[i * hd + d] = h;
        } else if (b.dot_bf16) {
          if (d % 2 == 0) w.q2[(d / 2) * nqp + i] = h;
          else w.q2[(d / 2) * nqp + i] |= uint32_t(h) << 16;
        } else {
          w.qtb[d * nqp + i] = bf16_to_f32(h);
        }
      }
  }
  if (i8) {
    for (int i = 0; i < nqp; ++i) {
      int8_t* q8 = w.qrow_i + i * hd;
      float qs = 0.f;
      if (i < nq) attn_quantize_query(qrow(i), hd, q8, &qs);
      else std::memset(q8, 0, size_t(hd));
      w.qss[i] = qs * b.scale;
      if (!b.simd || b.amx_i8) continue;  // the portable kernel and the AMX piece read qrow_i
      if (!b.dot_i8) {
        for (int d = 0; d < hd; ++d) w.qti[d * nqp + i] = float(q8[d]);
        continue;
      }
      int32_t sum = 0;
      for (int d = 0; d < hd; ++d) {
        sum += q8[d];
        const uint32_t byte = uint32_t(uint8_t(q8[d])) << (8 * (d % 4));
        if (d % 4 == 0) w.q4[(d / 4) * nqp + i] = byte;
        else w.q4[(d / 4) * nqp + i] |= byte;
      }
      w.qcomp[i] = 128 * sum;
    }
  }
}

void attn_widen_tile(const KvSpan& s, int64_t j0, int n, int head, int n_heads, int hd, AttnWork& w) {
  const int64_t hoff = int64_t(head) * hd;
  for (int j = 0; j < n; ++j) {
    const int64_t off = (j0 + j) * s.stride + hoff;
    float* kr = w.kw + j * hd;
    float* vr = w.vw + j * hd;
    if (s.type == KvType::BF16) {
      const uint16_t* k = static_cast<const uint16_t*>(s.k) + off;
      const uint16_t* v = static_cast<const uint16_t*>(s.v) + off;
      for (int d = 0; d < hd; ++d) {
        kr[d] = bf16_to_f32(k[d]);
        vr[d] = bf16_to_f32(v[d]);
      }
    } else if (s.type == KvType::I8) {
      const int8_t* k = static_cast<const int8_t*>(s.k) + off;
      const int8_t* v = static_cast<const int8_t*>(s.v) + off;
      for (int d = 0; d < hd; ++d) {
        kr[d] = float(k[d]);
        vr[d] = float(v[d]);
      }
    } else {
      std::memcpy(kr, static_cast<const float*>(s.k) + off, sizeof(float) * hd);
      std::memcpy(vr, static_cast<const float*>(s.v) + off, sizeof(float) * hd);
    }
  }
}

// ---- the portable block kernel: the same numerics as the SIMD ones, in plain loops ----

void attn_block_portable(const AttnBlock& b, AttnWork& w) {
  const int hd = b.head_dim, nq = b.nq;
  const int64_t hoff = int64_t(b.head) * hd;
  float s[kKTile], p[kKTile];
  int u[kKTile];
  for (int t = 0; t < b.n_tiles; ++t) {
    const AttnKeyTile& kt = b.tiles[t];
    const KvSpan& sp = b.spans[kt.span];
    const int n = kt.n;
    attn_widen_tile(sp, kt.j0, n, b.head, b.n_heads, hd, w);
    for (int i = 0; i < nq; ++i) {
      // scores
      for (int j = 0; j < n; ++j) {
        const float* kr = w.kw + j * hd;
        if (sp.type == KvType::I8) {
          const int8_t* q8 = w.qrow_i + i * hd;
          int32_t acc = 0;
          for (int d = 0; d < hd; ++d) acc += int32_t(q8[d]) * int32_t(kr[d]);
          s[j] = float(acc) * w.qss[i] * sp.k_scale[(kt.j0 + j) * b.n_heads + b.head];
        } else {
          const float* qi = sp.type == KvType::BF16 ? w.qrow_b + i * hd : b.q + i * b.q_stride + hoff;
          float acc = 0.f;
          for (int d = 0; d < hd; ++d) acc += qi[d] * kr[d];
          s[j] = acc * b.scale;
        }
      }
      // online softmax
      float mx = w.m[i];
      for (int j = 0; j < n; ++j) mx = std::max(mx, s[j]);
      const float corr = std::exp(w.m[i] - mx);
      float sum = 0.f, post = 1.f;
      for (int j = 0; j < n; ++j) p[j] = std::exp(s[j] - mx);
      if (sp.type == KvType::BF16) {
        for (int j = 0; j < n; ++j) {
          p[j] = attn_round_bf16(p[j]);
          sum += p[j];
        }
      } else {
        for (int j = 0; j < n; ++j) sum += p[j];
      }
      if (sp.type == KvType::I8) {
        float wmax = 0.f;
        for (int j = 0; j < n; ++j) {
          p[j] *= sp.v_scale[(kt.j0 + j) * b.n_heads + b.head];
          wmax = std::max(wmax, p[j]);
        }
        const float inv = wmax > 0.f ? 255.f / wmax : 0.f;
        for (int j = 0; j < n; ++j) u[j] = std::min(255, int(std::nearbyint(p[j] * inv)));
        post = wmax / 255.f;
      }
      w.l[i] = w.l[i] * corr + sum;
      w.m[i] = mx;
      float* o = w.o + i * hd;
      for (int d = 0; d < hd; ++d) {
        float acc = 0.f;
        if (sp.type == KvType::I8)
          for (int j = 0; j < n; ++j) acc += float(u[j]) * w.vw[j * hd + d];
        else
          for (int j = 0; j < n; ++j) acc += p[j] * w.vw[j * hd + d];
        o[d] = o[d] * corr + post * acc;
      }
    }
  }
}

void attention_merge(const AttnPartial* parts, int n, int hd, float* out) {
  float M = -INFINITY;
  for (int p = 0; p < n; ++p) M = std::max(M, parts[p].m);
  double L = 0;
  for (int d = 0; d < hd; ++d) out[d] = 0.f;
  if (M == -INFINITY) return;
  for (int p = 0; p < n; ++p) {
    if (parts[p].l <= 0.f) continue;
    const float w = std::exp(parts[p].m - M);
    L += double(parts[p].l) * w;
    for (int d = 0; d < hd; ++d) out[d] += w * parts[p].acc[d];
  }
  const float inv = L > 0 ? float(1.0 / L) : 0.f;
  for (int d = 0; d < hd; ++d) out[d] *= inv;
}

namespace {

// The query block size: blocks of at most kQBlock queries, as equal as kQPad allows.
int64_t query_block(int64_t n_q) {
  const int64_t nb = (n_q + kQBlock - 1) / kQBlock;
  const int64_t per = (n_q + nb - 1) / nb;
  return std::min<int64_t>(kQBlock, (per + kQPad - 1) / kQPad * kQPad);
}

double balance(int64_t tasks, int threads) {
  const int64_t rounds = (tasks + threads - 1) / threads;
  return double(tasks) / double(rounds * threads);
}

// Key chunks per (head, query block) for Sequence: the fewest that keep every thread busy
// (≥ 90% balance), each chunk at least 4 key tiles.
int sequence_parts(int64_t units, int64_t n_tiles, int threads) {
  const int max_p = int(std::max<int64_t>(1, std::min<int64_t>(64, n_tiles / 4)));
  for (int p = 2; p <= max_p; ++p)
    if (balance(units * p, threads) >= 0.9) return p;
  return max_p;
}

}  // namespace

AttnStrategy attention_auto_strategy(int64_t n_q, int n_heads, int64_t n_keys, int threads) {
  if (threads <= 1 || n_q <= 0) return AttnStrategy::Heads;
  // Heads reads every key once per (head, query block) and needs no merge; Sequence splits
  // the keys of each (head, query block) into chunks and merges their partials. Both read
  // each key tile once per query block, so Heads wins whenever its tasks balance over the
  // threads; Sequence only where they do not (one head, or few of them, over a long context).
  const int64_t units = int64_t(n_heads) * ((n_q + query_block(n_q) - 1) / query_block(n_q));
  if (balance(units, threads) >= 0.9) return AttnStrategy::Heads;
  if (n_keys < int64_t(8) * kKTile) return AttnStrategy::Heads;
  return AttnStrategy::Sequence;
}

namespace {
std::atomic<bool> g_dot{true};
std::atomic<bool> g_amx{true};
}

void attention_set_dot_products(bool use, bool amx) {
  g_dot = use;
  g_amx = use && amx;
}

bool attention_amx_for(KvType t, int head_dim) {
  const CpuFeatures& f = cpu_features();
  if (active_isa() != Isa::Avx512 || !g_amx || !f.amx) return false;
  if (t == KvType::BF16) return head_dim % 32 == 0;
  // the int8 piece builds its value quads with the VNNI translation unit's helper
  if (t == KvType::I8) return f.amx_int8 && f.avx512_vnni && head_dim % 64 == 0;
  return false;
}

namespace {

using BlockFn = void (*)(const AttnBlock&, AttnWork&);

BlockFn block_fn(int head_dim) {
  switch (active_isa()) {
    case Isa::Avx512: return head_dim % 16 == 0 ? attn_block_avx512 : attn_block_portable;
    case Isa::Avx2: return head_dim % 8 == 0 ? attn_block_avx2 : attn_block_portable;
    default: return attn_block_portable;
  }
}

void finish_rows(const AttnWork& w, int nq, int hd, float* out, int64_t out_stride) {
  for (int i = 0; i < nq; ++i) {
    const float inv = w.l[i] > 0.f ? 1.f / w.l[i] : 0.f;
    const float* o = w.o + i * hd;
    float* dst = out + i * out_stride;
    for (int d = 0; d < hd; ++d) dst[d] = o[d] * inv;
  }
}

}  // namespace

void attention(const float* q, int64_t n_q, int64_t q_stride, const KvSpan* spans, int n_spans, int n_heads,
               int head_dim, float* out, int64_t out_stride, ThreadPool* pool, AttnStrategy strategy) {
  if (head_dim > kMaxHeadDim || head_dim < 1) fail(ErrorKind::Shape, "attention: head_dim must be 1..256");
  if (n_q <= 0) return;
  const float scale = float(1.0 / std::sqrt(double(head_dim)));
  // The key tiles: span-aligned runs of kKTile keys (the int8 P quantisation groups).
  static thread_local std::vector<AttnKeyTile> tiles;
  tiles.clear();
  int64_t n_keys = 0;
  for (int s = 0; s < n_spans; ++s) {
    n_keys += spans[s].tokens;
    for (int64_t j0 = 0; j0 < spans[s].tokens; j0 += kKTile)
      tiles.push_back({s, int(std::min<int64_t>(kKTile, spans[s].tokens - j0)), j0});
  }
  const int threads = pool ? pool->size() : 1;
  if (strategy == AttnStrategy::Auto) strategy = attention_auto_strategy(n_q, n_heads, n_keys, threads);
  const BlockFn run = block_fn(head_dim);
  const bool simd = run != attn_block_portable;
  const int64_t qb = query_block(n_q);
  const bool avx512 = active_isa() == Isa::Avx512;
  const bool dot_bf16 = avx512 && g_dot && cpu_features().avx512_bf16;
  const bool dot_i8 = avx512 && g_dot && cpu_features().avx512_vnni;
  const bool amx = attention_amx_for(KvType::BF16, head_dim);  // implies the AVX-512 block kernel
  const bool amx_i8 = attention_amx_for(KvType::I8, head_dim);
  const int64_t n_qb = (n_q + qb - 1) / qb;
  const int n_tiles = int(tiles.size());
  const AttnKeyTile* tl = tiles.data();

  auto make_block = [&](int64_t blk, int h, int t0, int t1) {
    AttnBlock b;
    b.q = q + blk * qb * q_stride;
    b.nq = int(std::min<int64_t>(qb, n_q - blk * qb));
    b.q_stride = q_stride;
    b.spans = spans;
    b.tiles = tl + t0;
    b.n_tiles = t1 - t0;
    b.head = h;
    b.n_heads = n_heads;
    b.head_dim = head_dim;
    b.scale = scale;
    b.dot_bf16 = dot_bf16;
    b.dot_i8 = dot_i8;
    b.simd = simd;
    b.amx = amx;
    b.amx_i8 = amx_i8;
    return b;
  };
  const int64_t units = n_qb * n_heads;

  if (strategy == AttnStrategy::Heads || n_tiles < 2 || threads <= 1) {
    auto task = [&](int64_t id, int) {
      const int h = int(id % n_heads);
      const int64_t blk = id / n_heads;
      const AttnBlock b = make_block(blk, h, 0, n_tiles);
      AttnWork& w = attn_work();
      attn_begin_block(b, w);
      run(b, w);
      finish_rows(w, b.nq, head_dim, out + blk * qb * out_stride + int64_t(h) * head_dim, out_stride);
    };
    if (pool && threads > 1 && units > 1) pool->parallel_for(units, task);
    else for (int64_t i = 0; i < units; ++i) task(i, 0);
    return;
  }

  // Sequence: P runs of key tiles per (head, query block); partials merged by log-sum-exp.
  const int P = sequence_parts(units, n_tiles, threads);
  static thread_local FloatBuffer partial;  // [unit][P][qb][head_dim + 2]
  const int64_t per = qb * (head_dim + 2);
  partial.resize(size_t(units * P * per));
  float* pbase = partial.data();
  auto task = [&](int64_t id, int) {
    const int p = int(id % P);
    const int64_t u = id / P;
    const int h = int(u % n_heads);
    const int64_t blk = u / n_heads;
    const int t0 = int(int64_t(n_tiles) * p / P), t1 = int(int64_t(n_tiles) * (p + 1) / P);
    const AttnBlock b = make_block(blk, h, t0, t1);
    AttnWork& w = attn_work();
    attn_begin_block(b, w);
    if (t1 > t0) run(b, w);
    float* dst = pbase + (u * P + p) * per;
    for (int i = 0; i < b.nq; ++i) {
      dst[i * (head_dim + 2)] = w.m[i];
      dst[i * (head_dim + 2) + 1] = w.l[i];
      std::memcpy(dst + i * (head_dim + 2) + 2, w.o + i * head_dim, sizeof(float) * head_dim);
    }
  };
  auto merge = [&](int64_t u, int) {
    const int h = int(u % n_heads);
    const int64_t blk = u / n_heads;
    const int nq = int(std::min<int64_t>(qb, n_q - blk * qb));
    AttnPartial parts[64];
    for (int i = 0; i < nq; ++i) {
      for (int p = 0; p < P; ++p) {
        const float* src = pbase + (u * P + p) * per + i * (head_dim + 2);
        parts[p] = {src[0], src[1], src + 2};
      }
      attention_merge(parts, P, head_dim, out + (blk * qb + i) * out_stride + int64_t(h) * head_dim);
    }
  };
  pool->parallel_for(units * P, task);
  pool->parallel_for(units, merge);
}

// ---- reference ----

void attention_ref(const float* q, int64_t n_q, int64_t q_stride, const KvSpan* spans, int n_spans, int n_heads,
                   int head_dim, float* out, int64_t out_stride) {
  const int hd = head_dim;
  const double scale = 1.0 / std::sqrt(double(hd));
  std::vector<double> sc, acc(hd);
  std::vector<float> qb(hd);
  std::vector<int8_t> q8(hd);
  for (int h = 0; h < n_heads; ++h) {
    const int off = h * hd;
    for (int64_t i = 0; i < n_q; ++i) {
      const float* qi = q + i * q_stride + off;
      for (int e = 0; e < hd; ++e) qb[e] = attn_round_bf16(qi[e]);
      float qs = 0.f;
      attn_quantize_query(qi, hd, q8.data(), &qs);
      // scores
      sc.clear();
      double mx = -INFINITY;
      for (int sp = 0; sp < n_spans; ++sp) {
        const KvSpan& s = spans[sp];
        for (int64_t j = 0; j < s.tokens; ++j) {
          double d = 0;
          if (s.type == KvType::I8) {
            const int8_t* k = static_cast<const int8_t*>(s.k) + j * s.stride + off;
            int64_t isum = 0;
            for (int e = 0; e < hd; ++e) isum += int64_t(q8[e]) * k[e];
            d = double(isum) * double(qs) * double(s.k_scale[j * n_heads + h]) * scale;
          } else {
            const float* qq = s.type == KvType::BF16 ? qb.data() : qi;
            for (int e = 0; e < hd; ++e) d += double(qq[e]) * double(kv_element(s, false, j, off + e, n_heads, hd));
            d *= scale;
          }
          sc.push_back(d);
          mx = std::max(mx, d);
        }
      }
      // softmax and P·V (int8 spans: u8 weights per span-aligned tile of kKTile keys)
      double sum = 0;
      std::fill(acc.begin(), acc.end(), 0.0);
      size_t idx = 0;
      for (int sp = 0; sp < n_spans; ++sp) {
        const KvSpan& s = spans[sp];
        for (int64_t j0 = 0; j0 < s.tokens; j0 += kKTile) {
          const int64_t n = std::min<int64_t>(kKTile, s.tokens - j0);
          if (s.type == KvType::I8) {
            double wmax = 0;
            for (int64_t j = 0; j < n; ++j) {
              const double p = std::exp(sc[idx + j] - mx);
              sum += p;
              wmax = std::max(wmax, p * s.v_scale[(j0 + j) * n_heads + h]);
            }
            for (int64_t j = 0; j < n && wmax > 0; ++j) {
              const double wv = std::exp(sc[idx + j] - mx) * s.v_scale[(j0 + j) * n_heads + h];
              const double uq = std::min(255.0, std::nearbyint(wv * 255.0 / wmax));
              const int8_t* v = static_cast<const int8_t*>(s.v) + (j0 + j) * s.stride + off;
              for (int e = 0; e < hd; ++e) acc[e] += uq * (wmax / 255.0) * v[e];
            }
          } else {
            for (int64_t j = 0; j < n; ++j) {
              const double p = std::exp(sc[idx + j] - mx);
              sum += p;
              for (int e = 0; e < hd; ++e) acc[e] += p * double(kv_element(s, true, j0 + j, off + e, n_heads, hd));
            }
          }
          idx += size_t(n);
        }
      }
      for (int e = 0; e < hd; ++e) out[i * out_stride + off + e] = sum > 0 ? float(acc[e] / sum) : 0.f;
    }
  }
}

}  // namespace wc
