// Matrix-Game 2.0 conditioning (SkyworkAI/Matrix-Game, folder Matrix-Game-2): the action
// module of a block (wan/modules/action_module.py ActionModule.forward, causal path with
// KV caches), its per-latent-frame action windows, and the i2v context (img_emb).
// The PyTorch reference is tools/reference/matrix_game.py; test/matrix_game.test.ts holds
// the two together.
#pragma once
#include <cstdint>
#include <vector>

#include "core/stage_times.h"
#include "core/thread_pool.h"
#include "kv/cross_kv.h"
#include "model/wan_model.h"

namespace wc {

struct SeqInput;
struct ForwardWorkspace;

// The action window of each latent frame frame_start .. frame_start+F-1: out [F, pad_t, A],
// row j of frame f = the action of video frame r·f − pad_t + j, and video frames < 0 take
// video frame 0's action (ActionModule.forward pads the condition with pad_t copies of its
// frame 0, then slices [r(i − ws) + pad_t, r·i + pad_t) per latent frame i).
// `video(j)` returns the A floats of video frame j >= 0.
template <typename VideoFn>
void matrix_game_windows(const MatrixGameAction& m, int A, int64_t frame_start, int F, VideoFn&& video, float* out) {
  const int r = m.vae_time_compression_ratio, P = m.pad_t();
  for (int i = 0; i < F; ++i)
    for (int j = 0; j < P; ++j) {
      const int64_t v = r * (frame_start + i) - P + j;
      const float* src = video(v < 0 ? 0 : v);
      for (int a = 0; a < A; ++a) out[(int64_t(i) * P + j) * A + a] = src[a];
    }
}

// RMS-normalise each head of a row (no weight, eps 1e-6, as action_module.py's WanRMSNorm)
// when `norm`, then rotate adjacent pairs of the first `rope_dims` channels of each head by
// pos·theta^(−2j/rope_dims) (get_rotary_pos_embed's (T, 1, 1) grid: the h/w parts do not turn).
void matrix_game_norm_rope(float* row, int heads, int head_dim, bool norm, int rope_dims, double theta, int64_t pos);

// x += action_model(x) for layer `l` over all sequences of the forward (rows in ws.x).
void matrix_game_action_layer(const WanModel& m, int l, const SeqInput* seqs, int n_seqs, ForwardWorkspace& ws,
                              ThreadPool* pool, StageTimes* times);

// i2v context: img_emb.proj(clip rows [text_len, text_dim]) → [text_len, dim] (model.py MLPProj).
void matrix_game_img_emb(const WanModel& m, const float* clip, float* out, ThreadPool* pool, StageTimes* times);

}  // namespace wc
