// Weights of a Wan2.1 causal DiT checkpoint (shared, read-only; per-session state
// lives in engine/Session). Member names follow the checkpoint keys, so
// `blocks[i].self_attn.q` is `blocks.{i}.self_attn.q.{weight,bias}`.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "core/buffer.h"
#include "core/cpu_features.h"
#include "kernels/gemm.h"
#include "model/checkpoint.h"
#include "model/config.h"

namespace wc {

struct Vec {  // a 1-D parameter (norm weight/bias, modulation rows)
  FloatBuffer data;
  const float* ptr() const { return data.data(); }
};

struct SelfAttention {
  PackedLinear q, k, v, o;
  Vec norm_q, norm_k;  // empty when qk_norm is false
};

struct CrossAttention {
  PackedLinear q, k, v, o;
  Vec norm_q, norm_k;
};

// Matrix-Game 2.0's action module of one block (action_module.py ActionModule; names are
// the checkpoint's `blocks.{i}.action_model.*`). Its q/k norms have weights in the checkpoint
// that upstream's forward never applies, so they are validated and not kept.
struct ActionModuleWeights {
  PackedLinear keyboard_embed_0, keyboard_embed_2;  // Linear, SiLU, Linear (per video frame)
  PackedLinear mouse_mlp_0, mouse_mlp_2;            // Linear, GELU(tanh), Linear, then LayerNorm
  Vec mouse_mlp_3_weight, mouse_mlp_3_bias;
  PackedLinear t_qkv, proj_mouse;
  PackedLinear mouse_attn_q, keyboard_attn_kv, proj_keyboard;
};

struct WanBlock {
  SelfAttention self_attn;
  CrossAttention cross_attn;
  Vec norm3_weight, norm3_bias;  // empty when cross_attn_norm is false
  PackedLinear ffn_0, ffn_2;
  Vec modulation;  // [6, dim]
  bool has_action_model = false;  // matrix_game: this layer is in action_config.blocks
  ActionModuleWeights action_model;
};

struct WanModel {
  ModelConfig config;
  std::string dir;
  PackedLinear patch_embedding;  // Conv3d k=s=patch as a linear over (c, pt, ph, pw)
  PackedLinear text_embedding_0, text_embedding_2;
  PackedLinear time_embedding_0, time_embedding_2;
  PackedLinear time_projection_1;
  PackedLinear action_embedding_0, action_embedding_2;  // present when the action mode is additive
  // i2v: img_emb.proj = LayerNorm(clip) → Linear → GELU(erf) → Linear(clip → dim) → LayerNorm(dim)
  Vec img_emb_proj_0_weight, img_emb_proj_0_bias, img_emb_proj_4_weight, img_emb_proj_4_bias;
  PackedLinear img_emb_proj_1, img_emb_proj_3;
  std::vector<WanBlock> blocks;
  PackedLinear head_head;
  Vec head_modulation;  // [2, dim]
  WeightType weights = WeightType::F32;  // storage of the linears (LoadOptions::weights)
  size_t weight_bytes = 0;
};

struct LoadOptions {
  Isa isa = Isa::Scalar;  // layout the linears are packed for (normally active_isa())
  // Storage of every linear's weight (norm weights, modulation and biases stay f32).
  WeightType weights = WeightType::F32;
  // Instead of config.json's block size / denoising steps (ConfigOverrides, config.h).
  ConfigOverrides config;
};

// Loads `dir/config.json` and every `dir/*.safetensors` (upstream names; F32/F16/BF16/F64
// on disk, converted to f32). Missing, extra or mis-shaped tensors, a bad header, a
// truncated file or an unusable dtype raise a Weights error naming file and tensor.
std::shared_ptr<WanModel> load_wan_model(const std::string& dir, const LoadOptions& opts);

// The tensor names and shapes a config expects (for loaders, converters and tests).
std::vector<ExpectedTensor> expected_tensors(const ModelConfig& c);

}  // namespace wc
