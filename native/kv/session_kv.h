// One session's KV memory: its page table (absolute frame → page), its selection,
// the block being committed, and its prompt's cross-attention cache, all in the
// model's KvPool. Pages are written once (by the commit pass) and then immutable, so
// fork() shares every page by refcount.
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "kv/kv_store.h"
#include "kv/page_pool.h"
#include "kv/selection.h"

namespace wc {

struct SessionKvPage {  // for inspection
  int64_t frame;
  uint64_t page;
  int refs;
};

class SessionKv final : public KvStore, public KvHolder {
 public:
  // Registers with the pool and admits the session's quota (KvBudget error otherwise):
  // blocks of min_block_frames..max_block_frames frames (0: max_block_frames only).
  SessionKv(KvPool& pool, const PageGeometry& geo, const Selection& sel, int max_block_frames, size_t cross_quota,
            int min_block_frames = 0);
  ~SessionKv() override;
  SessionKv(const SessionKv&) = delete;
  SessionKv& operator=(const SessionKv&) = delete;

  // A new session sharing every committed page and the prompt cache (admitted like a new one).
  std::unique_ptr<SessionKv> fork() const;

  // KvStore
  void spans(int layer, int64_t block_start, int block_frames, std::vector<KvSpan>& out) const override;
  KvType type() const override { return geo_.type; }
  void commit(int layer, int64_t frame_start, int n_frames, const float* k, const float* v) override;

  // Allocate the pages of the block [frame_start, frame_start + frames) before any compute
  // (frames 0: the largest block).
  void begin_block(int64_t frame_start, int frames = 0);
  void abort_block();                       // drop the pending pages (nothing else changes)
  void end_block(int64_t next_block_start);  // pending pages join the table; unreachable frames are freed

  // New selection; frames it cannot reach from next_block_start are freed now.
  void set_selection(const Selection& sel, int64_t next_block_start);
  const Selection& selection() const { return sel_; }
  int min_block_frames() const { return min_block_; }
  int max_block_frames() const { return max_block_; }

  // The prompt cache this session uses (retained; the previous one is released).
  void set_cross(CrossEntry* e);
  CrossEntry* cross() const { return cross_; }

  // KvHolder
  size_t quota_bytes() const override;
  size_t exclusive_bytes() const override;

  int64_t frames() const { return int64_t(table_.size()); }
  size_t bytes() const;  // bytes of the pages it references (shared ones included)
  std::vector<SessionKvPage> pages() const;
  const PageGeometry& geometry() const { return geo_; }
  KvPool& pool() const { return pool_; }

 private:
  struct Unchecked {};
  SessionKv(KvPool& pool, const PageGeometry& geo, const Selection& sel, int max_block_frames, size_t cross_quota,
            int min_block_frames, Unchecked);  // registered but not yet admitted (fork admits once its shares are in place)
  void evict(int64_t next_block_start);
  KvPool& pool_;
  PageGeometry geo_;
  Selection sel_;
  int max_block_, min_block_;
  size_t cross_quota_;
  std::map<int64_t, Page*> table_;
  std::vector<Page*> pending_;
  int64_t pending_start_ = 0;
  CrossEntry* cross_ = nullptr;
  std::vector<float> scratch_;
  std::vector<uint16_t> scratch16_;
};

}  // namespace wc
