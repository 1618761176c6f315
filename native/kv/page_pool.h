// The KV memory of a model: one pool with a byte budget holding immutable, refcounted
// frame pages (the committed K and V of one latent frame of one session, all layers,
// in one allocation; f32, bf16 or int8 with per-token-per-head scales) and the shared
// cross-attention caches of prompts.
//
// Admission: every session declares a quota (the bytes its selection can ever hold,
// plus one prompt cache); the pool guarantees Σ live bytes + Σ each session's unused
// quota ≤ budget. A session whose selection is bounded (a window) therefore never fails
// once admitted; a global one grows past its quota only while the budget allows. Every
// change is made, checked and rolled back on failure, so a refused operation leaves
// every session as it was.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "kernels/attention.h"
#include "kv/cross_kv.h"

namespace wc {

struct PageGeometry {
  int layers = 0, tokens = 0, dim = 0, heads = 0;
  KvType type = KvType::F32;
  size_t elem() const { return type == KvType::F32 ? 4 : type == KvType::BF16 ? 2 : 1; }
  size_t kv_bytes() const;     // one K (or V) of one layer, 64-byte aligned
  size_t scale_bytes() const;  // one layer's K (or V) scales (int8 only), aligned
  size_t page_bytes() const;   // the allocation
  size_t payload_bytes() const;  // bytes that hold data
  bool operator==(const PageGeometry& o) const {
    return layers == o.layers && tokens == o.tokens && dim == o.dim && heads == o.heads && type == o.type;
  }
};

const char* kv_type_name(KvType t);

struct Page {
  uint64_t id = 0;
  int refs = 0;
  PageGeometry geo;
  uint8_t* data = nullptr;
  uint8_t* k(int layer) const { return data + size_t(layer) * layer_stride(); }
  uint8_t* v(int layer) const { return k(layer) + geo.kv_bytes(); }
  float* k_scale(int layer) const { return reinterpret_cast<float*>(k(layer) + 2 * geo.kv_bytes()); }
  float* v_scale(int layer) const { return k_scale(layer) + geo.scale_bytes() / sizeof(float); }
  size_t layer_stride() const { return 2 * geo.kv_bytes() + 2 * geo.scale_bytes(); }
  KvSpan span(int layer) const;
};

struct CrossEntry {
  uint64_t id = 0;
  int refs = 0;
  std::vector<float> prompt;  // the embedding it was computed from (the key)
  uint64_t hash = 0;
  CrossKv kv;
};

// A session's claim on the pool (implemented by SessionKv).
class KvHolder {
 public:
  virtual ~KvHolder() = default;
  virtual size_t quota_bytes() const = 0;
  virtual size_t exclusive_bytes() const = 0;  // bytes of what it holds alone
};

struct KvPoolStats {
  size_t budget = 0, used = 0, reserved = 0, available = 0;
  int64_t pages_used = 0, pages_shared = 0, pages_free = 0, pages_cached = 0, page_refs = 0;
  size_t bytes_f32 = 0, bytes_bf16 = 0, bytes_i8 = 0;
  size_t cross_caches = 0, cross_bytes = 0;
  size_t payload = 0, waste = 0;
  int sessions = 0;
  size_t page_bytes = 0;  // of the default geometry
};

class KvPool {
 public:
  explicit KvPool(size_t budget_bytes);
  ~KvPool();
  KvPool(const KvPool&) = delete;
  KvPool& operator=(const KvPool&) = delete;

  std::recursive_mutex& mutex() const { return mu_; }
  size_t budget() const { return budget_; }

  Page* alloc_page(const PageGeometry& g);  // refs = 1; no budget check (callers check after)
  void retain(Page* p);
  void release(Page* p);

  // A cached prompt K/V equal to `prompt` (retained), or null.
  CrossEntry* find_cross(const std::vector<float>& prompt);
  CrossEntry* add_cross(std::vector<float> prompt, CrossKv&& kv);  // refs = 1
  void retain(CrossEntry* e);
  void release(CrossEntry* e);

  void add_holder(const KvHolder* h);
  void remove_holder(const KvHolder* h);
  size_t used_bytes() const { return used_; }
  size_t reserved_bytes() const;  // Σ holders' unused quota
  // Throws a KvBudget error (naming `what` and `need` bytes) when live + reserved > budget.
  void check_budget(const std::string& what, size_t need) const;

  KvPoolStats stats(const PageGeometry& default_geometry) const;

 private:
  void free_page_memory(Page* p);
  size_t budget_;
  size_t used_ = 0;
  uint64_t next_id_ = 1;
  mutable std::recursive_mutex mu_;
  std::unordered_set<Page*> pages_;
  std::unordered_map<uint64_t, std::vector<CrossEntry*>> cross_;  // by hash
  std::vector<const KvHolder*> holders_;
  struct Cached {
    size_t bytes;
    uint8_t* data;
  };
  std::vector<Cached> cache_;  // freed page memory kept for reuse (within the budget)
  size_t cached_bytes_ = 0;
};

}  // namespace wc
