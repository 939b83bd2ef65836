// Collectives between ranks on one host through one shared-memory segment, the fast path beside Gloo
// (vLLM's CPU backend has the same idea): each rank has a slot in each of two buffers and a sequence
// flag. An operation writes this rank's slot of buffer seq % 2, publishes seq, waits until every rank
// has published it, then reads. A rank can only reach seq + 2 (reusing the buffer) once all have
// published seq + 1, that is, once all have finished reading seq. Every rank sums the slots in rank
// order, so all ranks get the same bits. Waiting spins briefly, then sleeps in short naps so an idle
// rank costs no core; a rank that does not arrive within the timeout fails the operation.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>

#include "shm-segment.h"

namespace tsllm {

class ShmCollectives {
 public:
  // Rank 0 creates the segment (create = true); the others open it by name.
  ShmCollectives(const std::string& name, int rank, int size, size_t slotBytes, bool create);

  size_t slotBytes() const { return slotBytes_; }
  void allReduceSum(float* x, size_t n, std::chrono::milliseconds timeout);
  void allGather(const void* in, void* out, size_t bytes, std::chrono::milliseconds timeout);
  void broadcast(void* data, size_t bytes, int root, std::chrono::milliseconds timeout);
  // After every rank has opened the segment, its name can go (it lives while mapped).
  void unlink();

 private:
  char* slot(int parity, int rank) const;
  void publishAndWait(std::chrono::milliseconds timeout);

  SharedSegment segment_;
  int rank_, size_;
  size_t slotBytes_;
  std::atomic<uint64_t>* flags_;
  uint64_t seq_ = 0;
};

}  // namespace tsllm
