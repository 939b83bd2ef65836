// A persistent pool: threads are created once and run every parallel kernel. The calling thread takes
// part, so a pool of N threads starts N - 1 workers. Between calls the workers spin briefly (kernel
// calls of one forward pass follow each other within microseconds) and then sleep on a condition
// variable, so an idle engine costs no CPU.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

namespace tsllm {

class ThreadPool {
 public:
  explicit ThreadPool(int threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int size() const { return static_cast<int>(workers_.size()) + 1; }

  // Calls fn(task, thread) for every task in [0, tasks), spread over the pool; returns when all are done.
  // `thread` is in [0, size()) and lets a task use per-thread scratch.
  template <class Fn>
  void run(int tasks, Fn&& fn) {
    auto call = [](void* ctx, int task, int thread) { (*static_cast<Fn*>(ctx))(task, thread); };
    runTasks(tasks, call, &fn);
  }

 private:
  using TaskFn = void (*)(void* ctx, int task, int thread);

  void runTasks(int tasks, TaskFn fn, void* ctx);
  void workerLoop(int id);
  void drainTasks(int thread);

  struct alignas(64) Ack {
    std::atomic<uint64_t> generation{0};
  };

  std::vector<std::thread> workers_;
  std::unique_ptr<Ack[]> acks_;
  std::mutex submitMutex_;  // one parallel call at a time (several JS threads may share a pool)

  alignas(64) std::atomic<uint64_t> generation_{0};
  alignas(64) std::atomic<int> nextTask_{0};
  TaskFn fn_ = nullptr;
  void* ctx_ = nullptr;
  int tasks_ = 0;
  std::atomic<bool> stop_{false};

  std::mutex sleepMutex_;
  std::condition_variable wake_;
  std::atomic<int> sleepers_{0};
};

}  // namespace tsllm
