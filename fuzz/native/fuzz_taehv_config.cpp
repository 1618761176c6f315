// libFuzzer harness: the TAEHV decoder's config.json on arbitrary text. A bad config must
// be a wc::Error (kind Config); one that parses has sizes in the documented ranges (a
// "geometry" map too).
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
    // A geometry decoder: channels and scale in range, one frame per latent frame, and the map
    // an integer resize of every reading conv's input (whatever the latent size).
    const wc::TaehvGeometry& g = c.geometry;
    if (g.channels < 0 || g.channels > 1024) std::abort();
    if (g.channels) {
      if (g.scale < 1 || g.samples < 1 || !(g.near > 0) || c.t_upscale() != 1) std::abort();
      for (int i = 0; i < 4; ++i) {
        const int64_t in = int64_t(c.conv_input_scale(i)) * g.scale, num = c.space_scale();
        if (num % in != 0 && in % num != 0) std::abort();
      }
      int hm = 0, wm = 0;
      const int lat = g.scale;  // a latent size whose frame the scale divides
      wc::taehv_geometry_size(c, lat, lat, hm, wm);
      if (hm != lat * c.space_scale() / g.scale || wm != hm) std::abort();
    }
  } catch (const wc::Error& e) {
    if (e.kind() != wc::ErrorKind::Config) std::abort();
  }
  return 0;
}
