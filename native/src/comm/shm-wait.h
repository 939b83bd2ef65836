// How a rank waits on another through shared memory: spins briefly (the answer usually comes within
// microseconds), then naps in 50 us sleeps, and fails once the communicator's timeout has passed
// without the condition coming true. Napping rather than yielding matters on a host with as many busy
// ranks as cores: a pipeline stage waits milliseconds for the next one, and a waiter that keeps its
// core busy slows the stage it waits for (measured: the stages' layers 5-10% slower).
#pragma once

#include <chrono>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <thread>

namespace tsllm {

template <class Ready, class Describe>
void waitShared(Ready&& ready, std::chrono::milliseconds timeout, Describe&& describeTimeout) {
  const auto start = std::chrono::steady_clock::now();
  for (uint64_t spins = 0; !ready(); spins++) {
    if (spins < 20000) {
#if defined(__x86_64__)
      __builtin_ia32_pause();
#endif
      continue;
    }
    if (std::chrono::steady_clock::now() - start > timeout) throw std::runtime_error(describeTimeout());
    std::this_thread::sleep_for(std::chrono::microseconds(50));
  }
}

}  // namespace tsllm
