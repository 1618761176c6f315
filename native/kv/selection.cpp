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
  s.span = int64_t(L) - S;
  return s;
}

bool Selection::reachable(int64_t f, int64_t block_start, int block_frames) const {
  if (all) return true;
  if (f < sink) return true;
  if (recent > 0 && f >= block_start - recent) return true;
  if (span > block_frames && f >= block_start - (span - block_frames)) return true;
  if (std::binary_search(frames.begin(), frames.end(), f)) return true;
  for (auto& r : ranges)
    if (f >= r.first && f < r.second) return true;
  return false;
}

int64_t Selection::max_frames(int min_block_frames) const {
  if (all) return -1;
  int64_t n = sink + std::max(recent, span - min_block_frames) + int64_t(frames.size());
  for (auto& r : ranges) n += r.second - r.first;
  return n;
}

void Selection::normalise() {
  if (sink < 0 || recent < 0 || span < 0) fail(ErrorKind::Argument, "selection: sink, recent and span must be >= 0");
  for (int64_t f : frames)
    if (f < 0) fail(ErrorKind::Argument, "selection: frame indices must be >= 0");
  std::sort(frames.begin(), frames.end());
  frames.erase(std::unique(frames.begin(), frames.end()), frames.end());
  for (auto& r : ranges)
    if (r.first < 0 || r.second < r.first) fail(ErrorKind::Argument, "selection: ranges must be [a, b) with 0 <= a <= b");
  if (max_frames(1) > (int64_t(1) << 24)) fail(ErrorKind::Argument, "selection: too many frames");
}

std::string Selection::describe() const {
  if (all) return "global";
  std::string s = span > 0 ? "local_attn_size " + std::to_string(span + sink) + ", sink " + std::to_string(sink)
                           : "sink " + std::to_string(sink);
  if (recent > 0 || span == 0) s += ", recent " + std::to_string(recent);
  if (!frames.empty()) s += ", " + std::to_string(frames.size()) + " listed frames";
  if (!ranges.empty()) s += ", " + std::to_string(ranges.size()) + " ranges";
  return s;
}

}  // namespace wc
