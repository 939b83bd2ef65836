#include "shm-collectives.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstring>
#include <stdexcept>
#include <thread>

namespace tsllm {

namespace {
// One cache line per flag, so ranks do not write the same line.
constexpr size_t kFlagStride = 64;
}  // namespace

ShmCollectives::ShmCollectives(const std::string& name, int rank, int size, size_t slotBytes, bool create)
    : name_(name), rank_(rank), size_(size), slotBytes_(slotBytes) {
  mapBytes_ = kFlagStride * size + 2 * slotBytes * size;
  const int fd = shm_open(name.c_str(), create ? (O_CREAT | O_EXCL | O_RDWR) : O_RDWR, 0600);
  if (fd < 0) throw std::runtime_error("shared-memory collectives: shm_open " + name + ": " + strerror(errno));
  if (create && ftruncate(fd, static_cast<off_t>(mapBytes_)) != 0) {
    close(fd);
    throw std::runtime_error(std::string("shared-memory collectives: ftruncate: ") + strerror(errno));
  }
  base_ = mmap(nullptr, mapBytes_, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  close(fd);
  if (base_ == MAP_FAILED) {
    base_ = nullptr;
    throw std::runtime_error(std::string("shared-memory collectives: mmap: ") + strerror(errno));
  }
  flags_ = reinterpret_cast<std::atomic<uint64_t>*>(base_);
}

ShmCollectives::~ShmCollectives() {
  if (base_) munmap(base_, mapBytes_);
}

void ShmCollectives::unlink() { shm_unlink(name_.c_str()); }

char* ShmCollectives::slot(int parity, int rank) const {
  return static_cast<char*>(base_) + kFlagStride * size_ + (static_cast<size_t>(parity) * size_ + rank) * slotBytes_;
}

static std::atomic<uint64_t>& flagOf(std::atomic<uint64_t>* flags, int r) {
  return *reinterpret_cast<std::atomic<uint64_t>*>(reinterpret_cast<char*>(flags) + kFlagStride * r);
}

void ShmCollectives::publishAndWait(std::chrono::milliseconds timeout) {
  flagOf(flags_, rank_).store(seq_, std::memory_order_release);
  const auto start = std::chrono::steady_clock::now();
  for (int r = 0; r < size_; r++) {
    for (uint64_t spins = 0; flagOf(flags_, r).load(std::memory_order_acquire) < seq_; spins++) {
      if (spins < 20000) {
#if defined(__x86_64__)
        __builtin_ia32_pause();
#endif
        continue;
      }
      if (std::chrono::steady_clock::now() - start > timeout) {
        throw std::runtime_error("shared-memory collectives: rank " + std::to_string(r) + " did not arrive within " + std::to_string(timeout.count()) + " ms");
      }
      std::this_thread::sleep_for(std::chrono::microseconds(spins < 200000 ? 0 : 50));
    }
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
