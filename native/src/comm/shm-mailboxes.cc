#include "shm-mailboxes.h"
#include "shm-wait.h"

#include <algorithm>
#include <atomic>
#include <cstring>
#include <stdexcept>
#include <string>

namespace tsllm {

namespace {
// The head and the tail on cache lines of their own, so producer and consumer do not share one.
constexpr size_t kLine = 64;
constexpr size_t kHeaderBytes = 2 * sizeof(uint64_t);

size_t ringStride(size_t ringBytes) { return 2 * kLine + ringBytes; }
}  // namespace

struct ShmMailboxes::Ring {
  std::atomic<uint64_t>* head;  // bytes ever written (producer)
  std::atomic<uint64_t>* tail;  // bytes ever read (consumer)
  char* data;
  size_t bytes;

  // Copies n bytes in at stream position `at`, wrapping at the ring's end.
  void write(uint64_t at, const void* src, size_t n) const {
    const size_t o = at % bytes, first = std::min(n, bytes - o);
    std::memcpy(data + o, src, first);
    std::memcpy(data, static_cast<const char*>(src) + first, n - first);
  }
  void read(uint64_t at, void* dst, size_t n) const {
    const size_t o = at % bytes, first = std::min(n, bytes - o);
    std::memcpy(dst, data + o, first);
    std::memcpy(static_cast<char*>(dst) + first, data, n - first);
  }
};

ShmMailboxes::ShmMailboxes(const std::string& name, int rank, int size, size_t ringBytes, bool create)
    : segment_(name, ringStride(ringBytes) * size * size, create, "shared-memory mailboxes"), rank_(rank), size_(size), ringBytes_(ringBytes) {}

ShmMailboxes::Ring ShmMailboxes::ring(int src, int dst) const {
  char* at = segment_.base() + ringStride(ringBytes_) * (static_cast<size_t>(src) * size_ + dst);
  return Ring{reinterpret_cast<std::atomic<uint64_t>*>(at), reinterpret_cast<std::atomic<uint64_t>*>(at + kLine), at + 2 * kLine, ringBytes_};
}

bool ShmMailboxes::fits(size_t bytes) const { return kHeaderBytes + bytes <= ringBytes_ / 4; }

uint64_t ShmMailboxes::send(const void* data, size_t bytes, int dst, uint64_t tag, std::chrono::milliseconds timeout) {
  const Ring r = ring(rank_, dst);
  const uint64_t head = r.head->load(std::memory_order_relaxed);
  const size_t total = kHeaderBytes + bytes;
  waitShared([&] { return head + total - r.tail->load(std::memory_order_acquire) <= r.bytes; }, timeout, Patience::nap, [&] {
    return "send to rank " + std::to_string(dst) + ": no room in its mailbox within " + std::to_string(timeout.count()) + " ms";
  });
  const uint64_t header[2] = {tag, bytes};
  r.write(head, header, kHeaderBytes);
  r.write(head + kHeaderBytes, data, bytes);
  r.head->store(head + total, std::memory_order_release);
  return head + total;
}

void ShmMailboxes::waitConsumed(int dst, uint64_t end, std::chrono::milliseconds timeout) const {
  const Ring r = ring(rank_, dst);
  waitShared([&] { return r.tail->load(std::memory_order_acquire) >= end; }, timeout, Patience::nap, [&] {
    return "send to rank " + std::to_string(dst) + " was not received within " + std::to_string(timeout.count()) + " ms";
  });
}

void ShmMailboxes::recv(void* data, size_t bytes, int src, uint64_t tag, std::chrono::milliseconds timeout) {
  const Ring r = ring(src, rank_);
  const uint64_t tail = r.tail->load(std::memory_order_relaxed);
  waitShared([&] { return r.head->load(std::memory_order_acquire) != tail; }, timeout, Patience::nap, [&] {
    return "recv from rank " + std::to_string(src) + " timed out after " + std::to_string(timeout.count()) + " ms";
  });
  uint64_t header[2];
  r.read(tail, header, kHeaderBytes);
  if (header[0] != tag || header[1] != bytes) {
    throw std::runtime_error("recv from rank " + std::to_string(src) + ": expected tag " + std::to_string(tag) + " of " + std::to_string(bytes) +
                             " bytes, the next message has tag " + std::to_string(header[0]) + " of " + std::to_string(header[1]) + " bytes");
  }
  r.read(tail + kHeaderBytes, data, bytes);
  r.tail->store(tail + kHeaderBytes + bytes, std::memory_order_release);
}

}  // namespace tsllm
