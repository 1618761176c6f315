// libFuzzer harness: the TAEHV decoder's config.json on arbitrary text. A bad config must
// be a wc::Error (kind Config); one that parses has sizes in the documented ranges.
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "core/error.h"
#include "model/json.h"
#include "model/taehv.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    const wc::Json j = wc::Json::parse(reinterpret_cast<const char*>(data), size, "<fuzz>");
    const wc::TaehvConfig c = wc::parse_taehv_config(j, "<fuzz>");
    if (c.latent_channels < 1 || c.image_channels < 1 || c.image_channels > 4 || c.patch_size < 1) std::abort();
    for (int f : c.n_f)
      if (f < 1) std::abort();
    if (c.space_scale() < 1 || c.t_upscale() < 1 || c.frames_to_trim() < 0) std::abort();
  } catch (const wc::Error& e) {
    if (e.kind() != wc::ErrorKind::Config) std::abort();
  }
  return 0;
}
