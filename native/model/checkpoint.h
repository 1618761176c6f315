// The *.safetensors files of a model (or decoder) directory, merged into one name →
// tensor map and validated as a whole against the tensors a config expects before
// anything is converted: missing, extra, mis-shaped or non-float tensors and names that
// appear in two shards are Weights errors naming the file and the tensor.
#pragma once
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "core/buffer.h"
#include "model/safetensors.h"

namespace wc {

// A tensor name and shape a config expects (for loaders, converters and tests).
struct ExpectedTensor {
  std::string name;
  std::vector<int64_t> shape;
};

std::string shape_str(const std::vector<int64_t>& s);

class Checkpoint {
 public:
  // Maps every *.safetensors file of `dir` (sorted, so shards load in a stable order);
  // tensors whose names start with one of `ignore_prefixes` are left out. `what` names the
  // directory's role in errors ("model", "decoder").
  Checkpoint(const std::string& dir, const std::string& what, const std::vector<std::string>& ignore_prefixes = {});

  // Every expected tensor present with an accepted shape and a float dtype, and nothing
  // else. `shape_ok` may accept shapes other than the expected one (default: equal only).
  void validate(const std::vector<ExpectedTensor>& expected,
                const std::function<bool(const ExpectedTensor&, const TensorInfo&)>& shape_ok = nullptr) const;

  const TensorInfo& at(const std::string& name) const;
  bool has(const std::string& name) const { return all_.count(name) != 0; }
  // The tensor converted to f32 into `buf` (resized); returns buf.data(). Its mapped pages
  // are handed back then (SafeTensors::release: `buf` is the copy the loader keeps), so a
  // load peaks at the packed weights, not at them plus the whole checkpoint.
  const float* to_f32(const std::string& name, FloatBuffer& buf) const;

 private:
  std::string what_;
  std::vector<std::string> files_;
  std::vector<std::unique_ptr<SafeTensors>> sts_;
  struct Entry {
    const TensorInfo* info;
    const SafeTensors* file;
  };
  std::map<std::string, Entry> all_;
  const Entry& entry(const std::string& name) const;  // a validated tensor (Internal error otherwise)
};

}  // namespace wc
