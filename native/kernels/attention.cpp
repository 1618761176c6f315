#include "kernels/attention.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <memory>
#include <vector>

#include "core/dtype.h"
#include "core/error.h"

namespace wc {
namespace {

// Eight independent partial sums so the compiler can vectorize without -ffast-math.
inline float dot_f32(const float* a, const float* b, int n) {
  float s[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int i = 0;
  for (; i + 8 <= n; i += 8)
    for (int j = 0; j < 8; ++j) s[j] += a[i + j] * b[i + j];
  float t = ((s[0] + s[4]) + (s[1] + s[5])) + ((s[2] + s[6]) + (s[3] + s[7]));
  for (; i < n; ++i) t += a[i] * b[i];
  return t;
}

// One K/V row of one head decoded to f32 (bf16: exact widening; int8: times its scale).
template <KvType T>
struct Row;
template <>
struct Row<KvType::F32> {
  static const float* get(const KvSpan&, const void* base, int64_t off, const float*, float*, int, float& scale) {
    scale = 1.f;
    return static_cast<const float*>(base) + off;
  }
};
template <>
struct Row<KvType::BF16> {
  static const float* get(const KvSpan&, const void* base, int64_t off, const float*, float* buf, int n, float& scale) {
    const uint16_t* p = static_cast<const uint16_t*>(base) + off;
    for (int i = 0; i < n; ++i) {
      uint32_t u = uint32_t(p[i]) << 16;
      std::memcpy(buf + i, &u, 4);
    }
    scale = 1.f;
    return buf;
  }
};
template <>
struct Row<KvType::I8> {
  static const float* get(const KvSpan&, const void* base, int64_t off, const float* sc, float* buf, int n, float& scale) {
    const int8_t* p = static_cast<const int8_t*>(base) + off;
    for (int i = 0; i < n; ++i) buf[i] = float(p[i]);
    scale = *sc;
    return buf;
  }
};

constexpr int kQTile = 16;
constexpr int kKTile = 64;

struct TileState {
  float m[kQTile], l[kQTile];
  alignas(64) float acc[kQTile][kMaxHeadDim];
  alignas(64) float s[kQTile][kKTile];
  alignas(64) float kbuf[kKTile][kMaxHeadDim];
  float kscale[kKTile];
};

template <KvType T>
void span_tile(TileState& st, const float* q, int nq, int64_t q_stride, const KvSpan& span, int head, int n_heads,
               int hd, float scale) {
  const int hoff = head * hd;
  for (int64_t j0 = 0; j0 < span.tokens; j0 += kKTile) {
    const int nk = int(std::min<int64_t>(kKTile, span.tokens - j0));
    // Decode this tile's keys once for all queries of the tile.
    const float* krow[kKTile];
    for (int j = 0; j < nk; ++j) {
      const int64_t tok = j0 + j;
      krow[j] = Row<T>::get(span, span.k, tok * span.stride + hoff, span.k_scale ? span.k_scale + tok * n_heads + head : nullptr,
                            st.kbuf[j], hd, st.kscale[j]);
    }
    for (int i = 0; i < nq; ++i) {
      const float* qi = q + i * q_stride + hoff;
      float mx = st.m[i];
      float* s = st.s[i];
      for (int j = 0; j < nk; ++j) {
        s[j] = dot_f32(qi, krow[j], hd) * st.kscale[j] * scale;
        mx = s[j] > mx ? s[j] : mx;
      }
      const float corr = std::exp(st.m[i] - mx);  // exp(-inf) = 0 on the first tile
      float sum = 0.f;
      for (int j = 0; j < nk; ++j) {
        s[j] = std::exp(s[j] - mx);
        sum += s[j];
      }
      st.l[i] = st.l[i] * corr + sum;
      st.m[i] = mx;
      float* a = st.acc[i];
      for (int d = 0; d < hd; ++d) a[d] *= corr;
    }
    // P·V: decode each value row once, accumulate into every query.
    alignas(64) float vbuf[kMaxHeadDim];
    for (int j = 0; j < nk; ++j) {
      const int64_t tok = j0 + j;
      float vscale;
      const float* vj = Row<T>::get(span, span.v, tok * span.stride + hoff,
                                    span.v_scale ? span.v_scale + tok * n_heads + head : nullptr, vbuf, hd, vscale);
      for (int i = 0; i < nq; ++i) {
        const float p = st.s[i][j] * vscale;
        float* a = st.acc[i];
        for (int d = 0; d < hd; ++d) a[d] += p * vj[d];
      }
    }
  }
}

void attention_tile(TileState& st, const float* q, int nq, int64_t q_stride, const KvSpan* spans, int n_spans, int head,
                    int n_heads, int hd, float scale, float* out, int64_t out_stride) {
  for (int i = 0; i < nq; ++i) {
    st.m[i] = -INFINITY;
    st.l[i] = 0.f;
    for (int d = 0; d < hd; ++d) st.acc[i][d] = 0.f;
  }
  for (int sp = 0; sp < n_spans; ++sp) {
    switch (spans[sp].type) {
      case KvType::F32: span_tile<KvType::F32>(st, q, nq, q_stride, spans[sp], head, n_heads, hd, scale); break;
      case KvType::BF16: span_tile<KvType::BF16>(st, q, nq, q_stride, spans[sp], head, n_heads, hd, scale); break;
      case KvType::I8: span_tile<KvType::I8>(st, q, nq, q_stride, spans[sp], head, n_heads, hd, scale); break;
    }
  }
  const int hoff = head * hd;
  for (int i = 0; i < nq; ++i) {
    const float inv = st.l[i] > 0.f ? 1.f / st.l[i] : 0.f;
    float* o = out + i * out_stride + hoff;
    for (int d = 0; d < hd; ++d) o[d] = st.acc[i][d] * inv;
  }
}

}  // namespace

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

void attention(const float* q, int64_t n_q, int64_t q_stride, const KvSpan* spans, int n_spans, int n_heads,
               int head_dim, float* out, int64_t out_stride, ThreadPool* pool) {
  if (head_dim > kMaxHeadDim) fail(ErrorKind::Shape, "attention: head_dim above 256 is not supported");
  const float scale = float(1.0 / std::sqrt(double(head_dim)));
  const int64_t n_qt = (n_q + kQTile - 1) / kQTile;
  const int n_threads = pool ? pool->size() : 1;
  static thread_local std::unique_ptr<TileState> tls;
  auto task = [&](int64_t t, int) {
    if (!tls) tls = std::make_unique<TileState>();
    const int h = int(t % n_heads);
    const int64_t qt = t / n_heads;
    const int64_t i0 = qt * kQTile;
    const int nq = int(std::min<int64_t>(kQTile, n_q - i0));
    attention_tile(*tls, q + i0 * q_stride, nq, q_stride, spans, n_spans, h, n_heads, head_dim, scale,
                   out + i0 * out_stride, out_stride);
  };
  const int64_t n_tasks = n_qt * n_heads;
  if (pool && n_tasks > 1 && n_threads > 1) pool->parallel_for(n_tasks, task);
  else for (int64_t t = 0; t < n_tasks; ++t) task(t, 0);
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
