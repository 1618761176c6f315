// Per-stage timing summaries of the engine (what `npm run bench -- block` prints); the
// trace events themselves are recorded through core/trace.h.
#pragma once
#include <string>

#include "core/stage_times.h"
#include "core/trace.h"

namespace wc {

// "gemm 61.2% 12.3 ms, attention ..." for one set of stage times.
std::string format_stage_times(const StageTimes& t);

}  // namespace wc
