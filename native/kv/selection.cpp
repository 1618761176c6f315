#include "kv/selection.h"

#include <algorithm>

#include "core/error.h"
#include "model/config.h"

namespace wc {

Selection Selection::window(int L, int S, int F, const std::string& where) {
  validate_window(L, S, F, where);
  Selection s;
  if (L < 0) return s;
  s.all = false;
  s.sink = S;
  s.recent = int64_t(L) - S - F;
  return s;
}

bool Selection::reachable(int64_t f, int64_t block_start) const {
  if (all) return true;
  if (f < sink) return true;
  if (recent > 0 && f >= block_start - recent) return true;
  if (std::binary_search(frames.begin(), frames.end(), f)) return true;
  for (auto& r : ranges)
    if (f >= r.first && f < r.second) return true;
  return false;
}

int64_t Selection::max_frames() const {
  if (all) return -1;
  int64_t n = sink + recent + int64_t(frames.size());
  for (auto& r : ranges) n += r.second - r.first;
  return n;
}

void Selection::normalise() {
  if (sink < 0 || recent < 0) fail(ErrorKind::Argument, "selection: sink and recent must be >= 0");
  for (int64_t f : frames)
    if (f < 0) fail(ErrorKind::Argument, "selection: frame indices must be >= 0");
  std::sort(frames.begin(), frames.end());
  frames.erase(std::unique(frames.begin(), frames.end()), frames.end());
  for (auto& r : ranges)
    if (r.first < 0 || r.second < r.first) fail(ErrorKind::Argument, "selection: ranges must be [a, b) with 0 <= a <= b");
  if (max_frames() > (int64_t(1) << 24)) fail(ErrorKind::Argument, "selection: too many frames");
}

std::string Selection::describe() const {
  if (all) return "global";
  std::string s = "sink " + std::to_string(sink) + ", recent " + std::to_string(recent);
  if (!frames.empty()) s += ", " + std::to_string(frames.size()) + " listed frames";
  if (!ranges.empty()) s += ", " + std::to_string(ranges.size()) + " ranges";
  return s;
}

}  // namespace wc
