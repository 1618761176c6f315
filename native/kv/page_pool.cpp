#include "kv/page_pool.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <new>

#include "core/error.h"

namespace wc {
namespace {

size_t align64(size_t n) { return (n + 63) / 64 * 64; }

uint64_t hash_floats(const std::vector<float>& v) {
  uint64_t h = 1469598103934665603ull;
  const uint8_t* p = reinterpret_cast<const uint8_t*>(v.data());
  for (size_t i = 0; i < v.size() * sizeof(float); ++i) h = (h ^ p[i]) * 1099511628211ull;
  return h ^ v.size();
}

std::string mib(size_t b) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%zu bytes (%.1f MiB)", b, double(b) / (1 << 20));
  return buf;
}

}  // namespace

const char* kv_type_name(KvType t) {
  switch (t) {
    case KvType::F32: return "f32";
    case KvType::BF16: return "bf16";
    default: return "int8";
  }
}

size_t PageGeometry::kv_bytes() const { return align64(size_t(tokens) * dim * elem()); }
size_t PageGeometry::scale_bytes() const {
  return type == KvType::I8 ? align64(size_t(tokens) * heads * sizeof(float)) : 0;
}
size_t PageGeometry::page_bytes() const { return size_t(layers) * (2 * kv_bytes() + 2 * scale_bytes()); }
size_t PageGeometry::payload_bytes() const {
  size_t per = 2 * size_t(tokens) * dim * elem();
  if (type == KvType::I8) per += 2 * size_t(tokens) * heads * sizeof(float);
  return size_t(layers) * per;
}

KvSpan Page::span(int layer) const {
  KvSpan s;
  s.k = k(layer);
  s.v = v(layer);
  s.tokens = geo.tokens;
  s.stride = geo.dim;
  s.type = geo.type;
  if (geo.type == KvType::I8) {
    s.k_scale = k_scale(layer);
    s.v_scale = v_scale(layer);
  }
  return s;
}

KvPool::KvPool(size_t budget_bytes) : budget_(budget_bytes) {}

KvPool::~KvPool() {
  for (Page* p : pages_) {
    std::free(p->data);
    delete p;
  }
  for (auto& kv : cross_)
    for (CrossEntry* e : kv.second) delete e;
  for (auto& c : cache_) std::free(c.data);
}

Page* KvPool::alloc_page(const PageGeometry& g) {
  std::lock_guard<std::recursive_mutex> lk(mu_);
  const size_t bytes = g.page_bytes();
  uint8_t* data = nullptr;
  for (size_t i = 0; i < cache_.size(); ++i)
    if (cache_[i].bytes == bytes) {
      data = cache_[i].data;
      cached_bytes_ -= bytes;
      cache_[i] = cache_.back();
      cache_.pop_back();
      break;
    }
  if (!data) {
    data = static_cast<uint8_t*>(std::aligned_alloc(64, bytes));
    if (!data) throw std::bad_alloc();
  }
  // Zero so the alignment padding is deterministic (pages are hashed/compared in tests).
  std::memset(data, 0, bytes);
  Page* p = new Page();
  p->id = next_id_++;
  p->refs = 1;
  p->geo = g;
  p->data = data;
  pages_.insert(p);
  used_ += bytes;
  return p;
}

void KvPool::retain(Page* p) {
  std::lock_guard<std::recursive_mutex> lk(mu_);
  ++p->refs;
}

void KvPool::free_page_memory(Page* p) {
  const size_t bytes = p->geo.page_bytes();
  used_ -= bytes;
  pages_.erase(p);
  // Keep the memory for reuse while live + cached stays within the budget.
  if (used_ + cached_bytes_ + bytes <= budget_ && cache_.size() < 4096) {
    cache_.push_back({bytes, p->data});
    cached_bytes_ += bytes;
  } else {
    std::free(p->data);
  }
  delete p;
}

void KvPool::release(Page* p) {
  std::lock_guard<std::recursive_mutex> lk(mu_);
  if (p->refs <= 0) fail(ErrorKind::Internal, "kv page released more often than retained");
  if (--p->refs == 0) free_page_memory(p);
}

CrossEntry* KvPool::find_cross(const std::vector<float>& prompt) {
  std::lock_guard<std::recursive_mutex> lk(mu_);
  auto it = cross_.find(hash_floats(prompt));
  if (it == cross_.end()) return nullptr;
  for (CrossEntry* e : it->second)
    if (e->prompt.size() == prompt.size() &&
        std::memcmp(e->prompt.data(), prompt.data(), prompt.size() * sizeof(float)) == 0) {
      ++e->refs;
      return e;
    }
  return nullptr;
}

CrossEntry* KvPool::add_cross(std::vector<float> prompt, CrossKv&& kv) {
  std::lock_guard<std::recursive_mutex> lk(mu_);
  CrossEntry* e = new CrossEntry();
  e->id = next_id_++;
  e->refs = 1;
  e->hash = hash_floats(prompt);
  e->prompt = std::move(prompt);
  e->kv = std::move(kv);
  cross_[e->hash].push_back(e);
  used_ += e->kv.bytes();
  return e;
}

void KvPool::retain(CrossEntry* e) {
  std::lock_guard<std::recursive_mutex> lk(mu_);
  ++e->refs;
}

void KvPool::release(CrossEntry* e) {
  std::lock_guard<std::recursive_mutex> lk(mu_);
  if (e->refs <= 0) fail(ErrorKind::Internal, "cross-attention cache released more often than retained");
  if (--e->refs > 0) return;
  used_ -= e->kv.bytes();
  auto& v = cross_[e->hash];
  v.erase(std::find(v.begin(), v.end(), e));
  if (v.empty()) cross_.erase(e->hash);
  delete e;
}

void KvPool::add_holder(const KvHolder* h) {
  std::lock_guard<std::recursive_mutex> lk(mu_);
  holders_.push_back(h);
}

void KvPool::remove_holder(const KvHolder* h) {
  std::lock_guard<std::recursive_mutex> lk(mu_);
  auto it = std::find(holders_.begin(), holders_.end(), h);
  if (it != holders_.end()) holders_.erase(it);
}

size_t KvPool::reserved_bytes() const {
  std::lock_guard<std::recursive_mutex> lk(mu_);
  size_t r = 0;
  for (const KvHolder* h : holders_) {
    const size_t q = h->quota_bytes(), e = h->exclusive_bytes();
    if (q > e) r += q - e;
  }
  return r;
}

void KvPool::check_budget(const std::string& what, size_t need) const {
  std::lock_guard<std::recursive_mutex> lk(mu_);
  const size_t reserved = reserved_bytes();
  if (used_ + reserved <= budget_) return;
  fail(ErrorKind::KvBudget, "KV budget exceeded: " + what + " needs " + mib(need) + "; the pool's budget is " +
                                mib(budget_) + ", of which " + mib(used_) + " are in use and " + mib(reserved) +
                                " are reserved by " + std::to_string(holders_.size()) +
                                " session(s) (raise kv.budgetBytes, use a window, or int8/bf16 KV)");
}

KvPoolStats KvPool::stats(const PageGeometry& dg) const {
  std::lock_guard<std::recursive_mutex> lk(mu_);
  KvPoolStats s;
  s.budget = budget_;
  s.used = used_;
  s.reserved = reserved_bytes();
  s.available = budget_ > used_ + s.reserved ? budget_ - used_ - s.reserved : 0;
  s.sessions = int(holders_.size());
  s.page_bytes = dg.page_bytes();
  for (const Page* p : pages_) {
    ++s.pages_used;
    s.page_refs += p->refs;
    if (p->refs > 1) ++s.pages_shared;
    const size_t b = p->geo.page_bytes();
    if (p->geo.type == KvType::F32) s.bytes_f32 += b;
    else if (p->geo.type == KvType::BF16) s.bytes_bf16 += b;
    else s.bytes_i8 += b;
    s.payload += p->geo.payload_bytes();
    s.waste += b - p->geo.payload_bytes();
  }
  for (auto& kv : cross_)
    for (const CrossEntry* e : kv.second) {
      ++s.cross_caches;
      s.cross_bytes += e->kv.bytes();
    }
  s.pages_free = s.page_bytes ? int64_t(s.available / s.page_bytes) : 0;
  s.pages_cached = int64_t(cache_.size());
  return s;
}

}  // namespace wc
