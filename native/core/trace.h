// Trace events of the engine's profiler: near-zero-overhead scopes (one relaxed atomic
// load when off) that, when on, record complete events (name, category, start, duration,
// thread) for a Chrome/Perfetto trace and a summary table. In core so every layer can
// mark its scopes; engine/profiler and the addon read them out.
#pragma once
#include <atomic>
#include <chrono>
#include <cstdint>
#include <vector>

namespace wc {

struct TraceEvent {
  const char* name;  // string literals only
  const char* cat;
  int64_t ts_ns;     // steady clock
  int64_t dur_ns;
  uint32_t tid;
};

class Trace {
 public:
  static bool on() { return enabled_.load(std::memory_order_relaxed); }
  static void start();                   // clears and enables
  static std::vector<TraceEvent> stop();  // disables and returns the events
  static void record(const char* name, const char* cat, int64_t ts_ns, int64_t dur_ns);
  static int64_t now_ns() {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
        .count();
  }

 private:
  static std::atomic<bool> enabled_;
};

class TraceScope {
 public:
  TraceScope(const char* name, const char* cat) : name_(name), cat_(cat), t0_(Trace::on() ? Trace::now_ns() : -1) {}
  ~TraceScope() {
    if (t0_ >= 0) Trace::record(name_, cat_, t0_, Trace::now_ns() - t0_);
  }

 private:
  const char* name_;
  const char* cat_;
  int64_t t0_;
};

}  // namespace wc
