#include "model/safetensors.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>

#include "core/error.h"
#include "model/json.h"

namespace wc {
namespace {

constexpr uint64_t kMaxHeader = 100ull << 20;  // 100 MiB, as the reference implementation limits it

[[noreturn]] void werr(const std::string& path, const std::string& msg) { fail(ErrorKind::Weights, path + ": " + msg); }

bool exact_uint(const Json& j, uint64_t& out) {
  if (!j.is_number()) return false;
  double d = j.as_number();
  if (!(d >= 0) || d > 9007199254740992.0 || std::floor(d) != d) return false;
  out = uint64_t(d);
  return true;
}

}  // namespace

SafeTensors::~SafeTensors() {
  if (mapped_ && base_) munmap(const_cast<uint8_t*>(base_), size_);
}

std::unique_ptr<SafeTensors> SafeTensors::open(const std::string& path) {
  std::unique_ptr<SafeTensors> st(new SafeTensors());
  st->path_ = path;
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) werr(path, std::string("cannot open: ") + std::strerror(errno));
  struct stat sb;
  if (fstat(fd, &sb) != 0) {
    int e = errno;
    ::close(fd);
    werr(path, std::string("cannot stat: ") + std::strerror(e));
  }
  if (!S_ISREG(sb.st_mode)) {
    ::close(fd);
    werr(path, "not a regular file");
  }
  st->size_ = size_t(sb.st_size);
  if (st->size_ < 8) {
    ::close(fd);
    werr(path, "file is too small to be safetensors (" + std::to_string(st->size_) + " bytes; truncated?)");
  }
  void* p = mmap(nullptr, st->size_, PROT_READ, MAP_PRIVATE, fd, 0);
  ::close(fd);
  if (p == MAP_FAILED) werr(path, std::string("mmap failed: ") + std::strerror(errno));
  st->base_ = static_cast<const uint8_t*>(p);
  st->mapped_ = true;
  st->parse();
  return st;
}

std::unique_ptr<SafeTensors> SafeTensors::from_bytes(const uint8_t* data, size_t size, const std::string& name) {
  std::unique_ptr<SafeTensors> st(new SafeTensors());
  st->path_ = name;
  st->owned_.assign(data, data + size);
  st->base_ = st->owned_.data();
  st->size_ = size;
  if (size < 8) werr(name, "file is too small to be safetensors (" + std::to_string(size) + " bytes; truncated?)");
  st->parse();
  return st;
}

void SafeTensors::release(const TensorInfo& t) const {
  if (!mapped_ || t.nbytes == 0) return;
  static const uintptr_t page = uintptr_t(sysconf(_SC_PAGESIZE));
  const uintptr_t b = (uintptr_t(t.data) + page - 1) / page * page;
  const uintptr_t e = (uintptr_t(t.data) + t.nbytes) / page * page;
  // Advice only: where the kernel refuses, the pages stay mapped and nothing is lost.
  if (e > b) madvise(reinterpret_cast<void*>(b), e - b, MADV_DONTNEED);
}

const TensorInfo* SafeTensors::find(const std::string& name) const {
  for (auto& t : tensors_) if (t.name == name) return &t;
  return nullptr;
}

void SafeTensors::parse() {
  uint64_t hlen = 0;
  for (int i = 0; i < 8; ++i) hlen |= uint64_t(base_[i]) << (8 * i);
  if (hlen > kMaxHeader) werr(path_, "header length " + std::to_string(hlen) + " is implausible (limit 100 MiB)");
  if (hlen > size_ - 8)
    werr(path_, "header length " + std::to_string(hlen) + " runs past the end of the file (" + std::to_string(size_) +
                    " bytes; truncated?)");
  if (hlen < 2) werr(path_, "header is empty");
  const char* hdr = reinterpret_cast<const char*>(base_ + 8);
  Json j = Json::parse(hdr, size_t(hlen), path_ + " header", ErrorKind::Weights);
  if (!j.is_object()) werr(path_, "header is not a JSON object");
  const uint8_t* data = base_ + 8 + hlen;
  const uint64_t data_size = size_ - 8 - hlen;
  std::vector<std::pair<uint64_t, uint64_t>> ranges;
  for (auto& m : j.members()) {
    const std::string& name = m.first;
    const Json& e = m.second;
    if (name == "__metadata__") {
      if (!e.is_object()) werr(path_, "__metadata__ is not an object");
      for (auto& kv : e.members()) {
        if (!kv.second.is_string()) werr(path_, "__metadata__ value for \"" + kv.first + "\" is not a string");
        metadata_.emplace_back(kv.first, kv.second.as_string());
      }
      continue;
    }
    const std::string where = "tensor \"" + name + "\"";
    if (!e.is_object()) werr(path_, where + ": entry is not an object");
    const Json* dt = e.find("dtype");
    const Json* sh = e.find("shape");
    const Json* off = e.find("data_offsets");
    if (!dt || !dt->is_string()) werr(path_, where + ": missing or non-string dtype");
    if (!sh || !sh->is_array()) werr(path_, where + ": missing or non-array shape");
    if (!off || !off->is_array() || off->items().size() != 2) werr(path_, where + ": data_offsets must be [begin, end]");
    TensorInfo t;
    t.name = name;
    t.dtype_str = dt->as_string();
    t.dtype = dtype_from_safetensors(t.dtype_str);
    if (t.dtype == DType::Unknown) werr(path_, where + ": unsupported dtype \"" + t.dtype_str + "\"");
    if (sh->items().size() > 8) werr(path_, where + ": more than 8 dimensions");
    uint64_t numel = 1;
    for (auto& d : sh->items()) {
      uint64_t v;
      if (!exact_uint(d, v)) werr(path_, where + ": shape entries must be non-negative integers");
      if (v != 0 && numel > (uint64_t(1) << 50) / v) werr(path_, where + ": shape is too large");
      numel *= v;
      t.shape.push_back(int64_t(v));
    }
    uint64_t b, en;
    if (!exact_uint(off->items()[0], b) || !exact_uint(off->items()[1], en))
      werr(path_, where + ": data_offsets must be non-negative integers");
    if (en < b) werr(path_, where + ": data_offsets end before they begin");
    const uint64_t want = numel * dtype_size(t.dtype);
    if (en - b != want)
      werr(path_, where + ": data_offsets span " + std::to_string(en - b) + " bytes but " + t.dtype_str + " shape needs " +
                      std::to_string(want));
    if (en > data_size)
      werr(path_, where + ": data runs past the end of the file (needs byte " + std::to_string(en) + " of a " +
                      std::to_string(data_size) + "-byte data block; truncated?)");
    t.numel = int64_t(numel);
    t.data = data + b;
    t.nbytes = size_t(want);
    ranges.emplace_back(b, en);
    tensors_.push_back(std::move(t));
  }
  std::sort(ranges.begin(), ranges.end());
  for (size_t i = 1; i < ranges.size(); ++i)
    if (ranges[i].first < ranges[i - 1].second && ranges[i].second > ranges[i].first)
      werr(path_, "tensor data ranges overlap");
}

}  // namespace wc
