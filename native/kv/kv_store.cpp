#include "kv/kv_store.h"

#include <algorithm>
#include <cstring>

#include "core/error.h"

namespace wc {

void KvWindow::visible(int64_t s, std::vector<int64_t>& out) const {
  if (local_attn_size < 0) {
    for (int64_t f = 0; f < s; ++f) out.push_back(f);
    return;
  }
  const int64_t recent = int64_t(local_attn_size) - sink_size - block_frames;
  const int64_t lo = std::max<int64_t>(sink_size, s - recent);
  for (int64_t f = 0; f < std::min<int64_t>(sink_size, s); ++f) out.push_back(f);
  for (int64_t f = lo; f < s; ++f) out.push_back(f);
}

FrameKvStore::FrameKvStore(int num_layers, int tokens_per_frame, int dim, const KvWindow& window)
    : layers_(num_layers), tokens_(tokens_per_frame), dim_(dim), window_(window) {}

float* FrameKvStore::slot(Frame& f, int layer, int which) const {
  return f.kv.data() + (size_t(layer) * 2 + which) * size_t(tokens_) * dim_;
}

void FrameKvStore::visible_frames(int64_t block_start, std::vector<int64_t>& out) const {
  scratch_.clear();
  window_.visible(block_start, scratch_);
  for (int64_t f : scratch_) if (frames_.count(f)) out.push_back(f);
}

void FrameKvStore::spans(int layer, int64_t block_start, std::vector<KvSpan>& out) const {
  scratch_.clear();
  window_.visible(block_start, scratch_);
  for (int64_t f : scratch_) {
    auto it = frames_.find(f);
    if (it == frames_.end()) continue;
    Frame& fr = *it->second;
    KvSpan s;
    s.k = slot(fr, layer, 0);
    s.v = slot(fr, layer, 1);
    s.tokens = tokens_;
    s.stride = dim_;
    out.push_back(s);
  }
}

void FrameKvStore::commit(int layer, int64_t frame_start, int n_frames, const float* k, const float* v) {
  if (layer < 0 || layer >= layers_) fail(ErrorKind::Internal, "kv commit: bad layer");
  const size_t per = size_t(tokens_) * dim_;
  for (int i = 0; i < n_frames; ++i) {
    auto& p = frames_[frame_start + i];
    if (!p) {
      p = std::make_unique<Frame>();
      p->kv.resize(per * 2 * layers_);
    }
    std::memcpy(slot(*p, layer, 0), k + i * per, per * sizeof(float));
    std::memcpy(slot(*p, layer, 1), v + i * per, per * sizeof(float));
  }
}

void FrameKvStore::end_commit(int64_t next_block_start) {
  scratch_.clear();
  window_.visible(next_block_start, scratch_);
  for (auto it = frames_.begin(); it != frames_.end();) {
    if (!std::binary_search(scratch_.begin(), scratch_.end(), it->first)) it = frames_.erase(it);
    else ++it;
  }
}

size_t FrameKvStore::bytes() const { return frames_.size() * size_t(tokens_) * dim_ * 2 * layers_ * sizeof(float); }

}  // namespace wc
