// config.json of a model directory: the upstream CausalWanModel constructor
// arguments (with upstream's defaults when absent), plus the causal-loop keys
// and worldcast's action space. Unknown keys are ignored; a key of the wrong
// type or an inconsistent value is a Config error naming the key.
#pragma once
#include <string>
#include <vector>

#include "model/json.h"

namespace wc {

struct ActionAxis {
  std::string name;
  double min = -1, max = 1;
};

// The action space: named keyboard keys (0/1 each) then mouse axes (a value in
// [min, max] each); the per-frame action vector is [keys..., axes...].
struct ActionSpace {
  std::string mode = "additive";
  std::vector<std::string> keys;
  std::vector<ActionAxis> mouse;
  int size() const { return int(keys.size() + mouse.size()); }
};

struct ModelConfig {
  // upstream constructor arguments
  std::string model_type = "t2v";
  int patch_t = 1, patch_h = 2, patch_w = 2;
  int text_len = 512, in_dim = 16, dim = 2048, ffn_dim = 8192, freq_dim = 256, text_dim = 4096, out_dim = 16;
  int num_heads = 16, num_layers = 32;
  bool qk_norm = true, cross_attn_norm = true;
  double eps = 1e-6;
  // causal loop
  int num_frame_per_block = 3;
  int local_attn_size = -1;  // frames; -1 = global
  int sink_size = 0;
  std::vector<double> denoising_step_list{1000, 750, 500, 250};
  bool warp_denoising_step = true;
  double timestep_shift = 5.0;
  int num_train_timesteps = 1000;
  double context_noise = 0;
  // Latent frames per second of world time (how often the world advances one latent frame);
  // 0 = not stated. worldcast's own key: a game server paces blocks by it.
  double latent_fps = 0;
  int latent_height = 60, latent_width = 104;  // default latent frame size of a session
  // conditioning
  bool has_action = false;
  ActionSpace action;
  std::string decoder;  // raw JSON of the "decoder" entry ("null" when none)

  int head_dim() const { return dim / num_heads; }
  int patch_numel() const { return patch_t * patch_h * patch_w; }
};

ModelConfig parse_model_config(const Json& j, const std::string& where);
ModelConfig load_model_config(const std::string& path);
// Checks a window/sink pair against the block size (shared by config and session options).
void validate_window(int local_attn_size, int sink_size, int num_frame_per_block, const std::string& where);

}  // namespace wc
