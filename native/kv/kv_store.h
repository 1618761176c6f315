// Committed K/V of a session's past latent frames, behind a small interface so the
// paged manager can replace this simple store. A frame's K/V (all layers) are
// written once by the commit pass and never change; attention reads them in place
// through spans. Which frames a block sees is decided by a KvWindow.
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <vector>

#include "core/buffer.h"
#include "kernels/attention.h"

namespace wc {

// Block-causal visibility, as Self Forcing's rolling cache: a block of F frames starting
// at frame s sees the sink frames [0, S) and the most recent (L - S - F) committed frames
// before s (L = local_attn_size in frames; -1 = every committed frame).
struct KvWindow {
  int local_attn_size = -1;
  int sink_size = 0;
  int block_frames = 3;
  // Appends, ascending, the frames < block_start a block starting there may attend to.
  void visible(int64_t block_start, std::vector<int64_t>& out) const;
};

class KvStore {
 public:
  virtual ~KvStore() = default;
  // Frames visible to the block starting at `block_start` (ascending).
  virtual void visible_frames(int64_t block_start, std::vector<int64_t>& out) const = 0;
  // One span per visible frame for `layer`, in frame order.
  virtual void spans(int layer, int64_t block_start, std::vector<KvSpan>& out) const = 0;
  // Store `n_frames` frames' K and V ([n_frames * tokens_per_frame, dim] each) for one layer.
  virtual void commit(int layer, int64_t frame_start, int n_frames, const float* k, const float* v) = 0;
  // All layers of a commit are written: drop frames no later block can see.
  virtual void end_commit(int64_t next_block_start) = 0;
  virtual void set_window(const KvWindow& w) = 0;
  virtual const KvWindow& window() const = 0;
  virtual int64_t frames_stored() const = 0;
  virtual size_t bytes() const = 0;
};

// A frame-granular fp32 store: one allocation per frame holding K and V of all layers.
class FrameKvStore final : public KvStore {
 public:
  FrameKvStore(int num_layers, int tokens_per_frame, int dim, const KvWindow& window);
  void visible_frames(int64_t block_start, std::vector<int64_t>& out) const override;
  void spans(int layer, int64_t block_start, std::vector<KvSpan>& out) const override;
  void commit(int layer, int64_t frame_start, int n_frames, const float* k, const float* v) override;
  void end_commit(int64_t next_block_start) override;
  void set_window(const KvWindow& w) override { window_ = w; }
  const KvWindow& window() const override { return window_; }
  int64_t frames_stored() const override { return int64_t(frames_.size()); }
  size_t bytes() const override;

 private:
  struct Frame {
    FloatBuffer kv;  // [layer][k|v][tokens][dim]
  };
  float* slot(Frame& f, int layer, int which) const;
  int layers_, tokens_, dim_;
  KvWindow window_;
  std::map<int64_t, std::unique_ptr<Frame>> frames_;
  mutable std::vector<int64_t> scratch_;
};

}  // namespace wc
