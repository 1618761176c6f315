#include "model/checkpoint.h"

#include <dirent.h>

#include <algorithm>
#include <set>

#include "core/dtype.h"
#include "core/error.h"

namespace wc {

std::string shape_str(const std::vector<int64_t>& s) {
  std::string o = "[";
  for (size_t i = 0; i < s.size(); ++i) o += (i ? ", " : "") + std::to_string(s[i]);
  return o + "]";
}

namespace {

// Files of a model directory that hold data other than weights (the prompt table, the
// opening latents of a world): never read as checkpoint shards.
bool is_side_file(const std::string& n) { return n == "prompts.safetensors" || n == "openings.safetensors"; }

std::string list_of(const std::vector<std::string>& v) {
  std::string list;
  for (size_t i = 0; i < v.size() && i < 8; ++i) list += (i ? ", " : "") + v[i];
  if (v.size() > 8) list += ", … (" + std::to_string(v.size()) + " in all)";
  return list;
}

}  // namespace

Checkpoint::Checkpoint(const std::string& dir, const std::string& what, const std::vector<std::string>& ignore)
    : what_(what) {
  if (DIR* dp = opendir(dir.c_str())) {
    while (dirent* e = readdir(dp)) {
      std::string n = e->d_name;
      if (n.size() > 12 && n.compare(n.size() - 12, 12, ".safetensors") == 0 && !is_side_file(n)) files_.push_back(dir + "/" + n);
    }
    closedir(dp);
  } else {
    fail(ErrorKind::Weights, dir + ": cannot open " + what + " directory");
  }
  std::sort(files_.begin(), files_.end());
  if (files_.empty()) fail(ErrorKind::Weights, dir + ": no *.safetensors file in the " + what + " directory");
  for (auto& f : files_) {
    sts_.push_back(SafeTensors::open(f));
    for (auto& t : sts_.back()->tensors()) {
      bool skip = false;
      for (auto& p : ignore) skip |= t.name.compare(0, p.size(), p) == 0;
      if (skip) continue;
      auto it = all_.find(t.name);
      if (it != all_.end())
        fail(ErrorKind::Weights, f + ": tensor \"" + t.name + "\" also appears in " + it->second.file->path());
      all_[t.name] = {&t, sts_.back().get()};
    }
  }
}

void Checkpoint::validate(const std::vector<ExpectedTensor>& expected,
                          const std::function<bool(const ExpectedTensor&, const TensorInfo&)>& shape_ok) const {
  std::set<std::string> want;
  std::vector<std::string> missing;
  for (auto& e : expected) {
    want.insert(e.name);
    auto it = all_.find(e.name);
    if (it == all_.end()) {
      missing.push_back("\"" + e.name + "\"");
      continue;
    }
    const TensorInfo& t = *it->second.info;
    if (t.shape != e.shape && !(shape_ok && shape_ok(e, t)))
      fail(ErrorKind::Weights, it->second.file->path() + ": tensor \"" + e.name + "\" has shape " + shape_str(t.shape) +
                                   ", expected " + shape_str(e.shape) + " for this " + what_ + " config");
    if (t.dtype != DType::F32 && t.dtype != DType::F16 && t.dtype != DType::BF16 && t.dtype != DType::F64)
      fail(ErrorKind::Weights, it->second.file->path() + ": tensor \"" + e.name + "\" has dtype " + t.dtype_str +
                                   "; weights must be F32, F16, BF16 or F64");
  }
  if (!missing.empty())
    fail(ErrorKind::Weights, files_[0] + (files_.size() > 1 ? " (and other shards)" : "") + ": missing tensor(s) " +
                                 list_of(missing));
  std::vector<std::string> extra;
  for (auto& kv : all_)
    if (!want.count(kv.first)) extra.push_back(kv.second.file->path() + ": \"" + kv.first + "\"");
  if (!extra.empty())
    fail(ErrorKind::Weights, "unexpected tensor(s) not used by this " + what_ + " config: " + list_of(extra));
}

const Checkpoint::Entry& Checkpoint::entry(const std::string& name) const {
  auto it = all_.find(name);
  if (it == all_.end()) fail(ErrorKind::Internal, "checkpoint: tensor \"" + name + "\" was not validated");
  return it->second;
}

const TensorInfo& Checkpoint::at(const std::string& name) const { return *entry(name).info; }

const float* Checkpoint::to_f32(const std::string& name, FloatBuffer& buf) const {
  const Entry& e = entry(name);
  const TensorInfo& t = *e.info;
  buf.resize(size_t(t.numel));
  convert_to_f32(t.data, t.dtype, size_t(t.numel), buf.data());
  e.file->release(t);
  return buf.data();
}

}  // namespace wc
