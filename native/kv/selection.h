// Which committed frames a block attends to. One mechanism covers every policy: a frame
// is selected when it is a sink frame (< sink), one of the `recent` frames just before
// the block, within the sliding `span` (the block's own frames counted: a block of F
// frames sees the span − F frames before it), in the explicit list, or in one of the
// ranges [a, b) — or always, for a global selection. Self Forcing's rolling window
// (local_attn_size L, sink_size S) is {sink = S, span = L − S}: a block of F frames sees
// L − S − F past frames, whatever its size, as upstream's cache of L frames holds the
// block and what came before it. Windows only move forward, so a frame no later block
// (of at least the session's smallest block size) can select is freed at once.
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
  int64_t span = 0;                                  // 0: none
  std::vector<int64_t> frames;                       // sorted, unique
  std::vector<std::pair<int64_t, int64_t>> ranges;  // [a, b)

  static Selection global() { return Selection(); }
  // local_attn_size = -1 → global. Throws a Config/Argument error for an impossible window.
  static Selection window(int local_attn_size, int sink_size, int block_frames, const std::string& where);

  // Can a block of `block_frames` frames starting at `block_start` attend to `frame`
  // (< block_start)? With block_frames the smallest block a session takes: can that block
  // or any later one?
  bool reachable(int64_t frame, int64_t block_start, int block_frames) const;
  // Upper bound of the frames a session whose blocks have at least `min_block_frames`
  // frames holds under this selection (-1: unbounded).
  int64_t max_frames(int min_block_frames) const;
  void normalise();  // sorts/uniques frames, validates ranges
  std::string describe() const;
};

}  // namespace wc
