#include "model/forward.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "core/error.h"
#include "core/trace.h"
#include "kernels/activations.h"
#include "kernels/attention.h"
#include "kernels/gemm.h"
#include "kernels/norms.h"
#include "kernels/rope.h"
#include "kv/quantize.h"
#include "model/matrix_game.h"

namespace wc {

void timestep_sinusoid(double t, int d, float* out) {
  const int half = d / 2;
  for (int i = 0; i < half; ++i) {
    const double a = t * std::pow(10000.0, -double(i) / double(half));
    out[i] = float(std::cos(a));
    out[half + i] = float(std::sin(a));
  }
}

namespace {

void lin(const float* x, int64_t M, const PackedLinear& w, float* y, ThreadPool* pool, StageTimes* times,
         Epilogue ep = Epilogue::None) {
  TraceScope tr("gemm", "kernel");
  StageTimer st(times, Stage::Gemm);
  linear(x, M, w.in, w, y, w.out, pool, ep);
}

template <typename Fn>
void for_groups(ThreadPool* pool, const std::vector<ForwardWorkspace::Group>& groups, Fn&& fn) {
  auto task = [&](int64_t g, int) { fn(int(g), groups[size_t(g)]); };
  if (pool && groups.size() > 1) pool->parallel_for(int64_t(groups.size()), task);
  else for (size_t g = 0; g < groups.size(); ++g) task(int64_t(g), 0);
}

}  // namespace

CrossKv compute_cross_kv(const WanModel& m, const float* prompt, int len, ThreadPool* pool,
                                          StageTimes* times) {
  const ModelConfig& c = m.config;
  if (len < 0 || len > c.text_len)
    fail(ErrorKind::Shape, "prompt has " + std::to_string(len) + " rows; this model takes at most text_len = " +
                               std::to_string(c.text_len));
  FloatBuffer ctx(size_t(c.text_len) * c.text_dim), h1(size_t(c.text_len) * c.dim), emb(size_t(c.text_len) * c.dim);
  ctx.zero();
  if (len) std::memcpy(ctx.data(), prompt, sizeof(float) * size_t(len) * c.text_dim);
  if (c.i2v) {
    matrix_game_img_emb(m, ctx.data(), emb.data(), pool, times);  // CLIP tokens → img_emb
  } else {
    lin(ctx.data(), c.text_len, m.text_embedding_0, h1.data(), pool, times, Epilogue::GeluTanh);
    lin(h1.data(), c.text_len, m.text_embedding_2, emb.data(), pool, times);
  }
  CrossKv kv;
  CrossKv* out = &kv;
  out->text_len = c.text_len;
  out->dim = c.dim;
  out->k.resize(c.num_layers);
  out->v.resize(c.num_layers);
  for (int l = 0; l < c.num_layers; ++l) {
    const CrossAttention& ca = m.blocks[l].cross_attn;
    out->k[l].resize(size_t(c.text_len) * c.dim);
    out->v[l].resize(size_t(c.text_len) * c.dim);
    lin(emb.data(), c.text_len, ca.k, out->k[l].data(), pool, times);
    lin(emb.data(), c.text_len, ca.v, out->v[l].data(), pool, times);
    if (c.qk_norm) {
      StageTimer st(times, Stage::Norm);
      rms_norm(out->k[l].data(), c.text_len, c.dim, c.dim, float(c.eps), ca.norm_k.ptr(), out->k[l].data(), c.dim);
    }
  }
  return kv;
}

size_t ForwardWorkspace::bytes() const {
  size_t b = 0;
  for (const FloatBuffer* f : {&patches, &x, &h, &q, &k, &v, &attn, &y, &ffn, &sinus, &te, &e, &e0, &act_h, &mods,
                               &head_mods, &out, &mg_in, &mg_h, &mg_h2, &mg_qkv, &mg_att, &mg_k, &mg_v, &mg_kb,
                               &mg_kbe, &mg_kbkv, &mg_q})
    b += f->capacity_bytes();
  for (const TimeEmb& t : time_cache) b += t.e.capacity_bytes();
  b += own_kv.capacity_bytes() + own_scales.capacity_bytes();
  b += spans.capacity() * sizeof(KvSpan) + (row0.capacity() + frame0.capacity()) * sizeof(int64_t) +
       groups.capacity() * sizeof(Group) + rope.capacity() * sizeof(RopeTable);
  for (const RopeTable& r : rope) b += r.bytes();
  return b;
}

void wan_forward(const WanModel& m, const SeqInput* seqs, int n_seqs, ForwardWorkspace& ws, ThreadPool* pool,
                 StageTimes* times) {
  TraceScope trace("forward", "model");
  struct Report {  // the workspace's size after every forward, however it ends
    ForwardWorkspace& ws;
    ~Report() { ws.report(); }
  } report{ws};
  const ModelConfig& c = m.config;
  const int D = c.dim, ph = c.patch_h, pw = c.patch_w, nh = c.num_heads, hd = c.head_dim();
  const int n_act = c.has_action && !c.mg_action() ? c.action.size() : 0;  // additive action embedding
  const float eps = float(c.eps);
  if (n_seqs <= 0) return;

  // ---- layout: rows of every sequence's tokens in (f, h, w) order, one group per frame
  std::vector<int64_t>& row0 = ws.row0;
  std::vector<int64_t>& frame0 = ws.frame0;
  row0.resize(n_seqs);
  frame0.resize(n_seqs);
  ws.rope.resize(std::max<size_t>(ws.rope.size(), size_t(n_seqs)));
  int64_t T = 0, nF = 0;
  ws.groups.clear();
  // The per-row work (norms, q/k norm + RoPE, gated residuals) runs over the groups in
  // parallel. With fewer frames than ~2 per thread (a 1-frame block) a frame alone would
  // leave the other threads idle, so each frame is then split into row chunks (>= 8 rows).
  int64_t all_frames = 0;
  for (int s = 0; s < n_seqs; ++s) all_frames += std::max(seqs[s].F, 1);
  const int64_t parts = std::max<int64_t>(1, (2 * int64_t(pool ? pool->size() : 1) + all_frames - 1) / all_frames);
  for (int s = 0; s < n_seqs; ++s) {
    const SeqInput& q = seqs[s];
    if (!q.x || !q.t || !q.cross) fail(ErrorKind::Argument, "forward: missing input latents, timesteps or prompt");
    if (q.F < 1 || q.H < ph || q.W < pw || q.H % ph || q.W % pw)
      fail(ErrorKind::Shape, "forward: latent block of " + std::to_string(q.F) + " frames of " + std::to_string(q.H) +
                                 "x" + std::to_string(q.W) + " does not fit the patch size " + std::to_string(ph) + "x" +
                                 std::to_string(pw));
    if (q.frame_start < 0) fail(ErrorKind::Argument, "forward: negative frame_start");
    if (c.i2v && !q.cond) fail(ErrorKind::Argument, "forward: this i2v model needs its mask + image-latent input");
    if (c.mg_action() && !q.act_window) fail(ErrorKind::Argument, "forward: missing matrix_game action windows");
    if (c.mg_action() && q.n_fresh > 0)
      fail(ErrorKind::Argument, "forward: a folded commit is not supported with the matrix_game action module");
    for (int f = 0; f < q.F; ++f)
      if (!std::isfinite(q.t[f]) || q.t[f] < 0 || q.t[f] > c.num_train_timesteps)
        fail(ErrorKind::Argument, "forward: timestep out of range [0, " + std::to_string(c.num_train_timesteps) + "]");
    const int64_t tpf = int64_t(q.H / ph) * (q.W / pw);
    row0[s] = T;
    frame0[s] = nF;
    const int64_t chunks = std::max<int64_t>(1, std::min<int64_t>(parts, tpf / 8));
    for (int f = 0; f < q.F; ++f)
      for (int64_t i = 0; i < chunks; ++i) {
        const int64_t a = tpf * i / chunks, b = tpf * (i + 1) / chunks;
        ws.groups.push_back({T + f * tpf + a, b - a, s, f, int(nF + f), int(a)});
      }
    ws.rope[size_t(s)].prepare(q.F, q.H / ph, q.W / pw, q.frame_start, hd);
    T += q.F * tpf;
    nF += q.F;
  }
  const int Kp = c.in_dim * ph * pw;
  const int Cx = c.latent_channels();  // channels from x; the rest from cond (i2v's, or the geometry map)

  // ---- patch embedding (Conv3d with k = s = patch → linear over (c, pt, ph, pw))
  ws.patches.resize(size_t(T) * Kp);
  ws.x.resize(size_t(T) * D);
  {
    StageTimer st(times, Stage::Other);
    for (int s = 0; s < n_seqs; ++s) {
      const SeqInput& q = seqs[s];
      const int Hp = q.H / ph, Wp = q.W / pw;
      for (int f = 0; f < q.F; ++f)
        for (int y = 0; y < Hp; ++y)
          for (int xw = 0; xw < Wp; ++xw) {
            float* row = ws.patches.data() + (row0[s] + (int64_t(f) * Hp + y) * Wp + xw) * Kp;
            for (int ch = 0; ch < c.in_dim; ++ch)
              for (int i = 0; i < ph; ++i)
                for (int j = 0; j < pw; ++j) {
                  const int64_t px = int64_t(y * ph + i) * q.W + xw * pw + j;
                  float v;
                  if (ch < Cx) v = q.x[(int64_t(ch) * q.F + f) * q.H * q.W + px];
                  else  // condition channels (a geometry model without its map this block: zero)
                    v = q.cond ? q.cond[(int64_t(ch - Cx) * q.F + f) * q.H * q.W + px] : 0.f;
                  row[(ch * ph + i) * pw + j] = v;
                }
          }
    }
  }
  lin(ws.patches.data(), T, m.patch_embedding, ws.x.data(), pool, times);

  // ---- time (+ action) embedding, one per frame: e = time_embedding(sin(t)) [+ action_embedding(a)]
  ws.sinus.resize(size_t(c.freq_dim));
  ws.te.resize(size_t(nF) * D);
  ws.e.resize(size_t(nF) * D);
  ws.e0.resize(size_t(nF) * 6 * D);
  // e = time_embedding(sinusoid(t)) depends on t alone: computed once per distinct timestep
  // (a session steps the same few) and cached in the workspace.
  for (int s = 0; s < n_seqs; ++s)
    for (int f = 0; f < seqs[s].F; ++f) {
      const float t = seqs[s].t[f];
      ForwardWorkspace::TimeEmb* hit = nullptr;
      for (auto& te : ws.time_cache)
        if (te.t == t) hit = &te;
      if (!hit) {
        if (ws.time_cache.size() >= 64) ws.time_cache.erase(ws.time_cache.begin());
        ws.time_cache.push_back({t, FloatBuffer(size_t(D))});
        hit = &ws.time_cache.back();
        {
          StageTimer st(times, Stage::Other);
          timestep_sinusoid(double(t), c.freq_dim, ws.sinus.data());
        }
        lin(ws.sinus.data(), 1, m.time_embedding_0, ws.te.data(), pool, times, Epilogue::Silu);
        lin(ws.te.data(), 1, m.time_embedding_2, hit->e.data(), pool, times);
      }
      std::memcpy(ws.e.data() + (frame0[s] + f) * D, hit->e.data(), sizeof(float) * D);
    }
  if (n_act > 0) {
    ws.act_h.resize(size_t(nF) * n_act);
    ws.act_h.zero();
    for (int s = 0; s < n_seqs; ++s)
      if (seqs[s].actions) {
        std::memcpy(ws.act_h.data() + frame0[s] * n_act, seqs[s].actions, sizeof(float) * size_t(seqs[s].F) * n_act);
      }
    lin(ws.act_h.data(), nF, m.action_embedding_0, ws.te.data(), pool, times, Epilogue::Silu);
    ws.y.resize(size_t(nF) * D);
    lin(ws.te.data(), nF, m.action_embedding_2, ws.y.data(), pool, times);
    for (int64_t i = 0; i < nF * D; ++i) ws.e[i] += ws.y[i];
  }
  // e0 = time_projection(SiLU(e)) → 6 modulation rows per frame
  ws.te.resize(size_t(nF) * D);
  for (int64_t i = 0; i < nF * D; ++i) ws.te[i] = silu(ws.e[i]);
  lin(ws.te.data(), nF, m.time_projection_1, ws.e0.data(), pool, times);

  ws.h.resize(size_t(T) * D);
  ws.q.resize(size_t(T) * D);
  ws.k.resize(size_t(T) * D);
  ws.v.resize(size_t(T) * D);
  ws.attn.resize(size_t(T) * D);
  ws.y.resize(size_t(T) * D);
  ws.ffn.resize(size_t(T) * c.ffn_dim);
  ws.mods.resize(size_t(nF) * 6 * D);

  for (int l = 0; l < c.num_layers; ++l) {
    TraceScope layer_trace("layer", "model");
    const WanBlock& B = m.blocks[l];
    // (sh1, sc1, g1, sh2, sc2, g2) = modulation + e0, per frame
    for (int64_t g = 0; g < nF; ++g)
      for (int i = 0; i < 6 * D; ++i) ws.mods[g * 6 * D + i] = B.modulation.data[i] + ws.e0[g * 6 * D + i];
    auto mod = [&](int g, int chunk) { return ws.mods.data() + (int64_t(g) * 6 + chunk) * D; };

    // --- self-attention on LN(x)·(1+sc1)+sh1
    {
      StageTimer st(times, Stage::Norm);
      for_groups(pool, ws.groups, [&](int, const ForwardWorkspace::Group& gr) {
        layer_norm_mod(ws.x.data() + gr.row0 * D, gr.rows, D, D, eps, mod(gr.gframe, 0), mod(gr.gframe, 1),
                       ws.h.data() + gr.row0 * D, D);
      });
    }
    lin(ws.h.data(), T, B.self_attn.q, ws.q.data(), pool, times);
    lin(ws.h.data(), T, B.self_attn.k, ws.k.data(), pool, times);
    lin(ws.h.data(), T, B.self_attn.v, ws.v.data(), pool, times);
    {
      // q, k: RMSNorm (when qk_norm) fused with the 3D RoPE, one pass per frame's rows
      StageTimer st(times, Stage::Rope);
      const float* wq = c.qk_norm ? B.self_attn.norm_q.ptr() : nullptr;
      const float* wk = c.qk_norm ? B.self_attn.norm_k.ptr() : nullptr;
      for_groups(pool, ws.groups, [&](int, const ForwardWorkspace::Group& gr) {
        const RopeTable& rt = ws.rope[size_t(gr.seq)];
        rms_norm_rope(ws.q.data() + gr.row0 * D, gr.rows, D, D, eps, wq, nh, rt, gr.frame, gr.frame_row0);
        rms_norm_rope(ws.k.data() + gr.row0 * D, gr.rows, D, D, eps, wk, nh, rt, gr.frame, gr.frame_row0);
      });
    }
    for (int s = 0; s < n_seqs; ++s) {
      const SeqInput& q = seqs[s];
      const int64_t Ts = q.F * int64_t(q.H / ph) * (q.W / pw);
      ws.spans.clear();
      if (q.kv) q.kv->spans(l, q.frame_start, q.F, ws.spans);
      for (int a = 0; a < q.n_fresh; ++a) {
        const FreshFrames& fr = q.fresh[a];
        if (fr.seq < 0 || fr.seq >= s) fail(ErrorKind::Internal, "forward: fresh K/V must come from an earlier sequence");
        const SeqInput& o = seqs[fr.seq];
        if (fr.frame_begin < 0 || fr.frame_end > o.F || fr.frame_begin >= fr.frame_end)
          fail(ErrorKind::Internal, "forward: fresh frame range out of its sequence");
        const int64_t per_frame = int64_t(o.H / ph) * (o.W / pw);
        KvSpan prev;
        prev.k = ws.k.data() + (row0[fr.seq] + fr.frame_begin * per_frame) * D;
        prev.v = ws.v.data() + (row0[fr.seq] + fr.frame_begin * per_frame) * D;
        prev.tokens = (fr.frame_end - fr.frame_begin) * per_frame;
        prev.stride = D;
        ws.spans.push_back(prev);
      }
      KvSpan own;  // the block itself: bidirectional within the block
      own.k = ws.k.data() + row0[s] * D;
      own.v = ws.v.data() + row0[s] * D;
      own.tokens = Ts;
      own.stride = D;
      // Where the AMX pieces take a bf16 / int8 session's pages, its own block is read in the
      // pages' type too, converted as commit converts it (the keys of this block as later
      // blocks will see them): at 480p block 0 every key is the block's own, and f32 spans
      // run at a fifth of AMX's rate. Elsewhere the own block stays f32, whose kernel is
      // the faster one there (the bf16 / int8 dot-product and widening paths are slower).
      const KvType own_type = q.kv && attention_amx_for(q.kv->type(), hd) ? q.kv->type() : KvType::F32;
      if (own_type != KvType::F32) {
        StageTimer st(times, Stage::Other);
        const size_t n = size_t(Ts) * D, elem = own_type == KvType::BF16 ? 2 : 1;
        ws.own_kv.resize(2 * n * elem);
        float* ks = nullptr;
        float* vs = nullptr;
        if (own_type == KvType::I8) {
          ws.own_scales.resize(2 * size_t(Ts) * nh);
          ks = ws.own_scales.data();
          vs = ks + size_t(Ts) * nh;
        }
        store_kv(own_type, ws.k.data() + row0[s] * D, Ts, nh, hd, ws.own_kv.data(), ks);
        store_kv(own_type, ws.v.data() + row0[s] * D, Ts, nh, hd, ws.own_kv.data() + n * elem, vs);
        own.type = own_type;
        own.k = ws.own_kv.data();
        own.v = ws.own_kv.data() + n * elem;
        own.k_scale = ks;
        own.v_scale = vs;
      }
      ws.spans.push_back(own);
      {
        TraceScope tr("self_attention", "kernel");
        StageTimer st(times, Stage::Attention);
        attention(ws.q.data() + row0[s] * D, Ts, D, ws.spans.data(), int(ws.spans.size()), nh, hd,
                  ws.attn.data() + row0[s] * D, D, pool);
      }
      if (q.commit_to) {
        StageTimer st(times, Stage::Other);
        q.commit_to->commit(l, q.frame_start, q.F, ws.k.data() + row0[s] * D, ws.v.data() + row0[s] * D);
      }
    }
    lin(ws.attn.data(), T, B.self_attn.o, ws.y.data(), pool, times);
    {
      StageTimer st(times, Stage::Other);
      for_groups(pool, ws.groups, [&](int, const ForwardWorkspace::Group& gr) {
        const float* gate = mod(gr.gframe, 2);
        for (int64_t r = gr.row0; r < gr.row0 + gr.rows; ++r)
          for (int i = 0; i < D; ++i) ws.x[r * D + i] += ws.y[r * D + i] * gate[i];
      });
    }

    // --- cross-attention on norm3(x) over the prompt K/V (no mask)
    {
      StageTimer st(times, Stage::Norm);
      if (c.cross_attn_norm)
        for_groups(pool, ws.groups, [&](int, const ForwardWorkspace::Group& gr) {
          layer_norm(ws.x.data() + gr.row0 * D, gr.rows, D, D, eps, B.norm3_weight.ptr(), B.norm3_bias.ptr(),
                     ws.h.data() + gr.row0 * D, D);
        });
      else
        std::memcpy(ws.h.data(), ws.x.data(), sizeof(float) * T * D);
    }
    lin(ws.h.data(), T, B.cross_attn.q, ws.q.data(), pool, times);
    if (c.qk_norm) {
      StageTimer st(times, Stage::Norm);
      for_groups(pool, ws.groups, [&](int, const ForwardWorkspace::Group& gr) {
        rms_norm(ws.q.data() + gr.row0 * D, gr.rows, D, D, eps, B.cross_attn.norm_q.ptr(), ws.q.data() + gr.row0 * D,
                 D);
      });
    }
    for (int s = 0; s < n_seqs; ++s) {
      const SeqInput& q = seqs[s];
      const int64_t Ts = q.F * int64_t(q.H / ph) * (q.W / pw);
      KvSpan span;  // f32
      span.k = q.cross->k[l].data();
      span.v = q.cross->v[l].data();
      span.tokens = q.cross->text_len;
      span.stride = D;
      TraceScope tr("cross_attention", "kernel");
      StageTimer st(times, Stage::Attention);
      attention(ws.q.data() + row0[s] * D, Ts, D, &span, 1, nh, hd, ws.attn.data() + row0[s] * D, D, pool);
    }
    lin(ws.attn.data(), T, B.cross_attn.o, ws.y.data(), pool, times);
    {
      StageTimer st(times, Stage::Other);
      for (int64_t i = 0; i < T * D; ++i) ws.x[i] += ws.y[i];
    }

    // --- Matrix-Game 2.0: the action module sits between cross-attention and the FFN
    // (causal_model.py CausalWanAttentionBlock.forward, cross_attn_ffn)
    if (B.has_action_model) matrix_game_action_layer(m, l, seqs, n_seqs, ws, pool, times);

    // --- FFN on LN(x)·(1+sc2)+sh2, x += ffn·g2
    {
      StageTimer st(times, Stage::Norm);
      for_groups(pool, ws.groups, [&](int, const ForwardWorkspace::Group& gr) {
        layer_norm_mod(ws.x.data() + gr.row0 * D, gr.rows, D, D, eps, mod(gr.gframe, 3), mod(gr.gframe, 4),
                       ws.h.data() + gr.row0 * D, D);
      });
    }
    lin(ws.h.data(), T, B.ffn_0, ws.ffn.data(), pool, times, Epilogue::GeluTanh);
    lin(ws.ffn.data(), T, B.ffn_2, ws.y.data(), pool, times);
    {
      StageTimer st(times, Stage::Other);
      for_groups(pool, ws.groups, [&](int, const ForwardWorkspace::Group& gr) {
        const float* gate = mod(gr.gframe, 5);
        for (int64_t r = gr.row0; r < gr.row0 + gr.rows; ++r)
          for (int i = 0; i < D; ++i) ws.x[r * D + i] += ws.y[r * D + i] * gate[i];
      });
    }
  }

  // ---- head: LN(x)·(1+scale)+shift with (shift, scale) = head.modulation + e, then Linear
  ws.head_mods.resize(size_t(nF) * 2 * D);
  for (int64_t g = 0; g < nF; ++g)
    for (int ch = 0; ch < 2; ++ch)
      for (int i = 0; i < D; ++i)
        ws.head_mods[(g * 2 + ch) * D + i] = m.head_modulation.data[ch * D + i] + ws.e[g * D + i];
  {
    StageTimer st(times, Stage::Norm);
    for_groups(pool, ws.groups, [&](int, const ForwardWorkspace::Group& gr) {
      layer_norm_mod(ws.x.data() + gr.row0 * D, gr.rows, D, D, eps, ws.head_mods.data() + int64_t(gr.gframe) * 2 * D,
                     ws.head_mods.data() + (int64_t(gr.gframe) * 2 + 1) * D, ws.h.data() + gr.row0 * D, D);
    });
  }
  const int No = m.head_head.out;  // out_dim · pt · ph · pw
  ws.out.resize(size_t(T) * No);
  bool any_out = false;
  for (int s = 0; s < n_seqs; ++s) any_out |= seqs[s].v_out != nullptr;
  if (!any_out) return;
  lin(ws.h.data(), T, m.head_head, ws.out.data(), pool, times);

  // ---- unpatchify: columns in (pt, ph, pw, c) order
  StageTimer st(times, Stage::Other);
  for (int s = 0; s < n_seqs; ++s) {
    const SeqInput& q = seqs[s];
    if (!q.v_out) continue;
    const int Hp = q.H / ph, Wp = q.W / pw;
    for (int f = 0; f < q.F; ++f)
      for (int y = 0; y < Hp; ++y)
        for (int xw = 0; xw < Wp; ++xw) {
          const float* row = ws.out.data() + (row0[s] + (int64_t(f) * Hp + y) * Wp + xw) * No;
          for (int i = 0; i < ph; ++i)
            for (int j = 0; j < pw; ++j)
              for (int ch = 0; ch < c.out_dim; ++ch)
                q.v_out[((int64_t(ch) * q.F + f) * q.H + y * ph + i) * q.W + xw * pw + j] =
                    row[(i * pw + j) * c.out_dim + ch];
        }
  }
}

}  // namespace wc
