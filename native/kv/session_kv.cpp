#include "kv/session_kv.h"

#include "core/error.h"
#include "kv/quantize.h"

namespace wc {

static int checked_min_block(int max_block, int min_block) {
  if (max_block < 1) fail(ErrorKind::Internal, "session kv: blocks of " + std::to_string(max_block) + " frames");
  if (min_block == 0) return max_block;
  if (min_block < 1 || min_block > max_block)
    fail(ErrorKind::Argument, "the smallest block (" + std::to_string(min_block) + " frames) must be 1.." +
                                  std::to_string(max_block) + " frames (the model's block)");
  return min_block;
}

SessionKv::SessionKv(KvPool& pool, const PageGeometry& geo, const Selection& sel, int max_block_frames,
                     size_t cross_quota, int min_block_frames)
    : pool_(pool),
      geo_(geo),
      sel_(sel),
      max_block_(max_block_frames),
      min_block_(checked_min_block(max_block_frames, min_block_frames)),
      cross_quota_(cross_quota) {
  std::lock_guard<std::recursive_mutex> lk(pool_.mutex());
  pool_.add_holder(this);
  try {
    pool_.check_budget("a new session (" + sel_.describe() + ", " + kv_type_name(geo_.type) + " pages)", quota_bytes());
  } catch (...) {
    pool_.remove_holder(this);
    throw;
  }
}

SessionKv::SessionKv(KvPool& pool, const PageGeometry& geo, const Selection& sel, int max_block_frames,
                     size_t cross_quota, int min_block_frames, Unchecked)
    : pool_(pool),
      geo_(geo),
      sel_(sel),
      max_block_(max_block_frames),
      min_block_(min_block_frames),
      cross_quota_(cross_quota) {
  pool_.add_holder(this);
}

SessionKv::~SessionKv() {
  std::lock_guard<std::recursive_mutex> lk(pool_.mutex());
  pool_.remove_holder(this);
  for (Page* p : pending_) pool_.release(p);
  for (auto& kv : table_) pool_.release(kv.second);
  if (cross_) pool_.release(cross_);
}

std::unique_ptr<SessionKv> SessionKv::fork() const {
  std::lock_guard<std::recursive_mutex> lk(pool_.mutex());
  if (!pending_.empty()) fail(ErrorKind::Internal, "fork during a block");
  // Built unregistered, then admitted with the shares in place (the parent's pages
  // stop being exclusive, so its reservation grows); destroyed again on refusal.
  std::unique_ptr<SessionKv> f(new SessionKv(pool_, geo_, sel_, max_block_, cross_quota_, min_block_, Unchecked()));
  for (auto& kv : table_) {
    pool_.retain(kv.second);
    f->table_[kv.first] = kv.second;
  }
  if (cross_) {
    pool_.retain(cross_);
    f->cross_ = cross_;
  }
  pool_.check_budget("fork of a session holding " + std::to_string(table_.size()) + " frames", f->quota_bytes());
  return f;
}

void SessionKv::spans(int layer, int64_t block_start, int block_frames, std::vector<KvSpan>& out) const {
  for (auto& kv : table_) {
    if (kv.first >= block_start) break;
    if (sel_.reachable(kv.first, block_start, block_frames)) out.push_back(kv.second->span(layer));
  }
}

void SessionKv::commit(int layer, int64_t frame_start, int n_frames, const float* k, const float* v) {
  if (frame_start != pending_start_ || n_frames != int(pending_.size()))
    fail(ErrorKind::Internal, "kv commit does not match the block begun");
  const int64_t per = int64_t(geo_.tokens) * geo_.dim;
  const int hd = geo_.dim / geo_.heads;
  for (int i = 0; i < n_frames; ++i) {
    Page* p = pending_[size_t(i)];
    for (int which = 0; which < 2; ++which) {
      store_kv(geo_.type, (which ? v : k) + i * per, geo_.tokens, geo_.heads, hd, which ? p->v(layer) : p->k(layer),
               geo_.type == KvType::I8 ? (which ? p->v_scale(layer) : p->k_scale(layer)) : nullptr);
    }
  }
}

void SessionKv::begin_block(int64_t frame_start, int frames) {
  if (frames == 0) frames = max_block_;
  if (frames < min_block_ || frames > max_block_)
    fail(ErrorKind::Argument, "a block of " + std::to_string(frames) + " frames; this session takes " +
                                  std::to_string(min_block_) + ".." + std::to_string(max_block_));
  std::lock_guard<std::recursive_mutex> lk(pool_.mutex());
  if (!pending_.empty()) abort_block();
  pending_start_ = frame_start;
  for (int i = 0; i < frames; ++i) pending_.push_back(pool_.alloc_page(geo_));
  try {
    pool_.check_budget("the next block (" + std::to_string(frames) + " frame pages)",
                       size_t(frames) * geo_.page_bytes());
  } catch (...) {
    abort_block();
    throw;
  }
}

void SessionKv::abort_block() {
  std::lock_guard<std::recursive_mutex> lk(pool_.mutex());
  for (Page* p : pending_) pool_.release(p);
  pending_.clear();
}

void SessionKv::end_block(int64_t next_block_start) {
  std::lock_guard<std::recursive_mutex> lk(pool_.mutex());
  for (size_t i = 0; i < pending_.size(); ++i) {
    auto& slot = table_[pending_start_ + int64_t(i)];
    if (slot) pool_.release(slot);  // a frame re-committed (cannot happen in the block loop)
    slot = pending_[i];
  }
  pending_.clear();
  evict(next_block_start);
}

void SessionKv::evict(int64_t next_block_start) {
  for (auto it = table_.begin(); it != table_.end();) {
    if (!sel_.reachable(it->first, next_block_start, min_block_)) {
      pool_.release(it->second);
      it = table_.erase(it);
    } else {
      ++it;
    }
  }
}

void SessionKv::set_selection(const Selection& sel, int64_t next_block_start) {
  std::lock_guard<std::recursive_mutex> lk(pool_.mutex());
  Selection old = sel_;
  sel_ = sel;
  try {
    pool_.check_budget("a new selection (" + sel.describe() + ")", quota_bytes());
  } catch (...) {
    sel_ = old;
    throw;
  }
  evict(next_block_start);
}

void SessionKv::set_cross(CrossEntry* e) {
  std::lock_guard<std::recursive_mutex> lk(pool_.mutex());
  if (e) pool_.retain(e);
  if (cross_) pool_.release(cross_);
  cross_ = e;
}

size_t SessionKv::quota_bytes() const {
  const int64_t mf = sel_.max_frames(min_block_);
  const int64_t pages = (mf < 0 ? 0 : mf) + max_block_;
  return size_t(pages) * geo_.page_bytes() + cross_quota_;
}

size_t SessionKv::exclusive_bytes() const {
  size_t b = 0;
  for (auto& kv : table_)
    if (kv.second->refs == 1) b += kv.second->geo.page_bytes();
  for (Page* p : pending_) b += p->geo.page_bytes();
  if (cross_ && cross_->refs == 1) b += cross_->kv.bytes();
  return b;
}

size_t SessionKv::bytes() const {
  size_t b = 0;
  for (auto& kv : table_) b += kv.second->geo.page_bytes();
  return b;
}

std::vector<SessionKvPage> SessionKv::pages() const {
  std::lock_guard<std::recursive_mutex> lk(pool_.mutex());
  std::vector<SessionKvPage> out;
  for (auto& kv : table_) out.push_back({kv.first, kv.second->id, kv.second->refs});
  return out;
}

}  // namespace wc
