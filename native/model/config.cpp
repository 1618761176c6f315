#include "model/config.h"

#include <cmath>
#include <cstdio>
#include <fstream>
#include <sstream>

#include "core/error.h"
#include "kernels/attention.h"

namespace wc {
namespace {

[[noreturn]] void cerr_(const std::string& where, const std::string& msg) { fail(ErrorKind::Config, where + ": " + msg); }

const Json* get(const Json& j, const char* key, Json::Type type, const std::string& where) {
  const Json* v = j.find(key);
  if (!v) return nullptr;
  if (v->type() != type)
    cerr_(where, std::string("\"") + key + "\" must be a " + Json::type_name(type) + ", not a " +
                     Json::type_name(v->type()));
  return v;
}

void get_int(const Json& j, const char* key, int& out, const std::string& where, double lo = -1e9, double hi = 1e9) {
  const Json* v = get(j, key, Json::Type::Number, where);
  if (!v) return;
  double d = v->as_number();
  if (std::floor(d) != d || d < lo || d > hi)
    cerr_(where, std::string("\"") + key + "\" must be an integer in [" + std::to_string(int64_t(lo)) + ", " +
                     std::to_string(int64_t(hi)) + "]");
  out = int(d);
}

void get_num(const Json& j, const char* key, double& out, const std::string& where) {
  const Json* v = get(j, key, Json::Type::Number, where);
  if (!v) return;
  if (!std::isfinite(v->as_number())) cerr_(where, std::string("\"") + key + "\" must be finite");
  out = v->as_number();
}

void get_bool(const Json& j, const char* key, bool& out, const std::string& where) {
  const Json* v = get(j, key, Json::Type::Bool, where);
  if (v) out = v->as_bool();
}

std::string quote(const std::string& str) {
  std::string o = "\"";
  for (char c : str) {
    if (c == '"' || c == '\\') { o += '\\'; o += c; }
    else if (static_cast<unsigned char>(c) < 0x20) { char b[8]; snprintf(b, sizeof b, "\\u%04x", c); o += b; }
    else o += c;
  }
  return o + "\"";
}

// Re-serialise a JSON value (used to hand the raw "decoder" entry to the SDK).
std::string to_json(const Json& j) {
  std::ostringstream o;
  switch (j.type()) {
    case Json::Type::Null: o << "null"; break;
    case Json::Type::Bool: o << (j.as_bool() ? "true" : "false"); break;
    case Json::Type::Number: o.precision(17); o << j.as_number(); break;
    case Json::Type::String: o << quote(j.as_string()); break;
    case Json::Type::Array: {
      o << '[';
      for (size_t i = 0; i < j.items().size(); ++i) o << (i ? "," : "") << to_json(j.items()[i]);
      o << ']';
      break;
    }
    case Json::Type::Object: {
      o << '{';
      for (size_t i = 0; i < j.members().size(); ++i)
        o << (i ? "," : "") << quote(j.members()[i].first) << ':' << to_json(j.members()[i].second);
      o << '}';
      break;
    }
  }
  return o.str();
}

std::vector<int> get_int_list(const Json& j, const char* key, const std::string& where, int lo, int hi) {
  std::vector<int> out;
  const Json* v = get(j, key, Json::Type::Array, where);
  if (!v) return out;
  for (auto& e : v->items()) {
    if (!e.is_number() || std::floor(e.as_number()) != e.as_number() || e.as_number() < lo || e.as_number() > hi)
      cerr_(where, std::string("\"") + key + "\" entries must be integers in [" + std::to_string(lo) + ", " +
                       std::to_string(hi) + "]");
    out.push_back(int(e.as_number()));
  }
  return out;
}

// model_type "i2v" (Matrix-Game 2.0's causal_model.py CausalWanModel): the context is
// img_emb(clip tokens) (model.py MLPProj(1280, dim)); the input concatenates a mask and an
// image latent (inference.py: cond_concat = cat([mask[:, :4], img_cond]), 4 + 16 channels).
void parse_i2v(const Json& j, ModelConfig& c, const std::string& where) {
  c.text_dim = 1280;
  c.text_len = 257;  // CLIP ViT-H/14 tokens (pipeline _initialize_crossattn_cache: 257 rows)
  get_int(j, "clip_dim", c.text_dim, where, 1, 1 << 16);
  get_int(j, "clip_len", c.text_len, where, 1, 1 << 16);
  c.mask_channels = 4;
  c.image_channels = -1;
  if (const Json* il = get(j, "image_latent", Json::Type::Object, where)) {
    get_int(*il, "mask_channels", c.mask_channels, where + " image_latent", 0, 4096);
    get_int(*il, "channels", c.image_channels, where + " image_latent", 1, 4096);
  }
  if (c.image_channels < 0) c.image_channels = c.in_dim - c.out_dim - c.mask_channels;
  if (c.image_channels < 1 || c.in_dim != c.out_dim + c.mask_channels + c.image_channels)
    cerr_(where, "i2v: in_dim (" + std::to_string(c.in_dim) + ") must equal out_dim (" + std::to_string(c.out_dim) +
                     ") + image_latent.mask_channels (" + std::to_string(c.mask_channels) + ") + image_latent.channels");
}

void parse_matrix_game(const Json& a, ModelConfig& c, const std::string& where) {
  if (!a.is_object()) cerr_(where, "\"action_config\" must be an object");
  const std::string aw = where + " action_config";
  MatrixGameAction& m = c.mg;
  m.blocks = get_int_list(a, "blocks", aw, 0, 1 << 16);
  get_bool(a, "enable_keyboard", m.enable_keyboard, aw);
  get_bool(a, "enable_mouse", m.enable_mouse, aw);
  get_int(a, "heads_num", m.heads_num, aw, 1, 1024);
  get_int(a, "hidden_size", m.hidden_size, aw, 1, 1 << 16);
  get_int(a, "img_hidden_size", m.img_hidden_size, aw, 1, 1 << 16);
  get_int(a, "keyboard_dim_in", m.keyboard_dim_in, aw, 1, 1024);
  get_int(a, "keyboard_hidden_dim", m.keyboard_hidden_dim, aw, 1, 1 << 16);
  get_int(a, "mouse_dim_in", m.mouse_dim_in, aw, 1, 1024);
  get_int(a, "mouse_hidden_dim", m.mouse_hidden_dim, aw, 1, 1 << 16);
  if (a.find("mouse_qk_dim_list")) m.mouse_qk_dim_list = get_int_list(a, "mouse_qk_dim_list", aw, 0, 1024);
  get_num(a, "rope_theta", m.rope_theta, aw);
  get_bool(a, "qk_norm", m.qk_norm, aw);
  get_bool(a, "qkv_bias", m.qkv_bias, aw);
  get_int(a, "vae_time_compression_ratio", m.vae_time_compression_ratio, aw, 1, 64);
  get_int(a, "windows_size", m.windows_size, aw, 1, 64);
  if (const Json* p = a.find("patch_size")) {
    bool ok = p->is_array() && p->items().size() == 3;
    const int want[3] = {c.patch_t, c.patch_h, c.patch_w};
    for (size_t i = 0; ok && i < 3; ++i) ok = p->items()[i].is_number() && p->items()[i].as_number() == want[i];
    if (!ok) cerr_(aw, "\"patch_size\" must equal the model's patch_size");
  }
  // Upstream gives the module its block's local_attn_size (causal_model.py
  // CausalWanAttentionBlock.__init__); worldcast's "action_local_attn_size" may override it.
  m.local_attn_size = -2;
}

void validate_matrix_game(ModelConfig& c, const std::string& where) {
  MatrixGameAction& m = c.mg;
  const std::string aw = where + " action_config";
  if (!m.enable_keyboard && !m.enable_mouse) cerr_(aw, "enables neither keyboard nor mouse");
  const int nk = m.enable_keyboard ? m.keyboard_dim_in : 0, nm = m.enable_mouse ? m.mouse_dim_in : 0;
  if (int(c.action.keys.size()) != nk || int(c.action.mouse.size()) != nm)
    cerr_(where, "action: matrix_game needs " + std::to_string(nk) + " keys (keyboard_dim_in) and " +
                     std::to_string(nm) + " mouse axes (mouse_dim_in), not " + std::to_string(c.action.keys.size()) +
                     " and " + std::to_string(c.action.mouse.size()));
  if (m.img_hidden_size != c.dim) cerr_(aw, "img_hidden_size must equal dim");
  int rope = 0;
  for (int d : m.mouse_qk_dim_list) rope += d;
  if (m.mouse_qk_dim_list.size() != 3 || m.rope_dims() % 2) cerr_(aw, "mouse_qk_dim_list needs 3 entries, the first even");
  for (int hid : {m.enable_mouse ? m.mouse_hidden_dim : 0, m.enable_keyboard ? m.keyboard_hidden_dim : 0}) {
    if (!hid) continue;
    if (hid % m.heads_num || hid / m.heads_num != rope)
      cerr_(aw, "mouse/keyboard_hidden_dim / heads_num must equal sum(mouse_qk_dim_list) (" + std::to_string(rope) +
                    ", the head size upstream's RoPE table is built for)");
    if (hid / m.heads_num > kMaxHeadDim) cerr_(aw, "action head size above 256 is not supported");
  }
  m.layer_index.assign(size_t(c.num_layers), -1);
  int n = 0;
  for (int b : m.blocks) {
    if (b >= c.num_layers) cerr_(aw, "\"blocks\" entry " + std::to_string(b) + " is not a layer");
    if (m.layer_index[size_t(b)] >= 0) cerr_(aw, "\"blocks\" lists layer " + std::to_string(b) + " twice");
    m.layer_index[size_t(b)] = n++;
  }
  std::vector<int> sorted;
  for (int l = 0; l < c.num_layers; ++l)
    if (m.layer_index[size_t(l)] >= 0) { m.layer_index[size_t(l)] = int(sorted.size()); sorted.push_back(l); }
  m.blocks = sorted;
}

}  // namespace

void validate_window(int L, int S, int F, const std::string& where) {
  if (S < 0) cerr_(where, "sink_size must be >= 0");
  if (L == -1) return;
  if (L < 1) cerr_(where, "local_attn_size must be -1 (global) or a positive number of frames");
  if (L - S - F < 1)
    cerr_(where, "local_attn_size (" + std::to_string(L) + ") must exceed sink_size (" + std::to_string(S) +
                     ") + num_frame_per_block (" + std::to_string(F) + ") so at least one past frame stays visible");
}

ModelConfig parse_model_config(const Json& j, const std::string& where, const ConfigOverrides& o) {
  int block_frames = o.block_frames;
  if (!j.is_object()) cerr_(where, "config must be a JSON object");
  ModelConfig c;
  if (const Json* v = get(j, "model_type", Json::Type::String, where)) c.model_type = v->as_string();
  if (c.model_type != "t2v" && c.model_type != "i2v")
    cerr_(where, "model_type \"" + c.model_type + "\" is not supported (\"t2v\" or \"i2v\")");
  c.i2v = c.model_type == "i2v";
  if (const Json* v = get(j, "patch_size", Json::Type::Array, where)) {
    if (v->items().size() != 3) cerr_(where, "\"patch_size\" must have 3 entries");
    int p[3];
    for (int i = 0; i < 3; ++i) {
      const Json& e = v->items()[i];
      if (!e.is_number() || std::floor(e.as_number()) != e.as_number() || e.as_number() < 1 || e.as_number() > 16)
        cerr_(where, "\"patch_size\" entries must be integers in [1, 16]");
      p[i] = int(e.as_number());
    }
    c.patch_t = p[0]; c.patch_h = p[1]; c.patch_w = p[2];
  }
  get_int(j, "text_len", c.text_len, where, 1, 1 << 16);
  get_int(j, "in_dim", c.in_dim, where, 1, 4096);
  get_int(j, "dim", c.dim, where, 1, 1 << 16);
  get_int(j, "ffn_dim", c.ffn_dim, where, 1, 1 << 18);
  get_int(j, "freq_dim", c.freq_dim, where, 2, 1 << 14);
  get_int(j, "text_dim", c.text_dim, where, 1, 1 << 16);
  get_int(j, "out_dim", c.out_dim, where, 1, 4096);
  get_int(j, "num_heads", c.num_heads, where, 1, 1024);
  get_int(j, "num_layers", c.num_layers, where, 1, 1024);
  get_bool(j, "qk_norm", c.qk_norm, where);
  get_bool(j, "cross_attn_norm", c.cross_attn_norm, where);
  get_num(j, "eps", c.eps, where);
  if (const Json* v = j.find("window_size")) {
    bool ok = v->is_array() && v->items().size() == 2;
    for (size_t i = 0; ok && i < 2; ++i) ok = v->items()[i].is_number() && v->items()[i].as_number() == -1;
    if (!ok) cerr_(where, "\"window_size\" other than [-1, -1] is not supported");
  }
  get_int(j, "num_frame_per_block", c.num_frame_per_block, where, 1, 64);
  const int trained_frames = c.num_frame_per_block;
  if (block_frames == trained_frames) block_frames = 0;  // the config's own size: no override
  if (block_frames != 0) {
    if (block_frames < 1 || block_frames > 64) cerr_(where, "blockFrames must be an integer in [1, 64]");
    c.num_frame_per_block = block_frames;
  }
  get_int(j, "local_attn_size", c.local_attn_size, where, -1, 1 << 20);
  get_int(j, "sink_size", c.sink_size, where, 0, 1 << 20);
  if (const Json* v = get(j, "denoising_step_list", Json::Type::Array, where)) {
    c.denoising_step_list.clear();
    for (auto& e : v->items()) {
      if (!e.is_number() || !(e.as_number() >= 0) || e.as_number() > 1000)
        cerr_(where, "\"denoising_step_list\" entries must be numbers in [0, 1000]");
      c.denoising_step_list.push_back(e.as_number());
    }
    if (c.denoising_step_list.empty()) cerr_(where, "\"denoising_step_list\" must not be empty");
  }
  get_bool(j, "warp_denoising_step", c.warp_denoising_step, where);
  get_num(j, "timestep_shift", c.timestep_shift, where);
  get_int(j, "num_train_timesteps", c.num_train_timesteps, where, 1, 1 << 20);
  if (!o.denoising_steps.empty()) {
    if (o.denoising_steps.size() > 64) cerr_(where, "denoisingSteps takes at most 64 steps");
    for (size_t i = 0; i < o.denoising_steps.size(); ++i) {
      const double t = o.denoising_steps[i];
      if (!(t > 0 && t <= 1000)) cerr_(where, "denoisingSteps entries must be numbers in (0, 1000]");
      if (i > 0 && !(t < o.denoising_steps[i - 1])) cerr_(where, "denoisingSteps must be strictly decreasing");
      if (c.warp_denoising_step && t != std::floor(t)) cerr_(where, "denoisingSteps must be integers for a model that warps its steps");
    }
    c.denoising_step_list = o.denoising_steps;
  }
  get_num(j, "context_noise", c.context_noise, where);
  if (const Json* sch = j.find("schedule"); sch && !sch->is_null()) {
    const std::string sw = where + " schedule";
    if (!sch->is_object()) cerr_(where, "\"schedule\" must be an object {\"type\": \"block\" | \"staggered\", ...} or null");
    std::string type = "block";
    if (const Json* t = get(*sch, "type", Json::Type::String, sw)) type = t->as_string();
    if (type == "staggered") {
      get_int(*sch, "window", c.staggered_window, sw, 1, 64);
      if (c.staggered_window < 1) cerr_(sw, "a staggered schedule needs \"window\": the number of blocks in flight (>= 1)");
    } else if (type != "block") {
      cerr_(sw, "type \"" + type + "\" is not a schedule policy (\"block\" or \"staggered\")");
    }
  }
  get_num(j, "latent_fps", c.latent_fps, where);
  if (!(c.latent_fps >= 0) || !std::isfinite(c.latent_fps)) cerr_(where, "\"latent_fps\" must be a finite number >= 0");
  get_int(j, "latent_height", c.latent_height, where, 1, 1 << 14);
  get_int(j, "latent_width", c.latent_width, where, 1, 1 << 14);
  if (c.i2v) parse_i2v(j, c, where);
  const Json* upstream_ac = j.find("action_config");  // Matrix-Game 2.0's constructor argument
  if (upstream_ac && upstream_ac->is_object() && upstream_ac->members().empty()) upstream_ac = nullptr;
  const Json* a = j.find("action");
  if ((!a || a->is_null()) && upstream_ac) {
    // An upstream Matrix-Game 2.0 config.json as it is: the action space gets generic names.
    parse_matrix_game(*upstream_ac, c, where);
    c.has_action = true;
    c.action.mode = "matrix_game";
    if (c.mg.enable_keyboard)
      for (int i = 0; i < c.mg.keyboard_dim_in; ++i) c.action.keys.push_back("key" + std::to_string(i));
    if (c.mg.enable_mouse)
      for (int i = 0; i < c.mg.mouse_dim_in; ++i) c.action.mouse.push_back({"mouse" + std::to_string(i), -1, 1});
    a = nullptr;
  }
  if (a && !a->is_null()) {
    if (!a->is_object()) cerr_(where, "\"action\" must be an object or null");
    c.has_action = true;
    const std::string aw = where + " action";
    if (const Json* m = get(*a, "mode", Json::Type::String, aw)) c.action.mode = m->as_string();
    if (c.action.mode != "additive" && c.action.mode != "matrix_game")
      cerr_(where, "action mode \"" + c.action.mode + "\" is not supported (\"additive\" or \"matrix_game\")");
    if (c.action.mode == "matrix_game") {
      if (!upstream_ac) cerr_(aw, "mode \"matrix_game\" needs the upstream \"action_config\" object");
      parse_matrix_game(*upstream_ac, c, where);
    }
    if (const Json* k = get(*a, "keys", Json::Type::Array, aw))
      for (auto& e : k->items()) {
        if (!e.is_string() || e.as_string().empty()) cerr_(aw, "\"keys\" must be non-empty strings");
        c.action.keys.push_back(e.as_string());
      }
    if (const Json* m = get(*a, "mouse", Json::Type::Array, aw))
      for (auto& e : m->items()) {
        ActionAxis ax;
        if (e.is_string()) ax.name = e.as_string();
        else if (e.is_object()) {
          const Json* n = get(e, "name", Json::Type::String, aw);
          if (!n) cerr_(aw, "mouse axis needs a \"name\"");
          ax.name = n->as_string();
          get_num(e, "min", ax.min, aw);
          get_num(e, "max", ax.max, aw);
        } else {
          cerr_(aw, "\"mouse\" entries must be names or {name, min, max}");
        }
        if (!(ax.min < ax.max)) cerr_(aw, "mouse axis \"" + ax.name + "\" needs min < max");
        c.action.mouse.push_back(ax);
      }
    if (const Json* ps = a->find("pose"); ps && !ps->is_null()) {
      const std::string pw = aw + " pose";
      if (!ps->is_object()) cerr_(aw, "\"pose\" must be an object {extent, height, frequencies} or null");
      if (c.action.mode != "additive") cerr_(aw, "\"pose\" is only for the additive action module");
      PoseFeatures& P = c.action.pose;
      P.enabled = true;
      if (!get(*ps, "extent", Json::Type::Number, pw) || !get(*ps, "height", Json::Type::Number, pw))
        cerr_(pw, "needs \"extent\" and \"height\" (m): the scales of the horizontal and vertical position");
      get_num(*ps, "extent", P.extent, pw);
      get_num(*ps, "height", P.height, pw);
      if (!(P.extent > 0) || !std::isfinite(P.extent) || !(P.height > 0) || !std::isfinite(P.height))
        cerr_(pw, "\"extent\" and \"height\" must be finite and > 0");
      if (const Json* fr = get(*ps, "frequencies", Json::Type::Array, pw))
        for (auto& e : fr->items()) {
          if (!e.is_number() || !std::isfinite(e.as_number()) || !(e.as_number() > 0))
            cerr_(pw, "\"frequencies\" must be finite numbers > 0");
          P.frequencies.push_back(e.as_number());
        }
      if (P.frequencies.size() > 64) cerr_(pw, "at most 64 frequencies");
    }
    if (const Json* gs = a->find("geometry"); gs && !gs->is_null()) {
      const std::string gw = aw + " geometry";
      if (!gs->is_object()) cerr_(aw, "\"geometry\" must be an object {channels, samples, near} or null");
      if (c.action.mode != "additive") cerr_(aw, "\"geometry\" is only for the additive action module");
      GeometryInput& G = c.action.geometry;
      if (!get(*gs, "channels", Json::Type::Number, gw)) cerr_(gw, "needs \"channels\": the map's channels per latent pixel");
      get_int(*gs, "channels", G.channels, gw, 1, 4096);
      get_int(*gs, "samples", G.samples, gw, 1, 64);
      get_num(*gs, "near", G.near, gw);
      if (!(G.near > 0) || !std::isfinite(G.near)) cerr_(gw, "\"near\" must be finite and > 0");
    }
    if (c.action.size() == 0) cerr_(aw, "action space has no keys and no mouse axes");
  }
  if (c.mg_action()) validate_matrix_game(c, where);
  if (const Json* d = j.find("decoder")) c.decoder = to_json(*d);
  else c.decoder = "null";

  if (c.geometry_channels() > 0) {
    if (c.i2v) cerr_(where, "action \"geometry\" is not supported with model_type \"i2v\"");
    if (c.in_dim != c.out_dim + c.geometry_channels())
      cerr_(where, "in_dim (" + std::to_string(c.in_dim) + ") must equal out_dim (" + std::to_string(c.out_dim) +
                       ") + action.geometry.channels (" + std::to_string(c.geometry_channels()) + ")");
  }
  if (c.dim % c.num_heads) cerr_(where, "dim must be divisible by num_heads");
  if (c.head_dim() % 2) cerr_(where, "head_dim (dim / num_heads) must be even for RoPE");
  if (c.head_dim() > kMaxHeadDim) cerr_(where, "head_dim above 256 is not supported");
  if (c.freq_dim % 2) cerr_(where, "freq_dim must be even");
  if (!(c.eps > 0)) cerr_(where, "eps must be positive");
  if (!(c.timestep_shift > 0)) cerr_(where, "timestep_shift must be positive");
  if (c.patch_t != 1) cerr_(where, "temporal patch size other than 1 is not supported");
  if (c.latent_height % c.patch_h || c.latent_width % c.patch_w)
    cerr_(where, "latent_height/latent_width must be multiples of the patch size");
  if (block_frames != 0 && (c.staggered_window > 0 || c.mg_action() || c.i2v))
    cerr_(where, "blockFrames " + std::to_string(block_frames) + " (blocks of other than config.json's " +
                     std::to_string(trained_frames) + " frames) applies to t2v models with the block loop; this one has " +
                     std::string(c.mg_action() ? "the matrix_game action module" : c.i2v ? "image-to-video input" : "a staggered schedule"));
  validate_window(c.local_attn_size, c.sink_size, c.num_frame_per_block,
                  block_frames ? where + " with blockFrames " + std::to_string(block_frames) : where);
  if (c.mg_action()) {
    get_int(j, "action_local_attn_size", c.mg.local_attn_size, where, -1, 1 << 20);
    if (c.mg.local_attn_size == -2) c.mg.local_attn_size = c.local_attn_size;
    validate_window(c.mg.local_attn_size, 0, c.num_frame_per_block, where + " action_local_attn_size");
  }
  if (c.staggered_window > 0 && int(c.denoising_step_list.size()) % c.staggered_window)
    cerr_(where, "schedule window " + std::to_string(c.staggered_window) + " must divide the " +
                     std::to_string(c.denoising_step_list.size()) + " denoising steps");
  if (c.staggered_window > 0 && (c.mg_action() || c.i2v))
    cerr_(where, "a staggered schedule with the matrix_game action module or image-to-video input is not supported yet");
  return c;
}

ModelConfig load_model_config(const std::string& path, const ConfigOverrides& o) {
  std::ifstream f(path, std::ios::binary);
  if (!f) fail(ErrorKind::Config, path + ": cannot open");
  std::stringstream ss;
  ss << f.rdbuf();
  std::string text = ss.str();
  if (text.size() > (16u << 20)) fail(ErrorKind::Config, path + ": file is too large for a config");
  return parse_model_config(Json::parse(text, path), path, o);
}

}  // namespace wc
