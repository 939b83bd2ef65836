#include "thread-pool.h"

#include <chrono>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
static inline void cpuRelax() { _mm_pause(); }
#else
static inline void cpuRelax() {}
#endif

namespace tsllm {

// How long an idle worker spins before it sleeps. Long enough to bridge the gap between two kernel
// calls of a forward pass (a few microseconds of JavaScript), short enough that a paused engine
// releases its cores at once.
static constexpr auto kSpinBeforeSleep = std::chrono::microseconds(300);

ThreadPool::ThreadPool(int threads) : acks_(new Ack[threads > 1 ? threads : 1]) {
  for (int i = 1; i < threads; i++) workers_.emplace_back([this, i] { workerLoop(i); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lock(sleepMutex_);
    stop_.store(true);
    generation_.fetch_add(1);
  }
  wake_.notify_all();
  for (auto& t : workers_) t.join();
}

void ThreadPool::drainTasks(int thread) {
  for (int t = nextTask_.fetch_add(1, std::memory_order_relaxed); t < tasks_;
       t = nextTask_.fetch_add(1, std::memory_order_relaxed)) {
    fn_(ctx_, t, thread);
  }
}

void ThreadPool::runTasks(int tasks, TaskFn fn, void* ctx) {
  if (tasks <= 0) return;
  if (workers_.empty() || tasks == 1) {
    for (int t = 0; t < tasks; t++) fn(ctx, t, 0);
    return;
  }
  std::lock_guard<std::mutex> submit(submitMutex_);
  fn_ = fn;
  ctx_ = ctx;
  tasks_ = tasks;
  nextTask_.store(0, std::memory_order_relaxed);
  const uint64_t gen = generation_.fetch_add(1, std::memory_order_seq_cst) + 1;
  if (sleepers_.load(std::memory_order_seq_cst) > 0) {
    std::lock_guard<std::mutex> lock(sleepMutex_);
    wake_.notify_all();
  }
  drainTasks(0);
  // Every worker acknowledges the generation, so none can still be reading this job when the next starts.
  for (size_t w = 0; w < workers_.size(); w++) {
    while (acks_[w + 1].generation.load(std::memory_order_acquire) != gen) cpuRelax();
  }
}

void ThreadPool::workerLoop(int id) {
  uint64_t seen = 0;
  for (;;) {
    uint64_t gen = generation_.load(std::memory_order_acquire);
    if (gen == seen) {
      const auto deadline = std::chrono::steady_clock::now() + kSpinBeforeSleep;
      int spins = 0;
      while ((gen = generation_.load(std::memory_order_acquire)) == seen) {
        cpuRelax();
        if (++spins % 256 == 0 && std::chrono::steady_clock::now() > deadline) break;
      }
      if (gen == seen) {
        sleepers_.fetch_add(1, std::memory_order_seq_cst);
        std::unique_lock<std::mutex> lock(sleepMutex_);
        wake_.wait(lock, [&] { return (gen = generation_.load(std::memory_order_seq_cst)) != seen; });
        lock.unlock();
        sleepers_.fetch_sub(1, std::memory_order_relaxed);
      }
    }
    seen = gen;
    if (stop_.load()) return;
    drainTasks(id);
    acks_[id].generation.store(seen, std::memory_order_release);
  }
}

}  // namespace tsllm
