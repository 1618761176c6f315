// config.json of a model directory: the upstream CausalWanModel constructor
// arguments (with upstream's defaults when absent), plus the causal-loop keys
// and worldcast's action space. Unknown keys are ignored; a key of the wrong
// type or an inconsistent value is a Config error naming the key.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "model/json.h"

namespace wc {

struct ActionAxis {
  std::string name;
  double min = -1, max = 1;
};

// The character's pose as action channels (additive mode, optional): the SDK turns a
// pose (foot x, y, z, yaw, pitch) into 7 + 4 * frequencies.size() features (present,
// x/extent, y/height, z/extent, sin/cos yaw, pitch, sin/cos of pi f x/extent and of
// pi f z/extent per frequency f; all zero when absent). The engine sees only the vector.
struct PoseFeatures {
  bool enabled = false;
  double extent = 1, height = 1;
  std::vector<double> frequencies;
  int width() const { return enabled ? 7 + 4 * int(frequencies.size()) : 0; }
};

// The level's geometry in view as input channels (additive mode, optional; worldcast's
// own key): per latent frame a map [channels, H, W] at the latent size that the game server
// computes from its level and the camera (the game server's renderGeometry: albedo, coverage,
// nearness, normal; `samples` and `near` say how). The DiT input is [latents ‖ map], as
// Wan's i2v input concatenates its condition channels, so in_dim = out_dim + channels. The
// map is an input of its own, [channels, F, H, W] per block (absent = all zero), entering
// through the same condition-channel path as i2v's mask + image latent.
struct GeometryInput {
  int channels = 0;  // 0: the model takes no geometry
  int samples = 4;
  double near = 8;
};

// The action space: named keyboard keys (0/1 each), mouse axes (a value in [min, max]
// each), then the pose features; the per-frame action vector is [keys..., axes..., pose...].
struct ActionSpace {
  std::string mode = "additive";
  std::vector<std::string> keys;
  std::vector<ActionAxis> mouse;
  PoseFeatures pose;
  GeometryInput geometry;
  int size() const { return int(keys.size() + mouse.size()) + pose.width(); }  // the vector (the action MLP's input)
};

// Matrix-Game 2.0's action module: upstream's `action_config` (constructor arguments of
// wan/modules/action_module.py ActionModule, defaults as there), used when action.mode is
// "matrix_game". The action vector is [keyboard keys..., mouse axes...] per VIDEO frame.
struct MatrixGameAction {
  std::vector<int> blocks;  // layers that carry an action module
  bool enable_keyboard = true, enable_mouse = true;
  int heads_num = 16, hidden_size = 128, img_hidden_size = 1536;
  int keyboard_dim_in = 6, keyboard_hidden_dim = 1024, mouse_dim_in = 2, mouse_hidden_dim = 1024;
  std::vector<int> mouse_qk_dim_list{8, 28, 28};  // RoPE split of the action heads (time part first)
  double rope_theta = 256;
  bool qk_norm = true, qkv_bias = false;
  int vae_time_compression_ratio = 4, windows_size = 3;
  int local_attn_size = -1;      // frames of the action caches' window (default: the model's)
  std::vector<int> layer_index;  // per model layer: index among the action layers, or -1
  int layers() const { return int(blocks.size()); }
  int pad_t() const { return vae_time_compression_ratio * windows_size; }  // video frames per window
  int mouse_head_dim() const { return mouse_hidden_dim / heads_num; }
  int keyboard_head_dim() const { return keyboard_hidden_dim / heads_num; }
  int rope_dims() const { return mouse_qk_dim_list.empty() ? 0 : mouse_qk_dim_list[0]; }
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
  // Schedule policy ("schedule": {"type": "block"} or {"type": "staggered", "window": W}):
  // window 0 = the block loop (one block denoised per call, all its steps); W >= 1 = the
  // MAGI-1-style staggered pipeline: W blocks in flight at staggered noise levels, advanced
  // together by one batched forward, each call entering one block and returning the one
  // that completed (engine/session.h). W must divide the number of denoising steps.
  int staggered_window = 0;
  // Latent frames per second of world time (how often the world advances one latent frame);
  // 0 = not stated. worldcast's own key: a game server paces blocks by it.
  double latent_fps = 0;
  int latent_height = 60, latent_width = 104;  // default latent frame size of a session
  // conditioning
  bool has_action = false;
  ActionSpace action;
  MatrixGameAction mg;  // action.mode == "matrix_game"
  // Image-to-video input (model_type "i2v", Matrix-Game 2.0): the DiT input is
  // [latents (in_dim - mask - image ch) ‖ mask (1 on latent frame 0) ‖ image latent]; the
  // context is clip_len tokens of clip_dim (text_len / text_dim take those values).
  bool i2v = false;
  int image_channels = 0, mask_channels = 0;
  std::string decoder;  // raw JSON of the "decoder" entry ("null" when none)

  int head_dim() const { return dim / num_heads; }
  bool mg_action() const { return has_action && action.mode == "matrix_game"; }
  int latent_channels() const { return in_dim - image_channels - mask_channels - geometry_channels(); }
  int geometry_channels() const { return has_action ? action.geometry.channels : 0; }
  // Floats of one frame's action row: the action vector (matrix_game: per video frame).
  int action_row() const { return has_action ? action.size() : 0; }
  // Floats of a block's geometry map input at H x W ([channels, F, H, W]; 0: none).
  // Values of a block's geometry map [channels, F, H, W] (F 0: num_frame_per_block).
  int64_t geometry_size(int H, int W, int F = 0) const {
    return int64_t(geometry_channels()) * (F > 0 ? F : num_frame_per_block) * H * W;
  }
  // Video frames of actions a block starting at latent frame `frame_start` takes (matrix_game:
  // 1 + r(F-1) for the first block, rF after, as upstream's cond_current; else F latent frames).
  int action_rows(int64_t frame_start) const {
    if (!mg_action()) return num_frame_per_block;
    const int r = mg.vae_time_compression_ratio;
    return frame_start == 0 ? 1 + r * (num_frame_per_block - 1) : r * num_frame_per_block;
  }
  int patch_numel() const { return patch_t * patch_h * patch_w; }
};

// What a loader may set instead of config.json (loadModel's options).
struct ConfigOverrides {
  // > 0: run the model on blocks of that many latent frames instead of config.json's
  // num_frame_per_block (the window, sink and schedule are validated against it; t2v
  // models with the block loop only).
  int block_frames = 0;
  // Non-empty: the sampler's timesteps instead of config.json's denoising_step_list
  // (strictly decreasing, in (0, 1000]; integers when the model warps its steps). Fewer
  // steps cost quality; the README measures it for the default world.
  std::vector<double> denoising_steps;
};
ModelConfig parse_model_config(const Json& j, const std::string& where, const ConfigOverrides& o = {});
ModelConfig load_model_config(const std::string& path, const ConfigOverrides& o = {});
// Checks a window/sink pair against the block size (shared by config and session options).
void validate_window(int local_attn_size, int sink_size, int num_frame_per_block, const std::string& where);

}  // namespace wc
