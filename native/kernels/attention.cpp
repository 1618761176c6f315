#include "kernels/attention.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "core/error.h"

namespace wc {
namespace {

inline float dot(const float* a, const float* b, int n) {
  // Eight independent partial sums so the compiler can vectorize without -ffast-math.
  float s[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int i = 0;
  for (; i + 8 <= n; i += 8)
    for (int j = 0; j < 8; ++j) s[j] += a[i + j] * b[i + j];
  float t = ((s[0] + s[4]) + (s[1] + s[5])) + ((s[2] + s[6]) + (s[3] + s[7]));
  for (; i < n; ++i) t += a[i] * b[i];
  return t;
}

constexpr int kQTile = 16;
constexpr int kKTile = 64;

void attention_tile(const float* q, int64_t nq, int64_t q_stride, const KvSpan* spans, int n_spans, int hoff, int hd,
                    float scale, float* out, int64_t out_stride) {
  float m[kQTile], l[kQTile];
  alignas(64) float acc[kQTile][kMaxHeadDim];
  alignas(64) float s[kKTile];
  for (int i = 0; i < nq; ++i) {
    m[i] = -INFINITY;
    l[i] = 0.f;
    for (int d = 0; d < hd; ++d) acc[i][d] = 0.f;
  }
  for (int sp = 0; sp < n_spans; ++sp) {
    const KvSpan& span = spans[sp];
    for (int64_t j0 = 0; j0 < span.tokens; j0 += kKTile) {
      const int nk = int(std::min<int64_t>(kKTile, span.tokens - j0));
      for (int i = 0; i < nq; ++i) {
        const float* qi = q + i * q_stride + hoff;
        float mx = m[i];
        for (int j = 0; j < nk; ++j) {
          s[j] = dot(qi, span.k + (j0 + j) * span.stride + hoff, hd) * scale;
          mx = s[j] > mx ? s[j] : mx;
        }
        const float corr = std::exp(m[i] - mx);  // exp(-inf) = 0 on the first tile
        float sum = 0.f;
        for (int j = 0; j < nk; ++j) {
          s[j] = std::exp(s[j] - mx);
          sum += s[j];
        }
        l[i] = l[i] * corr + sum;
        m[i] = mx;
        float* a = acc[i];
        for (int d = 0; d < hd; ++d) a[d] *= corr;
        for (int j = 0; j < nk; ++j) {
          const float p = s[j];
          const float* vj = span.v + (j0 + j) * span.stride + hoff;
          for (int d = 0; d < hd; ++d) a[d] += p * vj[d];
        }
      }
    }
  }
  for (int i = 0; i < nq; ++i) {
    const float inv = l[i] > 0.f ? 1.f / l[i] : 0.f;
    float* o = out + i * out_stride + hoff;
    for (int d = 0; d < hd; ++d) o[d] = acc[i][d] * inv;
  }
}

}  // namespace

void attention(const float* q, int64_t n_q, int64_t q_stride, const KvSpan* spans, int n_spans, int n_heads,
               int head_dim, float* out, int64_t out_stride, ThreadPool* pool) {
  if (head_dim > kMaxHeadDim) fail(ErrorKind::Shape, "attention: head_dim above 256 is not supported");
  const float scale = float(1.0 / std::sqrt(double(head_dim)));
  const int64_t n_qt = (n_q + kQTile - 1) / kQTile;
  auto task = [&](int64_t t, int) {
    const int h = int(t % n_heads);
    const int64_t qt = t / n_heads;
    const int64_t i0 = qt * kQTile;
    const int64_t nq = std::min<int64_t>(kQTile, n_q - i0);
    attention_tile(q + i0 * q_stride, nq, q_stride, spans, n_spans, h * head_dim, head_dim, scale,
                   out + i0 * out_stride, out_stride);
  };
  const int64_t n_tasks = n_qt * n_heads;
  if (pool && n_tasks > 1) pool->parallel_for(n_tasks, task);
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
            d += double(q[i * q_stride + off + e]) * double(spans[sp].k[j * spans[sp].stride + off + e]);
          sc.push_back(d * scale);
          mx = std::max(mx, d * scale);
        }
      double sum = 0;
      for (double& x : sc) { x = std::exp(x - mx); sum += x; }
      for (int e = 0; e < head_dim; ++e) {
        double o = 0;
        size_t idx = 0;
        for (int sp = 0; sp < n_spans; ++sp)
          for (int64_t j = 0; j < spans[sp].tokens; ++j) o += sc[idx++] * double(spans[sp].v[j * spans[sp].stride + off + e]);
        out[i * out_stride + off + e] = sum > 0 ? float(o / sum) : 0.f;
      }
    }
  }
}

}  // namespace wc
