// Engine errors. Every failure on bad input is one of these (never an abort);
// the addon turns them into JS Errors whose `code` is the kind's name.
#pragma once
#include <stdexcept>
#include <string>

namespace wc {

enum class ErrorKind {
  Weights,   // checkpoint files: missing/extra/mis-shaped tensors, bad header, truncation, dtype
  Config,    // config.json problems
  Shape,     // wrong tensor shape / length passed by a caller
  Argument,  // other invalid caller input
  KvBudget,  // KV memory budget exhausted
  Closed,    // use after close
  Internal,
};

inline const char* error_kind_name(ErrorKind k) {
  switch (k) {
    case ErrorKind::Weights: return "WEIGHTS";
    case ErrorKind::Config: return "CONFIG";
    case ErrorKind::Shape: return "SHAPE";
    case ErrorKind::Argument: return "ARGUMENT";
    case ErrorKind::KvBudget: return "KV_BUDGET";
    case ErrorKind::Closed: return "CLOSED";
    default: return "INTERNAL";
  }
}

class Error : public std::runtime_error {
 public:
  Error(ErrorKind kind, const std::string& msg) : std::runtime_error(msg), kind_(kind) {}
  ErrorKind kind() const { return kind_; }

 private:
  ErrorKind kind_;
};

[[noreturn]] inline void fail(ErrorKind kind, const std::string& msg) { throw Error(kind, msg); }

}  // namespace wc
