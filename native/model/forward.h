// The Wan causal DiT forward (ARCHITECTURE.md "The model-family contract"), batched: several
// sequences (sessions' blocks) are stacked as rows so every linear is one GEMM,
// while each keeps its own timesteps, frames, prompt K/V and committed KV frames.
#pragma once
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "core/buffer.h"
#include "core/stage_times.h"
#include "core/thread_pool.h"
#include "kv/cross_kv.h"
#include "kernels/rope.h"
#include "kv/kv_store.h"
#include "model/wan_model.h"

namespace wc {

// prompt: [len, text_dim] with len <= text_len (rows past len are zero, as upstream pads).
CrossKv compute_cross_kv(const WanModel& m, const float* prompt, int len, ThreadPool* pool,
                                          StageTimes* times);

struct FreshFrames {
  int seq = -1;
  int frame_begin = 0, frame_end = 0;
};

struct SeqInput {
  const float* x = nullptr;        // [latent_channels, F, H, W] noisy latents (or clean x0 for a commit)
  const float* cond = nullptr;     // condition channels concatenated after x's: i2v [mask + image channels, F, H, W],
                                   // or the geometry map [channels, F, H, W] (null = all zero for geometry)
  int F = 0, H = 0, W = 0;         // latent frames and size
  const float* t = nullptr;        // [F] timesteps (0..1000), one per frame
  const float* actions = nullptr;  // [F, config.action_row()] or null (= all zeros)
  int64_t frame_start = 0;         // absolute index of the first frame (RoPE t position)
  const CrossKv* cross = nullptr;  // prompt K/V (required)
  const KvStore* kv = nullptr;     // committed frames to attend to (null: none)
  KvStore* commit_to = nullptr;    // non-null: write this block's roped K and V there (commit pass)
  // Fresh K/V of earlier sequences of the batch this one also attends to, after the committed
  // frames: a commit folded into the next block's first forward, the blocks ahead of it in a
  // staggered pipeline (engine/session.h). Frames [frame_begin, frame_end) of sequence `seq`.
  const FreshFrames* fresh = nullptr;
  int n_fresh = 0;
  float* v_out = nullptr;          // [out_dim, F, H, W] flow prediction; may be null on a commit
  // matrix_game actions: each latent frame's window of video-frame actions [F, pad_t, n_act]
  // (matrix_game_windows), and the session's action-module caches: committed mouse K/V
  // ([tokens, mouse_hidden] per frame and action layer) and keyboard K/V ([1, keyboard_hidden]);
  // written on a commit pass (commit_to set) like the self-attention pages.
  const float* act_window = nullptr;
  KvStore* act_mouse = nullptr;
  KvStore* act_keyboard = nullptr;
};

// The activations of a forward. One per engine (its job thread), shared by every session
// of that engine and by step_batch: sessions hold no activation memory of their own, so
// it is bounded by the largest batch the engine runs, not by the session count. Buffers
// grow to the largest forward seen and are reused; nothing in them outlives a forward
// except the caches below (rope tables per batch slot, time embeddings per timestep),
// which are keyed by what they depend on.
struct ForwardWorkspace {
  ForwardWorkspace() = default;
  ForwardWorkspace(const ForwardWorkspace&) = delete;
  ForwardWorkspace& operator=(const ForwardWorkspace&) = delete;
  // Bytes held now (engine thread only).
  size_t bytes() const;
  // bytes() as of the end of the last forward, readable from any thread.
  size_t reported_bytes() const { return reported_.load(std::memory_order_relaxed); }
  void report() { reported_.store(bytes(), std::memory_order_relaxed); }

  FloatBuffer patches, x, h, q, k, v, attn, y, ffn, sinus, te, e, e0, act_h, mods, head_mods, out;
  std::vector<KvSpan> spans;
  AlignedBuffer<uint8_t> own_kv;  // a bf16 / int8 session's block K and V in its page type
  FloatBuffer own_scales;         // int8: their per-token, per-head scales (K then V)
  FloatBuffer mg_in, mg_h, mg_h2, mg_qkv, mg_att, mg_k, mg_v, mg_kb, mg_kbe, mg_kbkv, mg_q;  // matrix_game action module
  std::vector<int64_t> row0, frame0;
  std::vector<RopeTable> rope;  // one per sequence, rebuilt only when its layout changes
  struct TimeEmb {              // time_embedding(sinusoid(t)) per distinct timestep seen
    float t;
    FloatBuffer e;
  };
  std::vector<TimeEmb> time_cache;
  struct Group {  // rows of one latent frame of one sequence (the whole frame, or a chunk of it)
    int64_t row0, rows;
    int seq;
    int frame;       // index within its sequence's block
    int gframe;      // index over all sequences' frames (the modulation rows)
    int frame_row0;  // the chunk's first row within its frame
  };
  std::vector<Group> groups;

 private:
  std::atomic<size_t> reported_{0};
};

void wan_forward(const WanModel& m, const SeqInput* seqs, int n_seqs, ForwardWorkspace& ws, ThreadPool* pool,
                 StageTimes* times);

// sinusoid of dim d for timestep t: [cos(t·f_i), sin(t·f_i)], f_i = 10000^(-i/(d/2)), in double.
void timestep_sinusoid(double t, int d, float* out);

}  // namespace wc
