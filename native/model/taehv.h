// TAEHV video decoder (madebyollin/taehv, the base decoder; e.g. taew2_1 for the Wan 2.1
// latent space): weights shared and read-only (TaehvWeights), per-stream state separate
// (TaehvStream), as model and session are. tools/reference/taehv.py is the executable
// reference; its docstring lists the layers with their upstream nn.Sequential indices,
// which are the tensor names here (`decoder.1.weight`, `decoder.3.conv.0.weight`, ...).
//
// Decoder config (a directory's config.json, or the object a world model's "decoder" key
// holds) — upstream constructor arguments plus the widths upstream hard-codes:
//   type                   "taehv" (optional)
//   latent_channels        16      channels of a latent frame
//   image_channels         3       channels of an output frame (RGB)
//   patch_size             1       pixel-shuffle factor of the last conv (taehv1_5 / taew2_2: 2)
//   n_f                    [256, 128, 64, 64]  widths of the three stages and the last conv's input
//   decoder_time_upscale   [false, true, true] per stage: TGrow doubles the frames (2 entries = [false, a, b])
//   decoder_space_upscale  [true, true, true]  per stage: nearest x2 in H and W
//   trim_first_frames      true    drop the stream's first t_upscale - 1 frames (upstream's frames_to_trim)
//   arch_variant           null    ("super" decoders are not supported)
//   geometry               null    (worldcast) {"channels": G, "scale": s, "samples": k, "near": n}:
//                                  the decoder also takes, per output frame, a geometry map
//                                  [G][H / s][W / s] (H x W = the frame size) and each plain conv
//                                  (decoder.1, .8, .14, .20, .22: the ones outside the MemBlocks)
//                                  reads it as G more input channels after its own,
//                                  conv(cat[x, resize(map)]): average-pooled by an integer factor
//                                  to the conv's input size where that is smaller, repeated
//                                  (nearest) where larger, as is where equal. channels: integer in
//                                  [1, 1024] (required); scale: integer in [1, 4096] (default 1),
//                                  and every conv's input size must be the map's times or divided
//                                  by an integer; samples (integer in [1, 1024], default 1) and
//                                  near (number > 0, default 8) are how the world draws the map
//                                  (k x k rays a map pixel, nearness exp(-d / n)): validated and
//                                  reported only. Needs decoder_time_upscale all false (one frame
//                                  out per latent frame). Weights of those five convs then have
//                                  G more input channels (decoder.8.weight [n_f1, n_f0 + G, 3, 3]).
// Unknown keys are ignored; a key of the wrong type or out of range is a Config error.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/buffer.h"
#include "core/cpu_features.h"
#include "core/thread_pool.h"
#include "kernels/conv2d.h"
#include "model/checkpoint.h"
#include "model/json.h"

namespace wc {

// The geometry map a decoder takes (config key "geometry"); channels 0 = none.
struct TaehvGeometry {
  int channels = 0;
  int scale = 1;
  int samples = 1;
  double near = 8.0;
};

struct TaehvConfig {
  int latent_channels = 16;
  int image_channels = 3;
  int patch_size = 1;
  int n_f[4] = {256, 128, 64, 64};
  bool time_upscale[3] = {false, true, true};
  bool space_upscale[3] = {true, true, true};
  bool trim_first_frames = true;
  TaehvGeometry geometry;

  int geometry_channels() const { return geometry.channels; }
  int t_upscale() const { return 1 << (int(time_upscale[0]) + time_upscale[1] + time_upscale[2]); }
  int frames_to_trim() const { return trim_first_frames ? t_upscale() - 1 : 0; }
  // Output pixels per latent pixel along H and W (2 per upscaling stage, times patch_size).
  int space_scale() const {
    return (1 << (int(space_upscale[0]) + space_upscale[1] + space_upscale[2])) * patch_size;
  }
  // Input size of the geometry-reading convs, in latent pixels: decoder.1, .8, .14, .20 (= .22's).
  int conv_input_scale(int i) const {
    int u = 1;
    for (int s = 0; s < i && s < 3; ++s) u *= space_upscale[s] ? 2 : 1;
    return u;
  }
};

TaehvConfig parse_taehv_config(const Json& j, const std::string& where);
TaehvConfig load_taehv_config(const std::string& path);

// The tensors a config expects (upstream names and shapes).
std::vector<ExpectedTensor> taehv_expected_tensors(const TaehvConfig& c);

struct TaehvMemBlock {  // decoder.{i}.conv.{0,2,4}
  PackedConv conv0, conv2, conv4;
};

struct TaehvStage {  // stage s: MemBlocks 3+6s..5+6s, Upsample 6+6s, TGrow 7+6s, conv 8+6s
  TaehvMemBlock mem[3];
  PackedConv tgrow;  // 1x1, no bias, n_f[s] -> n_f[s] * stride
  int stride = 1;
  bool up = false;
  PackedConv conv;  // 3x3, no bias, n_f[s] -> n_f[s+1]
};

// The geometry map's size (Hm, Wm) for latent frames of height x width: the frame size over
// geometry.scale. A Config error when the config takes no geometry, or the frame size is not a
// multiple of the scale.
void taehv_geometry_size(const TaehvConfig& c, int height, int width, int& hm, int& wm);

struct TaehvWeights {
  TaehvConfig config;
  std::string dir;
  PackedConv conv1;  // decoder.1: latent_channels -> n_f[0], bias
  TaehvStage stage[3];
  PackedConv conv22;  // decoder.22: n_f[3] -> image_channels * patch_size^2, bias
  size_t weight_bytes = 0;
  int direct_convs = 0, winograd_convs = 0;  // how each packed conv runs (ConvAlgo)
};

// Loads dir/config.json and every dir/*.safetensors (F32/F16/BF16/F64, converted to f32,
// packed for `isa` at `precision`: Bf16 only where conv_bf16_fast(isa), else a Config
// error). `encoder.*` tensors (a full upstream checkpoint) are ignored; any other
// missing, extra or mis-shaped tensor is a Weights error naming the file and the tensor.
// A TGrow weight with more rows than the config needs (time upscaling switched off for a
// checkpoint trained with it) keeps its last rows, as upstream's patch_tgrow_layers does.
std::shared_ptr<TaehvWeights> load_taehv(const std::string& dir, Isa isa,
                                         ConvPrecision precision = ConvPrecision::F32);

// Float frame [C][H][W] in [0, 1] -> bytes [H][W][C], round(255 x) half to even (torch.round).
void frame_to_u8(const float* chw, int C, int H, int W, uint8_t* hwc);

// Scratch of decoding (every intermediate activation and the padded conv input), shared by
// the streams of a decoder that run one at a time; grows to the largest size used.
struct TaehvWorkspace {
  FloatBuffer lat, x[3], t1[3], t2[3], y[3], g[3], zfin, out, frame;
  FloatBuffer geo[4];  // a geometry map resized to the input size of decoder.1, .8, .14, .20/.22
  ConvScratch conv;
  size_t bytes() const;
};

// One stream of decoded video: the MemBlocks' previous inputs and the count of frames
// produced. decode() takes a block of latent frames (C, F, H, W) — the engine's latent
// layout — and calls `sink` with each finished frame (C, H', W') in [0, 1], in order, in a
// buffer valid during the call. Feeding a video block by block gives exactly the frames of
// decoding it whole. The latent size is fixed from the first decode until reset().
// A geometry decoder (config.geometry.channels G > 0) takes `geometry`: one map per latent
// frame (= output frame), [F][G][Hm][Wm] with Hm x Wm = taehv_geometry_size(config, height, width);
// others take nullptr. A map that is missing, extra, or does not fit the latent size is an
// Argument / Config error before anything changes.
class TaehvStream {
 public:
  using Sink = std::function<void(const float* chw, int channels, int height, int width)>;
  explicit TaehvStream(std::shared_ptr<const TaehvWeights> w);

  void decode(const float* latents, int frames, int height, int width, const float* geometry, TaehvWorkspace& ws,
              ThreadPool* pool, const Sink& sink);
  void reset();  // forget every MemBlock input and the frame count; frees the state

  // Frames decode() will emit for `frames` more latent frames.
  int64_t frames_for(int frames) const;
  int64_t latent_frames() const { return latent_in_; }
  int64_t frames_out() const { return produced_ - trimmed_; }
  int latent_height() const { return lat_h_; }
  int latent_width() const { return lat_w_; }
  size_t state_bytes() const;
  const TaehvConfig& config() const { return w_->config; }

 private:
  // geo: this frame's map at the input size of decoder.1, .8, .14, .20/.22 (null: none)
  void run_stage(int s, TaehvWorkspace& ws, ThreadPool* pool, const float* const* geo, const Sink& sink);
  void finish(TaehvWorkspace& ws, ThreadPool* pool, const float* const* geo, const Sink& sink);

  std::shared_ptr<const TaehvWeights> w_;
  int lat_h_ = 0, lat_w_ = 0;
  int h_[3] = {}, w_px_[3] = {};  // resolution of each stage's MemBlocks
  int hf_ = 0, wf_ = 0;           // resolution of the last convs (before pixel shuffle)
  FloatBuffer mem_[3][3];         // each MemBlock's input at the previous frame (zeros at first)
  int64_t latent_in_ = 0, produced_ = 0, trimmed_ = 0;
};

}  // namespace wc
