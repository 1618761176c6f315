// Which committed frames a block attends to. One mechanism covers every policy: a frame
// is selected when it is a sink frame (< sink), one of the `recent` frames just before
// the block, in the explicit list, or in one of the ranges [a, b) — or always, for a
// global selection. Self Forcing's rolling window (local_attn_size L, sink_size S, block
// of F frames) is {sink = S, recent = L − S − F}. Windows only move forward, so a frame
// a block starting at s cannot select is never selected again: it is freed at once.
#pragma once
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace wc {

struct Selection {
  bool all = true;
  int64_t sink = 0;
  int64_t recent = 0;
  std::vector<int64_t> frames;                       // sorted, unique
  std::vector<std::pair<int64_t, int64_t>> ranges;  // [a, b)

  static Selection global() { return Selection(); }
  // local_attn_size = -1 → global. Throws a Config/Argument error for an impossible window.
  static Selection window(int local_attn_size, int sink_size, int block_frames, const std::string& where);

  // Can a block starting at `block_start` (or any later block) attend to `frame` (< block_start)?
  bool reachable(int64_t frame, int64_t block_start) const;
  // Upper bound of the frames a session holds under this selection (-1: unbounded).
  int64_t max_frames() const;
  void normalise();  // sorts/uniques frames, validates ranges
  std::string describe() const;
};

}  // namespace wc
