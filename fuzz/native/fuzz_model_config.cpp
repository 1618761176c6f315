// libFuzzer harness: config.json of a model (json.cpp + config.cpp, the Wan DiT keys, the
// causal-loop keys, the action space and the Matrix-Game module) on arbitrary text. A bad
// config must be a wc::Error (kind Config); a config that parses must be self-consistent.
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "core/error.h"
#include "model/config.h"
#include "model/json.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    const wc::Json j = wc::Json::parse(reinterpret_cast<const char*>(data), size, "<fuzz>");
    const wc::ModelConfig c = wc::parse_model_config(j, "<fuzz>");
    if (c.dim <= 0 || c.num_heads <= 0 || c.num_layers <= 0) std::abort();
    if (c.dim % c.num_heads != 0 || c.head_dim() % 2 != 0) std::abort();
  } catch (const wc::Error& e) {
    if (e.kind() != wc::ErrorKind::Config) std::abort();
  }
  return 0;
}
