#include "engine/session.h"

#include <chrono>
#include <cmath>
#include <cstring>

#include "core/error.h"
#include "engine/noise.h"
#include "engine/profiler.h"
#include "model/matrix_game.h"

namespace wc {

PageGeometry page_geometry(const ModelConfig& c, int H, int W, KvType type) {
  PageGeometry g;
  g.layers = c.num_layers;
  g.tokens = (H / c.patch_h) * (W / c.patch_w);
  g.dim = c.dim;
  g.heads = c.num_heads;
  g.type = type;
  return g;
}

size_t cross_cache_bytes(const ModelConfig& c) {
  return size_t(c.num_layers) * 2 * size_t(c.text_len) * c.dim * sizeof(float);
}

Session::Session(std::shared_ptr<const WanModel> model, KvPool& pool, ThreadPool* threads, const SessionOptions& o)
    : model_(std::move(model)),
      threads_(threads),
      seed_(o.seed),
      sched_(model_->config.timestep_shift, model_->config.num_train_timesteps),
      ws_(o.workspace ? o.workspace : std::make_shared<ForwardWorkspace>()),
      window_(model_->config.staggered_window),
      fold_(o.fold_commit || model_->config.staggered_window > 0) {
  const ModelConfig& c = model_->config;
  H_ = o.latent_height > 0 ? o.latent_height : c.latent_height;
  W_ = o.latent_width > 0 ? o.latent_width : c.latent_width;
  if (H_ % c.patch_h || W_ % c.patch_w)
    fail(ErrorKind::Argument, "latent size " + std::to_string(H_) + "x" + std::to_string(W_) +
                                  " is not a multiple of the patch size");
  if (int64_t(H_) * W_ > (int64_t(1) << 24)) fail(ErrorKind::Argument, "latent size is too large");
  const Selection sel = Selection::window(o.has_window ? o.local_attn_size : c.local_attn_size,
                                          o.has_window ? o.sink_size : c.sink_size, c.num_frame_per_block,
                                          "session options");
  if (o.min_block_frames != 0 && o.min_block_frames != c.num_frame_per_block && (c.mg_action() || c.i2v || window_ > 0))
    fail(ErrorKind::Argument, "blocks of several sizes (minBlockFrames " + std::to_string(o.min_block_frames) +
                                  ") are for t2v models with the block loop; this model's " +
                                  (c.mg_action() ? "matrix_game action module" : c.i2v ? "image input" : "staggered schedule") +
                                  " takes blocks of " + std::to_string(c.num_frame_per_block) + " frames only");
  if (fold_ && (c.mg_action() || c.i2v))  // folded commits (foldCommit, the staggered schedule) would need the
    // previous block's i2v input and action caches inside the next block's forward: not done yet
    fail(ErrorKind::Argument, "foldCommit and the staggered schedule are not supported yet for models with the "
                              "matrix_game action module or i2v input");
  kv_ = std::make_unique<SessionKv>(pool, page_geometry(c, H_, W_, o.kv_type), sel, c.num_frame_per_block,
                                    cross_cache_bytes(c), o.min_block_frames);
  if (c.mg_action()) {
    // The action module's caches (pipeline/causal_inference.py _initialize_kv_cache_mouse_and_keyboard):
    // per action layer, mouse K/V of every token and one keyboard K/V per latent frame, in
    // refcounted frame pages of the same pool (fork shares them), window local_attn_size, no sink.
    const Selection asel = Selection::window(c.mg.local_attn_size, 0, c.num_frame_per_block, "action window");
    PageGeometry g;
    g.layers = c.mg.layers();
    g.heads = c.mg.heads_num;
    g.type = o.kv_type;
    if (c.mg.enable_mouse) {
      g.tokens = (H_ / c.patch_h) * (W_ / c.patch_w);
      g.dim = c.mg.mouse_hidden_dim;
      mouse_kv_ = std::make_unique<SessionKv>(pool, g, asel, c.num_frame_per_block, 0);
    }
    if (c.mg.enable_keyboard) {
      g.tokens = 1;
      g.dim = c.mg.keyboard_hidden_dim;
      kb_kv_ = std::make_unique<SessionKv>(pool, g, asel, c.num_frame_per_block, 0);
    }
  }
  steps_ = sched_.steps(c.denoising_step_list, c.warp_denoising_step);
}

Session::Session(const Session& p, uint64_t seed)
    : model_(p.model_),
      threads_(p.threads_),
      H_(p.H_),
      W_(p.W_),
      seed_(seed),
      kv_(p.kv_->fork()),
      mouse_kv_(p.mouse_kv_ ? p.mouse_kv_->fork() : nullptr),
      kb_kv_(p.kb_kv_ ? p.kb_kv_->fork() : nullptr),
      image_latent_(p.image_latent_),
      image_frames_(p.image_frames_),
      act_first_(p.act_first_),
      act_recent_(p.act_recent_),
      act_count_(p.act_count_),
      prompt_(p.prompt_),
      sched_(p.sched_),
      steps_(p.steps_),
      next_frame_(p.next_frame_),
      ws_(p.ws_),
      window_(p.window_),
      flight_(p.flight_),
      fold_(p.fold_) {
  if (p.pending_) fail(ErrorKind::Internal, "fork with a pending commit (flush the parent first)");
}

void Session::set_prompt(const float* emb, int len) {
  const ModelConfig& c = model_->config;
  if (len < 0 || len > c.text_len)
    fail(ErrorKind::Shape, "prompt has " + std::to_string(len) + " rows; this model takes 0.." +
                               std::to_string(c.text_len) + " rows of text_dim " + std::to_string(c.text_dim));
  for (int64_t i = 0; i < int64_t(len) * c.text_dim; ++i)
    if (!std::isfinite(emb[i])) fail(ErrorKind::Argument, "prompt embedding contains NaN or infinity");
  flush();  // a waiting commit belongs to the old prompt
  prompt_.assign(emb, emb + int64_t(len) * c.text_dim);
  kv_->set_cross(nullptr);  // dropped; the next block finds or computes the new prompt's cache
}

const CrossKv& Session::cross() {
  if (CrossEntry* e = kv_->cross()) return e->kv;
  const ModelConfig& mc = model_->config;
  if (mc.i2v && prompt_.size() != size_t(mc.text_len) * mc.text_dim)
    fail(ErrorKind::Argument, "this model needs its context: a CLIP image embedding of " + std::to_string(mc.text_len) +
                                  " x " + std::to_string(mc.text_dim) + " (setPrompt / createSession({ prompt }))");
  KvPool& pool = kv_->pool();
  if (CrossEntry* e = pool.find_cross(prompt_)) {  // another session's cache of the same prompt
    kv_->set_cross(e);
    pool.release(e);  // find_cross retained it for us; set_cross took its own reference
    return e->kv;
  }
  const ModelConfig& c = model_->config;
  CrossKv kv = compute_cross_kv(*model_, prompt_.data(), int(prompt_.size() / size_t(c.text_dim)), threads_, &times_);
  CrossEntry* e = pool.add_cross(prompt_, std::move(kv));
  kv_->set_cross(e);
  pool.release(e);
  pool.check_budget("the prompt's cross-attention cache", e->kv.bytes());  // within the session's quota
  return e->kv;
}

void Session::set_window(int local_attn_size, int sink_size) {
  set_selection(Selection::window(local_attn_size, sink_size, block_frames(), "set_window"));
}

void Session::set_selection(const Selection& sel) {
  flush();
  Selection s = sel;
  s.normalise();
  kv_->set_selection(s, next_frame_);
}

void Session::set_image_latent(const float* lat, int n) {
  const ModelConfig& c = model_->config;
  if (!c.i2v) fail(ErrorKind::Argument, "this model takes no image latent (model_type is not \"i2v\")");
  if (n < 1) fail(ErrorKind::Shape, "image latent needs at least one frame");
  const int64_t count = int64_t(c.image_channels) * n * H_ * W_;
  for (int64_t i = 0; i < count; ++i)
    if (!std::isfinite(lat[i])) fail(ErrorKind::Argument, "image latent contains NaN or infinity");
  image_latent_.assign(lat, lat + count);
  image_frames_ = n;
}

void Session::prepare_block(int64_t s, int F, const float* actions, int rows) {
  const ModelConfig& c = model_->config;
  if (c.i2v) {
    // [mask ‖ image latent] per frame (inference.py generate_videos: mask 1 on latent frame 0)
    if (image_latent_.empty())
      fail(ErrorKind::Argument, "this model needs an image latent: the VAE-encoded first frame, [" +
                                    std::to_string(c.image_channels) + ", N, " + std::to_string(H_) + ", " +
                                    std::to_string(W_) + "] (setImageLatent / createSession({ imageLatent }))");
    const int64_t hw = int64_t(H_) * W_;
    cond_.assign(size_t(c.mask_channels + c.image_channels) * F * hw, 0.f);
    for (int f = 0; f < F; ++f) {
      const int64_t af = s + f;
      if (af == 0)
        for (int ch = 0; ch < c.mask_channels; ++ch) std::fill_n(cond_.data() + (int64_t(ch) * F + f) * hw, hw, 1.f);
      const int64_t src = std::min<int64_t>(af, image_frames_ - 1);
      for (int ch = 0; ch < c.image_channels; ++ch)
        std::memcpy(cond_.data() + (int64_t(c.mask_channels + ch) * F + f) * hw,
                    image_latent_.data() + (int64_t(ch) * image_frames_ + src) * hw, sizeof(float) * hw);
    }
  }
  if (c.mg_action()) {
    const int A = c.action.size(), need = c.action_rows(s);
    act_block_.assign(size_t(need) * A, 0.f);  // no actions: all keys up, no mouse motion
    if (actions) {
      if (rows == 1)
        for (int i = 0; i < need; ++i) std::memcpy(act_block_.data() + int64_t(i) * A, actions, sizeof(float) * A);
      else
        std::memcpy(act_block_.data(), actions, sizeof(float) * size_t(need) * A);
    }
    const int64_t v0 = act_count_, h0 = v0 - int64_t(act_recent_.size() / size_t(A));
    win_.resize(size_t(F) * c.mg.pad_t() * A);
    matrix_game_windows(c.mg, A, s, F, [&](int64_t j) -> const float* {
      if (j >= v0) return act_block_.data() + (j - v0) * A;
      if (j == 0) return act_first_.data();
      if (j < h0) fail(ErrorKind::Internal, "matrix_game: action history lost");
      return act_recent_.data() + (j - h0) * A;
    }, win_.data());
  }
}

void Session::append_actions() {
  const ModelConfig& c = model_->config;
  if (!c.mg_action()) return;
  const size_t A = size_t(c.action.size());
  if (act_count_ == 0) act_first_.assign(act_block_.begin(), act_block_.begin() + A);
  act_recent_.insert(act_recent_.end(), act_block_.begin(), act_block_.end());
  const size_t keep = size_t(c.mg.pad_t()) * A;
  if (act_recent_.size() > keep) act_recent_.erase(act_recent_.begin(), act_recent_.end() - keep);
  act_count_ += int64_t(act_block_.size() / A);
}

void Session::kv_begin(int64_t frame_start, int frames) {
  kv_->begin_block(frame_start, frames);
  try {
    if (mouse_kv_) mouse_kv_->begin_block(frame_start);
    if (kb_kv_) kb_kv_->begin_block(frame_start);
  } catch (...) {
    kv_abort();
    throw;
  }
}

void Session::kv_abort() {
  kv_->abort_block();
  if (mouse_kv_) mouse_kv_->abort_block();
  if (kb_kv_) kb_kv_->abort_block();
}

void Session::kv_end(int64_t next) {
  kv_->end_block(next);
  if (mouse_kv_) mouse_kv_->end_block(next);
  if (kb_kv_) kb_kv_->end_block(next);
}

void Session::fill_seq(SeqInput& in, const float* x, const float* t, const float* actions, const float* geometry,
                       int64_t frame_start, int frames) {
  in.x = x;
  in.F = frames;
  in.H = H_;
  in.W = W_;
  in.t = t;
  in.actions = actions;
  in.frame_start = frame_start;
  in.cross = &cross();
  in.kv = kv_.get();
  const ModelConfig& c = model_->config;
  if (c.i2v) in.cond = cond_.data();
  else if (c.geometry_channels() > 0) in.cond = geometry;  // the block's map (null: all zero)
  if (c.mg_action()) {
    in.actions = nullptr;  // matrix_game actions enter through the windows
    in.act_window = win_.data();
    in.act_mouse = mouse_kv_.get();
    in.act_keyboard = kb_kv_.get();
  }
}

void Session::run_forward(const float* x, const float* t, const float* actions, const float* geometry, int frames,
                          bool commit, float* v_out) {
  SeqInput in;
  fill_seq(in, x, t, actions, geometry, next_frame_, frames);
  in.commit_to = commit ? kv_.get() : nullptr;
  in.v_out = v_out;
  wan_forward(*model_, &in, 1, *ws_, threads_, &times_);
}

// The block waiting for its commit, as a sequence of the batch: its x0 at t = context_noise,
// its K/V written to the pages begun for it. Returns its index in `seqs`.
int Session::push_pending_commit(std::vector<SeqInput>& seqs) {
  SeqInput in;
  tctx_.assign(size_t(pending_frames_), float(model_->config.context_noise));
  fill_seq(in, pending_x0_.data(), tctx_.data(), pending_actions_.empty() ? nullptr : pending_actions_.data(),
           pending_geometry_.empty() ? nullptr : pending_geometry_.data(), pending_start_, pending_frames_);
  in.commit_to = kv_.get();
  seqs.push_back(in);
  return int(seqs.size()) - 1;
}

void Session::flush() {
  if (!pending_) return;
  cross();
  kv_->begin_block(pending_start_, pending_frames_);
  try {
    std::vector<SeqInput> one;
    push_pending_commit(one);
    wan_forward(*model_, one.data(), 1, *ws_, threads_, &times_);
  } catch (...) {
    kv_->abort_block();
    throw;
  }
  kv_->end_block(pending_start_ + pending_frames_);
  pending_ = false;
}

void Session::check_actions(const float* actions, int rows, int frames) const {
  const ModelConfig& c = model_->config;
  if (!actions) return;
  if (!c.has_action) fail(ErrorKind::Argument, "this model has no action input");
  const int want = c.mg_action() ? c.action_rows(next_frame_) : frames;
  if (rows < 0) rows = want;
  if (rows != want && !(c.mg_action() && rows == 1))
    fail(ErrorKind::Shape, "actions have " + std::to_string(rows) + " rows; this block takes " + std::to_string(want) +
                               (c.mg_action() ? " (one per video frame: 1 + " +
                                                    std::to_string(c.mg.vae_time_compression_ratio) +
                                                    "(F-1) for the first block, " +
                                                    std::to_string(c.mg.vae_time_compression_ratio) +
                                                    "F after) or 1 for all"
                                              : ""));
  const int64_t n = int64_t(rows) * c.action_row();
  for (int64_t i = 0; i < n; ++i)
    if (!std::isfinite(actions[i])) fail(ErrorKind::Argument, "actions contain NaN or infinity");
}

// The one check of a block's geometry map (its size is the caller's: [channels, F, H, W]).
void Session::check_geometry(const float* geometry, int frames) const {
  if (!geometry) return;
  const ModelConfig& c = model_->config;
  if (c.geometry_channels() == 0) fail(ErrorKind::Argument, "this model takes no geometry map");
  const int64_t n = c.geometry_size(H_, W_, frames);
  for (int64_t i = 0; i < n; ++i)
    if (!std::isfinite(geometry[i])) fail(ErrorKind::Argument, "geometry map contains NaN or infinity");
}

void Session::step(const float* actions, const std::vector<const float*>* noise, BlockOutput& out, int action_rows,
                   const float* geometry, int frames) {
  Session* self = this;
  StepRequest req;
  req.frames = frames;
  req.actions = actions;
  req.action_rows = action_rows;
  req.geometry = geometry;
  req.noise = noise;
  std::exception_ptr err;
  step_batch(&self, &req, 1, &out, &err, *ws_, threads_);
  if (err) std::rethrow_exception(err);
}

const float* Session::noise_for(const Run& r, int i) {
  if (r.req.noise) return (*r.req.noise)[size_t(i)];
  seeded_normals(seed_, next_frame_, i, eps_.data(), r.n);
  return eps_.data();
}

int Session::checked_frames(int frames) const {
  const int F = block_frames();
  if (frames == 0) return F;
  if (frames < min_block_frames() || frames > F)
    fail(ErrorKind::Argument, "a block of " + std::to_string(frames) + " frames; this session steps " +
                                  (min_block_frames() == F ? std::to_string(F)
                                                           : std::to_string(min_block_frames()) + ".." + std::to_string(F)) +
                                  " frames a block" +
                                  (min_block_frames() == F && F > 1 ? " (createSession's minBlockFrames allows smaller ones)" : ""));
  return frames;
}

// What every call checks and takes first, whatever the schedule: its block size, actions and
// noise, then the prompt cache (shared or computed, within the quota).
void Session::begin_call(Run& r) {
  r.t0 = std::chrono::steady_clock::now();
  r.F = checked_frames(r.req.frames);
  check_actions(r.req.actions, r.req.action_rows, r.F);
  check_geometry(r.req.geometry, r.F);
  r.n = block_numel(r.F);
  const int n_steps = int(steps_.size());
  if (r.req.noise && int(r.req.noise->size()) != n_steps)
    fail(ErrorKind::Shape, "supplied noise has " + std::to_string(r.req.noise->size()) +
                               " tensors; this model's sampler takes " + std::to_string(n_steps) +
                               " (one per denoising step)");
  times_ = StageTimes();
  cross();
}

void Session::run_begin(Run& r) {
  if (window_ > 0) return staggered_begin(r);
  const ModelConfig& c = model_->config;
  begin_call(r);
  const int F = r.F;
  prepare_block(next_frame_, F, r.req.actions, r.req.action_rows);
  // Then the pages of the block to commit: refused here, before any compute. In fold
  // mode that is the previous block, committed inside this block's first forward.
  r.folded = fold_ && pending_;
  r.commit_now = !fold_;
  {
    TraceScope tr("kv_begin_block", "kv");
    if (r.folded) kv_begin(pending_start_, pending_frames_);
    else if (r.commit_now) kv_begin(next_frame_, F);
  }
  x_.resize(r.n);
  v_.resize(r.n);
  x0_.resize(r.n);
  eps_.resize(r.n);
  tbuf_.resize(F);
  tctx_.assign(F, float(c.context_noise));
  std::memcpy(x_.data(), noise_for(r, 0), r.n * sizeof(float));
}

void Session::run_seqs(Run& r, int i, std::vector<SeqInput>& seqs) {
  if (window_ > 0) return staggered_seqs(r, i, seqs);
  const int F = r.F;
  for (int f = 0; f < F; ++f) tbuf_[f] = float(steps_[size_t(i)]);
  int attend = -1;
  if (i == 0 && r.folded) {
    // [previous block at t = context_noise → commit] + [this block at t₀, which also sees
    // the frames of it that its window reaches, as it would see them committed]
    attend = push_pending_commit(seqs);
  }
  SeqInput in;
  fill_seq(in, x_.data(), tbuf_.data(), r.req.actions, r.req.geometry, next_frame_, F);
  if (attend >= 0) {
    fold_fresh_.clear();
    add_fresh(fold_fresh_, attend, pending_start_, pending_frames_, next_frame_, F);
    in.fresh = fold_fresh_.data();
    in.n_fresh = int(fold_fresh_.size());
  }
  in.v_out = v_.data();
  seqs.push_back(in);
}

void Session::run_after(Run& r, int i) {
  if (window_ > 0) return staggered_after(r, i);
  if (i == 0 && r.folded) {
    kv_end(next_frame_);  // the previous block's pages are committed now
    pending_ = false;
  }
  const double sg = sched_.sigma(steps_[size_t(i)]);
  for (int64_t j = 0; j < r.n; ++j) x0_[j] = float(double(x_[j]) - sg * double(v_[j]));
  if (size_t(i) + 1 < steps_.size()) {
    const double sn = sched_.sigma(steps_[size_t(i) + 1]);
    const float* e = noise_for(r, i + 1);
    for (int64_t j = 0; j < r.n; ++j) x_[j] = float((1.0 - sn) * double(x0_[j]) + sn * double(e[j]));
  }
}

void Session::run_commit_seq(Run& r, std::vector<SeqInput>& seqs) {
  if (!r.commit_now) return;
  // Commit: the clean block at t = context_noise writes the K/V later blocks attend to.
  SeqInput in;
  fill_seq(in, x0_.data(), tctx_.data(), r.req.actions, r.req.geometry, next_frame_, r.F);
  in.commit_to = kv_.get();
  seqs.push_back(in);
}

void Session::run_abort(Run& r) {
  if ((r.folded && pending_) || r.commit_now) kv_abort();
  if (window_ > 0 && !r.saved.empty()) {  // back to the blocks as they were before the call
    flight_.pop_back();
    for (size_t k = 0; k < flight_.size(); ++k) {
      flight_[k].stage = r.saved[k].stage;
      flight_[k].x = std::move(r.saved[k].x);
    }
  }
}

void Session::run_finish(Run& r, const StageTimes& times, BlockOutput& out) {
  const ModelConfig& c = model_->config;
  if (window_ > 0) {
    staggered_finish(r, out);
  } else {
    run_finish_block(r, out);
  }
  out.channels = c.latent_channels();
  out.height = H_;
  out.width = W_;
  out.times = times;
  out.times.add(times_);  // this session's own prompt-cache work
  total_.add(out.times);
  out.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - r.t0).count();
}

void Session::run_finish_block(Run& r, BlockOutput& out) {
  const ModelConfig& c = model_->config;
  const int F = r.F;
  out.frame_start = next_frame_;
  if (fold_) {
    pending_ = true;
    pending_start_ = next_frame_;
    pending_frames_ = F;
    pending_x0_ = x0_;
    if (r.req.actions) pending_actions_.assign(r.req.actions, r.req.actions + F * c.action_row());
    else pending_actions_.clear();
    if (r.req.geometry) pending_geometry_.assign(r.req.geometry, r.req.geometry + c.geometry_size(H_, W_, F));
    else pending_geometry_.clear();
    next_frame_ += F;
  } else {
    next_frame_ += F;
    kv_end(next_frame_);
  }
  append_actions();
  out.x0 = x0_;
  out.frames = F;
  out.forwards = int(steps_.size()) + (fold_ ? 0 : 1);
}

void step_batch(Session* const* ss, const StepRequest* reqs, int n, BlockOutput* outs, std::exception_ptr* errs,
                ForwardWorkspace& ws, ThreadPool* threads) {
  TraceScope trace("step", "engine");
  if (n <= 0) return;
  const WanModel* model = ss[0]->model_.get();
  std::vector<Session::Run> runs;
  runs.resize(size_t(n));
  std::vector<int> live;
  for (int k = 0; k < n; ++k) {
    errs[k] = nullptr;
    try {
      if (ss[k]->model_.get() != model) fail(ErrorKind::Argument, "step_batch: sessions of different models");
      for (int j = 0; j < k; ++j)
        if (ss[j] == ss[k]) fail(ErrorKind::Argument, "step_batch: a session appears twice in one batch");
      runs[size_t(k)].req = reqs[k];
      ss[k]->run_begin(runs[size_t(k)]);
      live.push_back(k);
    } catch (...) {
      errs[k] = std::current_exception();
    }
  }
  if (live.empty()) return;
  StageTimes times;
  std::vector<SeqInput> seqs;
  try {
    const size_t n_steps = size_t(ss[live[0]]->denoise_forwards());  // same model, same schedule
    for (size_t i = 0; i < n_steps; ++i) {
      seqs.clear();
      for (int k : live) ss[k]->run_seqs(runs[size_t(k)], int(i), seqs);
      wan_forward(*model, seqs.data(), int(seqs.size()), ws, threads, &times);
      for (int k : live) ss[k]->run_after(runs[size_t(k)], int(i));
    }
    seqs.clear();
    for (int k : live) ss[k]->run_commit_seq(runs[size_t(k)], seqs);
    if (!seqs.empty()) wan_forward(*model, seqs.data(), int(seqs.size()), ws, threads, &times);
  } catch (...) {
    for (int k : live) {
      ss[k]->run_abort(runs[size_t(k)]);
      errs[k] = std::current_exception();
    }
    return;
  }
  for (int k : live) ss[k]->run_finish(runs[size_t(k)], times, outs[k]);
}

int commit_batch(Session* const* ss, int n, std::exception_ptr* errs, ForwardWorkspace& ws, ThreadPool* threads) {
  TraceScope trace("commit_batch", "engine");
  if (n <= 0) return 0;
  const WanModel* model = ss[0]->model_.get();
  std::vector<int> live;
  std::vector<SeqInput> seqs;
  for (int k = 0; k < n; ++k) {
    errs[k] = nullptr;
    Session* s = ss[k];
    try {
      if (s->model_.get() != model) fail(ErrorKind::Argument, "commit_batch: sessions of different models");
      for (int j = 0; j < k; ++j)
        if (ss[j] == s) fail(ErrorKind::Argument, "commit_batch: a session appears twice in one batch");
      if (!s->pending_) continue;
      s->cross();
      s->kv_->begin_block(s->pending_start_, s->pending_frames_);
      live.push_back(k);
    } catch (...) {
      errs[k] = std::current_exception();
    }
  }
  if (live.empty()) return 0;
  StageTimes times;
  try {
    for (int k : live) {
      ss[k]->push_pending_commit(seqs);
    }
    wan_forward(*model, seqs.data(), int(seqs.size()), ws, threads, &times);
  } catch (...) {
    for (int k : live) {
      ss[k]->kv_->abort_block();
      errs[k] = std::current_exception();
    }
    return 0;
  }
  for (int k : live) {
    Session* s = ss[k];
    s->kv_->end_block(s->pending_start_ + s->pending_frames_);
    s->pending_ = false;
    s->total_.add(times);
  }
  return int(live.size());
}

void Session::probe(const float* x, const float* t, const float* actions, float* v_out, int action_rows,
                    const float* geometry, int frames) {
  if (!flight_.empty()) fail(ErrorKind::Argument, "probe: blocks are in flight in the staggered pipeline");
  const int F = checked_frames(frames);
  check_actions(actions, action_rows, F);
  check_geometry(geometry, F);
  flush();
  prepare_block(next_frame_, F, actions, action_rows);
  times_ = StageTimes();
  run_forward(x, t, actions, geometry, F, false, v_out);
  total_.add(times_);
}

void Session::commit(const float* x0, const float* actions, int action_rows, const float* geometry, int frames) {
  if (!flight_.empty())
    fail(ErrorKind::Argument, "commit: blocks are in flight in the staggered pipeline (commit known frames before the first step)");
  const ModelConfig& c = model_->config;
  const int F = checked_frames(frames);
  check_actions(actions, action_rows, F);
  check_geometry(geometry, F);
  const int64_t n = block_numel(F);
  for (int64_t j = 0; j < n; ++j)
    if (!std::isfinite(x0[j])) fail(ErrorKind::Argument, "latents contain NaN or infinity");
  flush();
  times_ = StageTimes();
  prepare_block(next_frame_, F, actions, action_rows);
  cross();
  kv_begin(next_frame_, F);
  try {
    tbuf_.assign(size_t(F), float(c.context_noise));
    run_forward(x0, tbuf_.data(), actions, geometry, F, true, nullptr);
  } catch (...) {
    kv_abort();
    throw;
  }
  next_frame_ += F;
  kv_end(next_frame_);
  append_actions();
  total_.add(times_);
}

// ---- the staggered pipeline (schedule "staggered"; see session.h) ----

const float* Session::chunk_noise(const Chunk& c, int step) {
  if (!c.noise.empty()) return c.noise[size_t(step)].data();
  seeded_normals(seed_, c.start, step, eps_.data(), int64_t(c.x.size()));
  return eps_.data();
}

void Session::staggered_begin(Run& r) {
  const ModelConfig& c = model_->config;
  begin_call(r);
  const int F = c.num_frame_per_block;
  // The block completed by the previous call is committed in this call's first forward:
  // its pages first, so a refusal changes nothing.
  r.folded = pending_;
  r.commit_now = false;
  {
    TraceScope tr("kv_begin_block", "kv");
    if (r.folded) kv_begin(pending_start_, pending_frames_);
  }
  r.saved.clear();
  for (const Chunk& k : flight_) r.saved.push_back({k.stage, k.x});
  Chunk k;
  k.start = next_frame_ + int64_t(F) * int64_t(flight_.size());
  k.noise.clear();
  if (r.req.noise)
    for (const float* p : *r.req.noise) k.noise.emplace_back(p, p + r.n);
  k.x.resize(size_t(r.n));
  k.x0.resize(size_t(r.n));
  k.v.resize(size_t(r.n));
  k.t.resize(size_t(F));
  eps_.resize(size_t(r.n));
  std::memcpy(k.x.data(), chunk_noise(k, 0), size_t(r.n) * sizeof(float));
  if (r.req.actions) k.actions.assign(r.req.actions, r.req.actions + F * c.action_row());
  if (r.req.geometry) k.geometry.assign(r.req.geometry, r.req.geometry + c.geometry_size(H_, W_));
  flight_.push_back(std::move(k));
  r.saved.push_back({0, {}});  // marks that a block was entered
}

void Session::add_fresh(std::vector<FreshFrames>& out, int seq, int64_t seq_start, int seq_frames, int64_t block_start,
                        int frames) const {
  const Selection& sel = kv_->selection();
  const int n = seq_frames;
  int f = 0;
  while (f < n) {
    while (f < n && !sel.reachable(seq_start + f, block_start, frames)) ++f;
    const int b = f;
    while (f < n && sel.reachable(seq_start + f, block_start, frames)) ++f;
    if (f > b) out.push_back(FreshFrames{seq, b, f});
  }
}

void Session::staggered_seqs(Run& r, int i, std::vector<SeqInput>& seqs) {
  int commit_seq = -1;
  if (i == 0 && r.folded) commit_seq = push_pending_commit(seqs);
  const int first = int(seqs.size());
  for (size_t k = 0; k < flight_.size(); ++k) {
    Chunk& ch = flight_[k];
    std::fill(ch.t.begin(), ch.t.end(), float(steps_[size_t(ch.stage)]));
    ch.fresh.clear();
    const int F = block_frames();
    if (commit_seq >= 0) add_fresh(ch.fresh, commit_seq, pending_start_, pending_frames_, ch.start, F);
    for (size_t j = 0; j < k; ++j) add_fresh(ch.fresh, first + int(j), flight_[j].start, F, ch.start, F);
    SeqInput in;
    fill_seq(in, ch.x.data(), ch.t.data(), ch.actions.empty() ? nullptr : ch.actions.data(),
             ch.geometry.empty() ? nullptr : ch.geometry.data(), ch.start, F);
    in.fresh = ch.fresh.data();
    in.n_fresh = int(ch.fresh.size());
    in.v_out = ch.v.data();
    seqs.push_back(in);
  }
}

void Session::staggered_after(Run& r, int i) {
  if (i == 0 && r.folded) {
    kv_end(next_frame_);  // the completed block's pages are committed now
    pending_ = false;
    r.folded = false;
  }
  const int n_steps = int(steps_.size());
  for (Chunk& ch : flight_) {
    const int k = ch.stage;
    const double sg = sched_.sigma(steps_[size_t(k)]);
    for (size_t j = 0; j < ch.x.size(); ++j) ch.x0[j] = float(double(ch.x[j]) - sg * double(ch.v[j]));
    ch.stage = k + 1;
    if (k + 1 < n_steps) {
      const double sn = sched_.sigma(steps_[size_t(k) + 1]);
      const float* e = chunk_noise(ch, k + 1);
      for (size_t j = 0; j < ch.x.size(); ++j) ch.x[j] = float((1.0 - sn) * double(ch.x0[j]) + sn * double(e[j]));
    }
  }
}

void Session::staggered_finish(Run& r, BlockOutput& out) {
  const ModelConfig& c = model_->config;
  const int F = c.num_frame_per_block;
  (void)r;
  out.forwards = denoise_forwards();
  out.frame_start = next_frame_;
  if (flight_.empty() || flight_.front().stage < int(steps_.size())) {  // still filling
    out.frames = 0;
    out.x0.clear();
    return;
  }
  Chunk& done = flight_.front();
  out.x0 = done.x0;
  out.frames = F;
  pending_ = true;  // committed in the next call's first forward (or by flush())
  pending_start_ = done.start;
  pending_frames_ = F;
  pending_x0_ = std::move(done.x0);
  pending_actions_ = std::move(done.actions);
  pending_geometry_ = std::move(done.geometry);
  next_frame_ += F;
  flight_.pop_front();
}

}  // namespace wc
