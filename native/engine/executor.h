// The engine thread of a model: runs submitted jobs one at a time, in order, on its
// own thread (never on libuv's pool), with a compute ThreadPool it takes part in.
// Ordering is the contract: a prompt change submitted after a step applies after it.
#pragma once
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>

#include "core/thread_pool.h"

namespace wc {

class Executor {
 public:
  // threads: compute threads in all (this engine thread + threads-1 workers); <= 0: cores.
  explicit Executor(int threads);
  ~Executor();  // runs the jobs already queued, then stops
  Executor(const Executor&) = delete;
  Executor& operator=(const Executor&) = delete;

  void submit(std::function<void()> job);
  // Wait until every job queued before this call has run (from any thread but this
  // executor's own, where it returns at once). For an owner of a shared executor that
  // must outlive nothing of its own past its jobs (the executor itself lives on).
  void drain();
  ThreadPool* pool() { return pool_.get(); }
  int threads() const { return threads_; }
  size_t queued() const;

 private:
  void main();
  int threads_;
  std::unique_ptr<ThreadPool> pool_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> jobs_;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace wc
