#include "shm-collectives.h"
#include "shm-wait.h"

#include <cstring>
#include <string>

namespace tsllm {

namespace {
// One cache line per flag, so ranks do not write the same line.
constexpr size_t kFlagStride = 64;
}  // namespace

ShmCollectives::ShmCollectives(const std::string& name, int rank, int size, size_t slotBytes, bool create)
    : segment_(name, kFlagStride * size + 2 * slotBytes * size, create, "shared-memory collectives"),
      rank_(rank), size_(size), slotBytes_(slotBytes), flags_(reinterpret_cast<std::atomic<uint64_t>*>(segment_.base())) {}

void ShmCollectives::unlink() { segment_.unlink(); }

char* ShmCollectives::slot(int parity, int rank) const {
  return segment_.base() + kFlagStride * size_ + (static_cast<size_t>(parity) * size_ + rank) * slotBytes_;
}

static std::atomic<uint64_t>& flagOf(std::atomic<uint64_t>* flags, int r) {
  return *reinterpret_cast<std::atomic<uint64_t>*>(reinterpret_cast<char*>(flags) + kFlagStride * r);
}

void ShmCollectives::publishAndWait(std::chrono::milliseconds timeout) {
  flagOf(flags_, rank_).store(seq_, std::memory_order_release);
  for (int r = 0; r < size_; r++) {
    waitShared([&] { return flagOf(flags_, r).load(std::memory_order_acquire) >= seq_; }, timeout, Patience::yield, [&] {
      return "shared-memory collectives: rank " + std::to_string(r) + " did not arrive within " + std::to_string(timeout.count()) + " ms";
    });
  }
}

void ShmCollectives::allReduceSum(float* x, size_t n, std::chrono::milliseconds timeout) {
  const int parity = static_cast<int>(++seq_ & 1);
  std::memcpy(slot(parity, rank_), x, n * sizeof(float));
  publishAndWait(timeout);
  const float* first = reinterpret_cast<const float*>(slot(parity, 0));
  for (size_t i = 0; i < n; i++) x[i] = first[i];
  for (int r = 1; r < size_; r++) {
    const float* s = reinterpret_cast<const float*>(slot(parity, r));
    for (size_t i = 0; i < n; i++) x[i] += s[i];
  }
}

void ShmCollectives::allGather(const void* in, void* out, size_t bytes, std::chrono::milliseconds timeout) {
  const int parity = static_cast<int>(++seq_ & 1);
  std::memcpy(slot(parity, rank_), in, bytes);
  publishAndWait(timeout);
  for (int r = 0; r < size_; r++) std::memcpy(static_cast<char*>(out) + r * bytes, slot(parity, r), bytes);
}

void ShmCollectives::broadcast(void* data, size_t bytes, int root, std::chrono::milliseconds timeout) {
  const int parity = static_cast<int>(++seq_ & 1);
  if (rank_ == root) std::memcpy(slot(parity, root), data, bytes);
  publishAndWait(timeout);
  if (rank_ != root) std::memcpy(data, slot(parity, root), bytes);
}

}  // namespace tsllm
