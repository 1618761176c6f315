#include "model/matrix_game.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "core/error.h"
#include "core/trace.h"
#include "kernels/attention.h"
#include "kernels/gemm.h"
#include "kernels/norms.h"
#include "model/forward.h"

namespace wc {
namespace {

constexpr float kTorchLnEps = 1e-5f;  // nn.LayerNorm's default (MLPProj, mouse_mlp.3)

void lin(const float* x, int64_t M, const PackedLinear& w, float* y, ThreadPool* pool, StageTimes* times,
         Epilogue ep = Epilogue::None) {
  TraceScope tr("gemm", "kernel");
  StageTimer st(times, Stage::Gemm);
  linear(x, M, w.in, w, y, w.out, pool, ep);
}

size_t elem_size(KvType t) { return t == KvType::F32 ? 4 : t == KvType::BF16 ? 2 : 1; }

// The span of token `r` of a page span (one token of `heads` heads).
KvSpan token_of(const KvSpan& s, int64_t r, int heads) {
  KvSpan o = s;
  const size_t off = size_t(r) * size_t(s.stride) * elem_size(s.type);
  o.k = static_cast<const uint8_t*>(s.k) + off;
  o.v = static_cast<const uint8_t*>(s.v) + off;
  if (s.k_scale) o.k_scale = s.k_scale + r * heads;
  if (s.v_scale) o.v_scale = s.v_scale + r * heads;
  o.tokens = 1;
  return o;
}

}  // namespace

void matrix_game_norm_rope(float* row, int heads, int hd, bool norm, int rd, double theta, int64_t pos) {
  for (int h = 0; h < heads; ++h) {
    float* x = row + int64_t(h) * hd;
    if (norm) {
      double ss = 0;
      for (int d = 0; d < hd; ++d) ss += double(x[d]) * x[d];
      const double inv = 1.0 / std::sqrt(ss / hd + 1e-6);
      for (int d = 0; d < hd; ++d) x[d] = float(x[d] * inv);
    }
    for (int j = 0; j < rd / 2; ++j) {
      const double a = double(pos) * std::pow(theta, -2.0 * j / rd);
      const double c = std::cos(a), s = std::sin(a);
      const double re = x[2 * j], im = x[2 * j + 1];
      x[2 * j] = float(re * c - im * s);
      x[2 * j + 1] = float(re * s + im * c);
    }
  }
}

void matrix_game_img_emb(const WanModel& m, const float* clip, float* out, ThreadPool* pool, StageTimes* times) {
  const ModelConfig& c = m.config;
  const int64_t n = c.text_len;
  const int cd = c.text_dim;
  FloatBuffer a(size_t(n) * cd), b(size_t(n) * cd), d(size_t(n) * c.dim);
  layer_norm(clip, n, cd, cd, kTorchLnEps, m.img_emb_proj_0_weight.ptr(), m.img_emb_proj_0_bias.ptr(), a.data(), cd);
  lin(a.data(), n, m.img_emb_proj_1, b.data(), pool, times);
  for (int64_t i = 0; i < n * cd; ++i)  // nn.GELU(): the exact (erf) form
    b[i] = float(0.5 * double(b[i]) * (1.0 + std::erf(double(b[i]) / std::sqrt(2.0))));
  lin(b.data(), n, m.img_emb_proj_3, d.data(), pool, times);
  layer_norm(d.data(), n, c.dim, c.dim, kTorchLnEps, m.img_emb_proj_4_weight.ptr(), m.img_emb_proj_4_bias.ptr(), out,
             c.dim);
}

void matrix_game_action_layer(const WanModel& m, int l, const SeqInput* seqs, int n_seqs, ForwardWorkspace& ws,
                              ThreadPool* pool, StageTimes* times) {
  TraceScope trace("action_module", "model");
  const ModelConfig& c = m.config;
  const MatrixGameAction& A = c.mg;
  const ActionModuleWeights& Wt = m.blocks[size_t(l)].action_model;
  const int ai = A.layer_index[size_t(l)];
  const int D = c.dim, nh = A.heads_num, P = A.pad_t(), n_act = c.action.size();
  const int nkb = A.enable_keyboard ? A.keyboard_dim_in : 0;
  const int rd = A.rope_dims();
  const int ph = c.patch_h, pw = c.patch_w;
  int64_t T = 0, nF = 0;
  for (int s = 0; s < n_seqs; ++s) {
    T += int64_t(seqs[s].F) * (seqs[s].H / ph) * (seqs[s].W / pw);
    nF += seqs[s].F;
  }
  auto tokens_per_frame = [&](const SeqInput& q) { return int64_t(q.H / ph) * (q.W / pw); };
  ws.y.resize(size_t(T) * D);

  if (A.enable_mouse) {
    // h = mouse_mlp([x_token ‖ window mouse (pad_t × mouse_dim)]); q, k, v = t_qkv(h)
    const int mc = A.mouse_hidden_dim, hd = A.mouse_head_dim(), md = A.mouse_dim_in;
    const int Kin = D + md * P;
    ws.mg_in.resize(size_t(T) * Kin);
    for (int s = 0; s < n_seqs; ++s) {
      const SeqInput& q = seqs[s];
      const int64_t S = tokens_per_frame(q);
      for (int f = 0; f < q.F; ++f)
        for (int64_t r = 0; r < S; ++r) {
          const int64_t row = ws.row0[size_t(s)] + f * S + r;
          float* dst = ws.mg_in.data() + row * Kin;
          std::memcpy(dst, ws.x.data() + row * D, sizeof(float) * D);
          for (int j = 0; j < P; ++j)
            for (int a = 0; a < md; ++a) dst[D + j * md + a] = q.act_window[(int64_t(f) * P + j) * n_act + nkb + a];
        }
    }
    ws.mg_h.resize(size_t(T) * mc);
    ws.mg_h2.resize(size_t(T) * mc);
    lin(ws.mg_in.data(), T, Wt.mouse_mlp_0, ws.mg_h.data(), pool, times, Epilogue::GeluTanh);
    lin(ws.mg_h.data(), T, Wt.mouse_mlp_2, ws.mg_h2.data(), pool, times);
    {
      StageTimer st(times, Stage::Norm);
      layer_norm(ws.mg_h2.data(), T, mc, mc, kTorchLnEps, Wt.mouse_mlp_3_weight.ptr(), Wt.mouse_mlp_3_bias.ptr(),
                 ws.mg_h.data(), mc);
    }
    ws.mg_qkv.resize(size_t(T) * 3 * mc);
    lin(ws.mg_h.data(), T, Wt.t_qkv, ws.mg_qkv.data(), pool, times);
    ws.mg_att.resize(size_t(T) * mc);
    for (int s = 0; s < n_seqs; ++s) {
      const SeqInput& q = seqs[s];
      const int64_t S = tokens_per_frame(q), r0 = ws.row0[size_t(s)];
      {
        StageTimer st(times, Stage::Rope);
        auto task = [&](int64_t i, int) {
          const int f = int(i / S);
          float* row = ws.mg_qkv.data() + (r0 + i) * 3 * mc;
          matrix_game_norm_rope(row, nh, hd, A.qk_norm, rd, A.rope_theta, q.frame_start + f);
          matrix_game_norm_rope(row + mc, nh, hd, A.qk_norm, rd, A.rope_theta, q.frame_start + f);
        };
        if (pool) pool->parallel_for(q.F * S, task);
        else for (int64_t i = 0; i < q.F * S; ++i) task(i, 0);
      }
      std::vector<KvSpan> pages;
      if (q.act_mouse) q.act_mouse->spans(ai, q.frame_start, q.F, pages);
      // per spatial token: the block's frames attend to that token's K/V over the window
      StageTimer st(times, Stage::Attention);
      auto task = [&](int64_t r, int) {
        KvSpan sp[64];
        int n = 0;
        for (const KvSpan& p : pages) sp[n++] = token_of(p, r, nh);
        for (int f = 0; f < q.F; ++f) {
          KvSpan own;
          own.k = ws.mg_qkv.data() + (r0 + f * S + r) * 3 * mc + mc;
          own.v = ws.mg_qkv.data() + (r0 + f * S + r) * 3 * mc + 2 * mc;
          own.tokens = 1;
          own.stride = 3 * mc;
          sp[n++] = own;
        }
        attention(ws.mg_qkv.data() + (r0 + r) * 3 * mc, q.F, S * 3 * mc, sp, n, nh, hd,
                  ws.mg_att.data() + (r0 + r) * mc, S * mc, nullptr);
      };
      if (int64_t(pages.size()) + q.F > 64) fail(ErrorKind::Argument, "matrix_game: action window above 64 frames");
      if (pool) pool->parallel_for(S, task);
      else for (int64_t r = 0; r < S; ++r) task(r, 0);
      if (q.commit_to && q.act_mouse) {
        const int64_t n = q.F * S;
        ws.mg_k.resize(size_t(n) * mc);
        ws.mg_v.resize(size_t(n) * mc);
        for (int64_t i = 0; i < n; ++i) {
          std::memcpy(ws.mg_k.data() + i * mc, ws.mg_qkv.data() + (r0 + i) * 3 * mc + mc, sizeof(float) * mc);
          std::memcpy(ws.mg_v.data() + i * mc, ws.mg_qkv.data() + (r0 + i) * 3 * mc + 2 * mc, sizeof(float) * mc);
        }
        q.act_mouse->commit(ai, q.frame_start, q.F, ws.mg_k.data(), ws.mg_v.data());
      }
    }
    lin(ws.mg_att.data(), T, Wt.proj_mouse, ws.y.data(), pool, times);
    for (int64_t i = 0; i < T * D; ++i) ws.x[i] += ws.y[i];
  }

  if (A.enable_keyboard) {
    // one keyboard token per latent frame: keyboard_attn_kv(‖_j keyboard_embed(window kb_j))
    const int kh = A.keyboard_hidden_dim, hd = A.keyboard_head_dim(), hs = A.hidden_size;
    ws.mg_kb.resize(size_t(nF) * P * nkb);
    for (int s = 0; s < n_seqs; ++s) {
      const SeqInput& q = seqs[s];
      for (int64_t i = 0; i < int64_t(q.F) * P; ++i)
        for (int a = 0; a < nkb; ++a)
          ws.mg_kb[(ws.frame0[size_t(s)] * P + i) * nkb + a] = q.act_window[i * n_act + a];
    }
    ws.mg_kbe.resize(size_t(nF) * P * hs);
    ws.mg_h2.resize(size_t(nF) * P * hs);
    lin(ws.mg_kb.data(), nF * P, Wt.keyboard_embed_0, ws.mg_h2.data(), pool, times, Epilogue::Silu);
    lin(ws.mg_h2.data(), nF * P, Wt.keyboard_embed_2, ws.mg_kbe.data(), pool, times);
    ws.mg_kbkv.resize(size_t(nF) * 2 * kh);
    lin(ws.mg_kbe.data(), nF, Wt.keyboard_attn_kv, ws.mg_kbkv.data(), pool, times);  // [F, P·hs] rows
    ws.mg_q.resize(size_t(T) * kh);
    lin(ws.x.data(), T, Wt.mouse_attn_q, ws.mg_q.data(), pool, times);
    ws.mg_att.resize(size_t(T) * kh);
    for (int s = 0; s < n_seqs; ++s) {
      const SeqInput& q = seqs[s];
      const int64_t S = tokens_per_frame(q), r0 = ws.row0[size_t(s)], f0 = ws.frame0[size_t(s)];
      {
        StageTimer st(times, Stage::Rope);
        for (int f = 0; f < q.F; ++f)
          matrix_game_norm_rope(ws.mg_kbkv.data() + (f0 + f) * 2 * kh, nh, hd, A.qk_norm, rd, A.rope_theta,
                                q.frame_start + f);
        auto task = [&](int64_t i, int) {
          matrix_game_norm_rope(ws.mg_q.data() + (r0 + i) * kh, nh, hd, A.qk_norm, rd, A.rope_theta,
                                q.frame_start + i / S);
        };
        if (pool) pool->parallel_for(q.F * S, task);
        else for (int64_t i = 0; i < q.F * S; ++i) task(i, 0);
      }
      ws.spans.clear();
      if (q.act_keyboard) q.act_keyboard->spans(ai, q.frame_start, q.F, ws.spans);
      KvSpan own;
      own.k = ws.mg_kbkv.data() + f0 * 2 * kh;
      own.v = ws.mg_kbkv.data() + f0 * 2 * kh + kh;
      own.tokens = q.F;
      own.stride = 2 * kh;
      ws.spans.push_back(own);
      {
        StageTimer st(times, Stage::Attention);
        attention(ws.mg_q.data() + r0 * kh, q.F * S, kh, ws.spans.data(), int(ws.spans.size()), nh, hd,
                  ws.mg_att.data() + r0 * kh, kh, pool);
      }
      if (q.commit_to && q.act_keyboard) {
        ws.mg_k.resize(size_t(q.F) * kh);
        ws.mg_v.resize(size_t(q.F) * kh);
        for (int f = 0; f < q.F; ++f) {
          std::memcpy(ws.mg_k.data() + f * kh, ws.mg_kbkv.data() + (f0 + f) * 2 * kh, sizeof(float) * kh);
          std::memcpy(ws.mg_v.data() + f * kh, ws.mg_kbkv.data() + (f0 + f) * 2 * kh + kh, sizeof(float) * kh);
        }
        q.act_keyboard->commit(ai, q.frame_start, q.F, ws.mg_k.data(), ws.mg_v.data());
      }
    }
    lin(ws.mg_att.data(), T, Wt.proj_keyboard, ws.y.data(), pool, times);
    for (int64_t i = 0; i < T * D; ++i) ws.x[i] += ws.y[i];
  }
}

}  // namespace wc
