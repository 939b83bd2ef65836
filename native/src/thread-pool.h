// A persistent pool: threads are created once and run every parallel kernel. The calling thread takes
// part, so a pool of N threads starts N - 1 workers. Between calls the workers spin briefly (kernel
// calls of one forward pass follow each other within microseconds) and then sleep on a condition
// variable, so an idle engine costs no CPU.
//
// A job's tasks are claimed from one atomic word holding the job's generation, its task count and the
// next task, so a worker can only claim a task of the job that is current. The caller waits for its
// tasks to be done, never for the workers themselves: a worker that is descheduled or still waking up
// (a shared 2-core VM does both) costs nothing, since the caller then runs every task itself.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
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
  // Runs tasks of job `generation` until none is left to claim.
  void drainTasks(uint64_t generation, int thread);

  std::vector<std::thread> workers_;
  std::mutex submitMutex_;  // one parallel call at a time (several JS threads may share a pool)

  // generation (24 bits) | task count (20 bits) | next task (20 bits)
  alignas(64) std::atomic<uint64_t> claim_{0};
  alignas(64) std::atomic<int> done_{0};
  TaskFn fn_ = nullptr;
  void* ctx_ = nullptr;
  std::atomic<bool> stop_{false};

  std::mutex sleepMutex_;
  std::condition_variable wake_;
  std::atomic<int> sleepers_{0};
};

}  // namespace tsllm
