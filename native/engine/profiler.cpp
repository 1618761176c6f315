#include "engine/profiler.h"

#include <cstdio>

namespace wc {

std::string format_stage_times(const StageTimes& t) {
  std::string out;
  const double total = t.total();
  for (int i = 0; i < int(Stage::Count); ++i) {
    char buf[96];
    std::snprintf(buf, sizeof buf, "%s%s %.1f%% %.3f ms", i ? ", " : "", stage_name(Stage(i)),
                  total > 0 ? 100.0 * t.sec[i] / total : 0.0, t.sec[i] * 1e3);
    out += buf;
  }
  return out;
}

}  // namespace wc
