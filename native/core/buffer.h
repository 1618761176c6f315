// 64-byte aligned float buffers (the engine's only heap storage for tensors).
#pragma once
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <new>
#include <utility>

namespace wc {

template <typename T>
class AlignedBuffer {
 public:
  AlignedBuffer() = default;
  explicit AlignedBuffer(size_t n) { resize(n); }
  ~AlignedBuffer() { std::free(p_); }
  AlignedBuffer(const AlignedBuffer& o) { resize(o.n_); if (n_) std::memcpy(p_, o.p_, n_ * sizeof(T)); }
  AlignedBuffer& operator=(const AlignedBuffer& o) {
    if (this != &o) { resize(o.n_); if (n_) std::memcpy(p_, o.p_, n_ * sizeof(T)); }
    return *this;
  }
  AlignedBuffer(AlignedBuffer&& o) noexcept : p_(o.p_), n_(o.n_), cap_(o.cap_) { o.p_ = nullptr; o.n_ = o.cap_ = 0; }
  AlignedBuffer& operator=(AlignedBuffer&& o) noexcept {
    std::swap(p_, o.p_); std::swap(n_, o.n_); std::swap(cap_, o.cap_);
    return *this;
  }
  // Grows capacity when needed (contents are not preserved on growth); never shrinks.
  void resize(size_t n) {
    if (n > cap_) {
      std::free(p_);
      size_t bytes = ((n * sizeof(T) + 63) / 64) * 64;
      p_ = static_cast<T*>(std::aligned_alloc(64, bytes));
      if (!p_) throw std::bad_alloc();
      cap_ = n;
    }
    n_ = n;
  }
  void zero() { if (n_) std::memset(p_, 0, n_ * sizeof(T)); }
  T* data() { return p_; }
  const T* data() const { return p_; }
  size_t size() const { return n_; }
  size_t capacity_bytes() const { return cap_ * sizeof(T); }
  T& operator[](size_t i) { return p_[i]; }
  const T& operator[](size_t i) const { return p_[i]; }

 private:
  T* p_ = nullptr;
  size_t n_ = 0, cap_ = 0;
};

using FloatBuffer = AlignedBuffer<float>;

}  // namespace wc
