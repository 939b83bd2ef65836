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

static constexpr int kTaskBits = 20;
static constexpr uint64_t kTaskMask = (uint64_t{1} << kTaskBits) - 1;
static uint64_t generationOf(uint64_t claim) { return claim >> (2 * kTaskBits); }
static int taskCountOf(uint64_t claim) { return static_cast<int>((claim >> kTaskBits) & kTaskMask); }
static int nextTaskOf(uint64_t claim) { return static_cast<int>(claim & kTaskMask); }

ThreadPool::ThreadPool(int threads) {
  for (int i = 1; i < threads; i++) workers_.emplace_back([this, i] { workerLoop(i); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lock(sleepMutex_);
    stop_.store(true);
    claim_.fetch_add(uint64_t{1} << (2 * kTaskBits));
  }
  wake_.notify_all();
  for (auto& t : workers_) t.join();
}

void ThreadPool::drainTasks(uint64_t generation, int thread) {
  uint64_t c = claim_.load(std::memory_order_acquire);
  for (;;) {
    if (generationOf(c) != generation || nextTaskOf(c) >= taskCountOf(c)) return;
    // A successful claim means this job is unfinished, so fn_ and ctx_ are still this job's.
    if (!claim_.compare_exchange_weak(c, c + 1, std::memory_order_acq_rel, std::memory_order_acquire)) continue;
    fn_(ctx_, nextTaskOf(c), thread);
    done_.fetch_add(1, std::memory_order_release);
    c = claim_.load(std::memory_order_acquire);
  }
}

void ThreadPool::runTasks(int tasks, TaskFn fn, void* ctx) {
  if (tasks <= 0) return;
  if (workers_.empty() || tasks == 1 || static_cast<uint64_t>(tasks) > kTaskMask) {
    for (int t = 0; t < tasks; t++) fn(ctx, t, 0);
    return;
  }
  std::lock_guard<std::mutex> submit(submitMutex_);
  fn_ = fn;
  ctx_ = ctx;
  done_.store(0, std::memory_order_relaxed);
  const uint64_t generation = (generationOf(claim_.load(std::memory_order_relaxed)) + 1) & ((uint64_t{1} << 24) - 1);
  claim_.store((generation << (2 * kTaskBits)) | (static_cast<uint64_t>(tasks) << kTaskBits), std::memory_order_seq_cst);
  if (sleepers_.load(std::memory_order_seq_cst) > 0) {
    std::lock_guard<std::mutex> lock(sleepMutex_);
    wake_.notify_all();
  }
  drainTasks(generation, 0);
  while (done_.load(std::memory_order_acquire) != tasks) cpuRelax();
}

void ThreadPool::workerLoop(int id) {
  uint64_t seen = generationOf(claim_.load(std::memory_order_acquire));
  for (;;) {
    uint64_t gen = generationOf(claim_.load(std::memory_order_acquire));
    if (gen == seen) {
      const auto deadline = std::chrono::steady_clock::now() + kSpinBeforeSleep;
      int spins = 0;
      while ((gen = generationOf(claim_.load(std::memory_order_acquire))) == seen) {
        cpuRelax();
        if (++spins % 256 == 0 && std::chrono::steady_clock::now() > deadline) break;
      }
      if (gen == seen) {
        sleepers_.fetch_add(1, std::memory_order_seq_cst);
        std::unique_lock<std::mutex> lock(sleepMutex_);
        wake_.wait(lock, [&] { return (gen = generationOf(claim_.load(std::memory_order_seq_cst))) != seen || stop_.load(); });
        lock.unlock();
        sleepers_.fetch_sub(1, std::memory_order_relaxed);
      }
    }
    seen = gen;
    if (stop_.load()) return;
    drainTasks(gen, id);
  }
}

}  // namespace tsllm
