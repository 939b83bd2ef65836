#include "mapped-file.h"

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

namespace tsllm {

bool mapFile(const std::string& path, MappedFile& out, std::string& error) {
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    error = std::strerror(errno);
    return false;
  }
  struct stat st;
  if (fstat(fd, &st) != 0) {
    error = std::strerror(errno);
    close(fd);
    return false;
  }
  out.size = static_cast<size_t>(st.st_size);
  if (out.size == 0) {
    close(fd);
    out.data = nullptr;
    return true;
  }
  // Copy-on-write: a stray write lands in a private page, never in the file.
  void* p = mmap(nullptr, out.size, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
  close(fd);  // the mapping keeps the file open
  if (p == MAP_FAILED) {
    error = std::strerror(errno);
    return false;
  }
  out.data = p;
  return true;
}

void unmapFile(const MappedFile& file) {
  if (file.data) munmap(file.data, file.size);
}
bool releasePages(const void* data, size_t bytes) {
#ifndef MADV_PAGEOUT
  constexpr int MADV_PAGEOUT = 21;  // Linux 5.4; older kernels answer EINVAL
#endif
  const uintptr_t page = static_cast<uintptr_t>(sysconf(_SC_PAGESIZE));
  const uintptr_t start = (reinterpret_cast<uintptr_t>(data) + page - 1) / page * page;
  const uintptr_t end = (reinterpret_cast<uintptr_t>(data) + bytes) / page * page;
  if (end <= start) return true;
  return madvise(reinterpret_cast<void*>(start), end - start, MADV_PAGEOUT) == 0;
}

bool mapAnonymous(size_t bytes, MappedFile& out, std::string& error, bool hugePages) {
  constexpr uintptr_t kHuge = 2u << 20;
  const size_t span = hugePages ? bytes + kHuge : bytes;
  void* p = mmap(nullptr, span, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) {
    error = std::strerror(errno);
    return false;
  }
  if (hugePages) {
    // Over-mapped by 2 MiB so an aligned start exists; the slack either side goes back at once.
    const uintptr_t page = static_cast<uintptr_t>(sysconf(_SC_PAGESIZE));
    const uintptr_t raw = reinterpret_cast<uintptr_t>(p), start = (raw + kHuge - 1) / kHuge * kHuge;
    const uintptr_t end = (start + bytes + page - 1) / page * page;
    if (start > raw) munmap(p, start - raw);
    if (raw + span > end) munmap(reinterpret_cast<void*>(end), raw + span - end);
    p = reinterpret_cast<void*>(start);
    // Advice only: a kernel without transparent huge pages answers EINVAL and the memory works as is.
    madvise(p, end - start, MADV_HUGEPAGE);
  }
  out.data = p;
  out.size = bytes;
  return true;
}

}  // namespace tsllm
