// A fixed-size pool of worker threads running queued closures in FIFO order.
// Thread-safe. The destructor finishes queued work, then joins.
#ifndef TAILOR_CORE_THREAD_POOL_H_
#define TAILOR_CORE_THREAD_POOL_H_

#include <deque>
#include <functional>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

namespace tailor {

class ThreadPool {
 public:
  // `num_threads` >= 1. `on_start(worker_index)` runs once in each worker before any task
  // (e.g. to set per-thread LibTorch settings).
  explicit ThreadPool(int num_threads, std::function<void(int)> on_start = nullptr);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int size() const { return static_cast<int>(threads_.size()); }
  // Runs `task(worker_index)` on some worker.
  void Schedule(std::function<void(int)> task);

 private:
  void WorkerLoop(int index);

  absl::Mutex mu_;
  std::deque<std::function<void(int)>> queue_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::function<void(int)> on_start_;
  std::vector<std::thread> threads_;
};

}  // namespace tailor

#endif  // TAILOR_CORE_THREAD_POOL_H_
