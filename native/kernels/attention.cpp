#include "kernels/attention.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <memory>
#include <vector>

#include "core/buffer.h"
#include "core/cpu_features.h"
#include "core/dtype.h"
#include "core/error.h"
#include "kernels/attention_tile.h"

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

void attn_tile_init(AttnScratch& st, int nq, int hd) {
  for (int i = 0; i < nq; ++i) {
    st.m[i] = -INFINITY;
    st.l[i] = 0.f;
    std::memset(st.acc[i], 0, sizeof(float) * hd);
  }
}

void attn_load_kv(const KvSpan& s, int64_t j0, int n, int head, int n_heads, int hd, AttnScratch& st) {
  const int64_t hoff = int64_t(head) * hd;
  switch (s.type) {
    case KvType::F32: {
      const float* k = static_cast<const float*>(s.k);
      const float* v = static_cast<const float*>(s.v);
      for (int j = 0; j < n; ++j) {
        const float* kr = k + (j0 + j) * s.stride + hoff;
        for (int d = 0; d < hd; ++d) st.kt[d][j] = kr[d];
        st.vptr[j] = v + (j0 + j) * s.stride + hoff;
      }
      break;
    }
    case KvType::BF16: {
      const uint16_t* k = static_cast<const uint16_t*>(s.k);
      const uint16_t* v = static_cast<const uint16_t*>(s.v);
      for (int j = 0; j < n; ++j) {
        const uint16_t* kr = k + (j0 + j) * s.stride + hoff;
        const uint16_t* vr = v + (j0 + j) * s.stride + hoff;
        for (int d = 0; d < hd; ++d) {
          uint32_t uk = uint32_t(kr[d]) << 16, uv = uint32_t(vr[d]) << 16;
          std::memcpy(&st.kt[d][j], &uk, 4);
          std::memcpy(&st.vrow[j][d], &uv, 4);
        }
        st.vptr[j] = st.vrow[j];
      }
      break;
    }
    case KvType::I8: {
      const int8_t* k = static_cast<const int8_t*>(s.k);
      const int8_t* v = static_cast<const int8_t*>(s.v);
      for (int j = 0; j < n; ++j) {
        const int8_t* kr = k + (j0 + j) * s.stride + hoff;
        const int8_t* vr = v + (j0 + j) * s.stride + hoff;
        const float ks = s.k_scale[(j0 + j) * n_heads + head], vs = s.v_scale[(j0 + j) * n_heads + head];
        for (int d = 0; d < hd; ++d) {
          st.kt[d][j] = float(kr[d]) * ks;
          st.vrow[j][d] = float(vr[d]) * vs;
        }
        st.vptr[j] = st.vrow[j];
      }
      break;
    }
  }
}

// Walk the keys [begin, end) of the concatenated spans in tiles of at most kKTile
// keys that never straddle a span; calls fn(span, first key in span, count).
template <typename Fn>
static void for_key_tiles(const AttnTile& t, Fn&& fn) {
  int64_t base = 0;
  for (int sp = 0; sp < t.n_spans; ++sp) {
    const KvSpan& s = t.spans[sp];
    const int64_t lo = std::max<int64_t>(t.token_begin - base, 0), hi = std::min<int64_t>(t.token_end - base, s.tokens);
    for (int64_t j0 = lo; j0 < hi; j0 += kKTile) fn(s, j0, int(std::min<int64_t>(kKTile, hi - j0)));
    base += s.tokens;
    if (base >= t.token_end) break;
  }
}

void attn_tile_portable(const AttnTile& t, AttnScratch& st) {
  const int hd = t.head_dim;
  const int64_t hoff = int64_t(t.head) * hd;
  for_key_tiles(t, [&](const KvSpan& s, int64_t j0, int n) {
    attn_load_kv(s, j0, n, t.head, t.n_heads, hd, st);
    for (int i = 0; i < t.nq; ++i) {
      const float* qi = t.q + i * t.q_stride + hoff;
      float* sc = st.s[i];
      for (int j = 0; j < n; ++j) sc[j] = 0.f;
      for (int d = 0; d < hd; ++d) {
        const float qd = qi[d];
        const float* kd = st.kt[d];
        for (int j = 0; j < n; ++j) sc[j] += qd * kd[j];
      }
      float mx = st.m[i];
      for (int j = 0; j < n; ++j) {
        sc[j] *= t.scale;
        mx = sc[j] > mx ? sc[j] : mx;
      }
      const float corr = std::exp(st.m[i] - mx);
      float sum = 0.f;
      for (int j = 0; j < n; ++j) {
        sc[j] = std::exp(sc[j] - mx);
        sum += sc[j];
      }
      st.l[i] = st.l[i] * corr + sum;
      st.m[i] = mx;
      float* a = st.acc[i];
      for (int d = 0; d < hd; ++d) a[d] *= corr;
      for (int j = 0; j < n; ++j) {
        const float p = sc[j];
        const float* vj = st.vptr[j];
        for (int d = 0; d < hd; ++d) a[d] += p * vj[d];
      }
    }
  });
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

AttnStrategy attention_auto_strategy(int64_t n_q, int n_heads, int64_t n_keys, int threads) {
  if (threads <= 1) return AttnStrategy::Heads;
  const int64_t tasks = int64_t(n_heads) * ((n_q + kQTile - 1) / kQTile);
  // Heads keeps every key read once per (head, query tile); Sequence pays a merge but
  // splits the keys. Measured (bench/attention.ts): Heads wins once each thread has a few
  // tasks to balance; Sequence wins for few queries over long contexts.
  if (tasks >= 4 * int64_t(threads)) return AttnStrategy::Heads;
  if (n_keys < 256 * int64_t(threads)) return AttnStrategy::Heads;
  return AttnStrategy::Sequence;
}

namespace {

using TileFn = void (*)(const AttnTile&, AttnScratch&);

TileFn tile_fn() {
  switch (active_isa()) {
    case Isa::Avx512: return attn_tile_avx512;
    case Isa::Avx2: return attn_tile_avx2;
    default: return attn_tile_portable;
  }
}

AttnScratch& scratch() {
  static thread_local std::unique_ptr<AttnScratch> st;
  if (!st) st = std::make_unique<AttnScratch>();
  return *st;
}

}  // namespace

void attention(const float* q, int64_t n_q, int64_t q_stride, const KvSpan* spans, int n_spans, int n_heads,
               int head_dim, float* out, int64_t out_stride, ThreadPool* pool, AttnStrategy strategy) {
  if (head_dim > kMaxHeadDim) fail(ErrorKind::Shape, "attention: head_dim above 256 is not supported");
  if (n_q <= 0) return;
  const float scale = float(1.0 / std::sqrt(double(head_dim)));
  int64_t n_keys = 0;
  for (int s = 0; s < n_spans; ++s) n_keys += spans[s].tokens;
  const int threads = pool ? pool->size() : 1;
  if (strategy == AttnStrategy::Auto) strategy = attention_auto_strategy(n_q, n_heads, n_keys, threads);
  const TileFn tile = tile_fn();
  const int64_t n_qt = (n_q + kQTile - 1) / kQTile;

  auto make_tile = [&](int64_t qt, int h, int64_t k0, int64_t k1) {
    AttnTile t;
    t.q = q + qt * kQTile * q_stride;
    t.nq = int(std::min<int64_t>(kQTile, n_q - qt * kQTile));
    t.q_stride = q_stride;
    t.spans = spans;
    t.n_spans = n_spans;
    t.token_begin = k0;
    t.token_end = k1;
    t.head = h;
    t.n_heads = n_heads;
    t.head_dim = head_dim;
    t.scale = scale;
    return t;
  };

  if (strategy == AttnStrategy::Heads || n_keys == 0) {
    auto task = [&](int64_t id, int) {
      const int h = int(id % n_heads);
      const int64_t qt = id / n_heads;
      AttnTile t = make_tile(qt, h, 0, n_keys);
      AttnScratch& st = scratch();
      attn_tile_init(st, t.nq, head_dim);
      tile(t, st);
      for (int i = 0; i < t.nq; ++i) {
        const float inv = st.l[i] > 0.f ? 1.f / st.l[i] : 0.f;
        float* o = out + (qt * kQTile + i) * out_stride + int64_t(h) * head_dim;
        for (int d = 0; d < head_dim; ++d) o[d] = st.acc[i][d] * inv;
      }
    };
    const int64_t n_tasks = n_qt * n_heads;
    if (pool && threads > 1 && n_tasks > 1) pool->parallel_for(n_tasks, task);
    else for (int64_t i = 0; i < n_tasks; ++i) task(i, 0);
    return;
  }

  // Sequence: P key chunks per (head, query tile); partials merged by log-sum-exp.
  const int P = int(std::min<int64_t>(std::min(int64_t(threads) * 2, int64_t(64)), std::max<int64_t>(1, n_keys / kKTile)));
  const int64_t chunk = (n_keys + P - 1) / P;
  const int64_t units = n_qt * n_heads;
  static thread_local FloatBuffer partial;  // [unit][P][kQTile][head_dim + 2]
  const int64_t per = int64_t(kQTile) * (head_dim + 2);
  partial.resize(size_t(units * P * per));
  float* pbase = partial.data();
  auto task = [&](int64_t id, int) {
    const int p = int(id % P);
    const int64_t u = id / P;
    const int h = int(u % n_heads);
    const int64_t qt = u / n_heads;
    AttnTile t = make_tile(qt, h, p * chunk, std::min(n_keys, (p + 1) * chunk));
    AttnScratch& st = scratch();
    attn_tile_init(st, t.nq, head_dim);
    if (t.token_begin < t.token_end) tile(t, st);
    float* dst = pbase + (u * P + p) * per;
    for (int i = 0; i < t.nq; ++i) {
      dst[i * (head_dim + 2)] = st.m[i];
      dst[i * (head_dim + 2) + 1] = st.l[i];
      std::memcpy(dst + i * (head_dim + 2) + 2, st.acc[i], sizeof(float) * head_dim);
    }
  };
  auto merge = [&](int64_t u, int) {
    const int h = int(u % n_heads);
    const int64_t qt = u / n_heads;
    const int nq = int(std::min<int64_t>(kQTile, n_q - qt * kQTile));
    AttnPartial parts[64];
    for (int i = 0; i < nq; ++i) {
      for (int p = 0; p < P; ++p) {
        const float* src = pbase + (u * P + p) * per + i * (head_dim + 2);
        parts[p] = {src[0], src[1], src + 2};
      }
      attention_merge(parts, P, head_dim, out + (qt * kQTile + i) * out_stride + int64_t(h) * head_dim);
    }
  };
  pool->parallel_for(units * P, task);
  pool->parallel_for(units, merge);
}

void attention_ref(const float* q, int64_t n_q, int64_t q_stride, const KvSpan* spans, int n_spans, int n_heads,
                   int head_dim, float* out, int64_t out_stride) {
  const double scale = 1.0 / std::sqrt(double(head_dim));
  std::vector<double> sc;
  for (int h = 0; h < n_heads; ++h) {
    const int off = h * head_dim;
    for (int64_t i = 0; i < n_q; ++i) {
      sc.clear();
      double mx = -INFINITY;
      for (int sp = 0; sp < n_spans; ++sp)
        for (int64_t j = 0; j < spans[sp].tokens; ++j) {
          double d = 0;
          for (int e = 0; e < head_dim; ++e)
            d += double(q[i * q_stride + off + e]) * double(kv_element(spans[sp], false, j, off + e, n_heads, head_dim));
          sc.push_back(d * scale);
          mx = std::max(mx, d * scale);
        }
      double sum = 0;
      for (double& x : sc) { x = std::exp(x - mx); sum += x; }
      for (int e = 0; e < head_dim; ++e) {
        double o = 0;
        size_t idx = 0;
        for (int sp = 0; sp < n_spans; ++sp)
          for (int64_t j = 0; j < spans[sp].tokens; ++j)
            o += sc[idx++] * double(kv_element(spans[sp], true, j, off + e, n_heads, head_dim));
        out[i * out_stride + off + e] = sum > 0 ? float(o / sum) : 0.f;
      }
    }
  }
}

}  // namespace wc
