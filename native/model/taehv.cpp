#include "model/taehv.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <utility>

#include "core/dtype.h"
#include "core/error.h"
#include "core/trace.h"
#include "model/safetensors.h"

namespace wc {
namespace {

[[noreturn]] void cfail(const std::string& where, const std::string& msg) { fail(ErrorKind::Config, where + ": " + msg); }

const Json* get(const Json& j, const char* key, Json::Type type, const std::string& where) {
  const Json* v = j.find(key);
  if (!v) return nullptr;
  if (v->type() != type)
    cfail(where, std::string("decoder \"") + key + "\" must be a " + Json::type_name(type) + ", not a " +
                     Json::type_name(v->type()));
  return v;
}

int as_int(const Json& v, const std::string& what, const std::string& where, int lo, int hi) {
  if (!v.is_number() || std::floor(v.as_number()) != v.as_number() || v.as_number() < lo || v.as_number() > hi)
    cfail(where, "decoder " + what + " must be an integer in [" + std::to_string(lo) + ", " + std::to_string(hi) + "]");
  return int(v.as_number());
}

void get_int(const Json& j, const char* key, int& out, const std::string& where, int lo, int hi) {
  if (const Json* v = j.find(key)) out = as_int(*v, std::string("\"") + key + "\"", where, lo, hi);
}

// An array of booleans of one of the allowed lengths.
std::vector<bool> get_bools(const Json& j, const char* key, const std::string& where, size_t n1, size_t n2) {
  const Json* v = get(j, key, Json::Type::Array, where);
  if (!v) return {};
  const size_t n = v->items().size();
  if (n != n1 && n != n2)
    cfail(where, std::string("decoder \"") + key + "\" must have " + std::to_string(n1) +
                     (n1 != n2 ? " or " + std::to_string(n2) : std::string()) + " entries, not " + std::to_string(n));
  std::vector<bool> out;
  for (auto& e : v->items()) {
    if (!e.is_bool()) cfail(where, std::string("decoder \"") + key + "\" entries must be booleans");
    out.push_back(e.as_bool());
  }
  return out;
}

// A geometry map [G][hm][wm] at (h, w): the mean of each r x r block where smaller (r = hm / h,
// summed in double as the float64 reference's avg_pool2d), each pixel repeated r x r where
// larger (r = h / hm). The factor is an integer (checked by parse_taehv_config).
void resize_map(const float* map, int G, int hm, int wm, int h, int w, float* out) {
  if (hm > h) {
    const int r = hm / h;
    const double inv = 1.0 / (double(r) * r);
    for (int c = 0; c < G; ++c)
      for (int y = 0; y < h; ++y)
        for (int x = 0; x < w; ++x) {
          double acc = 0;
          for (int i = 0; i < r; ++i) {
            const float* row = map + (int64_t(c) * hm + int64_t(y) * r + i) * wm + int64_t(x) * r;
            for (int j = 0; j < r; ++j) acc += row[j];
          }
          out[(int64_t(c) * h + y) * w + x] = float(acc * inv);
        }
  } else {
    const int r = h / hm;
    for (int c = 0; c < G; ++c)
      for (int y = 0; y < h; ++y) {
        const float* src = map + (int64_t(c) * hm + y / r) * wm;
        float* dst = out + (int64_t(c) * h + y) * w;
        for (int x = 0; x < w; ++x) dst[x] = src[x / r];
      }
  }
}

bool is_tgrow(const std::string& name) {
  return name == "decoder.7.conv.weight" || name == "decoder.13.conv.weight" || name == "decoder.19.conv.weight";
}

}  // namespace

TaehvConfig parse_taehv_config(const Json& j, const std::string& where) {
  if (!j.is_object()) cfail(where, "the decoder config must be a JSON object");
  TaehvConfig c;
  if (const Json* t = get(j, "type", Json::Type::String, where))
    if (t->as_string() != "taehv") cfail(where, "decoder \"type\" must be \"taehv\", not \"" + t->as_string() + "\"");
  if (const Json* a = j.find("arch_variant")) {
    if (!a->is_null() && !(a->is_string() && a->as_string() == "base"))
      cfail(where, "decoder \"arch_variant\" " + (a->is_string() ? "\"" + a->as_string() + "\"" : std::string("value")) +
                       " is not supported (only the base TAEHV decoder)");
  }
  get_int(j, "latent_channels", c.latent_channels, where, 1, 4096);
  get_int(j, "image_channels", c.image_channels, where, 1, 4);
  get_int(j, "patch_size", c.patch_size, where, 1, 16);
  if (const Json* nf = get(j, "n_f", Json::Type::Array, where)) {
    if (nf->items().size() != 4) cfail(where, "decoder \"n_f\" must have 4 entries");
    for (int i = 0; i < 4; ++i) c.n_f[i] = as_int(nf->items()[size_t(i)], "\"n_f\" entries", where, 1, 4096);
  }
  auto tu = get_bools(j, "decoder_time_upscale", where, 2, 3);
  if (tu.size() == 2) tu.insert(tu.begin(), false);  // upstream: 2 entries mean [False, a, b]
  for (size_t i = 0; i < tu.size(); ++i) c.time_upscale[i] = tu[i];
  auto su = get_bools(j, "decoder_space_upscale", where, 3, 3);
  for (size_t i = 0; i < su.size(); ++i) c.space_upscale[i] = su[i];
  if (const Json* t = get(j, "trim_first_frames", Json::Type::Bool, where)) c.trim_first_frames = t->as_bool();
  if (const Json* g = j.find("geometry"); g && !g->is_null()) {
    if (!g->is_object())
      cfail(where, std::string("decoder \"geometry\" must be an object {channels, scale, samples, near} or null, not a ") +
                       Json::type_name(g->type()));
    TaehvGeometry& G = c.geometry;
    const Json* ch = g->find("channels");
    if (!ch) cfail(where, "decoder \"geometry\" needs \"channels\" (the map's channel count)");
    G.channels = as_int(*ch, "\"geometry.channels\"", where, 1, 1024);
    if (const Json* v = g->find("scale")) G.scale = as_int(*v, "\"geometry.scale\"", where, 1, 4096);
    if (const Json* v = g->find("samples")) G.samples = as_int(*v, "\"geometry.samples\"", where, 1, 1024);
    if (const Json* v = g->find("near")) {
      if (!v->is_number() || !std::isfinite(v->as_number()) || !(v->as_number() > 0))
        cfail(where, "decoder \"geometry.near\" must be a number > 0");
      G.near = v->as_number();
    }
    if (c.time_upscale[0] || c.time_upscale[1] || c.time_upscale[2])
      cfail(where, "a decoder that takes \"geometry\" has no time upscaling (decoder_time_upscale must be all false)");
    // The map is the frame size over `scale`; each reading conv's input is the latent size
    // times 1, 2, 4 or 8: the two must differ by an integer factor (whatever the latent size).
    static const char* const kConv[4] = {"decoder.1", "decoder.8", "decoder.14", "decoder.20"};
    const int64_t num = c.space_scale();  // map pixels per latent pixel = num / scale
    for (int i = 0; i < 4; ++i) {
      const int64_t in = int64_t(c.conv_input_scale(i)) * G.scale;  // conv input pixels per latent pixel x scale
      if (num % in != 0 && in % num != 0)
        cfail(where, "decoder \"geometry.scale\" " + std::to_string(G.scale) + ": the map (frame size / " +
                         std::to_string(G.scale) + ") is no integer resize of " + kConv[i] + "'s input (latent size x " +
                         std::to_string(c.conv_input_scale(i)) + ")");
    }
  }
  return c;
}

void taehv_geometry_size(const TaehvConfig& c, int height, int width, int& hm, int& wm) {
  if (!c.geometry.channels) fail(ErrorKind::Config, "this decoder takes no geometry map");
  const int64_t s = c.geometry.scale, fh = int64_t(height) * c.space_scale(), fw = int64_t(width) * c.space_scale();
  if (fh % s || fw % s)
    fail(ErrorKind::Config, "decoder geometry scale " + std::to_string(s) + " does not divide the frame size " +
                                std::to_string(fh) + "x" + std::to_string(fw) + " (latents " + std::to_string(height) +
                                "x" + std::to_string(width) + ")");
  hm = int(fh / s);
  wm = int(fw / s);
}

TaehvConfig load_taehv_config(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) fail(ErrorKind::Config, path + ": cannot open");
  std::stringstream ss;
  ss << f.rdbuf();
  std::string text = ss.str();
  if (text.size() > (1u << 20)) fail(ErrorKind::Config, path + ": file is too large for a decoder config");
  return parse_taehv_config(Json::parse(text, path), path);
}

std::vector<ExpectedTensor> taehv_expected_tensors(const TaehvConfig& c) {
  std::vector<ExpectedTensor> v;
  auto conv = [&](int idx, const std::string& sub, int64_t out, int64_t in, int64_t k, bool bias) {
    const std::string p = "decoder." + std::to_string(idx) + sub;
    v.push_back({p + ".weight", {out, in, k, k}});
    if (bias) v.push_back({p + ".bias", {out}});
  };
  const int64_t G = c.geometry.channels;  // the plain convs read the geometry map too
  conv(1, "", c.n_f[0], c.latent_channels + G, 3, true);
  for (int s = 0; s < 3; ++s) {
    const int base = 3 + 6 * s;
    const int64_t n = c.n_f[s];
    for (int b = 0; b < 3; ++b) {
      conv(base + b, ".conv.0", n, 2 * n, 3, true);
      conv(base + b, ".conv.2", n, n, 3, true);
      conv(base + b, ".conv.4", n, n, 3, true);
    }
    conv(base + 4, ".conv", n * (c.time_upscale[s] ? 2 : 1), n, 1, false);
    conv(base + 5, "", c.n_f[s + 1], n + G, 3, false);
  }
  conv(22, "", int64_t(c.image_channels) * c.patch_size * c.patch_size, c.n_f[3] + G, 3, true);
  return v;
}

std::shared_ptr<TaehvWeights> load_taehv(const std::string& dir, Isa isa, ConvPrecision precision) {
  // bf16 is a speed setting: where it would run the scalar twin it is slower than f32.
  if (precision == ConvPrecision::Bf16 && !conv_bf16_fast(isa))
    fail(ErrorKind::Config, std::string("decoder precision bf16 needs AVX512_BF16 at the avx512 level (this CPU runs ") +
                                isa_name(isa) + (cpu_features().avx512_bf16 ? "" : ", without AVX512_BF16") +
                                "); use f32");
  auto m = std::make_shared<TaehvWeights>();
  m->dir = dir;
  m->config = load_taehv_config(dir + "/config.json");
  const TaehvConfig& c = m->config;

  // Every *.safetensors file of the directory (a full upstream checkpoint's encoder is
  // left out: decoding only), validated as a whole before converting anything. A TGrow
  // weight may have more output rows than needed (a multiple of n_f): upstream keeps the
  // last rows.
  const Checkpoint ck(dir, "decoder", {"encoder."});
  const auto expected = taehv_expected_tensors(c);
  ck.validate(expected, [](const ExpectedTensor& e, const TensorInfo& t) {
    return is_tgrow(e.name) && t.shape.size() == 4 && t.shape[1] == e.shape[1] && t.shape[2] == 1 &&
           t.shape[3] == 1 && t.shape[0] > e.shape[0] && t.shape[0] % e.shape[1] == 0;
  });

  FloatBuffer wbuf, bbuf;
  auto conv = [&](const std::string& p, bool bias, PackedConv& out) {
    const TensorInfo& t = ck.at(p + ".weight");
    ck.to_f32(p + ".weight", wbuf);
    int64_t cout = t.shape[0];
    const int64_t cin = t.shape[1], k = t.shape[2];
    const float* w = wbuf.data();
    if (is_tgrow(p + ".weight")) {  // keep the last rows the config needs
      int64_t need = 0;
      for (auto& e : expected) if (e.name == p + ".weight") need = e.shape[0];
      w += (cout - need) * cin * k * k;
      cout = need;
    }
    const float* b = nullptr;
    if (bias) {
      b = ck.to_f32(p + ".bias", bbuf);
    }
    pack_conv(w, b, int(cout), int(cin), int(k), isa, out, precision);
    m->weight_bytes += out.bytes();
    ++(out.algo == ConvAlgo::Winograd ? m->winograd_convs : m->direct_convs);
  };
  conv("decoder.1", true, m->conv1);
  for (int s = 0; s < 3; ++s) {
    const int base = 3 + 6 * s;
    TaehvStage& S = m->stage[s];
    for (int b = 0; b < 3; ++b) {
      const std::string p = "decoder." + std::to_string(base + b) + ".conv.";
      conv(p + "0", true, S.mem[b].conv0);
      conv(p + "2", true, S.mem[b].conv2);
      conv(p + "4", true, S.mem[b].conv4);
    }
    S.stride = c.time_upscale[s] ? 2 : 1;
    S.up = c.space_upscale[s];
    conv("decoder." + std::to_string(base + 4) + ".conv", false, S.tgrow);
    conv("decoder." + std::to_string(base + 5), false, S.conv);
  }
  conv("decoder.22", true, m->conv22);
  return m;
}

void frame_to_u8(const float* chw, int C, int H, int W, uint8_t* hwc) {
  const int64_t HW = int64_t(H) * W;
  for (int64_t i = 0; i < HW; ++i)
    for (int c = 0; c < C; ++c) {
      float v = chw[c * HW + i];
      v = v > 0.0f ? (v < 1.0f ? v : 1.0f) : 0.0f;
      hwc[i * C + c] = uint8_t(std::nearbyint(v * 255.0f));  // half to even, as torch.round
    }
}

size_t TaehvWorkspace::bytes() const {
  size_t n = lat.size() + zfin.size() + out.size() + frame.size() + conv.pad.size() + conv.padb.size();
  for (int s = 0; s < 3; ++s) n += x[s].size() + t1[s].size() + t2[s].size() + y[s].size() + g[s].size();
  for (auto& b : geo) n += b.size();
  return n * sizeof(float);
}

TaehvStream::TaehvStream(std::shared_ptr<const TaehvWeights> w) : w_(std::move(w)) {}

void TaehvStream::reset() {
  for (auto& st : mem_)
    for (auto& b : st) b = FloatBuffer();
  lat_h_ = lat_w_ = 0;
  latent_in_ = produced_ = trimmed_ = 0;
}

size_t TaehvStream::state_bytes() const {
  size_t n = 0;
  for (auto& st : mem_)
    for (auto& b : st) n += b.size();
  return n * sizeof(float);
}

int64_t TaehvStream::frames_for(int frames) const {
  const int64_t raw = int64_t(frames) * w_->config.t_upscale();
  const int64_t trim = std::max<int64_t>(0, w_->config.frames_to_trim() - produced_);
  return raw - std::min(raw, trim);
}

void TaehvStream::decode(const float* latents, int frames, int height, int width, const float* geometry,
                         TaehvWorkspace& ws, ThreadPool* pool, const Sink& sink) {
  const TaehvConfig& c = w_->config;
  const int G = c.geometry.channels;
  if (G && !geometry) fail(ErrorKind::Argument, "decode: this decoder takes a geometry map per frame");
  if (!G && geometry) fail(ErrorKind::Argument, "decode: this decoder takes no geometry map");
  if (frames < 1) fail(ErrorKind::Shape, "decode: a block needs at least one latent frame");
  if (height < 1 || width < 1 || height > 4096 || width > 4096)
    fail(ErrorKind::Shape, "decode: latent height and width must be in [1, 4096]");
  if (latent_in_ > 0 && (height != lat_h_ || width != lat_w_))
    fail(ErrorKind::Shape, "decode: this stream decodes " + std::to_string(lat_h_) + "x" + std::to_string(lat_w_) +
                               " latents, not " + std::to_string(height) + "x" + std::to_string(width) +
                               " (reset() the stream to change size)");
  const int64_t n_in = int64_t(c.latent_channels) * frames * height * width;
  for (int64_t i = 0; i < n_in; ++i)
    if (!std::isfinite(latents[i])) fail(ErrorKind::Argument, "decode: latents contain NaN or infinity");
  int hm = 0, wm = 0;
  int64_t map_n = 0;  // values of one frame's map
  if (G) {
    taehv_geometry_size(c, height, width, hm, wm);
    map_n = int64_t(G) * hm * wm;
    for (int64_t i = 0; i < map_n * frames; ++i)
      if (!std::isfinite(geometry[i])) fail(ErrorKind::Argument, "decode: the geometry map contains NaN or infinity");
  }
  // Refuse sizes whose activations could not be addressed (the largest is n_f[3] x output).
  const int scale = c.space_scale() / c.patch_size;
  if (double(c.n_f[3]) * height * scale * width * scale > 4e9 ||
      double(c.image_channels) * c.patch_size * c.patch_size * height * scale * width * scale > 4e9)
    fail(ErrorKind::Shape, "decode: latent size " + std::to_string(height) + "x" + std::to_string(width) +
                               " is too large for this decoder");

  if (latent_in_ == 0 || !mem_[0][0].size()) {  // first block: stage sizes and zeroed MemBlock state
    lat_h_ = height;
    lat_w_ = width;
    int h = height, w = width;
    for (int s = 0; s < 3; ++s) {
      h_[s] = h;
      w_px_[s] = w;
      for (int b = 0; b < 3; ++b) {
        mem_[s][b].resize(size_t(c.n_f[s]) * h * w);
        mem_[s][b].zero();
      }
      if (c.space_upscale[s]) { h *= 2; w *= 2; }
    }
    hf_ = h;
    wf_ = w;
  }
  // Workspace for this size (grows only).
  const int C0 = c.latent_channels;
  const int64_t hw0 = int64_t(height) * width;
  ws.lat.resize(size_t(C0 * hw0));
  for (int s = 0; s < 3; ++s) {
    const size_t n = size_t(c.n_f[s]) * h_[s] * w_px_[s];
    ws.x[s].resize(n);
    ws.t1[s].resize(n);
    ws.t2[s].resize(n);
    ws.y[s].resize(n);
    ws.g[s].resize(n * size_t(w_->stage[s].stride));
  }
  ws.zfin.resize(size_t(c.n_f[3]) * hf_ * wf_);
  ws.out.resize(size_t(c.image_channels) * c.patch_size * c.patch_size * hf_ * wf_);
  ws.frame.resize(ws.out.size());
  // The geometry-reading convs' input sizes: decoder.1, .8, .14, .20 (and .22). Each size
  // other than the map's own gets one resized copy a frame (in ws.geo at its first index).
  const int conv_h[4] = {height, h_[1], h_[2], hf_}, conv_w[4] = {width, w_px_[1], w_px_[2], wf_};
  int geo_src[4] = {};  // -1: the map as is; else the index of the copy conv i reads
  for (int i = 0; G && i < 4; ++i) {
    geo_src[i] = i;
    if (conv_h[i] == hm && conv_w[i] == wm) geo_src[i] = -1;
    else
      for (int j = 0; j < i; ++j)
        if (conv_h[j] == conv_h[i] && conv_w[j] == conv_w[i]) { geo_src[i] = j; break; }
    if (geo_src[i] == i) ws.geo[i].resize(size_t(G) * conv_h[i] * conv_w[i]);
  }

  for (int f = 0; f < frames; ++f) {
    TraceScope trace("decode_frame", "decoder");
    // decoder.0: clamp 3 tanh(x / 3) of latent frame f out of (C, F, H, W)
    for (int ch = 0; ch < C0; ++ch) {
      const float* src = latents + (int64_t(ch) * frames + f) * hw0;
      float* dst = ws.lat.data() + ch * hw0;
      for (int64_t i = 0; i < hw0; ++i) dst[i] = 3.0f * std::tanh(src[i] / 3.0f);
    }
    // This frame's geometry map at each reading conv's input size (computed once per size).
    const float* geo[4] = {};
    if (G) {
      const float* map = geometry + f * map_n;
      for (int i = 0; i < 4; ++i) {
        if (geo_src[i] == i) resize_map(map, G, hm, wm, conv_h[i], conv_w[i], ws.geo[i].data());
        geo[i] = geo_src[i] < 0 ? map : ws.geo[geo_src[i]].data();
      }
    }
    // decoder.1 + decoder.2: conv3x3 + ReLU
    ConvInput in[2] = {{ws.lat.data(), C0, false}, {geo[0], G, false}};
    conv2d(in, G ? 2 : 1, height, width, w_->conv1, ws.x[0].data(), nullptr, ConvAct::Relu, pool, ws.conv);
    run_stage(0, ws, pool, G ? geo : nullptr, sink);
    ++latent_in_;
  }
}

// Stage s on the frame in ws.x[s]: three MemBlocks, TGrow (before the x2 upsampling, which
// commutes with a 1x1 conv exactly), then for each new frame the upsampled 3x3 conv into the
// next stage (or the output convs).
void TaehvStream::run_stage(int s, TaehvWorkspace& ws, ThreadPool* pool, const float* const* geo, const Sink& sink) {
  const TaehvConfig& c = w_->config;
  const TaehvStage& S = w_->stage[s];
  const int n = c.n_f[s], h = h_[s], w = w_px_[s];
  static const char* const kMemNames[3] = {"memblocks_0", "memblocks_1", "memblocks_2"};
  static const char* const kUpNames[3] = {"up_conv_0", "up_conv_1", "up_conv_2"};
  for (int b = 0; b < 3; ++b) {
    TraceScope trace(kMemNames[s], "decoder");
    const TaehvMemBlock& mb = S.mem[b];
    ConvInput in0[2] = {{ws.x[s].data(), n, false}, {mem_[s][b].data(), n, false}};
    conv2d(in0, 2, h, w, mb.conv0, ws.t1[s].data(), nullptr, ConvAct::Relu, pool, ws.conv);
    ConvInput in2{ws.t1[s].data(), n, false};
    conv2d(&in2, 1, h, w, mb.conv2, ws.t2[s].data(), nullptr, ConvAct::Relu, pool, ws.conv);
    ConvInput in4{ws.t2[s].data(), n, false};
    conv2d(&in4, 1, h, w, mb.conv4, ws.y[s].data(), ws.x[s].data(), ConvAct::Relu, pool, ws.conv);
    std::swap(mem_[s][b], ws.x[s]);  // this frame's input is the next frame's past
    std::swap(ws.x[s], ws.y[s]);     // the output is the next block's input
  }
  ConvInput ing{ws.x[s].data(), n, false};
  conv2d(&ing, 1, h, w, S.tgrow, ws.g[s].data(), nullptr, ConvAct::None, pool, ws.conv);
  const int h2 = S.up ? 2 * h : h, w2 = S.up ? 2 * w : w;
  for (int j = 0; j < S.stride; ++j) {  // the new frames in time order: channels [j n, (j+1) n)
    // decoder.8 / .14 / .20 read the geometry map (at their input size h2 x w2) after x
    const ConvInput in[2] = {{ws.g[s].data() + size_t(j) * n * h * w, n, S.up},
                             {geo ? geo[s + 1] : nullptr, c.geometry.channels, false}};
    const int n_in = geo ? 2 : 1;
    if (s < 2) {
      {
        TraceScope trace(kUpNames[s], "decoder");
        conv2d(in, n_in, h2, w2, S.conv, ws.x[s + 1].data(), nullptr, ConvAct::None, pool, ws.conv);
      }
      run_stage(s + 1, ws, pool, geo, sink);
    } else {
      // decoder.20 + decoder.21 (ReLU)
      TraceScope trace(kUpNames[s], "decoder");
      conv2d(in, n_in, h2, w2, S.conv, ws.zfin.data(), nullptr, ConvAct::Relu, pool, ws.conv);
      finish(ws, pool, geo, sink);
    }
  }
}

void TaehvStream::finish(TaehvWorkspace& ws, ThreadPool* pool, const float* const* geo, const Sink& sink) {
  const TaehvConfig& c = w_->config;
  ++produced_;
  if (produced_ <= c.frames_to_trim()) {  // dropped start-up frame: its pixels are never needed
    ++trimmed_;
    return;
  }
  TraceScope trace("out_conv", "decoder");
  // decoder.22 reads the geometry map at decoder.20's size too
  const ConvInput in[2] = {{ws.zfin.data(), c.n_f[3], false}, {geo ? geo[3] : nullptr, c.geometry.channels, false}};
  conv2d(in, geo ? 2 : 1, hf_, wf_, w_->conv22, ws.out.data(), nullptr, ConvAct::None, pool, ws.conv);
  // pixel shuffle (patch_size p): out[c][y p + i][x p + j] = conv[c p^2 + i p + j][y][x]; clamp to [0, 1]
  const int p = c.patch_size, C = c.image_channels;
  const int64_t H = int64_t(hf_) * p, W = int64_t(wf_) * p, hw = int64_t(hf_) * wf_;
  const float* src = ws.out.data();
  float* dst = ws.frame.data();
  for (int ch = 0; ch < C; ++ch)
    for (int i = 0; i < p; ++i)
      for (int j = 0; j < p; ++j) {
        const float* plane = src + (int64_t(ch) * p * p + i * p + j) * hw;
        for (int y = 0; y < hf_; ++y) {
          float* row = dst + (ch * H + int64_t(y) * p + i) * W + j;
          const float* srow = plane + int64_t(y) * wf_;
          for (int x = 0; x < wf_; ++x) {
            const float v = srow[x];
            row[int64_t(x) * p] = v > 0.0f ? (v < 1.0f ? v : 1.0f) : 0.0f;
          }
        }
      }
  sink(dst, C, int(H), int(W));
}

}  // namespace wc
