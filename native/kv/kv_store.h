// What the model forward needs from a session's KV memory: the spans of the committed
// frames a block may attend to, and a place to write the block's K/V on its commit pass.
// Implemented by SessionKv (paged, refcounted; kv/session_kv.h).
#pragma once
#include <cstdint>
#include <vector>

#include "kernels/attention.h"

namespace wc {

class KvStore {
 public:
  virtual ~KvStore() = default;
  // Spans for `layer` of the committed frames visible to the block of `block_frames`
  // frames starting at `block_start`, in frame order (one span per frame page, read in place).
  virtual void spans(int layer, int64_t block_start, int block_frames, std::vector<KvSpan>& out) const = 0;
  // Store the roped K and V ([n_frames * tokens_per_frame, dim] f32 each) of one layer of
  // the block being committed (converted to the pages' storage type).
  virtual void commit(int layer, int64_t frame_start, int n_frames, const float* k, const float* v) = 0;
  // The pages' storage type. The forward stores the block's own K/V in it too while the
  // block attends to itself, so a block sees its own keys as it will see them committed.
  virtual KvType type() const = 0;
};

}  // namespace wc
