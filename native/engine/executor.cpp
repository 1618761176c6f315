#include "engine/executor.h"

namespace wc {

Executor::Executor(int threads) {
  if (threads <= 0) threads = int(std::thread::hardware_concurrency());
  if (threads <= 0) threads = 1;
  threads_ = threads;
  thread_ = std::thread([this] {
    // The pool's caller thread is this engine thread, so the pool is created here.
    pool_ = std::make_unique<ThreadPool>(threads_);
    {
      std::lock_guard<std::mutex> lk(mu_);
      cv_.notify_all();
    }
    main();
    pool_.reset();
  });
  std::unique_lock<std::mutex> lk(mu_);
  cv_.wait(lk, [this] { return pool_ != nullptr; });
}

Executor::~Executor() {
  {
    std::lock_guard<std::mutex> lk(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void Executor::submit(std::function<void()> job) {
  {
    std::lock_guard<std::mutex> lk(mu_);
    jobs_.push_back(std::move(job));
  }
  cv_.notify_all();
}

void Executor::drain() {
  if (std::this_thread::get_id() == thread_.get_id()) return;
  std::mutex m;
  std::condition_variable cv;
  bool done = false;
  submit([&] {
    std::lock_guard<std::mutex> lk(m);
    done = true;
    cv.notify_all();
  });
  std::unique_lock<std::mutex> lk(m);
  cv.wait(lk, [&] { return done; });
}

size_t Executor::queued() const {
  std::lock_guard<std::mutex> lk(mu_);
  return jobs_.size();
}

void Executor::main() {
  for (;;) {
    std::function<void()> job;
    {
      std::unique_lock<std::mutex> lk(mu_);
      cv_.wait(lk, [this] { return stop_ || !jobs_.empty(); });
      if (jobs_.empty()) return;  // stop requested and drained
      job = std::move(jobs_.front());
      jobs_.pop_front();
    }
    job();  // jobs catch their own exceptions
  }
}

}  // namespace wc
