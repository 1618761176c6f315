// safetensors reader: mmap the file, validate the header completely before any
// tensor byte is touched (offsets, sizes, dtypes, overlaps), then hand out views.
// Format: u64 little-endian header length N, N bytes of JSON
// {"name": {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]}, "__metadata__": {..}},
// then the data block that the offsets index.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "core/dtype.h"

namespace wc {

struct TensorInfo {
  std::string name;
  DType dtype = DType::Unknown;
  std::string dtype_str;
  std::vector<int64_t> shape;
  int64_t numel = 0;
  const uint8_t* data = nullptr;  // into the mapping; may be unaligned
  size_t nbytes = 0;
};

class SafeTensors {
 public:
  ~SafeTensors();
  // Maps and validates a file. Errors (wc::Error kind Weights) name the file.
  static std::unique_ptr<SafeTensors> open(const std::string& path);
  // Validates an in-memory image (copied); `name` stands for the path in errors.
  static std::unique_ptr<SafeTensors> from_bytes(const uint8_t* data, size_t size, const std::string& name);

  const std::string& path() const { return path_; }
  const std::vector<TensorInfo>& tensors() const { return tensors_; }
  const TensorInfo* find(const std::string& name) const;
  const std::vector<std::pair<std::string, std::string>>& metadata() const { return metadata_; }
  size_t file_size() const { return size_; }
  // Gives the pages that lie wholly inside `t`'s bytes back to the kernel (a loader calls
  // it once it has converted the tensor, so a checkpoint is not resident beside the
  // weights packed from it). A later read of `t` faults the bytes in again from the file;
  // for an in-memory image it does nothing.
  void release(const TensorInfo& t) const;

 private:
  SafeTensors() = default;
  void parse();

  std::string path_;
  const uint8_t* base_ = nullptr;
  size_t size_ = 0;
  bool mapped_ = false;
  std::vector<uint8_t> owned_;
  std::vector<TensorInfo> tensors_;
  std::vector<std::pair<std::string, std::string>> metadata_;
};

}  // namespace wc
