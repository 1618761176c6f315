#include "engine/session.h"

#include <chrono>
#include <cmath>
#include <cstring>

#include "core/error.h"
#include "engine/noise.h"
#include "engine/profiler.h"

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
      fold_(o.fold_commit) {
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
  kv_ = std::make_unique<SessionKv>(pool, page_geometry(c, H_, W_, o.kv_type), sel, c.num_frame_per_block,
                                    cross_cache_bytes(c));
  steps_ = sched_.steps(c.denoising_step_list, c.warp_denoising_step);
}

Session::Session(const Session& p, uint64_t seed)
    : model_(p.model_),
      threads_(p.threads_),
      H_(p.H_),
      W_(p.W_),
      seed_(seed),
      kv_(p.kv_->fork()),
      prompt_(p.prompt_),
      sched_(p.sched_),
      steps_(p.steps_),
      next_frame_(p.next_frame_),
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

void Session::fill_seq(SeqInput& in, const float* x, const float* t, const float* actions, int64_t frame_start) {
  in.x = x;
  in.F = model_->config.num_frame_per_block;
  in.H = H_;
  in.W = W_;
  in.t = t;
  in.actions = actions;
  in.frame_start = frame_start;
  in.cross = &cross();
  in.kv = kv_.get();
}

void Session::run_forward(const float* x, const float* t, const float* actions, bool commit, float* v_out) {
  SeqInput in;
  fill_seq(in, x, t, actions, next_frame_);
  in.commit_to = commit ? kv_.get() : nullptr;
  in.v_out = v_out;
  wan_forward(*model_, &in, 1, ws_, threads_, &times_);
}

void Session::flush() {
  if (!pending_) return;
  const ModelConfig& c = model_->config;
  cross();
  kv_->begin_block(pending_start_);
  try {
    tctx_.assign(c.num_frame_per_block, float(c.context_noise));
    SeqInput in;
    fill_seq(in, pending_x0_.data(), tctx_.data(), pending_actions_.empty() ? nullptr : pending_actions_.data(),
             pending_start_);
    in.commit_to = kv_.get();
    wan_forward(*model_, &in, 1, ws_, threads_, &times_);
  } catch (...) {
    kv_->abort_block();
    throw;
  }
  kv_->end_block(pending_start_ + c.num_frame_per_block);
  pending_ = false;
}

void Session::check_actions(const float* actions) const {
  const ModelConfig& c = model_->config;
  if (!actions) return;
  if (!c.has_action) fail(ErrorKind::Argument, "this model has no action input");
  const int n = c.num_frame_per_block * c.action.size();
  for (int i = 0; i < n; ++i)
    if (!std::isfinite(actions[i])) fail(ErrorKind::Argument, "actions contain NaN or infinity");
}

void Session::step(const float* actions, const std::vector<const float*>* noise, BlockOutput& out) {
  TraceScope trace("step", "engine");
  const ModelConfig& c = model_->config;
  const auto t0 = std::chrono::steady_clock::now();
  check_actions(actions);
  const int F = c.num_frame_per_block;
  const int64_t n = block_numel();
  const int n_steps = int(steps_.size());
  if (noise && int(noise->size()) != n_steps)
    fail(ErrorKind::Shape, "supplied noise has " + std::to_string(noise->size()) + " tensors; this model's sampler takes " +
                               std::to_string(n_steps) + " (one per denoising step)");
  times_ = StageTimes();
  cross();  // the prompt cache first (shared or computed, within the quota)
  // Then the pages of the block to commit: refused here, before any compute. In fold
  // mode that is the previous block, committed inside this block's first forward.
  const bool folded = fold_ && pending_;
  const bool commit_now = !fold_;
  {
    TraceScope tr("kv_begin_block", "kv");
    if (folded) kv_->begin_block(pending_start_);
    else if (commit_now) kv_->begin_block(next_frame_);
  }
  try {
    x_.resize(n);
    v_.resize(n);
    x0_.resize(n);
    eps_.resize(n);
    tbuf_.resize(F);
    auto noise_for = [&](int i) -> const float* {
      if (noise) return (*noise)[i];
      seeded_normals(seed_, next_frame_, i, eps_.data(), n);
      return eps_.data();
    };
    std::memcpy(x_.data(), noise_for(0), n * sizeof(float));
    for (int i = 0; i < n_steps; ++i) {
      for (int f = 0; f < F; ++f) tbuf_[f] = float(steps_[i]);
      if (i == 0 && folded) {
        // [previous block at t = context_noise → commit] + [this block at t₀, which also sees it]
        tctx_.assign(F, float(c.context_noise));
        SeqInput seq[2];
        fill_seq(seq[0], pending_x0_.data(), tctx_.data(),
                 pending_actions_.empty() ? nullptr : pending_actions_.data(), pending_start_);
        seq[0].commit_to = kv_.get();
        fill_seq(seq[1], x_.data(), tbuf_.data(), actions, next_frame_);
        seq[1].attend_seq = 0;
        seq[1].v_out = v_.data();
        wan_forward(*model_, seq, 2, ws_, threads_, &times_);
        kv_->end_block(next_frame_);
        pending_ = false;
      } else {
        run_forward(x_.data(), tbuf_.data(), actions, false, v_.data());
      }
      const double sg = sched_.sigma(steps_[i]);
      for (int64_t j = 0; j < n; ++j) x0_[j] = float(double(x_[j]) - sg * double(v_[j]));
      if (i + 1 < n_steps) {
        const double sn = sched_.sigma(steps_[i + 1]);
        const float* e = noise_for(i + 1);
        for (int64_t j = 0; j < n; ++j) x_[j] = float((1.0 - sn) * double(x0_[j]) + sn * double(e[j]));
      }
    }
    if (commit_now) {
      // Commit: the clean block at t = context_noise writes the K/V later blocks attend to.
      for (int f = 0; f < F; ++f) tbuf_[f] = float(c.context_noise);
      run_forward(x0_.data(), tbuf_.data(), actions, true, nullptr);
    }
  } catch (...) {
    if (folded && pending_) kv_->abort_block();
    else if (commit_now) kv_->abort_block();
    throw;
  }
  if (fold_) {
    pending_ = true;
    pending_start_ = next_frame_;
    pending_x0_ = x0_;
    if (actions) pending_actions_.assign(actions, actions + int64_t(F) * c.action.size());
    else pending_actions_.clear();
    out.frame_start = next_frame_;
    next_frame_ += F;
  } else {
    out.frame_start = next_frame_;
    next_frame_ += F;
    kv_->end_block(next_frame_);
  }
  out.x0 = x0_;
  out.frames = F;
  out.channels = c.in_dim;
  out.height = H_;
  out.width = W_;
  out.forwards = fold_ ? n_steps : n_steps + 1;
  out.times = times_;
  total_.add(times_);
  out.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

void Session::probe(const float* x, const float* t, const float* actions, float* v_out) {
  check_actions(actions);
  flush();
  times_ = StageTimes();
  run_forward(x, t, actions, false, v_out);
  total_.add(times_);
}

void Session::commit(const float* x0, const float* actions) {
  const ModelConfig& c = model_->config;
  check_actions(actions);
  const int64_t n = block_numel();
  for (int64_t j = 0; j < n; ++j)
    if (!std::isfinite(x0[j])) fail(ErrorKind::Argument, "latents contain NaN or infinity");
  flush();
  times_ = StageTimes();
  cross();
  kv_->begin_block(next_frame_);
  try {
    tbuf_.assign(c.num_frame_per_block, float(c.context_noise));
    run_forward(x0, tbuf_.data(), actions, true, nullptr);
  } catch (...) {
    kv_->abort_block();
    throw;
  }
  next_frame_ += c.num_frame_per_block;
  kv_->end_block(next_frame_);
  total_.add(times_);
}

}  // namespace wc
