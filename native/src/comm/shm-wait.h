// How a rank waits on another through shared memory: spins briefly (the answer usually comes within
// microseconds), then, as `Patience` says, keeps yielding its core for a while before napping in 50 us
// sleeps, or naps at once; it fails once the communicator's timeout has passed without the condition
// coming true. A tensor-parallel all-reduce waits microseconds for a rank a little behind, and naps
// there cost whole tokens per second (measured: docs/BENCHMARKS.md, issue 20), so collectives yield;
// a pipeline stage waits milliseconds for the next one to finish a pass, and a waiter that keeps its
// core busy takes it from the other processes of a host with as many busy ranks as cores, so
// point-to-point receives nap.
#pragma once

#include <chrono>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <thread>

namespace tsllm {

enum class Patience { yield, nap };

template <class Ready, class Describe>
void waitShared(Ready&& ready, std::chrono::milliseconds timeout, Patience patience, Describe&& describeTimeout) {
  const auto start = std::chrono::steady_clock::now();
  const uint64_t yieldUntil = patience == Patience::yield ? 200000 : 0;
  for (uint64_t spins = 0; !ready(); spins++) {
    if (spins < 20000) {
#if defined(__x86_64__)
      __builtin_ia32_pause();
#endif
      continue;
    }
    if (std::chrono::steady_clock::now() - start > timeout) throw std::runtime_error(describeTimeout());
    std::this_thread::sleep_for(std::chrono::microseconds(spins < yieldUntil ? 0 : 50));
  }
}

}  // namespace tsllm
