// Per-session state (as whisper.cpp separates weights from state): the session's KV
// memory (pages in the model's pool), its prompt and the prompt's shared cross-attention
// cache, the frame position and the noise seed.
// The block loop (Self Forcing's causal inference):
//   x = noise₀; for each step i: v = net(x, tᵢ); x0 = x − σ(tᵢ)·v;
//               if more steps: x = (1−σ(tᵢ₊₁))·x0 + σ(tᵢ₊₁)·noiseᵢ₊₁
//   then one commit forward of x0 at t = context_noise writes the block's clean K/V.
// During the denoising forwards the block's own K/V live in scratch only the block sees.
// Pages for the block are taken from the pool before any compute, so a block the budget
// cannot hold fails up front and changes nothing.
//
// Schedule policies (config.json "schedule"; the loop never looks at model names):
//  * "block" (default): the loop above, for any step list / shift / warp (Self Forcing's
//    warped [1000, 750, 500, 250] at shift 5, CausVid's [1000, 757, 522] at shift 8,
//    Matrix-Game 2.0's warped [1000, 666, 333]);
//  * "staggered" with a window of W blocks (MAGI-1 style; tools/reference/staggered.py is
//    its reference): W blocks are in flight at staggered noise levels. Each call enters one
//    block (its actions and noise) and runs S/W forwards (S = steps); each forward is one
//    batched forward of [the block completed by the previous call, at t = context_noise,
//    committing its K/V — once] + [every block in flight at its own step, oldest first],
//    each attending to the committed frames and to the frames of the sequences before it
//    that its window reaches (by frame index), so a block sees a stage-dependent number of
//    blocks ahead of it. The oldest block completes at the end of a call and is returned;
//    the first W − 1 calls return no frames (the pipeline fills), so a block's actions show
//    W − 1 calls later. W = 1 is the block loop with the commit folded (fold_commit).
// Not thread-safe: the engine runs one job at a time per model.
#pragma once
#include <chrono>
#include <cstdint>
#include <deque>
#include <exception>
#include <memory>
#include <vector>

#include "core/stage_times.h"
#include "core/thread_pool.h"
#include "engine/schedule.h"
#include "kv/page_pool.h"
#include "kv/session_kv.h"
#include "model/forward.h"
#include "model/wan_model.h"

namespace wc {

struct SessionOptions {
  uint64_t seed = 0;
  bool has_window = false;  // override the config's local_attn_size / sink_size
  int local_attn_size = -1;
  int sink_size = 0;
  int latent_height = 0;  // 0: the config's
  int latent_width = 0;
  KvType kv_type = KvType::F32;
  // Fold each block's commit pass into the next block's first denoising forward (one
  // batched forward of [block n at t = context_noise, block n+1 at t₀] under the
  // block-causal rule, as MAGI-1 runs chunks), saving one forward per block.
  bool fold_commit = false;
  // The smallest block this session steps (StepRequest::frames), 1..num_frame_per_block;
  // 0: num_frame_per_block only. Every block of F frames attends to the window's
  // local_attn_size − sink − F frames before it (upstream's rolling cache of
  // local_attn_size frames), so frames stay in the pages as long as a block of this size
  // could reach them. t2v models with the block loop only (as loadModel's blockFrames).
  int min_block_frames = 0;
  // The engine's forward workspace (one per engine thread, shared by its sessions; see
  // ForwardWorkspace). Null: the session makes its own (standalone use).
  std::shared_ptr<ForwardWorkspace> workspace;
};

struct BlockOutput {
  std::vector<float> x0;  // [C, F, H, W]
  int64_t frame_start = 0;
  int frames = 0, channels = 0, height = 0, width = 0;
  int forwards = 0;
  double seconds = 0;
  StageTimes times;
};

class Session;

// One block's inputs for step_batch: per-frame actions [F, n_act] or null, and supplied
// noise (exactly `steps` arrays) or null for the seeded generator.
struct StepRequest {
  const float* actions = nullptr;
  int action_rows = -1;  // rows of `actions` (-1: the model's count for this block; matrix_game: 1 or its video frames)
  const float* geometry = nullptr;  // geometry models: the block's map [channels, F, H, W], or null (= all zero)
  const std::vector<const float*>* noise = nullptr;
  int frames = 0;  // latent frames of this block, min_block_frames..num_frame_per_block (0: num_frame_per_block)
};

// Runs one block for each session with batched forwards (one per denoising step, plus
// the commit): the sessions' tokens are stacked in the GEMMs while each keeps its own
// timesteps, prompt cache, KV pages, window and noise. Session::step is the batch of
// one. A session refused at admission or with bad input gets its error in errs[k] and
// is left unchanged; the others proceed. All sessions must share one model.
void step_batch(Session* const* sessions, const StepRequest* reqs, int n, BlockOutput* outs, std::exception_ptr* errs,
                ForwardWorkspace& ws, ThreadPool* threads);

// The commits that fold_commit sessions hold back (each one's last block, waiting to be
// folded into its next step), run now as one batched forward: what flush() does for one
// session, for many at once. Sessions with nothing waiting are left alone (errs[k] null).
// A session refused (its pages: a full KV pool) gets its error in errs[k] and keeps its
// commit waiting; if the forward fails every waiting session gets the error and keeps its
// commit. Returns how many commits ran. All sessions must share one model.
int commit_batch(Session* const* sessions, int n, std::exception_ptr* errs, ForwardWorkspace& ws, ThreadPool* threads);

class Session {
 public:
  // The state of one block in flight through step_batch's phases.
  struct Run {
    StepRequest req;
    bool folded = false, commit_now = false;
    int F = 0;      // this block's frames
    int64_t n = 0;  // its latent values (C·F·H·W)
    std::chrono::steady_clock::time_point t0;
    struct Saved {  // a staggered pipeline's blocks before the call (restored if it fails)
      int stage;
      std::vector<float> x;
    };
    std::vector<Saved> saved;
  };
  // A block in the staggered pipeline.
  struct Chunk {
    int64_t start = 0;
    int stage = 0;                         // denoising steps done
    std::vector<float> x, x0, v;           // latents at the current step, last x0 estimate, flow out
    std::vector<float> t;                  // [F] the current step's timestep per frame
    std::vector<float> actions;            // [F, n_act], or empty = all zeros
    std::vector<float> geometry;           // [channels, F, H, W], or empty = all zeros
    std::vector<std::vector<float>> noise;  // supplied noise (one per step), or empty = seeded
    std::vector<FreshFrames> fresh;        // what it attends to in this forward besides pages
  };

  Session(std::shared_ptr<const WanModel> model, KvPool& pool, ThreadPool* threads, const SessionOptions& opts);
  // A session sharing every committed page and the prompt cache of `parent`, with its own seed.
  Session(const Session& parent, uint64_t seed);

  // Prompt embedding [len, text_dim] (len <= text_len); applies from the next block.
  void set_prompt(const float* emb, int len);
  // One block. actions: [F, n_act] or null. noise: null for the seeded generator, or
  // exactly `steps` arrays of C·F·H·W floats (item 0 the start, item i the re-noise to step i).
  // geometry: for a model whose action space has a geometry map, the block's map
  // [channels, F, H, W] (null = all zero); it enters as condition channels after the latents.
  // frames: the block's latent frames (0: the model's block; see SessionOptions::min_block_frames).
  void step(const float* actions, const std::vector<const float*>* noise, BlockOutput& out, int action_rows = -1,
            const float* geometry = nullptr, int frames = 0);
  // A side-effect-free forward of the next block's position: v = net(x, t) with t per frame.
  // frames: as step's.
  void probe(const float* x, const float* t, const float* actions, float* v_out, int action_rows = -1,
             const float* geometry = nullptr, int frames = 0);
  // Append a clean block x0 [C, F, H, W] (commit pass only), e.g. known opening frames.
  void commit(const float* x0, const float* actions, int action_rows = -1, const float* geometry = nullptr,
              int frames = 0);
  // i2v models: the encoded first image [image_channels, N, H, W] (frame f of the session
  // uses latent min(f, N − 1); upstream passes the VAE encoding of the image followed by
  // black frames). Applies from the next block.
  void set_image_latent(const float* lat, int n_frames);
  // matrix_game: rows of actions (video frames) the next block takes.
  int action_rows() const { return model_->config.action_rows(next_frame_); }
  void set_window(int local_attn_size, int sink_size);
  void set_selection(const Selection& sel);
  // Run a commit still waiting to be folded into the next block (fold_commit mode).
  void flush();
  bool fold_commit() const { return fold_; }
  // Whether a commit waits to be folded into the next step (or run by flush / commit_batch).
  bool commit_pending() const { return pending_; }

  // Absolute index of the first frame of the next block to come out.
  int64_t next_frame() const { return next_frame_; }
  // Blocks of the staggered pipeline in flight (0 for the block loop between calls).
  int blocks_in_flight() const { return int(flight_.size()); }
  // Denoising forwards of one call: all steps for the block loop, steps / window staggered
  // (the block loop's commit pass is one more unless folded).
  int denoise_forwards() const { return window_ > 0 ? int(steps_.size()) / window_ : int(steps_.size()); }
  int forwards_per_call() const { return denoise_forwards() + (fold_ ? 0 : 1); }
  int block_frames() const { return model_->config.num_frame_per_block; }
  int min_block_frames() const { return kv_->min_block_frames(); }
  int latent_height() const { return H_; }
  int latent_width() const { return W_; }
  int64_t block_numel(int frames = 0) const {
    return int64_t(model_->config.latent_channels()) * (frames > 0 ? frames : block_frames()) * H_ * W_;
  }
  const std::vector<double>& step_list() const { return steps_; }
  const SessionKv& kv() const { return *kv_; }
  const WanModel& model() const { return *model_; }
  const StageTimes& total_times() const { return total_; }
  uint64_t seed() const { return seed_; }

 private:
  friend void step_batch(Session* const*, const StepRequest*, int, BlockOutput*, std::exception_ptr*,
                         ForwardWorkspace&, ThreadPool*);
  friend int commit_batch(Session* const*, int, std::exception_ptr*, ForwardWorkspace&, ThreadPool*);
  void begin_call(Run& r);  // actions, noise and the prompt cache: checked and taken first
  int push_pending_commit(std::vector<SeqInput>& seqs);  // the waiting commit as a sequence; its index
  void run_begin(Run& r);  // validates, takes the prompt cache and the pages; x = noise₀
  void run_seqs(Run& r, int step, std::vector<SeqInput>& seqs);  // this block's sequences for a step
  void run_after(Run& r, int step);                              // x0 and the re-noise
  void run_commit_seq(Run& r, std::vector<SeqInput>& seqs);      // the commit pass's sequence, if any
  void run_finish(Run& r, const StageTimes& times, BlockOutput& out);
  void run_finish_block(Run& r, BlockOutput& out);
  void run_abort(Run& r);
  const float* noise_for(const Run& r, int step);
  const float* chunk_noise(const Chunk& c, int step);
  void staggered_begin(Run& r);
  void staggered_seqs(Run& r, int i, std::vector<SeqInput>& seqs);
  void staggered_after(Run& r, int i);
  void staggered_finish(Run& r, BlockOutput& out);
  // The frames of sequence `seq` (seq_frames frames from seq_start) a block of `frames` frames
  // at block_start attends to, as contiguous runs appended to `out`.
  void add_fresh(std::vector<FreshFrames>& out, int seq, int64_t seq_start, int seq_frames, int64_t block_start,
                 int frames) const;
  const CrossKv& cross();
  void run_forward(const float* x, const float* t, const float* actions, const float* geometry, int frames, bool commit,
                   float* v_out);
  int checked_frames(int frames) const;  // a call's block size (0: the model's), in min_block_frames..block_frames
  void fill_seq(SeqInput& in, const float* x, const float* t, const float* actions, const float* geometry,
                int64_t frame_start, int frames);
  void check_actions(const float* actions, int rows, int frames) const;
  void check_geometry(const float* geometry, int frames) const;
  // i2v / matrix_game inputs of the block of `frames` frames at `frame_start`: cond_ and win_
  // (actions: `rows` rows or null).
  void prepare_block(int64_t frame_start, int frames, const float* actions, int rows);
  void append_actions();  // the prepared block's actions join the video-frame history
  void kv_begin(int64_t frame_start, int frames);  // the self-attention pages and the action caches together
  void kv_abort();
  void kv_end(int64_t next_block_start);

  std::shared_ptr<const WanModel> model_;
  ThreadPool* threads_;
  int H_, W_;
  uint64_t seed_;
  std::unique_ptr<SessionKv> kv_;
  // matrix_game: the action module's caches (own pages in the same pool, window
  // config.mg.local_attn_size, no sink), null otherwise
  std::unique_ptr<SessionKv> mouse_kv_, kb_kv_;
  std::vector<float> image_latent_;  // i2v: [image_channels, image_frames_, H, W]
  int image_frames_ = 0;
  std::vector<float> act_first_, act_recent_, act_block_;  // video-frame actions: frame 0, the last pad_t, this block's
  int64_t act_count_ = 0;                                   // video frames of actions so far
  std::vector<float> cond_, win_;                           // this block's i2v cond and action windows
  std::vector<float> prompt_;  // [rows, text_dim]
  FlowMatchSchedule sched_;
  std::vector<double> steps_;
  int64_t next_frame_ = 0;
  std::shared_ptr<ForwardWorkspace> ws_;  // the engine's (shared), used on the engine thread only
  StageTimes times_, total_;
  std::vector<float> x_, v_, x0_, eps_, tbuf_, tctx_;
  int window_ = 0;              // staggered pipeline window (0: the block loop)
  std::deque<Chunk> flight_;    // staggered: blocks in flight, oldest first
  bool fold_ = false;
  bool pending_ = false;  // fold mode: the last block's x0 awaits its commit
  int64_t pending_start_ = 0;
  int pending_frames_ = 0;
  std::vector<float> pending_x0_, pending_actions_, pending_geometry_;
  std::vector<FreshFrames> fold_fresh_;  // fold mode: the first forward's view of the folded commit
};

// Geometry of a session's pages for a model, latent size and storage type.
PageGeometry page_geometry(const ModelConfig& c, int latent_height, int latent_width, KvType type);
// Bytes of one prompt's cross-attention cache for a model.
size_t cross_cache_bytes(const ModelConfig& c);

}  // namespace wc
