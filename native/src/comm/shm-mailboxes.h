// Point-to-point messages between ranks on one host through shared memory, the fast path beside
// Gloo's send/recv for pipeline stages. Gloo moves a message only once both sides have posted it (the
// receiver's "ready" must reach the sender's network thread, which on a busy host waits for a core),
// so a stage that asks for activations posted long ago still waited milliseconds for them. Here the
// sender copies the message into a ring and returns, and the receiver finds it there.
//
// One ring per ordered pair of ranks (single producer, single consumer): a message is a header (tag,
// bytes) and its payload, written at the ring's head and published by advancing the head; the
// receiver reads at the tail and advances it. Messages of a pair arrive in the order sent, so a recv
// that finds another tag or size than it expects is a protocol error, reported as such. A message
// larger than a quarter of the ring goes through Gloo instead (both sides decide by its size, which
// both know), so that the ring holds the few messages a pipeline keeps in flight and a sender does
// not wait for room; when it must, it waits like the receiver, up to the communicator's timeout.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>

#include "shm-segment.h"

namespace tsllm {

class ShmMailboxes {
 public:
  // Rank 0 creates the segment (create = true); the others open it by name.
  ShmMailboxes(const std::string& name, int rank, int size, size_t ringBytes, bool create);

  bool fits(size_t bytes) const;
  // Returns the message's end in the pair's stream, for waitConsumed.
  uint64_t send(const void* data, size_t bytes, int dst, uint64_t tag, std::chrono::milliseconds timeout);
  // Waits until `dst` has read up to `end`: a send is complete, as Gloo's is, once received, so that
  // waiting for a send still tells a live peer from a dead one.
  void waitConsumed(int dst, uint64_t end, std::chrono::milliseconds timeout) const;
  void recv(void* data, size_t bytes, int src, uint64_t tag, std::chrono::milliseconds timeout);
  void unlink() { segment_.unlink(); }

 private:
  struct Ring;
  Ring ring(int src, int dst) const;

  SharedSegment segment_;
  int rank_, size_;
  size_t ringBytes_;
};

}  // namespace tsllm
