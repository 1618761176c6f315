// The engine's own compute threads (no OpenMP, no libuv pool). The calling
// thread takes part as thread 0; workers spin briefly, then sleep.
#pragma once
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <functional>
#include <mutex>
#include <thread>
#include <type_traits>
#include <vector>

namespace wc {

class ThreadPool {
 public:
  // n_threads: total threads including the caller; <= 0 means hardware concurrency.
  explicit ThreadPool(int n_threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int size() const { return int(workers_.size()) + 1; }

  // Runs fn(task, thread) for every task in [0, n_tasks) and returns when all are
  // done. The first exception thrown by a task is rethrown here (other tasks still run).
  // Tasks are claimed one at a time from an atomic counter (chunk stealing), so uneven
  // tasks balance. The callable is passed by pointer: no allocation per call.
  template <typename Fn>
  void parallel_for(int64_t n_tasks, Fn&& fn) {
    using F = std::remove_reference_t<Fn>;
    run(n_tasks, const_cast<void*>(static_cast<const void*>(&fn)),
        [](void* ctx, int64_t task, int thread) { (*static_cast<F*>(ctx))(task, thread); });
  }

 private:
  using Call = void (*)(void*, int64_t, int);
  void run(int64_t n_tasks, void* ctx, Call call);
  void worker_main(int index);
  void run_tasks(int thread);

  std::vector<std::thread> workers_;
  std::mutex call_mu_;  // one parallel_for at a time
  std::mutex mu_;
  std::condition_variable cv_;
  std::atomic<uint64_t> generation_{0};
  std::atomic<int64_t> next_{0};
  std::atomic<int> active_{0};
  int64_t n_tasks_ = 0;
  void* ctx_ = nullptr;
  Call call_ = nullptr;
  std::exception_ptr error_;
  std::mutex error_mu_;
  bool stop_ = false;
};

}  // namespace wc
