#include "model/json.h"

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "core/error.h"

namespace wc {

class JsonParser {
 public:
  JsonParser(const char* p, size_t n, const std::string& what, ErrorKind kind) : p_(p), n_(n), what_(what), kind_(kind) {}

  Json parse_document() {
    skip_ws();
    Json v = parse_value(0);
    skip_ws();
    if (i_ != n_) error("unexpected trailing characters");
    return v;
  }

 private:
  static constexpr int kMaxDepth = 64;

  [[noreturn]] void error(const std::string& msg) {
    fail(kind_, what_ + ": invalid JSON at byte " + std::to_string(i_) + ": " + msg);
  }
  void skip_ws() {
    while (i_ < n_ && (p_[i_] == ' ' || p_[i_] == '\t' || p_[i_] == '\n' || p_[i_] == '\r')) ++i_;
  }
  bool consume(const char* lit) {
    size_t l = std::strlen(lit);
    if (n_ - i_ >= l && std::memcmp(p_ + i_, lit, l) == 0) { i_ += l; return true; }
    return false;
  }

  Json parse_value(int depth) {
    if (depth > kMaxDepth) error("nesting too deep");
    if (i_ >= n_) error("unexpected end of input");
    Json v;
    char c = p_[i_];
    if (c == '{') {
      v.type_ = Json::Type::Object;
      ++i_;
      skip_ws();
      if (i_ < n_ && p_[i_] == '}') { ++i_; return v; }
      for (;;) {
        skip_ws();
        if (i_ >= n_ || p_[i_] != '"') error("expected a string key");
        std::string key = parse_string();
        for (auto& m : v.obj_) if (m.first == key) error("duplicate key \"" + key + "\"");
        skip_ws();
        if (i_ >= n_ || p_[i_] != ':') error("expected ':'");
        ++i_;
        skip_ws();
        v.obj_.emplace_back(std::move(key), parse_value(depth + 1));
        skip_ws();
        if (i_ < n_ && p_[i_] == ',') { ++i_; continue; }
        if (i_ < n_ && p_[i_] == '}') { ++i_; return v; }
        error("expected ',' or '}'");
      }
    }
    if (c == '[') {
      v.type_ = Json::Type::Array;
      ++i_;
      skip_ws();
      if (i_ < n_ && p_[i_] == ']') { ++i_; return v; }
      for (;;) {
        skip_ws();
        v.arr_.push_back(parse_value(depth + 1));
        skip_ws();
        if (i_ < n_ && p_[i_] == ',') { ++i_; continue; }
        if (i_ < n_ && p_[i_] == ']') { ++i_; return v; }
        error("expected ',' or ']'");
      }
    }
    if (c == '"') {
      v.type_ = Json::Type::String;
      v.str_ = parse_string();
      return v;
    }
    if (consume("true")) { v.type_ = Json::Type::Bool; v.b_ = true; return v; }
    if (consume("false")) { v.type_ = Json::Type::Bool; v.b_ = false; return v; }
    if (consume("null")) return v;
    // Python's json writes these for non-finite floats; accept them (config files come from Python).
    if (consume("NaN")) { v.type_ = Json::Type::Number; v.num_ = __builtin_nan(""); return v; }
    if (consume("Infinity")) { v.type_ = Json::Type::Number; v.num_ = __builtin_inf(); return v; }
    if (consume("-Infinity")) { v.type_ = Json::Type::Number; v.num_ = -__builtin_inf(); return v; }
    if (c == '-' || (c >= '0' && c <= '9')) {
      v.type_ = Json::Type::Number;
      v.num_ = parse_number();
      return v;
    }
    error(std::string("unexpected character '") + (c >= 32 && c < 127 ? std::string(1, c) : std::string("?")) + "'");
  }

  double parse_number() {
    size_t s = i_;
    if (p_[i_] == '-') ++i_;
    if (i_ >= n_) error("bad number");
    if (p_[i_] == '0') ++i_;
    else if (p_[i_] >= '1' && p_[i_] <= '9') while (i_ < n_ && p_[i_] >= '0' && p_[i_] <= '9') ++i_;
    else error("bad number");
    if (i_ < n_ && p_[i_] == '.') {
      ++i_;
      if (i_ >= n_ || !(p_[i_] >= '0' && p_[i_] <= '9')) error("bad number");
      while (i_ < n_ && p_[i_] >= '0' && p_[i_] <= '9') ++i_;
    }
    if (i_ < n_ && (p_[i_] == 'e' || p_[i_] == 'E')) {
      ++i_;
      if (i_ < n_ && (p_[i_] == '+' || p_[i_] == '-')) ++i_;
      if (i_ >= n_ || !(p_[i_] >= '0' && p_[i_] <= '9')) error("bad number");
      while (i_ < n_ && p_[i_] >= '0' && p_[i_] <= '9') ++i_;
    }
    std::string tok(p_ + s, i_ - s);
    return std::strtod(tok.c_str(), nullptr);
  }

  static void put_utf8(std::string& out, uint32_t cp) {
    if (cp < 0x80) out += char(cp);
    else if (cp < 0x800) { out += char(0xc0 | (cp >> 6)); out += char(0x80 | (cp & 0x3f)); }
    else if (cp < 0x10000) { out += char(0xe0 | (cp >> 12)); out += char(0x80 | ((cp >> 6) & 0x3f)); out += char(0x80 | (cp & 0x3f)); }
    else { out += char(0xf0 | (cp >> 18)); out += char(0x80 | ((cp >> 12) & 0x3f)); out += char(0x80 | ((cp >> 6) & 0x3f)); out += char(0x80 | (cp & 0x3f)); }
  }

  uint32_t hex4() {
    if (n_ - i_ < 4) error("bad \\u escape");
    uint32_t v = 0;
    for (int k = 0; k < 4; ++k) {
      char c = p_[i_++];
      v <<= 4;
      if (c >= '0' && c <= '9') v |= uint32_t(c - '0');
      else if (c >= 'a' && c <= 'f') v |= uint32_t(c - 'a' + 10);
      else if (c >= 'A' && c <= 'F') v |= uint32_t(c - 'A' + 10);
      else error("bad \\u escape");
    }
    return v;
  }

  std::string parse_string() {
    ++i_;  // opening quote
    std::string out;
    for (;;) {
      if (i_ >= n_) error("unterminated string");
      unsigned char c = static_cast<unsigned char>(p_[i_++]);
      if (c == '"') return out;
      if (c < 0x20) error("control character in string");
      if (c != '\\') { out += char(c); continue; }
      if (i_ >= n_) error("unterminated escape");
      char e = p_[i_++];
      switch (e) {
        case '"': out += '"'; break;
        case '\\': out += '\\'; break;
        case '/': out += '/'; break;
        case 'b': out += '\b'; break;
        case 'f': out += '\f'; break;
        case 'n': out += '\n'; break;
        case 'r': out += '\r'; break;
        case 't': out += '\t'; break;
        case 'u': {
          uint32_t cp = hex4();
          if (cp >= 0xd800 && cp < 0xdc00) {
            if (n_ - i_ < 6 || p_[i_] != '\\' || p_[i_ + 1] != 'u') error("lone surrogate");
            i_ += 2;
            uint32_t lo = hex4();
            if (lo < 0xdc00 || lo >= 0xe000) error("bad surrogate pair");
            cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
          } else if (cp >= 0xdc00 && cp < 0xe000) {
            error("lone surrogate");
          }
          put_utf8(out, cp);
          break;
        }
        default: error("bad escape");
      }
    }
  }

  const char* p_;
  size_t n_;
  size_t i_ = 0;
  std::string what_;
  ErrorKind kind_;
};

Json Json::parse(const std::string& text, const std::string& what) { return parse(text.data(), text.size(), what); }

Json Json::parse(const char* data, size_t n, const std::string& what, ErrorKind kind) {
  JsonParser p(data, n, what, kind);
  return p.parse_document();
}

const Json* Json::find(const std::string& key) const {
  if (type_ != Type::Object) return nullptr;
  for (auto& m : obj_) if (m.first == key) return &m.second;
  return nullptr;
}

const char* Json::type_name(Type t) {
  switch (t) {
    case Type::Null: return "null";
    case Type::Bool: return "boolean";
    case Type::Number: return "number";
    case Type::String: return "string";
    case Type::Array: return "array";
    default: return "object";
  }
}

}  // namespace wc
