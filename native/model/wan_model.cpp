#include "model/wan_model.h"

#include <algorithm>

#include "core/error.h"
#include "model/checkpoint.h"

namespace wc {
namespace {

void add_linear(std::vector<ExpectedTensor>& v, const std::string& p, int64_t out, int64_t in, bool bias = true) {
  v.push_back({p + ".weight", {out, in}});
  if (bias) v.push_back({p + ".bias", {out}});
}

}  // namespace

std::vector<ExpectedTensor> expected_tensors(const ModelConfig& c) {
  std::vector<ExpectedTensor> v;
  const int64_t d = c.dim;
  v.push_back({"patch_embedding.weight", {d, c.in_dim, c.patch_t, c.patch_h, c.patch_w}});
  v.push_back({"patch_embedding.bias", {d}});
  if (c.i2v) {
    const int64_t cd = c.text_dim;  // clip_dim
    v.push_back({"img_emb.proj.0.weight", {cd}});
    v.push_back({"img_emb.proj.0.bias", {cd}});
    add_linear(v, "img_emb.proj.1", cd, cd);
    add_linear(v, "img_emb.proj.3", d, cd);
    v.push_back({"img_emb.proj.4.weight", {d}});
    v.push_back({"img_emb.proj.4.bias", {d}});
  } else {
    add_linear(v, "text_embedding.0", d, c.text_dim);
    add_linear(v, "text_embedding.2", d, d);
  }
  add_linear(v, "time_embedding.0", d, c.freq_dim);
  add_linear(v, "time_embedding.2", d, d);
  add_linear(v, "time_projection.1", 6 * d, d);
  if (c.has_action && !c.mg_action()) {
    add_linear(v, "action_embedding.0", d, c.action.size());
    add_linear(v, "action_embedding.2", d, d);
  }
  for (int i = 0; i < c.num_layers; ++i) {
    const std::string b = "blocks." + std::to_string(i) + ".";
    for (const char* a : {"self_attn", "cross_attn"}) {
      for (const char* l : {"q", "k", "v", "o"}) add_linear(v, b + a + "." + l, d, d);
      if (c.qk_norm) {
        v.push_back({b + a + ".norm_q.weight", {d}});
        v.push_back({b + a + ".norm_k.weight", {d}});
      }
    }
    if (c.cross_attn_norm) {
      v.push_back({b + "norm3.weight", {d}});
      v.push_back({b + "norm3.bias", {d}});
    }
    if (c.mg_action() && c.mg.layer_index[size_t(i)] >= 0) {
      const MatrixGameAction& m = c.mg;
      const std::string a = b + "action_model.";
      const bool bias = m.qkv_bias;
      if (m.enable_keyboard) {
        add_linear(v, a + "keyboard_embed.0", m.hidden_size, m.keyboard_dim_in);
        add_linear(v, a + "keyboard_embed.2", m.hidden_size, m.hidden_size);
      }
      if (m.enable_mouse) {
        const int64_t mc = m.mouse_hidden_dim;
        add_linear(v, a + "mouse_mlp.0", mc, int64_t(m.mouse_dim_in) * m.pad_t() + d);
        add_linear(v, a + "mouse_mlp.2", mc, mc);
        v.push_back({a + "mouse_mlp.3.weight", {mc}});
        v.push_back({a + "mouse_mlp.3.bias", {mc}});
        add_linear(v, a + "t_qkv", 3 * mc, mc, bias);
        if (m.qk_norm) {
          v.push_back({a + "img_attn_q_norm.weight", {m.mouse_head_dim()}});
          v.push_back({a + "img_attn_k_norm.weight", {m.mouse_head_dim()}});
        }
        add_linear(v, a + "proj_mouse", d, mc, bias);
      }
      if (m.enable_keyboard) {
        const int64_t kh = m.keyboard_hidden_dim;
        if (m.qk_norm) {
          v.push_back({a + "key_attn_q_norm.weight", {m.keyboard_head_dim()}});
          v.push_back({a + "key_attn_k_norm.weight", {m.keyboard_head_dim()}});
        }
        add_linear(v, a + "mouse_attn_q", kh, d, bias);
        add_linear(v, a + "keyboard_attn_kv", 2 * kh, int64_t(m.hidden_size) * m.pad_t(), bias);
        add_linear(v, a + "proj_keyboard", d, kh, bias);
      }
    }
    add_linear(v, b + "ffn.0", c.ffn_dim, d);
    add_linear(v, b + "ffn.2", d, c.ffn_dim);
    v.push_back({b + "modulation", {1, 6, d}});
  }
  add_linear(v, "head.head", int64_t(c.out_dim) * c.patch_numel(), d);
  v.push_back({"head.modulation", {1, 2, d}});
  return v;
}

std::shared_ptr<WanModel> load_wan_model(const std::string& dir, const LoadOptions& opts) {
  auto m = std::make_shared<WanModel>();
  m->dir = dir;
  m->weights = opts.weights;
  m->config = load_model_config(dir + "/config.json", opts.config);
  const ModelConfig& c = m->config;

  // Every *.safetensors file of the directory, validated as a whole before converting anything.
  const Checkpoint ck(dir, "model");
  ck.validate(expected_tensors(c));

  FloatBuffer tmp;
  auto to_f32 = [&](const std::string& name) -> const float* { return ck.to_f32(name, tmp); };
  FloatBuffer wbuf;
  auto linear = [&](const std::string& p, PackedLinear& out) {
    const TensorInfo& w = ck.at(p + ".weight");
    ck.to_f32(p + ".weight", wbuf);
    const float* b = ck.has(p + ".bias") ? to_f32(p + ".bias") : nullptr;
    const int N = int(w.shape[0]);
    const int K = int(w.numel / w.shape[0]);
    pack_linear(wbuf.data(), b, N, K, opts.isa, out, opts.weights);
    m->weight_bytes += out.bytes();
  };
  auto vec = [&](const std::string& name, Vec& out) {
    const float* p = to_f32(name);
    out.data.resize(tmp.size());
    std::copy(p, p + tmp.size(), out.data.data());
    m->weight_bytes += tmp.size() * 4;
  };

  linear("patch_embedding", m->patch_embedding);  // [dim, in, pt, ph, pw] flattens to (c, pt, ph, pw)
  if (c.i2v) {
    vec("img_emb.proj.0.weight", m->img_emb_proj_0_weight);
    vec("img_emb.proj.0.bias", m->img_emb_proj_0_bias);
    linear("img_emb.proj.1", m->img_emb_proj_1);
    linear("img_emb.proj.3", m->img_emb_proj_3);
    vec("img_emb.proj.4.weight", m->img_emb_proj_4_weight);
    vec("img_emb.proj.4.bias", m->img_emb_proj_4_bias);
  } else {
    linear("text_embedding.0", m->text_embedding_0);
    linear("text_embedding.2", m->text_embedding_2);
  }
  linear("time_embedding.0", m->time_embedding_0);
  linear("time_embedding.2", m->time_embedding_2);
  linear("time_projection.1", m->time_projection_1);
  if (c.has_action && !c.mg_action()) {
    linear("action_embedding.0", m->action_embedding_0);
    linear("action_embedding.2", m->action_embedding_2);
  }
  m->blocks.resize(c.num_layers);
  for (int i = 0; i < c.num_layers; ++i) {
    const std::string b = "blocks." + std::to_string(i) + ".";
    WanBlock& B = m->blocks[i];
    linear(b + "self_attn.q", B.self_attn.q);
    linear(b + "self_attn.k", B.self_attn.k);
    linear(b + "self_attn.v", B.self_attn.v);
    linear(b + "self_attn.o", B.self_attn.o);
    linear(b + "cross_attn.q", B.cross_attn.q);
    linear(b + "cross_attn.k", B.cross_attn.k);
    linear(b + "cross_attn.v", B.cross_attn.v);
    linear(b + "cross_attn.o", B.cross_attn.o);
    if (c.qk_norm) {
      vec(b + "self_attn.norm_q.weight", B.self_attn.norm_q);
      vec(b + "self_attn.norm_k.weight", B.self_attn.norm_k);
      vec(b + "cross_attn.norm_q.weight", B.cross_attn.norm_q);
      vec(b + "cross_attn.norm_k.weight", B.cross_attn.norm_k);
    }
    if (c.cross_attn_norm) {
      vec(b + "norm3.weight", B.norm3_weight);
      vec(b + "norm3.bias", B.norm3_bias);
    }
    if (c.mg_action() && c.mg.layer_index[size_t(i)] >= 0) {
      const std::string a = b + "action_model.";
      ActionModuleWeights& A = B.action_model;
      B.has_action_model = true;
      if (c.mg.enable_keyboard) {
        linear(a + "keyboard_embed.0", A.keyboard_embed_0);
        linear(a + "keyboard_embed.2", A.keyboard_embed_2);
        linear(a + "mouse_attn_q", A.mouse_attn_q);
        linear(a + "keyboard_attn_kv", A.keyboard_attn_kv);
        linear(a + "proj_keyboard", A.proj_keyboard);
      }
      if (c.mg.enable_mouse) {
        linear(a + "mouse_mlp.0", A.mouse_mlp_0);
        linear(a + "mouse_mlp.2", A.mouse_mlp_2);
        vec(a + "mouse_mlp.3.weight", A.mouse_mlp_3_weight);
        vec(a + "mouse_mlp.3.bias", A.mouse_mlp_3_bias);
        linear(a + "t_qkv", A.t_qkv);
        linear(a + "proj_mouse", A.proj_mouse);
      }
    }
    linear(b + "ffn.0", B.ffn_0);
    linear(b + "ffn.2", B.ffn_2);
    vec(b + "modulation", B.modulation);
  }
  linear("head.head", m->head_head);
  vec("head.modulation", m->head_modulation);
  return m;
}

}  // namespace wc
