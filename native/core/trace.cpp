#include "core/trace.h"

#include <functional>
#include <mutex>
#include <thread>

namespace wc {

std::atomic<bool> Trace::enabled_{false};

namespace {
std::mutex g_mu;
std::vector<TraceEvent> g_events;
constexpr size_t kMaxEvents = size_t(1) << 22;  // ~100 MB at most, then new events are dropped
}  // namespace

void Trace::start() {
  std::lock_guard<std::mutex> lk(g_mu);
  g_events.clear();
  g_events.reserve(1 << 16);
  enabled_.store(true, std::memory_order_relaxed);
}

std::vector<TraceEvent> Trace::stop() {
  enabled_.store(false, std::memory_order_relaxed);
  std::lock_guard<std::mutex> lk(g_mu);
  std::vector<TraceEvent> out;
  out.swap(g_events);
  return out;
}

void Trace::record(const char* name, const char* cat, int64_t ts_ns, int64_t dur_ns) {
  static thread_local uint32_t tid = uint32_t(std::hash<std::thread::id>()(std::this_thread::get_id()) & 0xffff);
  std::lock_guard<std::mutex> lk(g_mu);
  if (!enabled_.load(std::memory_order_relaxed) || g_events.size() >= kMaxEvents) return;
  g_events.push_back({name, cat, ts_ns, dur_ns, tid});
}

}  // namespace wc
